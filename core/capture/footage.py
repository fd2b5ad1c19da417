"""Footage for a Blender scene: a video's frames as numbered JPEG files, decoded exactly as a capture decodes them.

A capture counts video frames by decoding sequentially (:class:`core.capture.video.VideoReader`); its keys sit on those
frames. Blender reads a movie through its own FFmpeg code, which numbers frames on the stream's frame rate: a
phone clip with variable frame rate or an odd time base (e.g. 29.83 fps on average, a 60 fps stream rate)
comes out with twice the frames, and the footage drifts away from the body. Written here, frame file ``N`` is the
frame the capture calls video frame ``N``, whatever the container's timing says, so the scene shows at every
frame the very image the capture saw. The add-on uses such a folder only where Blender's own reading of the movie
disagrees with the capture's (``blender_addon/scene/footage.py``).

    python -m core footage VIDEO -o FOLDER [--frames START:END] [--quality Q]

``FOLDER/frame_000123.jpg`` (video frame 123) for every frame of the range, then ``FOLDER/footage.json``::

    {"version": 1, "video": "/abs/clip.mp4", "size": 1234567, "mtime_ns": 1700000000000000000,
     "first": 0, "last": 311, "width": 812, "height": 720, "timestamps_s": [0.0, 0.0335, ...]}

The files are written into a temporary folder that is renamed into place when complete, so a folder with a
``footage.json`` is always whole (an interrupted run leaves nothing under the final name). numpy + OpenCV through
``core.capture.video`` only; this module imports neither at import time (the add-on reads ``footage.json`` with it).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Callable, Optional

SIDECAR = "footage.json"
FILE_PATTERN = "frame_{:06d}.jpg"
FORMAT_VERSION = 1
DEFAULT_QUALITY = 92


def frame_file(folder: str, video_frame: int) -> str:
    """The file of video frame ``video_frame`` in a footage folder."""
    return os.path.join(folder, FILE_PATTERN.format(int(video_frame)))


def video_identity(video: str) -> dict:
    """{"video", "size", "mtime_ns"} of a video file (what a footage folder was written from)."""
    st = os.stat(video)
    return {"video": os.path.abspath(video), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def read_footage(folder: str, video: Optional[str] = None) -> Optional[dict]:
    """The sidecar of a complete footage folder (written from ``video`` as it is now, if given), else None."""
    try:
        with open(os.path.join(folder, SIDECAR), encoding="utf-8") as fh:
            info = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("version") != FORMAT_VERSION:
        return None
    if video is not None:
        try:
            same = {k: info.get(k) for k in ("video", "size", "mtime_ns")} == video_identity(video)
        except OSError:
            same = False
        if not same:
            return None
    return info


def write_footage(video: str, folder: str, frame_start: int = 0, frame_end: Optional[int] = None,
                  quality: int = DEFAULT_QUALITY, progress: Optional[Callable[[float, str], None]] = None,
                  cancel: Optional[Callable[[], bool]] = None) -> dict:
    """Write video frames ``frame_start..frame_end`` (inclusive; None = to the end) of ``video`` into ``folder``
    (replaced as a whole). Returns the sidecar dict. Raises VideoReadError / InvalidArgumentError /
    OutputNotWritableError / CancelledError (nothing is left under ``folder`` then)."""
    from ..outputs import check_output_folder
    from ..errors import CancelledError, OutputNotWritableError
    from .video import VideoReader, encode_jpeg

    reader = VideoReader(video)
    identity = video_identity(video)
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    check_output_folder(parent)
    partial = os.path.join(parent, f".{os.path.basename(folder)}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    first = last = None
    expected = max(1, (reader.info.frame_count if frame_end is None else frame_end + 1) - frame_start)
    try:
        for chunk in reader.scan(frame_start=frame_start, frame_end=frame_end):
            for index, rgb in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
                if cancel is not None and cancel():
                    raise CancelledError("cancelled")
                with open(frame_file(partial, index), "wb") as fh:
                    fh.write(encode_jpeg(rgb, quality))
                first = index if first is None else first
                last = index
            if progress is not None:
                progress(min(1.0, (last - frame_start + 1) / expected), f"frame {last}: written")
        info = {"version": FORMAT_VERSION, **identity, "first": first, "last": last,
                "width": reader.info.width, "height": reader.info.height,
                "timestamps_s": [round(float(t), 6) for t in reader.timestamps_s[first:last + 1]]}
        with open(os.path.join(partial, SIDECAR), "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise OutputNotWritableError(f"cannot write the footage frames into {parent}: {exc.strerror or exc} "
                                     "(free some space or choose another folder)") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return info
