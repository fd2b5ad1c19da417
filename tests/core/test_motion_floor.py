"""core.motion.floor: the plane under the feet, robust to jumps and sitting; the world frame; no-floor errors."""

from __future__ import annotations

import numpy as np
import pytest

import real_motion as rm
from motion_cases import TILT_MISSES, camera_clip, joints, ms, onto_a_box, real_sequence, tilt_deg

from core.config import RefineConfig
from core.motion import floor, world
from core.motion.soles import foot_rest_heights
from core.rotations import R_BLENDER_FROM_OPENCV, axis_angle_to_rotmat


def _inputs(rc, tc, times):
    return [floor.FloorInput.from_motion(ms.REST_JOINTS, rc, tc, times)]


@pytest.mark.parametrize("kind", ["walk", "jump", "sit", "turn", "run"])
@pytest.mark.parametrize("pitch,roll", [(0.0, 0.0), (25.0, 5.0)])
def test_floor_tilt_and_height_are_recovered(kind, pitch, roll):
    c, R, C, _res, (rc, tc) = camera_clip(kind, pitch, roll, noisy=False)
    f = floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 1.0  # a jump's flight or a sitting body does not tilt it
    # the camera is ~6 m from the feet: a tenth of a degree of tilt moves its height by a centimetre
    assert f.camera_height_m == pytest.approx(C[1], abs=0.02 + 6.5 * np.radians(tilt_deg(f.normal_cam, R)))
    assert f.pitch_deg == pytest.approx(-pitch, abs=1.0) and f.roll_deg == pytest.approx(roll, abs=1.0)
    # the world frame: soles of the ground-truth contacts at Z = 0, Z up
    world = joints(rc, tc) @ f.R_world_from_cam.T + f.cam_position_world
    soles = world[:, [7, 8, 10, 11], 2] - foot_rest_heights(ms.REST_JOINTS)
    assert np.abs(soles[c["contact"]]).mean() < 0.01
    np.testing.assert_allclose(f.R_world_from_cam @ f.R_world_from_cam.T, np.eye(3), atol=1e-12)


def test_noisy_walk_still_under_one_and_a_half_degrees():
    """0.8° jitter on every joint: the procedural walk's feet pivot about their joints (not their soles), so its
    resting sole points scatter more than a real walk's (real clips: test_floor_on_real_motion)."""
    c, R, _C, _res, (rc, tc) = camera_clip("walk", 30.0, 5.0, noisy=True)
    f = floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 1.5


# real clips whose floor the stage finds within 2° in every noise draw tried (3); the others are in
# test_a_floor_degrees_off_is_never_silent, and every clip's numbers are in bench/RESULTS.md
SURE = ("walk", "run", "jump", "playground", "climb", "boxing")
DRAWS = (0, 1, 2)


def _real_input(name, seed):
    """(the floor's input from a real clip's noisy draw, R_cam_from_world, camera centre)."""
    _clean, R, C, res = real_sequence(name, seed)
    tr = res.tracks[0]
    times = tr.times_s if tr.times_s is not None else res.timestamps_s
    return floor.FloorInput.from_motion(tr.rest_joints, tr.rotmat, tr.transl_cam, times), R, C


def _real_floor(name, seed):
    inp, R, C = _real_input(name, seed)
    return floor.estimate_floor([inp]), R, C


@pytest.mark.parametrize("seed", DRAWS)
@pytest.mark.parametrize("name", SURE)
def test_floor_on_real_motion(name, seed, real_file):
    """Real leaning runners, jumps with crouched landings, a climbing frame above the floor, a boxer on the spot:
    in a camera pitched 15°, rolled 3°, 1.4 m up, with jitter and drift, the floor is within 2° and says how
    sure it is, in every noise draw."""
    f, R, C = _real_floor(name, seed)
    tilt = tilt_deg(f.normal_cam, R)
    assert tilt < TILT_MISSES.get((name, seed), 2.0)
    assert f.camera_height_m == pytest.approx(C[1], abs=0.03 + 7.0 * np.radians(tilt))  # the feet are ~6 m away
    assert f.confidence in ("high", "medium") and f.num_contacts >= 5 and f.spread_m[0] > 0.2
    assert f.tilt_error_deg < 2.0


def test_floor_of_a_person_standing_still():
    """Hardly any travel: the heels, balls and toes of two flat feet still settle the plane, and the flat feet's
    orientation settles what their few centimetres cannot."""
    c, R, C, _res, (rc, tc) = camera_clip("stand", 15.0, 3.0, noisy=True)
    f = floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 2.0 and f.prior == "feet"
    assert f.spread_m[0] < 0.35  # it did not travel


# every clip with a floor (tests/real_motion.py; cmu_example's feet never rest, crawl's knees are its floor), the
# held-out ones too (checked, not tuned on)
FLOORED = tuple(name for name in rm.CLIPS if name not in ("cmu_example", "crawl"))


@pytest.mark.parametrize("name", FLOORED)
def test_a_floor_degrees_off_is_never_silent(name, real_file):
    """On every real clip and noise draw the floor is within 2° or comes with a low-confidence warning.
    The dances, kicks, rolls and back flips (short, much on the spot, feet that disagree by centimetres between
    left and right in the recording) and the person getting up from the floor are degrees off in some draws:
    those draws warn."""
    from core.motion.refine import refine_result

    for seed in DRAWS:
        _clean, R, _C, res = real_sequence(name, seed)
        _out, report = refine_result(res, RefineConfig(), strict=False)
        low = report.floor.confidence == "low"
        assert low == any("low confidence" in w for w in report.warnings)
        tilt = tilt_deg(report.floor.normal_cam, R)
        assert tilt < TILT_MISSES.get((name, seed), 2.0) or low, (name, seed, tilt)


def test_feet_that_disagree_lower_the_confidence():
    """A person standing still whose left foot the capture puts 2.5 cm higher than the right (a leg length or a
    retarget off by that much): the resting soles alone would tilt the floor by degrees; the flat feet's own up
    disagrees with that plane. Two feet side by side settle little of the tilt across them (each leg may rest a
    centimetre off the other), so the flat feet take the larger share of the tilt (1.35°, where the soles' plane
    is 5° off; 2.8° before each leg had its own offset), and the floor says it is unsure. With consistent feet
    it is within a degree, and still not sure: two feet on the spot leave ±2.25° (the real standing clip's draws
    are 2.5° off, rms), more than the 2° that warns."""
    c, R, _C, _res, (rc, tc) = camera_clip("stand", 15.0, 3.0, noisy=False)
    inp = _inputs(rc, tc, c["times_s"])[0]
    sure = floor.estimate_floor([inp], RefineConfig().floor)
    assert tilt_deg(sure.normal_cam, R) < 1.0 and sure.disagreement_deg < 0.5
    assert 1.5 < sure.tilt_error_deg < 3.0
    lifted = inp.soles.copy()
    lifted[:, [0, 2, 4]] += 0.025 * (R @ np.array([0.0, 1.0, 0.0]))  # the left foot's sole points, up
    unsure = floor.estimate_floor([floor.FloorInput(lifted, inp.foot_up, inp.torso_up, inp.times_s, inp.pelvis)],
                                  RefineConfig().floor)
    assert unsure.disagreement_deg > 4.0  # the points' own plane: degrees off (2.5 cm over ~25 cm)
    tilt = tilt_deg(unsure.normal_cam, R)
    assert tilt < 0.3 * unsure.disagreement_deg  # the flat feet (level here) outweigh two legs' footprints
    assert max(unsure.prior_share) > 0.5 and unsure.confidence == "low"
    assert unsure.tilt_error_deg > sure.tilt_error_deg + 0.8
    assert "flat feet stand" in unsure.evidence()


@pytest.mark.parametrize("kind", ("walk", "run"))
def test_a_leg_resting_higher_does_not_tilt_a_straight_walk(kind):
    """A walk (a run) 4 m along a straight line whose left foot rests 1.5 cm above the right all the way (a
    recording's or a retarget's leg length; the recorded clips' feet differ by 9.5 mm, median): its footprints
    lie on two lines a step's width apart, so that offset looks like a 4° tilt across the walk. Each leg's
    footprints share one offset, so across the walk the flat feet decide: 1.5° (was 3.0-3.2°, and the run's
    silent), and the floor says it is unsure. A walk that turns sets its legs' offsets apart from the
    tilt: there it stays sure and level."""
    def lifted_left(kind):
        c, R, _C, _res, (rc, tc) = camera_clip(kind, 15.0, 3.0, noisy=False)
        inp = _inputs(rc, tc, c["times_s"])[0]
        soles = inp.soles.copy()
        soles[:, [0, 2, 4]] += 0.015 * (R @ np.array([0.0, 1.0, 0.0]))  # the left foot's sole points, up
        return floor.estimate_floor([floor.FloorInput(soles, inp.foot_up, inp.torso_up, inp.times_s, inp.pelvis)]), R

    f, R = lifted_left(kind)
    assert tilt_deg(f.normal_cam, R) < 1.8 and f.confidence == "low"
    f, R = lifted_left("turn")
    assert tilt_deg(f.normal_cam, R) < 0.5 and f.confidence == "high"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_long_stand_on_a_box_does_not_move_the_floor(seed):
    """A person walks 4 s (a dozen footfalls), then stands 4 s on a box 0.4 m high: hundreds of resting points
    on the box's top, on a few contacts. The floor is the walk's — neither the box's top nor a plane tilted
    through both (a first plane counts at most 10 points of one contact: before, no floor on two of these three
    draws)."""
    rc, tc, times, R, C, _step = onto_a_box(seed=seed)
    f = floor.estimate_floor(_inputs(rc, tc, times), RefineConfig().floor)
    assert tilt_deg(f.normal_cam, R) < 1.5
    assert f.camera_height_m == pytest.approx(C[1], abs=0.05 + 6.5 * np.radians(tilt_deg(f.normal_cam, R)))


def test_many_footprints_outweigh_the_feet():
    """A walk across the room whose feet the capture pitches 4° off (a leg's orientation error): along the walk
    its footprints settle the floor and the flat feet's up hardly moves it. (Across a walk, two lines of
    footprints a foot apart settle less: there the feet have a say.)"""
    c, R, _C, _res, (rc, tc) = camera_clip("walk", 15.0, 3.0, noisy=False)
    inp = _inputs(rc, tc, c["times_s"])[0]
    assert np.ptp((inp.pelvis - inp.pelvis[0]) @ R[:, 0]) > 3.0  # it walks 4 m along the world's x
    turn = axis_angle_to_rotmat(np.radians(4.0) * R @ np.array([0.0, 0.0, 1.0]))  # toes 4° up along the walk
    pitched = floor.FloorInput(inp.soles, inp.foot_up @ turn.T, inp.torso_up, inp.times_s, inp.pelvis)
    f = floor.estimate_floor([pitched], RefineConfig().floor)
    assert f.disagreement_deg > 3.0 and f.prior_share[0] < 0.05
    assert tilt_deg(f.normal_cam, R) < 0.5


def test_level_camera_gives_the_old_fixed_mapping():
    R, c = world.world_frame(np.array([0.0, -1.0, 0.0]), -1.5)
    np.testing.assert_allclose(R, R_BLENDER_FROM_OPENCV, atol=1e-12)
    np.testing.assert_allclose(c, [0, 0, 1.5])


def test_never_on_the_ground_raises():
    c, _R, _C, _res, (rc, tc) = camera_clip("float", noisy=True)
    with pytest.raises(floor.FloorNotFoundError, match="floor could not be estimated"):
        floor.estimate_floor(_inputs(rc, tc, c["times_s"]), RefineConfig().floor)
    with pytest.raises(floor.FloorNotFoundError):
        floor.estimate_floor([], RefineConfig().floor)


def test_motion_world_round_trip():
    c, _R, _C, _res, (rc, tc) = camera_clip("walk", noisy=False)
    Rw, cw = world.world_frame(np.array([0.1, -0.95, 0.2]), -1.3)
    J0 = ms.REST_JOINTS[0]
    rw, tw = world.motion_to_world(rc, tc, J0, Rw, cw)
    np.testing.assert_allclose(joints(rw, tw), joints(rc, tc) @ Rw.T + cw, atol=1e-9)
    back = world.motion_to_camera(rw, tw, J0, Rw, cw)
    np.testing.assert_allclose(back[0], rc, atol=1e-12)
    np.testing.assert_allclose(back[1], tc, atol=1e-12)



def _lunge_input(R, C, leg_error_deg: float):
    """A person standing 2 s with both feet under the hips, then 2 s in a lunge, the left foot 0.5 m ahead; the
    capture's left leg is turned ``leg_error_deg`` about its hip (toes up): each of its sole points rises by that
    angle times its reach ahead of the hip. World: x ahead, y up, z left; the floor y = 0. -> FloorInput (camera)."""
    fps, still, move = 30.0, 60, 10
    T = 2 * still + move
    times = np.arange(T) / fps
    sole_x = np.array([-0.05, 0.10, 0.17])  # heel, ball, toe ahead of the ankle
    ahead = np.concatenate([np.zeros(still), np.linspace(0.0, 0.5, move), np.full(still, 0.5)])
    soles = np.zeros((T, 6, 3))
    hips = np.zeros((T, 2, 3))
    for foot, side in ((0, 0.1), (1, -0.1)):
        hips[:, foot] = (0.0, 0.9, side)
        for k, x in enumerate(sole_x):
            soles[:, 2 * k + foot] = np.stack([x + ahead * (foot == 0), np.zeros(T), np.full(T, side)], 1)
    lift = np.radians(leg_error_deg) * (soles[:, 0::2, 0] - hips[:, :1, 0])  # height error of a turned leg
    soles[:, 0::2, 1] += lift + 0.08 * (ahead[:, None] > 0) * (ahead[:, None] < 0.5)  # lifted while it steps
    soles += np.random.default_rng(3).normal(scale=0.001, size=soles.shape)
    up = np.array([0.0, 1.0, 0.0])
    to_cam = lambda p: (p - C) @ R.T  # noqa: E731
    return floor.FloorInput(soles=to_cam(soles), foot_up=np.tile(R @ up, (T, 2, 1)), torso_up=np.tile(R @ up, (T, 1)),
                            times_s=times, pelvis=to_cam(np.tile([0.0, 0.95, 0.0], (T, 1))), hips=to_cam(hips))


def test_a_sole_far_from_its_hip_counts_less():
    """A leg's angle error at the hip moves a sole point up or down by that angle times its reach from the hip:
    the front foot of a lunge, 0.5 m ahead, rises 2.6 cm for 3°, while feet under the hips hardly move. Weighed
    by their reach, the points tilt the floor half as much as an unweighted fit (1.3° against 2.6°; the rest is
    the turned foot's own toes, a few centimetres ahead of their hip, and the few footprints)."""
    from dataclasses import replace

    R, C = rm.camera(15.0, 3.0)
    inp = _lunge_input(R, C, 3.0)
    cfg = RefineConfig().floor
    weighed = tilt_deg(floor.estimate_floor([inp], cfg).normal_cam, R)
    plain = tilt_deg(floor.estimate_floor([inp], replace(cfg, leg_angle_error_deg=0.0)).normal_cam, R)
    assert plain > 2.0  # the lunge's footprint would tilt it
    assert weighed < 0.6 * plain
    # without the leg's error both fits agree: the weights move nothing on their own
    exact = _lunge_input(R, C, 0.0)
    assert tilt_deg(floor.estimate_floor([exact], cfg).normal_cam, R) < 0.3


def test_a_floor_nothing_settles_is_refused(real_file):
    """Crawling on hands and knees (the held-out crawl clip): no foot stands flat, the torso is not up and the
    resting toes lie along a line, so nothing settles the tilt across it; the plane came out 44-119° off (warned)
    in 5 of 10 draws, and there was none in the others. Now no floor: one line says why."""
    for seed in DRAWS:
        inp, _R, _C = _real_input("crawl", seed)
        with pytest.raises(floor.FloorNotFoundError, match="could not be estimated: no foot stands flat") as err:
            floor.estimate_floor([inp])
        assert "\n" not in str(err.value)
