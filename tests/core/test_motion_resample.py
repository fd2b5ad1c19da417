"""core.motion.resample and the slerp-average filter of core.motion.smoothing."""

from __future__ import annotations

import numpy as np

from core import rotations
from core.motion import resample, smoothing


def test_grid_times_sit_on_whole_frames():
    t = np.arange(50) / 25.0  # 25 fps, 0 .. 1.96 s
    g = resample.grid_times(t, 24.0)
    np.testing.assert_allclose(g * 24.0, np.round(g * 24.0), atol=1e-9)
    assert g[0] == 0.0 and g[-1] <= t[-1] and g.shape[0] == 48
    assert resample.grid_times(np.array([0.51]), 30.0).tolist() == [0.51]


def test_rotations_slerp_and_translation_cubic():
    t = np.arange(30) / 25.0
    axis = np.array([0.0, 0.6, 0.8])
    angle = 0.9 * t  # a steady turn: slerp is exact on it
    R = rotations.axis_angle_to_rotmat((angle[:, None] * axis)[:, None])  # (30, 1, 3, 3)
    g = resample.grid_times(t, 30.0)
    out = resample.resample_rotmat(R, t, g)
    want = rotations.axis_angle_to_rotmat((0.9 * g)[:, None, None] * axis)
    np.testing.assert_allclose(out, want, atol=1e-10)
    # a cubic polynomial in time: Catmull-Rom on uneven times is close and exact at the samples
    tu = np.sort(np.r_[0.0, np.random.default_rng(0).uniform(0, 2, 40), 2.0])
    x = np.stack([tu ** 2, np.sin(tu), np.ones_like(tu)], axis=1)
    np.testing.assert_allclose(resample.resample_cubic(x, tu, tu), x, atol=1e-12)
    fine = np.linspace(0, 2, 300)
    est = resample.resample_cubic(x, tu, fine)
    assert np.abs(est[:, 0] - fine ** 2).max() < 1e-2 and np.abs(est[:, 1] - np.sin(fine)).max() < 1e-2
    lin = resample.resample_linear(x, tu, fine)
    assert np.abs(est[:, 1] - np.sin(fine)).mean() < np.abs(lin[:, 1] - np.sin(fine)).mean()
    np.testing.assert_array_equal(resample.nearest_rows(t, np.array([0.0, 0.019, 0.021, 5.0])), [0, 0, 1, 29])


def test_slerp_average_is_a_window_mean():
    rng = np.random.default_rng(1)
    T = 21
    q = rotations.quat_wxyz_multiply(rotations.axis_angle_to_quat_wxyz(np.array([0.2, 1.0, -0.3]))[None],
                                     rotations.axis_angle_to_quat_wxyz(rng.normal(0, 0.1, (T, 3))))
    R = rotations.quat_wxyz_to_rotmat(q)[:, None]  # (T, 1, 3, 3)
    out = smoothing.slerp_average_rotmat(R, 5)
    for i in (0, 1, 10, 20):
        h = min(2, i, T - 1 - i)
        mean = rotations.quat_wxyz_average(q[i - h:i + h + 1])
        np.testing.assert_allclose(out[i, 0], rotations.quat_wxyz_to_rotmat(mean), atol=1e-10)
    assert np.std(np.diff(rotations.rotmat_to_axis_angle(out[:, 0]), axis=0)) < \
        np.std(np.diff(rotations.rotmat_to_axis_angle(R[:, 0]), axis=0))
    x = rng.normal(size=(T, 3))
    avg = smoothing.moving_average(x, 5)
    np.testing.assert_allclose(avg[10], x[8:13].mean(axis=0))
    np.testing.assert_allclose(avg[1], x[0:3].mean(axis=0))
    np.testing.assert_allclose(avg[0], x[0])
    # "none" is bit-exact, unknown methods are refused
    r2, t2 = smoothing.smooth_motion(R, x, np.arange(T) / 30.0, "none")
    assert r2 is R and t2 is x
    import pytest

    with pytest.raises(ValueError):
        smoothing.smooth_motion(R, x, np.arange(T) / 30.0, "median")


def test_extra_per_row_arrays_resample_like_the_body():
    from core.motion.resample import resample_rotmat, resample_rows
    from core.rotations import axis_angle_to_rotmat

    rng = np.random.default_rng(2)
    t = np.arange(12) / 30.0
    new = np.arange(9) / 24.0
    aa = rng.normal(scale=0.5, size=(12, 2, 15, 3))
    out = resample_rows(aa, t, new, "axis_angle")
    assert out.shape == (9, 2, 15, 3)
    np.testing.assert_allclose(axis_angle_to_rotmat(out).reshape(9, 30, 3, 3),
                               resample_rotmat(axis_angle_to_rotmat(aa.reshape(12, 30, 3)), t, new), atol=1e-9)
    v = rng.normal(size=(12, 52))
    np.testing.assert_allclose(resample_rows(v, t, new, "values")[3], v[3] + 0.75 * (v[4] - v[3]))  # t = 3.75 rows
