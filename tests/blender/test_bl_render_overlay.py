"""What a scene over its footage shows (issue 24, items 4, 5, 10): no ghost bodies of people who are not (or no
longer) in the video, a ground plane that never covers the footage in a render, and the main person (the
longest track) as the active armature, the one exports take."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import motion_synth as ms  # noqa: E402

W, HGT, F = 320, 240, 400.0


def body_mask(rgb: np.ndarray) -> np.ndarray:
    """Workbench's light-blue body (the footage here is grey, red-brown and skin-coloured)."""
    return (rgb[..., 2] - rgb[..., 0]) > 0.12


def three_people(tmp_path, smpl_arrays):
    """A 40-frame clip: track 1 on every frame (centre), track 2 only from frame 25 (right), track 3 only up to
    frame 14 (left)."""
    from tcmr_mocap.blender_addon.scene import builder

    video = H.write_video(tmp_path / "street.mp4", n_frames=40)
    R, transl = H.procedural_motion(40)
    R_cam, t_cam = H.to_camera_frame(R, transl, depth=6.0)
    rows = {1: np.arange(40), 2: np.arange(25, 40), 3: np.arange(0, 15)}
    shift = {1: 0.0, 2: 1.6, 3: -1.6}
    tracks = {tid: (R_cam[ids], t_cam[ids] + [shift[tid], 0.0, 0.0], ids, np.zeros(10)) for tid, ids in rows.items()}
    result = H.make_result(smpl_arrays, tracks, video_path=str(video), width=W, height=HGT, focal_length_px=F,
                           num_frames=40)
    result.save(str(tmp_path / "street.npz"))
    return builder.import_file(bpy.context, str(tmp_path / "street.npz"),
                               builder.BuildOptions(create_mesh=True, set_scene=True))


def test_people_are_hidden_outside_their_frames(scene, tmp_path, smpl_arrays):
    """Issue 24 (4): bodies of tracks that had not started or had ended stood frozen in the scene and the renders."""
    from tcmr_mocap.blender_addon.render import overlay

    three_people(tmp_path, smpl_arrays)
    body = {tid: bpy.data.objects[f"street.mp4 · body {tid}"] for tid in (1, 2, 3)}
    arm = {tid: bpy.data.objects[f"street.mp4 · track {tid}"] for tid in (1, 2, 3)}
    visible = {1: range(1, 41), 2: range(26, 41), 3: range(1, 16)}  # scene frames (video frame + 1)
    for frame in (1, 15, 16, 25, 26, 40):
        scene.frame_set(frame)
        for tid in (1, 2, 3):
            shown = frame in visible[tid]
            for obj in (body[tid], arm[tid]):
                assert obj.hide_viewport is not shown and obj.hide_render is not shown, (frame, obj.name)
    # the motion's own frame range is unchanged by the visibility keys (exports and retargeting use it)
    assert tuple(arm[2].animation_data.action.frame_range) == (26.0, 40.0)
    assert tuple(arm[1].animation_data.action.frame_range) == (1.0, 40.0)
    # in a render: the right-hand person appears only once the track starts, the left-hand one goes when it ends
    masks = {}
    for frame in (10, 30):
        overlay.setup_overlay(scene, str(tmp_path / f"f{frame}.png"), frames=(frame, frame))
        (path,) = overlay.render(scene)
        masks[frame] = body_mask(H.png_rgb(path))
    for frame, m in masks.items():
        assert m[:, W // 3:2 * W // 3].sum() > 200, frame  # track 1, always there
        assert bool(m[:, 2 * W // 3:].sum() > 200) is (frame in visible[2]), frame
        assert bool(m[:, :W // 3].sum() > 200) is (frame in visible[3]), frame


def test_longest_track_is_the_active_armature(scene, tmp_path, smpl_arrays):
    """Issue 24 (10): the first track by id was taken for exports (a 31-frame bystander instead of the dancer)."""
    result = three_people(tmp_path, smpl_arrays)
    assert bpy.context.view_layer.objects.active.name == "street.mp4 · track 1" == result.longest.name
    assert result.rows == [40, 15, 15]


def upright_walk(tmp_path, smpl_arrays):
    """A refined (upright: level floor, ground plane) walk seen from a camera 22° down, with its footage."""
    from tcmr_mocap.blender_addon.scene import builder
    from tcmr_mocap.core import smpl
    from tcmr_mocap.core.config import RefineConfig
    from tcmr_mocap.core.motion.refine import refine_result

    c = ms.make_clip("walk", seconds=2.0)
    R, C = ms.camera_pose(22.0, 3.0)
    rc, tc = ms.to_camera(c["rotmat"], c["transl"], R, C, smpl.rest_joints(smpl_arrays, np.zeros(10)))
    n = rc.shape[0]
    video = H.write_video(tmp_path / "walk.mp4", n_frames=n, width=W, height=HGT)
    raw = H.make_result(smpl_arrays, {1: (rc, tc, np.arange(n), np.zeros(10))}, video_path=str(video),
                        width=W, height=HGT, focal_length_px=F)
    refined, _ = refine_result(raw, RefineConfig())
    refined.save(str(tmp_path / "walk.npz"))
    builder.import_file(bpy.context, str(tmp_path / "walk.npz"),
                        builder.BuildOptions(create_mesh=True, set_scene=True, show_ground=True))
    assert "walk.mp4 · ground" in bpy.data.objects
    return video


@pytest.mark.parametrize("engine", ["workbench", "cycles"])
def test_ground_plane_never_covers_the_footage(scene, tmp_path, smpl_arrays, engine):
    """Issue 24 (5): the ground plane rendered as an opaque band over the footage (Workbench ignores holdout
    materials). With the body hidden, a render is the footage, floor region included."""
    from tcmr_mocap.blender_addon.render import overlay

    video = upright_walk(tmp_path, smpl_arrays)
    bodies = tuple(o for o in scene.objects if o.type == "MESH" and "· body" in o.name)
    overlay.setup_overlay(scene, str(tmp_path / "g.png"), engine=engine, frames=(20, 20), hide=bodies, samples=1)
    (path,) = overlay.render(scene)
    rgb, footage = H.png_rgb(path), H.video_frames_rgb(video)[19]
    assert np.abs(rgb - footage).mean() < 0.02
    assert np.abs(rgb - footage)[HGT // 2:].max(axis=2).mean() < 0.03  # the lower half, where the floor is
