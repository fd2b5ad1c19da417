"""Captured fingers and face carried onto a real character (the CC0 MakeHuman body with MPFB's game_engine rig
and the 52 ARKit face shape keys): the capture's SMPL-X finger bones through the smpl preset onto the character's
finger chains (each joint bends as much as the captured one, measured on the evaluated bones), the ARKit weights
onto its shape keys (evaluated values), VRM expressions for a character with VRoid-named shape keys, and a failed
bake that leaves the character's shape keys as they were."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import real_corpus  # noqa: E402
import real_rigs  # noqa: E402
from extremity_motion import flexion_motion, import_capture  # noqa: E402
from tcmr_mocap.blender_addon.retarget import bake, vrm_expressions  # noqa: E402
from tcmr_mocap.core.extremities.layout import ARKIT_BLENDSHAPE_NAMES  # noqa: E402

N = 12
FINGERS = ("thumb", "index", "middle", "ring", "little")
ROLES = real_corpus.roles_of("game_engine")


@pytest.fixture
def capture(scene, tmp_path, smpl_arrays):
    """A capture of a still person whose fingers close and whose face moves."""
    return import_capture(tmp_path, smpl_arrays, N, "hands", hands=flexion_motion(N), still=True)


def _dir(obj, name):
    pb = obj.pose.bones[name]
    return np.array(pb.tail) - np.array(pb.head)


def joint_bends(obj, chains: dict, hand: str, frames) -> np.ndarray:
    """(T, 15) angle (degrees) of each finger bone against its parent (the hand's wrist -> finger base line
    for the first), change since frame ``frames[0]``: a plain measure on the evaluated bones."""
    out = []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        row = []
        for finger in FINGERS:
            bones = chains[finger]
            base = np.array(obj.pose.bones[bones[0]].head) - np.array(obj.pose.bones[hand].head)
            prev = base
            for b in bones:
                d = _dir(obj, b)
                row.append(np.degrees(np.arccos(np.clip(prev @ d / np.linalg.norm(prev) / np.linalg.norm(d), -1, 1))))
                prev = d
        out.append(row)
    out = np.array(out)
    return out - out[0]


def test_fingers_and_face_onto_makehuman(capture, arkit_character):
    source, track = capture
    target = real_rigs.load(bpy.context, arkit_character)["mh"]
    body = next(c for c in target.children if c.type == "MESH")
    _, info = bake.retarget(bpy.context, source, target)
    assert info["bone_map"]["index2.L"] == "index_02_l" and info["face_mode"] == "arkit" and info["face_keys"] == 52
    frames = np.arange(1, N + 1)
    for side, s in (("L", "left"), ("R", "right")):
        src = joint_bends(source, {f: [f"{s}_{'pinky' if f == 'little' else f}{k}" for k in (1, 2, 3)]
                                   for f in FINGERS}, f"{s}_wrist", frames)
        tgt = joint_bends(target, {f: [ROLES[f"{f}{k}.{side}"] for k in (1, 2, 3)] for f in FINGERS},
                          ROLES[f"hand.{side}"], frames)
        err = np.abs(tgt - src)[-1].reshape(5, 3)  # the closed hand: (thumb .. little, joints 1-3)
        assert src[-1].max() > 60  # (the capture closes its fingers)
        hinges = err[1:, 1:]  # the fingers' middle and end joints: bone against bone, the cleanest measure
        assert hinges.mean() < 3.0 and hinges.max() < 6.0, (side, np.round(err, 1))
        assert err[1:, 0].mean() < 10.0, (side, np.round(err, 1))  # knuckles: against the wrist -> base line
        assert err[0].mean() < 10.0, (side, np.round(err, 1))  # the thumb (its rest turned otherwise)
    keys = body.data.shape_keys
    got = []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        got.append([keys.key_blocks[n].value for n in ARKIT_BLENDSHAPE_NAMES])
    np.testing.assert_allclose(np.array(got), track.face_blendshapes, atol=1e-5)


def test_vrm_expressions_by_shape_key_names(capture, arkit_character):
    """A VRoid-like face (shape keys named Fcl_EYE_Close, Fcl_MTH_A, Fcl_ALL_Joy): keyed through the table."""
    source, track = capture
    target = real_rigs.load(bpy.context, arkit_character)["mh"]
    body = next(c for c in target.children if c.type == "MESH")
    blocks = body.data.shape_keys.key_blocks
    for arkit, vroid in (("eyeBlinkLeft", "Fcl_EYE_Close"), ("jawOpen", "Fcl_MTH_A"),
                         ("mouthSmileLeft", "Fcl_ALL_Joy")):
        blocks[arkit].name = vroid
    for block in list(blocks[1:]):
        if not block.name.startswith("Fcl_"):
            body.shape_key_remove(block)
    _, info = bake.retarget(bpy.context, source, target)
    assert info["face_mode"] == "vrm names" and info["face_keys"] == 3
    w = track.face_blendshapes
    idx = {n: ARKIT_BLENDSHAPE_NAMES.index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft",
                                                        "mouthSmileRight")}
    bpy.context.scene.frame_set(5)
    row = w[4]
    blink = (row[idx["eyeBlinkLeft"]] + row[idx["eyeBlinkRight"]]) / 2
    assert blocks["Fcl_EYE_Close"].value == pytest.approx(blink, abs=1e-5)
    assert blocks["Fcl_MTH_A"].value == pytest.approx(row[idx["jawOpen"]], abs=1e-5)
    assert blocks["Fcl_ALL_Joy"].value == pytest.approx((row[idx["mouthSmileLeft"]] + row[idx["mouthSmileRight"]]) / 2,
                                                        abs=1e-5)


def test_a_failed_bake_leaves_the_shape_keys_alone(capture, arkit_character, monkeypatch):
    source, _ = capture
    target = real_rigs.load(bpy.context, arkit_character)["mh"]
    body = next(c for c in target.children if c.type == "MESH")
    key = body.data.shape_keys
    own = bpy.data.actions.new("animator's face")
    key.animation_data_create().action = own
    actions = set(bpy.data.actions)
    from tcmr_mocap.blender_addon.scene import face

    real = face.bake_shape_keys
    calls = []

    def failing(*args, **kw):
        calls.append(1)
        real(*args, **kw)  # (the action is made, then something fails)
        raise RuntimeError("disk full")

    monkeypatch.setattr(face, "bake_shape_keys", failing)
    with pytest.raises(RuntimeError):
        bake.retarget(bpy.context, source, target)
    assert calls and key.animation_data.action == own and set(bpy.data.actions) == actions
    monkeypatch.setattr(face, "bake_shape_keys", real)
    bake.retarget(bpy.context, source, target)  # then it works, and the animator's take is kept
    assert key.animation_data.action != own and own.name in bpy.data.actions and own.use_fake_user


def test_vrm_addon_binds_and_table():
    """The VRM add-on's expression binds (VRM 1.0 and 0.x layouts) and the table, without Blender data."""
    from types import SimpleNamespace as NS

    def bind10(mesh, key, w):
        return NS(node=NS(mesh_object_name=mesh), index=key, weight=w)

    preset = NS(happy=NS(morph_target_binds=[bind10("Face", "smile", 1.0), bind10("Face", "eyes_happy", 0.5)]),
                aa=NS(morph_target_binds=[bind10("Face", "mouth_a", 1.0)]),
                blink=NS(morph_target_binds=[bind10("Face", "blink", 1.0)]),
                blink_left=NS(morph_target_binds=[bind10("Face", "wink_l", 1.0)]),
                blink_right=NS(morph_target_binds=[bind10("Face", "wink_r", 1.0)]))
    arm = NS(data=NS(vrm_addon_extension=NS(spec_version="1.0", vrm1=NS(expressions=NS(preset=preset)))))
    table = vrm_expressions.binds(arm)
    assert set(table) == {"happy", "aa", "blinkLeft", "blinkRight"}  # blink left out: the eyes have their own
    w = np.zeros((2, 52))
    w[:, ARKIT_BLENDSHAPE_NAMES.index("mouthSmileLeft")] = [0.2, 1.0]
    w[:, ARKIT_BLENDSHAPE_NAMES.index("mouthSmileRight")] = [0.4, 1.0]
    w[:, ARKIT_BLENDSHAPE_NAMES.index("jawOpen")] = [0.7, 0.1]
    values = vrm_expressions.bound_values(table, vrm_expressions.expression_weights(w))["Face"]
    np.testing.assert_allclose(values["smile"], [0.3, 1.0])
    np.testing.assert_allclose(values["eyes_happy"], [0.15, 0.5])
    np.testing.assert_allclose(values["mouth_a"], [0.7, 0.1])
    group = NS(preset_name="joy", binds=[NS(mesh=NS(mesh_object_name="Body"), index="Joy", weight=1.0)])
    arm0 = NS(data=NS(vrm_addon_extension=NS(spec_version="0.0", vrm0=NS(blend_shape_master=NS(
        blend_shape_groups=[group, NS(preset_name="unknown", binds=[])])))))
    assert vrm_expressions.binds(arm0) == {"happy": [("Body", "Joy", 1.0)]}
    assert vrm_expressions.binds(NS(data=NS())) == {}
    names = ["Face.M_F00_000_00_Fcl_EYE_Close", "Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "MTH_A", "Sorrow", "Basis2"]
    assert {vrm_expressions.expression_of(n) for n in names} == {"blink", "blinkLeft", "blinkRight", "aa", "sad", None}
    named = vrm_expressions.named_values(names, vrm_expressions.expression_weights(w))
    assert set(named) == {"Fcl_EYE_Close_L", "Fcl_EYE_Close_R", "MTH_A", "Sorrow"}


def test_face_onto_any_selected_mesh(capture):
    """A separate head mesh (not rigged) with ARKit shape keys in other spellings follows the captured face;
    bad input is one error line and changes nothing."""
    source, track = capture
    bpy.ops.mesh.primitive_cube_add()
    head = bpy.context.active_object
    head.shape_key_add(name="Basis")
    for name in ("JawOpen", "eye_blink_L", "ARKit.mouthSmileRight", "notAFaceShape"):
        head.shape_key_add(name=name)
    with pytest.raises(RuntimeError, match="has no captured face"):
        bpy.ops.tcmr.face_to_meshes(source=head.name)
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    with pytest.raises(RuntimeError, match="select the meshes"):
        bpy.ops.tcmr.face_to_meshes(source=source.name)
    assert head.data.shape_keys.animation_data is None
    head.select_set(True)
    assert bpy.ops.tcmr.face_to_meshes(source=source.name) == {"FINISHED"}
    blocks = head.data.shape_keys.key_blocks
    bpy.context.scene.frame_set(4)
    row = track.face_blendshapes[3]
    for key, arkit in (("JawOpen", "jawOpen"), ("eye_blink_L", "eyeBlinkLeft"),
                       ("ARKit.mouthSmileRight", "mouthSmileRight")):
        assert blocks[key].value == pytest.approx(row[ARKIT_BLENDSHAPE_NAMES.index(arkit)], abs=1e-5), key
    from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of

    paths = {fc.data_path for fc in channelbag_of(head.data.shape_keys).fcurves}
    assert paths == {f'key_blocks["{k}"].value' for k in ("JawOpen", "eye_blink_L", "ARKit.mouthSmileRight")}
