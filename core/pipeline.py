"""One capture: video -> people -> TCMR -> MotionResult. ``run(video_path, config, progress, cancel)``.

Two streaming passes over the video (memory stays flat with video length; only per-frame results grow):

1. **detect** — decode the chosen frames in chunks, YOLO person boxes, ByteTrack/BoT-SORT -> boxes per track
   (no pixels kept). Then the tracks are cleaned: short gaps filled by interpolation, long gaps split, short
   tracks dropped (:func:`core.capture.tracking.build_tracks`). With ``detections_path`` the boxes come from a file.
2. **features** — decode again only the frames the surviving tracks need, crop every person, ResNet-50 ->
   (N, 2048) per track (:mod:`core.capture.features`).

Why two passes rather than buffering frames around detection gaps: a gap's boxes are only known once the person
reappears (up to ``max_gap_frames`` later), and a track's fate (kept or dropped as too short) only at its end;
a second decode costs far less than running ResNet-50 on crops of tracks that are later dropped.

Then per track: **regress** — TCMR over the whole track (``predict_sequence``), camera conversion
(:mod:`core.capture.camera`); **extremities** (``--hands``/``--face``, when their model files are there) — fingers and
face on crops around the body's own hands and head (:mod:`core.extremities`, a third decode of the tracks' frames); then
**refine** over all tracks (:mod:`core.motion`: smoothing, floor, foot lock; fingers/face gaps and smoothing).

``progress(stage, fraction, message)``: stage in "open", "detect", "features", "regress", "extremities"; fraction is the
overall progress of the run in [0, 1] (monotone). ``cancel()`` returning True stops the run between chunks
(CancelledError).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Callable, Optional

import numpy as np

from . import __version__
from .assets.table import find_smpl_file, how_to_get, model_path, resolve_models_dir
from .capture.camera import cam_to_transl, crop_cam_to_orig, estimate_focal_length_px
from .capture.video import VideoReader, check_frame_range, full_timestamps
from .config import CaptureConfig
from .errors import (
    CancelledError,
    InvalidArgumentError,
    InvalidModelFileError,
    NoPersonFoundError,
    VideoTooShortError,
)
from .result import MotionResult, TrackMotion

# overall progress span of each stage; the CLI reports "save" from 0.97 to 1
STAGE_SPANS = {"open": (0.0, 0.02), "detect": (0.02, 0.40), "features": (0.40, 0.85), "regress": (0.85, 0.97)}
# with hands/face the regression shares its span with them
EXTREMITY_SPANS = {"regress": (0.85, 0.88), "extremities": (0.88, 0.97)}

ProgressFn = Callable[[str, float, str], None]


class _Reporter:
    def __init__(self, progress: Optional[ProgressFn], cancel: Optional[Callable[[], bool]]):
        self.progress, self.cancel = progress, cancel
        self.spans = dict(STAGE_SPANS)
        self.timings: dict[str, float] = {}
        self._stage, self._t = None, time.perf_counter()

    def __call__(self, stage: str, fraction: float, message: str = "") -> None:
        if stage != self._stage:
            now = time.perf_counter()
            if self._stage is not None:
                self.timings[self._stage] = round(now - self._t, 3)
            self._stage, self._t = stage, now
        if self.progress is not None:
            lo, hi = self.spans[stage]
            self.progress(stage, lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message)

    def finish(self) -> None:
        if self._stage is not None:
            self.timings[self._stage] = round(time.perf_counter() - self._t, 3)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError("cancelled")


def run(video_path: str, config: CaptureConfig = CaptureConfig(), progress: Optional[ProgressFn] = None,
        cancel: Optional[Callable[[], bool]] = None, models: Optional["Models"] = None) -> MotionResult:
    """Capture every person (or ``config.track``) in ``video_path``. Raises MocapError subclasses for bad input.

    ``models``: networks loaded once by :func:`load_models` and reused for many clips (batch workers); by
    default they are loaded for this run."""
    report = _Reporter(progress, cancel)
    report("open", 0.0, f"opening {video_path}")
    # cheap checks first (no torch import yet), so bad input fails in a fraction of a second: the options,
    # then the user's own files (video, detections), then the set-up (models folder and files)
    wanted_track = _parse_track(config.track)
    check_frame_range(config.frame_start, config.frame_end)
    reader = VideoReader(video_path)
    info = reader.info
    _check_enough_frames(reader, config)  # a clip too short is refused before seconds of model loading
    detections = detector_file = None
    if config.detections_path:
        from .capture.tracking import load_detections

        detections = load_detections(config.detections_path)
    models_dir = resolve_models_dir(config.models_dir)
    tcmr_file, spin_file = model_path("tcmr", models_dir), model_path("spin", models_dir)
    if not config.detections_path:
        detector_file = model_path("detector", models_dir)
    from .extremities.capture import resolve_parts

    parts = resolve_parts(config.extremities, models_dir)  # (--hands without its file: an error before any work)
    if parts.any:
        report.spans.update(EXTREMITY_SPANS)
    report("open", 0.3, f"{info.width}x{info.height}, {info.fps:g} fps: loading models")
    own_models = models is None
    if own_models:
        models = load_models(config, detector=detector_file is not None)
    elif detector_file is not None and models.detector is None:
        models.detector = _load_detector(detector_file, models.device, config)
    device, model, backbone = models.device, models.tcmr, models.backbone
    detector = models.detector if detector_file is not None else None
    report("open", 1.0, "models loaded")

    from .capture.features import StreamedFeatures, extract_track_features

    streamed = None
    if config.speed.stream_features and wanted_track is None:  # (one chosen track: the others' rows would be waste)
        streamed = StreamedFeatures(backbone, config.crop.bbox_scale, config.feature_batch, config.speed.gpu_crops)
    frame_ids, times, tracks = _detect_and_track(reader, config, detector, detections, report, streamed)
    if wanted_track is not None:
        chosen = [t for t in tracks if t.track_id == wanted_track]
        if not chosen:
            raise InvalidArgumentError(f"there is no track {wanted_track}; tracks found: "
                                       f"{', '.join(str(t.track_id) for t in tracks)} (or use --track all)")
        tracks = chosen

    report("features", 0.0, "cropping and computing features")
    features = extract_track_features(
        reader, tracks, backbone, config.crop.bbox_scale, config.decode_chunk, config.feature_batch,
        progress=lambda f, m: report("features", f, m), cancel=report.cancel, overlap=config.speed.overlap,
        gpu_crops=config.speed.gpu_crops, known=streamed)
    streamed_seconds = 0.0 if streamed is None else streamed.seconds
    streamed = None  # (rows of dropped tracks go with it)
    del backbone
    if own_models:
        models.backbone = None  # free ResNet-50 before the regression (a caller's models stay loaded)

    focal = estimate_focal_length_px(info.width, info.height, config.camera.focal_length_px)
    motions = []
    for k, track in enumerate(tracks):
        report.check_cancel()
        report("regress", k / len(tracks), f"track {track.track_id}: {len(track)} frames")
        motions.append(_regress_track(model, track, features.pop(track.track_id), times[track.positions],
                                      info.width, info.height, focal, config))
    report("regress", 1.0, f"{len(motions)} track(s) done")
    extremities = _capture_extremities(reader, tracks, motions, times, info, focal, parts, config, report)
    report.finish()
    if streamed_seconds:  # pass 1's cropping and backbone time belongs to the features stage
        report.timings["detect"] = round(report.timings.get("detect", 0.0) - streamed_seconds, 3)
        report.timings["features"] = round(report.timings.get("features", 0.0) + streamed_seconds, 3)

    num_frames = reader.timestamps_s.shape[0] if reader.reached_end else max(info.frame_count,
                                                                              reader.timestamps_s.shape[0])
    arrays = model.smpl_arrays
    result = MotionResult(
        video_path=str(video_path), fps=reader.nominal_fps(), width=info.width, height=info.height,
        num_frames=int(num_frames), focal_length_px=focal, timestamps_s=full_timestamps(reader, num_frames),
        tracks=motions,
        smpl_faces=None if arrays is None else np.asarray(arrays["f"], dtype=np.int64),
        smpl_lbs_weights=None if arrays is None else np.asarray(arrays["weights"], dtype=np.float32),
        meta=_meta(config, device, detector_file, frame_ids, reader, report.timings, focal),
    )
    result.meta["extremities"] = extremities
    return refine_capture(result, config)


def _capture_extremities(reader, tracks, motions, times, info, focal, parts, config: CaptureConfig,
                         report: _Reporter) -> dict:
    """The hands/face stage on the regressed tracks (arrays set on ``motions``); its report for meta."""
    summary = {"parts": parts.as_dict(), "warnings": list(parts.warnings)}
    if not parts.any:
        return summary
    from .extremities.capture import capture_extremities

    if any(m.rest_joints is None for m in motions):
        summary["warnings"].append("no SMPL body to place the hand and face crops with: fingers and face skipped")
        return summary
    report("extremities", 0.0, "fingers and face")
    done = capture_extremities(reader, motions, {t.track_id: times[t.positions] for t in tracks}, focal, info.width,
                               info.height, parts, config.extremities,
                               progress=lambda f, m: report("extremities", f, m), cancel=report.cancel,
                               chunk_frames=config.decode_chunk)
    for m in motions:
        for name, value in done["arrays"].get(m.track_id, {}).items():
            setattr(m, name, value)
    report("extremities", 1.0, "fingers and face done")
    frames = max(done["person_frames"], 1)
    summary.update(seconds=done["seconds"], ms_per_person_frame=round(1000 * done["seconds"] / frames, 2),
                   person_frames=done["person_frames"], found={str(k): v for k, v in done["found"].items()})
    return summary


def refine_capture(result: MotionResult, config: CaptureConfig) -> MotionResult:
    """The refine stage on a fresh capture (core.motion.refine, not strict: a floor that cannot be found is a
    warning in meta["refine"] and the motion keeps the camera frame). ``smoothing.enabled = False`` keeps the
    network output bit-exact (no smoothing, no foot lock); One-Euro parameters changed in ``config.smoothing``
    win over ``config.refine.one_euro``."""
    from .config import SmoothingConfig
    from .motion.refine import refine_result

    refine = config.refine
    if not config.smoothing.enabled:
        refine = dataclasses.replace(refine, smoothing="none",
                                     foot_lock=dataclasses.replace(refine.foot_lock, mode="never"))
    elif dataclasses.replace(config.smoothing, enabled=True) != SmoothingConfig():
        refine = dataclasses.replace(refine, one_euro=config.smoothing)
    return refine_result(result, refine, strict=False)[0]


@dataclasses.dataclass
class Models:
    """The networks of one capture process, loaded once by :func:`load_models` (``run(..., models=...)``)."""

    device: object  # torch.device
    tcmr: object  # core.load_tcmr module
    backbone: object  # core.load_backbone module
    detector: object = None  # core.capture.tracking.PersonDetector, loaded on first need


def capture_warnings(result) -> list:
    """What a finished capture warns about: its hands/face stage (e.g. no hand model file) and refine (e.g. no
    floor found: the motion keeps the camera frame)."""
    meta = getattr(result, "meta", None) or {}
    return [str(w) for part in ("extremities", "refine") for w in (meta.get(part) or {}).get("warnings", [])]


def load_models(config: CaptureConfig = CaptureConfig(), detector: bool = True) -> Models:
    """Load TCMR, ResNet-50 and (``detector``) YOLO from ``config.models_dir`` onto ``config.device``."""
    from .runtime.device import resolve_device
    from .tcmr.checkpoint import load_backbone, load_tcmr

    models_dir = resolve_models_dir(config.models_dir)
    tcmr_file, spin_file = model_path("tcmr", models_dir), model_path("spin", models_dir)
    detector_file = model_path("detector", models_dir) if detector else None
    device = resolve_device(config.device)
    smpl_file = config.smpl_path or find_smpl_file(models_dir)
    models = Models(device=device, tcmr=_load("tcmr", load_tcmr, tcmr_file, device=device, smpl=smpl_file),
                    backbone=_load("spin", load_backbone, spin_file, device=device, **_lanes_kwargs(config),
                                   **backbone_precision_kwargs(config.speed.precision, device)))
    if detector_file is not None:
        models.detector = _load_detector(detector_file, device, config)
    return models


def backbone_precision_kwargs(precision: str, device) -> dict:
    """``load_backbone`` keyword arguments for ``--precision`` ({} for the exact fp32 default).

    bf16 needs a CPU with bfloat16 instructions (avx512_bf16 / AMX) or a GPU, fp16 a GPU; asking for either
    where it is missing is a user error (it would be emulated and slower than fp32)."""
    if precision in (None, "fp32"):
        return {}
    import torch

    from .runtime.device import cpu_has_fast_bf16

    if precision == "bf16":
        if device.type == "cpu" and not cpu_has_fast_bf16():
            raise InvalidArgumentError("--precision bf16 needs a CPU with bfloat16 instructions (avx512_bf16 or "
                                       "AMX) or a GPU; this CPU has none: use --precision fp32")
        return {"dtype": torch.bfloat16}
    if precision == "fp16":
        if device.type == "cpu":
            raise InvalidArgumentError("--precision fp16 needs a GPU; on the CPU use bf16 (if it has avx512_bf16/"
                                       "AMX) or fp32")
        return {"dtype": torch.float16}
    raise InvalidArgumentError(f"unknown precision {precision!r}; use fp32, bf16 or fp16")


def _load_detector(detector_file, device, config: CaptureConfig):
    from .capture.tracking import PersonDetector

    tc = config.tracker
    return _load("detector", PersonDetector, detector_file, device.type, tc.image_size, tc.detection_confidence,
                 tc.batch_frames, **_lanes_kwargs(config))


def _lanes_kwargs(config: CaptureConfig) -> dict:
    """``lanes=`` for the loaders when the capture sets it (else their default, core.runtime.lanes.default_lanes())."""
    return {} if config.speed.lanes is None else {"lanes": int(config.speed.lanes)}


def _load(role: str, loader, *args, **kwargs):
    """loader(*args, **kwargs); a wrong model file's error also says where the right one comes from."""
    try:
        return loader(*args, **kwargs)
    except InvalidModelFileError as err:
        message = str(err)
        if "models/README.md" not in message and "install_deps" not in message:
            message = f"{message.rstrip('.')}; get the right file: {how_to_get(role)}"
        raise InvalidModelFileError(message) from err


def _parse_track(track) -> Optional[int]:
    if track is None or str(track).strip().lower() == "all":
        return None
    try:
        return int(str(track).strip())
    except ValueError:
        raise InvalidArgumentError(f"track must be 'all' or a track number, got {track!r}") from None


def _detect_and_track(reader: VideoReader, config: CaptureConfig, detector, detections, report: _Reporter,
                      streamed=None):
    """Pass 1. -> (frame_ids (P,) of the processed frames, their times (P,), cleaned tracks).

    ``streamed`` (a :class:`core.capture.features.StreamedFeatures`): also crop every box the tracker records, while
    its frame is decoded, and compute its features (only when pass 1 decodes pixels and tracks per frame)."""
    from .capture.features import chunk_frames_for, maybe_prefetch
    from .capture.tracking import PersonTracker, build_tracks
    from .capture.video import swap_red_blue

    tc = config.tracker
    per_frame = detector is not None or detections.track_ids is None
    # --detect-every thins out the detector's work; boxes from a file are all used (they cost nothing)
    every = max(1, int(config.speed.detect_every)) if detector is not None else 1  # positions 0, k, 2k, ...
    tracker = PersonTracker(tc.tracker, -(-tc.max_gap_frames // every)) if per_frame else None
    by_frame: dict[int, list] = {}
    if detections is not None and per_frame:
        for f, box, score in zip(detections.frame_ids.tolist(), detections.bbox_xyxy, detections.scores):
            by_frame.setdefault(f, []).append((box, score))
    need_pixels = detector is not None or (tracker is not None and tc.tracker == "botsort")
    expected = _expected_frames(reader, config)
    frame_ids: list[int] = []
    times: list[float] = []
    report("detect", 0.0, "searching for people")  # (starts the stage's clock before the first chunk)
    overlap = config.speed.overlap and need_pixels
    scan = reader.scan(chunk_frames_for(reader, config.decode_chunk, overlap), config.frame_start, config.frame_end,
                       config.target_fps, decode=need_pixels)
    if not (need_pixels and tracker is not None):
        streamed = None
    with maybe_prefetch(scan, overlap) as chunks:
        for chunk in chunks:
            report.check_cancel()
            first = len(frame_ids)
            recorded: dict[int, list] = {}
            chosen = [k for k in range(len(chunk.frame_ids)) if (first + k) % every == 0]
            found = None
            if detector is not None:
                pixels = chunk.frames_rgb_u8 if every == 1 else chunk.frames_rgb_u8[chosen]
                found = dict(zip(chosen, detector(pixels) if chosen else []))
            for k, (fid, t) in enumerate(zip(chunk.frame_ids.tolist(), chunk.timestamps_s.tolist())):
                pos = len(frame_ids)
                frame_ids.append(fid)
                times.append(t)
                if tracker is None or pos % every:
                    continue  # --detect-every: the rows in between are interpolated by build_tracks
                if found is not None:
                    boxes, scores = found[k]
                else:
                    rows = by_frame.get(fid, [])
                    boxes = np.array([b for b, _ in rows]).reshape(-1, 4)
                    scores = np.array([s for _, s in rows], dtype=np.float32)
                frame_bgr = None  # only BoT-SORT looks at the pixels (camera-motion compensation)
                if tracker.kind == "botsort" and chunk.frames_rgb_u8 is not None:
                    frame_bgr = swap_red_blue(chunk.frames_rgb_u8[k])
                rows = tracker.update(pos, boxes, scores, frame_bgr)
                recorded[fid] = [(tid, pos, box) for tid, box in rows]
            if streamed is not None:
                streamed.add_chunk(chunk, recorded)
            report("detect", len(frame_ids) / max(expected, len(frame_ids) + 1),
                   f"frame {frame_ids[-1]}: {len(frame_ids)} frames searched for people")
    if streamed is not None:
        streamed.finish()
    frame_ids_arr = np.asarray(frame_ids, dtype=np.int64)
    if len(frame_ids) < _required_frames(config):
        raise _too_short(reader, config, len(frame_ids))
    if tracker is not None:
        raw = tracker.raw_tracks()
    else:
        raw = detections.raw_tracks({f: p for p, f in enumerate(frame_ids)})
    tracks = build_tracks(raw, frame_ids_arr, -(-tc.min_track_frames // every), tc.max_gap_frames,
                          config.crop.bbox_scale)
    source = "the detections file" if detections is not None else "the person detector"
    if not raw:
        raise NoPersonFoundError(f"no person found in {reader.path}: {source} found nobody in the processed frames "
                                 "(check the video, or give boxes with --detections)")
    if not tracks:
        longest = max(int(len(p)) for p, _ in raw.values())
        raise NoPersonFoundError(
            f"no person track in {reader.path} lasts {tc.min_track_frames} frames ({source} found {len(raw)} "
            f"track(s), the longest {longest} frames); use a clip where the person stays in view longer")
    report("detect", 1.0, f"{len(tracks)} person track(s)")
    return frame_ids_arr, np.asarray(times, dtype=np.float64), tracks


def _required_frames(config: CaptureConfig) -> int:
    return max(config.tracker.min_track_frames, config.window.seqlen)


def _too_short(reader: VideoReader, config: CaptureConfig, count: int) -> VideoTooShortError:
    return VideoTooShortError(
        f"{reader.path} gives only {count} frames to process (after the frame range and target fps); at least "
        f"{_required_frames(config)} are needed (use a longer clip, a wider --frames range or a higher --target-fps)")


def _check_enough_frames(reader: VideoReader, config: CaptureConfig) -> None:
    """Refuse a clip (or range) too short to capture, before any model is loaded. Where the container's frame
    count promises plenty this trusts it (pass 1 checks again); otherwise it counts the frames pass 1 would
    process without decoding pixels, stopping as soon as there are enough."""
    required = _required_frames(config)
    if reader.info.frame_count > 0 and _expected_frames(reader, config) >= 2 * required:
        return
    count = 0
    scan = reader.scan(64, config.frame_start, config.frame_end, config.target_fps, decode=False)
    try:
        for chunk in scan:
            count += int(chunk.frame_ids.shape[0])
            if count >= required:
                return
    finally:
        scan.close()
    raise _too_short(reader, config, count)


def _expected_frames(reader: VideoReader, config: CaptureConfig) -> int:
    """Rough number of frames pass 1 will process (for progress only)."""
    count = reader.info.frame_count if reader.info.frame_count > 0 else 1000
    end = count if config.frame_end is None else min(config.frame_end + 1, count)
    n = max(end - config.frame_start, 1)
    if config.target_fps and reader.info.fps > 0:
        n = int(np.ceil(n * min(1.0, config.target_fps / reader.info.fps)))
    return max(n, 1)


def _batch_windows(model, config: CaptureConfig) -> int:
    """Windows per TCMR call: the configured number on the CPU; on a GPU at least 1024 (a track in few calls)."""
    weight = getattr(getattr(getattr(model, "regressor", None), "fc1", None), "weight", None)
    on_gpu = weight is not None and weight.device.type != "cpu"
    return max(config.window.batch_windows, 1024) if on_gpu else config.window.batch_windows


def _regress_track(model, track, features: np.ndarray, times: np.ndarray, width: int, height: int, focal: float,
                   config: CaptureConfig) -> TrackMotion:
    """TCMR over one whole track, then camera conversion (the raw network output; refine_capture follows)."""

    want_body = bool(config.save_vertices)
    out = model.predict_sequence(features, windowing=config.window.windowing,
                                 batch_windows=_batch_windows(model, config), with_smpl=want_body, with_verts=want_body)
    crop_box = track.bbox_cxcys.astype(np.float64)  # (N, 3) side already × bbox scale
    rotmat, pose_aa = out["rotmat"], out["pose_aa"]
    transl = cam_to_transl(out["cam"], crop_box, width, height, focal)
    # smoothing, floor and foot lock happen after every track is regressed: refine_capture (core.motion)
    betas = out["betas"].astype(np.float32)
    rest_joints = v_shaped = None
    if model.smpl_arrays is not None:
        from .smpl import regress_joints, shaped_vertices

        v_shaped64 = shaped_vertices(model.smpl_arrays, betas.mean(axis=0))  # (6890, 3), computed once
        rest_joints = regress_joints(model.smpl_arrays, v_shaped64).astype(np.float32)
        v_shaped = v_shaped64.astype(np.float32)
    f32 = lambda a: None if a is None else np.asarray(a, dtype=np.float32)  # noqa: E731
    return TrackMotion(
        track_id=track.track_id, frame_ids=track.frame_ids.astype(np.int64), bbox_xyxy=f32(track.bbox_xyxy),
        bbox_cxcys=f32(track.bbox_cxcys), interpolated=track.interpolated.astype(bool), rotmat=f32(rotmat),
        pose_aa=f32(pose_aa), betas=betas, cam=f32(out["cam"]),
        orig_cam=f32(crop_cam_to_orig(out["cam"], crop_box, width, height)), transl_cam=f32(transl),
        scores=f32(out["scores"]), rest_joints=rest_joints, v_shaped=v_shaped,
        verts=f32(out.get("verts")) if want_body else None, joints49=f32(out.get("joints49")) if want_body else None,
    )


def _meta(config: CaptureConfig, device, detector_file, frame_ids, reader: VideoReader, timings: dict,
          focal: float) -> dict:
    import importlib.metadata as md

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    options = dataclasses.asdict(config)
    return json.loads(json.dumps({
        "tcmr_mocap_version": __version__,
        "versions": {p: version(p) for p in ("numpy", "torch", "opencv-python", "ultralytics")},
        "device": str(device),
        "windowing": config.window.windowing,
        "smoothing": config.smoothing.enabled,
        "detector": f"file:{config.detections_path}" if detector_file is None else f"yolo:{detector_file.name}",
        "tracker": config.tracker.tracker,
        "processed_frames": int(len(frame_ids)),
        "first_frame": int(frame_ids[0]) if len(frame_ids) else None,
        "last_frame": int(frame_ids[-1]) if len(frame_ids) else None,
        "timestamps_decoded_frames": int(reader.timestamps_s.shape[0]),
        "focal_length_source": "given" if config.camera.focal_length_px else "estimated (image diagonal)",
        "focal_length_px": focal,
        "options": options,
        "timings_s": timings,
    }, default=str))
