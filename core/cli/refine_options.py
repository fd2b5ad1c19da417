"""The refine options, declared once: ``refine``, ``capture``, ``batch`` and the headless command all add them
with :func:`add_refine_options`; :func:`refine_config_from_args` reads them back as a RefineConfig and
:func:`refine_argv` writes a RefineConfig as these options (what the add-on hands the core)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..config import FloorConfig, FootLockConfig, RefineConfig, SmoothingConfig
from . import values as cli_values


def add_refine_options(parser: argparse.ArgumentParser, for_capture: bool = False) -> None:
    """The refine options (defaults from core/config.py). On ``capture`` the defaults are left as None so
    ``--no-smoothing`` can still mean "the raw network output"."""
    from ..extremities.calibration import FACE_CALIBRATIONS

    d, dl, df, de = RefineConfig(), FootLockConfig(), FloorConfig(), SmoothingConfig()
    dx = d.extremities
    group = parser.add_argument_group("refine (after the network; see `python -m core refine --help`)"
                                      if for_capture else "refine options")
    group.add_argument("--foot-lock", choices=("auto", "always", "never", "ground"),
                       default=None if for_capture else dl.mode,
                       help="auto: pin feet during detected contacts; always: whenever a foot is near the floor; "
                            f"ground: keep feet on the floor without pinning; never (default {dl.mode})")
    group.add_argument("--upright", action=argparse.BooleanOptionalAction, default=df.upright,
                       help="store a world frame with Z up and the floor at Z = 0 (camera pitch, roll, height) "
                            f"(default {'on' if df.upright else 'off'})")
    group.add_argument("--smoothing", choices=("adaptive", "one-euro", "slerp-average", "none"),
                       default=None if for_capture else d.smoothing,
                       help="temporal filter of rotations and translations: adaptive (local quadratic fits whose "
                            "window follows the motion: no lag, no loss on fast moves), one-euro, slerp-average, "
                            f"none (default {d.smoothing})")
    group.add_argument("--min-cutoff", type=cli_values.positive, default=de.min_cutoff_hz, metavar="HZ",
                       help=f"one-euro: cutoff when still; lower = smoother (default {de.min_cutoff_hz})")
    group.add_argument("--beta", type=cli_values.non_negative, default=de.beta,
                       help=f"one-euro: speed coefficient; higher = less lag (default {de.beta})")
    group.add_argument("--translation-min-cutoff", type=cli_values.positive, default=de.translation_min_cutoff_hz,
                       metavar="HZ", help=f"one-euro: cutoff of the translation (default {de.translation_min_cutoff_hz})")
    group.add_argument("--window", type=cli_values.odd, default=d.average_window, metavar="N",
                       help=f"slerp-average: frames per window, odd (default {d.average_window})")
    group.add_argument("--fps", type=cli_values.positive, metavar="F", dest="refine_fps",
                       help="resample the motion to F frames per second (default: the rows as captured)")
    group.add_argument("--face-calibration", choices=FACE_CALIBRATIONS, default=dx.face_calibration,
                       help="face weights (--face): standard = MediaPipe's scores put on the ARKit scale (jawOpen and "
                            "eyeBlink read low: a fixed map per channel); auto = also subtract the performer's "
                            "resting face, taken from the clip's calmest frames; none = MediaPipe's raw scores "
                            f"(default {dx.face_calibration}; the raw scores stay in the file)")


def refine_config_from_args(args, no_smoothing: bool = False) -> RefineConfig:
    """RefineConfig from parsed options. ``no_smoothing`` (capture's --no-smoothing): smoothing none and, unless
    --foot-lock is given, foot lock never, i.e. the network output bit-exact."""
    d = RefineConfig()
    smoothing = args.smoothing or ("none" if no_smoothing else d.smoothing)
    mode = args.foot_lock or ("never" if no_smoothing else d.foot_lock.mode)
    one_euro = replace(d.one_euro, min_cutoff_hz=args.min_cutoff, beta=args.beta,
                       translation_min_cutoff_hz=args.translation_min_cutoff)
    return replace(d, smoothing=smoothing, one_euro=one_euro, average_window=args.window, fps=args.refine_fps,
                   foot_lock=replace(d.foot_lock, mode=mode), floor=replace(d.floor, upright=args.upright),
                   extremities=replace(d.extremities, face_calibration=args.face_calibration))


def refine_argv(config: RefineConfig) -> list[str]:
    """The command-line options that give ``config`` back through :func:`refine_config_from_args` (what the
    add-on passes to ``python -m core capture``, so a capture is refined once, with the panel's options)."""
    o = config.one_euro
    argv = ["--foot-lock", config.foot_lock.mode, "--smoothing", config.smoothing,
            "--upright" if config.floor.upright else "--no-upright", "--window", str(int(config.average_window)),
            "--min-cutoff", repr(float(o.min_cutoff_hz)), "--beta", repr(float(o.beta)),
            "--translation-min-cutoff", repr(float(o.translation_min_cutoff_hz)),
            "--face-calibration", config.extremities.face_calibration]
    if config.fps:
        argv += ["--fps", repr(float(config.fps))]
    return argv
