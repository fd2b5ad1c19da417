"""Reading videos: metadata, real per-frame timestamps, frame ranges, ``target_fps`` subsampling, chunked streaming.

The only module (with ``core.capture.crop``) that imports OpenCV. Frames are decoded **sequentially** and counted:
container frame counts and seeks lie for many files, sequential decoding does not. Every decoded frame's
presentation time is read from ``CAP_PROP_POS_MSEC``, so variable-frame-rate files keep their real timing.

Memory stays flat with video length: :meth:`VideoReader.scan` and :meth:`VideoReader.read` are generators of
:class:`VideoChunk` (at most ``chunk_frames`` frames, and at most ``MAX_CHUNK_BYTES`` of pixels, at a time).
Frame indices are always indices into the full video (0 = its first frame), whatever range or rate is chosen.

OpenCV's own worker threads are turned off in the core's process (:func:`opencv`): the core spreads its work
over threads itself (decode thread, CPU lanes), OpenCV's pool gains nothing on a frame's colour swap or a crop,
and a process interrupted (Ctrl-C) while that pool was busy aborted at exit ("terminate called without an
active exception") instead of ending with its one-line message. Results do not depend on it.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from ..errors import InvalidArgumentError, VideoReadError

MAX_CHUNK_BYTES = 192 * 2**20  # pixels held per chunk: 1080p -> 32 frames, 4K -> 8 frames
_OPENCV_SET_UP = False
_PLAUSIBLE_FPS = (0.5, 480.0)  # container rates outside this range are treated as unknown


@dataclass(frozen=True)
class VideoInfo:
    """What the container says, checked by decoding the first frame.

    ``fps`` is the nominal rate (0.0 when the container gives none that is plausible); ``frame_count`` is the
    container's claim (-1 when unknown) — use the timestamps of a full :meth:`VideoReader.scan` for the truth.
    """

    path: str
    fps: float
    width: int
    height: int
    frame_count: int


@dataclass
class VideoChunk:
    """Consecutive selected frames. n = number of frames in the chunk."""

    frame_ids: np.ndarray  # (n,) int64   index of each frame in the whole video
    timestamps_s: np.ndarray  # (n,) float64   presentation time of each frame, seconds
    frames_rgb_u8: Optional[np.ndarray]  # (n, H, W, 3) uint8 RGB, or None when decoded without pixels


def opencv():
    """The cv2 module, with OpenCV's worker-thread pool off in this process (set once; see the module notes)."""
    global _OPENCV_SET_UP
    import cv2

    if not _OPENCV_SET_UP:
        cv2.setNumThreads(0)
        _OPENCV_SET_UP = True
    return cv2


def swap_red_blue(frame_u8: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> BGR or BGR -> RGB (the channel order reversed), written into ``out`` if given
    (contiguous (H, W, 3) uint8). Same bytes as ``frame[:, :, ::-1]``, ~20× faster to copy."""
    cv2 = opencv()
    return cv2.cvtColor(frame_u8, cv2.COLOR_BGR2RGB, dst=out)


def encode_jpeg(frame_rgb_u8: np.ndarray, quality: int = 90) -> bytes:
    """(H, W, 3) uint8 RGB -> the bytes of a JPEG file (baseline, 4:2:0, ``quality`` 1-100)."""
    cv2 = opencv()
    ok, data = cv2.imencode(".jpg", swap_red_blue(np.ascontiguousarray(frame_rgb_u8)),
                            [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise VideoReadError("OpenCV could not encode a frame as JPEG")
    return data.tobytes()


@contextlib.contextmanager
def _quiet_opencv():
    """Silence OpenCV's (and FFmpeg's) own stderr messages for the duration; restores the previous level.

    Bad files make FFmpeg print lines such as "moov atom not found"; we report our own one-line error instead.
    """
    cv2 = opencv()

    # OpenCV <= 4.11 has cv2.getLogLevel/setLogLevel; 4.12+ only cv2.utils.logging's (0 = silent in both)
    log = cv2 if hasattr(cv2, "getLogLevel") else importlib.import_module("cv2.utils.logging")
    previous = log.getLogLevel()
    log.setLogLevel(0)
    try:
        yield
    finally:
        log.setLogLevel(previous)


def _open_capture(path: str):
    """cv2.VideoCapture for ``path`` or a VideoReadError that says what is wrong and what to do."""
    cv2 = opencv()

    if not os.path.exists(path):
        raise VideoReadError(f"video not found: {path} (check the path)")
    if os.path.isdir(path):
        raise VideoReadError(f"{path} is a folder, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoReadError(f"video file is empty (0 bytes): {path}")
    if not os.access(path, os.R_OK):
        raise VideoReadError(f"no permission to read the video: {path}")
    with _quiet_opencv():
        cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise VideoReadError(
            f"cannot read {path} as a video: it is not a video file, it is damaged, or it uses a codec this "
            "OpenCV build cannot decode (re-encode it as H.264 .mp4, e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`)"
        )
    return cap


class VideoReader:
    """One video file. Cheap to create (opens the file once to check it and read the metadata).

    >>> reader = VideoReader("walk.mp4")
    >>> for chunk in reader.scan(chunk_frames=64, target_fps=10):   # pass 1: selected frames, in order
    ...     ...
    >>> reader.timestamps_s        # (frames decoded,) float64: every frame seen so far, selected or not
    """

    def __init__(self, path: str):
        cv2 = opencv()

        self.path = os.fspath(path)
        cap = _open_capture(self.path)
        try:
            with _quiet_opencv():
                ok, frame = cap.read()
            if not ok or frame is None:
                raise VideoReadError(f"{self.path} contains no decodable frames (the file is corrupt or truncated)")
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        finally:
            cap.release()
        fps = fps if _PLAUSIBLE_FPS[0] <= fps <= _PLAUSIBLE_FPS[1] else 0.0
        count = int(count) if count is not None and 0 < count < 2**40 else -1
        self.info = VideoInfo(self.path, fps, int(frame.shape[1]), int(frame.shape[0]), count)
        self.timestamps_s = np.zeros(0, dtype=np.float64)  # filled by scan(): one entry per decoded frame
        self.reached_end = False  # True once a scan decoded the video to its last frame

    # ------------------------------------------------------------------------------------------- helpers
    def chunk_limit(self, chunk_frames: int) -> int:
        """Frames per chunk: ``chunk_frames``, lowered so one chunk holds at most MAX_CHUNK_BYTES of pixels."""
        frame_bytes = self.info.width * self.info.height * 3
        return int(max(1, min(int(chunk_frames), MAX_CHUNK_BYTES // max(frame_bytes, 1))))

    def nominal_fps(self) -> float:
        """The container rate when plausible, else the mean rate of the decoded timestamps, else 30."""
        if self.info.fps > 0:
            return self.info.fps
        ts = self.timestamps_s
        if ts.shape[0] >= 2 and ts[-1] > ts[0]:
            return float((ts.shape[0] - 1) / (ts[-1] - ts[0]))
        return 30.0

    def _frames(self, select, decode: bool, times_out: list) -> Iterator[tuple[int, float, Optional[np.ndarray]]]:
        """(frame index, time in seconds, BGR frame or None) of the selected frames, decoding sequentially.

        ``select(i, t)`` is called for every frame in order: True = yield it, False = skip it (only grabbed,
        which is cheaper than decoding to pixels), None = stop. Every visited frame's time is appended to
        ``times_out``. Timestamps that do not increase (some backends report 0) become previous + 1/fps.
        """
        cv2 = opencv()

        cap = _open_capture(self.path)
        step = 1.0 / (self.info.fps if self.info.fps > 0 else 30.0)
        try:
            i, last_t = 0, -math.inf
            while True:
                with _quiet_opencv():
                    if not cap.grab():
                        return
                    t = float(cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if not math.isfinite(t) or t <= last_t:
                    t = 0.0 if last_t == -math.inf else last_t + step
                last_t = t
                times_out.append(t)
                chosen = select(i, t)
                if chosen is None:
                    return
                if chosen:
                    frame = None
                    if decode:
                        with _quiet_opencv():
                            ok, frame = cap.retrieve()
                        if not ok or frame is None:
                            raise VideoReadError(f"{self.path}: frame {i} cannot be decoded (the file is damaged)")
                    yield i, t, frame
                i += 1
        finally:
            cap.release()

    def _chunks(self, frames, chunk_frames: int, decode: bool) -> Iterator[VideoChunk]:
        """Group (frame index, time, BGR frame) triples into VideoChunks of RGB frames."""
        limit = self.chunk_limit(chunk_frames)
        ids, times, pixels = [], [], []
        for i, t, frame in frames:
            ids.append(i)
            times.append(t)
            if decode:
                pixels.append(frame)  # BGR; turned into RGB when the chunk is made
            if len(ids) == limit:
                yield self._make_chunk(ids, times, pixels, decode)
                ids, times, pixels = [], [], []
        if ids:
            yield self._make_chunk(ids, times, pixels, decode)

    def _make_chunk(self, ids, times, pixels_bgr, decode) -> VideoChunk:
        rgb = None
        if decode:
            rgb = np.empty((len(pixels_bgr),) + pixels_bgr[0].shape, dtype=np.uint8)
            for k, frame in enumerate(pixels_bgr):  # straight into the chunk (stacking reversed views was ~8 ms
                if frame.shape != rgb.shape[1:] or frame.dtype != np.uint8:  # per 720p frame)
                    raise VideoReadError(
                        f"{self.path}: the frame size changes within the video ({rgb.shape[2]}x{rgb.shape[1]}, then "
                        f"{frame.shape[1]}x{frame.shape[0]} at frame {ids[k]}); re-encode it at one size, e.g. "
                        f"ffmpeg -i IN -vf scale={rgb.shape[2]}:{rgb.shape[1]} OUT.mp4")
                swap_red_blue(frame, out=rgb[k])
        return VideoChunk(
            frame_ids=np.asarray(ids, dtype=np.int64),
            timestamps_s=np.asarray(times, dtype=np.float64),
            frames_rgb_u8=rgb,
        )

    # --------------------------------------------------------------------------------------------- passes
    def scan(self, chunk_frames: int = 64, frame_start: int = 0, frame_end: Optional[int] = None,
             target_fps: Optional[float] = None, decode: bool = True) -> Iterator[VideoChunk]:
        """Pass over the chosen frames in order, in chunks.

        frame_start/frame_end: inclusive range of video frame indices (frame_end None = to the end).
        target_fps: keep about this many frames per second of video time (by the real timestamps: the first
        frame of every 1/target_fps interval, counted from the first frame of the range); None = every frame.
        decode=False yields chunks without pixels (only ids and timestamps), which is faster.
        Afterwards ``self.timestamps_s`` holds the time of every frame decoded (0 .. last frame reached).
        """
        frame_start, frame_end = check_frame_range(frame_start, frame_end)
        if target_fps is not None and not (target_fps > 0 and math.isfinite(target_fps)):
            raise InvalidArgumentError(f"target fps must be a positive number, got {target_fps}")
        times_all: list[float] = []
        state = {"t0": None, "bucket": -1, "stopped": False}

        def select(i: int, t: float):
            if frame_end is not None and i > frame_end:
                state["stopped"] = True
                return None
            if i < frame_start:
                return False
            if target_fps is None:
                return True
            if state["t0"] is None:
                state["t0"] = t
            bucket = math.floor((t - state["t0"]) * target_fps + 1e-6)
            if bucket > state["bucket"]:
                state["bucket"] = bucket
                return True
            return False

        try:
            yield from self._chunks(self._frames(select, decode, times_all), chunk_frames, decode)
        finally:
            if state["stopped"]:
                times_all.pop()  # the frame after frame_end was only peeked at
            self.timestamps_s = np.asarray(times_all, dtype=np.float64)
            self.reached_end = not state["stopped"]
        if frame_start >= len(times_all):
            raise InvalidArgumentError(
                f"the frame range starts at frame {frame_start} but {self.path} has only {len(times_all)} frames"
            )

    def read(self, frame_ids: np.ndarray, chunk_frames: int = 64) -> Iterator[VideoChunk]:
        """Pass 2: decode exactly the frames ``frame_ids`` (sorted, unique video indices), in chunks.

        Frames before, between and after them are only grabbed (not converted). Raises VideoReadError if the
        video ends before the last requested frame (the file changed since the first pass).
        """
        wanted = np.unique(np.asarray(frame_ids, dtype=np.int64))
        if wanted.size == 0:
            return
        wanted_set = set(wanted.tolist())
        last = int(wanted[-1])
        seen: list[float] = []

        def select(i: int, t: float):
            return None if i > last else (i in wanted_set)

        count = 0
        for chunk in self._chunks(self._frames(select, True, seen), chunk_frames, decode=True):
            count += chunk.frame_ids.shape[0]
            yield chunk
        if count != wanted.size:
            raise VideoReadError(f"{self.path} ended before frame {last} on the second read (was the file changed?)")


def check_frame_range(frame_start: int, frame_end: Optional[int]) -> tuple[int, Optional[int]]:
    """Validate an inclusive frame range; returns it as ints. Raises InvalidArgumentError."""
    if frame_start is None:
        frame_start = 0
    if int(frame_start) != frame_start or frame_start < 0:
        raise InvalidArgumentError(f"the first frame must be a whole number >= 0, got {frame_start}")
    if frame_end is not None and (int(frame_end) != frame_end or frame_end < frame_start):
        raise InvalidArgumentError(f"the last frame ({frame_end}) must be a whole number >= the first ({frame_start})")
    return int(frame_start), (None if frame_end is None else int(frame_end))


def full_timestamps(reader: VideoReader, num_frames: int) -> np.ndarray:
    """(num_frames,) float64: decoded timestamps, extended at the nominal rate past the last decoded frame."""
    ts = reader.timestamps_s
    if ts.shape[0] >= num_frames:
        return ts[:num_frames].copy()
    start = ts[-1] if ts.shape[0] else 0.0
    extra = start + np.arange(1, num_frames - ts.shape[0] + 1) / reader.nominal_fps()
    return np.concatenate([ts, extra])
