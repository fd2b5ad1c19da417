"""The default smoothing: local quadratic fits whose window adapts to the motion, frame by frame and joint by joint.

Jitter is removed by fitting, around every frame, a quadratic in time to the neighbouring samples (on the real
timestamps) and keeping its value at that frame. A quadratic follows a steady motion, its speeding up and its
slowing down exactly, so a fit has no lag and does not flatten a swing the way an average does; the wider the
window, the more jitter it removes — until the motion bends faster than a quadratic can follow. So the window is
chosen per frame and per joint by the *intersection of confidence intervals* rule (Goldenshluger & Nemirovski
1997; Katkovnik 1999): widening from the sample itself (half width 0) through half widths up to
``max_half_s``, each fit carries an interval ± ``gamma`` · σ · (its noise gain); the widest window whose
interval still overlaps every narrower one's is kept. σ, the jitter of each joint, is measured from the data
(the median residual of a 5-frame quadratic fit, which fast moments cannot inflate), and for the joints of a
body capped at the quietest quarter's (:func:`shared_jitter`: a joint that moves fast for most of a short clip
inflates even the median).

Rotations are fitted as sign-continuous unit quaternions (WXYZ) and normalised back (the fit is linear in the
four components; over a window of a few frames the error of that against a fit on the rotation manifold is far
below the jitter); a joint's four components share one window. Windows are symmetric (they shrink at the
track's ends), so a quadratic fit is also exact for cubic motion.

A ``chain`` of joints that share one bend (SMPL's three spine joints carry one recorded back between them) is
also tested as a whole: the compound rotation from the chain's first joint down to each later one gets the
same rule, with the joints' jitter in quadrature, and that joint's window is capped at the compound's. The
fits' biases add up coherently along such a chain while their jitter does not, so a window each joint alone
accepts can bend the chest off (a sprint at 30 fps: +2.5 to +3.9 mm MPJPE from the spine alone,
bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np

from ..rotations import quat_wxyz_make_continuous, quat_wxyz_to_rotmat, rotmat_to_quat_wxyz

JITTER_SHARE = 1.0  # a joint's jitter estimate is capped at this multiple of the quietest quarter's


def series(x, timestamps_s) -> tuple[np.ndarray, np.ndarray]:
    """(x, times) as float64 arrays of one track: x (T, ...), times (T,); raises ValueError when they disagree."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(timestamps_s, dtype=np.float64).reshape(-1)
    if t.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} samples but {t.shape[0]} timestamps")
    return x, t


def _half_widths(times_s: np.ndarray, max_half_s: float) -> list[int]:
    """0, 1, 2, 3, 4, 6, 8, 11, ... frames up to ``max_half_s`` on the median frame step (at least 0, 1, 2)."""
    t = np.asarray(times_s, dtype=np.float64)
    step = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0
    limit = max(2, int(round(max_half_s / max(step, 1e-9))))
    out, h = [0], 1
    while h <= limit:
        out.append(h)
        h = h + 1 if h < 4 else int(round(h * 1.4))
    return out


def _fit_weights(times_s: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame, the weights that give a symmetric local quadratic fit's value at that frame (half width
    min(h, distance to the ends)). -> (offsets (W,), weights (T, W), noise gain (T,) = ‖weights‖)."""
    t = np.asarray(times_s, dtype=np.float64)
    T = t.shape[0]
    offsets = np.arange(-h, h + 1)
    idx = np.arange(T)
    half = np.minimum(h, np.minimum(idx, T - 1 - idx))  # (T,)
    rows = np.clip(idx[:, None] + offsets[None], 0, T - 1)  # (T, W)
    inside = np.abs(offsets)[None] <= half[:, None]
    dt = np.where(inside, t[rows] - t[:, None], 0.0)
    scale = np.maximum(np.abs(dt).max(axis=1, keepdims=True), 1e-9)
    x = dt / scale
    X = np.stack([np.ones_like(x), x, x * x], axis=-1) * inside[..., None]  # (T, W, 3)
    XtX = np.einsum("twi,twj->tij", X, X)
    XtX[half < 1] = np.eye(3)  # the sample alone: weight 1 on itself
    XtX[half == 1, 2, 2] += 1e-9  # three points fix a quadratic exactly (the fit is the sample)
    coef = np.linalg.solve(XtX, X.transpose(0, 2, 1))[:, 0]  # (T, W): first row of (XᵀX)⁻¹Xᵀ
    weights = np.where(inside, coef, 0.0)
    weights[half < 1] = (offsets == 0)[None].astype(np.float64)
    return offsets, weights, np.sqrt(np.sum(weights ** 2, axis=1))


def _apply(x: np.ndarray, offsets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    T = x.shape[0]
    out = np.zeros_like(x)
    idx = np.arange(T)
    for k, o in enumerate(offsets):
        w = weights[:, k]
        if not np.any(w):
            continue
        out += w.reshape((T,) + (1,) * (x.ndim - 1)) * x[np.clip(idx + o, 0, T - 1)]
    return out


def noise_level(x: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Jitter σ of each vector of ``x`` (T, ..., D): the median residual norm of a 5-frame quadratic fit, scaled
    so iid noise of σ per component gives σ. -> (...) one value per vector."""
    offsets, weights, _ = _fit_weights(times_s, 2)
    r = x - _apply(x, offsets, weights)
    inner = slice(2, max(x.shape[0] - 2, 2))  # the ends fit themselves exactly
    norm = np.linalg.norm(r[inner], axis=-1)
    D = x.shape[-1]
    # iid N(0, σ²) per component: the residual has variance σ²(1 − w₀) per component, w₀ = 17/35 (5 points)
    scale = np.sqrt((1.0 - 17.0 / 35.0) * max(D - 2.0 / 3.0, 0.5))  # median of a chi with D dof ≈ sqrt(D - 2/3)
    if norm.shape[0] == 0:
        return np.zeros(x.shape[1:-1])
    return np.median(norm, axis=0) / scale


def shared_jitter(sigma: np.ndarray, share: float = JITTER_SHARE) -> np.ndarray:
    """Per-joint jitter estimates (J,) capped at ``share`` times the quietest quarter's (their 25th percentile):
    a capture's jitter is much the same on every joint, but a joint that moves fast for most of a short clip (a
    sprinter's legs at 30 fps) leaves motion in the 5-frame residual and looks several times as noisy — the fits
    would then be allowed to flatten its motion. Fewer than 8 joints: unchanged."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.size < 8:
        return sigma
    return np.minimum(sigma, share * np.percentile(sigma, 25))


def _ici_levels(x: np.ndarray, t: np.ndarray, sigma: np.ndarray, max_half_s: float, gamma: float):
    """The window rule of the module docstring. x: (T, ..., D); sigma: (...) jitter per vector -> (estimates
    (L, T, ..., D) at the half widths of :func:`_half_widths`, level (T, ...) of the widest window kept)."""
    sigma = np.asarray(sigma, dtype=np.float64)[None, ..., None]  # (1, ..., 1)
    lower = np.full(x.shape, -np.inf)
    upper = np.full(x.shape, np.inf)
    alive = np.ones(x.shape[:-1], dtype=bool)
    level = np.zeros(x.shape[:-1], dtype=np.int64)
    estimates = []
    for k, h in enumerate(_half_widths(t, max_half_s)):
        offsets, weights, gain = _fit_weights(t, h)
        est = _apply(x, offsets, weights)
        estimates.append(est)
        band = gamma * sigma * gain.reshape((-1,) + (1,) * (x.ndim - 1))
        lower = np.maximum(lower, est - band)
        upper = np.minimum(upper, est + band)
        alive &= np.all(lower <= upper, axis=-1)
        level = np.where(alive, k, level)
        if not alive.any():
            break
    return np.stack(estimates), level


def _pick(estimates: np.ndarray, level: np.ndarray) -> np.ndarray:
    """estimates (L, T, ..., D), level (T, ...) -> (T, ..., D) the estimate at each vector's level."""
    return np.take_along_axis(estimates, level[None, ..., None], axis=0)[0]


def adaptive_smooth(x, times_s, max_half_s: float = 0.15, gamma: float = 2.0, pooled: bool = False) -> np.ndarray:
    """x: (T, ..., D) (each last-axis vector is one signal: one window per vector); times_s: (T,) increasing;
    ``pooled``: the vectors are the joints of one body, their jitter estimates capped by :func:`shared_jitter`
    -> (T, ..., D) float64, smoothed as the module docstring says."""
    x, t = series(x, times_s)
    if x.shape[0] < 5:
        return x.copy()
    sigma = noise_level(x, t)
    if pooled:
        sigma = shared_jitter(sigma.reshape(-1)).reshape(sigma.shape)
    return _pick(*_ici_levels(x, t, sigma, max_half_s, gamma))


def adaptive_smooth_rotmat(rotmat, times_s, max_half_s: float = 0.15, gamma: float = 2.0,
                           chain: tuple[int, ...] = ()) -> np.ndarray:
    """rotmat: (T, J, 3, 3) -> (T, J, 3, 3) float64 exact rotations (quaternion fits, one window per joint;
    the joints' jitter pooled, :func:`shared_jitter`); ``chain``: joint indices, parent first, whose compound
    rotation is tested too (module docstring; e.g. ``SMPL_SPINE``)."""
    R = np.asarray(rotmat, dtype=np.float64)
    q = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(R))
    x, t = series(q, times_s)
    if x.shape[0] < 5:
        return quat_wxyz_to_rotmat(x)
    sigma = shared_jitter(noise_level(x, t))  # (J,)
    estimates, level = _ici_levels(x, t, sigma, max_half_s, gamma)
    if len(chain) > 1:
        compound = [R[:, chain[0]]]  # the chain's rotation from its first joint down to each of the others
        for j in chain[1:]:
            compound.append(compound[-1] @ R[:, j])
        qc = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(np.stack(compound[1:], axis=1)))  # (T, n-1, 4)
        sigma_c = np.sqrt(np.cumsum(sigma[list(chain)] ** 2))[1:]  # their jitter in quadrature
        _, level_c = _ici_levels(qc, t, sigma_c, max_half_s, gamma)
        level[:, list(chain[1:])] = np.minimum(level[:, list(chain[1:])], level_c)
    return quat_wxyz_to_rotmat(_pick(estimates, level))
