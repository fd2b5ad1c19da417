"""Parsers of command-line values, shared by every command and by batch list files (capture, refine, batch,
the speed options). Each takes the text and returns the value, or raises :class:`BadValue` with the one line
that says what was expected. ``BadValue`` is both argparse's ArgumentTypeError (argparse prints our message)
and a ValueError (callers outside argparse catch that)."""

from __future__ import annotations

import argparse
import math


class BadValue(argparse.ArgumentTypeError, ValueError):
    """A value that does not parse; ``str(err)`` says what was expected."""


def frame_range(text: str) -> tuple[int, "int | None"]:
    """'START:END' (inclusive; either side may be empty) -> (start, end or None)."""
    start, sep, end = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        first = int(start) if start.strip() else 0
        last = int(end) if end.strip() else None
    except ValueError:
        raise BadValue(f"expected START:END frame numbers, e.g. 0:299, got {text!r}") from None
    if first < 0 or (last is not None and last < first):
        raise BadValue(f"frame range {text!r} must satisfy 0 <= START <= END")
    return first, last


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
