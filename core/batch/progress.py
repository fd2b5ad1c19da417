"""The batch's progress on stderr: a live bar on a terminal, one line per finished clip otherwise, or JSON lines.

The ETA is weighted by frames: clips run longest first, so "clips left" alone would be far too pessimistic at
the start; (frames left) / (frames per second so far, counting the running clips' fractions) is not.
"""

from __future__ import annotations

import json
import os
import sys
import time

MIN_RATE_SECONDS = 5.0  # clips/min is shown once the batch has run this long


def _clock(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class BatchProgress:
    def __init__(self, total: int, frames: dict, as_json: bool = False, stream=None, skipped: int = 0):
        self.stream = stream or sys.stderr
        self.as_json = as_json
        self.live = not as_json and self.stream.isatty()
        self.total = total  # clips to run now
        self.frames = frames  # key -> frame count (weights for the ETA; >= 1)
        self.total_frames = max(1, sum(frames.values()))
        self.skipped = skipped
        self.done = self.failed = 0
        self.running: dict[str, float] = {}  # key -> fraction
        self.finished_frames = 0
        self.t0 = time.monotonic()
        self._last_draw = 0.0
        self.current = ""

    # ---------------------------------------------------------------------------------------------- events
    def start(self, key: str, video: str) -> None:
        self.running[key] = 0.0
        self.current = os.path.basename(video)
        if self.as_json:
            self.emit({"type": "start", "key": key, "video": video})
        self.draw()

    def update(self, key: str, fraction: float) -> None:
        if key in self.running:
            self.running[key] = max(self.running[key], min(1.0, float(fraction)))
            self.draw()

    def finish(self, key: str, record: dict, name: str) -> None:
        self.running.pop(key, None)
        self.finished_frames += self.frames.get(key, 1)
        if record.get("status") == "done":
            self.done += 1
        else:
            self.failed += 1
        warnings = list(record.get("warnings") or ())
        if self.as_json:
            self.emit({"type": "clip", "key": key, "video": record.get("video"), "status": record.get("status"),
                       "output": record.get("output"), "error": record.get("error"),
                       "seconds": record.get("seconds"), "warnings": warnings})
            for warning in warnings:
                self.emit({"type": "warning", "key": key, "message": f"{name}: {warning}"})
        elif not self.live:
            n = self.done + self.failed
            if record.get("status") == "done":
                self.line(f"[{n}/{self.total}] done   {name} -> {os.path.basename(record.get('output') or '')} "
                          f"({record.get('seconds') or 0:.1f} s)")
            else:
                self.line(f"[{n}/{self.total}] failed {name}: {record.get('error')}")
        else:
            if record.get("status") != "done":
                self.line(f"failed {name}: {record.get('error')}")
        if not self.as_json:
            for warning in warnings:
                self.line(f"warning {name}: {warning}")
        self.draw(force=True)

    # ---------------------------------------------------------------------------------------------- output
    def fraction(self) -> float:
        partial = sum(self.frames.get(k, 1) * f for k, f in self.running.items())
        return min(1.0, (self.finished_frames + partial) / self.total_frames)

    def eta_s(self) -> float:
        f, elapsed = self.fraction(), time.monotonic() - self.t0
        if f <= 0.0:
            return float("nan")
        return elapsed * (1.0 - f) / f

    def status(self) -> str:
        elapsed = time.monotonic() - self.t0
        n = self.done + self.failed
        # a rate needs some time to mean anything: clips that fail at once would otherwise read "80520.8 clips/min"
        rate = f"{60.0 * n / elapsed:.1f}" if elapsed >= MIN_RATE_SECONDS and n else "--"
        return (f"[{n}/{self.total}] {self.done} done, {self.failed} failed, {len(self.running)} running | "
                f"{100 * self.fraction():3.0f}% | {rate} clips/min | ETA {_clock(self.eta_s())}")

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.25:
            return
        self._last_draw = now
        if self.as_json:
            self.emit({"type": "progress", "stage": "batch", "fraction": round(self.fraction(), 4),
                       "message": self.status()})
        elif self.live:
            width = 24
            filled = int(round(width * self.fraction()))
            bar = "#" * filled + "-" * (width - filled)
            text = f"{bar} {self.status()} {self.current}"
            cols = 200
            try:
                cols = os.get_terminal_size(self.stream.fileno()).columns
            except (OSError, ValueError):
                pass
            self.stream.write("\r\033[K" + text[:max(20, cols - 1)])
            self.stream.flush()

    def line(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A message for the user (ignored files, duplicates, stopping)."""
        if self.as_json:
            self.emit({"type": "warning", "message": text})
        else:
            self.line(text)

    def emit(self, obj: dict) -> None:
        self.stream.write(json.dumps(obj) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
