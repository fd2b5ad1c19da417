"""core.motion.footlock: pins on real rolling feet, released at lift-off, no pops, nothing carried through a flight,
less lock where a contact is doubtful (a foot sliding off is let go and pinned where it rests again); the two-bone
IK (incl. a straight leg)."""

from __future__ import annotations

import numpy as np
import pytest

import real_motion as rm
from motion_cases import joints, ms

from core.config import FootLockConfig
from core.metrics import foot_skate
from core.motion import contacts, footlock, soles
from core.smpl import forward_kinematics

Y_UP_TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # SMPL world (y up) -> Z up
FOOT = list(soles.FOOT_JOINT_IDS)


def _world(clip, slide=0.04, seed=0):
    """A clip in a Z-up world, with a slow slide of the whole body added (so planted feet drift)."""
    R = clip["rotmat"].copy()
    R[:, 0] = Y_UP_TO_Z_UP @ R[:, 0]
    J0 = clip["rest_joints"][0]
    t = (J0 + clip["transl"]) @ Y_UP_TO_Z_UP.T - J0
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0, 1, (t.shape[0], 3)), axis=0)
    drift[:, 2] = 0
    return R, t + slide * drift / np.abs(drift).max()


def _resting(R, t, rest, times):
    """(T, 6) the clean motion's resting sole points: within 1.5 cm of the floor, slower than 0.15 m/s."""
    P, G = forward_kinematics(rest, R)
    S = soles.sole_points(P + t[:, None], G, soles.sole_offsets(rest))
    speed = contacts.settle_speeds(S[..., :2], times, span=1)
    return contacts.detect_contacts(S[..., 2], speed, times)


@pytest.mark.parametrize("name", ["walk", "jump", "dance_a", "boxing"])
def test_pins_real_rolling_feet_without_pops(name, real_file):
    clip = rm.load_clip(name)
    rest, times = clip["rest_joints"], clip["times_s"]
    R0, t0 = _world(clip, slide=0.0)
    R, t = _world(clip)
    contact = _resting(R0, t0, rest, times)
    R2, t2 = footlock.lock_feet(R, t, rest, times, contact, soles.sole_offsets(rest), FootLockConfig())
    skate0 = foot_skate(joints(R, t, rest)[:, FOOT], clip["contact"]).mean()
    skate1 = foot_skate(joints(R2, t2, rest)[:, FOOT], clip["contact"]).mean()
    truth = foot_skate(joints(R0, t0, rest)[:, FOOT], clip["contact"]).mean()
    assert skate1 < 0.6 * skate0 and skate1 < truth + 0.002, (skate0, skate1, truth)
    # the pinned soles on the floor (as well as the clean motion's own: retargeted feet rest within ±2 cm)
    P, G = forward_kinematics(rest, R2)
    S = soles.sole_points(P + t2[:, None], G, soles.sole_offsets(rest))
    P0, G0 = forward_kinematics(rest, R0)
    S0 = soles.sole_points(P0 + t0[:, None], G0, soles.sole_offsets(rest))
    assert np.abs(S[..., 2][contact]).mean() < np.abs(S0[..., 2][contact]).mean() + 0.003
    # no pops: the corrected joints accelerate about as much as the motion itself
    acc0 = np.linalg.norm(np.diff(joints(R0, t0, rest), 2, axis=0), axis=-1).max()
    acc1 = np.linalg.norm(np.diff(joints(R2, t2, rest), 2, axis=0), axis=-1).max()
    assert acc1 < 1.5 * acc0 + 0.01, (acc0, acc1)


def test_pins_release_at_lift_off_and_hold_from_landing():
    """Each pin's weight is 0 before the landing's fade, full from the landing frame's neighbour to the lift-off,
    already falling on the contact's last frame and 0 within ``release_s`` after it (the foot pushes off as
    captured, instead of being held through the push-off as pins that fade only after the contact did)."""
    t = np.arange(40) / 30.0
    c = np.zeros(40, bool)
    c[10:25] = True
    cfg = FootLockConfig()
    [(w, seg)] = footlock.pin_weights(c, t, cfg.blend_s, cfg.blend_outside, cfg.release_s, cfg.release_outside)
    assert seg == slice(10, 25)
    assert w[10] > 0.5 and np.all(w[11:23] == 1.0)  # held from the landing frame
    gone = 24 + int(np.ceil(cfg.release_s * cfg.release_outside * 30.0))
    assert w[24] < 1.0 and np.all(w[gone + 1:] == 0.0) and np.all(w[:6] == 0.0)
    assert np.all(np.diff(w[11:]) <= 1e-12)  # only falls after the landing


def test_no_correction_is_carried_through_a_long_flight():
    """Two contacts 1 s apart with different corrections: the root's correction fades to zero in the middle of
    the flight (nothing from one landing reaches the next), while a short break is bridged in a straight line."""
    t = np.arange(90) / 30.0
    T = t.shape[0]
    delta = np.zeros((T, 2, 3))
    weight = np.zeros((T, 2))
    weight[:20] = weight[-20:] = 1.0
    delta[:20] = [0.05, 0.0, 0.02]
    delta[-20:] = [-0.05, 0.0, 0.0]
    cfg = FootLockConfig()
    root = footlock._root_correction(delta, weight, t, cfg)
    assert np.abs(root[45]).max() < 1e-9  # mid-flight: the input as captured
    np.testing.assert_allclose(root[5], [0.05 * cfg.root_share, 0.0, 0.02], atol=1e-9)  # a floating body: all root
    short = np.ones(T)
    short[40:43] = 0.0  # 0.1 s: a running stride's flight, shorter than max_carry_s
    weight2 = np.stack([short, short], axis=1)
    delta2 = np.zeros((T, 2, 3))
    delta2[:, :, 0] = np.where(t < 1.5, 0.02, 0.04)[:, None] * short[:, None]
    root2 = footlock._root_correction(delta2, weight2, t, cfg)
    assert 0.02 * cfg.root_share < root2[41, 0] < 0.04 * cfg.root_share  # between the two, not dropped to zero


def test_a_sliding_contact_is_pinned_less():
    """A contact whose point strays far in the input (a pivot, a false contact) gets less weight, none beyond
    slide_max_m."""
    cfg = FootLockConfig()
    t = np.arange(30) / 30.0
    S = np.zeros((30, 6, 3))
    contact = np.zeros((30, 6), bool)
    contact[:, 0] = contact[:, 1] = True
    S[:, 1, 0] = np.linspace(-1.0, 1.0, 30) * 2.0 * cfg.slide_max_m  # the right heel slides far
    _delta, w = footlock.sole_pins(S, contact, t, cfg)
    assert w[15, 0] == pytest.approx(1.0) and w[15, 1] == 0.0


def test_a_foot_that_slides_off_is_let_go_and_pinned_where_it_rests_again():
    """A sole point rests at A for 0.5 s, slides 30 cm over 0.3 s (a kick's stance foot, feet dragged out of a
    roll) and rests at B for 0.5 s, with 5 mm of jitter, all one detected contact: it is pinned at A and at B
    (within 2 cm), and no frame is pulled further than ``stray_max_m`` (one spot for the whole contact, its
    median, would drag the resting foot 15 cm back over the slide). A point wandering ±4 cm around one spot (a
    planted foot's drift in a capture) is held fully in every frame of its contact."""
    cfg = FootLockConfig()
    rng = np.random.default_rng(3)
    t = np.arange(39) / 30.0
    S = np.zeros((39, 6, 3))
    path = np.concatenate([np.zeros(15), np.linspace(0.0, 0.3, 9), np.full(15, 0.3)])
    S[:, 0, 0] = path + rng.normal(0.0, 0.005, 39)
    S[:, 1, 1] = 0.04 * np.sin(2.0 * np.pi * t / 1.4)  # the other heel wanders
    contact = np.zeros((39, 6), bool)
    contact[:, :2] = True
    delta, w = footlock.sole_pins(S, contact, t, cfg)
    pull = np.linalg.norm(delta[:, 0, :2], axis=-1) / np.maximum(w[:, 0], 1e-9)  # pinned target - point
    target = S[:, 0, 0] + delta[:, 0, 0] / np.maximum(w[:, 0], 1e-9)
    assert np.abs(target[3:12]).max() < 0.02 and np.abs(target[27:36] - 0.3).max() < 0.02
    assert w[3:12, 0].min() > 0.3 and w[27:36, 0].min() > 0.3
    assert pull[w[:, 0] > 1e-3].max() < cfg.stray_max_m
    assert np.all(w[2:-2, 1] > 0.999)


def test_a_pin_moves_between_rest_spots_no_faster_than_the_captured_point():
    """One contact whose point rests at A for 0.6 s, creeps 36 cm in 0.6 s (a capture's drifting foot, or a slow
    slide) and rests at B for 0.6 s, with 5 mm of jitter, is pinned at two spots that follow each other without a
    break. The pinned target (where the pins send the point) never moves more than twice as fast per frame as the
    captured point's own average speed over the creep (pins that jump from A to B where the stretches meet
    move it 30 cm within three frames), and it still holds A and B where the point rests."""
    cfg = FootLockConfig()
    rng = np.random.default_rng(5)
    n = 18
    t = np.arange(3 * n) / 30.0
    path = np.concatenate([np.zeros(n), np.linspace(0.0, 0.36, n), np.full(n, 0.36)])
    S = np.zeros((3 * n, 6, 3))
    S[:, 0, 0] = path + rng.normal(0.0, 0.005, 3 * n)
    contact = np.zeros((3 * n, 6), bool)
    contact[:, 0] = True
    delta, w = footlock.sole_pins(S, contact, t, cfg)
    stretches = footlock.rest_stretches(S[:, 0, :2], t, cfg)
    assert len(stretches) >= 2  # the case this test is about: spots that follow each other
    assert w[:, 0].min() > 0.1  # pinned throughout (less, as its point strayed far)
    target = S[:, 0, 0] + delta[:, 0, 0] / np.maximum(w[:, 0], 1e-9)
    creep_speed = 0.36 / n  # metres per frame
    assert np.abs(np.diff(target)).max() < 2.0 * creep_speed
    assert np.abs(target[2:8]).max() < 0.03 and np.abs(target[-8:-2] - 0.36).max() < 0.03


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
    np.testing.assert_allclose(np.linalg.norm(P2[:, 4] - P2[:, 1], axis=-1), l1, atol=1e-9)  # rigid bones
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


def test_soft_reach_eases_length_changes_near_a_straight_knee_only():
    """With ``soft_reach`` a leg asked to keep its ankle keeps it exactly; a nearly straight leg asked 1 cm longer
    gets less (its knee would swing far: ``eased`` as 1 - exp); a well bent leg still reaches its target."""
    c = ms.make_clip("sit", seconds=4.0)  # standing, bending to sit, getting up: straight and bent legs
    R = c["rotmat"].copy()
    P, G = forward_kinematics(ms.REST_JOINTS, R)
    rows = np.arange(R.shape[0])
    stay = R.copy()
    footlock.two_bone_ik(stay, G, P, footlock.LEGS[0], P[:, 7], rows, soft_reach=0.15)
    np.testing.assert_allclose(forward_kinematics(ms.REST_JOINTS, stay)[0][:, 7], P[:, 7], atol=1e-6)
    l1 = np.linalg.norm(P[:, 4] - P[:, 1], axis=-1)
    l2 = np.linalg.norm(P[:, 7] - P[:, 4], axis=-1)
    length = np.linalg.norm(P[:, 7] - P[:, 1], axis=-1)
    along = (P[:, 7] - P[:, 1]) / length[:, None]
    longer = P[:, 7] + 0.01 * along  # 1 cm further from the hip
    eased = R.copy()
    footlock.two_bone_ik(eased, G, P, footlock.LEGS[0], longer, rows, soft_reach=0.15)
    got = np.linalg.norm(forward_kinematics(ms.REST_JOINTS, eased)[0][:, 7] - P[:, 1], axis=-1) - length
    straight = length > 0.97 * (l1 + l2)
    bent = length + 0.01 < (1.0 - 0.15) * (l1 + l2)  # below the eased zone
    assert straight.any() and bent.any()
    assert np.all(got[straight] < 0.007) and np.all(got[straight] > 0.0)  # some of the centimetre, not all
    np.testing.assert_allclose(got[bent], 0.01, atol=1e-4)  # far from straight: the whole centimetre


def test_contact_up_holds_the_roll_and_keeps_the_pitch():
    """Over a pinned stretch the foot's up keeps the captured pitch (square to the forward axis) and rolls by the
    pin-weighted mean of the captured roll; outside it is the captured up. Oracle: ups built by turning the
    roll-free up about the forward axis (core.rotations), the expected one by the mean angle."""
    from core.rotations import axis_angle_to_rotmat

    rng = np.random.default_rng(3)
    T = 40
    pitch = np.radians(np.linspace(-10.0, 25.0, T))  # the heel rising
    forward = np.stack([np.zeros(T), np.cos(pitch), np.sin(pitch)], axis=1)  # world, Z up, walking along +Y
    flat_up = np.stack([np.zeros(T), -np.sin(pitch), np.cos(pitch)], axis=1)  # square to it, no roll
    roll = np.radians(rng.normal(4.0, 2.0, T))
    up = np.einsum("tij,tj->ti", axis_angle_to_rotmat(forward * roll[:, None]), flat_up)
    weight = np.zeros((T, 6))
    weight[10:30, [0, 2, 4]] = np.linspace(0.2, 1.0, 20)[:, None]  # the left foot pinned in frames 10..29
    out = footlock.contact_up(np.stack([up, up], axis=1), np.stack([forward, forward], axis=1), weight)
    w = weight[10:30, 0]
    held = (w * roll[10:30]).sum() / w.sum()
    want = np.einsum("tij,tj->ti", axis_angle_to_rotmat(forward[10:30] * held), flat_up[10:30])
    np.testing.assert_allclose(out[10:30, 0], want, atol=1e-9)
    np.testing.assert_allclose(out[:10, 0], up[:10], atol=0)
    np.testing.assert_allclose(out[:, 1], up, atol=0)  # the right foot is not pinned


def test_a_straight_leg_bends_its_knee_forwards():
    """A perfectly straight leg has no plane to bend in: the knee must bend forwards (the way knees bend), never
    backwards, when the ankle is pulled towards the hip."""
    rest = ms.REST_JOINTS.copy()
    rest[4] = 0.5 * (rest[1] + rest[7])  # left knee exactly between hip and ankle: a straight leg at rest
    R = np.tile(np.eye(3), (1, 24, 1, 1))
    P, G = forward_kinematics(rest, R)
    target = P[:, 7] + 0.5 * (P[:, 1] - P[:, 7]) * 0.1  # 5 % of the leg closer to the hip
    footlock.two_bone_ik(R, G, P, footlock.LEGS[0], target, np.arange(1))
    P2, _ = forward_kinematics(rest, R)
    np.testing.assert_allclose(P2[0, 7], target[0], atol=2e-4)
    line = 0.5 * (P2[0, 1] + P2[0, 7])
    assert P2[0, 4, 2] > line[2] + 0.02  # SMPL faces +z: the knee comes forwards


def test_never_and_ground_modes():
    clip = ms.make_clip("walk", seconds=4.0)
    R, t = _world(clip)
    off = soles.sole_offsets(ms.REST_JOINTS)
    contact = clip["contact"][:, [0, 1, 2, 3, 2, 3]]
    R2, t2 = footlock.lock_feet(R, t, ms.REST_JOINTS, clip["times_s"], contact, off, FootLockConfig(mode="never"))
    np.testing.assert_array_equal(R2, R)
    np.testing.assert_array_equal(t2, t)
    lifted = t + [0, 0, 0.03]  # floating 3 cm
    R3, t3 = footlock.lock_feet(R, lifted, ms.REST_JOINTS, clip["times_s"], contact, off,
                                FootLockConfig(mode="ground"))
    def height(rot, tra):  # mean distance of the resting soles from the floor
        P, G = forward_kinematics(ms.REST_JOINTS, rot)
        return np.abs(soles.sole_points(P + tra[:, None], G, off)[..., 2][contact]).mean()
    assert height(R3, t3) < 0.5 * height(R, lifted)  # at least half way back on the floor (straight legs reach little)
    feet0 = joints(R, lifted)[:, FOOT]
    feet = joints(R3, t3)[:, FOOT]
    # ground does not pin: the horizontal slide stays
    assert foot_skate(feet, clip["contact"]).mean() == pytest.approx(foot_skate(feet0, clip["contact"]).mean(), rel=0.2)


def test_smootherstep():
    x = np.linspace(0, 1, 11)
    s = footlock.smootherstep(x)
    assert s[0] == 0 and s[-1] == 1 and np.all(np.diff(s) >= 0)
    assert footlock.smootherstep(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]
