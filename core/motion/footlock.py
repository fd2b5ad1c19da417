"""Foot lock: feet that stand still while they are on the floor, without pops.

Works in the upright world frame (Z up, floor at Z = 0) on SMPL motion (local rotations + root translation):

1. **Targets.** For every contact (a run of ``contact[:, k]``, one of the four foot joints) the joint is held at
   a lock point: the median of its horizontal positions over the contact, on the floor (its standing height).
   Mode ``ground`` holds only the height (the joint keeps its horizontal path). The pin's weight w(t) rises
   from 0 to 1 and falls back with a quintic smootherstep over ``blend_s`` around each contact boundary (mostly
   outside the contact, ``blend_outside``, so even the 5 frames of a running step are pinned), so
   position, velocity and acceleration stay continuous; the corrected joint is p + Σ w_k (L_k − p)
   (Σ w_k <= 1 by construction, also for contacts closer than ``blend_s``).
2. **Per foot** the ankle and the toe ask for a translation of the (rigid) foot: horizontally their weighted
   mean; vertically whatever puts the foot's lowest joint on the floor (a rolling foot keeps its raised heel).
3. **Root.** ``root_share`` of the feet's mean correction (weighted by how planted each foot is), carried on
   between contacts by interpolation in time and averaged over ``root_smoothing_s``, moves the whole body (this
   is what lowers a floating body onto the floor and removes a slow drift of the whole body).
4. **Legs.** The rest of each foot's correction goes to an analytic two-bone IK on hip, knee and ankle: the knee
   bends (law of cosines, in the leg's own plane), the hip swings the ankle onto its target, and the ankle's
   world orientation is kept; then, where the toe is pinned, the ankle turns (by the toe's pin weight) so the toe
   points at its lock point (``ground`` leaves the foot's orientation alone). Only rotations change; bone
   lengths are SMPL's.

Forward kinematics comes from :func:`core.smpl.forward_kinematics`; rotations from :mod:`core.rotations`.
"""

from __future__ import annotations

import numpy as np

from ..config import FootLockConfig
from ..rotations import axis_angle_to_rotmat, rotmat_from_vectors
from ..smpl import forward_kinematics
from .contacts import FOOT_JOINT_IDS, runs

LEGS = ((1, 4, 7), (2, 5, 8))  # (hip, knee, ankle) left, right
FOOT_COLUMNS = ((0, 2), (1, 3))  # contact columns (ankle, toe) of the left and right foot


def smootherstep(x: np.ndarray) -> np.ndarray:
    """6x⁵ − 15x⁴ + 10x³ on [0, 1] (clipped): zero first and second derivatives at both ends."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def pin_weights(contact: np.ndarray, times_s: np.ndarray, blend_s: float,
                outside: float = 0.8) -> list[tuple[np.ndarray, slice]]:
    """One smooth weight curve (T,) per contact run of a (T,) bool column, with the run's slice. ``outside``:
    the share of each fade that lies before the contact's start / after its end."""
    t = np.asarray(times_s, dtype=np.float64)
    frame = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0 / 30.0
    b = max(float(blend_s), 1e-6)
    out = []
    for a, e in runs(contact):
        start = t[a] - 0.5 * frame  # the contact covers whole frames
        stop = t[e - 1] + 0.5 * frame
        rise = smootherstep((t - (start - outside * b)) / b)
        fall = 1.0 - smootherstep((t - (stop - (1.0 - outside) * b)) / b)
        out.append((np.minimum(rise, fall), slice(a, e)))
    return out


def foot_targets(joints: np.ndarray, contact: np.ndarray, times_s: np.ndarray, rest_heights: np.ndarray,
                 mode: str, blend_s: float, outside: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Corrections of the four foot joints and how pinned each is.

    joints: (T, 24, 3) world; contact: (T, 4) bool; rest_heights: (4,). Returns (delta (T, 4, 3), weight (T, 4)).
    """
    T = joints.shape[0]
    delta = np.zeros((T, 4, 3))
    weight = np.zeros((T, 4))
    for k, j in enumerate(FOOT_JOINT_IDS):
        p = joints[:, j]  # (T, 3)
        for w, seg in pin_weights(contact[:, k], times_s, blend_s, outside):
            if mode == "ground":
                lock = np.concatenate([p[:, :2], np.full((T, 1), rest_heights[k])], axis=1)
            else:
                xy = np.median(p[seg, :2], axis=0)
                lock = np.broadcast_to(np.r_[xy, rest_heights[k]], (T, 3))
            delta[:, k] += w[:, None] * (lock - p)
            weight[:, k] += w
    return delta, np.clip(weight, 0.0, 1.0)


def _moving_average(x: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 1:
        return x
    from .smoothing import moving_average

    return moving_average(x, frames)


def two_bone_ik(rotmat: np.ndarray, glob: np.ndarray, joints: np.ndarray, leg: tuple[int, int, int],
                target: np.ndarray, rows: np.ndarray) -> None:
    """Move the ankle of ``leg`` onto ``target`` at ``rows``, in place on ``rotmat`` (local rotations).

    rotmat, glob: (T, 24, 3, 3) local and global rotations; joints: (T, 24, 3) positions; target: (T, 3).
    Beyond reach the leg straightens towards the target. The ankle's global rotation is kept.
    """
    if rows.size == 0:
        return
    hip, knee, ankle = leg
    h, k, a = joints[rows, hip], joints[rows, knee], joints[rows, ankle]
    u, v = h - k, a - k
    l1 = np.linalg.norm(u, axis=-1)
    l2 = np.linalg.norm(v, axis=-1)
    d = target[rows] - h
    dist = np.clip(np.linalg.norm(d, axis=-1), np.abs(l1 - l2) + 1e-4, (l1 + l2) * (1.0 - 1e-4))
    cos_cur = np.clip(np.sum(u * v, axis=-1) / (l1 * l2), -1.0, 1.0)
    cos_new = np.clip((l1 ** 2 + l2 ** 2 - dist ** 2) / (2.0 * l1 * l2), -1.0, 1.0)
    axis = np.cross(u, v)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    # a straight leg has no plane: bend about the thigh's own flexion axis (SMPL: -x of the hip)
    fallback = -glob[rows, hip][:, :, 0]
    axis = np.where(s > 1e-6, axis / np.maximum(s, 1e-12), fallback)
    R1 = axis_angle_to_rotmat(axis * (np.arccos(cos_new) - np.arccos(cos_cur))[:, None])  # about the knee
    a1 = k + np.einsum("nij,nj->ni", R1, v)
    R2 = rotmat_from_vectors(a1 - h, d)  # swing about the hip
    G_hip = R2 @ glob[rows, hip]
    G_knee = R2 @ R1 @ glob[rows, knee]
    G_parent = glob[rows, 0]
    rotmat[rows, hip] = np.swapaxes(G_parent, -1, -2) @ G_hip
    rotmat[rows, knee] = np.swapaxes(G_hip, -1, -2) @ G_knee
    rotmat[rows, ankle] = np.swapaxes(G_knee, -1, -2) @ glob[rows, ankle]


def lock_feet(rotmat: np.ndarray, transl: np.ndarray, rest_joints: np.ndarray, times_s: np.ndarray,
              contact: np.ndarray, rest_heights: np.ndarray,
              config: FootLockConfig = FootLockConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Pin the feet. World frame (Z up, floor Z = 0). rotmat: (T, 24, 3, 3) local (joint 0 relative to the
    world); transl: (T, 3); rest_joints: (24, 3); times_s: (T,); contact: (T, 4) bool (``FOOT_JOINT_IDS``
    order); rest_heights: (4,). Returns new (rotmat, transl), float64. Mode ``never`` returns copies."""
    R = np.array(rotmat, dtype=np.float64, copy=True)
    t = np.array(transl, dtype=np.float64, copy=True)
    if config.mode == "never" or not np.any(contact):
        return R, t
    P, G = forward_kinematics(rest_joints, R)
    joints = P + t[:, None]
    delta, weight = foot_targets(joints, contact, times_s, rest_heights, config.mode, config.blend_s,
                                 config.blend_outside)
    # per foot: one translation for the rigid foot (the ankle's and the toe's requests, weighted)
    foot_delta = np.zeros((R.shape[0], 2, 3))
    foot_weight = np.zeros((R.shape[0], 2))
    for f, (ca, ct) in enumerate(FOOT_COLUMNS):
        wa, wt = weight[:, ca:ca + 1], weight[:, ct:ct + 1]
        foot_delta[:, f] = (wa * delta[:, ca] + wt * delta[:, ct]) / np.maximum(wa + wt, 1e-9)
        foot_weight[:, f] = np.maximum(wa, wt)[:, 0]
        # vertically the foot's lowest joint goes onto the floor (a tilted foot keeps its raised heel or toe)
        low = np.minimum(joints[:, FOOT_JOINT_IDS[ca], 2] - rest_heights[ca],
                         joints[:, FOOT_JOINT_IDS[ct], 2] - rest_heights[ct])
        foot_delta[:, f, 2] = -foot_weight[:, f] * low
    # root: the planted feet's mean correction, smoothed; the legs take the rest
    fw = foot_weight[:, :, None]
    root = (fw * foot_delta).sum(axis=1) / np.maximum(fw.sum(axis=1), 1e-9) * config.root_share
    # between contacts (flight, a missed contact) the root's correction carries on smoothly from the planted
    # frames around it instead of falling back to zero, so a released foot has nothing to catch up
    planted = fw.sum(axis=1)[:, 0] >= 0.5
    if planted.any():
        t_all = np.asarray(times_s, dtype=np.float64)
        root = np.stack([np.interp(t_all, t_all[planted], root[planted, k]) for k in range(3)], axis=1)
    frame = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1.0 / 30.0
    root = _moving_average(root, int(round(config.root_smoothing_s / max(frame, 1e-6))) | 1)
    t += root
    joints += root[:, None]
    # where the pinned toes must be (the joints already moved with the root: take that back out)
    toe_targets = joints[:, [FOOT_JOINT_IDS[2], FOOT_JOINT_IDS[3]]] - root[:, None] + delta[:, 2:]  # (T, 2, 3)
    for f, leg in enumerate(LEGS):
        ankle = leg[2]
        residual = foot_delta[:, f] - root
        rows = np.flatnonzero(np.linalg.norm(residual, axis=-1) > 1e-7)
        two_bone_ik(R, G, joints, leg, joints[:, ankle] + residual, rows)
    if config.mode != "ground":
        _aim_toes(R, t, rest_joints, toe_targets, weight[:, 2:])
    return R, t


def _aim_toes(R: np.ndarray, t: np.ndarray, rest_joints: np.ndarray, toe_targets: np.ndarray,
              toe_weight: np.ndarray) -> None:
    """Turn each ankle (by ``toe_weight`` of the full turn) so its toe points at its pinned spot: with heel and toe
    both down the foot then rests on both lock points. In place on R. toe_targets: (T, 2, 3) world; toe_weight:
    (T, 2)."""
    from ..rotations import rotmat_to_axis_angle

    P, G = forward_kinematics(rest_joints, R)
    P = P + t[:, None]
    for f, (_hip, knee, ankle) in enumerate(LEGS):
        toe = FOOT_JOINT_IDS[2 + f]
        rows = np.flatnonzero(toe_weight[:, f] > 1e-6)
        if rows.size == 0:
            continue
        full = rotmat_from_vectors(P[rows, toe] - P[rows, ankle], toe_targets[rows, f] - P[rows, ankle])
        aim = axis_angle_to_rotmat(rotmat_to_axis_angle(full) * toe_weight[rows, f][:, None])
        R[rows, ankle] = np.swapaxes(G[rows, knee], -1, -2) @ aim @ G[rows, ankle]
