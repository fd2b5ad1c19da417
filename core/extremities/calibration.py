"""Face calibration: MediaPipe's blendshape scores -> ARKit weights on the scale a character's shape keys use
(numpy only). Applied in exactly one place, the refine stage (``core.motion.extremities.refine_extremities``), to
the raw scores the capture stored (``raw_face_blendshapes``): refining again starts from those raw scores, so a
calibration is never applied twice, and ``none`` gives MediaPipe's own scores back.

Modes (``--face-calibration``, :data:`FACE_CALIBRATIONS`; default ``ExtremityRefineConfig.face_calibration``):

- ``standard``: a fixed monotone response map per channel (:data:`RESPONSE_MAPS`), for the channels MediaPipe
  reads on a compressed scale. Each map is piecewise linear: the identity up to a knee (a resting face's scores
  stay what they are: real open eyes read up to ~0.3 as eyeBlink), then a straight line that reaches 1 at the
  score MediaPipe gives a fully set shape key, and 1 above it. Other channels pass unchanged.
- ``auto``: per performer, from the track itself (as face-capture apps calibrate on a neutral pose): its calmest
  rows (the ``neutral_share`` of the rows with a face whose summed scores are smallest) give each channel's
  resting score ``b``; the scores are re-based, ``(s - b) / (1 - b)`` clamped to [0, 1], then mapped as
  ``standard``. A track with fewer than ``neutral_min_rows`` face rows gets ``standard`` (the file says so). A
  performer who never rests a channel in the clip (smiles throughout) loses that much of it: use ``standard``.
- ``none``: MediaPipe's scores unchanged.

Provenance of :data:`RESPONSE_MAPS` (bench/bench_face_calibration.py; bench/RESULTS.md "Face calibration"): the
CC0 MakeHuman character with the 52 ARKit "Face Units" shape keys, rendered (Blender Workbench, 512×512) with each
channel alone at weights 0, 0.1, ... 1 from the ten views of ``tests/blender/truth_scenes.FIT_VIEWS`` (front,
turned 25°, from 10° above and below, rim light, 2 m away, a dark skin, and three combinations), measured with
Google's face_landmarker.task (float16 v1) on the stage's own face crop. The knee of each map is set by real
faces, not by the renders (open eyes on the real portraits of tests/realdata.py read eyeBlink 0.15-0.30, closed
mouths jawOpen <= 0.02); the full-scale score is the least-squares fit of the line above the knee to the renders.
mouthSmile is not mapped: its median over the views stays within 0.14 of the identity while single views read
it on both sides of the truth (weight 0.2 reads 0.01-0.39), so a map would trade error between views. Checked on
the held-out views of ``truth_scenes.HELD_OUT_VIEWS`` (never fitted) and on the real portraits
(tests/core/test_extremities_realdata.py).
"""

from __future__ import annotations

from typing import Optional, get_args

import numpy as np

from ..config import FaceCalibration
from .layout import ARKIT_BLENDSHAPE_NAMES, NUM_BLENDSHAPES

FACE_CALIBRATIONS: tuple[str, ...] = get_args(FaceCalibration)  # ("standard", "auto", "none")
RESPONSE_MAPS_ID = "mediapipe-face-v1/makehuman-2026-12"  # which table (stored with every calibrated file)

# channel -> (score knots, weight knots): weight = np.interp(score, *map); identity up to the knee, 1 from the
# score of a full shape key on (see the module docstring)
RESPONSE_MAPS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "jawOpen": ((0.0, 0.10, 0.58, 1.0), (0.0, 0.10, 1.0, 1.0)),
    "eyeBlinkLeft": ((0.0, 0.30, 0.77, 1.0), (0.0, 0.30, 1.0, 1.0)),
    "eyeBlinkRight": ((0.0, 0.30, 0.77, 1.0), (0.0, 0.30, 1.0, 1.0)),
}


def map_scores(scores) -> np.ndarray:
    """The ``standard`` map: scores (..., 52) in ARKIT_BLENDSHAPE_NAMES order -> weights (..., 52) float64."""
    out = np.array(scores, dtype=np.float64, copy=True)
    for name, (xs, ys) in RESPONSE_MAPS.items():
        k = ARKIT_BLENDSHAPE_NAMES.index(name)
        out[..., k] = np.interp(out[..., k], xs, ys)
    return out


def neutral_scores(scores, seen, share: float, min_rows: int) -> Optional[np.ndarray]:
    """The performer's resting score per channel (52,): the per-channel median of the most neutral seen rows
    (the ``share`` of them with the smallest summed scores, at least 3); None with fewer than ``min_rows`` seen
    rows. scores: (N, 52); seen: (N,) bool."""
    s = np.asarray(scores, dtype=np.float64)[np.asarray(seen, dtype=bool)]
    if s.shape[0] < max(int(min_rows), 3):
        return None
    count = max(3, int(np.ceil(share * s.shape[0])))
    calmest = np.argsort(s.sum(axis=1), kind="stable")[:count]
    return np.median(s[calmest], axis=0)


def calibrate_face(scores, seen, mode: str, share: float = 0.1, min_rows: int = 30) -> tuple[np.ndarray, dict]:
    """Calibrated weights (N, 52) float64 of one track's raw scores (N, 52) (``seen`` (N,) bool: rows where a face
    was seen; the others are left as they are) and what was applied: {"mode", "maps" (the table's id, when
    mapped), "neutral" ({name: resting score} of the channels above 0.005, auto), "note" (auto fell back)}."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != NUM_BLENDSHAPES:
        raise ValueError(f"face scores must be (N, {NUM_BLENDSHAPES}), got {s.shape}")
    if mode == "none":
        return s.copy(), {"mode": "none"}
    if mode not in FACE_CALIBRATIONS:
        raise ValueError(f"unknown face calibration {mode!r} (one of {', '.join(FACE_CALIBRATIONS)})")
    info: dict = {"mode": mode, "maps": RESPONSE_MAPS_ID}
    seen = np.asarray(seen, dtype=bool)
    if mode == "auto":
        rest = neutral_scores(s, seen, share, min_rows)
        if rest is None:
            info.update(mode="standard", note=f"auto: {int(seen.sum())} rows with a face, fewer than the {min_rows} "
                                              "a neutral needs; the standard map alone")
        else:
            rest = np.minimum(rest, 0.95)
            rebased = np.clip((s - rest) / (1.0 - rest), 0.0, 1.0)
            s = np.where(seen[:, None], rebased, s)
            info["neutral"] = {n: round(float(v), 4) for n, v in zip(ARKIT_BLENDSHAPE_NAMES, rest) if v > 0.005}
    return np.where(seen[:, None], map_scores(s), s), info
