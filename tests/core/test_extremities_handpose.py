"""Landmarks -> finger rotations, checked against an independent oracle: a MANO-like hand built here from known
joint rotations (scipy's rotations and a plain forward-kinematics loop, not the product's code), turned, scaled
and moved at random, then recovered. Also the limits, the relaxed hand, the mirror rule and the gap filling."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import ExtremityRefineConfig
from core.extremities import handpose as hp
from core.extremities.layout import FINGER_CHAINS, HAND_JOINT_NAMES
from core.motion.extremities import fill_gaps

Rotation = pytest.importorskip("scipy.spatial.transform").Rotation


def oracle_hand(angles_deg: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """(local rotations (N, 15, 3, 3), landmarks (N, 21, 3)) of hands whose joint j turns by flexion about its
    finger's bending axis, spread about the palm normal and twist about the bone (R = flex · spread · twist),
    built from the rest landmarks alone (bone directions, palm down, the thumb bending across the palm)."""
    rest = hp.REST_HAND_LEFT
    n = angles_deg.shape[0]
    R = np.zeros((n, 15, 3, 3))
    for finger, (joints, marks) in FINGER_CHAINS.items():
        bone = rest[marks[1]] - rest[marks[0]]
        bone /= np.linalg.norm(bone)
        bend = np.array([0.0, -0.55, -1.0]) if finger == "thumb" else np.array([0.0, -1.0, 0.0])
        hinge = np.cross(bone, bend)
        hinge /= np.linalg.norm(hinge)
        third = np.cross(bone, hinge)
        for j in joints:
            twist, flex, spread = np.radians(angles_deg[:, j]).T
            R[:, j] = (Rotation.from_rotvec(hinge[None] * flex[:, None])
                       * Rotation.from_rotvec(third[None] * spread[:, None])
                       * Rotation.from_rotvec(bone[None] * twist[:, None])).as_matrix()
    if side == "right":  # the mirror image: x -> -x on positions, S R S on rotations
        S = np.diag([-1.0, 1.0, 1.0])
        R, rest = S @ R @ S, rest * [-1.0, 1.0, 1.0]
    P = np.repeat(rest[None], n, axis=0)
    for joints, marks in FINGER_CHAINS.values():
        G = np.repeat(np.eye(3)[None], n, axis=0)
        for k, j in enumerate(joints):
            G = G @ R[:, j]
            P[:, marks[k + 1]] = P[:, marks[k]] + np.einsum("nij,j->ni", G, rest[marks[k + 1]] - rest[marks[k]])
    return R, P


def random_angles(rng, n):
    lo, hi = hp.LIMITS_DEG[..., 0], hp.LIMITS_DEG[..., 1]
    return rng.uniform(lo, hi, size=(n, 15, 3))


def geodesic_deg(A, B):
    cos = (np.trace(np.swapaxes(A, -1, -2) @ B, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("side", ["left", "right"])
def test_recovers_known_rotations_from_landmarks(side):
    rng = np.random.default_rng(7)
    n = 400
    angles = random_angles(rng, n)
    R_true, P = oracle_hand(angles, side)
    turn = Rotation.random(n, random_state=11).as_matrix()
    P = np.einsum("nij,nkj->nki", turn, P) * rng.uniform(0.7, 1.4, (n, 1, 1)) + rng.normal(size=(n, 1, 3))
    pose, error = hp.fit_hand(P, side)
    R_fit = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(n, 15, 3, 3)
    err = geodesic_deg(R_true, R_fit)  # (n, 15)
    assert error.max() < 2.0  # the recovered pose explains the landmarks
    # a finger whose joints 2-3 bend shows its bending plane, so every joint of it is exact; a (nearly) straight
    # finger hides its knuckle's twist about the bone (any twist gives the same landmarks): there the twist is
    # taken from the palm, so only those rows may differ, and they barely change the landmarks (error above)
    for finger, (joints, _) in FINGER_CHAINS.items():
        bend = np.sin(np.radians(angles[:, joints[1], 1])) + np.sin(np.radians(angles[:, joints[2], 1]))
        clear = np.abs(bend) > np.sin(np.radians(16.0))  # (the fit trusts a bending plane from 15° on)
        assert clear.sum() > 100, finger
        assert err[clear][:, list(joints)].max() < 0.5, (finger, err[clear][:, list(joints)].max())
    assert np.median(err) < 0.01 and np.percentile(err, 95) < 3.0


def test_limits_hold_and_a_bent_back_finger_is_clamped():
    rng = np.random.default_rng(3)
    angles = random_angles(rng, 50)
    angles[:, 1, 1] = -60.0  # index PIP bent backwards 60°: past its limit
    angles[:, 2, 0] = 30.0  # and twisted, which a hinge cannot do
    _, P = oracle_hand(angles, "left")
    pose, error = hp.fit_hand(P, "left")
    got = np.degrees(hp.hand_pose_to_angles(pose, "left"))
    lo, hi = hp.LIMITS_DEG[..., 0], hp.LIMITS_DEG[..., 1]
    assert (got >= lo - 1e-6).all() and (got <= hi + 1e-6).all()
    assert np.allclose(got[:, 1, 1], lo[1, 1]) and (error > 3.0).all()  # clamped, and the fit says it is off


def test_relaxed_hand_and_mirror_rule():
    left, right = hp.relaxed_hand_pose("left"), hp.relaxed_hand_pose("right")
    np.testing.assert_allclose(right, left * [1.0, -1.0, -1.0], atol=1e-12)
    flex = np.degrees(hp.hand_pose_to_angles(left, "left"))[:, 1]
    assert (flex > 5).all() and (flex < 35).all()  # gently curled, every joint
    # the right hand's landmarks are the left hand's mirror image for mirrored poses
    np.testing.assert_allclose(hp.hand_forward_kinematics(right[None], "right")[0],
                               hp.hand_forward_kinematics(left[None], "left")[0] * [-1.0, 1.0, 1.0], atol=1e-12)
    # flat rest: the fingers of the left hand point to the body's left (+x), the thumb forwards (+z)
    rest = hp.rest_landmarks("left")
    assert rest[12, 0] > 0.15 and rest[4, 2] > 0.05 and rest[4, 1] < 0


def test_gaps_hold_then_relax_and_never_nan():
    """A seen stretch, a short drop-out (bridged by slerp), a long disappearance (held, then relaxed), a hand
    never seen (relaxed throughout)."""
    cfg = ExtremityRefineConfig(hold_s=0.2, fade_s=0.4)
    t = np.arange(100) / 10.0  # 10 rows a second
    seen = np.zeros(100, bool)
    seen[:20] = seen[23:40] = True  # rows 20-22: a 0.3 s drop-out; after row 39: gone
    relaxed = np.array([1.0, 0.0, 0.0, 0.0])
    pose_a = Rotation.from_rotvec([0.0, 0.0, 0.8]).as_quat(scalar_first=True)
    pose_b = Rotation.from_rotvec([0.0, 0.0, 1.2]).as_quat(scalar_first=True)
    q = np.tile(relaxed, (100, 1))
    q[:20], q[23:40] = pose_a, pose_b
    conf = seen * 0.9
    out, c = fill_gaps(t, seen, q, relaxed, conf, cfg, rotations=True)
    angle = 2 * np.degrees(np.arccos(np.clip(np.abs(out[:, 0]), 0, 1)))
    assert np.isfinite(out).all() and np.isfinite(c).all()
    assert np.allclose(angle[:20], np.degrees(0.8)) and np.allclose(angle[23:40], np.degrees(1.2))
    assert np.degrees(0.8) < angle[21] < np.degrees(1.2)  # bridged between the two seen poses
    assert np.allclose(angle[40:42], np.degrees(1.2))  # held for hold_s
    assert angle[43] < np.degrees(1.2) - 1 and angle[45] < angle[43]  # then fading
    assert np.allclose(angle[46:], 0.0, atol=1e-6) and (c[46:] == 0).all()  # relaxed, confidence 0
    assert 0 < c[21] <= 0.9 and (c[:20] == 0.9).all()
    never, c0 = fill_gaps(t, np.zeros(100, bool), q, relaxed, np.zeros(100), cfg, rotations=True)
    assert np.allclose(np.abs(never[:, 0]), 1.0) and (c0 == 0).all()
