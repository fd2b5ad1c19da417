"""The command lines the add-on runs (the core's capture and SMPL export, install_deps.py) and the JSON progress
lines they print back. No bpy here: the operators pass in what the panel and the preferences say.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .environment import INSTALL_SCRIPT


@dataclass
class CaptureOptions:
    """The capture options of the panel/CLI. ``None`` means the core's default."""

    models_dir: str = ""
    device: str = "auto"
    track: str = "all"
    refine: Optional[object] = None  # a core.config.RefineConfig (the refine panel's); None: the core's defaults
    frame_start: Optional[int] = None
    frame_end: Optional[int] = None
    target_fps: Optional[float] = None
    focal_length_px: Optional[float] = None
    detections: str = ""
    fast: bool = False  # the core's --fast preset (README "Speed")
    hands: Optional[bool] = None  # --hands / --no-hands (None: when the model file is there)
    face: Optional[bool] = None  # --face / --no-face
    extra: tuple = ()  # more core options, last (they win): the headless command passes the user's own on


def capture_command(python: Path, video: str, output: str, options: CaptureOptions) -> list[str]:
    """``<python> -m core capture VIDEO -o OUT --progress-json ...`` (run with cwd = EXTENSION_ROOT)."""
    cmd = [str(python), "-m", "core", "capture", str(video), "-o", str(output), "--progress-json",
           "--device", options.device, "--track", str(options.track)]
    if options.models_dir:
        cmd += ["--models", str(options.models_dir)]
    if options.refine is not None:
        from ...core.cli.refine_options import refine_argv

        cmd += refine_argv(options.refine)
    if options.frame_start is not None or options.frame_end is not None:
        start = "" if options.frame_start is None else str(int(options.frame_start))
        end = "" if options.frame_end is None else str(int(options.frame_end))
        cmd += ["--frames", f"{start}:{end}"]
    if options.target_fps:
        cmd += ["--target-fps", f"{options.target_fps:g}"]
    if options.focal_length_px:
        cmd += ["--focal-length", f"{options.focal_length_px:g}"]
    if options.detections:
        cmd += ["--detections", str(options.detections)]
    if options.fast:
        cmd.append("--fast")
    for part in ("hands", "face"):
        wanted = getattr(options, part)
        if wanted is not None:
            cmd.append(f"--{part}" if wanted else f"--no-{part}")
    return cmd + [str(a) for a in options.extra]


def install_command(env_dir: Optional[Path], models_dir: str, download_models: bool, online: bool) -> list[str]:
    """``install_deps.py --json`` with the Python running us (Blender's own, so the versions match)."""
    cmd = [sys.executable, str(INSTALL_SCRIPT), "--json"]
    if env_dir is not None:
        cmd += ["--env", str(env_dir)]
    if models_dir:
        cmd += ["--models-dir", str(models_dir)]
    if download_models and online:
        cmd.append("--models")
    if not online:
        cmd.append("--offline")
    return cmd


def export_smpl_command(python: Path, models_dir: str, output: Path) -> list[str]:
    cmd = [str(python), "-m", "core", "export-smpl", "-o", str(output)]
    if models_dir:
        cmd[4:4] = ["--models", str(models_dir)]
    return cmd


# ------------------------------------------------------------------------------------------- progress lines
def parse_event(line: str) -> Optional[dict]:
    """One JSON progress line of the core (``{"type": ...}``) or install_deps.py (``{"stage": ...}``) as
    ``{"type": progress|done|error|warning, "stage", "fraction" (float or None), "message", "output"}``;
    None for anything else (plain text, partial lines)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    stage = str(obj.get("stage", "") or "")
    if kind is None:
        if "stage" not in obj:
            return None
        kind = stage if stage in ("error", "warning") else "progress"
    fraction = obj.get("fraction")
    try:
        fraction = None if fraction is None else min(1.0, max(0.0, float(fraction)))
    except (TypeError, ValueError):
        fraction = None
    return {
        "type": str(kind),
        "stage": stage,
        "fraction": fraction,
        "message": str(obj.get("message", "") or ""),
        "output": obj.get("output"),
    }
