"""A subprocess with JSON progress lines, polled without blocking: what the modal operators wrap.

No bpy: ``SubprocessJob`` starts the command, reader threads put its output lines on a queue, and
:meth:`SubprocessJob.poll` (called from a Blender timer, or a plain loop in background mode) turns them into
state: ``fraction``, ``stage``, ``message``, and finally ``state`` = done / error / cancelled with
``output`` or ``error``. :meth:`SubprocessJob.cancel` ends the process (and its children) and waits for it.
"""

from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Optional, Sequence

from .commands import parse_event
from .environment import EXTENSION_ROOT, clean_env

RUNNING, DONE, ERROR, CANCELLED = "running", "done", "error", "cancelled"
_EOF = object()


def start_in_extension(argv: Sequence[str], progress_stream: str = "stderr") -> "SubprocessJob":
    """Start ``argv`` (the core, install_deps.py) in the extension root, which is also its ``PYTHONPATH`` (the
    only place where ``core`` is a top-level name), without Blender's own Python settings."""
    job = SubprocessJob(argv, cwd=EXTENSION_ROOT, env=clean_env(EXTENSION_ROOT), progress_stream=progress_stream)
    return job.start()


class SubprocessJob:
    """``progress_stream``: "stderr" (the core's ``--progress-json``) or "stdout" (``install_deps.py --json``)."""

    def __init__(self, argv: Sequence[str], cwd=None, env=None, progress_stream: str = "stderr"):
        self.argv = [str(a) for a in argv]
        self.cwd = None if cwd is None else str(cwd)
        self.env = env
        self.progress_stream = progress_stream
        self.state = RUNNING
        self.fraction = 0.0
        self.stage = ""
        self.message = "starting"
        self.output: Optional[str] = None  # the "done" event's output path
        self.error: Optional[str] = None  # one line for the user
        self.warnings: list[str] = []
        self.returncode: Optional[int] = None
        self._queue: "queue.Queue" = queue.Queue()
        # non-JSON lines as (stream name, line), for error messages
        self._tail: collections.deque = collections.deque(maxlen=40)
        self._open_streams = 0
        self._error_event: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None

    # ------------------------------------------------------------------------------------------ control
    def start(self) -> "SubprocessJob":
        kwargs = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # its own process group: cancel ends its children too
        else:
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        try:
            self._proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          encoding="utf-8", errors="replace", bufsize=1, **kwargs)
        except OSError as exc:
            self._finish(ERROR, f"cannot start {self.argv[0]}: {exc.strerror or exc}")
            return self
        for name in ("stdout", "stderr"):
            self._open_streams += 1
            threading.Thread(target=self._read, args=(getattr(self._proc, name), name), daemon=True).start()
        return self

    def cancel(self, timeout_s: float = 5.0) -> None:
        """End the process (terminate, then kill after ``timeout_s``) and mark the job cancelled."""
        if self.state != RUNNING:
            return
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGTERM if os.name == "posix" else None)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._signal(proc, getattr(signal, "SIGKILL", None))
                proc.wait()
        if proc is not None:
            self.returncode = proc.returncode
        self._finish(CANCELLED, None)
        self.message = "cancelled"

    @property
    def finished(self) -> bool:
        return self.state != RUNNING

    def wait(self, poll_s: float = 0.1, timeout_s: Optional[float] = None, on_update=None) -> str:
        """Block until the job ends (background mode). ``on_update(job)`` after each poll with news."""
        start = time.monotonic()
        while not self.finished:
            if self.poll() and on_update is not None:
                on_update(self)
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                self.cancel()
                self.error = f"timed out after {timeout_s:g} s"
                break
            time.sleep(poll_s)
        return self.state

    # ------------------------------------------------------------------------------------------ polling
    def poll(self) -> bool:
        """Take in everything the process wrote since the last call. Returns whether anything changed."""
        if self.state != RUNNING:
            return False
        changed = False
        while True:
            try:
                name, line = self._queue.get_nowait()
            except queue.Empty:
                break
            changed = True
            if line is _EOF:
                self._open_streams -= 1
                continue
            event = parse_event(line) if name == self.progress_stream else None
            if event is None:
                if line.strip():
                    self._tail.append((name, line.strip()))
                continue
            self._apply(event)
        if self._open_streams == 0 and self._proc is not None:
            self.returncode = self._proc.wait()
            self._conclude()
            changed = True
        return changed

    def _apply(self, event: dict) -> None:
        kind = event["type"]
        if event["message"]:
            self.message = event["message"]
        if event["stage"]:
            self.stage = event["stage"]
        if event["fraction"] is not None:
            self.fraction = event["fraction"]
        if kind == "done" and event["output"]:
            self.output = str(event["output"])
        elif kind == "error":
            self._error_event = event["message"] or "failed"
        elif kind == "warning" and event["message"]:
            self.warnings.append(event["message"])

    def _conclude(self) -> None:
        if self.returncode == 0 and self._error_event is None:
            self.fraction = 1.0
            self._finish(DONE, None)
            return
        message = self._error_event or self._last_error_line() or f"{os.path.basename(self.argv[0])} stopped"
        if self._error_event is None and self.returncode not in (0, None):
            message += f" (exit code {self.returncode})"
        self._finish(ERROR, message)

    def _last_error_line(self) -> Optional[str]:
        """An ``error: ...`` line, else the last line on the progress stream (where a traceback ends: the two
        streams are read by two threads, so stdout chatter may arrive after it), else the last line."""
        for _, line in reversed(self._tail):
            if line.lower().startswith("error:"):
                return line.split(":", 1)[1].strip()
        for name, line in reversed(self._tail):
            if name == self.progress_stream:
                return line
        return self._tail[-1][1] if self._tail else None

    def _finish(self, state: str, error: Optional[str]) -> None:
        self.state = state
        self.error = error
        if error:
            self.message = error

    # ------------------------------------------------------------------------------------------ internals
    def _read(self, stream, name: str) -> None:
        try:
            for line in iter(stream.readline, ""):
                self._queue.put((name, line))
        except (OSError, ValueError):
            pass
        finally:
            self._queue.put((name, _EOF))

    @staticmethod
    def _signal(proc: subprocess.Popen, sig) -> None:
        try:
            if os.name == "posix" and sig is not None:
                os.killpg(proc.pid, sig)
            elif sig is None:
                proc.terminate()
            else:
                proc.kill()
        except (ProcessLookupError, PermissionError, OSError):
            pass


class ProgressPrinter:
    """``[tcmr] 42.0% stage: message`` lines on a stream (stdout by default) for background runs, each distinct line
    once (a job reports the same state more than once: at its last progress event, at "done" and when it ends).
    Call it with anything that has ``fraction`` and ``message`` (a SubprocessJob, a CaptureSession)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.last = None

    def __call__(self, job) -> None:
        self.line(f"[tcmr] {100 * job.fraction:5.1f}% {job.message}")

    def line(self, text: str) -> None:
        if text != self.last:
            self.last = text
            self.stream.write(text + "\n")
            self.stream.flush()
