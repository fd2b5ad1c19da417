"""Parsers of command-line values, shared by every command and by batch list files (capture, refine, batch,
the speed options, the headless Blender command). Each takes the text and returns the value, or raises
:class:`BadValue` with the one line that says what was expected. ``BadValue`` is both argparse's
ArgumentTypeError (argparse prints our message) and a ValueError (callers outside argparse catch that).
"""

from __future__ import annotations

import argparse
import math


class BadValue(argparse.ArgumentTypeError, ValueError):
    """A value that does not parse; ``str(err)`` says what was expected."""


def _ends(text: str) -> tuple["int | None", "int | None"]:
    """'START:END' -> (START, END) as whole numbers, None for an empty side; ValueError when not of that form."""
    start, sep, end = str(text).partition(":")
    if not sep:
        raise ValueError(text)
    return (int(start) if start.strip() else None), (int(end) if end.strip() else None)


def _text(first: "int | None", last: "int | None") -> str:
    return f"{'' if first is None else first}:{'' if last is None else last}"


def frame_range(text: str) -> tuple[int, "int | None"]:
    """Video frames 'START:END' (inclusive, counted from 0; either side may be empty) -> (start, end or None)."""
    try:
        first, last = _ends(text)
    except ValueError:
        raise BadValue(f"expected START:END frame numbers, e.g. 0:299, got {text!r}") from None
    first = 0 if first is None else first
    if first < 0 or (last is not None and last < first):
        raise BadValue(f"frame range {text!r} must satisfy 0 <= START <= END")
    return first, last


def frame_range_text(text: str) -> str:
    """'START:END' checked as :func:`frame_range` and written back in one form: '10:20', '5:' (open end)."""
    return _text(*frame_range(text))


def scene_frames(text: str) -> tuple["int | None", "int | None"]:
    """Blender scene frames 'START:END' (inclusive; an empty side: the action's own first or last frame)."""
    try:
        return _ends(text)
    except ValueError:
        raise BadValue(f"expected START:END scene frames, e.g. 1:250, got {text!r}") from None


def scene_frames_text(text: str) -> str:
    """'START:END' checked as :func:`scene_frames` and written back in one form: '1:250', '5:', ':40'."""
    return _text(*scene_frames(text))


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def positive(text: str) -> float:
    value = _number(text)
    if not value > 0 or value == math.inf:
        raise BadValue(f"expected a positive number, got {text!r}")
    return value


def non_negative(text: str) -> float:
    value = _number(text)
    if not value >= 0 or value == math.inf:
        raise BadValue(f"expected a number >= 0, got {text!r}")
    return value


def _whole(text: str) -> "int | None":
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def count(text: str) -> int:
    """A whole number >= 0."""
    value = _whole(text)
    if value is None or value < 0:
        raise BadValue(f"expected a whole number >= 0, got {text!r}")
    return value


def at_least_one(text: str) -> int:
    value = _whole(text)
    if value is None or value < 1:
        raise BadValue(f"expected a whole number >= 1, got {text!r}")
    return value


def odd(text: str) -> int:
    value = _whole(text)
    if value is None or value < 1 or value % 2 == 0:
        raise BadValue(f"expected an odd whole number >= 1, got {text!r}")
    return value
