"""SMPL motion -> armature keys: bone quaternions, root location, scene frames. numpy only (no bpy).

The mapping (column vectors; ``M`` = R_world_from_data, ``A`` = R_ARMATURE_FROM_SMPL, ``B_j`` = rotation of
bone j's rest matrix ``matrix_local`` in armature space, ``R_j`` = SMPL's local rotation of joint j):

- rest: bone j's head sits at ``h_j = A · J_j`` (J = SMPL rest joints), the body standing up in Blender;
- pose: Blender composes ``P_j = P_parent · (B_parent⁻¹ B_j) · Q_j`` (rotation parts). Asking that every bone's
  posed rotation equal ``M · G_j · Aᵀ · B_j`` (G_j = SMPL's global rotation of joint j) gives

      Q_0 = B_0ᵀ · M · R_0 · Aᵀ · B_0          Q_j = B_jᵀ · A · R_j · Aᵀ · B_j   (j ≥ 1)

  and then every posed head is exactly ``M · (FK_j + transl)``: SMPL's posed joints mapped by one fixed
  rotation M into the world (the armature object keeps an identity transform);
- root location (the pose bone's location is in its rest frame): SMPL rotates about the pelvis joint J_0
  while ``transl`` moves the SMPL origin, so the pelvis goes to ``M · (J_0 + t)``:
  ``loc_0 = B_0ᵀ · (M · (J_0 + t) − A · J_0)``.

Fingers (files with ``hand_pose_aa``): 15 bones per hand in SMPL-X/MANO order (``left_index1`` …), hanging off the
wrists, with the rest hand of ``core.extremities.handpose`` (scaled to the body's hand) in SMPL's canonical axes;
their local rotations are keyed with the same formula as the body's joints j ≥ 1 (:func:`finger_keys`).
"""

from __future__ import annotations

import numpy as np

from ...core import rotations
from ...core.extremities.handpose import REST_HAND_LEFT, rest_landmarks
from ...core.extremities.layout import FINGER_CHAINS, HAND_JOINT_NAMES, HAND_SIDES, WRIST_JOINT
from ...core.skeleton import SMPL_JOINT_NAMES

# The armature's rest pose is SMPL's canonical T-pose (y up, facing +z) turned to stand on Blender's Z-up
# ground, facing -Y (towards a capture camera at the origin looking along +Y).
R_ARMATURE_FROM_SMPL = rotations.R_BLENDER_FROM_SMPL


def rest_heads(rest_joints: np.ndarray) -> np.ndarray:
    """Bone heads in armature space. rest_joints: (24, 3) SMPL frame -> (24, 3)."""
    return np.asarray(rest_joints, dtype=np.float64) @ R_ARMATURE_FROM_SMPL.T


def bone_keys(rotmat: np.ndarray, transl: np.ndarray, rest_joints: np.ndarray, bone_rest_rotmat: np.ndarray,
              R_world_from_data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone values that make the armature follow SMPL forward kinematics exactly.

    rotmat: (N, 24, 3, 3) SMPL local rotations (joint 0 relative to the data frame); transl: (N, 3) SMPL
    origin in the data frame; rest_joints: (24, 3); bone_rest_rotmat: (24, 3, 3) rotation of each bone's
    ``matrix_local``; R_world_from_data: (3, 3).
    Returns (quat_wxyz (N, 24, 4) with consecutive keys in one hemisphere, root location (N, 3)).
    """
    R = np.asarray(rotmat, dtype=np.float64)
    B = np.asarray(bone_rest_rotmat, dtype=np.float64)
    M = np.asarray(R_world_from_data, dtype=np.float64)
    A = R_ARMATURE_FROM_SMPL
    left = np.broadcast_to(A, R.shape).copy()  # (N, 24, 3, 3)
    left[:, 0] = M
    local = left @ R @ A.T  # (N, 24, 3, 3) rotation in armature axes
    Q = np.swapaxes(B, -1, -2)[None] @ local @ B[None]  # (N, 24, 3, 3) in each bone's rest frame
    quat = rotations.quat_wxyz_make_continuous(rotations.rotmat_to_quat_wxyz(Q))
    J0 = np.asarray(rest_joints, dtype=np.float64)[0]
    pelvis_world = (J0[None] + np.asarray(transl, dtype=np.float64)) @ M.T  # (N, 3)
    root_location = (pelvis_world - A @ J0) @ B[0]  # B_0ᵀ · (…) for row vectors
    return quat, root_location


# the 30 finger bones, left hand then right, each in HAND_JOINT_NAMES order: SMPL-X's names ("left_index1")
FINGER_BONE_NAMES: tuple[str, ...] = tuple(f"{side}_{joint}" for side in HAND_SIDES for joint in HAND_JOINT_NAMES)
_HAND_LENGTH_REST = float(np.linalg.norm(REST_HAND_LEFT[9]))  # wrist -> middle knuckle of the rest hand (m)


def finger_rest(rest_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Rest of the 30 finger bones (FINGER_BONE_NAMES order) in armature space: the rest hand of
    core.extremities.handpose at each wrist, scaled so that its middle knuckle is as far from the wrist as SMPL's
    hand joint. rest_joints: (24, 3) SMPL frame. Returns (heads (30, 3), tails (30, 3), parent bone names)."""
    J = np.asarray(rest_joints, dtype=np.float64)
    heads, tails, parents = np.zeros((30, 3)), np.zeros((30, 3)), []
    for s, side in enumerate(HAND_SIDES):
        wrist = SMPL_JOINT_NAMES.index(WRIST_JOINT[side])
        hand = SMPL_JOINT_NAMES.index(f"{side}_hand")
        scale = np.clip(np.linalg.norm(J[hand] - J[wrist]) / _HAND_LENGTH_REST, 0.5, 2.0)
        marks = J[wrist] + scale * rest_landmarks(side)  # (21, 3) SMPL frame
        for joints, chain in FINGER_CHAINS.values():
            for k, j in enumerate(joints):
                b = 15 * s + j
                heads[b], tails[b] = marks[chain[k]], marks[chain[k + 1]]
                parents.append((b, WRIST_JOINT[side] if k == 0 else FINGER_BONE_NAMES[15 * s + joints[k - 1]]))
    order = [p for _, p in sorted(parents)]
    return rest_heads(heads), rest_heads(tails), order


def finger_keys(hand_pose_aa: np.ndarray, finger_rest_rotmat: np.ndarray) -> np.ndarray:
    """Finger bone quaternions. hand_pose_aa: (N, 2, 15, 3) SMPL-X/MANO local axis-angle (left, right);
    finger_rest_rotmat: (30, 3, 3) rotation of each finger bone's ``matrix_local`` (FINGER_BONE_NAMES order).
    Returns (N, 30, 4) WXYZ, consecutive keys in one hemisphere: Q = Bᵀ · A · R · Aᵀ · B as for the body."""
    R = rotations.axis_angle_to_rotmat(np.asarray(hand_pose_aa, dtype=np.float64).reshape(-1, 30, 3))
    B = np.asarray(finger_rest_rotmat, dtype=np.float64)
    A = R_ARMATURE_FROM_SMPL
    Q = np.swapaxes(B, -1, -2)[None] @ (A @ R @ A.T) @ B[None]
    return rotations.quat_wxyz_make_continuous(rotations.rotmat_to_quat_wxyz(Q))


def scene_frames(times_s: np.ndarray, frame_ids: np.ndarray, source_fps: float,
                 scene_fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Scene frame of each row, and the rows to keep (one per scene frame).

    When the scene runs at the source rate, frame ``k`` of the source lands on scene frame ``k + 1`` (the
    footage's frame too, even for variable-rate video); otherwise on ``1 + round(time · scene_fps)``, and
    rows that round onto the same scene frame keep the first. times_s, frame_ids: (N,).
    Returns (frames (K,) int64 strictly increasing, keep (K,) row indices).
    """
    if _same_rate(scene_fps, source_fps):
        frames = np.asarray(frame_ids, dtype=np.int64) + 1
    else:
        frames = 1 + np.floor(np.asarray(times_s, dtype=np.float64) * scene_fps + 0.5).astype(np.int64)  # half up
    order = np.argsort(frames, kind="stable")
    _, first = np.unique(frames[order], return_index=True)
    keep = order[first]
    return frames[keep], keep


def _same_rate(scene_fps: float, source_fps: float) -> bool:
    return abs(scene_fps - source_fps) <= 1e-5 * source_fps


def fps_to_blender(fps: float) -> tuple[int, float]:
    """Blender's (render.fps, render.fps_base) for a frame rate: 29.97 -> (30, 1.001), 25 -> (25, 1.0)."""
    fps_int = max(1, int(round(fps)))
    base = fps_int / fps
    return fps_int, 1.0 if abs(base - 1.0) < 1e-9 else base


def scene_frame_count(duration_frames: int, source_fps: float, scene_fps: float) -> int:
    """Scene frames covering ``duration_frames`` source frames (for the scene's frame range)."""
    if _same_rate(scene_fps, source_fps):
        return int(duration_frames)
    return max(1, int(round(duration_frames / source_fps * scene_fps)))
