"""blender_addon.scene.footage: the scene shows, at every frame, the very video frame the capture used for it, for
constant-rate, variable-rate and odd-time-base videos (issue 24, item 1).

Videos of each kind are made from one OpenCV-written MP4 with the same pixels and new container timing
(tests/mp4_timing.py rewrites ``stts``/``mdhd``): a variable frame rate with 50 ms gaps (Blender's reader then
numbers frames on a 60 fps grid: twice the frames, the footage at half speed under the body, as on a phone clip)
and a 90 kHz time base whose first frame lasts two frame times (stream rate 30 fps, average 29.3: every later
frame one off in Blender's numbering). The check renders the footage through the scene camera
(the compositor, as ``--render`` does) and identifies which decoded frame each render shows; the oracle is OpenCV's
sequential decode, i.e. what the capture counts as video frame ``k - 1`` for scene frame ``k``."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
import mp4_timing  # noqa: E402

N, W, HGT = 40, 320, 240
KINDS = {  # name -> (sample durations, time scale), None: the file as OpenCV wrote it (30 fps, time scale 15360)
    "constant": None,
    "variable": ([768 if k % 7 == 6 else 512 for k in range(N)], 15360),
    "odd-time-base": ([6000] + [3000] * (N - 1), 90000),  # 90 kHz, 30 fps after a 67 ms first frame
}


def capture_like(tmp_path, smpl_arrays, video, n: int, width: int, height: int, frame_ids=None):
    """A result for ``video`` with the frame rate and timestamps a capture records (core.capture.video's reading)."""
    fps, timestamps = H.video_timing(video)
    assert timestamps.shape[0] == n
    ids = np.arange(n) if frame_ids is None else np.asarray(frame_ids)
    R, transl = H.procedural_motion(len(ids))
    R_cam, t_cam = H.to_camera_frame(R, transl, depth=5.0)
    result = H.make_result(smpl_arrays, {1: (R_cam, t_cam, ids, np.zeros(10))}, video_path=str(video), fps=fps,
                           width=width, height=height, num_frames=n)
    result.timestamps_s = timestamps
    result.meta["timestamps_decoded_frames"] = n
    path = tmp_path / "capture.npz"
    result.save(str(path))
    return path


def build(path, tmp_path):
    from tcmr_mocap.blender_addon.scene import builder

    return builder.import_file(bpy.context, str(path), builder.BuildOptions(
        create_mesh=False, set_scene=True, footage_dir=str(tmp_path / "footage"), python=H.runtime_python()))


def rendered_footage(scene, tmp_path, frames) -> list:
    """Render the footage alone (nothing else renders: the armature never does) at scene ``frames``."""
    from tcmr_mocap.blender_addon.render import overlay

    out = []
    for k in frames:
        overlay.setup_overlay(scene, str(tmp_path / f"f{k}.png"), frames=(k, k))
        (path,) = overlay.render(scene)
        out.append(H.png_rgb(path))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_scene_frame_shows_the_captured_frame(scene, tmp_path, smpl_arrays, kind):
    from tcmr_mocap.blender_addon.render import overlay

    video = H.write_counter_video(tmp_path / "cfr.mp4", n_frames=N, width=W, height=HGT)
    if KINDS[kind] is not None:
        durations, timescale = KINDS[kind]
        mp4_timing.retime(video, tmp_path / f"{kind}.mp4", durations, timescale)
        video = tmp_path / f"{kind}.mp4"
    result = build(capture_like(tmp_path, smpl_arrays, video, N, W, HGT), tmp_path)
    assert not result.warnings, result.warnings
    clip = overlay.footage_clip(scene)
    # the movie itself where Blender reads it as the capture does; the capture's own frames where it does not
    assert clip.source == ("MOVIE" if kind == "constant" else "SEQUENCE"), (kind, clip.source, clip.filepath)
    assert scene.camera.data.background_images[0].clip == clip  # the viewport shows the same clip
    assert (scene.frame_start, scene.frame_end) == (1, N)
    decoded = H.video_frames_rgb(video)  # (N, H, W, 3): frame k - 1 is what the keys of scene frame k belong to
    frames = list(range(1, N + 1))
    for k, rgb in zip(frames, rendered_footage(scene, tmp_path, frames)):
        off = np.abs(decoded - rgb[None]).mean(axis=(1, 2, 3))  # (N,)
        assert int(off.argmin()) == k - 1 and off[k - 1] < 0.02, (kind, k, int(off.argmin()), off[k - 1])


def test_real_phone_like_clip_in_sync(scene, tmp_path, smpl_arrays, real_file):
    """Real footage (Sports2D demo, 1768×994 H.264, two people walking) given a phone-like variable frame rate: the
    same pixels, a 50 ms gap every 7 frames. Blender alone reads it as 60 fps with 492 frames; the scene shows each
    captured frame where its keys are (compared where the people move, so a neighbouring frame would stand out)."""
    from tcmr_mocap.blender_addon.render import overlay

    video = tmp_path / "sports2d_vfr.mp4"
    mp4_timing.retime(real_file("sports2d_demo"), video, [768 if k % 7 == 6 else 512 for k in range(230)])
    clip = bpy.data.movieclips.load(str(video))
    assert (round(clip.fps), clip.frame_duration) == (60, 492)  # Blender's own reading: the bug's premise
    bpy.data.movieclips.remove(clip)
    rows = np.arange(60, 200)  # a capture of the middle: the footage covers the captured frames
    result = build(capture_like(tmp_path, smpl_arrays, video, 230, 1768, 994, frame_ids=rows), tmp_path)
    assert not result.warnings, result.warnings
    assert overlay.footage_clip(scene).source == "SEQUENCE"
    decoded = H.video_frames_rgb(video)
    for k, rgb in zip((61, 67, 68, 69, 150, 200), rendered_footage(scene, tmp_path, (61, 67, 68, 69, 150, 200))):
        moving = np.abs(decoded[k - 2] - decoded[k]).max(axis=2) > 0.1  # where the frame around differs
        off = {j: float(np.abs(decoded[j] - rgb)[moving].mean()) for j in (k - 2, k - 1, k)}
        assert off[k - 1] < 0.5 * min(off[k - 2], off[k]), (k, off)


def test_refine_again_keeps_the_captured_frames(scene, tmp_path, smpl_arrays):
    """Refine Again rebuilds the scene from the footage the camera shows: for a sequence that is a frame file,
    which stands for its video (footage.source_video), so the same frames come back, not a movie or nothing."""
    from tcmr_mocap.blender_addon.render import overlay
    from tcmr_mocap.blender_addon.refine import ops as refine_ops

    video = H.write_counter_video(tmp_path / "cfr.mp4", n_frames=N, width=W, height=HGT)
    mp4_timing.retime(video, tmp_path / "vfr.mp4", *KINDS["variable"])
    build(capture_like(tmp_path, smpl_arrays, tmp_path / "vfr.mp4", N, W, HGT), tmp_path)
    before = overlay.footage_clip(scene)
    assert before.source == "SEQUENCE"
    settings = scene.tcmr_refine
    settings.live_update = False
    settings.foot_lock, settings.upright, settings.smoothing = "never", False, "none"  # (no floor in this motion)
    result = refine_ops.refine_target(bpy.context)
    assert not [w for w in result.warnings if "footage" in w], result.warnings
    after = overlay.footage_clip(scene)
    assert after.source == "SEQUENCE" and after.filepath == before.filepath and after.frame_start == 1
