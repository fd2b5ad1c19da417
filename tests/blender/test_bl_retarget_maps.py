"""Bone-map presets, name matching, auto-detection and the transfer maths: numpy only (no bpy needed)."""

from __future__ import annotations

import numpy as np
import pytest

from tcmr_mocap.blender_addon.retarget import bonemap, detect, ground, transfer
from tcmr_mocap.core import rotations


def first_names(preset: dict) -> list[str]:
    """A rig's bone names as the preset's first alternatives would have them."""
    names = [e.split("|")[0] for e in bonemap.preset_entries(preset)]
    names += list(preset.get("keys", {}).values()) + [p[0] for p in preset.get("properties", [])]
    if preset.get("root"):
        names.append(preset["root"].split("|")[0])
    return names


ALL = bonemap.preset_files()


def test_every_standard_has_a_data_file():
    assert {"mixamo", "rigify_metarig", "rigify_generated", "unreal_ue4", "unreal_ue5", "vrm", "vroid",
            "ready_player_me", "auto_rig_pro", "character_creator", "daz_genesis8", "daz_genesis9", "humanik",
            "max_biped", "cmu_bvh", "mmd", "smpl"} <= set(ALL)


@pytest.mark.parametrize("pid", sorted(ALL))
def test_preset_maps_its_own_rig_completely(pid):
    preset = bonemap.load_preset(ALL[pid])
    names = first_names(preset)
    bm = bonemap.match_preset(preset, names, pid)
    assert bm.missing_required() == []
    chosen = bonemap.best_preset(names)
    assert chosen is not None and chosen.bones == bm.bones  # auto-detection gives the same map
    for alt_list in preset.get("chains", {}).values():  # chains keep order
        assert len(alt_list) >= 1


@pytest.mark.parametrize("prefix", ["mixamorig:", "mixamorig", "mixamorig1:", "Armature|mixamorig:", ""])
def test_mixamo_under_any_prefix(prefix):
    preset = bonemap.load_preset(ALL["mixamo"])
    names = [prefix + n for n in first_names(preset)] + [prefix + "HeadTop_End", "Armature"]
    bm = bonemap.best_preset(names)
    assert bm is not None
    assert bm.bones["forearm.L"] == prefix + "LeftForeArm" and bm.bones["spine.2"] == prefix + "Spine2"
    assert bm.preset in ("mixamo", "ready_player_me")


def test_rigify_generated_preferred_over_metarig_names_under_def():
    preset = bonemap.load_preset(ALL["rigify_generated"])
    bm = bonemap.best_preset(first_names(preset))
    assert bm.preset == "rigify_generated"
    assert bm.key_bone("DEF-forearm.L") == "forearm_fk.L" and bm.root == "torso"
    assert ("upper_arm_parent.L", "IK_FK", 1.0) in bm.properties


@pytest.mark.parametrize("name, side", [("thigh.L", "L"), ("upperarm_l", "L"), ("LeftArm", "L"),
                                        ("lShldrBend", "L"), ("J_Bip_R_Hand", "R"), ("Bip01 L Thigh", "L"),
                                        ("hand_R", "R"), ("左腕", "L"), ("mixamorig:RightFoot", "R"),
                                        ("spine_01", ""), ("Hips", "")])
def test_side_markers(name, side):
    assert detect.side_of(name) == side


def _rig(joints, rename):
    """RigInfo from rigs-like joints [(key, parent, head)] with names from ``rename``."""
    keys = [k for k, _, _ in joints]
    heads = np.array([h for _, _, h in joints])
    parents = [keys.index(p) if p is not None else -1 for _, p, _ in joints]
    tails = heads.copy()
    for i, (k, p, h) in enumerate(joints):
        kids = [j for j, pp in enumerate(parents) if pp == i]
        tails[i] = heads[kids[0]] if kids else h + np.array([0, 0, 0.05])
    return detect.RigInfo(names=[rename(k) for k in keys], parents=parents, heads=heads, tails=tails)


def _joints():
    import rigs

    return rigs.humanoid_joints(arm_down_deg=40, elbow_bend_deg=10, n_spine=2, n_neck=1)


SYNONYMS = {"hips": "Bacia", "spine0": "Torso_A", "spine1": "Torso_B", "neck0": "Pescoco", "head": "Head",
            "head_end": "Head_end", "root": "Master"}
for _s, _w in (("L", "Left"), ("R", "Right")):
    SYNONYMS.update({f"shoulder.{_s}": f"Collar{_w}", f"upper_arm.{_s}": f"UpArm{_w}", f"forearm.{_s}": f"Elbow{_w}",
                     f"hand.{_s}": f"Wrist_{_w}", f"finger.{_s}": f"Index1_{_w}", f"finger_end.{_s}": f"Index2_{_w}",
                     f"thigh.{_s}": f"Coxa_{_s}", f"shin.{_s}": f"Canela_{_s}", f"foot.{_s}": f"Ankle.{_s}",
                     f"toe.{_s}": f"Ball.{_s}", f"toe_end.{_s}": f"Toe_end.{_s}"})
EXPECT = {"hips": "hips", "spine.0": "spine0", "spine.1": "spine1", "neck.0": "neck0", "head": "head"}
for _s in "LR":
    EXPECT.update({f"{p}.{_s}": f"{p}.{_s}" for p in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin",
                                                      "foot", "toe")})
FINGERS = {f"index{k}.{s}": key for s in "LR" for k, key in ((1, f"finger.{s}"), (2, f"finger_end.{s}"))}


@pytest.mark.parametrize("mode", ["synonyms", "hierarchy"])
def test_structure_detection(mode):
    joints = _joints()
    if mode == "synonyms":  # side markers + wrist/ankle synonyms, unknown words for the rest
        rig = _rig(joints, lambda k: SYNONYMS[k])
        expect = {slot: SYNONYMS[key] for slot, key in {**EXPECT, **FINGERS}.items()}  # one finger, named
    else:  # no usable names at all: geometry + hierarchy
        rig = _rig(joints, lambda k: f"b{[j[0] for j in joints].index(k):02d}")
        keys = [j[0] for j in joints]
        expect = {slot: f"b{keys.index(key):02d}" for slot, key in EXPECT.items()}
    bm = detect.detect(rig)
    assert bm.missing_required() == []
    assert bm.bones == expect


def test_known_kind_with_bones_missing_names_them():
    preset = bonemap.load_preset(ALL["unreal_ue4"])
    names = [n for n in first_names(preset) if n not in ("lowerarm_l", "calf_r")]
    bm = detect.detect(detect.RigInfo(names=names, parents=[-1] * len(names), heads=np.zeros((len(names), 3)),
                                      tails=np.ones((len(names), 3))))
    assert sorted(bm.missing_required()) == ["forearm.L", "shin.R"]


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_round_trip(order):
    R = rotations.quat_wxyz_to_rotmat(np.random.default_rng(1).normal(size=(50, 4)))
    e = rotations.rotmat_to_euler(R, order)
    np.testing.assert_allclose(rotations.euler_to_rotmat(e, order), R, atol=1e-12)
    # Blender's meaning of "XYZ": X applied first
    x = rotations.euler_to_rotmat(np.array([0.3, 0.0, 0.0]), order)
    z = rotations.euler_to_rotmat(np.array([0.0, 0.0, 0.5]), order)
    both = rotations.euler_to_rotmat(np.array([0.3, 0.0, 0.5]), order)
    np.testing.assert_allclose(both, z @ x if order.index("X") < order.index("Z") else x @ z, atol=1e-12)


def test_transfer_matches_segments_for_any_rest_rotation():
    """Target = the source's skeleton scaled, turned and with random bone rests: every target segment's
    posed direction (rest segment carried by the wanted world rotation) equals the source's."""
    rng = np.random.default_rng(4)
    joints = _joints()
    pos = {k: h for k, _, h in joints}
    slots = {"hips": "hips", "spine.0": "spine0", "spine.1": "spine1", "neck.0": "neck0", "head": "head"}
    for s in "LR":
        slots.update({f"{p}.{s}": f"{p}.{s}" for p in ("shoulder", "upper_arm", "forearm", "hand", "thigh",
                                                       "shin", "foot", "toe")})
    T = 7
    src = transfer.Skeleton(heads={s: pos[k] for s, k in slots.items()},
                            tails={s: pos[k] + [0, 0, 0.05] for s, k in slots.items()},
                            rot={s: np.eye(3) for s in slots})
    R_rand = {s: rotations.quat_wxyz_to_rotmat(rng.normal(size=(T, 4))) for s in slots}
    # posed source: every head moved by its own rotation about the hips (directions are what matter)
    motion = transfer.Motion(heads={s: pos[k] + rng.normal(scale=0.05, size=(T, 3)) for s, k in slots.items()},
                             rot=R_rand)
    motion.heads["hips"] = pos["hips"] + np.cumsum(rng.normal(scale=0.02, size=(T, 3)), 0)
    turn = rotations.axis_angle_to_rotmat(np.array([0.0, 0.0, 2.0]))
    tgt = transfer.Skeleton(heads={s: 1.3 * turn @ h for s, h in src.heads.items()},
                            tails={s: 1.3 * turn @ h for s, h in src.tails.items()},
                            rot={s: rotations.quat_wxyz_to_rotmat(rng.normal(size=4)) for s in slots})
    world = transfer.target_world(src, motion, tgt)
    hips, ratio, _ = ground.root_path(src, motion, tgt, "path", 0.0, 0.0)
    assert ratio == pytest.approx(1.3)
    for slot, nxt in (("upper_arm.L", "forearm.L"), ("forearm.R", "hand.R"), ("thigh.L", "shin.L"),
                      ("shin.R", "foot.R"), ("foot.L", "toe.L")):
        rest_seg = tgt.heads[nxt] - tgt.heads[slot]
        local = tgt.rot[slot].T @ rest_seg  # the segment in the bone's frame
        posed = world[slot] @ local
        want = motion.heads[nxt] - motion.heads[slot]
        cos = np.sum(posed * want, -1) / np.linalg.norm(posed, axis=-1) / np.linalg.norm(want, axis=-1)
        assert np.all(cos > np.cos(np.radians(1e-4))), slot
    travel = motion.heads["hips"] - motion.heads["hips"][:1]
    np.testing.assert_allclose(hips[:, :2] - hips[:1, :2], 1.3 * travel[:, :2], atol=1e-9)


@pytest.mark.parametrize("pid", sorted(ALL))
def test_preset_sides(pid):
    """Every name a preset gives a left (right) slot carries a left (right) marker: a preset with, say, the
    Character Creator shins swapped (shin.L: CC_Base_R_Calf) drives the left leg's shin with the right one."""
    preset = bonemap.load_preset(ALL[pid])
    for slot, entry in preset["bones"].items():
        if slot.endswith((".L", ".R")):
            for name in entry.split("|"):
                assert detect.side_of(name) == slot[-1], (pid, slot, name)
