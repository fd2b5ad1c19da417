"""21 hand landmarks -> 15 finger joint rotations (SMPL-X/MANO order), within anatomical limits; and back.

The hand model (numpy only):

- **Rest hand** :data:`REST_HAND_LEFT` (21, 3), metres, the flat SMPL-X T-pose hand in the wrist's frame with SMPL's
  canonical axes (x = the body's left, y = up, z = forward): fingers along +x, palm down (−y), thumb forward
  (+z). The right hand is its mirror image (x -> −x); so are its rotations: ``aa_right = aa_left · (1, −1, −1)``.
- **Joints**: each finger is a chain of three joints on its landmarks (``layout.FINGER_CHAINS``). Joint 1 (knuckle;
  the thumb's CMC) turns freely within limits (twist, flexion, spread); joints 2 and 3 are hinges about the
  finger's flexion axis. Rotations are local (joint 1 relative to the wrist, 2 to 1, 3 to 2), as SMPL-X's
  ``left_hand_pose``: zero = the flat rest hand.
- **Angles** of a joint: (twist, flex, spread) in the joint's frame F = [bone direction, flexion axis, their
  cross product], composed as R = F · R_y(flex) · R_z(spread) · R_x(twist) · Fᵀ (Blender Euler order ``XZY`` in
  that frame); positive flexion curls towards the palm. :data:`LIMITS_DEG` bounds each angle (hinges bend one way,
  with a little hyperextension; thumb and knuckles have ranges of their own).

:func:`fit_hand` recovers the pose from landmarks: the palm's rotation by a least-squares fit of the palm points,
then per finger the knuckle from the first bone's direction and the finger's bending plane (its hinge axis), the
hinge angles in that plane; then the limits. It also says how well the limited pose explains the landmarks
(mean angle between the measured and the posed bones).
"""

from __future__ import annotations

import numpy as np

from ..metrics import similarity_transform
from ..rotations import axis_angle_to_rotmat, euler_to_rotmat, rotmat_from_vectors, rotmat_to_axis_angle, rotmat_to_euler
from .layout import FINGER_CHAINS, HAND_JOINT_NAMES, HAND_SIDES, NUM_HAND_JOINTS, PALM_LANDMARKS

EULER_ORDER = "XZY"  # in a joint's frame: twist (x) first, then spread (z), then flexion (y)
MIRROR = np.array([-1.0, 1.0, 1.0])  # left <-> right hand positions (SMPL's x)
MIRROR_AA = np.array([1.0, -1.0, -1.0])  # left <-> right hand axis-angle (the same mirror on an axial vector)


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# finger -> (landmark of joint 1 (m), bone direction, bone lengths (m)): a flat, slightly spread hand, about
# MANO's proportions (19 cm wrist to middle fingertip)
_REST_FINGERS = {
    "thumb": ((0.024, -0.012, 0.021), (0.75, -0.17, 0.64), (0.044, 0.032, 0.027)),
    "index": ((0.088, 0.002, 0.024), (1.0, 0.0, 0.07), (0.040, 0.024, 0.021)),
    "middle": ((0.092, 0.003, 0.002), (1.0, 0.0, 0.0), (0.045, 0.028, 0.023)),
    "ring": ((0.086, 0.000, -0.017), (1.0, 0.0, -0.07), (0.042, 0.027, 0.022)),
    "pinky": ((0.076, -0.004, -0.034), (1.0, 0.0, -0.15), (0.033, 0.020, 0.019)),
}
_THUMB_BEND = np.array([0.0, -0.55, -1.0])  # where the flat thumb curls to (across the palm, below it)


def _rest_hand() -> np.ndarray:
    rest = np.zeros((21, 3))
    for finger, (base, direction, lengths) in _REST_FINGERS.items():
        marks = FINGER_CHAINS[finger][1]
        rest[marks[0]] = base
        for k, length in enumerate(lengths):
            rest[marks[k + 1]] = rest[marks[k]] + length * _unit(direction)
    return rest


REST_HAND_LEFT = _rest_hand()  # (21, 3) landmarks of the flat left hand, wrist frame, metres


def rest_landmarks(side: str) -> np.ndarray:
    """(21, 3) rest landmarks of the ``side`` ("left"/"right") hand in its wrist frame (SMPL canonical axes)."""
    return REST_HAND_LEFT * (MIRROR if _side(side) else 1.0)


def _side(side: str) -> int:
    if side not in HAND_SIDES:
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return HAND_SIDES.index(side)


def _joint_frames() -> tuple[np.ndarray, np.ndarray]:
    """Per joint of the left hand: frame F (15, 3, 3) (columns: bone, flexion axis, cross) and the landmark it
    sits on and the one its bone points to (15, 2)."""
    frames = np.zeros((NUM_HAND_JOINTS, 3, 3))
    bones = np.zeros((NUM_HAND_JOINTS, 2), dtype=np.int64)
    for finger, (joints, marks) in FINGER_CHAINS.items():
        first = _unit(REST_HAND_LEFT[marks[1]] - REST_HAND_LEFT[marks[0]])
        bend = _THUMB_BEND if finger == "thumb" else np.array([0.0, -1.0, 0.0])
        hinge = _unit(np.cross(first, bend))  # rotating the bone about it by +θ moves it towards ``bend``
        for k, j in enumerate(joints):
            u = _unit(REST_HAND_LEFT[marks[k + 1]] - REST_HAND_LEFT[marks[k]])
            h = _unit(hinge - np.dot(hinge, u) * u)
            frames[j] = np.stack([u, h, np.cross(u, h)], axis=-1)
            bones[j] = (marks[k], marks[k + 1])
    return frames, bones


JOINT_FRAMES, JOINT_BONES = _joint_frames()
# (twist, flex, spread) limits in degrees, (low, high), per joint in HAND_JOINT_NAMES order
_KNUCKLE = ((-10.0, 10.0), (-30.0, 100.0), (-25.0, 25.0))
_MIDDLE_HINGE = ((0.0, 0.0), (-5.0, 115.0), (0.0, 0.0))
_END_HINGE = ((0.0, 0.0), (-10.0, 90.0), (0.0, 0.0))
_LIMITS = {
    "thumb1": ((-45.0, 45.0), (-40.0, 70.0), (-45.0, 50.0)),
    "thumb2": ((0.0, 0.0), (-15.0, 75.0), (0.0, 0.0)),
    "thumb3": ((0.0, 0.0), (-25.0, 90.0), (0.0, 0.0)),
    "pinky1": ((-10.0, 10.0), (-30.0, 100.0), (-35.0, 25.0)),
}
LIMITS_DEG = np.array([_LIMITS.get(n, _KNUCKLE if n.endswith("1") else _MIDDLE_HINGE if n.endswith("2")
                                   else _END_HINGE) for n in HAND_JOINT_NAMES])  # (15, 3, 2)

# A relaxed hand (what an unseen hand fades to): fingers gently curled, more towards the little finger.
_RELAXED_DEG = {"index": (8.0, 18.0, 10.0), "middle": (12.0, 22.0, 12.0), "ring": (16.0, 26.0, 14.0),
                "pinky": (20.0, 30.0, 16.0), "thumb": (12.0, 12.0, 10.0)}
RELAXED_ANGLES_DEG = np.zeros((NUM_HAND_JOINTS, 3))
for _finger, (_joints, _) in FINGER_CHAINS.items():
    RELAXED_ANGLES_DEG[list(_joints), 1] = _RELAXED_DEG[_finger]


# ------------------------------------------------------------------------------------------- angles
def angles_to_hand_pose(angles_rad, side: str = "left") -> np.ndarray:
    """(…, 15, 3) joint angles (twist, flex, spread), radians -> (…, 15, 3) local axis-angle of ``side``."""
    a = np.asarray(angles_rad, dtype=np.float64)
    R = JOINT_FRAMES @ euler_to_rotmat(a, EULER_ORDER) @ np.swapaxes(JOINT_FRAMES, -1, -2)
    aa = rotmat_to_axis_angle(R)
    return aa * MIRROR_AA if _side(side) else aa


def hand_pose_to_angles(pose_aa, side: str = "left") -> np.ndarray:
    """Inverse of :func:`angles_to_hand_pose`. (…, 15, 3) axis-angle -> (…, 15, 3) (twist, flex, spread) radians."""
    aa = np.asarray(pose_aa, dtype=np.float64) * (MIRROR_AA if _side(side) else 1.0)
    R = np.swapaxes(JOINT_FRAMES, -1, -2) @ axis_angle_to_rotmat(aa) @ JOINT_FRAMES
    return rotmat_to_euler(R, EULER_ORDER)


def clamp_angles(angles_rad) -> np.ndarray:
    """(…, 15, 3) angles limited to :data:`LIMITS_DEG` (radians in and out)."""
    lim = np.radians(LIMITS_DEG)
    return np.clip(np.asarray(angles_rad, dtype=np.float64), lim[..., 0], lim[..., 1])


def relaxed_hand_pose(side: str = "left") -> np.ndarray:
    """(15, 3) axis-angle of the relaxed hand (:data:`RELAXED_ANGLES_DEG`) for ``side``."""
    return angles_to_hand_pose(np.radians(RELAXED_ANGLES_DEG), side)


# ------------------------------------------------------------------------------------------- forward
def hand_forward_kinematics(pose_aa, side: str = "left") -> np.ndarray:
    """Landmarks of the posed rest hand. pose_aa: (N, 15, 3) local axis-angle -> (N, 21, 3) in the wrist frame."""
    aa = np.asarray(pose_aa, dtype=np.float64).reshape(-1, NUM_HAND_JOINTS, 3)
    rest = rest_landmarks(side)
    local = axis_angle_to_rotmat(aa)  # (N, 15, 3, 3)
    out = np.broadcast_to(rest, (aa.shape[0], 21, 3)).copy()
    for joints, marks in FINGER_CHAINS.values():
        G = np.broadcast_to(np.eye(3), (aa.shape[0], 3, 3))
        for k, j in enumerate(joints):
            G = G @ local[:, j]
            out[:, marks[k + 1]] = out[:, marks[k]] + G @ (rest[marks[k + 1]] - rest[marks[k]])
    return out


# ------------------------------------------------------------------------------------------- inverse
def _signed_angle(a, b, axis):
    """Angle (…,) turning direction a towards b about ``axis`` (unit), from their parts across the axis."""
    return np.arctan2(np.sum(np.cross(a, b) * axis, axis=-1), np.sum(a * b, axis=-1))


def _bend_weight(strength, full_deg: float = 15.0):
    """How far the measured bending plane is trusted (0 straight finger .. 1 bent by ``full_deg``)."""
    return np.clip(strength / np.sin(np.radians(full_deg)), 0.0, 1.0)


def palm_rotation(landmarks) -> np.ndarray:
    """(N, 3, 3) rotation taking the measured left-hand landmarks' palm onto the rest palm (least squares over
    ``layout.PALM_LANDMARKS``). landmarks: (N, 21, 3) in any right-handed metric frame."""
    P = np.asarray(landmarks, dtype=np.float64)
    rest = np.broadcast_to(REST_HAND_LEFT[list(PALM_LANDMARKS)], (P.shape[0], len(PALM_LANDMARKS), 3))
    return similarity_transform(P[:, list(PALM_LANDMARKS)], rest)[1]


def fit_hand(landmarks, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Finger pose of the ``side`` hand from 21 landmarks (any right-handed frame and scale: the capture gives
    MediaPipe's image landmarks, crop pixels and relative depth).

    landmarks: (N, 21, 3) -> (pose_aa (N, 15, 3) local axis-angle within :data:`LIMITS_DEG`,
    fit_error_deg (N,): mean angle between the measured bones and the bones of the returned pose)."""
    P = np.asarray(landmarks, dtype=np.float64).reshape(-1, 21, 3)
    if _side(side):
        P = P * MIRROR  # solve the mirror image as a left hand
    R_palm = palm_rotation(P)
    bones = np.einsum("nij,nkj->nki", R_palm, P[:, JOINT_BONES[:, 1]] - P[:, JOINT_BONES[:, 0]])  # (N, 15, 3)
    v = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-9)
    F = JOINT_FRAMES
    local = np.broadcast_to(np.eye(3), (P.shape[0], NUM_HAND_JOINTS, 3, 3)).copy()
    for joints, _ in FINGER_CHAINS.values():
        j1, j2, j3 = joints
        u1, h = F[j1][:, 0], F[j1][:, 1]
        v1, v2, v3 = v[:, j1], v[:, j2], v[:, j3]
        h_swing = rotmat_from_vectors(u1, v1) @ h  # (N, 3) the rest hinge carried along by the first bone
        plane = np.cross(v1, v2) + np.cross(v2, v3)
        plane = plane - np.sum(plane * v1, axis=-1, keepdims=True) * v1
        strength = np.linalg.norm(plane, axis=-1, keepdims=True)
        plane = plane / np.maximum(strength, 1e-9)
        plane = np.where(np.sum(plane * h_swing, axis=-1, keepdims=True) < 0, -plane, plane)
        w = _bend_weight(strength)
        h_m = w * plane + (1.0 - w) * h_swing
        h_m = _unit(h_m - np.sum(h_m * v1, axis=-1, keepdims=True) * v1)
        F_meas = np.stack([v1, h_m, np.cross(v1, h_m)], axis=-1)  # (N, 3, 3)
        R1 = F_meas @ F[j1].T  # maps the rest (bone, hinge) onto the measured ones
        expected = R1 @ F[j2][:, 0]
        theta2 = _signed_angle(expected, v2, h_m)
        R2 = axis_angle_to_rotmat(F[j2][:, 1] * theta2[:, None])
        expected = R1 @ R2 @ F[j3][:, 0]
        theta3 = _signed_angle(expected, v3, h_m)
        local[:, j1], local[:, j2] = R1, R2
        local[:, j3] = axis_angle_to_rotmat(F[j3][:, 1] * theta3[:, None])
    angles = clamp_angles(hand_pose_to_angles(rotmat_to_axis_angle(local)))
    pose = angles_to_hand_pose(angles)
    posed = hand_forward_kinematics(pose)
    posed_bones = _unit(posed[:, JOINT_BONES[:, 1]] - posed[:, JOINT_BONES[:, 0]])
    error = np.degrees(np.arccos(np.clip(np.sum(posed_bones * v, axis=-1), -1.0, 1.0))).mean(axis=-1)
    return (pose * MIRROR_AA if _side(side) else pose), error
