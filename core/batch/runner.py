"""The batch driver: inputs -> plan (resume) -> executor (inline, processes or Ray) -> manifest, progress, exit code.

Only this process writes the manifest; workers write result files (atomically) and report back. The driver
decides the order (longest clips first, by the container's frame count within the clip's frame range), and
stops on Ctrl-C (first: no new clips, running ones are cancelled and leave no output; second: at once) or when
the output folder cannot take more (full, gone, read-only): finished clips are kept either way, and running
the same command again continues where it stopped.
"""

from __future__ import annotations

import glob
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from ..cli.options import capture_config
from ..outputs import check_output_folder
from ..errors import InvalidArgumentError, MocapError, one_line
from . import inputs as inputs_mod
from .manifest import MANIFEST_NAME, Manifest, capture_options_hash, plan
from .progress import BatchProgress

EXIT_OK, EXIT_BUG, EXIT_SETUP, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@dataclass
class BatchOptions:
    inputs: list
    out_dir: str
    capture: dict = field(default_factory=dict)  # models, device, smpl and defaults for every CLIP_OPTIONS name
    workers: int = 1
    threads: Optional[int] = None  # torch threads per worker (default: cpu_count // workers)
    ray: Optional[str] = None  # "auto", "local" or an address
    recursive: bool = False
    retry_failed: bool = False
    force: bool = False  # capture every clip again
    content_hash: bool = False  # compare videos by sha256 instead of size + mtime
    progress_json: bool = False
    dry_run: bool = False


@dataclass
class BatchSummary:
    exit_code: int
    done: int = 0
    failed: int = 0
    skipped_done: int = 0
    skipped_failed: int = 0
    not_run: int = 0
    seconds: float = 0.0
    person_frames: int = 0
    manifest: str = ""
    message: str = ""
    records: dict = field(default_factory=dict)  # key -> record of this run


class _Driver:
    """Receives the executors' events; writes the manifest and the progress."""

    def __init__(self, tasks: dict, manifest: Manifest, progress: BatchProgress, stop: threading.Event):
        self.tasks, self.manifest, self.progress, self.stop = tasks, manifest, progress, stop
        self.records: dict[str, dict] = {}
        self.fatal: Optional[str] = None
        self.lock = threading.Lock()

    def on_start(self, key: str, worker: str) -> None:
        with self.lock:
            self.progress.start(key, self.tasks[key]["video"])

    def on_progress(self, key: str, fraction: float) -> None:
        with self.lock:
            self.progress.update(key, fraction)

    def on_result(self, key: str, result: dict) -> None:
        with self.lock:
            if key in self.records:  # a retried task finished twice (a lost worker's reply came late): once only
                return
            task = self.tasks[key]
            if result.get("fatal"):
                self.fatal = self.fatal or result.get("error") or "the output folder cannot be written"
                self.stop.set()
                return
            record = {"video": task["video"], "status": result.get("status", "failed"),
                      "output": task["output"] if result.get("status") == "done" else None,
                      "seconds": result.get("seconds"), "error": result.get("error"), "key": key,
                      **task["fingerprint"], "options": task["options_hash"], "tracks": result.get("tracks", 0),
                      "person_frames": result.get("person_frames", 0), "frames": task["frames"],
                      "worker": result.get("worker"), "attempt": result.get("attempt", 1)}
            if result.get("parts"):
                record["parts"] = result["parts"]  # what was captured: {"body", "hands", "face": bool}
            if result.get("warnings"):
                record["warnings"] = list(result["warnings"])  # e.g. "the floor could not be estimated ..."
            if result.get("restarted"):
                record["restarted"] = True  # its worker had been lost and started again (Ray)
            if result.get("traceback"):
                record["traceback"] = result["traceback"]
            try:
                self.manifest.append(record)
            except OSError as exc:
                self.fatal = f"cannot write the manifest {self.manifest.path}: {exc.strerror or exc}"
                self.stop.set()
                return
            self.records[key] = record
            self.progress.finish(key, record, os.path.basename(task["video"]))


def _remove_partials(out_dir: str, names) -> int:
    """Temporary files an earlier, killed run left behind for our outputs (never the outputs themselves)."""
    count = 0
    for name in names:
        for tmp in glob.glob(os.path.join(glob.escape(out_dir), f".{glob.escape(name)}.*.partial")):
            try:
                os.remove(tmp)
                count += 1
            except OSError:
                pass
    return count


def _frames_to_process(video: str, config) -> int:
    """The container's frame count within the clip's range (VideoReadError for an unreadable file)."""
    from ..capture.video import VideoReader

    info = VideoReader(video).info
    count = info.frame_count if info.frame_count > 0 else 1000
    end = count if config.frame_end is None else min(config.frame_end + 1, count)
    n = max(1, end - config.frame_start)
    if config.target_fps and info.fps > 0:
        n = max(1, int(n * min(1.0, config.target_fps / info.fps)))
    return n


def _check_models(clips: list, capture: dict) -> None:
    """Missing model files fail the batch at once (every clip would fail the same way)."""
    from ..assets.table import model_path, resolve_models_dir

    models_dir = resolve_models_dir(capture.get("models"))
    model_path("tcmr", models_dir)
    model_path("spin", models_dir)
    if any(not (c.options.get("detections") or capture.get("detections")) for c in clips):
        model_path("detector", models_dir)


def make_executor(opts: BatchOptions):
    device = str(opts.capture.get("device") or "auto")
    if opts.ray:
        from .ray_runner import RayExecutor

        return RayExecutor(opts.ray, workers=opts.workers if opts.workers > 1 else None, device=device,
                           threads=opts.threads)
    gpus = None
    if device.startswith("cuda"):
        from .worker import cuda_device_count

        count = cuda_device_count()
        if count > 1:
            gpus = list(range(count))
            if opts.workers <= 1:
                opts.workers = count  # one worker per GPU
    from .local import InlineExecutor, ProcessExecutor

    if opts.workers <= 1:
        return InlineExecutor(threads=opts.threads)
    return ProcessExecutor(opts.workers, threads=opts.threads, gpus=gpus)


def run_batch(opts: BatchOptions, executor=None, stop: Optional[threading.Event] = None) -> BatchSummary:
    """Run the whole batch. Raises MocapError when it cannot start (the CLI turns that into exit 2)."""
    t0 = time.perf_counter()
    out_dir = os.path.abspath(opts.out_dir)
    if opts.ray and executor is None:
        executor = make_executor(opts)
        executor.check()  # an unreachable cluster fails now, with one line, before anything is written
    check_output_folder(out_dir)  # created and written to before any work is done
    collected = inputs_mod.collect_clips(opts.inputs, recursive=opts.recursive, skip_dirs=[out_dir])
    clips = collected.clips
    progress_stream = BatchProgress(0, {}, as_json=opts.progress_json)
    for path in collected.ignored[:5]:
        progress_stream.note(f"ignored (not a video file): {path}")
    if len(collected.ignored) > 5:
        progress_stream.note(f"ignored {len(collected.ignored) - 5} more files that are not videos")
    for where, first in collected.duplicates:
        progress_stream.note(f"skipped a duplicate: {where} names the same clip as {first}")
    if not clips:
        raise InvalidArgumentError("no video found in the inputs (give video files, folders, globs or a .txt/.csv "
                                   "list; folders are searched for " + ", ".join(sorted(inputs_mod.VIDEO_EXTENSIONS)[:6])
                                   + " ...; --recursive searches sub-folders)")
    base = {k: v for k, v in opts.capture.items() if v is not None}
    _check_models(clips, base)
    from ..assets.table import resolve_models_dir

    base["models"] = str(resolve_models_dir(base.get("models")).resolve())  # workers elsewhere see the same
    def opts_hash_of(clip) -> str:
        """Hash of the clip's effective capture settings (however they were given: command line, list, API)."""
        return capture_options_hash(capture_config(base, clip.options))
    manifest = Manifest(os.path.join(out_dir, MANIFEST_NAME))
    the_plan = plan(clips, manifest, opts_hash_of, out_dir, retry_failed=opts.retry_failed,
                    content_hash=opts.content_hash, force=opts.force)
    _remove_partials(out_dir, [c.output_name for c in clips])
    summary = BatchSummary(exit_code=EXIT_OK, skipped_done=len(the_plan.done), skipped_failed=len(the_plan.failed),
                           manifest=manifest.path)
    if the_plan.done:
        progress_stream.note(f"{len(the_plan.done)} clip(s) already done and unchanged: skipped")
    if the_plan.failed:
        progress_stream.note(f"{len(the_plan.failed)} clip(s) failed before: skipped (--retry-failed tries them again)")

    stop = stop or threading.Event()
    tasks, failed_early = {}, []
    for clip, fingerprint in the_plan.todo:
        config = capture_config(base, clip.options)
        task = {"key": clip.key, "video": clip.video, "output": os.path.join(out_dir, clip.output_name),
                "config": base, "clip": clip.options, "fingerprint": {"size": fingerprint.get("size"),
                "mtime_ns": fingerprint.get("mtime_ns"), "sha256": fingerprint.get("sha256")},
                "options_hash": opts_hash_of(clip), "frames": 1}
        tasks[clip.key] = task
        try:
            task["frames"] = _frames_to_process(clip.video, config)
        except MocapError as err:  # unreadable, missing, not a video: no worker needed to say so
            failed_early.append((clip.key, one_line(err)))
    progress = BatchProgress(len(tasks), {k: t["frames"] for k, t in tasks.items()}, as_json=opts.progress_json,
                             skipped=summary.skipped_done)
    early = {k for k, _ in failed_early}
    queue_ = sorted((t for k, t in tasks.items() if k not in early), key=lambda t: -t["frames"])
    public = [{k: t[k] for k in ("key", "video", "output", "config", "clip", "frames")} for t in queue_]
    if opts.dry_run:  # says what a run would do; writes nothing (no record, so the real run tries every clip)
        for key, error in failed_early:
            progress.line(f"would fail {tasks[key]['video']}: {error}")
        for t in queue_:
            progress.line(f"would capture {t['video']} ({t['frames']} frames) -> {t['output']}")
        summary.not_run = len(tasks)
        return summary
    driver = _Driver(tasks, manifest, progress, stop)
    for key, error in failed_early:
        driver.on_start(key, "driver")
        driver.on_result(key, {"status": "failed", "error": error, "seconds": 0.0, "worker": "driver"})

    interrupted = [False]
    previous = previous_term = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            if interrupted[0]:
                raise KeyboardInterrupt
            interrupted[0] = True
            stop.set()
            progress.note("stopping: running clips are cancelled (no partial output); Ctrl-C again to quit at once")

        previous = signal.signal(signal.SIGINT, on_sigint)  # explicit: a background job starts with SIGINT ignored
        previous_term = signal.signal(signal.SIGTERM, on_sigint)  # schedulers and the add-on stop us with SIGTERM
    try:
        if queue_ and not stop.is_set():
            executor = executor or make_executor(opts)
            executor.run(public, driver, stop)
    except KeyboardInterrupt:
        interrupted[0] = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)
        progress.clear()
    records = driver.records
    summary.records = records
    summary.done = sum(r["status"] == "done" for r in records.values())
    summary.failed = sum(r["status"] != "done" for r in records.values())
    summary.not_run = len(tasks) - len(records)
    summary.person_frames = sum(int(r.get("person_frames") or 0) for r in records.values())
    summary.seconds = time.perf_counter() - t0
    kept = summary.done + summary.skipped_done
    if driver.fatal:
        summary.exit_code = EXIT_SETUP
        shared = " (with --ray, OUT_DIR must be on a file system every node sees, at the same path)" if opts.ray else ""
        summary.message = (f"{driver.fatal}; stopped the batch: free space or choose another -o folder{shared}, then "
                           f"run the same command again ({kept} clip(s) done are kept, {summary.not_run} to go)")
    elif interrupted[0] or (stop.is_set() and summary.not_run):
        summary.exit_code = EXIT_INTERRUPTED
        summary.message = (f"interrupted: {kept} clip(s) done are kept, {summary.not_run} not finished left no "
                           "output; run the same command again to go on")
    elif summary.failed or summary.skipped_failed:
        summary.exit_code = EXIT_SOME_FAILED
        summary.message = (f"{summary.failed + summary.skipped_failed} of {len(clips)} clip(s) failed (errors in "
                           f"{manifest.path}; --retry-failed tries them again)")
    return summary
