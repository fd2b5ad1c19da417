"""Foot contacts: when does a sole point (heel, ball, toe: :mod:`.soles`) rest on the floor?

A point's *height* is its distance above the floor (the points lie on the sole, so 0 = touching); its *speed*
is the smaller of its backward and forward one-frame speeds (:func:`settle_speeds`), so a contact starts on the
landing frame and ends on the last frame before lift-off. A point enters a contact when it is low **and** slow
(``height_on_m``, ``speed_on_mps``) and stays in it until it is high **or** fast (``height_off_m``,
``speed_off_mps``) — hysteresis, so jitter at the threshold does not chatter. Breaks shorter than ``max_gap_s``
are bridged and contacts shorter than ``min_contact_s`` dropped. ``use_speed=False`` (foot lock
``always``/``ground``) tests the height only. A real foot rolls heel → ball → toe, so each point has contacts of
its own: the heel's ends when the heel rises (before push-off), the toe's last.

A foot can also rest on something above the floor — a step, a box, a stage, a climbing frame
(:func:`detect_raised_rests`). Its height then says nothing, so it rests there only while no sole of the body is on
the floor, it is among the body's lowest soles with the pelvis well above it, it is still in 3-D for longer than
a jump's apex and its height stays at one level.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..config import ContactConfig
from ..errors import MocapError

FOOT_OF_COLUMN = (0, 1, 0, 1)  # 0 = left, 1 = right: the 4 columns of a result file's ``contact``
PELVIS_OVER_REST_M = 0.35  # a body standing (or crouching) on a raised rest has its pelvis at least this far above it


class TrackTooShortError(MocapError):
    """A track has too few rows for contact detection or a floor estimate."""


def joint_speeds(positions: np.ndarray, times_s: np.ndarray, span: int = 1) -> np.ndarray:
    """Speed of each point: central differences over ``span`` frames each side on the real times (the window
    shrinks at the ends; a wider span averages out jitter). positions: (T, F, 3), times_s: (T,)
    -> (T, F) metres per second (zeros for T < 2)."""
    p = np.asarray(positions, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    T = p.shape[0]
    if T < 2:
        return np.zeros(p.shape[:2])
    idx = np.arange(T)
    lo, hi = np.maximum(idx - span, 0), np.minimum(idx + span, T - 1)
    v = (p[hi] - p[lo]) / (t[hi] - t[lo])[:, None, None]
    return np.linalg.norm(v, axis=-1)


def settle_speeds(positions: np.ndarray, times_s: np.ndarray, span: int = 2) -> np.ndarray:
    """The smaller of each point's backward and forward speeds over ``span`` frames: a foot that lands is slow
    from its landing frame on (forwards) and one that lifts off is slow up to its last frame (backwards), so
    contacts start and end on the right frame; a span of 2 halves the effect of per-frame jitter without the
    lag an averaged path would add. positions: (T, F, 3), times_s: (T,) -> (T, F) m/s (the span shrinks at
    the ends)."""
    p = np.asarray(positions, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    T = p.shape[0]
    if T < 2:
        return np.zeros(p.shape[:2])
    idx = np.arange(T)
    lo, hi = np.maximum(idx - span, 0), np.minimum(idx + span, T - 1)

    def speed(a, b):
        dt = np.where(b > a, t[b] - t[a], 1.0)
        return np.where((b > a)[:, None], np.linalg.norm(p[b] - p[a], axis=-1) / dt[:, None], np.inf)

    out = np.minimum(speed(lo, idx), speed(idx, hi))
    return np.where(np.isfinite(out), out, 0.0)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D bool array (stop exclusive)."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _hysteresis(enter: np.ndarray, stay: np.ndarray) -> np.ndarray:
    """State per frame: on after an ``enter`` frame, for as long as ``stay`` holds. (T,) bool -> (T,) bool."""
    out = np.zeros(enter.shape, dtype=bool)
    on = False
    for i in range(enter.shape[0]):
        on = bool(enter[i]) or (on and bool(stay[i]))
        out[i] = on
    return out


def clean_runs(mask: np.ndarray, times_s: np.ndarray, min_duration_s: float, max_gap_s: float) -> np.ndarray:
    """Bridge gaps shorter than ``max_gap_s``, then drop runs shorter than ``min_duration_s`` (both measured on
    the real times: a run of frames a..b lasts t_b − t_a plus one typical frame). (T,) bool -> (T,) bool."""
    m = np.asarray(mask, dtype=bool).copy()
    t = np.asarray(times_s, dtype=np.float64)
    frame = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0
    r = runs(m)
    for (a0, b0), (a1, _b1) in zip(r[:-1], r[1:]):
        if t[a1] - t[b0 - 1] - frame < max_gap_s - 1e-9:
            m[b0:a1] = True
    for a, b in runs(m):
        if t[b - 1] - t[a] + frame < min_duration_s - 1e-9:
            m[a:b] = False
    return m


def detect_raised_rests(heights: np.ndarray, speeds: np.ndarray, times_s: np.ndarray, on_floor: np.ndarray,
                        pelvis_heights: Optional[np.ndarray] = None,
                        config: ContactConfig = ContactConfig()) -> np.ndarray:
    """Sole points resting on something above the floor: a step, a box, a stage, a climbing frame. Without the
    floor's height to go by, a point rests there only while no sole of the body is on the floor (``on_floor``)
    and it is the body's lowest (within ``raised_lowest_m`` of the lowest sole point, at least 35 cm below the
    pelvis: not a leg raised while lying), still in 3-D (``raised_speed_on_mps`` / ``raised_speed_off_mps``,
    hysteresis) for ``raised_min_s``, its heights over the run within ``raised_level_m`` (10th to 90th
    percentile: one level, not a foot lowered slowly). heights: (T, P) above the floor; speeds: (T, P) 3-D
    (:func:`settle_speeds`); times_s: (T,); on_floor: (T, P) bool floor contacts; pelvis_heights: (T,) or None
    -> (T, P) bool."""
    h = np.asarray(heights, dtype=np.float64)
    s = np.asarray(speeds, dtype=np.float64)
    out = np.zeros(h.shape, dtype=bool)
    if config.raised_min_s <= 0.0 or h.shape[0] == 0:
        return out
    free = ~np.asarray(on_floor, dtype=bool).any(axis=1, keepdims=True)
    above = h - h.min(axis=1, keepdims=True)
    held = free & (h > config.height_off_m)
    if pelvis_heights is not None:
        held &= np.asarray(pelvis_heights, dtype=np.float64)[:, None] - h > PELVIS_OVER_REST_M
    enter = held & (above < config.raised_lowest_m) & (s < config.raised_speed_on_mps)
    stay = held & (above < 2.0 * config.raised_lowest_m) & (s < config.raised_speed_off_mps)
    for k in range(h.shape[1]):
        col = clean_runs(_hysteresis(enter[:, k], stay[:, k]), times_s, config.raised_min_s, config.max_gap_s)
        for a, b in runs(col):
            lo, hi = np.percentile(h[a:b, k], [10.0, 90.0])
            if hi - lo <= config.raised_level_m:
                out[a:b, k] = True
    return out


def detect_contacts(heights: np.ndarray, speeds: np.ndarray, times_s: np.ndarray,
                    config: ContactConfig = ContactConfig(), use_speed: bool = True) -> np.ndarray:
    """heights: (T, F) metres above resting on the floor; speeds: (T, F) m/s; times_s: (T,) -> (T, F) bool."""
    h = np.asarray(heights, dtype=np.float64)
    s = np.asarray(speeds, dtype=np.float64)
    enter = h < config.height_on_m
    stay = h < config.height_off_m
    if use_speed:
        enter &= s < config.speed_on_mps
        stay &= s < config.speed_off_mps
    out = np.zeros(h.shape, dtype=bool)
    for f in range(h.shape[1]):
        out[:, f] = clean_runs(_hysteresis(enter[:, f], stay[:, f]), times_s, config.min_contact_s, config.max_gap_s)
    return out
