"""A headless batch: the core's batch captures the videos, then each clip becomes ``OUT_DIR/<name>.blend`` (+
exports, + a render), resumably, and one bad clip never stops the batch.

Everything that is not Blender work is the core's (``core.batch``): the inputs (files, folders, globs, lists with
per-clip options), the captures (``python -m core batch``: models loaded once, ``--workers``, its own manifest
``OUT_DIR/captures/manifest.jsonl`` and resume), the output probe, and for the Blender stage the same manifest
class, video fingerprint, options hash and resume plan (:func:`core.batch.manifest.plan`) on
``OUT_DIR/blender_manifest.jsonl``: a clip's "video" there is its capture (or motion) file, its output the .blend,
and its record lists every file written (all must still exist for the clip to count as done). Each clip ends
with one record: done, or failed with its one-line error (a Blender error or a bug included, with its traceback).
"""

from __future__ import annotations

import glob
import hashlib
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

from ...core.batch.inputs import collect_clips
from ...core.batch.manifest import MANIFEST_NAME as CORE_MANIFEST
from ...core.batch.manifest import Manifest, options_hash, plan
from ...core.batch.runner import EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, EXIT_SOME_FAILED
from ...core.errors import CancelledError, DependencyMissingError, MocapError, one_line
from ...core.outputs import check_output_folder
from ..runtime.job import start_in_extension
from . import options as cli_options
from . import steps

MANIFEST_NAME = "blender_manifest.jsonl"


@dataclass(frozen=True)
class StageClip:
    """One clip of the Blender stage, as core.batch.manifest.plan sees it: ``video`` is the file whose
    fingerprint decides "unchanged" (the capture or motion file; "" when the capture failed)."""

    key: str
    video: str
    output_name: str  # <name>.blend
    input: str  # what the user gave (shown and recorded)
    name: str
    error: str = ""  # the capture's error: the clip fails without Blender work
    warnings: tuple = field(default=())


def run_batch(args, printer, reset) -> int:
    """The batch. ``reset()`` empties the scene (and enables the add-on) before each clip. Returns the exit code."""
    out_dir = os.path.abspath(args.output)
    check_output_folder(out_dir)
    motions, for_core = split_inputs(args.inputs)
    clips = stage_clips(args, for_core, motions, os.path.join(out_dir, "captures"), printer)
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise MocapError("two clips would write the same .blend name (rename one)")
    manifest = Manifest(os.path.join(out_dir, MANIFEST_NAME))
    stage_hash = options_hash(cli_options.stage_settings(args))
    the_plan = plan(clips, manifest, lambda clip: stage_hash, out_dir, retry_failed=args.retry_failed,
                    force=args.force, intact=os.path.isfile)  # (a .blend: there is enough)
    done = failed = 0
    for k, (clip, fingerprint) in enumerate(the_plan.todo, 1):
        try:
            record = run_clip(args, clip, out_dir, printer, reset)
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted: finished clips are kept; run the same command again to go on\n")
            return EXIT_INTERRUPTED
        record.update(key=clip.key, input=clip.input, motion=clip.video or None, name=clip.name,
                      options=stage_hash, size=fingerprint.get("size"), mtime_ns=fingerprint.get("mtime_ns"),
                      sha256=fingerprint.get("sha256"))
        try:
            manifest.append(record)
        except OSError as exc:
            sys.stderr.write(f"error: cannot write the manifest {manifest.path}: {exc.strerror or exc} (free some "
                             "space, then run the same command again)\n")
            return EXIT_SETUP
        if record["status"] == "done":
            done += 1
            sys.stdout.write(f"[{k}/{len(the_plan.todo)}] wrote {os.path.join(out_dir, clip.output_name)}\n")
        else:
            failed += 1
            sys.stdout.write(f"[{k}/{len(the_plan.todo)}] failed {clip.input}: {record['error']}\n")
        for warning in record.get("warnings", ()):
            sys.stdout.write(f"  warning: {warning}\n")
        sys.stdout.flush()
    before = len(the_plan.failed)
    sys.stdout.write(f"blender batch: {done} done, {len(the_plan.done)} already done, {failed} failed"
                     + (f", {before} failed before (not retried)" if before else "") + f"; manifest {manifest.path}\n")
    if failed or before:
        sys.stderr.write(f"error: {failed + before} of {len(clips)} clip(s) failed (see {manifest.path}; "
                         "--retry-failed tries them again)\n")
        return EXIT_SOME_FAILED
    return EXIT_OK


def run_clip(args, clip: StageClip, out_dir: str, printer, reset) -> dict:
    """One clip's Blender work -> its manifest record (status, error, outputs, seconds, warnings)."""
    t0 = time.perf_counter()
    warnings = list(clip.warnings)
    record = {"status": "failed", "error": clip.error or None, "outputs": []}
    if not clip.error:
        blend = os.path.join(out_dir, clip.output_name)
        exports = cli_options.export_files(os.path.join(out_dir, clip.name), args.export_formats)
        render_to = args.render.replace("{name}", clip.name) if args.render else None
        try:
            reset()
            result = steps.import_motion(clip.video, steps.build_options(args, blend, printer))
            warnings += result.warnings
            outputs = steps.finish(args, result, blend, exports, render_to, warnings,
                                   on_frame=lambda done, total: printer.line(f"[render] frame {done}/{total}"))
            record.update(status="done", error=None, outputs=outputs)
        except MocapError as err:
            record["error"] = one_line(err)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # a bug or a Blender error: this clip fails, the batch goes on
            record["error"] = f"internal error: {type(err).__name__}: {one_line(err)}"
            record["traceback"] = traceback.format_exc(limit=20)[-2000:]
    if warnings:
        record["warnings"] = list(dict.fromkeys(warnings))
    record["seconds"] = round(time.perf_counter() - t0, 3)
    return record


def split_inputs(items) -> tuple[list, list]:
    """(motion files to import, inputs for the core batch: videos, folders, globs, lists), paths absolute (the
    core runs in its own working directory)."""
    motions, for_core = [], []
    for item in items:
        item = os.path.abspath(os.path.expanduser(str(item)))
        if os.path.isfile(item) and cli_options.is_motion_file(item):
            motions.append(item)
        elif glob.has_magic(item) and not os.path.exists(item):
            matches = sorted(glob.glob(item, recursive=True))
            motions += [m for m in matches if cli_options.is_motion_file(m)]
            if not matches or any(not cli_options.is_motion_file(m) for m in matches):
                for_core.append(item)
        else:
            for_core.append(item)
    return motions, for_core


def stage_clips(args, for_core: list, motions: list, captures: str, printer) -> list:
    """The clips of the Blender stage: the videos as the core batch captured them (in the core's order, named as
    it names them), then the motion files."""
    clips = []
    if for_core:
        collected = collect_clips(for_core, recursive=args.recursive, skip_dirs=[captures]).clips
        records = capture_videos(args, for_core, captures, printer) if collected else {}
        for c in collected:
            rec = records.get(c.key)
            name = os.path.splitext(c.output_name)[0]
            if rec is None:
                clips.append(StageClip(c.key, "", f"{name}.blend", c.video, name, "not captured (interrupted?)"))
            elif rec.get("status") != "done":
                clips.append(StageClip(c.key, "", f"{name}.blend", c.video, name,
                                       f"capture failed: {rec.get('error')}"))
            else:
                clips.append(StageClip(c.key, rec["output"], f"{name}.blend", c.video, name,
                                       warnings=tuple(rec.get("warnings") or ())))
    for path in motions:
        key = hashlib.sha1(path.encode()).hexdigest()[:8]
        name = f"{os.path.splitext(os.path.basename(path))[0]}-{key}"
        clips.append(StageClip(key, path, f"{name}.blend", path, name))
    return clips


def capture_videos(args, for_core: list, captures: str, printer) -> dict:
    """``python -m core batch`` (resumable on its own) -> {clip key: its latest manifest record}."""
    python = steps.core_python(args)
    if python is None or not os.path.isfile(str(python)):
        raise DependencyMissingError("the core's Python environment is missing (run install_deps.py, or give "
                                     "--python PY)")
    argv = [str(python), "-m", "core", "batch", *for_core, "-o", captures, "--progress-json",
            "--workers", str(args.workers), *args.capture_argv]
    for flag in ("retry_failed", "recursive"):  # (--force redoes the Blender stage; captures stay cached)
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    job = start_in_extension(argv)
    try:  # its end state is reported per clip: print progress only while it runs
        job.wait(on_update=lambda j: printer(j) if j.state == "running" else None)
    except KeyboardInterrupt:
        job.cancel()
        raise CancelledError("interrupted: finished clips are kept; run the same command again to go on") from None
    if job.returncode not in (EXIT_OK, EXIT_SOME_FAILED):
        raise MocapError(job.error or f"the core batch stopped (exit code {job.returncode})")
    return Manifest(os.path.join(captures, CORE_MANIFEST)).latest
