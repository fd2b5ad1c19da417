"""Fingers and face in the refine stage (the arrays of ``core.extremities.layout.RESULT_ARRAYS``).

From a track's raw rows (what the capture measured, confidence 0 where a part was not seen):

1. **calibration** of the face (``core.extremities.calibration``, ``face_calibration``): MediaPipe's raw scores of
   the seen rows become ARKit weights. This is the one place a calibration is applied: the raw scores stay in the
   file (``raw_face_blendshapes``) and every refine starts from them.
2. **gaps**: a row whose hand was not seen (``hand_conf`` < ``min_hand_conf``) takes the nearest seen poses
   before and after it (slerped by time when both exist), each weighted by how recently it was seen: full
   weight for ``hold_s``, then fading to 0 over ``fade_s`` (smoothstep); the rest of the weight goes to the
   relaxed hand. So a short drop-out bridges, a hand that disappears keeps its pose a moment and then relaxes, and
   a hand never seen is relaxed throughout. The face weights do the same towards 0 (neutral), the head rotation
   towards the body's own. The refined confidence is that weight times the neighbours' confidence (0 = not
   seen at all): it says how much of a row was measured.
3. **smoothing** with the body's method (``adaptive``/``slerp-average``/``one-euro``/``none``): rotations as rotations,
   weights as numbers;
4. **resampling** to the refined rows' times (``--fps``): slerp for rotations, linear for the rest;
5. **the head**: where the face was seen, the head bone (SMPL joint 15) turns towards the face's rotation by
   ``head_weight`` × (face confidence above ``min_face_conf``).

:func:`refine_extremities` is the one entry; ``core.motion.refine`` calls it per track.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..config import ExtremityRefineConfig, RefineConfig
from ..extremities.calibration import calibrate_face
from ..extremities.handpose import relaxed_hand_pose
from ..extremities.layout import HAND_SIDES
from ..rotations import (axis_angle_to_quat_wxyz, axis_angle_to_rotmat, quat_wxyz_make_continuous, quat_wxyz_slerp,
                         quat_wxyz_to_rotmat, rotmat_to_axis_angle, rotmat_to_quat_wxyz)
from .resample import resample_linear, resample_rotmat
from .smoothing import smooth_motion, smooth_rows

HEAD = 15  # SMPL joint


def _seen_weight(age_s, config: ExtremityRefineConfig):
    """1 while ``age_s`` <= hold_s, then a smoothstep down to 0 at hold_s + fade_s (inf age: 0)."""
    x = np.clip((np.asarray(age_s, dtype=np.float64) - config.hold_s) / max(config.fade_s, 1e-9), 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


def _neighbours(seen: np.ndarray):
    """For each row the index of the nearest seen row at or before it and at or after it (-1: none)."""
    n = seen.shape[0]
    idx = np.where(seen, np.arange(n), -1)
    prev = np.maximum.accumulate(idx)
    nxt = np.where(seen, np.arange(n), n)[::-1]
    nxt = np.minimum.accumulate(nxt)[::-1]
    return prev, np.where(nxt == n, -1, nxt)


def fill_gaps(times, seen, values, default, conf, config: ExtremityRefineConfig, rotations: bool):
    """Blend unseen rows (see the module docstring). times: (N,); seen: (N,) bool; values: (N, ..., 4) unit
    quaternions (WXYZ, sign-continuous) when ``rotations``, else (N, ..., D) numbers; default: (..., 4) / (..., D)
    what a part returns to; conf: (N,). Returns (values (N, ...), refined confidence (N,))."""
    t = np.asarray(times, dtype=np.float64)
    prev, nxt = _neighbours(np.asarray(seen, dtype=bool))
    w_prev = np.where(prev >= 0, _seen_weight(t - t[np.maximum(prev, 0)], config), 0.0)
    w_next = np.where(nxt >= 0, _seen_weight(t[np.maximum(nxt, 0)] - t, config), 0.0)
    both = (prev >= 0) & (nxt >= 0) & (nxt != prev)
    span = np.where(both, t[np.maximum(nxt, 0)] - t[np.maximum(prev, 0)], 1.0)
    u = np.where(both, (t - t[np.maximum(prev, 0)]) / np.maximum(span, 1e-12), np.where(prev >= 0, 0.0, 1.0))
    a, b = values[np.maximum(prev, 0)], values[np.maximum(nxt, 0)]
    shape = (-1,) + (1,) * (values.ndim - 1)
    if rotations:
        between = quat_wxyz_slerp(a, b, u.reshape(shape[:-1]))  # (t: one per quaternion)
    else:
        between = (1.0 - u.reshape(shape)) * a + u.reshape(shape) * b
    weight = np.maximum(w_prev, w_next)
    c = np.asarray(conf, dtype=np.float64)
    near_conf = (1.0 - u) * c[np.maximum(prev, 0)] + u * c[np.maximum(nxt, 0)]
    default = np.broadcast_to(default, values.shape)
    if rotations:
        filled = quat_wxyz_slerp(default, between, weight.reshape(shape[:-1]))
    else:
        filled = default + weight.reshape(shape) * (between - default)
    seen_rows = np.asarray(seen, dtype=bool)
    out = np.where(seen_rows.reshape(shape), values, filled)
    conf_out = np.where(seen_rows, c, np.where(weight > 0, weight * near_conf, 0.0))
    return out, conf_out


def _smooth_rot(rotmat, times, config: RefineConfig):
    """rotmat: (N, K, 3, 3) smoothed as rotations with the body's method."""
    if rotmat.shape[0] < 2:
        return rotmat
    zero = np.zeros((rotmat.shape[0], 3))
    return smooth_motion(rotmat, zero, times, config.smoothing, config.one_euro, config.average_window,
                         config.adaptive)[0]


def _smooth_values(x, times, config: RefineConfig):
    """x: (N, D) numbers smoothed like the body's translation."""
    if x.shape[0] < 2:
        return x
    return smooth_rows(x, times, "values", config.smoothing, config.one_euro, config.average_window,
                       config.adaptive)


def refine_extremities(raw, times, new_times: Optional[np.ndarray], body_rotmat, config: RefineConfig):
    """Refined fingers/face of one track and its body rotations with the head turned towards the face.

    raw: the track's raw view (TrackMotion; its hand/face fields may be None); times: (N0,) its row times;
    new_times: (N,) the refined rows' times when resampled, else None; body_rotmat: (N0, 24, 3, 3) the smoothed
    body at the raw rows. Returns (fields {name: array at the refined rows}, body_rotmat (N0, 24, 3, 3), the face
    calibration applied (calibrate_face's dict; None without a face))."""
    ec = config.extremities
    t = np.asarray(times, dtype=np.float64)
    out: dict = {}
    calibration = None
    if raw.hand_pose_aa is not None:
        conf = np.asarray(raw.hand_conf, dtype=np.float64)
        poses, confs = [], []
        for s, side in enumerate(HAND_SIDES):
            q = quat_wxyz_make_continuous(axis_angle_to_quat_wxyz(raw.hand_pose_aa[:, s]))  # (N0, 15, 4)
            q, c = fill_gaps(t, conf[:, s] >= ec.min_hand_conf, q, axis_angle_to_quat_wxyz(relaxed_hand_pose(side)),
                             conf[:, s], ec, rotations=True)
            poses.append(_smooth_rot(quat_wxyz_to_rotmat(q), t, config))
            confs.append(c)
        R = np.stack(poses, axis=1)  # (N0, 2, 15, 3, 3)
        c = np.stack(confs, axis=1)
        if new_times is not None:
            R = resample_rotmat(R.reshape(R.shape[0], -1, 3, 3), t, new_times).reshape((-1,) + R.shape[1:])
            c = resample_linear(c, t, new_times)
        out["hand_pose_aa"] = rotmat_to_axis_angle(R).astype(np.float32)
        out["hand_conf"] = np.clip(c, 0.0, 1.0).astype(np.float32)
    if raw.face_blendshapes is not None:
        conf = np.asarray(raw.face_conf, dtype=np.float64)
        seen = conf > 0
        weights, calibration = calibrate_face(raw.face_blendshapes, seen, ec.face_calibration, ec.neutral_share,
                                              ec.neutral_min_rows)
        weights, c = fill_gaps(t, seen, weights, np.zeros(weights.shape[1]), conf, ec, rotations=False)
        weights = _smooth_values(weights, t, config)
        body_head = rotmat_to_quat_wxyz(np.asarray(body_rotmat, dtype=np.float64)[:, HEAD])  # (N0, 4)
        face_head = rotmat_to_quat_wxyz(axis_angle_to_rotmat(raw.head_rot_aa))
        face_head = np.where(np.sum(face_head * body_head, axis=-1, keepdims=True) < 0, -face_head, face_head)
        follow = ec.head_weight * np.clip((conf - ec.min_face_conf) / max(1.0 - ec.min_face_conf, 1e-9), 0.0, 1.0)
        follow = _smooth_values(follow[:, None], t, config)[:, 0] if seen.any() else follow
        head_q, _ = fill_gaps(t, seen, face_head, body_head, conf, ec, rotations=True)  # (the body's head outside the face's rows)
        head_R = _smooth_rot(quat_wxyz_to_rotmat(head_q)[:, None], t, config)[:, 0]
        body_rotmat = np.array(body_rotmat, dtype=np.float64, copy=True)
        turned = quat_wxyz_slerp(body_head, rotmat_to_quat_wxyz(head_R), np.clip(follow, 0.0, 1.0))
        body_rotmat[:, HEAD] = quat_wxyz_to_rotmat(turned)
        head = head_R
        if new_times is not None:
            weights = resample_linear(weights, t, new_times)
            c = resample_linear(c, t, new_times)
            head = resample_rotmat(head[:, None], t, new_times)[:, 0]
        out["face_blendshapes"] = np.clip(weights, 0.0, 1.0).astype(np.float32)
        out["face_conf"] = np.clip(c, 0.0, 1.0).astype(np.float32)
        out["head_rot_aa"] = rotmat_to_axis_angle(head).astype(np.float32)
    return out, body_rotmat, calibration
