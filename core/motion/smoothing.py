"""Temporal smoothing of a track: adaptive local quadratic fits (the default, :mod:`.adaptive`), a One-Euro
filter (Casiez et al., CHI 2012) or a slerp average over a window (TCMR's Table 5 "average filter"), on
rotations (as rotations) and translations (apart).

The One-Euro filter is a low-pass filter whose cutoff rises with speed: cutoff = min_cutoff + beta·|velocity|,
so a still pose is smoothed strongly (little jitter) and a fast motion lightly (little lag). It is driven by the
**real timestamps** of the frames, so variable frame rates and subsampled (``target_fps``) tracks behave.

- Rotations are filtered as unit quaternions (WXYZ), made sign-continuous over time first (q and −q are the
  same rotation), then renormalised; the result is projected back to exact rotation matrices.
- ``zero_phase`` (default): the filter runs forwards and backwards over the track and the two are averaged,
  which cancels the filter's lag to first order (we have the whole track; nothing needs to be causal).
- The slerp average replaces each frame's rotation by the mean rotation (:func:`core.rotations.quat_wxyz_average`)
  of the ``window`` frames centred on it, and each translation by the plain mean; near the ends the window
  shrinks symmetrically (no lag there either).
- ``method="none"``: nothing runs and the input is returned bit-exact.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import SmoothingConfig
from ..rotations import quat_wxyz_average, quat_wxyz_make_continuous, quat_wxyz_to_rotmat, rotmat_to_quat_wxyz
from .adaptive import adaptive_smooth, adaptive_smooth_rotmat, series

METHODS = ("adaptive", "one-euro", "slerp-average", "none")


def _alpha(cutoff_hz, dt):
    """Smoothing factor of a first-order low-pass filter for step dt (broadcasts)."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


def _one_euro_forward(x: np.ndarray, t: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """Causal pass. x: (T, ..., D) float64, t: (T,) increasing seconds -> (T, ..., D).
    The speed that raises the cutoff is the norm over the last axis (one cutoff per vector, e.g. per joint)."""
    out = np.empty_like(x)
    out[0] = x[0]
    dx_hat = np.zeros(x.shape[1:-1] + (1,))
    for i in range(1, x.shape[0]):
        dt = max(float(t[i] - t[i - 1]), 1e-6)
        dx = (x[i] - out[i - 1]) / dt
        speed = np.linalg.norm(dx, axis=-1, keepdims=True)
        dx_hat = dx_hat + _alpha(d_cutoff, dt) * (speed - dx_hat)
        a = _alpha(min_cutoff + beta * dx_hat, dt)
        out[i] = out[i - 1] + a * (x[i] - out[i - 1])
    return out


def one_euro(x, timestamps_s, min_cutoff_hz: float = 1.0, beta: float = 0.5, d_cutoff_hz: float = 1.0,
             zero_phase: bool = True) -> np.ndarray:
    """One-Euro filter along axis 0. x: (T, ..., D); timestamps_s: (T,) increasing -> (T, ..., D) float64.

    zero_phase: average of a forward and a backward pass (no lag); False: the classic causal filter.
    """
    x, t = series(x, timestamps_s)
    if x.shape[0] < 2:
        return x.copy()
    fwd = _one_euro_forward(x, t, min_cutoff_hz, beta, d_cutoff_hz)
    if not zero_phase:
        return fwd
    bwd = _one_euro_forward(x[::-1], -t[::-1], min_cutoff_hz, beta, d_cutoff_hz)[::-1]
    return 0.5 * (fwd + bwd)


def smooth_rotmat(rotmat, timestamps_s, config: SmoothingConfig = SmoothingConfig()) -> np.ndarray:
    """rotmat: (T, J, 3, 3) -> (T, J, 3, 3) float64 exact rotations, One-Euro filtered in quaternion space."""
    q = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(rotmat))  # (T, J, 4)
    q = one_euro(q, timestamps_s, config.min_cutoff_hz, config.beta, config.derivative_cutoff_hz, config.zero_phase)
    return quat_wxyz_to_rotmat(q)  # normalises


def smooth_translation(transl, timestamps_s, config: SmoothingConfig = SmoothingConfig()) -> np.ndarray:
    """transl: (T, 3) metres -> (T, 3) float64, One-Euro filtered (cutoff ``translation_min_cutoff_hz``)."""
    return one_euro(transl, timestamps_s, config.translation_min_cutoff_hz, config.beta, config.derivative_cutoff_hz,
                    config.zero_phase)


def _window_offsets(n: int, window: int):
    """Per frame, the half width of a symmetric window of at most ``window`` frames inside [0, n)."""
    half = max(int(window), 1) // 2
    idx = np.arange(n)
    return np.minimum(half, np.minimum(idx, n - 1 - idx))


def slerp_average_rotmat(rotmat, window: int = 5) -> np.ndarray:
    """rotmat: (T, J, 3, 3) -> (T, J, 3, 3) float64: each frame the mean rotation of the ``window`` frames centred
    on it (the window shrinks symmetrically at the ends)."""
    R = np.asarray(rotmat, dtype=np.float64)
    T = R.shape[0]
    q = rotmat_to_quat_wxyz(R)  # (T, J, 4)
    half = _window_offsets(T, window)
    out = np.empty_like(q)
    for h in np.unique(half):
        rows = np.nonzero(half == h)[0]
        stack = np.stack([q[rows + k] for k in range(-h, h + 1)], axis=1)  # (n, 2h+1, J, 4)
        out[rows] = quat_wxyz_average(stack, axis=1)
    return quat_wxyz_to_rotmat(out)


def moving_average(x, window: int = 5) -> np.ndarray:
    """x: (T, ...) -> (T, ...) float64, the mean over a centred window (shrinking symmetrically at the ends)."""
    x = np.asarray(x, dtype=np.float64)
    T = x.shape[0]
    half = _window_offsets(T, window)
    c = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)], axis=0)
    idx = np.arange(T)
    lo, hi = idx - half, idx + half + 1
    count = (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return (c[hi] - c[lo]) / count


def smooth_rows(x, timestamps_s, kind: str, method: str = "adaptive",
                one_euro_config: SmoothingConfig = SmoothingConfig(), window: int = 5,
                adaptive: tuple = (0.15, 2.0)) -> np.ndarray:
    """Smooth one more per-row array the way ``smooth_motion`` smooths the body. kind ``axis_angle``: x (T, ..., 3)
    rotations as axis-angle (e.g. hand poses (T, 2, 15, 3)), smoothed as rotations; ``values``: x (T, ..., D)
    numbers (e.g. blend-shape weights (T, 52)), smoothed like the translation. -> same shape, float64."""
    from ..rotations import axis_angle_to_rotmat, rotmat_to_axis_angle

    x = np.asarray(x, dtype=np.float64)
    if method == "none":
        return x
    if kind == "axis_angle":
        R = axis_angle_to_rotmat(x.reshape(x.shape[0], -1, 3))  # (T, K, 3, 3)
        zero = np.zeros((x.shape[0], 3))
        R = smooth_motion(R, zero, timestamps_s, method, one_euro_config, window, adaptive)[0]
        return rotmat_to_axis_angle(R).reshape(x.shape)
    if kind == "values":
        flat = x.reshape(x.shape[0], -1)
        if method == "adaptive":
            out = adaptive_smooth(flat[..., None], timestamps_s, *adaptive[:2])[..., 0]  # each number on its own
        elif method == "one-euro":
            out = one_euro(flat[..., None], timestamps_s, one_euro_config.translation_min_cutoff_hz,
                           one_euro_config.beta, one_euro_config.derivative_cutoff_hz, one_euro_config.zero_phase)[..., 0]
        elif method == "slerp-average":
            out = moving_average(flat, window)
        else:
            raise ValueError(f"unknown smoothing method {method!r} (choose one of {', '.join(METHODS)})")
        return out.reshape(x.shape)
    raise ValueError(f"unknown kind of per-row array {kind!r} (axis_angle or values)")


def smooth_motion(rotmat, transl, timestamps_s, method: str = "adaptive",
                  one_euro_config: SmoothingConfig = SmoothingConfig(), window: int = 5,
                  adaptive: tuple = (0.15, 2.0), chain: tuple[int, ...] = ()):
    """One entry for every method. rotmat: (T, J, 3, 3), transl: (T, 3), timestamps_s: (T,); ``adaptive``:
    (max_half_s, gamma[, kappa, level_frames]) of :mod:`.adaptive` (the last two for rotations only), ``chain``
    its joints that share one bend (the body's ``SMPL_SPINE``) -> (rotmat (T, J, 3, 3), transl (T, 3)); ``none``
    returns the inputs themselves (bit-exact)."""
    if method == "none":
        return rotmat, transl
    if method == "adaptive":
        return (adaptive_smooth_rotmat(rotmat, timestamps_s, *adaptive, chain=chain),
                adaptive_smooth(transl, timestamps_s, *adaptive[:2]))
    if method == "one-euro":
        return smooth_rotmat(rotmat, timestamps_s, one_euro_config), smooth_translation(transl, timestamps_s,
                                                                                         one_euro_config)
    if method == "slerp-average":
        return slerp_average_rotmat(rotmat, window), moving_average(transl, window)
    raise ValueError(f"unknown smoothing method {method!r} (choose one of {', '.join(METHODS)})")
