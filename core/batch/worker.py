"""One clip at a time in a process that keeps its models loaded: what local worker processes and Ray actors run.

A *task* is a plain dict (it crosses process and machine boundaries)::

    {"key": "1a2b3c4d", "video": "/abs/clip.mp4", "output": "/abs/OUT_DIR/clip-1a2b3c4d.npz",
     "config": {... batch options ...}, "clip": {... the clip's own options ...}, "frames": 400}

:meth:`CaptureWorker.capture` returns the clip's manifest record fields: ``status`` ("done" or "failed"),
``error`` (one line), ``seconds``, ``tracks``, ``person_frames``, ``worker``; ``fatal`` is set when the error is
the output folder's (full, gone, not writable): the driver stops the batch then, because every later clip
would fail the same way, and records nothing for that clip, so that the next run captures it again.

The result is written atomically (:meth:`core.result.MotionResult.save`: a temporary file renamed into
place): an interrupted or killed worker leaves no partial output under the final name.
"""

from __future__ import annotations

import errno
import os
import socket
import time
import traceback
from typing import Callable, Optional

from ..errors import CancelledError, MocapError, OutputNotWritableError, one_line

_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT}


def set_torch_threads(threads: Optional[int]) -> None:
    """Limit torch (and the BLAS/OpenMP pools it uses) to ``threads``; call before torch is imported to also cap
    the pools torch creates at import time."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(int(threads))
    try:
        torch.set_num_interop_threads(max(1, int(threads)))
    except RuntimeError:  # already set (or parallel work has started): the intra-op limit is what matters
        pass


def cuda_device_count() -> int:
    """CUDA GPUs torch can use here (0 without CUDA): one batch worker per GPU with --device cuda."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class CaptureWorker:
    """Models loaded on the first clip (per models folder, device and SMPL file) and kept for every later one."""

    def __init__(self, name: str = "", threads: Optional[int] = None):
        self.name = name or f"{socket.gethostname()} pid {os.getpid()}"
        self.threads = threads
        self._models = None
        self._models_key = None
        set_torch_threads(threads)

    def models_for(self, config):
        from ..pipeline import load_models

        key = (config.models_dir, config.device, config.smpl_path)
        if self._models is None or key != self._models_key:
            self._models = load_models(config, detector=False)  # YOLO is loaded by the first clip that needs it
            self._models_key = key
        return self._models

    def capture(self, task: dict, progress: Optional[Callable[[float, str], None]] = None,
                cancel: Optional[Callable[[], bool]] = None) -> dict:
        """Capture one clip and write its result. Raises CancelledError when ``cancel()`` turned True."""
        from ..cli.options import capture_config
        from ..pipeline import capture_warnings, run

        t0 = time.perf_counter()
        out = {"worker": self.name, "status": "failed", "error": None, "tracks": 0, "person_frames": 0}
        try:
            config = capture_config(task.get("config", {}), task.get("clip", {}))
            models = self.models_for(config)
            result = run(task["video"], config, progress=None if progress is None else
                         (lambda stage, fraction, message: progress(fraction, f"{stage}: {message}")),
                         cancel=cancel, models=models)
            if cancel is not None and cancel():
                raise CancelledError("cancelled")
            result.save(task["output"])
            if self.threads:  # ultralytics may have changed torch's thread count: keep the worker's share
                set_torch_threads(self.threads)
            out.update(status="done", tracks=len(result.tracks), person_frames=int(sum(len(t) for t in result.tracks)),
                       parts=(getattr(result, "meta", {}).get("extremities") or {}).get("parts", {"body": True}))
            warnings = capture_warnings(result)
            if warnings:
                out["warnings"] = warnings
        except CancelledError:
            raise
        except OutputNotWritableError as err:
            out["error"] = one_line(err)
            cause = err.__cause__
            out["fatal"] = isinstance(cause, OSError) and cause.errno in _OUTPUT_ERRNOS or \
                not os.path.isdir(os.path.dirname(task["output"]))
        except MocapError as err:
            out["error"] = one_line(err)
        except MemoryError:
            out["error"] = "out of memory (use fewer --workers, or --target-fps to process fewer frames)"
        except Exception as err:  # a bug: the clip fails, the batch goes on; the traceback goes in the record
            out["error"] = f"internal error: {type(err).__name__}: {one_line(err)}"
            out["traceback"] = traceback.format_exc(limit=20)[-2000:]  # small: one atomic pipe write (local.py)
        out["seconds"] = round(time.perf_counter() - t0, 3)
        return out


# ------------------------------------------------------------------------------------------- local processes
def process_main(index: int, tasks, events, stop, threads: Optional[int], gpu: Optional[int]) -> None:
    """Entry point of one local worker process (multiprocessing 'spawn'). Reads tasks from its own queue until a
    None, sends ``(kind, worker index, key, payload)`` events on its own queue: "start" (pid), "progress"
    (fraction), "result" (record), "cancelled", "exit". ``stop``: a lock-free shared flag (``stop.value``), so a
    worker killed at any moment never leaves a lock held that the others wait for. SIGINT is ignored here: the
    driver decides (it sets ``stop``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import warnings

    warnings.filterwarnings("ignore")
    worker = CaptureWorker(name=f"local-{index} pid {os.getpid()}" + ("" if gpu is None else f" gpu {gpu}"),
                           threads=threads)
    stopped = lambda: bool(stop.value)  # noqa: E731
    while not stopped():
        task = tasks.get()
        if task is None:
            break
        key = task["key"]
        events.put(("start", index, key, os.getpid()))
        last = [0.0]

        def progress(fraction, message, key=key):
            now = time.monotonic()
            if now - last[0] > 0.5:
                last[0] = now
                events.put(("progress", index, key, float(fraction)))

        try:
            record = worker.capture(task, progress=progress, cancel=stopped)
        except CancelledError:
            events.put(("cancelled", index, key, None))
            break
        events.put(("result", index, key, record))
    events.put(("exit", index, None, None))
