"""The errors a user can cause, each with a message that says what to do.

Every message is one line, readable without a traceback: the CLI prints ``error: <message>`` and exits 2,
the Blender operators show it through ``self.report``. Anything *not* derived from :class:`MocapError` is
a bug in our code and keeps its traceback.
"""

from __future__ import annotations


def one_line(what, limit: int | None = None) -> str:
    """``what`` (an exception or a text) as one line for a message: runs of white space as one space, an exception
    without a message as the name of its type, cut at ``limit`` characters with an ellipsis."""
    text = " ".join(str(what).split())
    if not text and isinstance(what, BaseException):
        text = type(what).__name__
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"


class MocapError(Exception):
    """Base class: ``str(err)`` is the one-line message for the user."""

    exit_code = 2


class MissingModelFileError(MocapError):
    """A model file (weights, SMPL body) is not where we looked; the message names it and its source."""


class InvalidModelFileError(MocapError):
    """A model file exists but is not what it claims to be (wrong keys or shapes, truncated, not a checkpoint)."""


class VideoReadError(MocapError):
    """The video is missing, empty, unreadable, corrupt, or not a video at all."""


class VideoTooShortError(MocapError):
    """The video (or the chosen frame range) has fewer frames than the method needs."""


class NoPersonFoundError(MocapError):
    """Detection and tracking found no person track long enough to capture."""


class DeviceUnavailableError(MocapError):
    """The requested compute device (e.g. CUDA) is not available on this machine."""


class OutputNotWritableError(MocapError):
    """The output path cannot be written (missing folder, no permission, ...)."""


class DependencyMissingError(MocapError):
    """A Python package the core needs is not installed in this environment."""


class InvalidMotionFileError(MocapError):
    """A motion file (ours, TCMR .pkl, AMASS .npz) is malformed or of an unknown kind."""


class InvalidResultError(MocapError):
    """A result about to be written fails the result checks (NaN/inf, a wrong shape): nothing is written."""


class InvalidArgumentError(MocapError):
    """An option has a value we cannot use (frame range outside the video, unknown track id, ...)."""


class CancelledError(MocapError):
    """The user cancelled the run (Ctrl-C, the Blender cancel button)."""

    exit_code = 130
