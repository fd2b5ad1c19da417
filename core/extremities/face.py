"""The face's head rotation: MediaPipe's facial transformation matrix -> the SMPL head's rotation (numpy only).

MediaPipe's matrix maps its canonical face (x = the face's left, y = up, z = out of the face; the same axes as
SMPL's canonical head) into the crop's camera with OpenGL axes (x right, y up, z towards the viewer). Our camera
frame is OpenCV's (x right, y down, z forward), and a crop is a square of the frame off its centre: the landmarker
sees it as if its camera looked straight at the crop, so the crop camera is the real one turned towards the crop's
centre (a first-order model of the off-axis view; exact at the image centre).
"""

from __future__ import annotations

import numpy as np

from ..rotations import project_to_rotmat, rotmat_from_vectors

R_OPENCV_FROM_OPENGL = np.diag([1.0, -1.0, -1.0])


def head_rotmat_from_face(matrix, box, focal_px: float, width: int, height: int) -> np.ndarray:
    """Global rotation (3, 3) of the head in the OpenCV camera frame (canonical head -> camera) from MediaPipe's
    facial transformation ``matrix`` (4, 4) of the crop ``box`` = (cx, cy, side) in source pixels."""
    R_gl = project_to_rotmat(np.asarray(matrix, dtype=np.float64)[:3, :3])  # (drops any scale)
    ray = np.array([(float(box[0]) - width / 2.0) / focal_px, (float(box[1]) - height / 2.0) / focal_px, 1.0])
    return rotmat_from_vectors(np.array([0.0, 0.0, 1.0]), ray) @ R_OPENCV_FROM_OPENGL @ R_gl
