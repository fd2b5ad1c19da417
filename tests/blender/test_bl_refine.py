"""The refine stage in Blender: the upright world frame (camera pitch/roll/height, body on the floor, overlay
unchanged), ground plane and contact markers, re-refining from the raw output stored in the .blend (also
after saving and reopening), and failures that leave the scene untouched."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import motion_synth as ms  # noqa: E402

from tcmr_mocap.blender_addon.scene import raw_store  # noqa: E402
from tcmr_mocap.core import smpl  # noqa: E402
from tcmr_mocap.core.config import FootLockConfig, RefineConfig  # noqa: E402
from tcmr_mocap.core.motion.refine import refine_result  # noqa: E402

BETAS = np.zeros(10)
W, H_PX, F = 640, 480, 700.0


def capture_like(smpl_arrays, tmp_path, kind="walk", pitch=22.0, roll=4.0, seconds=4.0, name="walk.mp4"):
    """A raw camera-frame result of a procedural clip seen by a pitched, rolled camera (light jitter)."""
    c = ms.make_clip(kind, seconds=seconds)
    R, C = ms.camera_pose(pitch, roll)
    rc, tc = ms.to_camera(c["rotmat"], c["transl"], R, C, smpl.rest_joints(smpl_arrays, BETAS))
    rc, tc = ms.degrade(rc, tc, seed=2, jitter_deg=0.5, slide_m=0.01, R_cam_from_world=R)
    n = rc.shape[0]
    return H.make_result(smpl_arrays, {1: (rc, tc, np.arange(n), BETAS)}, video_path=str(tmp_path / name),
                         width=W, height=H_PX, focal_length_px=F), R, C


def project_opencv(points_cam):
    return np.stack([F * points_cam[..., 0] / points_cam[..., 2] + W / 2,
                     F * points_cam[..., 1] / points_cam[..., 2] + H_PX / 2], axis=-1)


def project_through(camera_obj, points_world):
    """Pixels of world points seen through a Blender camera object (its local -Z forward, +Y up)."""
    M = np.array(camera_obj.matrix_world)
    local = (points_world - M[:3, 3]) @ M[:3, :3]  # world -> camera object axes (orthonormal)
    return project_opencv(local * np.array([1.0, -1.0, -1.0]))  # -> OpenCV axes


def test_upright_result_places_camera_and_floor_and_keeps_the_overlay(scene, tmp_path, smpl_arrays):
    raw, R_true, C_true = capture_like(smpl_arrays, tmp_path)
    refined, report = refine_result(raw, RefineConfig())
    refined.save(tmp_path / "walk.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "walk.npz"), create_mesh=False) == {"FINISHED"}
    cam = bpy.data.objects["walk.mp4 · camera"]
    obj = bpy.data.objects["walk.mp4 · track 1"]
    # the camera's height and pitch are the capture's
    M = np.array(cam.matrix_world)
    assert M[2, 3] == pytest.approx(C_true[1], abs=0.05)
    forward = -M[:3, 2]
    assert np.degrees(np.arcsin(forward[2])) == pytest.approx(-22.0, abs=1.0)
    tr = refined.tracks[0]
    n = len(tr)
    frames = np.arange(1, n + 1)
    heads = H.bone_heads_world(obj, frames)
    # overlay: the joints seen through the placed camera land where the camera-frame joints project
    posed, _ = smpl.forward_kinematics(tr.rest_joints, tr.rotmat)
    cam_joints = posed + tr.transl_cam.astype(np.float64)[:, None]
    np.testing.assert_allclose(project_through(cam, heads), project_opencv(cam_joints), atol=0.05)  # pixels
    # the body stands on the level floor: the resting sole points (heel, ball or toe) at Z ≈ 0
    from tcmr_mocap.core.motion import soles

    posed, G = smpl.forward_kinematics(tr.rest_joints, tr.rotmat)
    S = soles.sole_points(posed + tr.transl_cam.astype(np.float64)[:, None], G,
                          soles.sole_offsets(tr.rest_joints, tr.v_shaped))
    z = (S @ refined.R_world_from_cam.T + refined.cam_position_world)[..., 2]  # (T, 6)
    lowest = np.minimum(np.minimum(z[:, [0, 1]], z[:, [2, 3]]), z[:, [4, 5]])  # (T, 2) left, right
    planted = tr.contact[:, :2] | tr.contact[:, 2:]
    assert np.abs(lowest[planted]).mean() < 0.015  # procedural feet pivot about joints, not soles: ~1 cm off
    # ground plane at Z = 0 under the feet; the raw output is stored in the collection
    ground = bpy.data.objects["walk.mp4 · ground"]
    zs = np.array([v.co.z for v in ground.data.vertices])
    np.testing.assert_allclose(zs, 0.0, atol=1e-6)
    coll = bpy.data.collections["TCMR · walk.mp4"]
    stored = raw_store.stored(coll)
    np.testing.assert_array_equal(stored.tracks[0].rotmat, raw.tracks[0].rotmat)
    assert "pitch" in raw_store.floor_summary(coll)


def test_refine_again_from_the_blend_with_other_options(scene, tmp_path, smpl_arrays):
    raw, _R, _C = capture_like(smpl_arrays, tmp_path)
    raw.save(tmp_path / "walk.npz")  # an unrefined (old-style) result: its own raw output
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "walk.npz"), create_mesh=True) == {"FINISHED"}
    assert "walk.mp4 · ground" not in bpy.data.objects  # camera frame: no floor yet
    settings = bpy.context.scene.tcmr_refine
    settings.live_update = False
    settings.show_contacts = True
    settings.use_fps = True
    settings.fps = 24.0
    # the file is gone and the .blend moves: the raw capture travels inside it
    (tmp_path / "walk.npz").unlink()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "moved.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "moved.blend"))
    settings = bpy.context.scene.tcmr_refine
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    scene = bpy.context.scene
    assert scene.render.fps == 24 and scene.frame_end == 96
    obj = bpy.data.objects["walk.mp4 · track 1"]
    frames, _ = H.fcurve_values(obj, 'pose.bones["pelvis"].location', 0)
    np.testing.assert_array_equal(frames, np.arange(1, 97))  # rows on 24 fps frames (t = 0 .. 3.96 s)
    assert "walk.mp4 · body 1" in bpy.data.objects and "walk.mp4 · ground" in bpy.data.objects
    markers = [o for o in bpy.data.objects if "· contact 1" in o.name]
    assert markers and all(abs(o.location.z) < 1e-6 for o in markers)
    # a marker is visible (scale 1) only during its contact
    m = markers[0]
    first, last = m["tcmr_contact_frames"]
    scene.frame_set(first)
    assert m.matrix_world.to_scale()[0] == pytest.approx(1.0)
    scene.frame_set(max(first - 2, 0))
    assert m.matrix_world.to_scale()[0] == pytest.approx(0.0, abs=1e-6)
    # again without the floor: back to the camera at the origin, one result only
    settings.upright = False
    settings.foot_lock = "never"
    settings.use_fps = False
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    cam = bpy.data.objects["walk.mp4 · camera"]
    np.testing.assert_allclose(np.array(cam.matrix_world)[:3, 3], 0.0, atol=1e-9)
    assert "walk.mp4 · ground" not in bpy.data.objects
    assert [c.name for c in bpy.data.collections if c.name.startswith("TCMR")] == ["TCMR · walk.mp4"]
    assert scene.render.fps == 30


def test_a_foot_resting_on_a_box_is_marked_where_it_rests(scene, tmp_path, smpl_arrays):
    """A person walks 4 s, then stands 1.5 s on a box 0.4 m high: the refine holds the feet on the box (a
    contact above the floor), and its contact markers sit on the box's top, the walk's on the floor."""
    rotmat, transl, _step = ms.onto_a_box_clip(0.4, walk_s=4.0, stand_s=1.5)
    R, C = ms.camera_pose(15.0, 3.0)
    rc, tc = ms.to_camera(rotmat, transl, R, C, smpl.rest_joints(smpl_arrays, BETAS))
    rc, tc = ms.degrade(rc, tc, seed=4, jitter_deg=0.5, slide_m=0.01, R_cam_from_world=R)
    n = rc.shape[0]
    raw = H.make_result(smpl_arrays, {1: (rc, tc, np.arange(n), BETAS)}, video_path=str(tmp_path / "box.mp4"),
                        width=W, height=H_PX, focal_length_px=F)
    raw.save(tmp_path / "box.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "box.npz"), create_mesh=False) == {"FINISHED"}
    settings = bpy.context.scene.tcmr_refine
    settings.live_update = False
    settings.show_contacts = True
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    markers = [o for o in bpy.data.objects if "box.mp4 · contact 1" in o.name]
    z = np.array([o.location.z for o in markers])
    on_box = [o for o in markers if o["tcmr_contact_frames"][0] > 4.0 * 30]
    assert on_box and all(abs(o.location.z - 0.4) < 0.03 for o in on_box), z
    assert (np.abs(z) < 1e-6).sum() >= 4  # the walk's steps, on the floor


def test_failed_refine_leaves_the_scene_unchanged(scene, tmp_path, smpl_arrays):
    raw, _R, _C = capture_like(smpl_arrays, tmp_path, kind="float", name="swim.mp4")
    raw.save(tmp_path / "swim.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "swim.npz"), create_mesh=False) == {"FINISHED"}
    settings = bpy.context.scene.tcmr_refine
    settings.live_update = False
    before = H.scene_snapshot()
    keys_before = H.fcurve_values(bpy.data.objects["swim.mp4 · track 1"], 'pose.bones["pelvis"].location', 2)[1]
    with pytest.raises(RuntimeError, match="floor could not be estimated"):
        bpy.ops.tcmr.refine()
    assert H.scene_snapshot() == before
    np.testing.assert_array_equal(
        H.fcurve_values(bpy.data.objects["swim.mp4 · track 1"], 'pose.bones["pelvis"].location', 2)[1], keys_before)
    error = bpy.context.window_manager.tcmr_job.last_error
    assert "floor could not be estimated" in error and "nothing was changed" in error
    assert "untick Level Floor and set Foot Lock to Never" in error and "\n" not in error  # what to do, here
    settings.upright = False
    settings.foot_lock = "never"
    assert bpy.ops.tcmr.refine() == {"FINISHED"}


def test_a_captures_refine_is_shown_not_repeated(scene, tmp_path, smpl_arrays):
    """A capture's file comes refined by the core with the refine panel's options: its import keeps that refine
    (no second one), stores the raw output, and the panel shows the floor's confidence and the warnings."""
    from test_bl_ui import Layout
    from tcmr_mocap.blender_addon.refine.settings import display_options
    from tcmr_mocap.blender_addon.scene import builder

    raw, _R, _C = capture_like(smpl_arrays, tmp_path)
    config = dataclasses.replace(RefineConfig(), foot_lock=FootLockConfig(mode="ground"))
    refined, report = refine_result(raw, config)
    refined.meta["refine"]["warnings"] = ["the floor was estimated with low confidence: (a test)"]
    refined.save(tmp_path / "walk.npz")
    s = bpy.context.scene.tcmr_refine
    s.live_update = False
    extras = display_options(bpy.context)
    assert "refine" not in extras
    result = builder.import_file(bpy.context, str(tmp_path / "walk.npz"),
                                 builder.BuildOptions(create_mesh=False, **extras))
    assert "the floor was estimated with low confidence: (a test)" in result.warnings
    info = raw_store.info(result.collection)
    assert info["options"]["foot_lock"]["mode"] == "ground" and info["floor"] == report.floor.as_dict()
    obj = bpy.data.objects["walk.mp4 · track 1"]
    _, pelvis_z = H.fcurve_values(obj, 'pose.bones["pelvis"].location', 2)
    _, again_z = H.fcurve_values(obj, 'pose.bones["pelvis"].location', 2)
    np.testing.assert_array_equal(pelvis_z, again_z)
    layout = Layout()
    bpy.types.TCMR_PT_refine.draw(SimpleNamespace(layout=layout), bpy.context)
    text = layout.text()
    assert f"confidence {report.floor.confidence}" in text and "resting sole points" in text
    assert "low confidence: (a test)" in text
    np.testing.assert_array_equal(raw_store.stored(result.collection).tracks[0].rotmat, raw.tracks[0].rotmat)


def test_refine_again_keeps_the_current_frame(scene, tmp_path, smpl_arrays):
    raw, _R, _C = capture_like(smpl_arrays, tmp_path)
    raw.save(tmp_path / "walk.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "walk.npz"), create_mesh=False) == {"FINISHED"}
    bpy.context.scene.tcmr_refine.live_update = False
    bpy.context.scene.frame_set(37)
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    assert bpy.context.scene.frame_current == 37
    # a shorter range (24 fps rows): the current frame stays, clamped into the new range
    scene = bpy.context.scene
    scene.frame_set(scene.frame_end - 2)
    scene.tcmr_refine.use_fps, scene.tcmr_refine.fps = True, 24.0
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    assert scene.frame_end == 96 and scene.frame_current == 96


def test_refine_panel_is_registered(scene):
    panel = bpy.types.TCMR_PT_refine
    assert panel.bl_parent_id == "TCMR_PT_mocap"
    s = bpy.context.scene.tcmr_refine
    assert (s.foot_lock, s.smoothing, s.upright) == ("auto", "adaptive", True)  # core/config.py defaults
    from tcmr_mocap.core.extremities.calibration import FACE_CALIBRATIONS

    assert s.face_calibration == RefineConfig().extremities.face_calibration == "standard"
    assert tuple(i.identifier for i in s.bl_rna.properties["face_calibration"].enum_items) == FACE_CALIBRATIONS
    assert not bpy.ops.tcmr.refine.poll()  # nothing to refine in an empty scene


def test_refine_config_from_the_panel(scene):
    from tcmr_mocap.blender_addon.refine.settings import refine_config

    s = bpy.context.scene.tcmr_refine
    s.live_update = False
    s.smoothing, s.window, s.use_fps, s.fps = "slerp-average", 6, True, 25.0
    cfg = refine_config(s)
    assert cfg == dataclasses.replace(RefineConfig(), smoothing="slerp-average", average_window=7, fps=25.0,
                                      foot_lock=FootLockConfig())
    s.face_calibration = "none"  # what a capture passes on (core/motion/cli.refine_argv) and Refine Again uses
    assert refine_config(s).extremities.face_calibration == "none"


def test_live_update_rebuilds_after_a_change(scene, tmp_path, smpl_arrays):
    from tcmr_mocap.blender_addon.refine import props as refine_props

    raw, _R, _C = capture_like(smpl_arrays, tmp_path)
    raw.save(tmp_path / "walk.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "walk.npz"), create_mesh=False) == {"FINISHED"}
    s = bpy.context.scene.tcmr_refine
    s.live_update = True
    refine_props._pending["scheduled"] = False
    s.use_fps = True  # schedules one deferred refine (timers do not run in background mode: call it)
    s.fps = 25.0  # ... combined with this change
    assert refine_props._pending["scheduled"]
    refine_props._deferred_refine()
    assert not refine_props._pending["scheduled"]
    assert bpy.context.scene.render.fps == 25 and bpy.context.window_manager.tcmr_job.last_error == ""
    s.live_update = False



def test_converted_mocap_imports_without_footage_and_refines_in_place(scene, tmp_path, real_file):
    """Motion files turned into results by core.formats name no video: each import is its own result named
    after its source file (no footage warning, no background), and Refine Again replaces only its own."""
    from tcmr_mocap.core.formats.to_smpl import retarget_file

    for name in ("cmu_01_01", "deepmimic_walk"):
        retarget_file(real_file(name), fps=30.0).to_result().save(tmp_path / f"{name}.npz")
        result = bpy.ops.tcmr.import_motion(filepath=str(tmp_path / f"{name}.npz"), create_mesh=False)
        assert result == {"FINISHED"}
    names = sorted(c.name for c in bpy.data.collections if c.name.startswith("TCMR"))
    assert names == ["TCMR · 01_01.bvh", "TCMR · humanoid3d_walk.txt"]
    assert bpy.context.window_manager.tcmr_job.last_error == ""
    for cam in (o for o in bpy.data.objects if o.type == "CAMERA"):
        assert not any(bg.clip for bg in cam.data.background_images)
    assert not bpy.data.movieclips  # the .bvh / .txt were never loaded as footage
    bpy.context.scene.tcmr_refine.live_update = False
    bpy.context.scene.tcmr_refine.smoothing = "none"
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    assert sorted(c.name for c in bpy.data.collections if c.name.startswith("TCMR")) == names
