"""The footage behind the capture camera, frame for frame the images the capture saw.

A capture's keys sit on video frames as the core counts them (sequential decoding, ``core.capture.video``): scene frame
``k`` holds video frame ``k - 1``. Blender opens a movie with its own FFmpeg reader, which numbers frames on the
stream's frame rate; for phone clips with a variable frame rate or an odd time base that numbering differs (a
29.83 fps clip read as 60 fps with twice the frames), and the footage would drift off the body. So:

- the movie itself is used when Blender's reading provably matches the capture's: the same frame count and
  frame rate, and the capture's frame times on that rate's grid (to 0.1 ms): then Blender's frame ``k`` is the
  core's frame ``k - 1``, with no copy of the footage;
- otherwise the core writes the frames it decodes as an image sequence (``python -m core footage``, numbered by
  video frame, see ``core/capture/footage.py``), and the camera shows that: exact by construction, in the viewport and
  in renders, whatever the container says. It is written once per video and frame range (into
  ``BuildOptions.footage_dir``: beside the ``.blend`` for the headless command, else ``tcmr_footage`` beside a
  saved ``.blend``, else the user cache) and reused while the video is unchanged;
- where that cannot be done (no runtime environment, the core failed), the movie is shown with a warning
  saying how far Blender's reading is off.

Either way the clip is a MovieClip whose ``frame_start`` puts the frame file of video frame ``N`` (or the movie's
frame ``N + 1``) on scene frame ``N + 1``, so ``camera.retime_footage`` works the same on both.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from typing import Optional

import bpy
import numpy as np

from ...core.capture import footage as core_footage
from ...core.errors import MocapError, one_line
from . import camera

CACHE_ENV = "TCMR_MOCAP_CACHE"
UNIFORM_TOLERANCE_S = 1e-4  # frame times this close to the nominal grid count as constant-rate
_FRAME_FILE = re.compile(r"^frame_(\d{6})\.jpg$")


def source_video(path: str) -> tuple[str, str]:
    """(video, footage root): ``path`` itself and "", or for a frame file of a footage folder (what a sequence
    clip's filepath is) the video it was written from, when that still exists, and the root that folder is in
    (so whoever hands the clip's path back, e.g. Refine Again, gets the video and the same frames)."""
    folder, name = os.path.split(os.path.abspath(path))
    if _FRAME_FILE.match(name):
        info = core_footage.read_footage(folder)
        if info and os.path.isfile(info.get("video", "")):
            return info["video"], os.path.dirname(folder)
    return path, ""


def movie_mismatch(clip, motion) -> Optional[str]:
    """Why Blender's frames of the movie ``clip`` are not the capture's (one clause), or None when they are."""
    fps, count = float(clip.fps), int(clip.frame_duration)
    if abs(fps - motion.fps) > 1e-3 * motion.fps or count != int(motion.num_frames):
        return (f"Blender reads the video as {fps:g} fps with {count} frames, the capture as {motion.fps:.4g} fps "
                f"with {motion.num_frames}")
    ts = motion.timestamps_s
    if ts is not None and ts.shape[0] >= 2:
        real = ts[:motion.decoded_frames] if motion.decoded_frames else ts
        off = np.abs(real - real[0] - np.arange(real.shape[0]) / motion.fps)  # (decoded,)
        if off.max() > UNIFORM_TOLERANCE_S:
            return (f"the video's frame times are uneven (variable frame rate: frame {int(off.argmax())} is "
                    f"{1000 * off.max():.1f} ms off a steady {motion.fps:.4g} fps)")
    return None


def default_root() -> str:
    """Where footage folders go when the caller names none: beside a saved .blend, else the user cache
    (``$TCMR_MOCAP_CACHE/footage`` if set)."""
    if bpy.data.filepath:
        return os.path.join(os.path.dirname(bpy.data.filepath), "tcmr_footage")
    if os.environ.get(CACHE_ENV):
        return os.path.join(os.environ[CACHE_ENV], "footage")
    base = os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else (
        os.path.expanduser("~/Library/Caches") if sys.platform == "darwin" else
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))
    return os.path.join(base or os.path.expanduser("~"), "tcmr_mocap", "footage")


def folder_for(root: str, video: str, first: int, last: int) -> str:
    """The footage folder of ``video``'s frames ``first..last`` (one per video file, state and range)."""
    ident = core_footage.video_identity(video)
    digest = hashlib.sha1(repr((ident["video"], ident["size"], ident["mtime_ns"], first, last)).encode()).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.splitext(os.path.basename(video))[0])[:60] or "video"
    return os.path.join(root, f"{stem}-{digest[:8]}")


def frames_needed(motion) -> tuple[int, int]:
    """The video frames the scene's keys cover, (first, last)."""
    ids = [t.frame_ids for t in motion.tracks if t.frame_ids.shape[0]]
    if not ids:
        return 0, max(0, int(motion.num_frames) - 1)
    return int(min(int(i.min()) for i in ids)), int(max(int(i.max()) for i in ids))


def write_sequence(video: str, folder: str, first: int, last: int, python, on_update=None) -> None:
    """Run ``python -m core footage`` (the core's own decode). Raises MocapError with the core's message."""
    from ..runtime.job import DONE, start_in_extension

    argv = [str(python), "-m", "core", "footage", video, "-o", folder, "--frames", f"{first}:{last}",
            "--progress-json"]
    job = start_in_extension(argv)
    try:
        job.wait(on_update=on_update)
    except KeyboardInterrupt:
        job.cancel()
        raise
    if job.state != DONE:
        raise MocapError(job.error or "the core could not write the footage frames")


def load_clip(motion, root: str = "", python=None, on_update=None) -> tuple[object, list]:
    """The MovieClip to show behind the camera for ``motion`` (its ``video_path`` exists), and warnings; None
    when the file is no video that Blender or the core can read."""
    video = motion.video_path
    movie = camera.find_clip(video)
    loaded_now = movie is None
    if movie is None:
        movie = bpy.data.movieclips.load(video, check_existing=True)
    problem = movie_mismatch(movie, motion) if movie.source == "MOVIE" else None
    if problem is None:
        movie.frame_start = 1  # movie frame k (video frame k - 1) on scene frame k
        return movie, []
    first, last = frames_needed(motion)
    folder = folder_for(root or default_root(), video, first, last)
    try:
        if core_footage.read_footage(folder, video) is None:
            if python is None or not os.path.isfile(str(python)):
                raise MocapError("no runtime environment to decode it (Install Dependencies in the add-on's "
                                 "preferences)")
            write_sequence(video, folder, first, last, python, on_update)
    except MocapError as err:
        if int(movie.frame_duration) == 0:  # neither Blender nor the core reads it: no footage at all
            if loaded_now and movie.users == 0:
                bpy.data.movieclips.remove(movie)
            return None, [f"no footage behind the camera: {one_line(err)}"]
        movie.frame_start = 1
        return movie, [f"footage may be out of sync with the body: {problem}; the capture's own frames could not "
                       f"be written ({one_line(err)})"]
    first_file = core_footage.frame_file(folder, first)
    clip = camera.find_clip(first_file) or bpy.data.movieclips.load(first_file, check_existing=True)
    clip.frame_start = first + 1  # the file of video frame N on scene frame N + 1
    clip["tcmr_video"] = os.path.abspath(video)
    if loaded_now and movie.users == 0:
        bpy.data.movieclips.remove(movie)
    return clip, []
