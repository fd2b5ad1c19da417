"""The hands/face capture stage: for every track, crops around the body's own hands and head, MediaPipe on them,
finger rotations and face weights per row. Runs after the body regression, before refining.

- :func:`resolve_parts` decides which parts run, **before any work**: a part asked for explicitly (``--hands``)
  whose model file or package is missing is an error; a part left on auto is captured when its file is there
  and valid, else skipped with one warning naming the file and the command that fetches it.
- :func:`capture_extremities` decodes the frames the tracks use once more and, per row: projects the body's
  hand and head joints (:mod:`.crops`), runs a :class:`~.landmarkers.HandStream` per hand and a
  :class:`~.landmarkers.FaceStream` per person (MediaPipe's VIDEO mode), keeps the hand whose wrist lies at the
  body's wrist (the body decides left and right) and fits the finger joints (:mod:`.handpose`), and turns the
  face into the 52 ARKit weights and a head rotation relative to the neck (:mod:`.face`).

Raw values per track (``layout.RESULT_ARRAYS``): rows where a part was not seen hold the relaxed hand / a neutral
face / the body's own head, with confidence 0 (never NaN); the refine stage fills and smooths them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..config import ExtremitiesConfig
from ..errors import CancelledError, DependencyMissingError, InvalidModelFileError, MissingModelFileError
from . import face as face_math
from .crops import body_targets, frame_to_crop
from .handpose import fit_hand, relaxed_hand_pose
from .layout import HAND_SIDES, NUM_BLENDSHAPES, NUM_HAND_JOINTS

PART_ROLES = {"hands": "hands", "face": "face"}  # part -> core.assets role of its model file


@dataclass
class Parts:
    """What this capture captures: the model file of each part that runs (None: off) and the warnings to show."""

    hands: Optional[Path] = None
    face: Optional[Path] = None
    warnings: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return self.hands is not None or self.face is not None

    def as_dict(self) -> dict:
        return {"body": True, "hands": self.hands is not None, "face": self.face is not None}


def resolve_parts(config: ExtremitiesConfig, models_dir) -> Parts:
    """Which of hands/face run. Raises (one line) for a part asked for explicitly that cannot run."""
    from ..assets.checks import validate_model_file
    from ..assets.table import find_model_file, missing_message
    from .landmarkers import mediapipe_problem

    parts = Parts()
    for part, noun in (("hands", "the fingers are"), ("face", "the face is")):
        wanted = getattr(config, part)
        if wanted is False:
            continue
        role = PART_ROLES[part]
        found = find_model_file(role, models_dir) if Path(models_dir).is_dir() else None
        error: Optional[Exception] = None
        if found is None:
            error = MissingModelFileError(missing_message(role, models_dir))
        else:
            try:
                validate_model_file(role, found)
            except InvalidModelFileError as err:
                error = err
        package = mediapipe_problem() if error is None else None
        if package is not None:
            error = DependencyMissingError(package)
        if error is not None:
            if wanted:
                raise error
            parts.warnings.append(f"{error}; {noun} not captured (--no-{part} silences this)")
            continue
        setattr(parts, part, found)
    return parts


def capture_extremities(reader, motions, times_s: dict, focal_px: float, width: int, height: int, parts: Parts,
                        config: ExtremitiesConfig, progress: Optional[Callable[[float, str], None]] = None,
                        cancel: Optional[Callable[[], bool]] = None, chunk_frames: int = 32) -> dict:
    """Raw hands/face arrays of every track: {track_id: {name: array}} (``layout.RESULT_ARRAYS`` names).

    motions: the regressed TrackMotions (need rest_joints); times_s: {track_id: (N,) row times in seconds}.
    ``progress(fraction, message)`` after each chunk; ``cancel()`` True between chunks raises CancelledError."""
    from ..capture.crop import crop_person
    from .landmarkers import FaceStream, HandStream

    states = {}
    wanted: dict[int, list] = {}  # video frame -> [(track id, row)]
    for m in motions:
        if m.rest_joints is None:
            continue
        targets = body_targets(m.rest_joints, m.rotmat, m.transl_cam, focal_px, width, height,
                               config.hand_crop_m, config.face_crop_m)
        states[m.track_id] = _TrackState(m, targets, times_s[m.track_id])
        for row, frame in enumerate(np.asarray(m.frame_ids).tolist()):
            wanted.setdefault(frame, []).append((m.track_id, row))
    total = sum(len(s.motion) for s in states.values())
    done = 0
    t0 = time.perf_counter()
    try:
        frames = np.array(sorted(wanted), dtype=np.int64)
        for chunk in (reader.read(frames, chunk_frames) if frames.size else ()):
            if cancel is not None and cancel():
                raise CancelledError("cancelled")
            for frame_id, pixels in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
                for tid, row in wanted.get(frame_id, ()):
                    state = states[tid]
                    if parts.hands is not None:
                        for s in range(2):
                            box = state.targets.hand_box[row, s]
                            if not _usable(box, width, height):
                                continue
                            crop = crop_person(pixels, box, scale=1.0, crop_size=config.crop_px)
                            stream = state.stream(f"hand{s}", lambda: HandStream(
                                parts.hands, config.hands_per_crop, config.min_detection_confidence))
                            state.take_hand(row, s, stream.detect(crop, state.times[row]), box, config)
                    if parts.face is not None:
                        box = state.targets.head_box[row]
                        if _usable(box, width, height):
                            crop = crop_person(pixels, box, scale=1.0, crop_size=config.crop_px)
                            stream = state.stream("face", lambda: FaceStream(parts.face,
                                                                             config.min_detection_confidence))
                            state.take_face(row, stream.detect(crop, state.times[row]), box, focal_px, width,
                                            height, config)
                    if row == len(state.motion) - 1:
                        state.close()  # the track ends: free its landmarkers now
                    done += 1
            if progress is not None:
                progress(done / max(total, 1), f"{done}/{total} person-frames: hands and face")
    finally:
        for state in states.values():
            state.close()
    for state in states.values():
        state.fit_hands(config)
    seconds = time.perf_counter() - t0
    out = {tid: s.arrays(parts) for tid, s in states.items()}
    return {"arrays": out, "seconds": round(seconds, 3), "person_frames": int(total),
            "found": {tid: s.found(parts) for tid, s in states.items()}}


def _usable(box, width: int, height: int) -> bool:
    """A crop box worth looking into: finite, not degenerate, overlapping the frame."""
    cx, cy, side = (float(v) for v in box)
    if not (np.isfinite(cx) and np.isfinite(cy) and np.isfinite(side)) or side < 8 or side > 8 * max(width, height):
        return False
    half = side / 2
    return cx + half > 0 and cy + half > 0 and cx - half < width and cy - half < height


class _TrackState:
    def __init__(self, motion, targets, times):
        n = len(motion)
        self.motion, self.targets, self.times = motion, targets, np.asarray(times, dtype=np.float64)
        self.streams: dict = {}
        self.hand_pose = np.broadcast_to(np.stack([relaxed_hand_pose(s) for s in HAND_SIDES]),
                                         (n, 2, NUM_HAND_JOINTS, 3)).copy()
        self.hand_conf = np.zeros((n, 2))
        self.blendshapes = np.zeros((n, NUM_BLENDSHAPES))
        self.face_conf = np.zeros(n)
        self.head_rotmat = targets.head_rotmat.copy()  # the body's own head where no face is seen
        self.candidates: list = []  # (row, side index, wrist agreement, image landmarks (21, 3))

    def stream(self, key, make):
        if key not in self.streams:
            self.streams[key] = make()
        return self.streams[key]

    def take_hand(self, row: int, s: int, detections, box, config: ExtremitiesConfig) -> None:
        """Keep the detections near the body's wrist; they are fitted together at the end (:meth:`fit_hands`)."""
        wrist = frame_to_crop(self.targets.wrist_px[row, s], box, config.crop_px)
        for det in detections:
            agreement = wrist_agreement(det, wrist, config.crop_px)
            if agreement > 0.0:
                self.candidates.append((row, s, agreement, det.image_xyz))

    def fit_hands(self, config: ExtremitiesConfig) -> None:
        """Fit every kept detection at once (numpy is slow per call, fast per batch); per row and hand the best."""
        for s, side in enumerate(HAND_SIDES):
            mine = [c for c in self.candidates if c[1] == s]
            if not mine:
                continue
            conf, pose = score_hands(np.stack([c[3] for c in mine]), np.array([c[2] for c in mine]), side, config)
            for (row, _, _, _), c, p in zip(mine, conf, pose):
                if c > self.hand_conf[row, s]:
                    self.hand_conf[row, s], self.hand_pose[row, s] = c, p
        self.candidates = []

    def take_face(self, row: int, det, box, focal_px: float, width: int, height: int,
                  config: ExtremitiesConfig) -> None:
        conf = face_confidence(det, config.crop_px)
        if conf <= 0.0:
            return
        self.face_conf[row] = conf
        self.blendshapes[row] = det.blendshapes
        head = face_math.head_rotmat_from_face(det.matrix, box, focal_px, width, height)
        self.head_rotmat[row] = self.targets.neck_rotmat[row].T @ head

    def arrays(self, parts: Parts) -> dict:
        from ..rotations import rotmat_to_axis_angle

        out = {}
        if parts.hands is not None:
            out.update(hand_pose_aa=self.hand_pose.astype(np.float32), hand_conf=self.hand_conf.astype(np.float32))
        if parts.face is not None:
            out.update(face_blendshapes=self.blendshapes.astype(np.float32), face_conf=self.face_conf.astype(np.float32),
                       head_rot_aa=rotmat_to_axis_angle(self.head_rotmat).astype(np.float32))
        return out

    def found(self, parts: Parts) -> dict:
        out = {}
        if parts.hands is not None:
            out["left_hand"], out["right_hand"] = (int(n) for n in (self.hand_conf > 0).sum(axis=0))
        if parts.face is not None:
            out["face"] = int((self.face_conf > 0).sum())
        return out

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()
        self.streams.clear()


def wrist_agreement(det, wrist_crop_px, crop_px: int) -> float:
    """1 when the detection's wrist is within 0.15 crop sides of the body's wrist (crop pixels), 0 from 0.5 on."""
    near = np.linalg.norm(det.image_xyz[0, :2] - np.asarray(wrist_crop_px, dtype=np.float64)) / crop_px
    return float(np.clip(1.0 - (near - 0.15) / 0.35, 0.0, 1.0))


def score_hands(landmarks_xyz, agreement, side: str, config: ExtremitiesConfig):
    """Confidence and pose of M candidate detections of the body's ``side`` hand. landmarks_xyz: (M, 21, 3) their
    image landmarks (HandDetection.image_xyz: see fit_hand_either_depth);
    agreement: (M,) -> (conf (M,) = agreement × quality, pose_aa (M, 15, 3)); quality is 1 when the fitted pose
    explains the landmarks' bones within ``fit_good_deg`` (mean angle), 0 from ``fit_bad_deg`` on (a foot, a blur,
    another hand's fragment)."""
    pose, error = fit_hand_either_depth(landmarks_xyz, side)
    quality = np.clip((config.fit_bad_deg - error) / (config.fit_bad_deg - config.fit_good_deg), 0.0, 1.0)
    return np.asarray(agreement, dtype=np.float64) * quality, pose


def best_hand(detections, wrist_crop_px, side: str, config: ExtremitiesConfig):
    """The detection that best explains the body's ``side`` hand, its wrist at ``wrist_crop_px`` (crop pixels):
    (confidence in [0, 1], pose_aa (15, 3) or None)."""
    near = [(wrist_agreement(d, wrist_crop_px, config.crop_px), d) for d in detections]
    near = [(a, d) for a, d in near if a > 0.0]
    if not near:
        return 0.0, None
    conf, pose = score_hands(np.stack([d.image_xyz for _, d in near]), [a for a, _ in near], side, config)
    k = int(np.argmax(conf))
    return (float(conf[k]), pose[k]) if conf[k] > 0.0 else (0.0, None)


def face_confidence(det, crop_px: int) -> float:
    """How surely ``det`` (a FaceDetection or None) is the face of the body whose head is the crop's centre: 1 when
    the mesh's centre is within 0.2 crop sides of it, falling to 0 at 0.5."""
    if det is None:
        return 0.0
    near = np.linalg.norm(det.image_xy.mean(axis=0) - crop_px / 2.0) / crop_px
    return float(np.clip(1.0 - (near - 0.2) / 0.3, 0.0, 1.0))


def fit_hand_either_depth(landmarks_xyz, side: str):
    """The finger pose of a ``side`` hand from landmarks (M, 21, 3) in any right-handed frame and scale, trying the
    landmarks and their depth mirror image: a single view leaves a hand's depth order ambiguous, and the landmarker
    sometimes gives the mirror-image (other-handed) 3D hand. -> (pose_aa (M, 15, 3), fit error in degrees (M,)).

    The capture fits MediaPipe's *image* landmarks (crop pixels and the relative depth in the same scale), not its
    metric world landmarks: on renders of a real character in known poses (tests/extremity_truth.py) the world
    landmarks of a hand seen from its back were so far off that most failed the fit (mean angle error of the bones
    30-85°) and the rest missed the joints' flexion by 32° on average; the image landmarks fitted every hand within
    1-7° and missed the flexion by 19° (README, "Fingers and face")."""
    P = np.asarray(landmarks_xyz, dtype=np.float64).reshape(-1, 21, 3)
    pose, error = fit_hand(np.concatenate([P, P * (1.0, 1.0, -1.0)]), side)
    m = P.shape[0]
    mirror = error[m:] < error[:m]
    return np.where(mirror[:, None, None], pose[m:], pose[:m]), np.minimum(error[:m], error[m:])
