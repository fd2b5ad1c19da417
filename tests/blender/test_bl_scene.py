"""Scene building through the operators: exact forward kinematics, keyframes, camera + footage, mesh,
re-run replacement, and failures that leave the scene untouched."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
from tcmr_mocap.blender_addon.scene import builder  # noqa: E402
from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of  # noqa: E402
from tcmr_mocap.core import rotations, smpl  # noqa: E402
from tcmr_mocap.core.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS  # noqa: E402

BETAS = np.array([0.8, -0.5, 0.3, 0.1, 0, 0, 0, 0, 0, -0.2])
FK_TOLERANCE_M = 1e-4


def import_file(path, **kw):
    return bpy.ops.tcmr.import_motion(filepath=str(path), **kw)


def armature(name):
    return bpy.data.objects[name]


def check_fk(obj, rest_joints, rotmat, transl, frames, R_world):
    """Bone heads vs SMPL forward kinematics + translation: one fixed rigid transform (the expected one)."""
    posed, _ = smpl.forward_kinematics(rest_joints, rotmat)
    smpl_joints = posed + transl[:, None, :]  # (T, 24, 3) in the data frame
    heads = H.bone_heads_world(obj, frames)
    R_fit, t_fit, residual = H.rigid_fit(smpl_joints, heads)
    assert residual < FK_TOLERANCE_M, residual
    np.testing.assert_allclose(R_fit, R_world, atol=1e-5)
    np.testing.assert_allclose(t_fit, 0.0, atol=1e-4)
    err = np.abs(heads - smpl_joints @ R_world.T).max()
    assert err < FK_TOLERANCE_M, err
    return err


@pytest.mark.parametrize("kind", ["procedural", "random"])
def test_fk_exact_from_our_result(scene, tmp_path, smpl_arrays, kind):
    if kind == "procedural":
        R, transl = H.to_camera_frame(*H.procedural_motion(90))
    else:
        R, transl = H.to_camera_frame(*H.random_motion(16, seed=3))
    n = R.shape[0]
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(n), BETAS)}, video_path=str(tmp_path / "walk.mp4"))
    result.save(tmp_path / "walk.npz")
    assert import_file(tmp_path / "walk.npz", create_mesh=False) == {"FINISHED"}
    obj = armature("walk.mp4 · track 1")
    track = result.tracks[0]
    err = check_fk(obj, track.rest_joints, track.rotmat, track.transl_cam.astype(np.float64), np.arange(1, n + 1),
                   rotations.R_BLENDER_FROM_OPENCV)
    print(f"max FK error ({kind}): {err:.2e} m")
    # 24 bones named after the SMPL joints, in SMPL's tree
    assert sorted(b.name for b in obj.data.bones) == sorted(SMPL_JOINT_NAMES)
    for j, name in enumerate(SMPL_JOINT_NAMES):
        parent = obj.data.bones[name].parent
        assert (parent.name if parent else None) == (SMPL_JOINT_NAMES[SMPL_PARENTS[j]] if j else None)


def test_upright_body_faces_the_camera(scene, tmp_path, smpl_arrays):
    """An upright person seen by the camera (180° about x in OpenCV axes) stands on Blender's Z axis."""
    R = np.tile(np.eye(3), (1, 24, 1, 1))
    R[:, 0] = H.R_X180
    result = H.make_result(smpl_arrays, {1: (R, np.array([[0.0, 0.0, 4.0]]), [0], BETAS)})
    result.save(tmp_path / "still.npz")
    import_file(tmp_path / "still.npz", create_mesh=False)
    heads = H.bone_heads_world(armature("walk.mp4 · track 1"), [1])[0]
    names = list(SMPL_JOINT_NAMES)
    assert heads[names.index("head")][2] > heads[names.index("pelvis")][2] > heads[names.index("left_ankle")][2]
    assert heads[names.index("left_shoulder")][0] > heads[names.index("right_shoulder")][0]  # mirror: facing -Y
    assert 3.5 < heads[0][1] < 4.5  # 4 m in front of the camera
    quat = np.array(bpy.data.objects["walk.mp4 · track 1"].pose.bones["pelvis"].rotation_quaternion)
    np.testing.assert_allclose(np.abs(quat), [1, 0, 0, 0], atol=1e-6)  # identity root: the rest pose is upright


def test_fk_exact_from_amass(scene, tmp_path, smpl_arrays, models_with_smpl):
    R, transl = H.procedural_motion(60)
    R[:, 22:] = np.eye(3)
    R = np.array(R)
    R[:, 0] = rotations.R_BLENDER_FROM_SMPL @ R[:, 0]  # AMASS is Z-up
    transl = transl @ rotations.R_BLENDER_FROM_SMPL.T
    path = H.write_amass(tmp_path / "jog_poses.npz", R, transl, BETAS, fps=60.0)
    assert import_file(path, models_dir=str(models_with_smpl)) == {"FINISHED"}
    assert scene.render.fps == 60 and scene.frame_end == 60
    assert bpy.data.cameras.get("jog_poses.npz · camera") is None  # no camera for world-space data
    obj = armature("jog_poses.npz · track 1")
    rest = smpl.rest_joints(smpl_arrays, BETAS)
    check_fk(obj, rest, R, transl, np.arange(1, 61), np.eye(3))


def test_fk_exact_from_tcmr_pickle(scene, tmp_path, smpl_arrays, models_with_smpl):
    R, transl = H.to_camera_frame(*H.procedural_motion(30))
    path = H.write_tcmr_pkl(tmp_path / "tcmr_output.pkl", {1: H.tcmr_demo_output(R, transl, BETAS)})
    assert import_file(path, models_dir=str(models_with_smpl), create_mesh=True) == {"FINISHED"}
    obj = armature(f"{tmp_path.name} · track 1")
    rest = smpl.rest_joints(smpl_arrays, BETAS)
    check_fk(obj, rest, R, transl, np.arange(1, 31), rotations.R_BLENDER_FROM_OPENCV)
    assert (scene.render.fps, round(scene.render.fps_base, 4)) == (30, 1.001)
    assert obj.children and obj.children[0].type == "MESH"  # mesh from the SMPL file


def test_keyframes_counts_values_and_hemispheres(scene, tmp_path, smpl_arrays):
    R, transl = H.to_camera_frame(*H.procedural_motion(90))
    frame_ids = np.arange(10, 100)
    result = H.make_result(smpl_arrays, {2: (R, transl, frame_ids, BETAS)}, num_frames=120)
    result.save(tmp_path / "walk.npz")
    import_file(tmp_path / "walk.npz", create_mesh=False)
    obj = armature("walk.mp4 · track 2")
    action = obj.animation_data.action
    assert action.name == "walk.mp4 · track 2"
    assert obj.animation_data.action_slot is not None
    bag = channelbag_of(obj)
    # 24 quaternions, the root location, and (the track covers scene frames 11-100 of 120) keyed visibility
    assert len(bag.fcurves) == 24 * 4 + 3 + 2
    assert {g.name for g in bag.groups} == set(SMPL_JOINT_NAMES) | {"Visibility"}
    assert tuple(action.frame_range) == (11.0, 100.0)
    quats = np.empty((90, 24, 4))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        for i in range(4):
            frames, values = H.fcurve_values(obj, f'pose.bones["{name}"].rotation_quaternion', i)
            np.testing.assert_array_equal(frames, frame_ids + 1)
            quats[:, j, i] = values
    assert all(kp.interpolation == "LINEAR" for kp in bag.fcurves[0].keyframe_points)
    np.testing.assert_allclose(np.linalg.norm(quats, axis=-1), 1.0, atol=1e-6)
    assert (np.sum(quats[1:] * quats[:-1], axis=-1) >= 0).all()  # consecutive keys share a hemisphere
    # the root turns a full 360°: its quaternion goes around without a flip, ending near -q0
    assert np.dot(quats[0, 0], quats[-1, 0]) < -0.9
    # values: the evaluated pose bone quaternion equals the key
    scene.frame_set(50)
    np.testing.assert_allclose(obj.pose.bones["left_elbow"].rotation_quaternion,
                               quats[50 - 11, SMPL_JOINT_NAMES.index("left_elbow")], atol=1e-6)
    for i in range(3):
        frames, _ = H.fcurve_values(obj, 'pose.bones["pelvis"].location', i)
        assert len(frames) == 90
    assert (scene.frame_start, scene.frame_end) == (1, 120)


def test_other_scene_rate_maps_by_time(scene, tmp_path, smpl_arrays):
    R, transl = H.to_camera_frame(*H.procedural_motion(30))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(30), BETAS)})
    result.save(tmp_path / "walk.npz")
    scene.render.fps = 24
    import_file(tmp_path / "walk.npz", create_mesh=False, set_scene=False)
    assert scene.render.fps == 24 and bpy.data.cameras.get("walk.mp4 · camera") is None
    frames, _ = H.fcurve_values(armature("walk.mp4 · track 1"), 'pose.bones["pelvis"].location', 0)
    np.testing.assert_array_equal(frames, np.unique(1 + np.floor(np.arange(30) / 30 * 24 + 0.5)))


def test_camera_footage_and_scene(scene, tmp_path, smpl_arrays):
    synthetic_video = H.write_video(tmp_path / "walk.mp4", n_frames=40, fps=30000 / 1001)
    R, transl = H.to_camera_frame(*H.procedural_motion(40))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(40), BETAS)}, video_path=str(synthetic_video),
                           fps=30000 / 1001, width=320, height=240, focal_length_px=400.0)
    result.save(tmp_path / "walk.npz")
    import_file(tmp_path / "walk.npz", create_mesh=False)
    cam = scene.camera
    assert cam is not None and cam.name == "walk.mp4 · camera"
    assert cam.data.sensor_fit == "HORIZONTAL" and cam.data.sensor_width == pytest.approx(36.0)
    assert cam.data.lens == pytest.approx(400.0 * 36.0 / 320, rel=1e-6)
    np.testing.assert_allclose(np.array(cam.matrix_world)[:3, 3], 0.0)
    # the camera looks along +Y with Z up
    look = np.array(cam.matrix_world.to_3x3()) @ np.array([0.0, 0.0, -1.0])
    up = np.array(cam.matrix_world.to_3x3()) @ np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(look, [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-6)
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage) == (320, 240, 100)
    assert scene.render.fps == 30 and scene.render.fps_base == pytest.approx(1.001, abs=1e-6)
    assert (scene.frame_start, scene.frame_end) == (1, 40)
    assert cam.data.show_background_images
    (background,) = cam.data.background_images
    assert background.source == "MOVIE_CLIP" and background.clip is not None
    assert bpy.path.abspath(background.clip.filepath) == str(synthetic_video)
    assert tuple(background.clip.size) == (320, 240) and background.clip.frame_start == 1
    # the body projects where the person is: the pelvis in camera view lies inside the frame
    from bpy_extras.object_utils import world_to_camera_view

    scene.frame_set(1)
    head = armature("walk.mp4 · track 1").pose.bones["pelvis"].head
    uvz = world_to_camera_view(scene, cam, head)
    u_expected = 0.5 + 400.0 * transl[0, 0] / (transl[0, 2] * 320)
    assert uvz.z > 0 and abs(uvz.x - u_expected) < 0.05


def test_mesh_is_skinned_like_smpl(scene, tmp_path, smpl_arrays):
    R, transl = H.to_camera_frame(*H.procedural_motion(30))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(30), BETAS)})
    result.save(tmp_path / "walk.npz")
    import_file(tmp_path / "walk.npz", create_mesh=True)
    body = bpy.data.objects["walk.mp4 · body 1"]
    arm = armature("walk.mp4 · track 1")
    assert body.parent == arm and body.modifiers[0].type == "ARMATURE" and body.modifiers[0].object == arm
    assert [g.name for g in body.vertex_groups] == list(SMPL_JOINT_NAMES)
    assert len(body.data.vertices) == 6890 and len(body.data.polygons) == 13776
    track = result.tracks[0]
    v = track.v_shaped.astype(np.float64)
    w = smpl_arrays["weights"]
    for frame in (1, 20):
        scene.frame_set(frame)
        evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
        co = np.empty(3 * len(evaluated.vertices))
        evaluated.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3) @ np.array(body.matrix_world)[:3, :3].T + np.array(body.matrix_world)[:3, 3]
        # linear blend skinning in numpy: v' = sum_j w_j (G_j (v - J_j) + P_j) + t, then into the world
        P, G = smpl.forward_kinematics(track.rest_joints, track.rotmat[frame - 1:frame].astype(np.float64))
        J = track.rest_joints.astype(np.float64)
        per_joint = np.einsum("jab,vjb->vja", G[0], v[:, None, :] - J[None]) + P[0][None]
        expected = np.einsum("vj,vja->va", w, per_joint) + track.transl_cam[frame - 1]
        expected = expected @ rotations.R_BLENDER_FROM_OPENCV.T
        assert np.abs(co - expected).max() < 1e-4


def test_rerun_replaces_previous_result(scene, tmp_path, smpl_arrays, synthetic_video):
    R, transl = H.to_camera_frame(*H.procedural_motion(20))
    tracks = {1: (R, transl, np.arange(20), BETAS), 2: (R, transl + 1, np.arange(20), BETAS)}
    result = H.make_result(smpl_arrays, tracks, video_path=str(synthetic_video))
    result.save(tmp_path / "walk.npz")
    import_file(tmp_path / "walk.npz")
    first = H.scene_snapshot()
    assert len(first["objects"]) == 5 and len(first["actions"]) == 2  # 2 armatures, 2 meshes, 1 camera
    for _ in range(2):
        assert import_file(tmp_path / "walk.npz") == {"FINISHED"}
        assert H.scene_snapshot() == first
    assert sorted(first["actions"]) == ["walk.mp4 · track 1", "walk.mp4 · track 2"]
    # another source adds its own result next to it
    other = H.make_result(smpl_arrays, {1: (R, transl, np.arange(20), BETAS)}, video_path=str(tmp_path / "b.mp4"))
    other.save(tmp_path / "b.npz")
    import_file(tmp_path / "b.npz", create_mesh=False)
    assert len(bpy.data.objects) == 7 and len(bpy.data.actions) == 3, [o.name for o in bpy.data.objects]


@pytest.mark.parametrize("where", ["mesh.build_mesh", "armature.bone_rest_rotations", "camera.attach_footage",
                                   "keyframes.fill_fcurve"])
def test_failed_import_leaves_scene_unchanged(scene, tmp_path, smpl_arrays, monkeypatch, synthetic_video, where):
    R, transl = H.to_camera_frame(*H.procedural_motion(10))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(10), BETAS)}, video_path=str(synthetic_video))
    result.save(tmp_path / "walk.npz")
    import_file(tmp_path / "walk.npz")  # a previous result that must survive the failed re-run
    bpy.data.movieclips.remove(bpy.data.movieclips[0])  # so that a failing run would have loaded a new clip
    scene.render.fps = 24
    before = H.scene_snapshot()

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("simulated failure half-way")

    module, function = where.split(".")
    monkeypatch.setattr(getattr(builder, module), function, broken)
    with pytest.raises(RuntimeError, match="simulated failure"):
        import_file(tmp_path / "walk.npz")
    assert H.scene_snapshot() == before
    monkeypatch.undo()
    # a user error (AMASS without an SMPL body) is a report, not a traceback, and changes nothing
    H.write_amass(tmp_path / "a.npz", R, transl, BETAS)
    # (bpy.ops turns an operator's error report into RuntimeError)
    wm = bpy.context.window_manager
    with pytest.raises(RuntimeError, match="no SMPL rest skeleton"):
        import_file(tmp_path / "a.npz", models_dir=str(tmp_path))
    assert "SMPL" in wm.tcmr_job.last_error and "export-smpl" in wm.tcmr_job.last_error
    with pytest.raises(RuntimeError, match="not found"):
        import_file(tmp_path / "nothing.npz")
    assert "not found" in wm.tcmr_job.last_error
    assert H.scene_snapshot() == before


def test_panel_and_registration(scene):
    assert hasattr(bpy.types, "TCMR_PT_mocap") and bpy.types.TCMR_PT_mocap.bl_category == "Mocap"
    for op in ("capture", "import_motion", "cancel_job", "install_deps", "refresh_status", "export_smpl"):
        assert hasattr(bpy.ops.tcmr, op)
    settings = scene.tcmr
    assert settings.person == "ALL" and settings.create_mesh and not hasattr(settings, "smoothing")  # refine panel's
    prefs = bpy.context.preferences.addons["tcmr_mocap"].preferences
    assert prefs.device == "auto"
