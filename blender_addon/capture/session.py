"""One capture: the core as a subprocess writing a temporary ``.npz``, then that file built into the scene.

``CaptureSession`` is what ``tcmr.capture`` wraps (modal in the UI, blocking in background mode) and what
the tests drive directly. Nothing touches the scene before :meth:`CaptureSession.finish`, so cancelling
(:meth:`CaptureSession.cancel`) leaves the scene exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from ...core.errors import CancelledError, DependencyMissingError, MocapError, VideoReadError
from ..runtime import commands, environment
from ..runtime.job import CANCELLED, DONE, SubprocessJob, start_in_extension
from ..scene import builder


class CaptureSession:
    def __init__(self, python: Optional[Path], video_path: str, options: commands.CaptureOptions,
                 build: builder.BuildOptions):
        self.python = python
        self.video_path = os.path.abspath(video_path) if video_path else ""
        self.options = options
        self.build = build
        self.job: Optional[SubprocessJob] = None
        self._tmpdir: Optional[str] = None
        self._default_output = ""

    def start(self) -> "CaptureSession":
        """Check the inputs and start the core. Raises MocapError (one line) when it cannot start."""
        if not self.video_path:
            raise VideoReadError("choose a video file to capture")
        if not os.path.isfile(self.video_path):
            raise VideoReadError(f"video not found: {self.video_path}")
        if self.python is None or not Path(self.python).is_file():
            raise DependencyMissingError(environment.check_readiness(self.python, self.options.models_dir).problems[0])
        self._tmpdir = tempfile.mkdtemp(prefix="tcmr_capture_")
        output = os.path.join(self._tmpdir, Path(self.video_path).stem + ".npz")
        argv = commands.capture_command(self.python, self.video_path, output, self.options)
        self.job = start_in_extension(argv)
        self._default_output = output
        return self

    # ---------------------------------------------------------------------------------------- progress
    def poll(self) -> bool:
        return self.job.poll()

    @property
    def finished(self) -> bool:
        return self.job is None or self.job.finished

    @property
    def fraction(self) -> float:
        return self.job.fraction if self.job else 0.0

    @property
    def message(self) -> str:
        if self.job is None:
            return ""
        return f"{self.job.stage}: {self.job.message}" if self.job.stage else self.job.message

    def cancel(self) -> None:
        """End the core and delete its temporary files; the scene is untouched."""
        if self.job is not None:
            self.job.cancel()
        self.cleanup()

    def wait(self, on_update=None) -> None:
        """Block until the core ends (background mode); Ctrl-C cancels."""
        try:
            self.job.wait(on_update=None if on_update is None else (lambda _job: on_update(self)))
        except KeyboardInterrupt:
            self.cancel()
            raise CancelledError("capture cancelled") from None

    # ---------------------------------------------------------------------------------------- the end
    def finish(self, context) -> builder.BuildResult:
        """Import the result into the scene (after the job ended). Raises MocapError with the core's message
        when it failed; the temporary files are removed either way."""
        try:
            if self.job.state == CANCELLED:
                raise CancelledError("capture cancelled")
            if self.job.state != DONE:
                raise MocapError(self.job.error or "the capture failed")
            output = self.job.output or self._default_output
            if not os.path.isfile(output):
                raise MocapError(f"the core finished but wrote no result file ({output})")
            return builder.import_file(context, output, self.build)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
