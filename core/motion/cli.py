"""``python -m core refine IN.npz -o OUT.npz [options]``.

``core/__main__.py`` only adds the sub-command and calls :func:`run_refine`; the command's body lives here, its
options (shared with ``capture``, ``batch`` and the headless command) in ``core/cli/refine_options.py``.
"""

from __future__ import annotations

import argparse
import sys

from ..cli.refine_options import add_refine_options, refine_config_from_args
from ..outputs import check_output_file

REFINE_EPILOG = """\
examples:
  python -m core refine walk.npz -o walk_refined.npz
      defaults: foot lock auto, upright world frame, adaptive smoothing, rows as captured
  python -m core refine walk.npz -o walk24.npz --fps 24 --smoothing one-euro --min-cutoff 2
      a 24 fps version, One-Euro filtered instead of the window average
  python -m core refine jump.npz -o jump.npz --foot-lock never --no-upright
      only smoothing (for motion that never touches the ground)

Refining always starts from the raw network output kept in the file, so it can be repeated with other options.
exit codes: 0 done, 2 bad input (one "error: ..." line, nothing written).
"""


def add_refine_command(sub, description: str) -> argparse.ArgumentParser:
    ref = sub.add_parser("refine", help="clean up a capture without the network: foot lock, level floor, "
                         "smoothing, frame rate", description=description + " Refine a capture: planted feet, a "
                         "level floor, smoothing, any frame rate.", epilog=REFINE_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    ref.add_argument("input", metavar="IN.npz", help="a TCMR Mocap result (python -m core capture ... -o IN.npz)")
    ref.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="where to write the refined result")
    add_refine_options(ref)
    return ref


def run_refine(args) -> int:
    """The ``refine`` command: load, refine (strict: bad input raises MocapError), save atomically, summarise."""
    from ..result import MotionResult
    from .floor import FloorNotFoundError
    from .refine import refine_result

    check_output_file(args.output)
    result = MotionResult.load(args.input)
    try:
        refined, report = refine_result(result, refine_config_from_args(args), strict=True)
    except FloorNotFoundError as err:
        raise FloorNotFoundError(f"{err}; nothing was written (to refine it without a floor, in the camera frame: "
                                 "--no-upright --foot-lock never)") from None
    refined.save(args.output)
    for warning in report.warnings:  # e.g. a floor found with low confidence
        sys.stderr.write(f"warning: {warning}\n")
    print(summary_line(args.output, refined, report))
    return 0


def summary_line(path: str, result, report) -> str:
    parts = [f"wrote {path}: {len(result.tracks)} track(s), {report.rows} person-frames"]
    if result.motion_fps:
        parts.append(f"at {result.motion_fps:g} fps")
    if report.floor is not None:
        f = report.floor
        parts.append(f"floor: camera pitch {f.pitch_deg:+.1f}°, roll {f.roll_deg:+.1f}°, height {f.camera_height_m:.2f} m, "
                     f"confidence {f.confidence} (±{f.tilt_error_deg:.1f}°)")
    contacts = sum(report.contact_frames.values())
    if contacts:  # --foot-lock ground keeps feet on the floor but pins nothing: say so
        mode = (((result.meta.get("refine") or {}).get("options") or {}).get("foot_lock") or {}).get("mode")
        parts.append(f"{contacts} frames with a foot on the floor (kept on it, not pinned)" if mode == "ground"
                     else f"{contacts} frames with a foot planted")
    parts.append(f"{1000 * report.seconds / max(report.rows, 1):.3f} ms per person-frame")
    return "; ".join(parts)


