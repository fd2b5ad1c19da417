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


def _raised_case(T=30):
    """Six sole columns over T frames at 30 fps: the left foot's (0, 2, 4) still on a box 0.5 m up, the right
    foot's (1, 3, 5) 0.2 m above it, the pelvis 1.4 m up; no sole on the floor. -> (heights, 3-D positions, times,
    pelvis heights)."""
    t = np.arange(T) / FPS
    h = np.tile(np.array([0.5, 0.7, 0.5, 0.7, 0.5, 0.7]), (T, 1))
    pos = np.zeros((T, 6, 3))
    pos[..., 2] = h
    return h, pos, t, np.full(T, 1.4)


def _raised(h, pos, t, pelvis, on_floor=None, **cfg):
    floor = np.zeros(h.shape, dtype=bool) if on_floor is None else on_floor
    return contacts.detect_raised_rests(h, contacts.settle_speeds(pos, t), t, floor, pelvis, ContactConfig(**cfg))


def test_a_foot_resting_above_the_floor_is_a_contact_of_its_own():
    """Feet standing still on a box (a step, a climbing frame) rest there: both feet within raised_lowest_m of the
    body's lowest sole, all frames; nothing where it would be a guess."""
    h, pos, t, pelvis = _raised_case()
    assert _raised(h, pos, t, pelvis).all()  # both feet: the right one 0.2 m higher, on the next rung
    assert not _raised(h, pos, t, pelvis, raised_min_s=0.0).any()  # switched off
    # a sole on the floor at the same frames: the raised foot may be held in the air (a kick's chamber)
    on_floor = np.zeros(h.shape, dtype=bool)
    on_floor[:, 1] = True
    assert not _raised(h, pos, t, pelvis, on_floor).any()
    # a foot 0.4 m above the lowest sole is not resting (a knee lifted while standing on the box)
    h2, pos2 = h.copy(), pos.copy()
    h2[:, [1, 3, 5]] = pos2[:, [1, 3, 5], 2] = 0.9
    up = _raised(h2, pos2, t, pelvis)
    assert up[:, [0, 2, 4]].all() and not up[:, [1, 3, 5]].any()
    # a body lying with its legs raised still (pelvis below the feet) does not stand on them
    assert not _raised(h, pos, t, np.full(t.shape, 0.3)).any()
    # a foot that moves on (0.8 m/s along the box) or is lowered slowly (10 cm over the contact) does not rest
    moving = pos.copy()
    moving[:, 0, 0] = 0.8 * t
    assert not _raised(h, moving, t, pelvis)[:, 0].any()
    lowered, hl = pos.copy(), h.copy()
    hl[:, 0] = lowered[:, 0, 2] = 0.5 - 0.1 * t / t[-1]
    assert not _raised(hl, lowered, t, pelvis)[:, 0].any()


def test_the_top_of_a_jump_is_not_a_rest():
    """At a jump's apex the feet are slow for a few frames and no sole is on the floor, but they rise and fall
    by centimetres within raised_min_s: no rest (a pin there would hold the body in the air)."""
    h, pos, t, pelvis = _raised_case(45)
    apex = 0.45 - 0.5 * 9.81 * (t - t[22]) ** 2  # free flight through the apex at frame 22
    h = np.repeat(apex[:, None], 6, axis=1)
    pos[..., 2] = h
    assert not _raised(h, pos, t, pelvis + apex).any()
    # each guard alone: the speed (slow for only ~0.1 s) and the level (11 cm of rise and fall within 0.3 s)
    assert not _raised(h, pos, t, pelvis + apex, raised_level_m=1.0).any()
    assert not _raised(h, pos, t, pelvis + apex, raised_speed_on_mps=9.0, raised_speed_off_mps=9.0).any()
    assert _raised(h, pos, t, pelvis + apex, raised_level_m=1.0, raised_speed_on_mps=9.0,
                   raised_speed_off_mps=9.0).any()
    # the same frames held still at the apex height rest (the test above is what tells them apart)
    assert _raised(np.full_like(h, 0.45), np.where(np.arange(3) == 2, 0.45, pos), t, pelvis).any()


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
