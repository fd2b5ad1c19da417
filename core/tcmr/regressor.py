"""SPIN's iterative regressor as TCMR uses it: feature (B, 2048) -> 6D pose, betas, weak-perspective camera.

Three iterations from the mean parameters (buffers ``init_pose`` (1, 144), ``init_shape`` (1, 10),
``init_cam`` (1, 3)); each: ``xc = [feature ‖ pose6d ‖ betas ‖ cam]`` (2205) -> fc1 -> fc2 (no nonlinearity;
the release's dropouts are identity at eval) -> residual updates by ``decpose`` / ``decshape`` / ``deccam``.
Then 6D -> rotation matrices (the official Gram-Schmidt) and matrices -> axis-angle (the official
quaternion route), both from :mod:`core.rotations`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..rotations import rot6d_to_rotmat_torch, rotmat_to_axis_angle_torch

NPOSE = 24 * 6
N_ITER = 3


class Regressor(nn.Module):
    """feature (B, 2048) -> dict rotmat (B, 24, 3, 3), pose_aa (B, 24, 3), betas (B, 10), cam (B, 3).

    ``smpl``: an optional :class:`core.smpl.SmplBody`; it is registered as ``regressor.smpl`` so the names
    match the official checkpoint's ``regressor.smpl.*`` entries. With it (and ``with_smpl``), the result
    also has joints49 (B, 49, 3) and verts (B, 6890, 3) (verts only when ``with_verts``).
    """

    def __init__(self, smpl: nn.Module | None = None):
        super().__init__()
        self.register_buffer("init_pose", torch.zeros(1, NPOSE))
        self.register_buffer("init_shape", torch.zeros(1, 10))
        self.register_buffer("init_cam", torch.zeros(1, 3))
        self.fc1 = nn.Linear(2048 + NPOSE + 13, 1024)
        self.fc2 = nn.Linear(1024, 1024)
        self.decpose = nn.Linear(1024, NPOSE)
        self.decshape = nn.Linear(1024, 10)
        self.deccam = nn.Linear(1024, 3)
        self.smpl = smpl

    def forward(self, x, with_smpl: bool = True, with_verts: bool = True) -> dict:
        batch = x.shape[0]
        pose = self.init_pose.expand(batch, -1)
        shape = self.init_shape.expand(batch, -1)
        cam = self.init_cam.expand(batch, -1)
        for _ in range(N_ITER):
            xc = torch.cat([x, pose, shape, cam], 1)
            xc = self.fc2(self.fc1(xc))
            pose = self.decpose(xc) + pose
            shape = self.decshape(xc) + shape
            cam = self.deccam(xc) + cam
        rotmat = rot6d_to_rotmat_torch(pose).view(batch, 24, 3, 3)
        out = {
            "rotmat": rotmat,
            "pose_aa": rotmat_to_axis_angle_torch(rotmat.reshape(-1, 3, 3)).reshape(batch, 24, 3),
            "betas": shape,
            "cam": cam,
        }
        if with_smpl and self.smpl is not None:
            out.update(self.smpl(rotmat, shape, with_verts=with_verts))
        return out
