"""core.metrics against slow loop oracles (spec §4 written out literally) and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from core import metrics


def _loop_mpjpe(p, g, hips):
    out = []
    for t in range(p.shape[0]):
        rp = p[t] - (p[t, hips[0]] + p[t, hips[1]]) / 2
        rg = g[t] - (g[t, hips[0]] + g[t, hips[1]]) / 2
        out.append(np.mean([np.sqrt(np.sum((rp[j] - rg[j]) ** 2)) for j in range(p.shape[1])]))
    return np.array(out)


def _loop_pa(p, g):
    out = []
    for t in range(p.shape[0]):
        X1, X2 = p[t].T, g[t].T  # (3, J)
        mu1, mu2 = X1.mean(axis=1, keepdims=True), X2.mean(axis=1, keepdims=True)
        X1, X2 = X1 - mu1, X2 - mu2
        K = X1 @ X2.T
        U, _, Vt = np.linalg.svd(K)
        V = Vt.T
        Z = np.eye(3)
        Z[2, 2] = np.sign(np.linalg.det(U @ V.T))
        R = V @ Z @ U.T
        s = np.trace(R @ K) / np.sum(X1 ** 2)
        tt = mu2 - s * R @ mu1
        aligned = (s * R @ p[t].T + tt).T
        out.append(np.mean(np.linalg.norm(aligned - g[t], axis=1)))
    return np.array(out)


def test_mpjpe_matches_loop_and_ignores_translation():
    rng = np.random.default_rng(0)
    p, g = rng.normal(size=(6, 24, 3)), rng.normal(size=(6, 24, 3))
    np.testing.assert_allclose(metrics.mpjpe(p, g), _loop_mpjpe(p, g, (1, 2)), atol=1e-12)
    np.testing.assert_allclose(metrics.mpjpe(p + [5.0, -2, 1], g), metrics.mpjpe(p, g), atol=1e-12)
    np.testing.assert_allclose(metrics.mpjpe(p[:, :14], g[:, :14], root=metrics.J14_HIPS),
                               _loop_mpjpe(p[:, :14], g[:, :14], (2, 3)), atol=1e-12)
    # hand-made: one joint 3 cm off (hips untouched) among 4 joints -> 7.5 mm
    a = np.zeros((1, 4, 3))
    b = a.copy()
    b[0, 3] = [0.03, 0, 0]
    assert metrics.mpjpe(b, a)[0] == pytest.approx(0.0075)
    with pytest.raises(ValueError):
        metrics.mpjpe(p, g[:, :10])


def test_pa_mpjpe_matches_spec_loop_and_removes_similarity():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(5, 14, 3))
    p = g + 0.05 * rng.normal(size=g.shape)
    np.testing.assert_allclose(metrics.pa_mpjpe(p, g), _loop_pa(p, g), atol=1e-12)
    # a scaled, rotated, shifted copy aligns exactly
    from core.rotations import axis_angle_to_rotmat

    R = axis_angle_to_rotmat(np.array([0.3, -1.2, 0.5]))
    moved = 1.7 * g @ R.T + [1.0, 2.0, -3.0]
    np.testing.assert_allclose(metrics.pa_mpjpe(moved, g), 0.0, atol=1e-12)
    assert metrics.mpjpe(moved, g).min() > 0.1
    # a mirror is not a rotation: it cannot be aligned away
    assert metrics.pa_mpjpe(g * [-1, 1, 1], g).min() > 0.01


def test_mpvpe_has_no_alignment():
    v = np.zeros((2, 10, 3))
    assert np.allclose(metrics.mpvpe(v + [0, 0.01, 0], v), 0.01)


def test_accel_error_and_acceleration():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(10, 24, 3))
    p = g + 0.01 * rng.normal(size=g.shape)
    loop = []
    rp = p - p[:, [1, 2]].mean(axis=1, keepdims=True)
    rg = g - g[:, [1, 2]].mean(axis=1, keepdims=True)
    for t in range(1, 9):
        ap = rp[t - 1] - 2 * rp[t] + rp[t + 1]
        ag = rg[t - 1] - 2 * rg[t] + rg[t + 1]
        loop.append(np.mean(np.linalg.norm(ap - ag, axis=1)))
    np.testing.assert_allclose(metrics.accel_error(p, g), loop, atol=1e-12)
    # a visibility mask drops every triplet touching an invisible frame
    vis = np.ones(10, bool)
    vis[4] = False
    np.testing.assert_allclose(metrics.accel_error(p, g, visible=vis), np.array(loop)[[0, 1, 5, 6, 7]], atol=1e-12)
    # constant velocity has no acceleration; a parabola x = t² has |a| = 2 per frame²
    t = np.arange(6, dtype=float)
    line = np.zeros((6, 2, 3))
    line[:, :, 0] = 3 * t[:, None]
    np.testing.assert_allclose(metrics.acceleration(line), 0.0, atol=1e-12)
    line[:, :, 0] = (t ** 2)[:, None]
    np.testing.assert_allclose(metrics.acceleration(line), 2.0, atol=1e-12)
    assert metrics.acceleration(line[:2]).shape == (0,)


def test_foot_skate_counts_horizontal_travel_in_contact_only():
    T = 5
    feet = np.zeros((T, 2, 3))
    feet[:, 0, 0] = [0.0, 0.01, 0.02, 0.05, 0.05]  # joint 0 slides 1 cm per frame, then jumps 3 cm, then stays
    feet[:, 0, 2] = [0.0, 0.5, 0.0, 0.5, 0.0]  # vertical motion never counts
    feet[:, 1, 1] = np.arange(T) * 0.1  # joint 1 moves 10 cm per frame but is never in contact
    contact = np.zeros((T, 2), bool)
    contact[:3, 0] = True  # steps 0->1, 1->2 in contact
    contact[4, 0] = True  # alone: no step
    skate = metrics.foot_skate(feet, contact)
    np.testing.assert_allclose(np.sort(skate), [0.01, 0.01], atol=1e-12)
    # loop oracle on random data with another up axis
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20, 4, 3))
    c = rng.uniform(size=(20, 4)) > 0.4
    want = [np.hypot(x[t, j, 0] - x[t - 1, j, 0], x[t, j, 2] - x[t - 1, j, 2])
            for t in range(1, 20) for j in range(4) if c[t, j] and c[t - 1, j]]
    np.testing.assert_allclose(np.sort(metrics.foot_skate(x, c, up=(0, 1, 0))), np.sort(want), atol=1e-12)
    assert metrics.foot_skate(x, np.zeros((20, 4), bool)).size == 0
