"""The sub-commands of ``python -m core`` that belong to no stage's room: ``capture`` (the pipeline, with the capture
options declared once in :mod:`core.cli.options`), ``info`` (what a video holds), ``footage`` (a video's frames for
the Blender scene) and ``export-smpl`` (the SMPL body arrays for the add-on). ``core/__main__.py`` collects them
with the rooms' own (``refine``: :mod:`core.motion.cli`; ``batch``: :mod:`core.batch.cli`).

Heavy packages are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ..outputs import check_output_file
from . import values as cli_values
from .options import add_capture_options, capture_config, capture_settings

CAPTURE_EPILOG = """\
examples:
  python -m core capture dance.mp4 -o dance.npz
      every person in the video, models from ./models (or $TCMR_MOCAP_MODELS)
  python -m core capture clip.mov -o clip.npz --models ~/tcmr_models --device cuda --frames 120:480
      frames 120 to 480 (inclusive) on the GPU
  python -m core capture long.mp4 -o long.npz --target-fps 15 --track 2 --focal-length 1500
      about 15 frames per second, only track 2, a known focal length in pixels
  python -m core capture walk.mp4 -o walk.npz --detections boxes.json
      your own person boxes instead of the YOLO detector

--detections FILE (video frame indices from 0, boxes in pixels):
  JSON per frame: {"frames": [{"frame": 0, "bbox_xyxy": [[x0, y0, x1, y1], ...], "scores": [0.9, ...]}, ...]}
                  (boxes are linked into tracks by the tracker; "scores" optional)
  JSON per track: {"tracks": [{"track_id": 1, "frame_ids": [0, 1, ...], "bbox_xyxy": [[x0, y0, x1, y1], ...]}]}
  NPZ:            frame_ids (M,), bbox_xyxy (M, 4), optional scores (M,), optional track_ids (M,)

progress goes to stderr (with --progress-json: one JSON object per line, for programs such as the Blender
add-on); the result is an .npz that core.result.MotionResult.load reads (see README, "Result format").
exit codes: 0 done, 2 bad input or set-up (one "error: ..." line), 130 interrupted.
"""


def add_capture_parser(sub, description: str) -> None:
    """The ``capture`` sub-command (``sub``: the subparsers of ``python -m core``)."""
    cap = sub.add_parser("capture", help="capture the people in a video into an .npz motion file",
                         description=description, epilog=CAPTURE_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cap.add_argument("video", help="the video file (anything OpenCV reads: .mp4, .mov, .avi, .mkv ...)")
    cap.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="where to write the result")
    add_capture_options(cap)  # the options capture, batch and the headless Blender command share
    cap.add_argument("--progress-json", action="store_true",
                     help='progress as JSON lines on stderr: {"type": "progress", "stage", "fraction", "message"}, '
                          'then {"type": "done", "output"} or {"type": "error", "message", "exit_code"}')


def add_tool_parsers(sub) -> None:
    """The sub-commands ``info``, ``footage`` and ``export-smpl``."""
    info = sub.add_parser("info", help="print a video's frame rate, size and frame count",
                          description="Print what a video file holds (frame rate, size, frame count).")
    info.add_argument("video")
    info.add_argument("--count", action="store_true", help="decode the whole video to count frames exactly")
    info.add_argument("--json", action="store_true", help="print one JSON object")

    foot = sub.add_parser("footage", help="write a video's frames as numbered JPEGs, decoded as a capture decodes "
                          "them (the Blender add-on's footage for variable-rate videos)",
                          description="Write video frames as FOLDER/frame_NNNNNN.jpg (N = the video frame a capture "
                                      "counts) and FOLDER/footage.json (their timestamps).")
    foot.add_argument("video")
    foot.add_argument("-o", "--output", required=True, metavar="FOLDER", help="the folder to write (replaced)")
    foot.add_argument("--frames", type=cli_values.frame_range, metavar="START:END",
                      help="only these video frames, inclusive, from 0 (default: all)")
    foot.add_argument("--quality", type=cli_values.at_least_one, default=92, metavar="Q",
                      help="JPEG quality, 1-100 (default 92)")
    foot.add_argument("--progress-json", action="store_true", help="progress as JSON lines on stderr")

    exp = sub.add_parser("export-smpl", help="write the SMPL body arrays (for the Blender add-on) to an .npz",
                         description="Write the SMPL neutral body that the TCMR checkpoint carries (or the SMPL "
                                     "file in the models folder) as a plain-numpy .npz.")
    exp.add_argument("-o", "--output", required=True, metavar="SMPL.npz")
    exp.add_argument("--models", metavar="DIR", help="models folder (default: $TCMR_MOCAP_MODELS, else ./models)")


# ------------------------------------------------------------------------------------------- progress
class Progress:
    """Progress lines on stderr: JSON lines (``--progress-json``), a live line on a terminal, else nothing."""

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.live = not as_json and sys.stderr.isatty()
        self._last = (None, -1.0, 0.0)

    def emit(self, obj: dict) -> None:
        sys.stderr.write(json.dumps(obj) + "\n")
        sys.stderr.flush()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        last_stage, last_fraction, last_time = self._last
        now = time.monotonic()
        if stage == last_stage and fraction - last_fraction < 0.005 and now - last_time < 0.5 and fraction < 1.0:
            return
        self._last = (stage, fraction, now)
        if self.as_json:
            self.emit({"type": "progress", "stage": stage, "fraction": round(float(fraction), 4), "message": message})
        elif self.live:
            sys.stderr.write(f"\r\033[K[{100 * fraction:3.0f}%] {stage}: {message}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# ------------------------------------------------------------------------------------------- commands
def capture(args, progress: Progress) -> int:
    check_output_file(args.output)
    config = capture_config(capture_settings(args))  # as a batch makes it for each clip
    from ..pipeline import capture_warnings, run

    result = run(args.video, config, progress=progress)
    for warning in capture_warnings(result):  # e.g. no floor: the camera frame is kept
        progress.clear()
        if progress.as_json:
            progress.emit({"type": "warning", "message": warning})
        else:
            sys.stderr.write(f"warning: {warning}\n")
    progress("save", 0.97, f"writing {args.output}")
    result.save(args.output)
    progress("save", 1.0, "saved")
    progress.clear()
    if progress.as_json:
        progress.emit({"type": "done", "output": os.path.abspath(args.output)})
    ids = ", ".join(str(t.track_id) for t in result.tracks)
    frames = sum(len(t) for t in result.tracks)
    print(f"wrote {args.output}: {len(result.tracks)} track(s) (id {ids}), {frames} person-frames")
    return 0


def info(args) -> int:
    from ..capture.video import VideoReader

    reader = VideoReader(args.video)
    info = reader.info
    out = {"path": info.path, "fps": info.fps, "width": info.width, "height": info.height,
           "frame_count": info.frame_count if info.frame_count > 0 else None}
    if args.count:
        for _ in reader.scan(decode=False):
            pass
        ts = reader.timestamps_s
        out.update(frame_count=int(ts.shape[0]), duration_s=float(ts[-1] - ts[0]) if ts.size else 0.0,
                   fps=reader.nominal_fps())
    if args.json:
        print(json.dumps(out))
    else:
        count = out["frame_count"] if out["frame_count"] is not None else "unknown"
        print(f"{info.path}\n  size: {info.width}x{info.height}\n  fps: {out['fps']:g}\n  frames: {count}"
              + ("" if args.count else " (container value; --count decodes to count exactly)")
              + (f"\n  duration: {out['duration_s']:.3f} s" if "duration_s" in out else ""))
    return 0


def footage(args, progress: Progress) -> int:
    from ..capture.footage import write_footage

    start, end = args.frames if args.frames else (0, None)
    info = write_footage(args.video, args.output, start, end, quality=min(100, args.quality),
                         progress=lambda fraction, message: progress("footage", fraction, message))
    progress.clear()
    if progress.as_json:
        progress.emit({"type": "done", "output": os.path.abspath(args.output)})
    print(f"wrote {args.output}: video frames {info['first']} to {info['last']}")
    return 0


def export_smpl(args) -> int:
    from ..assets.table import find_smpl_file, model_path, resolve_models_dir
    from ..smpl import export_smpl_npz, load_smpl_arrays, smpl_arrays_from_tcmr_state_dict

    check_output_file(args.output)
    models_dir = resolve_models_dir(args.models)
    smpl_file = find_smpl_file(models_dir)
    if smpl_file is not None:
        arrays, source = load_smpl_arrays(smpl_file), smpl_file
    else:
        from ..tcmr.checkpoint import tcmr_state_dict_from_file

        source = model_path("tcmr", models_dir)
        arrays = smpl_arrays_from_tcmr_state_dict(tcmr_state_dict_from_file(source))
    export_smpl_npz(arrays, args.output)
    print(f"wrote {args.output} (SMPL body from {source})")
    return 0
