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

For rotations (the body's joints, the fingers) a second rule must hold as well: **Lepski's** (Lepski 1991;
Lepski, Mammen & Spokoiny 1997). A window is kept only while its fit stays within ``kappa`` standard
deviations of every narrower window's fit. The test is χ² on the vector's D components, at most κ²·D. Nested
least-squares fits at one frame share their samples, so their difference has variance σ²(g_narrow² −
g_wide²) per component. This test therefore sees a bias about the size of the jitter. The ICI rule's summed
bands let ~3σ pass, enough to bend a sprint at 30 fps off by millimetres (bench/RESULTS.md, sixth round).
At 2σ the test fails by chance on a few percent of a slow motion's joint-frames. Each such frame would keep
its raw sample among smoothed neighbours, which is a spike of acceleration. So the window Lepski's rule picks
is averaged over time (a Gaussian of ``level_frames``, 1 frame), and where that average falls between two
windows their fits are blended. The smaller of that and the ICI rule's window is used.

Rotations are fitted as sign-continuous unit quaternions (WXYZ) and normalised back (the fit is linear in the
four components; over a window of a few frames the error of that against a fit on the rotation manifold is far
below the jitter); a joint's four components share one window. Windows are symmetric (they shrink at the
track's ends), so a quadratic fit is also exact for cubic motion.

A ``chain`` of joints that share one bend (SMPL's three spine joints carry one recorded back between them) is
also tested as a whole: the compound rotation from the chain's first joint down to each later one gets the
same rules, with the joints' jitter in quadrature, and that joint's window is capped at the compound's. The
fits' biases add up coherently along such a chain while their jitter does not, so a window each joint alone
accepts can bend the chest off (a sprint at 30 fps: +2.5 to +3.9 mm MPJPE from the spine alone,
bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np

from ..rotations import quat_wxyz_make_continuous, quat_wxyz_to_rotmat, rotmat_to_quat_wxyz

JITTER_SHARE = 1.0  # a joint's jitter estimate is capped at this multiple of the quietest quarter's
KAPPA = 2.0  # rotations: Lepski's test, in standard deviations of two fits' difference
LEVEL_SMOOTHING_FRAMES = 1.0  # rotations: Lepski's window choice is averaged over this many frames (Gaussian σ)


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


def _all_fit_weights(t: np.ndarray, max_half_s: float) -> list:
    """:func:`_fit_weights` at every half width of :func:`_half_widths` (one track's times serve the body and its
    chain alike)."""
    return [_fit_weights(t, h) for h in _half_widths(t, max_half_s)]


def _fits(x: np.ndarray, fit_weights: list) -> tuple[np.ndarray, np.ndarray]:
    """The fits at every half width. x: (T, ..., D); fit_weights: :func:`_all_fit_weights` -> (estimates
    (L, T, ..., D), noise gains (L, T))."""
    estimates = [_apply(x, offsets, weights) for offsets, weights, _ in fit_weights]
    return np.stack(estimates), np.stack([gain for _, _, gain in fit_weights])


def _ici_level(estimates: np.ndarray, gains: np.ndarray, sigma: np.ndarray, gamma: float) -> np.ndarray:
    """The ICI rule of the module docstring. estimates (L, T, ..., D), gains (L, T), sigma (...) jitter per vector
    -> (T, ...) level of the widest window kept."""
    sigma = np.asarray(sigma, dtype=np.float64)[None, ..., None]  # (1, ..., 1)
    shape = estimates.shape[1:]
    lower, upper = np.full(shape, -np.inf), np.full(shape, np.inf)
    alive = np.ones(shape[:-1], dtype=bool)
    level = np.zeros(shape[:-1], dtype=np.int64)
    for k in range(estimates.shape[0]):
        band = gamma * sigma * gains[k].reshape((-1,) + (1,) * (len(shape) - 1))
        lower = np.maximum(lower, estimates[k] - band)
        upper = np.minimum(upper, estimates[k] + band)
        alive &= np.all(lower <= upper, axis=-1)
        level = np.where(alive, k, level)
        if not alive.any():
            break
    return level


def _lepski_level(estimates: np.ndarray, gains: np.ndarray, sigma: np.ndarray, kappa: float) -> np.ndarray:
    """Lepski's rule: the widest window whose fit lies within ``kappa`` standard deviations (a χ² test on the
    vector's D components, at most kappa² · D) of every narrower window's fit. Nested least-squares fits at one
    frame share their samples: their difference's variance is σ² (g_narrow² − g_wide²) per component, so this
    test sees a bias the size of the jitter where the ICI rule's summed bands let ~3σ pass. Same arguments and
    result as :func:`_ici_level`."""
    sigma2 = np.asarray(sigma, dtype=np.float64)[None, ..., None] ** 2  # (1, ..., 1)
    shape = estimates.shape[1:]
    D = shape[-1]
    g2 = gains.reshape(gains.shape + (1,) * (len(shape) - 1)) ** 2  # (L, T, 1, ...)
    alive = np.ones(shape[:-1], dtype=bool)
    level = np.zeros(shape[:-1], dtype=np.int64)
    for k in range(1, estimates.shape[0]):
        for j in range(k):
            var = np.maximum(sigma2 * np.maximum(g2[j] - g2[k], 1e-12), 1e-30)  # no jitter (σ = 0): a sample alone
            alive &= np.sum((estimates[k] - estimates[j]) ** 2 / var, axis=-1) <= kappa * kappa * D
        level = np.where(alive, k, level)
        if not alive.any():
            break
    return level


def _smooth_level(level: np.ndarray, frames: float) -> np.ndarray:
    """level (T, ...) ints -> (T, ...) float64, averaged along time by a Gaussian of ``frames`` standard deviation
    (reaching 4 of them, the ends repeated)."""
    level = np.asarray(level, dtype=np.float64)
    if frames <= 0 or level.shape[0] < 2:
        return level
    radius = int(4.0 * frames + 0.5)
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / frames) ** 2)
    k /= k.sum()
    T = level.shape[0]
    idx = np.clip(np.arange(T)[:, None] + np.arange(-radius, radius + 1)[None], 0, T - 1)  # (T, W)
    return np.einsum("tw...,w->t...", level[idx], k)


def _pick(estimates: np.ndarray, level: np.ndarray) -> np.ndarray:
    """estimates (L, T, ..., D), level (T, ...) ints or floats (between two windows: their fits blended linearly)
    -> (T, ..., D) the estimate at each vector's level."""
    level = np.asarray(level)
    if np.issubdtype(level.dtype, np.integer):
        return np.take_along_axis(estimates, level[None, ..., None], axis=0)[0]
    lo = np.floor(level).astype(np.int64)
    hi = np.minimum(lo + 1, estimates.shape[0] - 1)
    share = (level - lo)[..., None]
    return (1.0 - share) * _pick(estimates, lo) + share * _pick(estimates, hi)


def adaptive_smooth(x, times_s, max_half_s: float = 0.15, gamma: float = 2.0, pooled: bool = False) -> np.ndarray:
    """x: (T, ..., D) (each last-axis vector is one signal: one window per vector); times_s: (T,) increasing;
    ``pooled``: the vectors are the joints of one body, their jitter estimates capped by :func:`shared_jitter`
    -> (T, ..., D) float64, smoothed by the ICI rule of the module docstring."""
    x, t = series(x, times_s)
    if x.shape[0] < 5:
        return x.copy()
    sigma = noise_level(x, t)
    if pooled:
        sigma = shared_jitter(sigma.reshape(-1)).reshape(sigma.shape)
    estimates, gains = _fits(x, _all_fit_weights(t, max_half_s))
    return _pick(estimates, _ici_level(estimates, gains, sigma, gamma))


def adaptive_smooth_rotmat(rotmat, times_s, max_half_s: float = 0.15, gamma: float = 2.0, kappa: float = KAPPA,
                           level_frames: float = LEVEL_SMOOTHING_FRAMES, chain: tuple[int, ...] = ()) -> np.ndarray:
    """rotmat: (T, J, 3, 3) -> (T, J, 3, 3) float64 exact rotations (quaternion fits, one window per joint;
    the joints' jitter pooled, :func:`shared_jitter`); ``chain``: joint indices, parent first, whose compound
    rotation is tested too (module docstring; e.g. ``SMPL_SPINE``); ``kappa``, ``level_frames``: Lepski's rule
    and the averaging of its window choice (module docstring)."""
    R = np.asarray(rotmat, dtype=np.float64)
    q = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(R))
    x, t = series(q, times_s)
    if x.shape[0] < 5:
        return quat_wxyz_to_rotmat(x)
    sigma = shared_jitter(noise_level(x, t))  # (J,)
    fit_weights = _all_fit_weights(t, max_half_s)
    estimates, gains = _fits(x, fit_weights)
    ici = _ici_level(estimates, gains, sigma, gamma)
    lepski = _lepski_level(estimates, gains, sigma, kappa)
    if len(chain) > 1:
        compound = [R[:, chain[0]]]  # the chain's rotation from its first joint down to each of the others
        for j in chain[1:]:
            compound.append(compound[-1] @ R[:, j])
        qc = quat_wxyz_make_continuous(rotmat_to_quat_wxyz(np.stack(compound[1:], axis=1)))  # (T, n-1, 4)
        sigma_c = np.sqrt(np.cumsum(sigma[list(chain)] ** 2))[1:]  # their jitter in quadrature
        fits_c = _fits(qc, fit_weights)
        rest = list(chain[1:])
        ici[:, rest] = np.minimum(ici[:, rest], _ici_level(*fits_c, sigma_c, gamma))
        lepski[:, rest] = np.minimum(lepski[:, rest], _lepski_level(*fits_c, sigma_c, kappa))
    level = np.minimum(_smooth_level(lepski, level_frames), ici)
    return quat_wxyz_to_rotmat(_pick(estimates, level))
