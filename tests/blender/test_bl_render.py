"""blender_addon/render/overlay.py: the captured body rendered over its footage through the matched camera. The
check is geometric: the body's pixels lie where the capture's joints project with the core's pinhole camera
(u = f·X/Z + W/2, v = f·Y/Z + H/2), and the rest of the frame is the video frame the keys belong to."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

W, HGT, F = 320, 240, 400.0
TORSO = [0, 1, 2, 3, 6, 9, 12, 13, 14, 16, 17]  # pelvis, hips, spine, neck, collars, shoulders


def body_mask(rgb: np.ndarray) -> np.ndarray:
    """Workbench's light-blue body: blue well above red (footage here is grey, red-brown and skin-coloured)."""
    return (rgb[..., 2] - rgb[..., 0]) > 0.12


def projected_joints(track, row: int, scale: float = 1.0) -> np.ndarray:
    """(24, 2) pixel positions of the capture's joints in frame ``row`` with the core's camera model."""
    from tcmr_mocap.core import smpl

    posed, _ = smpl.forward_kinematics(track.rest_joints, track.rotmat[row:row + 1])
    cam = posed[0] + track.transl_cam[row]  # OpenCV camera frame: x right, y down, z forward
    return scale * np.stack([F * cam[:, 0] / cam[:, 2] + W / 2, F * cam[:, 1] / cam[:, 2] + HGT / 2], axis=1)


def segment_distance(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Distance of each (x, y) point to the nearest bone segment (joint to parent) of the skeleton."""
    from tcmr_mocap.core.skeleton import SMPL_PARENTS

    best = np.full(len(points), np.inf)
    for j in range(1, 24):
        a, b = joints[SMPL_PARENTS[j]], joints[j]
        ab = b - a
        t = np.clip(((points - a) @ ab) / max(ab @ ab, 1e-9), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * ab), axis=1))
    return best


@pytest.fixture
def captured_scene(scene, tmp_path, smpl_arrays):
    """A capture-like result (walking, arms raising, 5 m in front of a 320x240 camera, f = 400 px) of the
    synthetic video, built into the scene as a capture would be."""
    from tcmr_mocap.blender_addon.scene import builder

    video = H.write_video(tmp_path / "walk.mp4", n_frames=12)
    R, transl = H.procedural_motion(12)
    R_cam, t_cam = H.to_camera_frame(R, transl, depth=5.0)
    result = H.make_result(smpl_arrays, {1: (R_cam, t_cam, np.arange(12), np.zeros(10))}, video_path=str(video),
                           width=W, height=HGT, focal_length_px=F)
    result.save(str(tmp_path / "walk.npz"))
    builder.import_file(bpy.context, str(tmp_path / "walk.npz"),
                        builder.BuildOptions(create_mesh=True, set_scene=True))
    return scene, result.tracks[0], video


def footage_frame(video, index: int):
    return H.video_frames_rgb(video)[index]


def test_body_pixels_land_on_the_projected_joints(captured_scene, tmp_path):
    from tcmr_mocap.blender_addon.render import overlay

    scene, track, video = captured_scene
    info = overlay.setup_overlay(scene, str(tmp_path / "frames" / "overlay_####.png"), frames=(3, 5))
    assert info["engine"] == "BLENDER_WORKBENCH" and info["footage"] and info["frames"] == (3, 5)
    files = overlay.render(scene)
    # named by the video frame each shows (issue 24, 15): scene frames 3-5 are video frames 2-4
    assert [p.rsplit("_", 1)[1] for p in files] == ["0002.png", "0003.png", "0004.png"]
    for scene_frame, path in zip((3, 4, 5), files):
        row = scene_frame - 1  # keys sit on video frame + 1
        rgb = H.png_rgb(path)
        assert rgb.shape == (HGT, W, 3)
        mask = body_mask(rgb)
        joints = projected_joints(track, row)
        assert 800 < mask.sum() < 0.4 * W * HGT, mask.sum()
        # every torso joint has body pixels right where it projects (within 2 px) ...
        for j in TORSO:
            x, y = np.round(joints[j]).astype(int)
            assert mask[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].any(), (scene_frame, j, joints[j])
        # ... and the body's extent is the skeleton's: the pixels' box is the projected joints' box, grown by the
        # flesh around the end joints (head, hands, feet: <= 12 px at 5 m) and never smaller
        ys, xs = np.nonzero(mask)
        box = np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=float)

        def fits(points):
            lo, hi = points.min(axis=0), points.max(axis=0)
            grow = np.concatenate([lo - box[:2], box[2:] - hi])  # how far the pixels reach beyond the joints
            return bool(np.all(grow >= -2.0) and np.all(grow <= 12.0))

        assert fits(joints), (box, joints.min(axis=0), joints.max(axis=0))
        # a skeleton 15 px off (or 10 % too big) would not explain the pixels
        assert not fits(joints + [15.0, 0.0]) and not fits(joints + [0.0, -15.0])
        assert not fits((joints - joints.mean(0)) * 1.1 + joints.mean(0))
        # behind the body: the footage frame the keys belong to (video frame = scene frame - 1)
        video_rgb = footage_frame(video, row)
        far = segment_distance(np.stack(np.meshgrid(np.arange(W), np.arange(HGT)), -1).reshape(-1, 2).astype(float),
                               joints).reshape(HGT, W) > 25
        diff = np.abs(rgb - video_rgb)[far].mean()
        other = np.abs(rgb - footage_frame(video, row + 4))[far].mean()
        assert diff < 0.03 and diff < other, (diff, other)


def test_render_scale_video_and_bad_output(captured_scene, tmp_path):
    from tcmr_mocap.blender_addon.render import overlay
    from tcmr_mocap.core.errors import InvalidArgumentError

    scene, track, video = captured_scene
    overlay.setup_overlay(scene, str(tmp_path / "half.png"), frames=(2, 2), scale=50)
    (path,) = overlay.render(scene)
    assert path.endswith("half_0001.png")
    rgb = H.png_rgb(path)
    assert rgb.shape == (HGT // 2, W // 2, 3)
    mask = body_mask(rgb)
    for j in TORSO:
        x, y = np.round(projected_joints(track, 1, scale=0.5)[j]).astype(int)
        assert mask[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].any(), j
    overlay.setup_overlay(scene, str(tmp_path / "clip.mp4"), frames=(1, 3))
    progress = []
    (movie,) = overlay.render(scene, on_frame=lambda done, total: progress.append((done, total)))
    frames = H.video_frames_rgb(movie)
    assert frames.shape[:3] == (3, HGT, W)
    assert progress == [(1, 3), (2, 3), (3, 3)]  # a video reports its progress per frame too (issue 24, 15)
    with pytest.raises(InvalidArgumentError, match="image sequence"):
        overlay.setup_overlay(scene, str(tmp_path / "x.gif"))
    with pytest.raises(InvalidArgumentError, match="engine"):
        overlay.setup_overlay(scene, str(tmp_path / "x.png"), engine="povray")


def test_odd_scaled_size_renders_an_even_video_in_place(captured_scene, tmp_path):
    """Issue 24 (2): `--render-scale 25` of an 812×720 video stopped a batch with 'width not divisible by 2'.
    Any scale renders: the video is the nearest smaller even size, the body and the footage still aligned."""
    from tcmr_mocap.blender_addon.render import overlay

    scene, track, video = captured_scene
    overlay.setup_overlay(scene, str(tmp_path / "odd.mp4"), frames=(3, 4), scale=33)  # 105.6 x 79.2 -> 105 x 79
    (movie,) = overlay.render(scene)
    frames = H.video_frames_rgb(movie)
    assert frames.shape[:3] == (2, 78, 104)
    sx, sy = 104 / W, 78 / HGT
    rgb = frames[0]  # scene frame 3 = video frame 2
    mask = body_mask(rgb)
    joints = projected_joints(track, 2) * [sx, sy]
    hits = [mask[max(int(round(y)) - 2, 0):int(round(y)) + 3, max(int(round(x)) - 2, 0):int(round(x)) + 3].any()
            for x, y in joints[TORSO]]
    assert np.mean(hits) >= 0.9, hits
    # the footage fills the frame the same way: the source frame stretched to 104 x 78 (bilinear), away from the body
    src = footage_frame(video, 2)
    ys, xs = (np.arange(78) + 0.5) / sy - 0.5, (np.arange(104) + 0.5) / sx - 0.5
    y0, x0 = np.clip(np.floor(ys).astype(int), 0, HGT - 2), np.clip(np.floor(xs).astype(int), 0, W - 2)
    fy, fx = np.clip(ys - y0, 0, 1)[:, None, None], np.clip(xs - x0, 0, 1)[None, :, None]
    stretched = ((1 - fy) * ((1 - fx) * src[y0][:, x0] + fx * src[y0][:, x0 + 1])
                 + fy * ((1 - fx) * src[y0 + 1][:, x0] + fx * src[y0 + 1][:, x0 + 1]))
    grid = np.stack(np.meshgrid(np.arange(104), np.arange(78)), -1).reshape(-1, 2).astype(float)
    far = segment_distance(grid, joints).reshape(78, 104) > 10
    assert np.abs(rgb - stretched)[far].mean() < 0.04
    assert np.abs(rgb[:, 3:] - stretched[:, :-3])[far[:, 3:]].mean() > np.abs(rgb - stretched)[far].mean()


def test_hidden_body_is_not_rendered_and_the_footage_stays(captured_scene, tmp_path):
    """What the headless command does with a retargeted character: the SMPL body is hidden, the frame is the footage
    (and whatever else is visible, here nothing)."""
    from tcmr_mocap.blender_addon.render import overlay

    scene, track, video = captured_scene
    bodies = [o for o in scene.objects if o.type == "MESH"]
    assert bodies
    overlay.setup_overlay(scene, str(tmp_path / "hidden.png"), frames=(4, 4), hide=tuple(bodies))
    (path,) = overlay.render(scene)
    rgb = H.png_rgb(path)
    assert not body_mask(rgb).any()
    assert np.abs(rgb - footage_frame(video, 3)).mean() < 0.03


def test_cycles_renders_the_body_in_the_same_place(captured_scene, tmp_path):
    from tcmr_mocap.blender_addon.render import overlay

    scene, track, video = captured_scene
    info = overlay.setup_overlay(scene, str(tmp_path / "cy.png"), engine="cycles", frames=(3, 3), scale=50, samples=2)
    assert info["engine"] == "CYCLES" and scene.cycles.samples == 2
    assert any(o.type == "LIGHT" for o in scene.objects)  # a light was added for a lit engine
    (path,) = overlay.render(scene)
    rgb = H.png_rgb(path)
    half = footage_frame(video, 2).reshape(HGT // 2, 2, W // 2, 2, 3).mean(axis=(1, 3))  # 2×2 box, as INTER_AREA
    changed = np.abs(rgb - half).sum(axis=2) > 0.15
    joints = projected_joints(track, 2, scale=0.5)
    hits = [changed[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2].any()
            for x, y in joints[TORSO]]
    assert np.mean(hits) >= 0.8, hits
    ys, xs = np.nonzero(changed)
    assert abs(xs.mean() - joints[TORSO, 0].mean()) < 10 and abs(ys.mean() - joints[TORSO, 1].mean()) < 15


def test_resampled_motion_keeps_the_footage_in_time(scene, tmp_path, smpl_arrays):
    """A motion resampled to 15 fps over a 30 fps video: the scene runs at 15 fps and scene frame k shows video
    frame 2 (k - 1), the frame its keys came from (Blender alone would show video frame k - 1)."""
    from tcmr_mocap.blender_addon.render import overlay
    from tcmr_mocap.blender_addon.scene import camera, builder

    video = H.write_video(tmp_path / "walk.mp4", n_frames=12)
    R, transl = H.procedural_motion(12)
    R_cam, t_cam = H.to_camera_frame(R, transl, depth=5.0)
    rows = np.arange(0, 12, 2)
    result = H.make_result(smpl_arrays, {1: (R_cam[rows], t_cam[rows], rows, np.zeros(10))}, video_path=str(video),
                           width=W, height=HGT, focal_length_px=F, num_frames=12)
    result.motion_fps = 15.0
    result.tracks[0].times_s = rows / 30.0
    result.save(str(tmp_path / "walk15.npz"))
    builder.import_file(bpy.context, str(tmp_path / "walk15.npz"),
                        builder.BuildOptions(create_mesh=True, set_scene=True))
    assert camera.scene_fps(scene) == 15.0 and scene.frame_end == 6
    clip = overlay.footage_clip(scene)
    scene.frame_set(4)
    assert clip.frame_offset == 3  # clip frame 7 = video frame 6 on scene frame 4
    bodies = [o for o in scene.objects if o.type == "MESH"]
    overlay.setup_overlay(scene, str(tmp_path / "retimed.png"), frames=(4, 4), hide=tuple(bodies))
    (path,) = overlay.render(scene)
    rgb = H.png_rgb(path)
    off = {k: float(np.abs(rgb - footage_frame(video, k)).mean()) for k in range(12)}
    assert min(off, key=off.get) == 6 and off[6] < 0.03, off  # not 3, the frame an untimed clip would show
    # imported again at the video's own rate, the driver goes and the clip runs one frame per frame
    H.make_result(smpl_arrays, {1: (R_cam, t_cam, np.arange(12), np.zeros(10))}, video_path=str(video),
                  width=W, height=HGT, focal_length_px=F).save(str(tmp_path / "walk30.npz"))
    builder.import_file(bpy.context, str(tmp_path / "walk30.npz"),
                        builder.BuildOptions(create_mesh=True, set_scene=True))
    scene.frame_set(4)
    assert camera.scene_fps(scene) == 30.0 and overlay.footage_clip(scene).frame_offset == 0
    assert not (clip.animation_data and clip.animation_data.drivers)
