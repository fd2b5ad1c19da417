"""Progress and failure of the set-up: one line per stage for people, or JSON lines for the add-on (``--json``);
every failure a user can act on is a :class:`SetupError` whose text is the one line saying what to do."""

from __future__ import annotations

import json
import sys
import time
from typing import Optional


class SetupError(Exception):
    """A failure the user can act on: ``str(err)`` is the one line saying what to do."""


class Reporter:
    """Progress for people (plain lines) or for the add-on (``--json``: one JSON object per line)."""

    def __init__(self, json_mode: bool = False, stream=None):
        self.json_mode = json_mode
        self.stream = stream or sys.stdout
        self._last_progress = 0.0
        self._open_line = False  # a "\r" progress line waits for its newline

    def stage(self, stage: str, fraction: Optional[float], message: str) -> None:
        if self.json_mode:
            line = json.dumps({"stage": stage, "fraction": fraction, "message": message})
        else:
            line = message if stage not in ("warning", "error") else f"{stage}: {message}"
        self._close_line()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _close_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def warn(self, message: str) -> None:
        self.stage("warning", None, message)

    def fail(self, message: str) -> None:
        """The final one-line error: a JSON ``error`` stage, or ``error: ...`` on stderr."""
        if self.json_mode:
            self.stage("error", None, message)
        else:
            self._close_line()
            self.stream.flush()
            sys.stderr.write(f"error: {message}\n")

    def progress(self, stage: str, fraction: Optional[float], message: str) -> None:
        """A frequent update (downloads): throttled to about two per second."""
        now = time.monotonic()
        if now - self._last_progress < 0.5 and fraction not in (None, 1.0):
            return
        self._last_progress = now
        if self.json_mode or not self.stream.isatty():
            self.stage(stage, fraction, message)
        else:
            self.stream.write("\r" + message.ljust(70))
            self._open_line = True
            if fraction == 1.0:
                self._close_line()
            self.stream.flush()

    def passthrough(self, line: str) -> None:
        """Output of a tool we run (pip): to stdout for people, to stderr in JSON mode."""
        (sys.stderr if self.json_mode else self.stream).write(line)


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
