"""Where to look for each person's hands and face: the body's own joints projected into the frame.

The captured body (rest joints, local rotations, camera-frame translation) is posed (``core.smpl``) and its wrists,
hands and head are projected with the capture's pinhole camera (``core.capture.camera``: focal length in pixels,
principal point at the image centre), so the crops follow the person the body belongs to. A crop is a square of a fixed
size in metres at the joint's depth (``ExtremitiesConfig.hand_crop_m`` / ``face_crop_m``), cut and resampled by
:func:`core.capture.crop.crop_person` (OpenCV, bilinear, black outside the frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..capture.camera import project_perspective
from ..smpl import forward_kinematics

# SMPL joints (core.skeleton.SMPL_JOINT_NAMES)
NECK, HEAD = 12, 15
WRISTS = (20, 21)  # left_wrist, right_wrist: the joints the fingers hang off
HANDS = (22, 23)  # left_hand, right_hand: about the knuckles, the middle of the whole hand


@dataclass
class BodyTargets:
    """Per row of a track, in source pixels. wrist_px: (N, 2, 2) the body's wrists (left, right); hand_box:
    (N, 2, 3) hand crops (cx, cy, side); head_box: (N, 3) face crop; neck_rotmat: (N, 3, 3) the neck's global
    rotation in the camera frame; head_rotmat: (N, 3, 3) the body's own head rotation local to the neck."""

    wrist_px: np.ndarray
    hand_box: np.ndarray
    head_box: np.ndarray
    neck_rotmat: np.ndarray
    head_rotmat: np.ndarray


def body_targets(rest_joints, rotmat, transl_cam, focal_px: float, width: int, height: int,
                 hand_crop_m: float, face_crop_m: float) -> BodyTargets:
    """rest_joints: (24, 3); rotmat: (N, 24, 3, 3) camera-frame local rotations; transl_cam: (N, 3) metres."""
    R = np.asarray(rotmat, dtype=np.float64)
    P, G = forward_kinematics(rest_joints, R)
    P = P + np.asarray(transl_cam, dtype=np.float64)[:, None]  # (N, 24, 3) camera frame
    depth = np.maximum(P[..., 2], 1e-3)  # (a joint behind the camera still gets a finite, huge box)
    px = project_perspective(P, focal_px, width, height)  # (N, 24, 2)

    def box(joint, metres):
        return np.concatenate([px[:, joint], (focal_px * metres / depth[:, joint])[..., None]], axis=-1)

    hand_box = np.stack([box(j, hand_crop_m) for j in HANDS], axis=1)
    return BodyTargets(wrist_px=px[:, list(WRISTS)], hand_box=hand_box, head_box=box(HEAD, face_crop_m),
                       neck_rotmat=G[:, NECK], head_rotmat=R[:, HEAD])


def frame_to_crop(points_px, box, crop_px: int) -> np.ndarray:
    """Source pixels -> pixels of the crop ``box`` = (cx, cy, side) resampled to ``crop_px``. (..., 2) -> (..., 2)."""
    cx, cy, side = (float(v) for v in box)
    k = crop_px / side
    return (np.asarray(points_px, dtype=np.float64) - (cx, cy)) * k + crop_px / 2.0
