"""The one module that imports MediaPipe: hand and face landmarkers (the Tasks API) on image crops.

Each :class:`HandStream` / :class:`FaceStream` follows one body part of one person through a clip in MediaPipe's
VIDEO mode (it re-uses the previous frame's landmarks instead of running the detector again, and needs strictly
increasing times), so every (track, part) gets a stream of its own. Streams must be closed (:meth:`close`, or
``with``): MediaPipe's own clean-up at interpreter exit prints a traceback.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import DependencyMissingError
from .layout import ARKIT_BLENDSHAPE_NAMES

_INSTALL_HINT = "run `python3 install_deps.py` (it installs mediapipe 1.2.3 from requirements-nodeps.txt)"


def mediapipe_vision():
    """(mediapipe, mediapipe.tasks.python.vision, BaseOptions); DependencyMissingError (one line) without it."""
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as err:
        raise DependencyMissingError(f"hands and face need the mediapipe package ({err}): {_INSTALL_HINT}") from None
    return mediapipe, vision, BaseOptions


def mediapipe_problem() -> Optional[str]:
    """Why MediaPipe cannot be used here (one line), or None."""
    try:
        mediapipe_vision()
    except DependencyMissingError as err:
        return str(err)
    return None


@contextlib.contextmanager
def _native_stderr_silenced():
    """MediaPipe's C++ side logs its set-up (LiteRT, XNNPACK) straight to file descriptor 2, past Python and any
    log level: hide it while a landmarker is created, so a capture's stderr keeps only our own lines."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass
class HandDetection:
    """One hand seen in a crop. image_xyz: (21, 3) crop pixels (x right, y down) and a relative depth in the same
    scale (z away from the camera, 0 at the wrist); world_xyz: (21, 3) metres (MediaPipe's world landmarks: x
    right, y down, z away from the camera, origin near the hand's centre); handedness: MediaPipe's own guess
    ("Left"/"Right", for a mirrored image; we decide sides from the body); score: its probability."""

    image_xyz: np.ndarray
    world_xyz: np.ndarray
    handedness: str
    score: float


@dataclass
class FaceDetection:
    """One face seen in a crop. blendshapes: (52,) in ``layout.ARKIT_BLENDSHAPE_NAMES`` order (tongueOut 0);
    matrix: (4, 4) MediaPipe's facial transformation (canonical face -> the crop's camera, OpenGL axes: x right,
    y up, z towards the viewer, centimetres); image_xy: (478, 2) crop pixels of the face mesh."""

    blendshapes: np.ndarray
    matrix: np.ndarray
    image_xy: np.ndarray


class _Stream:
    def __init__(self, landmarker):
        self._landmarker = landmarker
        self._last_ms = -1

    def _timestamp(self, time_s: float) -> int:
        ms = max(int(round(time_s * 1000.0)), self._last_ms + 1)  # strictly increasing, as VIDEO mode needs
        self._last_ms = ms
        return ms

    def close(self) -> None:
        if self._landmarker is not None:
            with _native_stderr_silenced():
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HandStream(_Stream):
    """Hand landmarks of one person's one hand through a clip (``hand_landmarker.task``)."""

    def __init__(self, task_path, num_hands: int = 2, min_confidence: float = 0.5):
        mp, vision, BaseOptions = mediapipe_vision()
        self._mp = mp
        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_path)), running_mode=vision.RunningMode.VIDEO,
            num_hands=int(num_hands), min_hand_detection_confidence=min_confidence,
            min_hand_presence_confidence=min_confidence, min_tracking_confidence=min_confidence)
        with _native_stderr_silenced():
            super().__init__(vision.HandLandmarker.create_from_options(options))

    def detect(self, crop_rgb_u8: np.ndarray, time_s: float) -> list[HandDetection]:
        """The hands in ``crop_rgb_u8`` (S, S, 3) uint8 RGB at video time ``time_s``."""
        size = np.array(crop_rgb_u8.shape[1::-1], dtype=np.float64)  # (width, height)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop_rgb_u8))
        with _native_stderr_silenced():  # (its first calls log memory re-alignments)
            result = self._landmarker.detect_for_video(image, self._timestamp(time_s))
        out = []
        for marks, world, handed in zip(result.hand_landmarks, result.hand_world_landmarks, result.handedness):
            xyz = np.array([(m.x, m.y, m.z) for m in marks], dtype=np.float64) * size[[0, 1, 0]]
            world_xyz = np.array([(m.x, m.y, m.z) for m in world], dtype=np.float64)
            out.append(HandDetection(xyz, world_xyz, handed[0].category_name if handed else "",
                                     float(handed[0].score) if handed else 0.0))
        return out


class FaceStream(_Stream):
    """Face blendshapes and pose of one person through a clip (``face_landmarker.task``)."""

    def __init__(self, task_path, min_confidence: float = 0.5):
        mp, vision, BaseOptions = mediapipe_vision()
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(task_path)), running_mode=vision.RunningMode.VIDEO,
            num_faces=1, min_face_detection_confidence=min_confidence, min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence, output_face_blendshapes=True,
            output_facial_transformation_matrixes=True)
        with _native_stderr_silenced():
            super().__init__(vision.FaceLandmarker.create_from_options(options))
        self._index = {name: i for i, name in enumerate(ARKIT_BLENDSHAPE_NAMES)}

    def detect(self, crop_rgb_u8: np.ndarray, time_s: float) -> Optional[FaceDetection]:
        """The face in ``crop_rgb_u8`` (S, S, 3) uint8 RGB at video time ``time_s``, or None."""
        size = np.array(crop_rgb_u8.shape[1::-1], dtype=np.float64)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop_rgb_u8))
        with _native_stderr_silenced():
            result = self._landmarker.detect_for_video(image, self._timestamp(time_s))
        if not result.face_landmarks or not result.face_blendshapes or not result.facial_transformation_matrixes:
            return None
        weights = np.zeros(len(ARKIT_BLENDSHAPE_NAMES), dtype=np.float64)
        for category in result.face_blendshapes[0]:
            index = self._index.get(category.category_name)  # (``_neutral`` has no ARKit name)
            if index is not None:
                weights[index] = category.score
        xy = np.array([(m.x, m.y) for m in result.face_landmarks[0]], dtype=np.float64) * size
        return FaceDetection(np.clip(weights, 0.0, 1.0), np.asarray(result.facial_transformation_matrixes[0],
                                                                    dtype=np.float64).reshape(4, 4), xy)
