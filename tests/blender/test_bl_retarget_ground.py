"""The feet on the floor and the root's path (retarget/ground.py): numpy only, against slow obvious oracles."""

from __future__ import annotations

import numpy as np
import pytest

from tcmr_mocap.blender_addon.retarget import ground, transfer
from tcmr_mocap.core import rotations


def test_soles_skinned_like_the_mesh():
    """Soles.lowest = the lowest of the points skinned one by one (weighted sum of bone matrices)."""
    rng = np.random.default_rng(0)
    T, N, K = 5, 6, 40
    P = np.tile(np.eye(4), (T, N, 1, 1))
    P[..., :3, :3] = rotations.quat_wxyz_to_rotmat(rng.normal(size=(T, N, 4)))
    P[..., :3, 3] = rng.normal(size=(T, N, 3))
    L = np.tile(np.eye(4), (N, 1, 1))
    L[:, :3, 3] = rng.normal(size=(N, 3))
    pts = rng.normal(size=(K, 3))
    bones = rng.integers(0, N, size=(K, 2))
    w = rng.uniform(size=(K, 2))
    w /= w.sum(1, keepdims=True)
    soles = ground.Soles(points={"L": pts, "R": pts[::-1]}, bones={"L": bones, "R": bones[::-1]},
                         weights={"L": w, "R": w[::-1]}, floor=0.0)
    O = np.eye(4)
    O[:3, :3] = rotations.axis_angle_to_rotmat(np.array([0.0, 0.0, 0.7]))
    O[2, 3] = 0.5
    got = soles.lowest(P, np.linalg.inv(L), O)
    for t in range(T):
        z = [(O @ sum(w[k, m] * (P[t, bones[k, m]] @ np.linalg.inv(L[bones[k, m]]) @ np.r_[pts[k], 1.0])
                      for m in range(2)))[2] for k in range(K)]
        assert got[t, 0] == pytest.approx(min(z), abs=1e-12)


def test_floor_offsets():
    floor, tol = 0.0, 0.01
    # two planted feet at the same height: both onto the floor
    sole = np.array([[0.05, 0.05], [-0.03, -0.03]])
    on = np.ones((2, 2), bool)
    np.testing.assert_allclose(ground.floor_offsets(sole, on, floor, tol), [-0.05, 0.03])
    # 1.2 cm apart, both flat in the source: the higher no more than half the tolerance up, the lower then
    # 0.7 cm down (within the tolerance)
    sole = np.array([[0.10, 0.112]])
    shift = ground.floor_offsets(sole, np.ones((1, 2), bool), floor, tol)
    assert sole[0, 1] + shift[0] == pytest.approx(0.005) and sole[0, 0] + shift[0] == pytest.approx(-0.007)
    # 5 cm apart: no shift keeps both within the tolerance: half way (each leg then reaches its share)
    shift = ground.floor_offsets(np.array([[0.10, 0.15]]), np.ones((1, 2), bool), floor, tol)
    assert shift[0] == pytest.approx(0.5 * ((-0.15 - tol) + (-0.10 + 0.5 * tol)))
    # the right foot 2 cm up in the source (landing): the left on the floor, the right anywhere up to 2.5 cm
    shift = ground.floor_offsets(np.array([[0.10, 0.125]]), np.ones((1, 2), bool), floor, tol,
                                 heights=np.array([[0.0, 0.02]]))
    assert shift[0] == pytest.approx(-0.10)
    # a foot in the air no more than the tolerance below the floor while the other is planted
    shift = ground.floor_offsets(np.array([[0.0, -0.015]]), np.array([[True, False]]), floor, tol)
    assert shift[0] == pytest.approx(0.005)
    # between contacts: linear; before the first and after the last: held; no foot planted: none below the floor
    sole = np.array([[0.0, 0.3], [0.3, 0.3], [0.3, 0.3], [0.3, 0.3], [0.2, 0.3], [0.5, 0.5]])
    on = np.array([[1, 0], [0, 0], [0, 0], [0, 0], [1, 0], [0, 0]], bool)
    np.testing.assert_allclose(ground.floor_offsets(sole, on, floor, tol), [0.0, -0.05, -0.1, -0.15, -0.2, -0.2])
    # never planted: the lowest 95 % of frames' lowest foot on the floor
    sole = np.linspace(0.1, 0.3, 20)[:, None] + [0.0, 0.05]
    shift = ground.floor_offsets(sole, np.zeros((20, 2), bool), floor, tol)
    assert np.all(shift == shift[0]) and shift[0] == pytest.approx(-np.percentile(sole[:, 0], 5))


@pytest.mark.parametrize("lift", [0.03, -0.02, -0.5])
def test_lift_leg(lift):
    """The ankle rises by ``lift`` (down no further than a straight leg), the hip stays, the bones keep their
    lengths and the knee its bend plane."""
    hip = np.array([[0.1, 0.0, 0.9]])
    knee = np.array([[0.11, -0.06, 0.48]])
    ankle = np.array([[0.12, 0.0, 0.08]])
    S1, S2 = ground.lift_leg(hip, knee, ankle, np.array([lift]))
    new_knee = hip + (S1 @ (knee - hip)[..., None])[..., 0]
    new_ankle = new_knee + (S2 @ (ankle - knee)[..., None])[..., 0]
    l1, l2 = np.linalg.norm(knee - hip), np.linalg.norm(ankle - knee)
    assert np.linalg.norm(new_knee - hip) == pytest.approx(l1) and np.linalg.norm(new_ankle - new_knee) == \
        pytest.approx(l2)
    if np.linalg.norm(ankle + [0, 0, lift] - hip) < l1 + l2:
        np.testing.assert_allclose(new_ankle, ankle + [0.0, 0.0, lift], atol=1e-9)
    else:  # straight
        assert np.linalg.norm(new_ankle - hip) == pytest.approx(0.9999 * (l1 + l2))
    def bend(k, a):  # where the knee points, off the hip -> ankle line
        u = (a - hip)[0] / np.linalg.norm(a - hip)
        d = (k - hip)[0]
        return d - (d @ u) * u

    b0, b1 = bend(knee, ankle), bend(new_knee, new_ankle)
    assert b0 @ b1 > 0.9 * np.linalg.norm(b0) * np.linalg.norm(b1) or np.linalg.norm(b1) < 1e-3  # same way


def test_planted_feet():
    """Near the floor and still: planted; moving or raised: not; a foot whose lowest level sits a little
    higher than the other's (a skeleton's unequal feet) still plants, one held up all along never does."""
    fps, T = 30.0, 60
    t = np.arange(T) / fps
    pts = np.zeros((T, 2, 3, 3))
    pts[:, 0, :, 1] = np.where(t < 1.0, 0.0, 2.0 * (t - 1.0))[:, None]  # left: still, then sliding at 2 m/s
    pts[:, 1, :, 2] = 0.02 + 0.1 * (t > 1.5)[:, None]  # right: 2 cm higher, then raised 10 cm
    planted, heights = ground.planted(pts, fps, leg=0.9)
    assert planted[:25, 0].all() and not planted[35:, 0].any()
    assert planted[:40, 1].all() and not planted[50:, 1].any()
    assert np.all(heights[:40, 1] < 1e-9) and heights[50, 1] == pytest.approx(0.1 - ground.CONTACT_SLACK)
    pts[:, 1, :, 2] = 0.3  # held up all along
    planted, _ = ground.planted(pts, fps, leg=0.9)
    assert not planted[:, 1].any()


def _skeleton(scale=1.0, shift=(0.0, 0.0, 0.0)):
    h = {"hips": [0, 0, 0.9], "thigh.L": [0.1, 0, 0.85], "thigh.R": [-0.1, 0, 0.85], "shin.L": [0.1, 0, 0.45],
         "shin.R": [-0.1, 0, 0.45], "foot.L": [0.1, 0, 0.08], "foot.R": [-0.1, 0, 0.08], "neck.0": [0, 0, 1.4]}
    heads = {k: scale * np.array(v, float) + shift for k, v in h.items()}
    return transfer.Skeleton(heads=heads, tails={k: v + [0, 0, 0.05] for k, v in heads.items()},
                             rot={k: np.eye(3) for k in heads})


@pytest.mark.parametrize("mode", ground.ROOT_MODES)
def test_root_path(mode):
    src, tgt = _skeleton(), _skeleton(1.2, shift=(3.0, 1.0, 0.0))
    T = 10
    hips = src.heads["hips"] + np.c_[np.linspace(0, 1, T), np.zeros(T), 0.05 * np.sin(np.arange(T))]
    motion = transfer.Motion(heads={"hips": hips, "foot.L": np.tile(src.heads["foot.L"], (T, 1)),
                                    "foot.R": np.tile(src.heads["foot.R"], (T, 1))}, rot={})
    path, ratio, floor = ground.root_path(src, motion, tgt, mode, target_floor=0.0, source_floor=-0.5)
    assert ratio == pytest.approx(1.2)
    if mode == "path":
        np.testing.assert_allclose(path[:, :2] - path[:1, :2], 1.2 * (hips[:, :2] - hips[:1, :2]))
        np.testing.assert_allclose(path[0, :2], tgt.heads["hips"][:2])
    elif mode == "in_place":
        np.testing.assert_allclose(path[:, :2], np.tile(tgt.heads["hips"][:2], (T, 1)))
    else:  # where the source is, unscaled, on the source's floor
        np.testing.assert_allclose(path[:, :2], hips[:, :2])
        assert floor == -0.5
    # vertically: the hips' height above the floor scaled by the leg ratio
    np.testing.assert_allclose(path[:, 2] - floor, tgt.heads["foot.L"][2] + 1.2 * (hips[:, 2] - 0.08))
