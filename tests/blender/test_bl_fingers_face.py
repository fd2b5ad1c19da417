"""Captured fingers and face in the scene: 30 SMPL-X finger bones keyed from hand_pose_aa (posed fingertips where
the hand model puts them), the 52 ARKit weights as keyed armature properties, files without them unchanged,
Refine Again keeping them, and the capture panel's Hands/Face switches reaching the core."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
from extremity_motion import write_capture  # noqa: E402
from tcmr_mocap.blender_addon.scene import face, pose_keys  # noqa: E402
from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of  # noqa: E402
from tcmr_mocap.core import rotations, smpl  # noqa: E402
from tcmr_mocap.core.extremities import handpose  # noqa: E402
from tcmr_mocap.core.extremities.layout import ARKIT_BLENDSHAPE_NAMES, FINGER_CHAINS, HAND_SIDES  # noqa: E402
from tcmr_mocap.core.skeleton import SMPL_JOINT_NAMES  # noqa: E402

N = 24


def expected_fingertips(track, R_world) -> np.ndarray:
    """(N, 2, 21, 3) world landmarks of both hands: SMPL forward kinematics to the wrists, then the hand model's
    own forward kinematics (core.extremities.handpose) on the rest hand scaled like the armature's."""
    J = track.rest_joints.astype(np.float64)
    P, G = smpl.forward_kinematics(J, track.rotmat.astype(np.float64))
    out = np.zeros((N, 2, 21, 3))
    for s, side in enumerate(HAND_SIDES):
        w, h = SMPL_JOINT_NAMES.index(f"{side}_wrist"), SMPL_JOINT_NAMES.index(f"{side}_hand")
        scale = np.linalg.norm(J[h] - J[w]) / np.linalg.norm(handpose.REST_HAND_LEFT[9])
        local = handpose.hand_forward_kinematics(track.hand_pose_aa[:, s], side) * scale  # (N, 21, 3) wrist frame
        world = P[:, w, None] + np.einsum("nij,nkj->nki", G[:, w], local) + track.transl_cam[:, None]
        out[:, s] = world @ R_world.T
    return out


def test_fingers_and_face_follow_the_capture(scene, tmp_path, smpl_arrays):
    path, result = write_capture(tmp_path, smpl_arrays, N)
    assert bpy.ops.tcmr.import_motion(filepath=str(path), create_mesh=False) == {"FINISHED"}
    obj = bpy.data.objects["talk.mp4 · track 1"]
    names = {b.name for b in obj.data.bones}
    assert names == set(SMPL_JOINT_NAMES) | set(pose_keys.FINGER_BONE_NAMES) and len(names) == 54
    for side in HAND_SIDES:
        assert obj.data.bones[f"{side}_index1"].parent.name == f"{side}_wrist"
        assert obj.data.bones[f"{side}_index3"].parent.name == f"{side}_index2"
        assert obj.data.bones[f"{side}_thumb1"].parent.name == f"{side}_wrist"
    track = result.tracks[0]
    want = expected_fingertips(track, rotations.R_BLENDER_FROM_OPENCV)
    got = np.zeros_like(want)
    mw = np.array(obj.matrix_world)
    for t in range(N):
        scene.frame_set(t + 1)
        for s, side in enumerate(HAND_SIDES):
            for finger, (joints, marks) in FINGER_CHAINS.items():
                for k, j in enumerate(joints):
                    pb = obj.pose.bones[f"{side}_{finger}{k + 1}"]
                    got[t, s, marks[k]] = mw[:3, :3] @ np.array(pb.head) + mw[:3, 3]
                    got[t, s, marks[k + 1]] = mw[:3, :3] @ np.array(pb.tail) + mw[:3, 3]
            got[t, s, 0] = want[t, s, 0]  # (the wrist is the body's, checked by the body tests)
    err = np.abs(got - want).max()
    assert err < 2e-4, err  # float32 bones, metres
    # the face: one keyed property per ARKit name, equal to the file's weights on every frame
    bag = channelbag_of(obj)
    assert {g.name for g in bag.groups} >= {"Face"}
    weights = face.read_properties(obj, np.arange(1, N + 1))
    np.testing.assert_allclose(weights, track.face_blendshapes, atol=1e-6)
    scene.frame_set(7)
    assert obj["jawOpen"] == pytest.approx(track.face_blendshapes[6, ARKIT_BLENDSHAPE_NAMES.index("jawOpen")], abs=1e-6)


def test_a_file_without_fingers_or_face_builds_todays_armature(scene, tmp_path, smpl_arrays):
    path, _ = write_capture(tmp_path, smpl_arrays, N, "plain", hands=False, faces=False)
    assert bpy.ops.tcmr.import_motion(filepath=str(path), create_mesh=False) == {"FINISHED"}
    obj = bpy.data.objects["plain.mp4 · track 1"]
    assert sorted(b.name for b in obj.data.bones) == sorted(SMPL_JOINT_NAMES)
    assert not any(k in obj.keys() for k in ARKIT_BLENDSHAPE_NAMES)
    assert face.read_properties(obj, [1, 2]) is None
    assert len(channelbag_of(obj).fcurves) == 24 * 4 + 3


def test_refine_again_keeps_fingers_and_face(scene, tmp_path, smpl_arrays):
    path, _ = write_capture(tmp_path, smpl_arrays, N)
    assert bpy.ops.tcmr.import_motion(filepath=str(path), create_mesh=False) == {"FINISHED"}
    scene.tcmr_refine.live_update = False
    scene.tcmr_refine.upright, scene.tcmr_refine.foot_lock = False, "never"  # (a synthetic walk: no floor)
    scene.tcmr_refine.use_fps, scene.tcmr_refine.fps = True, 15.0  # resampled: half as many rows
    assert bpy.ops.tcmr.refine() == {"FINISHED"}
    obj = bpy.data.objects["talk.mp4 · track 1"]
    assert "left_pinky3" in obj.data.bones and "right_thumb1" in obj.data.bones
    start, end = (int(v) for v in obj.animation_data.action.frame_range)
    assert scene.render.fps == 15 and end - start + 1 == N // 2
    weights = face.read_properties(obj, np.arange(start, end + 1))
    assert weights is not None and weights.std() > 0.1
    _, values = H.fcurve_values(obj, 'pose.bones["right_middle2"].rotation_quaternion', 0)
    assert len(values) == N // 2 and values.std() > 0.01


def test_capture_switches_reach_the_core(scene):
    from tcmr_mocap.blender_addon.capture import ops as ops_capture
    from tcmr_mocap.blender_addon.runtime import commands

    s = scene.tcmr
    assert s.hands and s.face  # default: captured when the model files are there
    cmd = commands.capture_command("python", "v.mp4", "o.npz", ops_capture.capture_options(bpy.context))
    assert "--hands" not in cmd and "--no-hands" not in cmd and "--no-face" not in cmd
    s.hands, s.face = False, False
    cmd = commands.capture_command("python", "v.mp4", "o.npz", ops_capture.capture_options(bpy.context))
    assert "--no-hands" in cmd and "--no-face" in cmd
