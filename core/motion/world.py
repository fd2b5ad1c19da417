"""The upright world frame of a floor, and SMPL motion moved between it and the camera frame.

World frame: Z = the floor normal (up), the floor at Z = 0, the camera at (0, 0, height) with its viewing
direction turned onto the +Y half (world +Y = the camera's forward axis projected on the floor), X = Y × Z.
``x_world = R_world_from_cam @ x_cam + cam_position_world``; with a level camera this is exactly the add-on's
old fixed mapping (``core.rotations.R_BLENDER_FROM_OPENCV``) lifted by the camera height.
"""

from __future__ import annotations

import numpy as np


def world_frame(normal_cam: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(R_world_from_cam (3, 3), cam_position_world (3,)) for the floor {normal_cam · x = offset}."""
    z = np.asarray(normal_cam, dtype=np.float64)
    z = z / np.linalg.norm(z)
    forward = np.array([0.0, 0.0, 1.0])
    y = forward - (forward @ z) * z
    if np.linalg.norm(y) < 1e-6:  # looking straight down or up: keep the image's "up" as forward
        y = np.array([0.0, -1.0, 0.0]) - (-z[1]) * z
    y = y / np.linalg.norm(y)
    x = np.cross(y, z)
    R = np.stack([x, y, z])
    return R, np.array([0.0, 0.0, -float(offset)])


def motion_to_world(rotmat: np.ndarray, transl: np.ndarray, root_joint: np.ndarray, R: np.ndarray,
                    c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame SMPL motion -> world. rotmat: (T, 24, 3, 3), transl: (T, 3), root_joint: (3,) rest pelvis
    J₀; R, c: x_world = R x_cam + c. SMPL turns about J₀, so t_w = R (J₀ + t) + c − J₀."""
    Rw = np.array(rotmat, dtype=np.float64, copy=True)
    Rw[:, 0] = R @ Rw[:, 0]
    J0 = np.asarray(root_joint, dtype=np.float64)
    return Rw, (J0 + np.asarray(transl, dtype=np.float64)) @ R.T + c - J0


def motion_to_camera(rotmat_world: np.ndarray, transl_world: np.ndarray, root_joint: np.ndarray, R: np.ndarray,
                     c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`motion_to_world`."""
    Rc = np.array(rotmat_world, dtype=np.float64, copy=True)
    Rc[:, 0] = R.T @ Rc[:, 0]
    J0 = np.asarray(root_joint, dtype=np.float64)
    return Rc, (J0 + np.asarray(transl_world, dtype=np.float64) - c) @ R - J0
