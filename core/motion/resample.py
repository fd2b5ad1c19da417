"""Resampling a track to another frame rate: slerp for rotations, a cubic Hermite (Catmull-Rom tangents on the
real, possibly uneven, timestamps) for translations, linear for boxes and the other per-row numbers.

New rows sit on the grid ``k / fps`` (whole multiples of the frame period, so scene frame ``round(t · fps)`` is
exact) between the track's first and last time; nothing is extrapolated.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..result_members import MAX_FRAMES
from ..rotations import quat_wxyz_make_continuous, quat_wxyz_slerp, quat_wxyz_to_rotmat, rotmat_to_quat_wxyz


def grid_times(times_s: np.ndarray, fps: float) -> np.ndarray:
    """The times k / fps inside [times_s[0], times_s[-1]]. times_s: (N,) increasing -> (M,) float64 (M >= 1)."""
    t = np.asarray(times_s, dtype=np.float64)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    first = int(np.ceil(t[0] * fps - 1e-6))
    last = int(np.floor(t[-1] * fps + 1e-6))
    if last - first >= MAX_FRAMES:  # before allocating: a result (and Blender's timeline) holds no more rows
        raise InvalidArgumentError(f"{t[-1] - t[0]:.0f} s at {fps:g} fps makes {last - first + 1} rows, more than the "
                                   f"{MAX_FRAMES} a result can hold; choose a lower --fps")
    if last < first:  # a track shorter than one new frame: keep its first time
        return t[:1].copy()
    return np.arange(first, last + 1, dtype=np.float64) / fps


def _intervals(times_s: np.ndarray, new_times: np.ndarray):
    """Interval index i (t_i <= t < t_{i+1}) and the fraction u in [0, 1] for each new time."""
    t = np.asarray(times_s, dtype=np.float64)
    x = np.clip(np.asarray(new_times, dtype=np.float64), t[0], t[-1])
    if t.shape[0] == 1:
        return np.zeros(x.shape, dtype=np.int64), np.zeros(x.shape)
    i = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.shape[0] - 2)
    u = (x - t[i]) / np.maximum(t[i + 1] - t[i], 1e-12)
    return i, np.clip(u, 0.0, 1.0)


def nearest_rows(times_s: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Index of the nearest original row for each new time. -> (M,) int64."""
    i, u = _intervals(times_s, new_times)
    if np.asarray(times_s).shape[0] == 1:
        return i
    return np.where(u > 0.5, i + 1, i)


def resample_rotmat(rotmat: np.ndarray, times_s: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Slerp between neighbouring rows. rotmat: (N, J, 3, 3) -> (M, J, 3, 3) float64."""
    q = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(rotmat))  # (N, J, 4)
    i, u = _intervals(times_s, new_times)
    if q.shape[0] == 1:
        return quat_wxyz_to_rotmat(q[i])
    return quat_wxyz_to_rotmat(quat_wxyz_slerp(q[i], q[i + 1], u[:, None]))


def resample_linear(x: np.ndarray, times_s: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0. x: (N, ...) -> (M, ...) float64."""
    x = np.asarray(x, dtype=np.float64)
    i, u = _intervals(times_s, new_times)
    if x.shape[0] == 1:
        return x[i]
    w = u.reshape((-1,) + (1,) * (x.ndim - 1))
    return (1.0 - w) * x[i] + w * x[i + 1]


def resample_cubic(x: np.ndarray, times_s: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation with Catmull-Rom tangents (central differences over the real times; one-sided
    at the ends). Passes through every sample, C¹ continuous. x: (N, ...) -> (M, ...) float64."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    if x.shape[0] < 3:
        return resample_linear(x, t, new_times)
    m = np.empty_like(x)
    m[1:-1] = (x[2:] - x[:-2]) / (t[2:] - t[:-2]).reshape((-1,) + (1,) * (x.ndim - 1))
    m[0] = (x[1] - x[0]) / (t[1] - t[0])
    m[-1] = (x[-1] - x[-2]) / (t[-1] - t[-2])
    i, u = _intervals(t, new_times)
    h = (t[i + 1] - t[i]).reshape((-1,) + (1,) * (x.ndim - 1))
    s = u.reshape(h.shape)
    s2, s3 = s * s, s * s * s
    h00 = 2 * s3 - 3 * s2 + 1
    h10 = s3 - 2 * s2 + s
    h01 = -2 * s3 + 3 * s2
    h11 = s3 - s2
    return h00 * x[i] + h10 * h * m[i] + h01 * x[i + 1] + h11 * h * m[i + 1]
