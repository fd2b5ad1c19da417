"""Reading DeepMimic motion clips (``humanoid3d_*.txt``, as shipped with pybullet) into a SourceMotion.

The file is JSON: ``{"Loop": ..., "Frames": [[dt, root position (3), root quaternion (4), chest (4), neck (4),
right hip (4), right knee (1), right ankle (4), right shoulder (4), right elbow (1), left hip (4), left knee (1),
left ankle (4), left shoulder (4), left elbow (1)], ...]}`` — 44 numbers a frame, quaternions **WXYZ**, knees and
elbows one angle (radians) about the joint's z axis, ``dt`` the duration of the frame. World: y up, the floor at
y = 0, metres; the humanoid faces +x with its right side on +z.

The skeleton is DeepMimic's ``humanoid3d`` character (fixed; the file carries no offsets): root (pelvis), chest
0.236 m above it, neck 0.224 m above the chest, hips ±0.085 m to the sides, knees 0.422 m and ankles 0.410 m
below, shoulders at (−0.024, 0.244, ±0.183) from the chest, elbows 0.275 m and wrists 0.259 m below. Its
feet are flat boxes whose soles lie 0.05 m under the ankle in the rest pose; a ``*_toe`` joint 0.11 m ahead of
each ankle on the sole (fixed to the foot) gives the retarget a foot direction.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..errors import InvalidMotionFileError
from ..rotations import axis_angle_to_rotmat, quat_wxyz_to_rotmat, rotmat_to_axis_angle
from .source import SourceMotion, check_source

MAX_BYTES = 64 * 1024 * 1024
FRAME_WIDTH = 44
# (name, parent, offset from the parent, columns of its rotation in a frame: 4 = quaternion, 1 = angle about z)
JOINTS = (
    ("root", -1, (0.0, 0.0, 0.0), (4, 8)),
    ("chest", 0, (0.0, 0.236151, 0.0), (8, 12)),
    ("neck", 1, (0.0, 0.223894, 0.0), (12, 16)),
    ("right_hip", 0, (0.0, 0.0, 0.084887), (16, 20)),
    ("right_knee", 3, (0.0, -0.421546, 0.0), (20, 21)),
    ("right_ankle", 4, (0.0, -0.40987, 0.0), (21, 25)),
    ("right_shoulder", 1, (-0.02405, 0.24350, 0.18311), (25, 29)),
    ("right_elbow", 6, (0.0, -0.274788, 0.0), (29, 30)),
    ("left_hip", 0, (0.0, 0.0, -0.084887), (30, 34)),
    ("left_knee", 8, (0.0, -0.421546, 0.0), (34, 35)),
    ("left_ankle", 9, (0.0, -0.40987, 0.0), (35, 39)),
    ("left_shoulder", 1, (-0.02405, 0.24350, -0.18311), (39, 43)),
    ("left_elbow", 11, (0.0, -0.274788, 0.0), (43, 44)),
    # fixed points (no rotation in the file): the head top, wrists and a toe on each sole
    ("head", 2, (0.0, 0.22, 0.0), None),
    ("right_wrist", 7, (0.0, -0.258947, 0.0), None),
    ("left_wrist", 12, (0.0, -0.258947, 0.0), None),
    ("right_toe", 5, (0.11, -0.05, 0.0), None),
    ("left_toe", 10, (0.11, -0.05, 0.0), None),
)


def _yaw(R: np.ndarray) -> np.ndarray:
    """Heading about +y of rotations (..., 3, 3): the angle of their x axis in the floor plane."""
    return np.arctan2(-R[..., 2, 0], R[..., 0, 0])


def _repeat(local: np.ndarray, root: np.ndarray, times: np.ndarray, cycles: int, blend_s: float = 0.3):
    """A looping clip played ``cycles`` times: each cycle continues from where (and facing how) the previous
    one ended. The recorded last frame is close to, not equal to, the first (up to ~30° on a joint), so over
    the last ``blend_s`` every joint turns smoothly onto the next cycle's first pose, which then replaces it."""
    T = local.shape[0]
    turn = _yaw(local[-1, 0]) - _yaw(local[0, 0])
    c, s = np.cos(turn), np.sin(turn)
    Ry = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    first = local[0].copy()
    first[0] = Ry @ first[0]  # the next cycle's first pose, seen from this cycle
    gap = rotmat_to_axis_angle(first @ np.swapaxes(local[-1], -1, -2))  # (J, 3): what is left to turn
    u = np.clip((times - (times[-1] - blend_s)) / blend_s, 0.0, 1.0)
    w = u * u * (3.0 - 2.0 * u)  # smoothstep: 0 before the blend, 1 on the last frame
    local = axis_angle_to_rotmat(w[:, None, None] * gap[None]) @ local
    period = times[-1] - times[0]
    flat = np.array([1.0, 0.0, 1.0])
    origin = root[0] * flat
    Rk, ok = np.eye(3), origin  # cycle k: x -> Rk (x - origin) + ok
    parts_l, parts_r, parts_t = [], [], []
    for k in range(cycles):
        rows = slice(0, T if k == cycles - 1 else T - 1)
        lk = local[rows].copy()
        lk[:, 0] = Rk @ lk[:, 0]
        parts_l.append(lk)
        parts_r.append((root[rows] - origin) @ Rk.T + ok)
        parts_t.append(times[rows] + k * period)
        ok = ((root[-1] - origin) @ Rk.T + ok) * flat  # the next cycle starts where this one ends
        Rk = Rk @ Ry
    return np.concatenate(parts_l), np.concatenate(parts_r), np.concatenate(parts_t)


def read_deepmimic(path, cycles: int = 1) -> SourceMotion:
    """Read a DeepMimic clip; a looping clip (``"Loop": "wrap"``) can be played ``cycles`` times in a row.
    Raises InvalidMotionFileError (one line) for anything that is not a DeepMimic clip."""
    where = os.fspath(path)
    try:
        if os.path.getsize(where) > MAX_BYTES:
            raise InvalidMotionFileError(f"{where} is larger than {MAX_BYTES >> 20} MiB; not read as DeepMimic")
        with open(where, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise InvalidMotionFileError(f"cannot read {where}: {exc.strerror or exc}") from exc
    except ValueError:
        raise InvalidMotionFileError(f"{where} is not a DeepMimic clip (not JSON)") from None
    frames = data.get("Frames") if isinstance(data, dict) else None
    try:
        F = np.array(frames, dtype=np.float64)
    except (TypeError, ValueError):
        F = None
    if F is None or F.ndim != 2 or F.shape[1] != FRAME_WIDTH or F.shape[0] == 0:
        raise InvalidMotionFileError(f"{where} is not a DeepMimic clip (needs 'Frames': rows of {FRAME_WIDTH} numbers)")
    if not np.all(np.isfinite(F)):
        raise InvalidMotionFileError(f"{where}: the frames contain NaN or infinite values")
    T = F.shape[0]
    local = np.tile(np.eye(3), (T, len(JOINTS), 1, 1))
    for j, (_name, _parent, _offset, cols) in enumerate(JOINTS):
        if cols is None:
            continue
        a, b = cols
        if b - a == 4:
            q = F[:, a:b]
            norm = np.linalg.norm(q, axis=1, keepdims=True)
            if np.any(norm < 1e-6):
                raise InvalidMotionFileError(f"{where}: a zero quaternion for '{_name}'")
            local[:, j] = quat_wxyz_to_rotmat(q / norm)
        else:
            aa = np.zeros((T, 3))
            aa[:, 2] = F[:, a]
            local[:, j] = axis_angle_to_rotmat(aa)
    dt = F[:, 0]
    if T > 1 and not np.all(dt[:-1] > 0):
        raise InvalidMotionFileError(f"{where}: frame durations must be positive")
    times = np.concatenate([[0.0], np.cumsum(dt[:-1])])
    root = F[:, 1:4].copy()
    if cycles > 1 and data.get("Loop") == "wrap" and T > 2:
        local, root, times = _repeat(local, root, times, int(cycles))
    motion = SourceMotion(names=tuple(j[0] for j in JOINTS), parents=np.array([j[1] for j in JOINTS], np.int64),
                          offsets=np.array([j[2] for j in JOINTS], dtype=np.float64), local_rotmat=local,
                          root_position=root, times_s=times, source=where)
    return check_source(motion)
