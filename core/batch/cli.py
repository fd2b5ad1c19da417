"""``python -m core batch``: the sub-command's options (:func:`add_parser`) and body (:func:`main`)."""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
inputs: video files, folders (their videos; --recursive for sub-folders), globs ("clips/*.mp4", quoted), and
lists: .txt (one clip per line: PATH [--detections FILE] [--frames A:B] [--track ID] [--output NAME] ...)
or .csv (header row with a "video" column and option columns: detections, frames, track, target_fps,
focal_length, windowing, no_smoothing, save_vertices, tracker, min_track_frames, max_gap_frames, output).
Relative paths in a list are relative to the list file.

examples:
  python -m core batch shoot/ -o results/                   every video in shoot/, one .npz each
  python -m core batch "shoot/**/*.mp4" -o results/ --workers 2
  python -m core batch clips.csv -o results/ --device cuda  one worker per GPU
  python -m core batch /shared/clips -o /shared/results --ray auto   on the Ray cluster of this machine
  python -m core batch clips.txt -o results/ --retry-failed  run again: done clips are skipped

results: OUT_DIR/<video name>-<8 hex>.npz (the digits keep names unique) and OUT_DIR/manifest.jsonl, one
JSON line per finished clip: video, status (done/failed), output, seconds, error.
exit codes: 0 every clip done; 3 some clips failed (see the manifest); 2 the batch could not start or had
to stop (one "error:" line); 130 interrupted (finished clips are kept; run the same command to go on).
"""


def add_parser(sub, formatter=argparse.RawDescriptionHelpFormatter):
    p = sub.add_parser("batch", help="capture many videos into one .npz each, resumably (workers, Ray)",
                       description="Capture many videos: one result .npz per clip, a manifest, resume, workers, Ray.",
                       epilog=EPILOG, formatter_class=formatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, folders, globs, .txt/.csv lists")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the results and the manifest")
    g = p.add_argument_group("running")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes on this machine (default 1; with --device cuda: one per GPU); with --ray "
                        "the number of Ray actors (default: one per 2 CPUs, or per GPU with --device cuda)")
    g.add_argument("--threads", type=int, metavar="N", help="torch threads per worker (default: CPU cores / workers)")
    g.add_argument("--ray", metavar="auto|local|ADDRESS",
                   help="run on Ray: auto = the cluster this machine belongs to ($RAY_ADDRESS or `ray start`), "
                        "local = a private one on this machine, or HOST:PORT / ray://HOST:PORT; inputs, outputs "
                        "and --models must be paths every node sees")
    g.add_argument("--retry-failed", action="store_true", help="capture clips that failed in an earlier run again")
    g.add_argument("--force", action="store_true", help="capture every clip again, even the done ones")
    g.add_argument("--hash", dest="content_hash", action="store_true",
                   help="decide 'unchanged' by the video's content hash (default: size and modification time)")
    g.add_argument("--recursive", action="store_true", help="also search sub-folders of folder inputs")
    g.add_argument("--dry-run", action="store_true", help="list what would be captured, then stop")
    g.add_argument("--progress-json", action="store_true", help="progress as JSON lines on stderr")
    from ..cli.options import PER_CLIP_NOTE, add_capture_options

    add_capture_options(p, detections=False, title=f"capture options {PER_CLIP_NOTE}")  # as for capture
    return p


def options_from_args(args):
    from ..cli.options import capture_settings
    from ..errors import InvalidArgumentError
    from .runner import BatchOptions

    capture = capture_settings(args)  # as the capture command reads them
    if args.workers < 1:
        raise InvalidArgumentError(f"--workers must be 1 or more, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise InvalidArgumentError(f"--threads must be 1 or more, got {args.threads}")
    return BatchOptions(inputs=list(args.inputs), out_dir=args.output, capture=capture, workers=args.workers,
                        threads=args.threads, ray=args.ray, recursive=args.recursive, retry_failed=args.retry_failed,
                        force=args.force, content_hash=args.content_hash, progress_json=args.progress_json,
                        dry_run=args.dry_run)


def main(args) -> int:
    """Run the batch; returns the exit code (see core.batch). MocapError propagates to the CLI's handler."""
    import json

    from .runner import EXIT_OK, run_batch

    summary = run_batch(options_from_args(args))
    if args.progress_json:
        sys.stderr.write(json.dumps({"type": "done", "output": summary.manifest, "exit_code": summary.exit_code,
                                     "done": summary.done, "failed": summary.failed,
                                     "skipped": summary.skipped_done + summary.skipped_failed}) + "\n")
    print(f"batch: {summary.done} captured, {summary.failed} failed, {summary.skipped_done} already done, "
          f"{summary.skipped_failed} failed before (not retried), {summary.not_run} not run; "
          f"{summary.person_frames} person-frames in {summary.seconds:.1f} s; manifest {summary.manifest}")
    if summary.exit_code != EXIT_OK and summary.message:
        sys.stderr.write(("error: " if summary.exit_code != 3 else "warning: ") + summary.message + "\n")
    return summary.exit_code
