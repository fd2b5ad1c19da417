"""The hands/face options of a capture on the command line (``--hands``/``--no-hands``, ``--face``/``--no-face``),
declared once for ``capture`` and ``batch``."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..config import CaptureConfig


def add_extremity_options(parser) -> None:
    """The two switches; default None = captured when the model file is in the models folder."""
    for part, what, file_name in (("hands", "the fingers of every person (15 joints per hand)", "hand_landmarker.task"),
                                  ("face", "every person's face: 52 ARKit blendshape weights and the head's "
                                           "rotation", "face_landmarker.task")):
        parser.add_argument(f"--{part}", action=argparse.BooleanOptionalAction, default=None,
                            help=f"capture {what} (default: when {file_name} is in the models folder; --{part} "
                                 f"makes it required, --no-{part} turns it off)")


def extremity_args(args) -> dict:
    """{"hands": bool|None, "face": bool|None} from parsed arguments (for a batch's options)."""
    return {"hands": getattr(args, "hands", None), "face": getattr(args, "face", None)}


def apply_extremity_args(config: CaptureConfig, args) -> CaptureConfig:
    """``config`` with ``--hands``/``--face`` of ``args`` (an argparse namespace or a dict) applied."""
    values = args if isinstance(args, dict) else extremity_args(args)
    return replace(config, extremities=replace(config.extremities, hands=values.get("hands"),
                                               face=values.get("face")))
