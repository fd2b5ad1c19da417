"""The refine stage's one entry: :func:`refine_result` (a MotionResult in, a refined MotionResult out).

Always from the raw network output (``TrackMotion.raw_view``), so refining a refined file again with other
options gives what refining the capture would have given. Per track, in order:

1. smoothing (``one-euro`` | ``slerp-average`` | ``none``) on the raw rows, on their real timestamps;
2. resampling to ``fps`` (optional): rows on the grid k / fps, slerp for rotations, cubic Hermite for the
   translation, linear for boxes/cameras/shape, nearest for flags and frame ids;
3. the floor, fitted once over every track on the raw rows' resting sole points (``floor.estimate_floor``), when
   ``--upright`` or a foot lock needs it (a filter would move the feet of a squat or a jump off the floor); a
   floor of low confidence is a warning in the report, and the lock then pins along the floor only;
4. contacts of every sole point (heel, ball, toe; detected on the raw rows, so fast steps keep sharp landings)
   and foot lock in the floor's world frame (``contacts``, ``footlock``), then back to the camera frame; the
   file's ``contact`` holds heel and ball-or-toe per foot (``soles.feet_from_soles``).

Fingers and face (``core.extremities``) are refined per track by ``extremities.refine_extremities``: the face's
scores calibrated (``--face-calibration``; what was applied is in ``meta["refine"]["face_calibration"]``), gaps
bridged or relaxed, smoothed with the body's method, resampled to the same rows; the head follows the face.

``rotmat``/``pose_aa``/``transl_cam`` stay in the **camera frame** (so every old reader still overlays the
footage); the world frame is stored beside them as one rigid transform (``R_world_from_cam``,
``cam_position_world``) shared by all tracks.

``strict=True`` (the ``refine`` command): a track too short for contacts or a floor that cannot be found
raises (one line, nothing written). ``strict=False`` (captures): the same problems become warnings in the
report and the motion keeps the camera frame (a long capture is never thrown away over its floor).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..config import RefineConfig
from ..errors import InvalidMotionFileError
from ..result import EXTREMITY_FIELDS, ROW_FIELDS, MotionResult, TrackMotion
from ..rotations import rotmat_to_axis_angle
from ..skeleton import SMPL_SPINE
from .contacts import TrackTooShortError, detect_contacts, detect_raised_rests, settle_speeds
from .extremities import refine_extremities
from .floor import NO_FLOOR_KEPT, FloorFrame, FloorInput, FloorNotFoundError, estimate_floor
from .world import motion_to_camera, motion_to_world
from .footlock import lock_feet
from .resample import grid_times, nearest_rows, resample_cubic, resample_linear, resample_rotmat
from .smoothing import smooth_motion
from .soles import feet_from_soles, sole_offsets


@dataclass
class RefineReport:
    floor: Optional[FloorFrame] = None
    warnings: list[str] = field(default_factory=list)
    contact_frames: dict = field(default_factory=dict)  # track id -> frames with any foot in contact
    rows: int = 0  # person-frames written
    seconds: float = 0.0
    face_calibration: dict = field(default_factory=dict)  # track id -> the face calibration applied (with a face)

    def as_dict(self) -> dict:
        out = {"floor": None if self.floor is None else self.floor.as_dict(), "warnings": list(self.warnings),
               "contact_frames": {str(k): int(v) for k, v in self.contact_frames.items()}, "rows": int(self.rows),
               "seconds": round(self.seconds, 4)}
        if self.face_calibration:  # (meta_json["refine"]["face_calibration"]; core.extremities.calibration)
            out["face_calibration"] = {str(k): v for k, v in self.face_calibration.items()}
        return out


def row_times(track: TrackMotion, timestamps_s: np.ndarray, fps: float) -> np.ndarray:
    """(N,) time of each row: ``times_s`` when stored, else the video timestamps of its frames."""
    if track.times_s is not None:
        return np.asarray(track.times_s, dtype=np.float64)
    ids = np.asarray(track.frame_ids, dtype=np.int64)
    ts = np.asarray(timestamps_s, dtype=np.float64)
    if ts.shape[0] > int(ids.max(initial=-1)):
        return ts[ids]
    return ids / float(fps)


@dataclass
class _Work:
    """One track in progress."""

    raw: TrackMotion
    raw_times: np.ndarray  # (N0,) times of the raw rows
    times: np.ndarray
    rotmat: np.ndarray  # (N, 24, 3, 3) camera frame
    transl: np.ndarray  # (N, 3)
    rows: dict  # per-row fields at the refined rows
    contact: Optional[np.ndarray] = None
    extremities: dict = field(default_factory=dict)  # fingers/face at the refined rows (core/motion/extremities.py)
    floor_input: Optional[FloorInput] = None  # the raw rows' sole points (camera frame)


def _resample_rows(raw: TrackMotion, times: np.ndarray, new_times: np.ndarray) -> dict:
    near = nearest_rows(times, new_times)
    rows = {}
    for name in ROW_FIELDS:
        value = getattr(raw, name)
        if value is None or name in ("rotmat", "pose_aa", "transl_cam") or name in EXTREMITY_FIELDS:
            continue
        value = np.asarray(value)
        if value.dtype.kind in "biu":
            rows[name] = value[near]
        else:
            rows[name] = resample_linear(value, times, new_times).astype(value.dtype)
    return rows


def refine_result(result: MotionResult, config: RefineConfig = RefineConfig(),
                  strict: bool = True) -> tuple[MotionResult, RefineReport]:
    """Refine every track of ``result`` (see the module docstring). Returns (new result, report); the input
    is not modified. Raises TrackTooShortError / FloorNotFoundError (strict) or InvalidMotionFileError."""
    start = time.perf_counter()
    report = RefineReport()
    mode = config.foot_lock.mode
    need_floor = config.floor.upright or mode != "never"
    works: list[_Work] = []
    for track in result.tracks:
        raw = track.raw_view()
        times = row_times(raw, result.timestamps_s, result.fps)
        if need_floor and len(raw) < config.min_track_frames:
            message = (f"track {track.track_id} has only {len(raw)} rows; contact detection and the floor need at "
                       f"least {config.min_track_frames} (refine with --foot-lock never --no-upright)")
            if strict:
                raise TrackTooShortError(message)
            report.warnings.append(message)
        if need_floor and raw.rest_joints is None:
            message = (f"track {track.track_id} has no rest_joints (needed for the floor and foot lock); refine "
                       "with --foot-lock never --no-upright")
            if strict:
                raise InvalidMotionFileError(message)
            report.warnings.append(message)
        rotmat, transl = smooth_motion(raw.rotmat, raw.transl_cam, times, config.smoothing, config.one_euro,
                                       config.average_window, config.adaptive, chain=SMPL_SPINE)
        new_times = grid_times(times, config.fps) if config.fps else None
        extremities, rotmat, calibration = refine_extremities(raw, times, new_times, rotmat, config)  # fingers, face
        if calibration is not None:
            report.face_calibration[track.track_id] = calibration
        rows = {}
        raw_times = times
        if config.fps:
            rotmat = resample_rotmat(rotmat, times, new_times)
            transl = resample_cubic(transl, times, new_times)
            rows = _resample_rows(raw, times, new_times)
            times = new_times
        works.append(_Work(raw=raw, raw_times=raw_times, times=times, rotmat=np.asarray(rotmat, dtype=np.float64),
                           transl=np.asarray(transl, dtype=np.float64), rows=rows, extremities=extremities))

    floor = None
    usable = [w for w in works if len(w.raw) >= config.min_track_frames and w.raw.rest_joints is not None]
    if need_floor and usable:
        for w in usable:  # the floor from the raw rows: smoothing must not bias where the soles are
            w.floor_input = FloorInput.from_motion(w.raw.rest_joints, w.raw.rotmat, w.raw.transl_cam, w.raw_times,
                                                   w.raw.v_shaped)
        try:
            floor = estimate_floor([w.floor_input for w in usable], config.floor)
        except FloorNotFoundError as err:
            if strict:
                raise
            report.warnings.append(f"{err}; {NO_FLOOR_KEPT}")
    report.floor = floor
    if floor is not None and floor.confidence == "low":
        report.warnings.append(f"the floor was estimated with low confidence ({floor.evidence()}): the camera's pitch "
                               "and roll may be off by degrees, and feet are pinned along the floor but not pulled "
                               "onto it (check the ground plane, or refine with --no-upright)")

    if floor is not None and mode != "never":
        R, c = floor.R_world_from_cam, floor.cam_position_world
        vertical = 0.0 if floor.confidence == "low" else 1.0
        for w in usable:
            J = np.asarray(w.raw.rest_joints, dtype=np.float64)
            rot_w, tr_w = motion_to_world(w.rotmat, w.transl, J[0], R, c)
            soles = _detection_world(w, w.floor_input.soles, R, c)  # (T, 6, 3)
            sole_contact = detect_contacts(soles[..., 2], settle_speeds(soles[..., :2], w.times), w.times,
                                           config.foot_lock.contact, use_speed=(mode == "auto"))
            raised = None
            if mode in ("auto", "always"):  # feet on a step, a box, a stage: held where they rest
                raised = detect_raised_rests(soles[..., 2], settle_speeds(soles, w.times), w.times, sole_contact,
                                             _detection_pelvis(w, R, c), config.foot_lock.contact)
                sole_contact = sole_contact | raised
            rot_w, tr_w = lock_feet(rot_w, tr_w, J, w.times, sole_contact, sole_offsets(J, w.raw.v_shaped),
                                    config.foot_lock, vertical, raised)
            w.contact = feet_from_soles(sole_contact)
            w.rotmat, w.transl = motion_to_camera(rot_w, tr_w, J[0], R, c)

    tracks = []
    for track, w in zip(result.tracks, works):
        tracks.append(_refined_track(track, w, resampled=bool(config.fps)))
        report.contact_frames[track.track_id] = 0 if w.contact is None else int(w.contact.any(axis=1).sum())
        report.rows += len(w.times)
    meta = dict(result.meta)
    report.seconds = time.perf_counter() - start
    meta["refine"] = {"options": dataclasses.asdict(config), **report.as_dict()}
    upright = floor is not None and config.floor.upright
    refined = dataclasses.replace(
        result, tracks=tracks, meta=meta,
        R_world_from_cam=floor.R_world_from_cam.copy() if upright else None,
        cam_position_world=floor.cam_position_world.copy() if upright else None,
        motion_fps=float(config.fps) if config.fps else None)
    return refined, report


def _detection_world(w: _Work, points_cam: np.ndarray, R: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Raw camera-frame points (N, ..., 3) in the upright world at the refined rows, for contact detection: the raw
    motion (a filter would blur the landing and lift-off frames of fast steps; ``settle_speeds`` takes jitter out
    over two frames), resampled where the rows were. -> (T, ..., 3)."""
    world = points_cam @ R.T + c
    if world.shape[0] != len(w.times) or not np.array_equal(w.raw_times, w.times):
        world = resample_linear(world, w.raw_times, w.times)
    return world


def _detection_pelvis(w: _Work, R: np.ndarray, c: np.ndarray) -> Optional[np.ndarray]:
    """(T,) the raw pelvis's height above the floor at the refined rows, or None (no pelvis in the floor's input)."""
    pelvis = w.floor_input.pelvis
    return None if pelvis is None else _detection_world(w, pelvis, R, c)[:, 2]


def _refined_track(track: TrackMotion, w: _Work, resampled: bool) -> TrackMotion:
    raw = w.raw
    raw_fields = {name: np.asarray(getattr(raw, name)) for name in ROW_FIELDS
                  if getattr(raw, name) is not None and (resampled or name not in ("verts", "joints49"))}
    values = {f.name: getattr(raw, f.name) for f in dataclasses.fields(TrackMotion)}
    if resampled:
        for name in ROW_FIELDS:
            values[name] = None
    values.update(w.rows)  # resampled fields
    values.update(w.extremities)
    rotmat = w.rotmat.astype(np.float32)
    unchanged = not resampled and np.array_equal(rotmat, raw.rotmat)  # keep the network's own axis-angle
    values.update(
        rotmat=rotmat, pose_aa=raw.pose_aa if unchanged else rotmat_to_axis_angle(w.rotmat).astype(np.float32),
        transl_cam=w.transl.astype(np.float32), times_s=np.asarray(w.times, dtype=np.float64),
        contact=None if w.contact is None else w.contact.astype(bool), raw=raw_fields)
    return TrackMotion(**values)
