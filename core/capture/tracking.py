"""People: YOLO person detection, multi-object tracking, and the track clean-up (gap filling, splitting, length).

The only module that imports ultralytics (lazily, offline, weights only from the models directory). Frames are
addressed by **position**: the index of a frame in the sequence of processed frames (after the frame range and
``target_fps`` subsampling), so "adjacent" always means "next processed frame"; video frame indices travel
alongside as ``frame_ids``.

Track clean-up (pure functions, testable on hand-made detections):
- a gap of up to ``max_gap_frames`` missing positions is filled by linear interpolation of the box (rows
  marked ``interpolated``); a longer gap splits the track (the later piece gets a new id);
- pieces with fewer than ``min_track_frames`` *detected* rows are dropped;
- the crop box ``bbox_cxcys`` = (cx, cy, max(w, h) · bbox_scale).

Detections can also come from a file (``--detections``), see :func:`load_detections` for the formats.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InvalidArgumentError, InvalidModelFileError

PERSON_CLASS = 0  # COCO "person"


@dataclass
class Track:
    """One person over consecutive processed frames. N = rows."""

    track_id: int
    positions: np.ndarray  # (N,) int64   consecutive indices into the processed-frame sequence
    frame_ids: np.ndarray  # (N,) int64   video frame index of each row
    bbox_xyxy: np.ndarray  # (N, 4) float32   tracker box, source pixels
    bbox_cxcys: np.ndarray  # (N, 3) float32   crop box (cx, cy, max(w, h) · bbox_scale)
    interpolated: np.ndarray  # (N,) bool   True where the box was filled in over a detection gap
    source_track_id: int = -1  # the raw tracker id this piece came from (a split track's later pieces get new
    # ids); -1 = unknown

    def __len__(self) -> int:
        return int(self.positions.shape[0])


# ------------------------------------------------------------------------------------ pure track logic
def bbox_xyxy_to_cxcys(bbox_xyxy, scale: float = 1.0) -> np.ndarray:
    """Square box around each box: (N, 4) (x0, y0, x1, y1) -> (N, 3) (cx, cy, max(w, h, 1 px) · scale), float64."""
    b = np.asarray(bbox_xyxy, dtype=np.float64).reshape(-1, 4)
    side = np.maximum(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1.0) * scale
    return np.stack([(b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0, side], axis=-1)


def fill_and_split(positions, bbox_xyxy, max_gap_frames: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Make one raw track contiguous. positions: (M,) processed-frame indices (any order, unique);
    bbox_xyxy: (M, 4). Returns pieces (positions (N,), bbox_xyxy (N, 4) float64, interpolated (N,) bool):
    gaps of up to ``max_gap_frames`` missing positions are filled by linear interpolation, longer ones split."""
    pos = np.asarray(positions, dtype=np.int64).reshape(-1)
    boxes = np.asarray(bbox_xyxy, dtype=np.float64).reshape(-1, 4)
    if pos.shape[0] != boxes.shape[0]:
        raise ValueError(f"{pos.shape[0]} positions but {boxes.shape[0]} boxes")
    if pos.size == 0:
        return []
    order = np.argsort(pos, kind="stable")
    pos, boxes = pos[order], boxes[order]
    if np.any(np.diff(pos) == 0):
        raise ValueError("a track has two boxes in the same frame")
    breaks = np.flatnonzero(np.diff(pos) - 1 > max(int(max_gap_frames), 0)) + 1
    pieces = []
    for p, b in zip(np.split(pos, breaks), np.split(boxes, breaks)):
        full = np.arange(p[0], p[-1] + 1, dtype=np.int64)
        filled = np.stack([np.interp(full, p, b[:, k]) for k in range(4)], axis=-1)  # (N, 4)
        detected = np.isin(full, p)
        filled[detected] = b  # exact detected boxes, untouched by interpolation round-off
        pieces.append((full, filled, ~detected))
    return pieces


def build_tracks(raw_tracks: dict, frame_ids, min_track_frames: int, max_gap_frames: int,
                 bbox_scale: float = 1.2) -> list[Track]:
    """Clean raw tracker output into Tracks, sorted by id.

    raw_tracks: {track_id: (positions (M,), bbox_xyxy (M, 4))}; frame_ids: (P,) video frame index of every
    processed position. The first piece of a split track keeps its id; later pieces get new ids above every
    existing one (in order of original id, then time). Pieces with fewer than ``min_track_frames`` detected
    rows are dropped (interpolated rows do not count).
    """
    frame_ids = np.asarray(frame_ids, dtype=np.int64)
    next_id = max([int(k) for k in raw_tracks] + [0]) + 1
    tracks = []
    for tid in sorted(raw_tracks, key=int):
        positions, boxes = raw_tracks[tid]
        for n, (pos, box, interp) in enumerate(fill_and_split(positions, boxes, max_gap_frames)):
            new_id = int(tid)
            if n > 0:
                new_id, next_id = next_id, next_id + 1
            if int((~interp).sum()) < min_track_frames:
                continue
            tracks.append(Track(
                track_id=new_id,
                positions=pos,
                frame_ids=frame_ids[pos],
                bbox_xyxy=box.astype(np.float32),
                bbox_cxcys=bbox_xyxy_to_cxcys(box, bbox_scale).astype(np.float32),
                interpolated=interp,
                source_track_id=int(tid),
            ))
    return sorted(tracks, key=lambda t: t.track_id)


# ------------------------------------------------------------------------------------- ultralytics glue
@contextlib.contextmanager
def _ultralytics_guard():
    """Import ultralytics offline and quiet; restore torch's thread count afterwards (ultralytics sets it to
    cpu_count − 1 when it selects a device, which is 1 on a 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never probe the network
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        import ultralytics  # noqa: F401
        from ultralytics.utils import SETTINGS

        if SETTINGS.get("sync", False):
            SETTINGS.update({"sync": False})
        yield
    finally:
        torch.set_num_threads(threads)


class _Detections:
    """The minimal ``Boxes``-like object ultralytics trackers read: conf, cls, xywh, xyxy, boolean indexing."""

    def __init__(self, bbox_xyxy: np.ndarray, scores: np.ndarray):
        self.xyxy = np.asarray(bbox_xyxy, dtype=np.float32).reshape(-1, 4)
        self.conf = np.asarray(scores, dtype=np.float32).reshape(-1)
        self.cls = np.full(self.conf.shape, PERSON_CLASS, dtype=np.float32)
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        self.xywh = np.concatenate([self.xyxy[:, :2] + wh / 2, wh], axis=1)

    def __len__(self) -> int:
        return self.conf.shape[0]

    def __getitem__(self, index) -> "_Detections":
        return _Detections(self.xyxy[index], self.conf[index])


class PersonTracker:
    """ByteTrack / BoT-SORT (ultralytics' implementations) fed with per-frame person boxes.

    Call :meth:`update` once per processed frame, in order (also with no boxes: lost tracks age). The recorded
    box per frame is the tracker's Kalman-filtered state (as the official demo records SORT's). Tracks lost for
    more than ``max_gap_frames`` are ended, so a re-appearance gets a new id.
    """

    def __init__(self, kind: str = "bytetrack", max_gap_frames: int = 30):
        with _ultralytics_guard():
            from ultralytics.trackers.bot_sort import BOTSORT
            from ultralytics.trackers.byte_tracker import BYTETracker
            from ultralytics.utils import YAML, IterableSimpleNamespace, ROOT

            if kind not in ("bytetrack", "botsort"):
                raise InvalidArgumentError(f"unknown tracker '{kind}' (use bytetrack or botsort)")
            args = IterableSimpleNamespace(**YAML.load(ROOT / "cfg" / "trackers" / f"{kind}.yaml"))
            args.track_buffer = max(int(max_gap_frames), 1)
            if kind == "botsort":
                args.with_reid = False
            self._tracker = (BOTSORT if kind == "botsort" else BYTETracker)(args=args)
        self.kind = kind
        self._rows: dict[int, list] = {}

    def update(self, position: int, bbox_xyxy, scores=None,
               frame_bgr_u8: Optional[np.ndarray] = None) -> list[tuple[int, np.ndarray]]:
        """One frame. bbox_xyxy: (M, 4) person boxes; scores: (M,) in [0, 1] (default 1); frame only for BoT-SORT.
        -> the rows recorded for this frame: [(track id, bbox_xyxy (4,) float64)] (final: later frames do not
        change them)."""
        boxes = np.asarray(bbox_xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.ones(boxes.shape[0], np.float32) if scores is None else np.asarray(scores, np.float32)
        frame = np.ascontiguousarray(frame_bgr_u8) if (self.kind == "botsort" and frame_bgr_u8 is not None) else None
        with _ultralytics_guard():
            out = self._tracker.update(_Detections(boxes, scores), frame)
        recorded = []
        for row in np.asarray(out, dtype=np.float64).reshape(-1, 8):
            self._rows.setdefault(int(row[4]), []).append((int(position), row[:4]))
            recorded.append((int(row[4]), row[:4]))
        return recorded

    def raw_tracks(self) -> dict:
        """{track_id: (positions (M,) int64, bbox_xyxy (M, 4) float64)} of everything tracked so far."""
        return {
            tid: (np.array([p for p, _ in rows], dtype=np.int64), np.stack([b for _, b in rows]))
            for tid, rows in self._rows.items()
        }


class PersonDetector:
    """ultralytics YOLO restricted to the person class. Weights from a local file only (nothing downloaded).

    On the CPU, frames are shared out between ``lanes`` copies of the network run at the same time
    (:mod:`core.runtime.lanes`; None = ``core.runtime.lanes.default_lanes()``, 1 = one copy): each frame's boxes
    are what one network gives for it alone. Every copy is set up (ultralytics' imports, layer fusion) here, so the first
    video's detection stage does not pay for it.
    """

    def __init__(self, weights_path: str, device: str = "cpu", image_size: int = 640, confidence: float = 0.25,
                 batch_frames: int = 16, lanes: Optional[int] = None):
        from ..runtime import lanes as cpu_lanes

        weights_path = os.fspath(weights_path)
        from ..assets.checks import refuse_code_in_pickle

        refuse_code_in_pickle(weights_path)  # ultralytics unpickles the whole file: nothing in it may run code
        self.device = "cpu" if device == "cpu" else ("0" if device in ("cuda", "cuda:0") else device)
        self.image_size = int(image_size)
        self.confidence = float(confidence)
        self.batch_frames = max(1, int(batch_frames))
        self.lanes = lanes
        copies = cpu_lanes.lane_count(lanes, self._device_type)
        self._models = [self._load(weights_path) for _ in range(copies)]
        for model in self._models:
            try:
                self._predict(model, [np.zeros((32, 32, 3), np.uint8)], image_size=32)  # set up now, not mid-video
            except Exception as exc:  # noqa: BLE001 (a file that loads but cannot run)
                raise InvalidModelFileError(
                    f"{weights_path} loads but does not run as a YOLO detector ({type(exc).__name__}: {exc}); "
                    "put a YOLO .pt file there (see models/README.md)") from exc

    @property
    def _device_type(self) -> str:
        return "cpu" if self.device == "cpu" else "gpu"

    @staticmethod
    def _load(weights_path: str):
        with _ultralytics_guard():
            from ultralytics import YOLO

            try:
                return YOLO(weights_path, task="detect")
            except Exception as exc:  # ultralytics raises many kinds for a bad file
                raise InvalidModelFileError(
                    f"{weights_path} is not a usable ultralytics YOLO detector ({type(exc).__name__}: {exc}); "
                    "put a YOLO .pt file there (see models/README.md)"
                ) from exc

    def _predict(self, model, frames_bgr: list, image_size: Optional[int] = None):
        with _ultralytics_guard():
            return model.predict(frames_bgr, classes=[PERSON_CLASS], conf=self.confidence,
                                 imgsz=image_size or self.image_size, device=self.device, verbose=False,
                                 batch=len(frames_bgr))

    def __call__(self, frames_rgb_u8: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """frames_rgb_u8: (n, H, W, 3) uint8 -> n × (bbox_xyxy (M, 4) float32, scores (M,) float32)."""
        from ..runtime import lanes as cpu_lanes

        n = len(frames_rgb_u8)
        k = min(len(self._models), cpu_lanes.lane_count(self.lanes, self._device_type, n))
        if k <= 1:
            return self._detect(self._models[0], frames_rgb_u8)
        parts = cpu_lanes.split(n, k)
        found = cpu_lanes.run([lambda m=m, s=s: self._detect(m, frames_rgb_u8[s]) for m, s in zip(self._models, parts)])
        return [boxes for part in found for boxes in part]

    def _detect(self, model, frames_rgb_u8) -> list[tuple[np.ndarray, np.ndarray]]:
        from .video import swap_red_blue

        out = []
        for start in range(0, len(frames_rgb_u8), self.batch_frames):
            batch = [swap_red_blue(f) for f in frames_rgb_u8[start:start + self.batch_frames]]  # ultralytics: BGR
            for r in self._predict(model, batch):
                boxes = r.boxes.cpu().numpy()
                out.append((np.asarray(boxes.xyxy, np.float32).reshape(-1, 4), np.asarray(boxes.conf, np.float32)))
        return out


# ----------------------------------------------------------------------------------- detections files
@dataclass
class DetectionsFile:
    """Person boxes a user already has. M rows; ``track_ids`` None = per-frame boxes (our tracker links them)."""

    frame_ids: np.ndarray  # (M,) int64   video frame index
    bbox_xyxy: np.ndarray  # (M, 4) float64   source pixels
    scores: np.ndarray  # (M,) float64   detection confidence in [0, 1] (1 when not given)
    track_ids: Optional[np.ndarray]  # (M,) int64, or None

    def raw_tracks(self, position_of_frame: dict) -> dict:
        """{track_id: (positions, bbox_xyxy)} for per-track files, keeping rows on processed frames only."""
        out = {}
        for tid in np.unique(self.track_ids):
            rows = [(position_of_frame[f], b) for f, b, t in zip(self.frame_ids.tolist(), self.bbox_xyxy, self.track_ids)
                    if t == tid and f in position_of_frame]
            if rows:
                out[int(tid)] = (np.array([p for p, _ in rows], np.int64), np.stack([b for _, b in rows]))
        return out


def load_detections(path: str) -> DetectionsFile:
    """Read person boxes from ``.json`` or ``.npz`` (frame indices are 0-based video frames, boxes in pixels).

    - JSON per frame:  ``{"frames": [{"frame": 0, "bbox_xyxy": [[x0, y0, x1, y1], ...], "scores": [0.9, ...]}, ...]}``
      (``scores`` optional) — the boxes are linked into tracks by our tracker.
    - JSON per track:  ``{"tracks": [{"track_id": 1, "frame_ids": [0, 1, ...], "bbox_xyxy": [[...], ...]}, ...]}``
      — used as they are (gap filling, splitting and the length limit still apply).
    - NPZ: ``frame_ids`` (M,), ``bbox_xyxy`` (M, 4), optional ``scores`` (M,), optional ``track_ids`` (M,)
      (with ``track_ids``: per track, else per frame).
    Raises InvalidArgumentError naming what is wrong.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"detections file not found: {path}")
    try:
        if path.lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            frames, boxes = data["frame_ids"], data["bbox_xyxy"]
            scores, tids = data.get("scores"), data.get("track_ids")
        else:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            frames, boxes, scores, tids = _parse_json(doc)
        frames = np.asarray(frames, dtype=np.float64).reshape(-1)
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.ones(frames.shape) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        tids = None if tids is None else np.asarray(tids, dtype=np.float64).reshape(-1)
    except InvalidArgumentError:
        raise
    except Exception as exc:
        raise InvalidArgumentError(
            f"cannot read detections file {path} ({type(exc).__name__}: {exc}); see `python -m core capture --help` "
            "for the format") from exc
    n = frames.shape[0]
    if boxes.shape[0] != n or scores.shape[0] != n or (tids is not None and tids.shape[0] != n):
        raise InvalidArgumentError(f"detections file {path}: frame ids, boxes, scores and track ids differ in length")
    if not (np.all(np.isfinite(boxes)) and np.all(np.isfinite(frames))):
        raise InvalidArgumentError(f"detections file {path} holds non-finite numbers")
    if np.any(frames < 0) or np.any(frames != np.round(frames)):
        raise InvalidArgumentError(f"detections file {path}: frame indices must be whole numbers >= 0")
    if np.any(boxes[:, 2] <= boxes[:, 0]) or np.any(boxes[:, 3] <= boxes[:, 1]):
        raise InvalidArgumentError(f"detections file {path}: every box must be (x0, y0, x1, y1) with x1 > x0, y1 > y0")
    if tids is not None:
        keys = set(zip(frames.tolist(), tids.tolist()))
        if len(keys) != n:
            raise InvalidArgumentError(f"detections file {path}: a track has two boxes in the same frame")
    return DetectionsFile(frames.astype(np.int64), boxes, scores,
                          None if tids is None else tids.astype(np.int64))


def _parse_json(doc):
    """(frames, boxes, scores or None, track ids or None) from one of the two JSON layouts."""
    if isinstance(doc, dict) and "tracks" in doc:
        frames, boxes, tids = [], [], []
        for t in doc["tracks"]:
            f, b = list(t["frame_ids"]), list(t["bbox_xyxy"])
            if len(f) != len(b):
                raise ValueError(f"track {t.get('track_id')}: {len(f)} frame ids but {len(b)} boxes")
            frames += f
            boxes += b
            tids += [int(t["track_id"])] * len(f)
        return frames, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), None, tids
    if isinstance(doc, dict) and "frames" in doc:
        frames, boxes, scores = [], [], []
        for entry in doc["frames"]:
            b = np.asarray(entry.get("bbox_xyxy", []), dtype=np.float64).reshape(-1, 4)
            s = entry.get("scores")
            s = np.ones(b.shape[0]) if s is None else np.asarray(s, dtype=np.float64).reshape(-1)
            if s.shape[0] != b.shape[0]:
                raise ValueError(f"frame {entry.get('frame')}: {b.shape[0]} boxes but {s.shape[0]} scores")
            frames += [entry["frame"]] * b.shape[0]
            boxes.append(b)
            scores.append(s)
        boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4))
        return frames, boxes, (np.concatenate(scores) if scores else np.zeros(0)), None
    raise ValueError('expected a JSON object with a "frames" or a "tracks" list')
