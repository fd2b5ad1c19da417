"""core.formats: BVH and DeepMimic readers (real files from the package registries), retargeting onto SMPL, and
that the converted real clips have what the refine tests rely on (lean, raised heels, flight, crouched landings)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import real_motion as rm

from core import metrics
from core.errors import InvalidMotionFileError
from core.formats.bvh import read_bvh
from core.formats.deepmimic import read_deepmimic
from core.formats.source import SourceMotion
from core.formats.to_smpl import TYPICAL_REST_JOINTS, canonical_axes, match_joints, retarget_file, to_smpl
from core.motion.soles import sole_offsets, sole_points
from core.result import MotionResult
from core.smpl import forward_kinematics


def _euler(order: str, degrees: np.ndarray) -> np.ndarray:
    """Oracle: the product of elementary rotations in the listed channel order, written out with cos/sin."""
    R = np.eye(3)
    for axis, a in zip(order, np.radians(degrees)):
        c, s = np.cos(a), np.sin(a)
        m = {"X": [[1, 0, 0], [0, c, -s], [0, s, c]], "Y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
             "Z": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}[axis]
        R = R @ np.array(m)
    return R


def _bvh_oracle(path, frame: int) -> dict:
    """Joint positions of one frame by walking the file's text line by line (an independent, slow reader)."""
    lines = open(path).read().split("MOTION")[0].splitlines()
    values = open(path).read().split("MOTION")[1].strip().splitlines()[2 + frame].split()
    stack, pos, rot, out, col = [], {}, {}, {}, 0
    name = None
    for line in lines:
        tok = line.split()
        if not tok:
            continue
        if tok[0] in ("ROOT", "JOINT"):
            name = tok[1]
            stack.append(name)
        elif tok[0] == "End":
            stack.append(None)
        elif tok[0] == "OFFSET" and stack[-1] is not None:
            pos[name] = np.array(tok[1:4], float)
        elif tok[0] == "CHANNELS":
            n = int(tok[1])
            chans = tok[2:2 + n]
            vals = np.array(values[col:col + n], float)
            col += n
            order = "".join(c[0] for c in chans if c.endswith("rotation"))
            degs = [v for c, v in zip(chans, vals) if c.endswith("rotation")]
            parent = stack[-2] if len(stack) > 1 else None
            local = _euler(order, degs)
            if parent is None:
                out[name] = np.array([v for c, v in zip(chans, vals) if c.endswith("position")])
                rot[name] = local
            else:
                out[name] = out[parent] + rot[parent] @ pos[name]
                rot[name] = rot[parent] @ local
        elif tok[0] == "}":
            stack.pop()
    return out


def test_bvh_reads_a_cmu_clip_exactly(real_file):
    path = real_file("cmu_example_bvh")
    m = read_bvh(path)
    assert len(m) == 75 and len(m.names) == 31 and m.fps == pytest.approx(120.0, rel=1e-3)
    assert m.names[0] == "Hips" and m.names[m.parents[m.index("LeftFoot")]] == "LeftLeg"
    P, _ = m.forward_kinematics()
    for frame in (0, 40, 74):
        want = _bvh_oracle(path, frame)
        for name, p in want.items():
            np.testing.assert_allclose(P[frame, m.index(name)], p, atol=1e-9)


@pytest.mark.parametrize("text,message", [
    ("not a bvh", "does not start with HIERARCHY"),
    ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\nMOTION\nFrames: 2\n"
     "Frame Time: 0.03\n1 2 3\n", "expected 2 frames of 3 values"),
    ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 1 Wrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.03\n1\n",
     "unknown channel"),
    ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0\n", "cut short"),
])
def test_bad_bvh_gives_one_line(tmp_path, text, message):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(InvalidMotionFileError, match=message) as info:
        read_bvh(path)
    assert "\n" not in str(info.value)


def test_deepmimic_reads_and_repeats_a_loop(real_file):
    path = real_file("deepmimic_walk")
    frames = json.loads(path.read_text())["Frames"]
    one = read_deepmimic(path)
    assert len(one) == len(frames) and one.fps == pytest.approx(30.0, rel=0.01)
    np.testing.assert_allclose(one.root_position, np.array(frames)[:, 1:4])
    three = read_deepmimic(path, cycles=3)
    assert len(three) == 3 * (len(frames) - 1) + 1
    np.testing.assert_allclose(np.diff(three.times_s), np.diff(three.times_s)[0], atol=1e-9)
    # the seams are as smooth as the rest: no joint jumps where one cycle meets the next
    P, _ = three.forward_kinematics()
    step = np.linalg.norm(np.diff(P, axis=0), axis=-1).max(axis=1)
    seam = len(frames) - 2
    assert step[seam - 1:seam + 2].max() < 1.5 * np.percentile(step, 95)
    # the path continues forwards: the second cycle starts where the first ends
    assert three.root_position[len(frames) - 1, 0] > one.root_position[-2, 0]


def test_deepmimic_bad_file(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(json.dumps({"Frames": [[0.1, 1, 2]]}))
    with pytest.raises(InvalidMotionFileError, match="rows of 44 numbers"):
        read_deepmimic(path)
    path.write_text("{")
    with pytest.raises(InvalidMotionFileError, match="not JSON"):
        read_deepmimic(path)


def _flat_footed_lunges(frames: int = 40, roll_deg: float = 8.0, box_offset_deg: float = 0.0) -> SourceMotion:
    """DeepMimic's skeleton rocking between lunges with both feet flat on the floor (y = 0): one thigh nearly
    horizontal, the other nearly upright, so the knees bend unlike each other, and the pelvis rolled. Written
    out with elementary rotations: each leg's thigh angle is chosen, its shin angle solved so that the flat
    foot's sole (0.05 m under the ankle) touches the floor. ``box_offset_deg``: the foot frames turned by a
    constant roll and pitch about the ankle (a recording's feet fitted to a box that rests askew, as in
    DeepMimic's punch clip)."""
    from core.formats.deepmimic import JOINTS

    names = tuple(j[0] for j in JOINTS)
    parents = np.array([j[1] for j in JOINTS], np.int64)
    offsets = np.array([j[2] for j in JOINTS], dtype=np.float64)
    thigh, shin, foot = 0.421546, 0.40987, 0.05

    def rot(axis, a):
        c, s = np.cos(a), np.sin(a)
        if axis == "x":
            return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])

    local = np.tile(np.eye(3), (frames, len(names), 1, 1))
    root = np.zeros((frames, 3))
    rho = np.radians(roll_deg)
    for t in range(frames):
        u = 0.5 - 0.5 * np.cos(2 * np.pi * t / frames)  # 0 -> 1 -> 0
        height = 0.55 + 0.05 * u  # the pelvis (DeepMimic's hips) above the floor
        root[t] = (0.1 * t / frames, height, 0.0)
        local[t, 0] = rot("x", rho)
        for name, side, phi in (("right", 1.0, np.radians(15 + 55 * u)), ("left", -1.0, np.radians(70 - 55 * u))):
            hip_y = height - np.sin(rho) * side * 0.084887  # R_x(ρ) · (0, 0, ±0.085)
            psi = np.arccos((hip_y - foot - thigh * np.cos(phi)) / shin)  # the shin leans back by ψ
            local[t, names.index(f"{name}_hip")] = rot("x", -rho) @ rot("z", phi)  # thigh forward by φ
            local[t, names.index(f"{name}_knee")] = rot("z", -phi - psi)
            offset = rot("x", np.radians(box_offset_deg)) @ rot("z", np.radians(-0.7 * box_offset_deg))
            local[t, names.index(f"{name}_ankle")] = rot("z", psi) @ offset  # the foot level again (or askew)
    return SourceMotion(names=names, parents=parents, offsets=offsets, local_rotmat=local, root_position=root,
                        times_s=np.arange(frames) / 30.0, source="lunges")


@pytest.mark.parametrize("box_offset_deg", [0.0, 20.0])
def test_flat_source_feet_give_flat_smpl_soles(box_offset_deg):
    """Both source feet stand flat on the floor while the knees bend unlike each other and the pelvis rolls:
    every SMPL sole point (heel, ball and toe of both feet, core.motion.soles) lies on the floor in every frame.
    (Mapping only the bone directions put the feet up to 2 cm apart: SMPL's thigh is shorter than its shin,
    DeepMimic's longer, and SMPL's hips sit closer together.) The same where the source's foot frames rest
    turned by a constant 20° roll and 14° pitch: the retarget levels the resting feet."""
    src = _flat_footed_lunges(box_offset_deg=box_offset_deg)
    P, G = src.forward_kinematics()
    for side in ("right", "left"):  # the oracle itself: the source's ankles stand 0.05 m above the floor
        a = src.index(f"{side}_ankle")
        assert np.abs(P[:, a, 1] - 0.05).max() < 1e-9
        if box_offset_deg == 0:  # ... on flat boxes
            corners = P[:, a, None] + np.einsum("tij,kj->tki", G[:, a], [[-0.04, -0.05, 0], [0.13, -0.05, 0]])
            assert np.abs(corners[..., 1]).max() < 1e-9
    m = to_smpl(src)
    Ps, Gs = forward_kinematics(m.rest_joints, m.rotmat)
    soles = sole_points(Ps + m.transl[:, None], Gs, sole_offsets(m.rest_joints))  # (T, 6, 3), y up
    assert np.abs(soles[..., 1]).max() < 0.002


@pytest.mark.parametrize("name", ["cmu_example_bvh", "boxing_toes", "deepmimic_run"])
def test_retarget_keeps_the_source_bone_directions(name, real_file):
    """Arms point where the source's point, torso turns exactly as the source's, the bones keep SMPL's lengths;
    the legs point nearly where the source's do, bent so that each ankle keeps the source's (scaled) height."""
    path = real_file(name)
    src = read_bvh(path) if str(path).endswith(".bvh") else read_deepmimic(path)
    joints = match_joints(src)
    C = canonical_axes(src, joints)
    m = to_smpl(src)
    P_src, G_src = src.forward_kinematics()
    P_src = P_src @ C.T
    P, G = forward_kinematics(m.rest_joints, m.rotmat)
    for a, b in ((1, 4), (4, 7), (2, 5), (5, 8), (16, 18), (18, 20), (17, 19), (19, 21)):
        d_smpl = P[:, b] - P[:, a]
        d_src = P_src[:, joints[b]] - P_src[:, joints[a]]
        cos = np.sum(d_smpl * d_src, axis=-1) / np.linalg.norm(d_smpl, axis=-1) / np.linalg.norm(d_src, axis=-1)
        assert cos.min() > (np.cos(np.radians(20.0)) if a < 16 else 1 - 1e-9), (a, b)
        np.testing.assert_allclose(np.linalg.norm(d_smpl, axis=-1), np.linalg.norm(TYPICAL_REST_JOINTS[b] -
                                                                                   TYPICAL_REST_JOINTS[a]))
    np.testing.assert_allclose(G[:, 0], C @ G_src[:, 0] @ C.T, atol=1e-9)  # the pelvis turns as the source's
    np.testing.assert_allclose(G[:, 9], C @ G_src[:, joints[9]] @ C.T, atol=1e-9)  # so does the chest
    rest = src.rest_positions() @ C.T
    leg = max(sum(np.linalg.norm(rest[joints[b]] - rest[joints[a]]) for a, b in side)
              for side in (((1, 4), (4, 7)), ((2, 5), (5, 8))))
    scale = sum(np.linalg.norm(TYPICAL_REST_JOINTS[b] - TYPICAL_REST_JOINTS[a]) for a, b in ((1, 4), (4, 7))) / leg
    for ankle in (7, 8):
        height = P[:, ankle, 1] + m.transl[:, 1] - scale * P_src[:, joints[ankle], 1]
        assert np.ptp(height) < 0.01, ankle  # SMPL's 4 mm left/right asymmetry turns with the foot


def test_retargeted_result_file_round_trip(tmp_path, real_file):
    m = retarget_file(real_file("deepmimic_jump"), fps=30.0)
    assert np.allclose(np.diff(m.times_s), 1 / 30.0)
    res = m.to_result()
    res.save(tmp_path / "jump.npz")
    back = MotionResult.load(tmp_path / "jump.npz")
    tr = back.tracks[0]
    P, _ = forward_kinematics(tr.rest_joints, tr.rotmat)
    world = (P + tr.transl_cam[:, None]) @ back.R_world_from_cam.T + back.cam_position_world  # Z up
    np.testing.assert_allclose(world[..., 2], m.joints()[..., 1], atol=1e-5)  # heights as SMPL's y
    assert back.meta["source"]["kind"] == "retargeted mocap"
    assert back.meta["source"]["file"].endswith("humanoid3d_jump.txt")
    assert back.video_path == ""  # no footage: Blender must not try to show the motion file behind the camera


# ------------------------------------------------------- the real clips have the properties the tests rely on
def test_real_clips_have_their_properties(real_file):
    p = {name: rm.properties(rm.load_clip(name)) for name in ("walk", "run", "jump", "dance_a", "dance_b",
                                                              "getup", "boxing", "playground")}
    assert p["walk"]["lean_mean_deg"] < 6 and p["walk"]["flight_frames"] == 0
    assert p["run"]["lean_mean_deg"] > 15 and p["run"]["flight_frames"] > 30  # leaning runner with flight
    assert p["run"]["heel_raise_p90_deg"] > 10  # push-off on the ball
    # dance_a: 9.9° (above 10° while the right foot kept the 21° roll its DeepMimic box rests with)
    assert p["dance_a"]["lean_mean_deg"] > 20 and p["dance_a"]["heel_raise_p90_deg"] > 8
    assert p["dance_b"]["heel_raise_p90_deg"] > 25
    assert p["jump"]["flight_frames"] > 20 and p["playground"]["flight_frames"] > 50
    assert p["boxing"]["flight_frames"] < 20 and p["boxing"]["contact_frames"] > 400  # on the spot
    getup = rm.load_clip("getup")
    lean = metrics.lean_deg(getup["joints"])
    assert lean[:10].min() > 60 and lean[-10:].max() < 25  # lying at first, standing at the end


def test_real_standing_clip_is_still(real_file):
    """The "person standing" of the issue's judged set: the pelvis travels under 3 cm along the floor, every sole
    point (heels, balls) rests on the floor in every frame and no foot moves faster than 5 cm/s, while the arms
    rise into a guard (a person, not a statue)."""
    clip = rm.load_clip("standing")
    J, t = clip["joints"], clip["times_s"]
    assert t[-1] > 1.0 and clip["contact"].all()
    assert np.ptp(J[:, 0, [0, 2]], axis=0).max() < 0.03
    feet = J[:, [7, 8, 10, 11]]
    assert np.linalg.norm(np.gradient(feet, t, axis=0), axis=-1).max() < 0.05
    assert min(np.linalg.norm(np.ptp(J[:, w], axis=0)) for w in (20, 21)) > 0.2  # both wrists


def test_real_jump_lands_crouched(real_file):
    """A crouched landing: within 0.3 s after each landing the pelvis drops well below its standing height."""
    clip = rm.load_clip("jump")
    soles = clip["joints"][:, [7, 8, 10, 11], 1] - rm.foot_rest_heights(clip["rest_joints"])
    air = metrics.flight_frames(soles)
    landings = np.flatnonzero(air[:-1] & ~air[1:]) + 1
    assert landings.size >= 2
    pelvis = clip["joints"][:, 0, 1]
    standing = np.percentile(pelvis[~air], 90)
    for a in landings:
        assert pelvis[a:a + 10].min() < standing - 0.12
