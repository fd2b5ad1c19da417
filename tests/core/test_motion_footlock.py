"""core.motion.contacts and core.motion.footlock: hysteresis, minimum duration, pinning without pops, IK."""

from __future__ import annotations

import numpy as np
import pytest

from motion_cases import joints, ms

from core.config import ContactConfig, FootLockConfig
from core.metrics import foot_skate
from core.motion import contacts, footlock
from core.smpl import forward_kinematics

Y_UP_TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # SMPL world (y up) -> Z up


def _world_clip(kind, slide=0.04, seed=0):
    """A clip in a Z-up world, with a slow slide of the whole body added (so planted feet drift)."""
    c = ms.make_clip(kind, seconds=4.0)
    R = c["rotmat"].copy()
    R[:, 0] = Y_UP_TO_Z_UP @ R[:, 0]
    J0 = ms.REST_JOINTS[0]
    t = (J0 + c["transl"]) @ Y_UP_TO_Z_UP.T - J0
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0, 1, (t.shape[0], 3)), axis=0)
    drift[:, 2] = 0
    drift = slide * drift / np.abs(drift).max()
    return c, R, t + drift


def test_hysteresis_and_minimum_duration():
    t = np.arange(20) / 30.0
    h = np.full(20, 0.2)
    h[2:12] = 0.01  # a contact of 10 frames ...
    h[6] = 0.07  # ... with one frame between the on and off heights: stays in contact
    h[15] = 0.0  # a single low frame: shorter than min_contact_s, dropped
    s = np.zeros(20)
    c = contacts.detect_contacts(h[:, None], s[:, None], t, ContactConfig())[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(c), np.arange(2, 12))
    # fast frames end a contact (speed off) unless use_speed is False
    s[8:] = 2.0
    c = contacts.detect_contacts(h[:, None], s[:, None], t, ContactConfig())[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(c), np.arange(2, 8))
    c = contacts.detect_contacts(h[:, None], s[:, None], t, ContactConfig(), use_speed=False)[:, 0]
    np.testing.assert_array_equal(np.flatnonzero(c), np.arange(2, 12))
    # a short break is bridged
    m = np.zeros(20, bool)
    m[2:8] = m[9:15] = True
    np.testing.assert_array_equal(contacts.clean_runs(m, t, 0.1, 0.07), np.r_[[False] * 2, [True] * 13, [False] * 5])
    assert contacts.runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]


def test_rest_heights():
    h = contacts.foot_rest_heights(ms.REST_JOINTS)
    assert h.shape == (4,) and np.all(h > 0) and h[0] > h[2]  # ankles above toes
    v = np.array([[0, -1.3, 0], [0, 0.5, 0]])
    np.testing.assert_allclose(contacts.foot_rest_heights(ms.REST_JOINTS, v), ms.REST_JOINTS[[7, 8, 10, 11], 1] + 1.3)


def test_two_bone_ik_reaches_keeps_bones_and_foot_orientation():
    rng = np.random.default_rng(4)
    c = ms.make_clip("walk", seconds=1.0)
    R = c["rotmat"].copy()
    P, G = forward_kinematics(ms.REST_JOINTS, R)
    target = P[:, 1] + 0.93 * (P[:, 7] - P[:, 1]) + rng.normal(0, 0.03, (R.shape[0], 3))  # within reach
    R2 = R.copy()
    footlock.two_bone_ik(R2, G, P, footlock.LEGS[0], target, np.arange(R.shape[0]))
    P2, G2 = forward_kinematics(ms.REST_JOINTS, R2)
    l1 = np.linalg.norm(P[:, 4] - P[:, 1], axis=-1)
    l2 = np.linalg.norm(P[:, 7] - P[:, 4], axis=-1)
    reach = np.linalg.norm(target - P[:, 1], axis=-1) < (l1 + l2) * (1 - 1e-3)
    assert reach.sum() > 20
    np.testing.assert_allclose(P2[reach, 7], target[reach], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(P2[:, 4] - P2[:, 1], axis=-1),
                               np.linalg.norm(P[:, 4] - P[:, 1], axis=-1), atol=1e-9)  # rigid bones
    # out of reach: the leg straightens towards the target
    far = P[:, 1] + 3.0 * (P[:, 7] - P[:, 1])
    R3 = R.copy()
    footlock.two_bone_ik(R3, G, P, footlock.LEGS[0], far, np.arange(R.shape[0]))
    P3, _ = forward_kinematics(ms.REST_JOINTS, R3)
    direction = (P3[:, 7] - P3[:, 1]) / np.linalg.norm(P3[:, 7] - P3[:, 1], axis=-1, keepdims=True)
    want = (far - P[:, 1]) / np.linalg.norm(far - P[:, 1], axis=-1, keepdims=True)
    np.testing.assert_allclose(direction, want, atol=1e-6)
    np.testing.assert_allclose(G2[:, 7], G[:, 7], atol=1e-9)  # the foot does not turn
    np.testing.assert_allclose(R2[:, 8:], R[:, 8:], atol=0)  # nothing else moves
    np.testing.assert_allclose(np.linalg.det(R2[:, [1, 4, 7]]), 1.0, atol=1e-9)


@pytest.mark.parametrize("kind", ["walk", "turn", "jump"])
def test_auto_pins_feet_and_blends_without_pops(kind):
    c, R, t = _world_clip(kind)
    rest_h = contacts.foot_rest_heights(ms.REST_JOINTS)
    before = joints(R, t)[:, list(contacts.FOOT_JOINT_IDS)]
    skate0 = foot_skate(before, c["contact"]).mean()
    R2, t2 = footlock.lock_feet(R, t, ms.REST_JOINTS, c["times_s"], c["contact"], rest_h, FootLockConfig())
    after = joints(R2, t2)[:, list(contacts.FOOT_JOINT_IDS)]
    skate1 = foot_skate(after, c["contact"]).mean()
    assert skate1 < 0.4 * skate0 and skate1 < 0.003
    # feet on the floor while planted
    heights = after[..., 2] - rest_h
    assert np.abs(heights[c["contact"]]).mean() < 0.005
    # no pops: the acceleration of the corrected joints stays of the order of the motion's own
    acc0 = np.linalg.norm(np.diff(joints(R, t), 2, axis=0), axis=-1).max()
    acc1 = np.linalg.norm(np.diff(joints(R2, t2), 2, axis=0), axis=-1)
    assert acc1.max() < 2.0 * acc0 + 0.01
    edges = [a for col in range(4) for a, b in contacts.runs(c["contact"][:, col])]
    edges = [e for e in edges if 2 <= e < len(acc1)]
    assert acc1[np.array(edges) - 1].max() < 2.0 * acc0 + 0.01


def test_never_and_ground_modes():
    c, R, t = _world_clip("walk")
    rest_h = contacts.foot_rest_heights(ms.REST_JOINTS)
    R2, t2 = footlock.lock_feet(R, t, ms.REST_JOINTS, c["times_s"], c["contact"], rest_h, FootLockConfig(mode="never"))
    np.testing.assert_array_equal(R2, R)
    np.testing.assert_array_equal(t2, t)
    lifted = t + [0, 0, 0.03]  # floating 3 cm
    R3, t3 = footlock.lock_feet(R, lifted, ms.REST_JOINTS, c["times_s"], c["contact"], rest_h,
                                FootLockConfig(mode="ground"))
    feet0 = joints(R, lifted)[:, list(contacts.FOOT_JOINT_IDS)]
    feet = joints(R3, t3)[:, list(contacts.FOOT_JOINT_IDS)]
    assert np.abs(feet[..., 2] - rest_h)[c["contact"]].mean() < 0.005  # back on the floor
    # ground does not pin: the horizontal slide stays
    assert foot_skate(feet, c["contact"]).mean() == pytest.approx(foot_skate(feet0, c["contact"]).mean(), rel=0.2)


def test_smootherstep():
    x = np.linspace(0, 1, 11)
    s = footlock.smootherstep(x)
    assert s[0] == 0 and s[-1] == 1 and np.all(np.diff(s) >= 0)
    assert footlock.smootherstep(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]
