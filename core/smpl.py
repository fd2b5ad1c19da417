"""The SMPL body: numpy geometry (no torch needed, the Blender add-on uses it) and the model files.

Arrays use the official ``.pkl`` key names: ``v_template`` (6890, 3), ``shapedirs`` (6890, 3, 10),
``posedirs`` (6890, 3, 207), ``J_regressor`` (24, 6890) dense, ``weights`` (6890, 24),
``kintree_table`` (2, 24), ``f`` (13776, 3).
"""

from __future__ import annotations

import numpy as np

from .skeleton import SMPL_PARENTS


def shaped_vertices(arrays: dict, betas: np.ndarray) -> np.ndarray:
    """Rest mesh for a shape. betas: (10,) or (B, 10) -> (6890, 3) or (B, 6890, 3), float64."""
    betas = np.asarray(betas, dtype=np.float64)
    shapedirs = np.asarray(arrays["shapedirs"], dtype=np.float64)[..., : betas.shape[-1]]
    return np.asarray(arrays["v_template"], dtype=np.float64) + np.einsum("vcb,...b->...vc", shapedirs, betas)


def rest_joints(arrays: dict, betas: np.ndarray) -> np.ndarray:
    """Rest joints ``J_regressor (v_template + shapedirs·betas)``. betas: (10,) -> (24, 3) float64 (SMPL frame)."""
    return np.asarray(arrays["J_regressor"], dtype=np.float64) @ shaped_vertices(arrays, betas)


def forward_kinematics(rest_joints_xyz: np.ndarray, rotmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SMPL forward kinematics of the joints (no translation).

    rest_joints_xyz: (24, 3) rest joints; rotmat: (T, 24, 3, 3) local rotations (joint 0 = global orient).
    Returns (posed joints (T, 24, 3), global rotations (T, 24, 3, 3)), float64.
    The root joint rotates about itself: posed[:, 0] == rest[0].
    """
    J = np.asarray(rest_joints_xyz, dtype=np.float64)
    R = np.asarray(rotmat, dtype=np.float64)
    T = R.shape[0]
    G = np.empty_like(R)
    P = np.empty((T, 24, 3))
    G[:, 0] = R[:, 0]
    P[:, 0] = J[0]
    for j in range(1, 24):
        p = SMPL_PARENTS[j]
        G[:, j] = G[:, p] @ R[:, j]
        P[:, j] = P[:, p] + np.einsum("tij,j->ti", G[:, p], J[j] - J[p])
    return P, G
