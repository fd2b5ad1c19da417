"""core.motion.smoothing: One-Euro filter behaviour, rotations stay rotations, real timestamps are used."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import SmoothingConfig
from core.rotations import axis_angle_to_rotmat, rotmat_to_quat_wxyz
from core.motion.smoothing import one_euro, smooth_rotmat, smooth_translation


def test_constant_signal_is_unchanged():
    x = np.tile([[0.3, -1.0, 2.0]], (50, 1))
    np.testing.assert_allclose(one_euro(x, np.arange(50) / 30.0), x, atol=1e-12)


def test_jitter_is_reduced_and_zero_phase_has_no_lag():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    noisy = 1.0 + rng.normal(0, 0.02, (300, 2))  # a still value with jitter
    smoothed = one_euro(noisy, t, min_cutoff_hz=1.0, beta=0.0)
    assert np.std(smoothed[30:-30]) < 0.4 * np.std(noisy)
    # on a ramp the causal filter lags (a consistent negative error); the zero-phase average does not
    ramp = (0.5 * t)[:, None]
    causal = one_euro(ramp, t, min_cutoff_hz=1.0, beta=0.0, zero_phase=False)
    zero = one_euro(ramp, t, min_cutoff_hz=1.0, beta=0.0)
    inner = slice(60, -60)
    lag_causal = np.mean(causal[inner] - ramp[inner])
    assert lag_causal < -0.05
    assert np.abs(zero[inner] - ramp[inner]).max() < 0.01 * abs(lag_causal)


def test_beta_reduces_lag_on_fast_motion():
    t = np.arange(120) / 30.0
    x = np.where(t > 2.0, 1.0, 0.0)[:, None] * np.ones((1, 3))  # a step
    slow = one_euro(x, t, 1.0, beta=0.0, zero_phase=False)
    fast = one_euro(x, t, 1.0, beta=5.0, zero_phase=False)
    k = np.searchsorted(t, 2.0) + 3  # three frames after the step
    assert fast[k, 0] > slow[k, 0] + 0.1


def test_real_timestamps_are_used():
    """The same samples spread over a longer time are followed more closely (alpha grows with dt)."""
    x = np.r_[np.zeros(5), np.ones(5)][:, None]
    dense = one_euro(x, np.arange(10) / 60.0, 1.0, 0.0, zero_phase=False)
    sparse = one_euro(x, np.arange(10) / 5.0, 1.0, 0.0, zero_phase=False)
    assert sparse[6, 0] > dense[6, 0] + 0.2
    # a variable-rate track: one long pause between frames 4 and 5 lets the output catch up at once
    t = np.r_[np.arange(5) / 30.0, 2.0 + np.arange(5) / 30.0]
    vfr = one_euro(x, t, 1.0, 0.0, zero_phase=False)
    assert vfr[5, 0] > 0.9 > dense[5, 0]


def test_rotations_stay_rotations_and_ignore_quaternion_sign():
    rng = np.random.default_rng(1)
    T = 60
    t = np.arange(T) / 30.0
    axis = np.array([0.6, 0.0, 0.8])
    # joint 0 turns smoothly through 180° (where w >= 0 quaternions flip sign); the others jitter
    aa = np.concatenate([np.linspace(2.9, 3.4, T)[:, None, None] * axis,
                         rng.normal(0, 0.05, (T, 23, 3)) + 0.4], axis=1)  # (T, 24, 3)
    R = axis_angle_to_rotmat(aa)
    q = rotmat_to_quat_wxyz(R[:, 0])
    assert np.any(np.sum(q[1:] * q[:-1], axis=-1) < 0)  # the input's quaternions do flip
    out = smooth_rotmat(R, t, SmoothingConfig())
    assert out.shape == (T, 24, 3, 3)
    np.testing.assert_allclose(out @ np.swapaxes(out, -1, -2), np.broadcast_to(np.eye(3), out.shape), atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-10)
    cos = (np.trace(np.swapaxes(out[:, 0], -1, -2) @ R[:, 0], axis1=-2, axis2=-1) - 1) / 2
    angle = np.arccos(np.clip(cos, -1, 1))
    assert angle.max() < 0.03 and angle[10:-10].max() < 0.005  # a steady turn passes through, no flip artefact
    # a still rotation passes through unchanged
    still = np.broadcast_to(axis_angle_to_rotmat(np.array([0.0, 3.1, 0.0])), (10, 1, 3, 3))
    np.testing.assert_allclose(smooth_rotmat(still, np.arange(10) / 30.0), still, atol=1e-12)


def test_translation_uses_its_own_cutoff():
    rng = np.random.default_rng(2)
    t = np.arange(100) / 30.0
    x = rng.normal(0, 0.05, (100, 3)) + [0, 0, 5.0]
    a = smooth_translation(x, t, SmoothingConfig(translation_min_cutoff_hz=0.2, beta=0.0))
    b = smooth_translation(x, t, SmoothingConfig(translation_min_cutoff_hz=5.0, beta=0.0))
    assert np.std(a[10:-10, 2]) < np.std(b[10:-10, 2])


def test_bad_input():
    with pytest.raises(ValueError):
        one_euro(np.zeros((5, 3)), np.arange(4))
    np.testing.assert_array_equal(one_euro(np.ones((1, 3)), [0.0]), np.ones((1, 3)))


@pytest.mark.parametrize("method", ["adaptive", "one-euro", "slerp-average"])
def test_extra_per_row_rotations_smooth_like_the_body(method):
    """smooth_rows(kind="axis_angle") on (T, 2, 15, 3) hand-like poses gives what smoothing the same rotations as
    body joints gives (the fingers and face are smoothed this way)."""
    from core.motion.smoothing import smooth_motion, smooth_rows

    rng = np.random.default_rng(5)
    t = np.arange(40) / 30.0
    aa = 0.6 * np.sin(2 * np.pi * 0.8 * t)[:, None, None, None] * rng.normal(size=(1, 2, 15, 3))
    aa = aa + np.radians(1.0) * rng.normal(size=aa.shape)
    out = smooth_rows(aa, t, "axis_angle", method)
    assert out.shape == aa.shape and not np.allclose(out, aa)
    want = smooth_motion(axis_angle_to_rotmat(aa.reshape(40, 30, 3)), np.zeros((40, 3)), t, method)[0]
    np.testing.assert_allclose(axis_angle_to_rotmat(out).reshape(40, 30, 3, 3), want, atol=1e-9)
    assert np.array_equal(smooth_rows(aa, t, "axis_angle", "none"), aa)
    w = np.clip(0.5 + 0.4 * np.sin(2 * np.pi * t)[:, None] + 0.02 * rng.normal(size=(40, 52)), 0, 1)
    sw = smooth_rows(w, t, "values", method)
    assert sw.shape == (40, 52) and np.abs(sw - w).max() < 0.1
    with pytest.raises(ValueError, match="kind"):
        smooth_rows(w, t, "quaternions", method)


def _angle_deg(A, B):
    """Angle (°) between rotations (..., 3, 3)."""
    M = np.swapaxes(A, -1, -2) @ B
    return np.degrees(np.arccos(np.clip((np.trace(M, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_spine_that_bends_as_one_is_smoothed_as_one(seed):
    """Three spine joints that carry one bend (10° each, 2.5 Hz, at 30 fps: a sprinter's back) with 0.5° of
    jitter on every joint: each joint alone looks smooth enough for a wide window, but the three fits' biases add
    up at the chest while their jitter does not. The adaptive smoothing with the spine as a chain brings the
    chest's orientation closer to the truth than joint by joint, and than the input (with the ICI rule alone,
    joint by joint ends farther off than the input); slow bending (1 Hz) is smoothed as much as before."""
    from core.motion.adaptive import adaptive_smooth_rotmat
    from core.skeleton import SMPL_SPINE

    def chest(R):
        return R[:, 3] @ R[:, 6] @ R[:, 9]

    rng = np.random.default_rng(seed)
    t = np.arange(60) / 30.0
    jitter = axis_angle_to_rotmat(np.radians(0.5) * rng.normal(size=(60, 24, 3)))
    for hz, slack in ((2.5, None), (1.0, 0.01)):
        aa = np.zeros((60, 24, 3))
        aa[:, list(SMPL_SPINE), 0] = np.radians(10.0) * np.sin(2 * np.pi * hz * t)[:, None]
        truth = axis_angle_to_rotmat(aa)
        noisy = truth @ jitter
        raw = _angle_deg(chest(noisy), chest(truth)).mean()
        joint_by_joint = _angle_deg(chest(adaptive_smooth_rotmat(noisy, t)), chest(truth)).mean()
        as_chain = _angle_deg(chest(adaptive_smooth_rotmat(noisy, t, chain=SMPL_SPINE)), chest(truth)).mean()
        if slack is None:  # fast: the chain keeps the chest truer than joint by joint and than the input
            ici = adaptive_smooth_rotmat(noisy, t, kappa=np.inf, level_frames=0.0)
            assert as_chain < joint_by_joint - 0.05 and as_chain < raw, (raw, joint_by_joint, as_chain)
            assert _angle_deg(chest(ici), chest(truth)).mean() > raw
        else:  # slow: no smoothing lost
            assert as_chain <= joint_by_joint + slack and as_chain < 0.75 * raw


def _fast_and_still(seed: int, hz: float, amp_deg: float, frames: int = 60):
    """24 joints at 30 fps with 0.5° of jitter each; joint 4 swings ``amp_deg`` at ``hz``, the others hold still.
    -> (times, truth, noisy) rotations (T, 24, 3, 3)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 30.0
    aa = np.zeros((frames, 24, 3))
    aa[:, 4, 0] = np.radians(amp_deg) * np.sin(2 * np.pi * hz * t)
    truth = axis_angle_to_rotmat(aa)
    return t, truth, truth @ axis_angle_to_rotmat(np.radians(0.5) * rng.normal(size=(frames, 24, 3)))


def test_a_swing_too_fast_for_the_frame_rate_is_not_flattened():
    """A knee swinging 20° at 4 Hz, filmed at 30 fps (7.5 frames a swing: the fits bend off it by about the
    jitter), with 0.5° of jitter: the adaptive smoothing brings it closer to the truth than the input, where the
    ICI rule alone (``kappa`` = ∞: widening while the summed bands overlap lets a bias of ~3σ through) leaves it
    farther off; a still joint's jitter is still halved. Mean angle to the truth over six noise draws."""
    from core.motion.adaptive import adaptive_smooth_rotmat

    err = {"raw": [], "ici": [], "default": [], "still raw": [], "still": []}
    for seed in range(6):
        t, truth, noisy = _fast_and_still(seed, 4.0, 20.0)
        default = adaptive_smooth_rotmat(noisy, t)
        ici = adaptive_smooth_rotmat(noisy, t, kappa=np.inf, level_frames=0.0)
        err["raw"].append(_angle_deg(noisy[:, 4], truth[:, 4]).mean())
        err["ici"].append(_angle_deg(ici[:, 4], truth[:, 4]).mean())
        err["default"].append(_angle_deg(default[:, 4], truth[:, 4]).mean())
        err["still raw"].append(_angle_deg(noisy[:, 0], truth[:, 0]).mean())
        err["still"].append(_angle_deg(default[:, 0], truth[:, 0]).mean())
    m = {k: float(np.mean(v)) for k, v in err.items()}
    assert m["default"] < 0.97 * m["raw"] < m["ici"], m
    assert m["still"] < 0.55 * m["still raw"], m


def test_a_window_choice_that_fails_by_chance_leaves_no_raw_frame():
    """Lepski's test at 2σ fails by chance on a few percent of a slow motion's joint-frames; taken as it is, each
    such frame keeps its raw sample among smoothed neighbours — a spike of acceleration (the 99th percentile
    near the input's). Averaged over ±1 frame, the window choice changes gradually: the spikes are gone, and
    with the ICI rule beside it the acceleration error is lower than the ICI rule's alone."""
    from core.motion.adaptive import adaptive_smooth_rotmat
    from core.rotations import rotmat_to_axis_angle

    def accel_deg(A, B):  # angular second difference of the error, per frame and joint
        E = rotmat_to_axis_angle(np.swapaxes(B, -1, -2) @ A)
        return np.degrees(np.linalg.norm(E[2:] - 2 * E[1:-1] + E[:-2], axis=-1))

    for seed in range(3):
        rng = np.random.default_rng(seed)
        t = np.arange(150) / 30.0
        aa = np.zeros((150, 24, 3))
        aa[:, :, 0] = np.radians(15.0) * np.sin(2 * np.pi * 0.7 * t)[:, None] * rng.uniform(0.5, 1.0, 24)
        truth = axis_angle_to_rotmat(aa)
        noisy = truth @ axis_angle_to_rotmat(np.radians(0.5) * rng.normal(size=(150, 24, 3)))
        sharp = accel_deg(adaptive_smooth_rotmat(noisy, t, gamma=1e9, level_frames=0.0), truth)
        averaged = accel_deg(adaptive_smooth_rotmat(noisy, t, gamma=1e9), truth)
        assert np.percentile(averaged, 99) < 0.6 * np.percentile(sharp, 99)
        default = accel_deg(adaptive_smooth_rotmat(noisy, t), truth).mean()
        ici = accel_deg(adaptive_smooth_rotmat(noisy, t, kappa=np.inf, level_frames=0.0), truth).mean()
        assert default < ici < 0.2 * accel_deg(noisy, truth).mean()
