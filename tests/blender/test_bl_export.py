"""Export of a captured or retargeted action (FBX for Unity/Unreal/Maya, glTF/GLB, BVH) and round trips:
re-import each file and compare bone world positions over the frames."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import rigs  # noqa: E402
from tcmr_mocap.blender_addon.export import exporter  # noqa: E402
from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of  # noqa: E402

N_FRAMES = 60
TOL_M = 1e-3


@pytest.fixture
def retargeted(scene, tmp_path, smpl_arrays):
    source = rigs.build_source(bpy.context, tmp_path, smpl_arrays, N_FRAMES)
    target = rigs.build_rig(bpy.context, "mixamo", name="hero")  # FBX-like: rotated, 0.01 scale, cm
    assert bpy.ops.tcmr.retarget(source=source.name, target=target.name) == {"FINISHED"}
    return source, target


def reimport(path, fmt):
    before = set(bpy.data.objects)
    actions_before = set(bpy.data.actions)
    if fmt == "FBX":
        bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)
    elif fmt == "GLTF":
        bpy.ops.import_scene.gltf(filepath=str(path))
    else:
        bpy.ops.import_anim.bvh(filepath=str(path), axis_forward="Y", axis_up="Z", rotate_mode="NATIVE")
    new = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    assert len(new) == 1
    return new[0], [a for a in bpy.data.actions if a not in actions_before]


def heads(obj, names, frames, space="world"):
    P = rigs.posed_heads(obj, names, frames)
    if space == "armature":
        inv = np.linalg.inv(np.array(obj.matrix_world))
        P = P @ inv[:3, :3].T + inv[:3, 3]
    return P


@pytest.mark.parametrize("preset", ["UNITY", "UNREAL", "MAYA"])
def test_fbx_round_trip(retargeted, tmp_path, preset):
    source, target = retargeted
    other = target.animation_data.action.copy()  # a second action on the file's rig must not be exported
    other.name = "unrelated take"
    path = tmp_path / f"hero_{preset}.fbx"
    assert exporter.export_action(bpy.context, target, str(path), "FBX", preset=preset) == str(path)
    assert target.animation_data.action.name.endswith("· hero")  # restored
    new, actions = reimport(path, "FBX")
    assert len(actions) == 1  # that action only
    names = [b.name for b in target.data.bones]
    assert sorted(b.name for b in new.data.bones) == sorted(names)  # no leaf bones added
    frames = np.arange(1, N_FRAMES + 1, 7)
    err = np.abs(heads(target, names, frames) - heads(new, names, frames)).max()
    assert err < TOL_M, err
    assert tuple(round(v) for v in actions[0].frame_range) == (1, N_FRAMES)


def test_gltf_round_trip(retargeted, tmp_path):
    _, target = retargeted
    path = tmp_path / "hero.glb"
    assert bpy.ops.tcmr.export_action(filepath=str(path), armature=target.name, format="GLTF") == {"FINISHED"}
    new, actions = reimport(path, "GLTF")
    names = [b.name for b in target.data.bones]
    frames = np.arange(1, N_FRAMES + 1, 7)
    err = np.abs(heads(target, names, frames) - heads(new, names, frames)).max()
    assert err < TOL_M, err


def test_bvh_round_trip(retargeted, tmp_path):
    """BVH holds the skeleton in the armature's own space (no object transform), one root."""
    source, target = retargeted
    path = tmp_path / "walk.bvh"
    assert exporter.export_action(bpy.context, source, str(path), "BVH") == str(path)
    new, _ = reimport(path, "BVH")
    names = [b.name for b in source.data.bones]
    frames = np.arange(1, N_FRAMES + 1, 7)
    err = np.abs(heads(source, names, frames, "armature") - heads(new, names, frames, "armature")).max()
    assert err < TOL_M, err
    path2 = tmp_path / "hero.bvh"
    exporter.export_action(bpy.context, target, str(path2), "BVH")
    new2, _ = reimport(path2, "BVH")
    names = [b.name for b in target.data.bones]
    err = np.abs(heads(target, names, frames, "armature") - heads(new2, names, frames, "armature")).max()
    assert err < 100 * TOL_M, err  # the rig's data is in centimetres


def test_frame_range_and_fps(retargeted, tmp_path):
    _, target = retargeted
    scene = bpy.context.scene
    assert (scene.render.fps, scene.render.fps_base) == (30, 1.0)
    path = tmp_path / "part.fbx"
    exporter.export_action(bpy.context, target, str(path), "FBX", frame_start=11, frame_end=40)
    new, actions = reimport(path, "FBX")
    assert tuple(round(v) for v in actions[0].frame_range) == (11, 40)
    names = [b.name for b in target.data.bones]
    frames = np.arange(11, 41, 3)
    assert np.abs(heads(target, names, frames) - heads(new, names, frames)).max() < TOL_M
    # 15 fps: half the keys, the same timing (imported back into the 30 fps scene)
    path = tmp_path / "half.fbx"
    exporter.export_action(bpy.context, target, str(path), "FBX", fps=15.0)
    assert (scene.render.fps, scene.render.fps_base) == (30, 1.0)  # restored
    assert len(bpy.data.actions) == len({a.name for a in bpy.data.actions})
    assert not any(a.name.endswith("(export)") for a in bpy.data.actions)
    new, actions = reimport(path, "FBX")
    bag = channelbag_of(new)
    counts = {len(fc.keyframe_points) for fc in bag.fcurves}
    assert max(counts) == N_FRAMES // 2
    # the file's frame k (at 15 fps, time (k - 1) / 15) is the scene's frame 1 + 2 (k - 1) (at 30 fps)
    frames = np.arange(1, N_FRAMES, 6)
    file_frames = 1 + (frames - 1) // 2
    assert np.abs(heads(target, names, frames) - heads(new, names, file_frames)).max() < TOL_M


def test_fractional_frame_rate_stays_exact(scene, tmp_path, smpl_arrays):
    """Issue 24 (11): a 29.83 fps capture runs in a 30 / 1.0057 scene; its GLB played at 30.17 fps (Blender's
    exporter multiplies where it should divide). The scene, the GLB/glTF sampler times and the FBX time all keep
    29.83 fps: key k at k / 29.83 s."""
    import json

    import blender_helpers as H
    import fbx_binary
    from tcmr_mocap.blender_addon.scene import builder

    fps, n = 29.83, 30
    R, transl = H.to_camera_frame(*H.procedural_motion(n))
    H.make_result(smpl_arrays, {1: (R, transl, np.arange(n), np.zeros(10))}, fps=fps).save(tmp_path / "tennis.npz")
    builder.import_file(bpy.context, str(tmp_path / "tennis.npz"),
                        builder.BuildOptions(create_mesh=False, set_scene=True))
    assert scene.render.fps / scene.render.fps_base == pytest.approx(fps, rel=1e-6)
    arm = bpy.context.view_layer.objects.active
    for name in ("tennis.glb", "tennis.gltf"):
        exporter.export_action(bpy.context, arm, str(tmp_path / name), "GLTF")
        doc = (json.loads((tmp_path / name).read_text()) if name.endswith(".gltf") else
               glb_json(tmp_path / name))
        accessor = doc["accessors"][doc["animations"][0]["samplers"][0]["input"]]
        assert accessor["count"] == n
        duration = accessor["max"][0] - accessor["min"][0]
        assert duration == pytest.approx((n - 1) / fps, rel=1e-5), (name, duration)  # not (n - 1) / 30.17
    exporter.export_action(bpy.context, arm, str(tmp_path / "tennis.fbx"), "FBX")
    nodes = fbx_binary.read_nodes(tmp_path / "tennis.fbx")
    assert fbx_binary.global_setting(nodes, b"TimeMode") == 14  # custom rate ...
    assert fbx_binary.global_setting(nodes, b"CustomFrameRate") == pytest.approx(fps, rel=1e-6)  # ... of 29.83
    keys = np.array(fbx_binary.key_times_s(nodes)[0]) * fps  # in frames of 29.83 fps: whole numbers
    np.testing.assert_allclose(keys, np.round(keys), atol=1e-4)
    assert np.diff(np.round(keys)).tolist() == [1.0] * (n - 1)


def glb_json(path) -> dict:
    import json
    import struct

    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20:20 + length])


def _state(target):
    s = bpy.context.scene
    return (sorted(o.name for o in bpy.data.objects), sorted(a.name for a in bpy.data.actions),
            target.animation_data.action.name, s.frame_start, s.frame_end, s.frame_current, s.render.fps)


@pytest.mark.parametrize("where", ["missing_folder", "a_folder"])
def test_unwritable_path(retargeted, tmp_path, where):
    _, target = retargeted
    path = tmp_path / "nowhere" / "hero.fbx" if where == "missing_folder" else tmp_path
    before = _state(target)
    with pytest.raises(RuntimeError, match="cannot write"):
        bpy.ops.tcmr.export_action(filepath=str(path), armature=target.name, format="FBX")
    assert bpy.context.window_manager.tcmr_job.last_error.startswith("cannot write")
    assert _state(target) == before
    assert not (tmp_path / "nowhere").exists()


def test_extension_follows_the_format(retargeted, tmp_path):
    _, target = retargeted
    written = exporter.export_action(bpy.context, target, str(tmp_path / "take"), "GLTF")
    assert written == str(tmp_path / "take.glb") and (tmp_path / "take.glb").is_file()
    assert exporter.export_action(bpy.context, target, str(tmp_path / "take.bvh"), "BVH").endswith("take.bvh")
    with pytest.raises(exporter.ExportError, match="no export file"):
        exporter.export_action(bpy.context, target, "", "FBX")


def test_export_needs_an_animated_armature(scene):
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(RuntimeError, match="needs an armature"):
        bpy.ops.tcmr.export_action(filepath="/tmp/x.fbx", armature=bpy.context.active_object.name)
    rig = rigs.build_rig(bpy.context, "vrm")
    with pytest.raises(RuntimeError, match="no action"):
        bpy.ops.tcmr.export_action(filepath="/tmp/x.fbx", armature=rig.name)


# ------------------------------------------------------------------------------------------ fingers and face
@pytest.fixture
def fingered(scene, tmp_path, smpl_arrays):
    """A capture with fingers and a face (a walk, 20 frames)."""
    from extremity_motion import import_capture

    return import_capture(tmp_path, smpl_arrays, N_FINGER_FRAMES)


N_FINGER_FRAMES = 20


def joint_turns(obj, names, frames) -> np.ndarray:
    """(T, K) degrees: how far each bone has turned relative to its parent since the first frame. Independent of
    the rest axes an importer gives a bone (a fixed rest change per bone conjugates this rotation: same angle)."""
    scene = bpy.context.scene
    rel = np.empty((len(frames), len(names), 3, 3))
    for i, f in enumerate(frames):
        scene.frame_set(int(f))
        for k, n in enumerate(names):
            pb = obj.pose.bones[n]
            M = np.array(pb.parent.matrix)[:3, :3].T @ np.array(pb.matrix)[:3, :3]
            rel[i, k] = M / np.cbrt(np.linalg.det(M))
    change = rel @ np.swapaxes(rel[:1], -1, -2)
    cos = (np.trace(change, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("fmt", ["FBX", "GLTF", "BVH"])
def test_fingers_round_trip(fingered, tmp_path, fmt):
    """Every finger joint's motion survives: the finger bones' heads (world, or armature space for BVH) and how
    far each of the 30 bones turns relative to its parent, frame by frame, match after re-import."""
    from tcmr_mocap.blender_addon.scene.pose_keys import FINGER_BONE_NAMES

    obj, _ = fingered
    path = tmp_path / f"talk.{ {'FBX': 'fbx', 'GLTF': 'glb', 'BVH': 'bvh'}[fmt]}"
    exporter.export_action(bpy.context, obj, str(path), fmt)
    new, _ = reimport(path, fmt)
    names = list(FINGER_BONE_NAMES)
    assert set(names) <= {b.name for b in new.data.bones}
    space = "armature" if fmt == "BVH" else "world"
    frames = np.arange(1, N_FINGER_FRAMES + 1, 3)
    err = np.abs(heads(obj, names, frames, space) - heads(new, names, frames, space)).max()
    assert err < TOL_M, err
    want = joint_turns(obj, names, frames)
    assert want.max() > 30  # (the fingers move)
    err = np.abs(joint_turns(new, names, frames) - want).max()
    assert err < 0.1, err


@pytest.mark.parametrize("fmt", ["FBX", "GLTF"])
def test_shape_key_animation_round_trip(scene, tmp_path, smpl_arrays, arkit_character, fmt):
    """A capture's face retargeted onto the MakeHuman character's ARKit shape keys: the exported file, read
    back, animates the same shape keys with the same values on every frame."""
    import real_rigs
    from extremity_motion import import_capture

    from tcmr_mocap.blender_addon.retarget import bake
    from tcmr_mocap.core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

    n = 12
    source, track = import_capture(tmp_path, smpl_arrays, n, "face", still=True)
    target = real_rigs.load(bpy.context, arkit_character)["mh"]
    bake.retarget(bpy.context, source, target)
    path = tmp_path / f"mh.{'fbx' if fmt == 'FBX' else 'glb'}"
    exporter.export_action(bpy.context, target, str(path), fmt)
    before = set(bpy.data.objects)
    reimport(path, fmt)
    body = next(o for o in bpy.data.objects if o not in before and o.type == "MESH" and o.data.shape_keys)
    blocks = body.data.shape_keys.key_blocks
    got = np.zeros((n, 52))
    for f in range(n):
        scene.frame_set(f + 1)
        got[f] = [blocks[name].value for name in ARKIT_BLENDSHAPE_NAMES]
    np.testing.assert_allclose(got, track.face_blendshapes, atol=2e-3)


def test_arkit_csv(fingered, tmp_path):
    """The face as Live Link Face's CSV: its header word for word, 61 columns counted, one row per frame with
    the captured weights in the app's column order; at another frame rate the rows sample the same curves."""
    import csv

    from tcmr_mocap.core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

    obj, track = fingered
    path = tmp_path / "face.csv"
    assert bpy.ops.tcmr.export_action(filepath=str(tmp_path / "face"), armature=obj.name, format="CSV") == {"FINISHED"}
    rows = list(csv.reader(path.open()))
    assert rows[0][:4] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "EyeLookDownLeft"]
    assert rows[0][-9:] == ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                            "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    assert len(rows[0]) == 63 and len(rows) == N_FINGER_FRAMES + 1
    assert [r[0] for r in rows[1:4]] == ["00:00:00:00.000", "00:00:00:01.000", "00:00:00:02.000"]
    assert all(r[1] == "61" for r in rows[1:])
    column = {name.lower(): i for i, name in enumerate(rows[0])}
    got = np.array([[float(r[column[n.lower()]]) for n in ARKIT_BLENDSHAPE_NAMES] for r in rows[1:]])
    np.testing.assert_allclose(got, track.face_blendshapes, atol=1e-6)
    half = exporter.export_action(bpy.context, obj, str(tmp_path / "half.csv"), "CSV", fps=15.0)
    rows = list(csv.reader(open(half)))
    assert len(rows) == N_FINGER_FRAMES // 2 + 1 and rows[2][0] == "00:00:00:01.000"
    got = np.array([[float(r[column[n.lower()]]) for n in ARKIT_BLENDSHAPE_NAMES] for r in rows[1:]])
    np.testing.assert_allclose(got, track.face_blendshapes[::2], atol=1e-6)  # 15 fps: every 2nd frame at 30


def test_arkit_csv_needs_a_face(retargeted, tmp_path):
    _, target = retargeted
    with pytest.raises(RuntimeError, match="no captured face"):
        bpy.ops.tcmr.export_action(filepath=str(tmp_path / "x.csv"), armature=target.name, format="CSV")
    assert not (tmp_path / "x.csv").exists()
