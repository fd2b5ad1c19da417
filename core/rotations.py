"""The one rotation module. Its docstring is the glossary.

Conventions
-----------
- Rotation matrices act on **column vectors**: ``x_parent = R @ x_child``. ``rotmat``: (..., 3, 3).
- Quaternions are **WXYZ** (as Blender's ``mathutils.Quaternion``): ``quat_wxyz``: (..., 4).
- Axis-angle ``pose_aa``: (..., 3), the axis scaled by the angle in radians (SMPL's 72-d pose = 24 × 3).
- 6D ``rot6d``: (..., 6) = the first two columns of R flattened row-major, i.e. ``R[..., :, :2].reshape(6)``
  (TCMR/SPIN's layout: x0..x5 → columns a1 = (x0, x2, x4), a2 = (x1, x3, x5)).
- Frames: the **OpenCV camera** frame is x right, y down, z forward (TCMR's camera-frame output lives here).
  **Blender world** is Z up; we place the capture camera looking along world +Y, so
  ``x_blender = R_BLENDER_FROM_OPENCV @ x_opencv``. A Blender camera object looks down its local -Z with +Y
  up: ``R_BLENDER_CAM_FROM_OPENCV_CAM`` maps OpenCV camera coordinates to the camera object's local ones.
- Names are ``<src>_to_<dst>``. numpy functions work in float64 and accept any leading shape; the
  ``*_torch`` functions reproduce the official TCMR code operation by operation (float32 parity) and keep
  the input's dtype and device. Exactly one implementation of each conversion per array library.
"""

from __future__ import annotations

import numpy as np

# OpenCV camera (x right, y down, z forward) -> Blender world with the camera looking along +Y, Z up.
R_BLENDER_FROM_OPENCV = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
# OpenCV camera -> Blender camera object local frame (x right, y up, looking down -z).
R_BLENDER_CAM_FROM_OPENCV_CAM = np.diag([1.0, -1.0, -1.0])
# SMPL's canonical frame (y up, z towards the viewer) -> Blender world (Z up, -Y towards the viewer).
R_BLENDER_FROM_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


# ----------------------------------------------------------------------------------------------- numpy
def axis_angle_to_rotmat(pose_aa: np.ndarray) -> np.ndarray:
    """Rodrigues' formula. pose_aa: (..., 3) -> rotmat (..., 3, 3)."""
    aa = np.asarray(pose_aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)  # (..., 1)
    small = angle < 1e-8
    axis = aa / np.where(small, 1.0, angle)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zeros = np.zeros_like(x)
    K = np.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], axis=-1).reshape(aa.shape[:-1] + (3, 3))
    s = np.sin(angle)[..., None]  # (..., 1, 1)
    c = np.cos(angle)[..., None]
    eye = np.broadcast_to(np.eye(3), K.shape)
    R = eye + s * K + (1.0 - c) * (K @ K)
    # below 1e-8 rad the first-order form is exact to float64 precision
    Ksmall = np.stack([zeros, -aa[..., 2], aa[..., 1], aa[..., 2], zeros, -aa[..., 0], -aa[..., 1], aa[..., 0], zeros],
                      axis=-1).reshape(K.shape)
    return np.where(small[..., None], eye + Ksmall, R)


def rotmat_to_quat_wxyz(rotmat: np.ndarray) -> np.ndarray:
    """Shepperd's method (stable for every angle). rotmat: (..., 3, 3) -> quat_wxyz (..., 4), w >= 0."""
    R = np.asarray(rotmat, dtype=np.float64)
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    trace = m00 + m11 + m22
    # four candidates, each well conditioned when its leading term is the largest
    cand = np.stack(
        [
            np.stack([1.0 + trace, m21 - m12, m02 - m20, m10 - m01], axis=-1),
            np.stack([m21 - m12, 1.0 + m00 - m11 - m22, m01 + m10, m02 + m20], axis=-1),
            np.stack([m02 - m20, m01 + m10, 1.0 - m00 + m11 - m22, m12 + m21], axis=-1),
            np.stack([m10 - m01, m02 + m20, m12 + m21, 1.0 - m00 - m11 + m22], axis=-1),
        ],
        axis=-2,
    )  # (..., 4, 4)
    lead = np.stack([trace, m00, m11, m22], axis=-1)  # (..., 4)
    best = np.argmax(lead, axis=-1)
    q = np.take_along_axis(cand, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0.0, -q, q)


def quat_wxyz_to_rotmat(quat_wxyz: np.ndarray) -> np.ndarray:
    """quat_wxyz: (..., 4), any norm > 0 -> rotmat (..., 3, 3)."""
    q = np.asarray(quat_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    R = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return R.reshape(q.shape[:-1] + (3, 3))


def rotmat_to_axis_angle(rotmat: np.ndarray) -> np.ndarray:
    """rotmat: (..., 3, 3) -> pose_aa (..., 3), angle in [0, π]. Goes through the quaternion (stable at 0 and π)."""
    q = rotmat_to_quat_wxyz(rotmat)
    return quat_wxyz_to_axis_angle(q)


def quat_wxyz_to_axis_angle(quat_wxyz: np.ndarray) -> np.ndarray:
    """quat_wxyz: (..., 4) -> pose_aa (..., 3), angle in [0, π]."""
    q = np.asarray(quat_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0.0, -q, q)
    xyz = q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    # angle / sin(angle/2) -> 2 as s -> 0
    scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0)
    return xyz * scale


def axis_angle_to_quat_wxyz(pose_aa: np.ndarray) -> np.ndarray:
    """pose_aa: (..., 3) -> quat_wxyz (..., 4)."""
    aa = np.asarray(pose_aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle -> 0.5 as angle -> 0
    k = np.where(angle > 1e-12, np.sin(half) / np.where(angle > 1e-12, angle, 1.0), 0.5)
    return np.concatenate([np.cos(half), aa * k], axis=-1)


def quat_wxyz_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a ⊗ b (apply b first, then a). (..., 4) × (..., 4) -> (..., 4)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_wxyz_make_continuous(quat_wxyz: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions share a hemisphere (q_t · q_{t-1} >= 0).

    quat_wxyz: (T, ..., 4) -> same shape. Needed before keyframing: Blender interpolates the raw
    components, and q and -q are the same rotation but interpolate the long way round.
    """
    q = np.array(quat_wxyz, dtype=np.float64, copy=True)
    if q.shape[0] < 2:
        return q
    dots = np.sum(q[1:] * q[:-1], axis=-1)  # (T-1, ...)
    step = np.where(dots < 0.0, -1.0, 1.0)
    sign = np.concatenate([np.ones_like(step[:1]), np.cumprod(step, axis=0)], axis=0)
    return q * sign[..., None]


def quat_wxyz_slerp(q0: np.ndarray, q1: np.ndarray, t) -> np.ndarray:
    """Spherical linear interpolation along the shorter arc. q0, q1: (..., 4); t: scalar or (...) in [0, 1]
    -> unit quat_wxyz (..., 4). t = 0 gives q0 (normalised), t = 1 gives q1 or -q1 (the same rotation)."""
    a = np.asarray(q0, dtype=np.float64)
    b = np.asarray(q1, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-9  # (almost) the same rotation: linear interpolation is exact to float64 precision
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    q = wa * a + wb * b
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_wxyz_average(quat_wxyz: np.ndarray, weights=None, axis: int = 0) -> np.ndarray:
    """Weighted mean rotation along ``axis``: the unit eigenvector of the largest eigenvalue of
    M = Σ w q qᵀ (Markley et al. 2007, the chordal L2 mean; independent of each q's sign).

    quat_wxyz: (..., K, ..., 4) with the K samples on ``axis``; weights: (K,) >= 0 or None (equal)
    -> (..., ..., 4) unit, w >= 0.
    """
    q = np.moveaxis(np.asarray(quat_wxyz, dtype=np.float64), axis, -2)  # (..., K, 4)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w = np.ones(q.shape[-2]) if weights is None else np.asarray(weights, dtype=np.float64)
    M = np.einsum("...ki,...kj,k->...ij", q, q, w)  # (..., 4, 4)
    _, vecs = np.linalg.eigh(M)
    mean = vecs[..., :, -1]
    return np.where(mean[..., :1] < 0.0, -mean, mean)


def rotmat_from_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b`` (R @ â = b̂). a, b: (..., 3), any
    non-zero length -> rotmat (..., 3, 3). Opposite directions turn by π about an axis perpendicular to a."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = np.broadcast_arrays(a / np.linalg.norm(a, axis=-1, keepdims=True),
                               b / np.linalg.norm(b, axis=-1, keepdims=True))
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = np.sum(a * b, axis=-1, keepdims=True)
    angle = np.arctan2(s, c)  # (..., 1) in [0, π]
    # opposite (or equal) directions: any axis perpendicular to a
    helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    perp = np.cross(a, helper)
    perp = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
    unit = np.where(s > 1e-12, axis / np.where(s > 1e-12, s, 1.0), perp)
    return axis_angle_to_rotmat(unit * angle)


def rot6d_to_rotmat(rot6d: np.ndarray) -> np.ndarray:
    """Gram-Schmidt on the two 6D columns. rot6d: (..., 6) -> rotmat (..., 3, 3)."""
    x = np.asarray(rot6d, dtype=np.float64).reshape(np.shape(rot6d)[:-1] + (3, 2))
    a1, a2 = x[..., 0], x[..., 1]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    u = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def rotmat_to_rot6d(rotmat: np.ndarray) -> np.ndarray:
    """rotmat: (..., 3, 3) -> rot6d (..., 6) (first two columns, row-major)."""
    R = np.asarray(rotmat, dtype=np.float64)
    return R[..., :, :2].reshape(R.shape[:-2] + (6,))


def project_to_rotmat(matrix: np.ndarray) -> np.ndarray:
    """Nearest rotation (SVD, det +1) to each 3×3 matrix, e.g. after averaging. (..., 3, 3) -> (..., 3, 3)."""
    M = np.asarray(matrix, dtype=np.float64)
    U, _, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.zeros(M.shape)
    D[..., 0, 0] = 1.0
    D[..., 1, 1] = 1.0
    D[..., 2, 2] = d
    return U @ D @ Vt


def rotmat_to_euler(rotmat: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Blender's Euler angles (radians) of each rotation. ``order`` as Blender's ``rotation_mode``
    ("XYZ" applies X first: R = R_z · R_y · R_x). rotmat: (..., 3, 3) -> euler (..., 3) in x, y, z order."""
    R = np.asarray(rotmat, dtype=np.float64)
    i, j, k = ("XYZ".index(c) for c in order)
    s = 1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0  # even permutation
    angles = np.empty(R.shape[:-2] + (3,))
    angles[..., j] = np.arcsin(np.clip(-s * R[..., k, i], -1.0, 1.0))
    angles[..., i] = np.arctan2(s * R[..., k, j], R[..., k, k])
    angles[..., k] = np.arctan2(s * R[..., j, i], R[..., i, i])
    return angles


def euler_to_rotmat(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Inverse of :func:`rotmat_to_euler`. euler: (..., 3) x, y, z angles -> rotmat (..., 3, 3)."""
    e = np.asarray(euler, dtype=np.float64)
    R = np.broadcast_to(np.eye(3), e.shape[:-1] + (3, 3))
    for c in order:  # the first axis of ``order`` is applied first
        aa = np.zeros(e.shape)
        axis = "XYZ".index(c)
        aa[..., axis] = e[..., axis]
        R = axis_angle_to_rotmat(aa) @ R
    return R


# ----------------------------------------------------------------------------------------------- torch
def rot6d_to_rotmat_torch(rot6d):
    """Official TCMR/SPIN 6D -> matrix, op for op. rot6d: (B, 6·k) -> rotmat (B·k, 3, 3)."""
    import torch
    import torch.nn.functional as F

    x = rot6d.reshape(-1, 3, 2)
    a1 = x[:, :, 0]
    a2 = x[:, :, 1]
    b1 = F.normalize(a1)
    b2 = F.normalize(a2 - torch.einsum("bi,bi->b", b1, a2).unsqueeze(-1) * b1)
    b3 = torch.cross(b1, b2, dim=1)
    return torch.stack((b1, b2, b3), dim=-1)


def rotmat_to_axis_angle_torch(rotmat):
    """Official (kornia-derived) matrix -> axis-angle, op for op. rotmat: (B, 3, 3) -> pose_aa (B, 3).

    Near 180° the axis sign is implementation-specific: compare rotation matrices, not axis-angle.
    """
    import torch

    eps = 1e-6
    rt = rotmat.transpose(1, 2)
    mask_d2 = rt[:, 2, 2] < eps
    mask_d0_d1 = rt[:, 0, 0] > rt[:, 1, 1]
    mask_d0_nd1 = rt[:, 0, 0] < -rt[:, 1, 1]

    t0 = 1 + rt[:, 0, 0] - rt[:, 1, 1] - rt[:, 2, 2]
    q0 = torch.stack([rt[:, 1, 2] - rt[:, 2, 1], t0, rt[:, 0, 1] + rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2]], -1)
    t1 = 1 - rt[:, 0, 0] + rt[:, 1, 1] - rt[:, 2, 2]
    q1 = torch.stack([rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] + rt[:, 1, 0], t1, rt[:, 1, 2] + rt[:, 2, 1]], -1)
    t2 = 1 - rt[:, 0, 0] - rt[:, 1, 1] + rt[:, 2, 2]
    q2 = torch.stack([rt[:, 0, 1] - rt[:, 1, 0], rt[:, 2, 0] + rt[:, 0, 2], rt[:, 1, 2] + rt[:, 2, 1], t2], -1)
    t3 = 1 + rt[:, 0, 0] + rt[:, 1, 1] + rt[:, 2, 2]
    q3 = torch.stack([t3, rt[:, 1, 2] - rt[:, 2, 1], rt[:, 2, 0] - rt[:, 0, 2], rt[:, 0, 1] - rt[:, 1, 0]], -1)

    c0 = (mask_d2 & mask_d0_d1).to(rotmat.dtype).unsqueeze(-1)
    c1 = (mask_d2 & ~mask_d0_d1).to(rotmat.dtype).unsqueeze(-1)
    c2 = (~mask_d2 & mask_d0_nd1).to(rotmat.dtype).unsqueeze(-1)
    c3 = (~mask_d2 & ~mask_d0_nd1).to(rotmat.dtype).unsqueeze(-1)
    q = q0 * c0 + q1 * c1 + q2 * c2 + q3 * c3
    t = t0.unsqueeze(-1) * c0 + t1.unsqueeze(-1) * c1 + t2.unsqueeze(-1) * c2 + t3.unsqueeze(-1) * c3
    q = q / torch.sqrt(t)
    q = q * 0.5

    sin_sq = q[:, 1] * q[:, 1] + q[:, 2] * q[:, 2] + q[:, 3] * q[:, 3]
    sin_t = torch.sqrt(sin_sq)
    cos_t = q[:, 0]
    two_theta = 2.0 * torch.where(cos_t < 0.0, torch.atan2(-sin_t, -cos_t), torch.atan2(sin_t, cos_t))
    k = torch.where(sin_sq > 0.0, two_theta / sin_t, 2.0 * torch.ones_like(sin_t))
    aa = q[:, 1:] * k.unsqueeze(-1)
    return torch.nan_to_num(aa, nan=0.0)
