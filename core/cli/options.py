"""The capture options, declared once.

``python -m core capture``, ``python -m core batch`` and the headless Blender command
(``blender_addon/headless.py``) all declare them with :func:`add_capture_options`; :func:`capture_settings`
turns the parsed values into the settings that :func:`capture_config` makes a :class:`core.config.CaptureConfig`
of (a batch's list rows override them per clip). The headless command runs the
core as a subprocess and hands it the user's own words: :func:`capture_tokens` picks them out of its command line.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional

from . import values as cli_values

PER_CLIP_NOTE = "(for every clip; a list's columns override them per clip)"
PATH_OPTIONS = ("--models", "--smpl", "--detections")  # their values name files (made absolute when passed on)


def add_capture_options(parser: argparse.ArgumentParser, detections: bool = True, title: str | None = None) -> None:
    """Add the capture options (defaults from core/config.py) to ``parser``, in a group ``title`` if given.
    ``detections``: offer ``--detections FILE`` (one clip; a batch gives boxes per clip in its list)."""
    from ..config import CaptureConfig, TrackerConfig, WindowConfig
    from ..runtime.device import DEVICE_CHOICES
    from ..extremities.cli import add_extremity_options
    from .refine_options import add_refine_options
    from .speed import add_speed_options

    d, dt = CaptureConfig(), TrackerConfig()
    g = parser.add_argument_group(title) if title else parser
    g.add_argument("--models", metavar="DIR", help="models folder (default: $TCMR_MOCAP_MODELS, else ./models)")
    g.add_argument("--device", choices=DEVICE_CHOICES, default=d.device,
                   help="where the networks run; auto = a CUDA GPU when available, else Apple's MPS, else the CPU "
                        f"(default {d.device})")
    g.add_argument("--track", default=d.track, metavar="all|ID",
                   help="capture every person track, or only the one with this id (default all)")
    g.add_argument("--frames", type=cli_values.frame_range_text, metavar="START:END",
                   help="only these video frames, inclusive, counted from 0 (e.g. 100:399, 100: or :399)")
    g.add_argument("--target-fps", type=cli_values.positive, metavar="F",
                   help="process about F frames per second of video (default: every frame)")
    g.add_argument("--focal-length", type=cli_values.positive, metavar="PX",
                   help="camera focal length in pixels (default: the image diagonal, about 53° wide)")
    g.add_argument("--windowing", choices=("ours", "official"), default=WindowConfig().windowing,
                   help="ours: track ends see the real context there is; official: the TCMR demo exactly")
    g.add_argument("--no-smoothing", action="store_true",
                   help="keep the raw network output: no refine smoothing and no foot lock (unless --smoothing or "
                        "--foot-lock is given)")
    g.add_argument("--save-vertices", action="store_true", help="also store SMPL vertices and 49 joints per frame "
                   "(large: about 80 KB per person per frame)")
    if detections:
        g.add_argument("--detections", metavar="FILE", help="person boxes from a .json/.npz file instead of the "
                       "YOLO detector (`python -m core capture --help` shows the format)")
    g.add_argument("--smpl", metavar="FILE", help="SMPL body file (default: SMPL_NEUTRAL.npz/.pkl in the models "
                   "folder, else the copy inside the TCMR checkpoint)")
    g.add_argument("--tracker", choices=("bytetrack", "botsort"), default=dt.tracker,
                   help=f"multi-person tracker (default {dt.tracker})")
    g.add_argument("--min-track-frames", type=cli_values.count, default=dt.min_track_frames, metavar="N",
                   help=f"drop people seen in fewer than N frames (default {dt.min_track_frames})")
    g.add_argument("--max-gap-frames", type=cli_values.count, default=dt.max_gap_frames, metavar="N",
                   help=f"bridge detection gaps up to N frames; longer gaps split a track (default {dt.max_gap_frames})")
    add_speed_options(g)  # --fast, --precision, --detect-every, --detector-size, --lanes
    add_extremity_options(g)  # --hands, --face
    add_refine_options(parser, for_capture=True)  # --foot-lock, --upright, --smoothing ... (their own group)


_VALUES = ("track", "frames", "target_fps", "focal_length", "windowing", "tracker", "min_track_frames",
           "max_gap_frames")


def capture_settings(args: argparse.Namespace) -> dict:
    """The parsed options -> the settings dict of :func:`capture_config` (paths absolute)."""
    from ..extremities.cli import extremity_args
    from .refine_options import refine_config_from_args

    settings = {name: getattr(args, name) for name in _VALUES if getattr(args, name, None) is not None}
    if args.no_smoothing:
        settings["no_smoothing"] = True
    if args.save_vertices:
        settings["save_vertices"] = True
    absolute = lambda p: os.path.abspath(os.path.expanduser(p)) if p else None  # noqa: E731
    settings.update(models=absolute(args.models), device=args.device, smpl=absolute(args.smpl),
                    detections=absolute(getattr(args, "detections", None)))
    settings["refine"] = refine_config_from_args(args, no_smoothing=args.no_smoothing)  # a RefineConfig
    settings["speed"] = {k: getattr(args, k, None) for k in ("fast", "precision", "detect_every", "detector_size",
                                                             "lanes")}
    settings["extremities"] = extremity_args(args)  # --hands/--face
    return settings


def capture_tokens(argv: list, detections: bool = True) -> list:
    """The words of ``argv`` that are capture options (with their values), in order, to pass on to
    ``python -m core capture|batch`` as the user typed them (paths made absolute: the core may run elsewhere).
    The parser that read ``argv`` must not accept abbreviations (``allow_abbrev=False``), so every option here
    is spelled out."""
    probe = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_capture_options(probe, detections=detections)
    takes_value = {opt: action.nargs != 0 for action in probe._actions for opt in action.option_strings}
    out, k = [], 0
    while k < len(argv):
        word = str(argv[k])
        name = word.split("=", 1)[0]
        if word == "--":
            break
        if name in takes_value:
            value = word.split("=", 1)[1] if "=" in word else None
            if takes_value[name] and value is None and k + 1 < len(argv):
                k += 1
                value = str(argv[k])
            if value is not None and name in PATH_OPTIONS:
                value = os.path.abspath(os.path.expanduser(value))
            out += [name] if value is None else [name, value]
        k += 1
    return out


def capture_config(batch: dict, clip: Optional[dict] = None):
    """CaptureConfig for one clip: the settings of :func:`capture_settings` (``batch``: models, device, smpl and
    any ``core.batch.inputs.CLIP_OPTIONS`` name) overridden by the clip's own (a batch list's columns)."""
    from dataclasses import replace

    from ..config import CameraConfig, CaptureConfig, SmoothingConfig, TrackerConfig, WindowConfig

    o = {**{k: v for k, v in batch.items() if v is not None}, **(clip or {})}
    dt = TrackerConfig()
    extra = {"refine": o["refine"]} if o.get("refine") is not None else {}  # a RefineConfig (batch level only)
    start, end = cli_values.frame_range(o["frames"]) if o.get("frames") else (0, None)
    config = CaptureConfig(
        models_dir=o.get("models"), device=o.get("device", "auto"), track=str(o.get("track", "all")),
        frame_start=start, frame_end=end, target_fps=o.get("target_fps"), smpl_path=o.get("smpl"),
        save_vertices=bool(o.get("save_vertices", False)), detections_path=o.get("detections"),
        tracker=replace(dt, tracker=o.get("tracker", dt.tracker),
                        min_track_frames=int(o.get("min_track_frames", dt.min_track_frames)),
                        max_gap_frames=int(o.get("max_gap_frames", dt.max_gap_frames))),
        window=replace(WindowConfig(), windowing=o.get("windowing", WindowConfig().windowing)),
        camera=replace(CameraConfig(), focal_length_px=o.get("focal_length")),
        smoothing=replace(SmoothingConfig(), enabled=not o.get("no_smoothing", False)), **extra,
    )
    if o.get("speed"):  # --fast and friends, applied as the capture command applies them
        from types import SimpleNamespace

        from .speed import apply_speed_args

        config = apply_speed_args(config, SimpleNamespace(**o["speed"]))
    if o.get("extremities"):  # --hands/--face
        from ..extremities.cli import apply_extremity_args

        config = apply_extremity_args(config, o["extremities"])
    return config
