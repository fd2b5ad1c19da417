"""Captures with fingers and a face for the Blender tests: result files holding ``hand_pose_aa`` and
``face_blendshapes`` (synthetic SMPL body, poses within the hand model's limits), imported through the operator."""

from __future__ import annotations

import numpy as np

import blender_helpers as H
from tcmr_mocap.core import rotations
from tcmr_mocap.core.extremities import handpose
from tcmr_mocap.core.extremities.layout import ARKIT_BLENDSHAPE_NAMES, HAND_SIDES

BETAS = np.array([0.8, -0.5, 0.3, 0.1, 0, 0, 0, 0, 0, -0.2])


def hand_motion(n: int, seed: int = 0) -> np.ndarray:
    """(n, 2, 15, 3) finger poses within the hand model's limits, changing smoothly."""
    rng = np.random.default_rng(seed)
    lim = np.radians(handpose.LIMITS_DEG)
    u = 0.5 + 0.45 * np.sin(np.linspace(0, 2 * np.pi, n)[:, None, None, None] + rng.uniform(0, 6, (1, 2, 15, 3)))
    angles = lim[..., 0] + u * (lim[..., 1] - lim[..., 0])  # (n, 2, 15, 3)
    return np.stack([handpose.angles_to_hand_pose(angles[:, s], side) for s, side in enumerate(HAND_SIDES)], axis=1)


def flexion_motion(n: int) -> np.ndarray:
    """(n, 2, 15, 3): every finger joint bends (flexion only) from straight to its own angle, both hands."""
    angles = np.zeros((n, 15, 3))
    target = np.radians([40, 60, 30, 55, 70, 35, 70, 80, 45, 60, 75, 40, 15, 40, 50])  # HAND_JOINT_NAMES order
    angles[..., 1] = np.linspace(0.0, 1.0, n)[:, None] * target
    return np.stack([handpose.angles_to_hand_pose(angles, side) for side in HAND_SIDES], axis=1)


def face_motion(n: int, seed: int = 1) -> np.ndarray:
    """(n, 52) ARKit weights in 0..1, each its own slow wave (tongueOut 0)."""
    rng = np.random.default_rng(seed)
    w = 0.5 + 0.5 * np.sin(np.linspace(0, 3, n)[:, None] + rng.uniform(0, 6, (1, 52)))
    w[:, ARKIT_BLENDSHAPE_NAMES.index("tongueOut")] = 0.0
    return w


def write_capture(folder, smpl_arrays, n: int, name: str = "talk", hands=None, faces=True, still: bool = False):
    """``folder/<name>.npz``: one track of n rows (a walk, or ``still``: standing facing the camera 4 m away)
    with fingers (``hands``: (n, 2, 15, 3), default hand_motion; False: none) and a face. Returns (path, result)."""
    if still:
        R = np.tile(np.eye(3), (n, 24, 1, 1))
        R[:, 0] = H.R_X180
        transl = np.tile([0.0, 0.0, 4.0], (n, 1))
    else:
        R, transl = H.to_camera_frame(*H.procedural_motion(n))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(n), BETAS)}, video_path=str(folder / f"{name}.mp4"))
    track = result.tracks[0]
    if hands is not False:
        track.hand_pose_aa = (hand_motion(n) if hands is None else hands).astype(np.float32)
        track.hand_conf = np.ones((n, 2), np.float32)
    if faces:
        track.face_blendshapes = face_motion(n).astype(np.float32)
        track.face_conf = np.ones(n, np.float32)
        track.head_rot_aa = rotations.rotmat_to_axis_angle(R[:, 15]).astype(np.float32)
    path = folder / f"{name}.npz"
    result.save(path)
    return path, result


def import_capture(folder, smpl_arrays, n: int, name: str = "talk", **kw):
    """write_capture, then tcmr.import_motion (no mesh). Returns (armature, the file's track)."""
    import bpy

    path, result = write_capture(folder, smpl_arrays, n, name, **kw)
    assert bpy.ops.tcmr.import_motion(filepath=str(path), create_mesh=False) == {"FINISHED"}
    return bpy.data.objects[f"{name}.mp4 · track 1"], result.tracks[0]
