"""The speed options of a capture on the command line: ``--fast``, ``--precision``, ``--detect-every``,
``--detector-size``, ``--lanes`` (-> :class:`core.config.SpeedConfig` and ``TrackerConfig.image_size``).

``--fast`` is a preset (bf16 ResNet-50 where the machine has bfloat16, the detector on every 3rd frame at
416 px); an explicit ``--precision`` / ``--detect-every`` / ``--detector-size`` wins over it. Without any of
them a capture is exact (the released networks' float32 numbers, the detector on every frame at 640 px).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from . import values as cli_values
from ..config import (FAST_DETECT_EVERY, FAST_DETECTOR_SIZE, FAST_PRECISION, CaptureConfig, SpeedConfig,
                     TrackerConfig)
from ..runtime.device import fast_precision


def _detector_size(text: str) -> int:
    value = cli_values.count(text) if str(text).strip().isdigit() else 0
    if value < 32 or value % 32:
        raise cli_values.BadValue(f"expected a multiple of 32 (e.g. 320, 416, 640), got {text!r}")
    return value


def add_speed_options(parser: argparse.ArgumentParser) -> None:
    """The five flags, defaults None (= exact, or what --fast sets; lanes: core.runtime.lanes.default_lanes())."""
    d, dt = SpeedConfig(), TrackerConfig()
    parser.add_argument("--fast", action="store_true",
                        help=f"faster, slightly less exact: --precision {FAST_PRECISION} (if the machine has it) "
                             f"--detect-every {FAST_DETECT_EVERY} --detector-size {FAST_DETECTOR_SIZE}")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None,
                        help=f"ResNet-50 arithmetic: fp32 = exact; bf16 = CPUs with avx512_bf16/AMX and GPUs; "
                             f"fp16 = GPUs (default {d.precision})")
    parser.add_argument("--detect-every", type=cli_values.at_least_one, default=None, metavar="K",
                        help=f"run the person detector on every K-th processed frame, boxes in between "
                             f"interpolated (default {d.detect_every})")
    parser.add_argument("--detector-size", type=_detector_size, default=None, metavar="PX",
                        help=f"detector input size, longest side in pixels (default {dt.image_size})")
    parser.add_argument("--lanes", type=cli_values.at_least_one, default=None, metavar="N",
                        help="CPU: run each detector / ResNet-50 batch as N pieces at once, one share of the threads "
                             "each (same numbers; default $TCMR_LANES or 2, 1 = off)")


def apply_speed_args(config: CaptureConfig, args: argparse.Namespace) -> CaptureConfig:
    """``config`` with the speed flags in ``args`` applied (--fast first, explicit flags over it)."""
    fast = bool(getattr(args, "fast", False))
    precision = getattr(args, "precision", None)
    if precision is None:
        precision = fast_precision(config.device) if fast else config.speed.precision
    every = getattr(args, "detect_every", None) or (FAST_DETECT_EVERY if fast else config.speed.detect_every)
    size = getattr(args, "detector_size", None) or (FAST_DETECTOR_SIZE if fast else config.tracker.image_size)
    lanes = getattr(args, "lanes", None) or config.speed.lanes
    return replace(config, speed=replace(config.speed, precision=precision, detect_every=int(every), lanes=lanes),
                   tracker=replace(config.tracker, image_size=int(size)))
