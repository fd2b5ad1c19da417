"""Motion metrics (spec §4, TCMR's evaluate.py) and foot skate. numpy only.

Every function takes positions in metres and returns **per-frame (or per-step) values in the same unit**;
multiply by 1000 for the millimetres papers report, and take the mean over all evaluated frames of all
sequences. Shapes: ``pred``/``gt`` joints (T, J, 3), vertices (T, V, 3).

- :func:`mpjpe`: mean joint distance after root alignment (root = midpoint of the two hips; for SMPL's 24
  joints these are 1 and 2, for the 14 evaluation joints 2 and 3).
- :func:`pa_mpjpe`: MPJPE after a per-frame similarity Procrustes alignment of ``pred`` onto ``gt``,
  computed exactly as spec §4 (K = X₁X₂ᵀ, R = V Z Uᵀ, s = tr(RK)/‖X₁‖²).
- :func:`mpvpe`: mean vertex distance, no alignment (both meshes in the SMPL origin frame).
- :func:`accel_error`: ‖â_t − a_t‖ of the root-aligned second differences a_t = X_{t−1} − 2X_t + X_{t+1},
  for t = 1..T−2 (metres per frame²).
- :func:`acceleration`: the plain ‖X_{t−1} − 2X_t + X_{t+1}‖ (no ground truth), t = 1..T−2.
- :func:`foot_skate`: horizontal travel of foot joints between consecutive frames that are both in contact
  (metres per frame step): a planted foot should not move at all.
- :func:`lean_deg`, :func:`heel_raise_deg`, :func:`flight_frames`: what a clip is like (trunk lean, foot pitch,
  both feet off the floor), to check that test motion has the properties it is meant to have.
"""

from __future__ import annotations

import numpy as np

SMPL_HIPS = (1, 2)  # left_hip, right_hip in SMPL's 24-joint order
J14_HIPS = (2, 3)  # rhip, lhip in the 14 evaluation joints (H36M_TO_J14 order)


def root_align(joints: np.ndarray, root=SMPL_HIPS) -> np.ndarray:
    """Subtract the root (the mean of the joints listed in ``root``, or one joint index) from every joint.
    joints: (T, J, 3) -> (T, J, 3) float64. ``root=None`` returns the joints unchanged."""
    x = np.asarray(joints, dtype=np.float64)
    if root is None:
        return x
    idx = [root] if np.isscalar(root) else list(root)
    return x - x[:, idx].mean(axis=1, keepdims=True)


def _check(pred, gt):
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be (T, J, 3), got {p.shape} and {g.shape}")
    return p, g


def mpjpe(pred: np.ndarray, gt: np.ndarray, root=SMPL_HIPS) -> np.ndarray:
    """Per-frame mean per-joint position error after root alignment. (T, J, 3) ×2 -> (T,)."""
    p, g = _check(pred, gt)
    return np.linalg.norm(root_align(p, root) - root_align(g, root), axis=-1).mean(axis=-1)


def similarity_transform(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame least-squares similarity (Umeyama/Kabsch, no reflection) taking ``pred`` onto ``gt``:
    gt ≈ s·R·pred + t. (T, J, 3) ×2 -> (s (T,), R (T, 3, 3), t (T, 3))."""
    p, g = _check(pred, gt)
    mu1 = p.mean(axis=1, keepdims=True)  # (T, 1, 3)
    mu2 = g.mean(axis=1, keepdims=True)
    X1 = np.swapaxes(p - mu1, 1, 2)  # (T, 3, J)
    X2 = np.swapaxes(g - mu2, 1, 2)
    K = X1 @ np.swapaxes(X2, 1, 2)  # (T, 3, 3)
    U, _, Vt = np.linalg.svd(K)
    V = np.swapaxes(Vt, 1, 2)
    Z = np.broadcast_to(np.eye(3), K.shape).copy()
    Z[:, 2, 2] = np.sign(np.linalg.det(U @ np.swapaxes(V, 1, 2)))
    R = V @ Z @ np.swapaxes(U, 1, 2)
    var1 = np.sum(X1 ** 2, axis=(1, 2))  # ‖X₁‖²_F
    s = np.trace(R @ K, axis1=1, axis2=2) / np.where(var1 > 0, var1, 1.0)
    t = mu2[:, 0] - s[:, None] * np.einsum("tij,tj->ti", R, mu1[:, 0])  # (T, 3)
    return s, R, t


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame similarity transform (scale, rotation, translation) of ``pred`` onto ``gt``, spec §4.
    (T, J, 3) ×2 -> aligned pred (T, J, 3)."""
    p, _ = _check(pred, gt)
    s, R, t = similarity_transform(pred, gt)
    return s[:, None, None] * np.einsum("tij,tkj->tki", R, p) + t[:, None, :]


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame MPJPE after Procrustes alignment (no further root alignment). (T, J, 3) ×2 -> (T,)."""
    p, g = _check(pred, gt)
    return np.linalg.norm(procrustes_align(p, g) - g, axis=-1).mean(axis=-1)


def mpvpe(pred_verts: np.ndarray, gt_verts: np.ndarray) -> np.ndarray:
    """Per-frame mean per-vertex error, no alignment. (T, V, 3) ×2 -> (T,)."""
    p, g = _check(pred_verts, gt_verts)
    return np.linalg.norm(p - g, axis=-1).mean(axis=-1)


def _second_difference(x: np.ndarray) -> np.ndarray:
    return x[:-2] - 2.0 * x[1:-1] + x[2:]  # (T-2, J, 3), index t-1 holds frame t


def accel_error(pred: np.ndarray, gt: np.ndarray, root=SMPL_HIPS, visible=None) -> np.ndarray:
    """Per-frame acceleration error for frames 1..T−2 (metres per frame²). (T, J, 3) ×2 -> (T−2,).

    visible: optional (T,) bool; a frame's value is dropped when any of its three frames is invisible
    (then the result only holds the kept frames)."""
    p, g = _check(pred, gt)
    if p.shape[0] < 3:
        return np.zeros(0)
    err = np.linalg.norm(_second_difference(root_align(p, root)) - _second_difference(root_align(g, root)),
                         axis=-1).mean(axis=-1)
    if visible is not None:
        v = np.asarray(visible, dtype=bool)
        keep = v[:-2] & v[1:-1] & v[2:]
        err = err[keep]
    return err


def acceleration(joints: np.ndarray, root=None) -> np.ndarray:
    """Per-frame mean joint acceleration ‖X_{t−1} − 2X_t + X_{t+1}‖ for frames 1..T−2. (T, J, 3) -> (T−2,)."""
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"joints must be (T, J, 3), got {x.shape}")
    if x.shape[0] < 3:
        return np.zeros(0)
    return np.linalg.norm(_second_difference(root_align(x, root)), axis=-1).mean(axis=-1)


def foot_skate(foot_positions: np.ndarray, contact: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Horizontal travel of foot joints while they are in contact.

    foot_positions: (T, F, 3) world positions of F foot joints; contact: (T, F) bool; up: (3,) the floor
    normal (world Z by default). Returns the horizontal distance moved from frame t−1 to t, for every joint
    and step where the joint is in contact at both frames: (K,) metres per step (empty when never in contact).
    """
    x = np.asarray(foot_positions, dtype=np.float64)
    c = np.asarray(contact, dtype=bool)
    if x.ndim != 3 or x.shape[-1] != 3 or c.shape != x.shape[:2]:
        raise ValueError(f"foot_positions must be (T, F, 3) and contact (T, F), got {x.shape} and {c.shape}")
    n = np.asarray(up, dtype=np.float64)
    n = n / np.linalg.norm(n)
    step = x[1:] - x[:-1]  # (T-1, F, 3)
    horizontal = step - (step @ n)[..., None] * n
    both = c[1:] & c[:-1]
    return np.linalg.norm(horizontal, axis=-1)[both]


# ------------------------------------------------------------------ what a motion is like (for test clips)
def lean_deg(joints: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Per-frame lean of the trunk: the angle between pelvis -> neck (SMPL joints 0 -> 12) and ``up``.
    joints: (T, 24, 3) -> (T,) degrees."""
    x = np.asarray(joints, dtype=np.float64)
    n = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    trunk = x[:, 12] - x[:, 0]
    c = trunk @ n / np.linalg.norm(trunk, axis=-1)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def heel_raise_deg(joints: np.ndarray, rest_joints: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Per-frame pitch of each foot against its rest pose: the elevation of ankle -> toe (SMPL 7 -> 10, 8 -> 11)
    below the horizon minus the same in the rest pose; positive: heel raised (standing on the ball), negative:
    toes up. joints: (T, 24, 3); rest_joints: (24, 3) (in a frame whose ``up`` is the same) -> (T, 2) degrees."""
    n = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)

    def elevation(v):
        return np.degrees(np.arcsin(np.clip(v @ n / np.linalg.norm(v, axis=-1), -1.0, 1.0)))

    x = np.asarray(joints, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    return elevation(rest[[10, 11]] - rest[[7, 8]])[None] - elevation(x[:, [10, 11]] - x[:, [7, 8]])


def flight_frames(sole_heights: np.ndarray, clearance_m: float = 0.03) -> np.ndarray:
    """Frames where no sole is within ``clearance_m`` of the floor (both feet in the air). sole_heights: (T, F)
    metres above the floor -> (T,) bool."""
    return np.min(np.asarray(sole_heights, dtype=np.float64), axis=1) > clearance_m
