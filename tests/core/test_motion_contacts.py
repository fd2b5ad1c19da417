"""core.motion.contacts and core.motion.soles: hysteresis, exact run lengths, gap bridging, settle speeds, sole
points that move with the foot."""

from __future__ import annotations

import numpy as np
import pytest

from motion_cases import ms

from core.config import ContactConfig
from core.motion import contacts, soles
from core.smpl import forward_kinematics

FPS = 30.0


def test_hysteresis_and_minimum_duration():
    t = np.arange(20) / FPS
    h = np.full(20, 0.2)
    h[2:12] = 0.01  # a contact of 10 frames ...
    h[6] = 0.05  # ... with one frame between the on and off heights: stays in contact
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
    assert contacts.runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]


def test_enter_needs_the_enter_speed_and_stays_below_the_leave_speed():
    """A point low all along but moving between speed_on and speed_off never enters a contact; one that entered
    while slow stays in it at that speed (the leave test)."""
    cfg = ContactConfig()
    t = np.arange(30) / FPS
    h = np.zeros(30)
    between = 0.5 * (cfg.speed_on_mps + cfg.speed_off_mps)
    s = np.full(30, between)
    assert not contacts.detect_contacts(h[:, None], s[:, None], t, cfg)[:, 0].any()
    s[:5] = 0.0  # slow at first: enters, then stays while slower than speed_off
    np.testing.assert_array_equal(np.flatnonzero(contacts.detect_contacts(h[:, None], s[:, None], t, cfg)[:, 0]),
                                  np.arange(30))


@pytest.mark.parametrize("fps", [30.0, 25.0, 60.0])
def test_run_length_and_gap_bridging_are_exact_to_the_frame(fps):
    """min_contact_s: a run of n frames lasts n frame periods (kept at exactly the minimum, dropped one frame
    shorter); max_gap_s: a break of g frames lasts g periods (bridged only when shorter than the maximum)."""
    t = np.arange(60) / fps
    n_min = int(np.ceil(0.1 * fps - 1e-9))  # the shortest run that lasts at least 0.1 s
    for n, kept in ((n_min, True), (n_min - 1, False)):
        m = np.zeros(60, bool)
        m[10:10 + n] = True
        assert contacts.clean_runs(m, t, 0.1, 0.0).any() == kept, (n, fps)
    for g in range(1, 6):
        m = np.zeros(60, bool)
        m[10:30] = True
        m[30 + g:50] = True
        bridged = contacts.clean_runs(m, t, 0.0, 0.07)[30:30 + g].all()
        assert bridged == (g / fps < 0.07 - 1e-9), (g, fps)


def test_settle_speed_is_slow_from_the_landing_frame_and_until_the_last_frame():
    t = np.arange(12) / FPS
    x = np.concatenate([np.linspace(-0.6, 0.0, 5, endpoint=False), np.zeros(4), np.linspace(0.1, 0.8, 3)])
    p = np.stack([x, np.zeros(12), np.zeros(12)], axis=1)[:, None]  # (T, 1, 3): lands at frame 5, lifts after 8
    s = contacts.settle_speeds(p, t)[:, 0]
    assert np.all(s[5:9] < 1e-12) and np.all(s[:4] > 1.0) and np.all(s[10:] > 1.0)


def test_sole_points_follow_the_foot():
    """Rest pose: every sole point at the sole's height, heel under the ankle, toe ahead of the ball; a foot
    pitched heel-up about its toe tip keeps the tip and lifts the heel by length · sin(angle)."""
    J = ms.REST_JOINTS
    off = soles.sole_offsets(J)
    R = np.tile(np.eye(3), (1, 24, 1, 1))
    P, G = forward_kinematics(J, R)
    S = soles.sole_points(P, G, off)[0]
    floor_y = soles.sole_height(J)
    np.testing.assert_allclose(S[:, 1], floor_y, atol=1e-12)
    np.testing.assert_allclose(S[:2, [0, 2]], J[[7, 8]][:, [0, 2]], atol=1e-12)
    assert np.all(S[4:, 2] > S[2:4, 2])  # toe tips ahead (+z) of the balls
    # pitch the left foot 20° heel-up (about its lateral axis) at the ankle and measure the heel-to-tip drop
    angle = np.radians(20.0)
    aa = np.zeros((1, 24, 3))
    aa[0, 7, 0] = angle  # about +x: the foot's front goes down
    from core.rotations import axis_angle_to_rotmat

    P2, G2 = forward_kinematics(J, axis_angle_to_rotmat(aa))
    S2 = soles.sole_points(P2, G2, off)[0]
    length = np.linalg.norm((S[4] - S[0])[[1, 2]])
    assert S2[0, 1] - S2[4, 1] == pytest.approx(length * np.sin(angle), rel=1e-6)
    np.testing.assert_array_equal(soles.feet_from_soles(np.array([[1, 0, 0, 0, 0, 1]], bool)),
                                  [[True, False, False, True]])


def test_rest_heights():
    h = soles.foot_rest_heights(ms.REST_JOINTS)
    assert h.shape == (4,) and np.all(h > 0) and h[0] > h[2]  # ankles above toes
    v = np.array([[0, -1.3, 0], [0, 0.5, 0]])
    np.testing.assert_allclose(soles.foot_rest_heights(ms.REST_JOINTS, v), ms.REST_JOINTS[[7, 8, 10, 11], 1] + 1.3)
