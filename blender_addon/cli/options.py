"""The headless command's options: its own (inputs, outputs, exports, rendering, retarget, batch) and the capture
options as the core declares them (``core/cli/options.py``: passed on to the core as the user typed them)."""

from __future__ import annotations

import argparse
import glob
import os
import sys

from ...core.cli import values as cli_values
from ...core.cli.options import add_capture_options, capture_tokens
from ..export.exporter import FBX_PRESETS
from ..render.overlay import ENGINES

MOTION_EXTENSIONS = (".npz", ".pkl")
LIST_EXTENSIONS = (".txt", ".lst", ".csv")
EXPORT_FORMATS = {"fbx": "FBX", "glb": "GLTF", "gltf": "GLTF", "bvh": "BVH",  # --export name -> exporter
                  "csv": "CSV"}  # (csv: the captured face, ARKit weights in Live Link Face's layout)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes as one ``error:`` line (exit 2), like every other user error."""

    def error(self, message):
        sys.stderr.write(f"error: {message} (see `{self.prog} --help`)\n")
        sys.exit(2)


def _percent(text: str) -> int:
    value = cli_values.at_least_one(text)
    if value > 1000:
        raise cli_values.BadValue(f"expected a percentage from 1 to 1000, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="headless.py", allow_abbrev=False,  # (capture options are passed on word for word)
                description="TCMR Mocap: videos -> .blend files without a UI (one clip, or a resumable batch).")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="videos to capture, motion files to import (.npz ours/AMASS, TCMR .pkl), folders, globs, "
                        ".txt/.csv lists (as `python -m core batch` reads them)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.blend|OUT_DIR",
                   help="the .blend to write (one input), or a folder (a batch: OUT_DIR/<name>.blend per clip)")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="skip the capture: import this motion file (.npz ours/AMASS, TCMR .pkl)")
    p.add_argument("--fbx", metavar="OUT.fbx", help="also export the main armature's action as FBX")
    p.add_argument("--gltf", metavar="OUT.glb", help="also export it as glTF (.glb or .gltf)")
    p.add_argument("--export", metavar="FORMATS", default="",
                   help="comma list of fbx, glb, gltf, bvh, csv: write <name>.<format> next to each .blend, each "
                        "format its own file (csv: the captured face's 52 ARKit weights per frame, Live Link "
                        "Face's layout)")
    p.add_argument("--python", metavar="PY", help="Python of the core's environment (default: <repo>/.venv)")
    p.add_argument("--no-mesh", action="store_true", help="armatures only, no SMPL mesh")
    add_capture_options(p, title="capture (as `python -m core capture`; --track ID also picks the armature to "
                                 "export, else the longest track)")
    r = p.add_argument_group("rendering (the body over the footage, through the matched camera)")
    r.add_argument("--render", metavar="OUT.mp4|PATTERN",
                   help="render to a video (.mp4/.mov/.mkv/.avi) or images ('#' = the video frame number, e.g. "
                        "frames/f_####.png); in a batch the path needs {name}, e.g. 'renders/{name}.mp4'")
    r.add_argument("--engine", default="workbench", choices=tuple(k.lower() for k in ENGINES),
                   help="render engine (default workbench: fast, works headless)")
    r.add_argument("--render-frames", type=cli_values.frame_range, metavar="START:END",
                   help="video frames to render, inclusive, from 0 (default: the whole capture)")
    r.add_argument("--render-scale", type=_percent, default=100, metavar="PCT",
                   help="resolution in percent of the video's (default 100; any value: videos get an even size)")
    r.add_argument("--samples", type=cli_values.at_least_one, metavar="N",
                   help="EEVEE/Cycles samples per pixel (default 16 / 32)")
    b = p.add_argument_group("batch")
    b.add_argument("--workers", type=cli_values.at_least_one, default=1, metavar="N",
                   help="capture worker processes (core batch)")
    b.add_argument("--retry-failed", action="store_true", help="try clips that failed in an earlier run again")
    b.add_argument("--force", action="store_true", help="redo every clip (captures stay cached unless they changed)")
    b.add_argument("--recursive", action="store_true", help="also search sub-folders of folder inputs")
    g = p.add_argument_group("retarget and export")
    g.add_argument("--retarget-to", metavar="RIG", help="bake the motion onto the character in RIG (.fbx, .glb, "
                                                        ".gltf, .blend); the exports then hold that rig")
    g.add_argument("--retarget-preset", default="AUTO", metavar="ID",
                   help="bone map of the rig: AUTO (default) or a preset id (mixamo, rigify_generated, unreal_ue5 …)")
    g.add_argument("--in-place", action="store_true", help="retarget in place (no root motion)")
    g.add_argument("--bvh", metavar="OUT.bvh", help="also export the motion as BVH")
    g.add_argument("--fbx-preset", default="unity", choices=tuple(k.lower() for k in FBX_PRESETS),
                   help="FBX conventions of the tool it is for (default unity)")
    g.add_argument("--export-frames", type=cli_values.scene_frames_text, metavar="START:END",
                   help="scene frames to export, inclusive")
    g.add_argument("--export-fps", type=float, metavar="F", help="export at this frame rate (resampled)")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``blender -b --python headless.py -- ARGS`` or ``python headless.py ARGS``)."""
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    p = build_parser()
    args = p.parse_args(argv)
    if args.import_file:
        if args.inputs:
            p.error("give either INPUTs or --import FILE")
        args.inputs = [args.import_file]
    if not args.inputs:
        p.error("give either a VIDEO to capture or --import FILE")
    args.batch = is_batch(args.inputs, args.output)
    if args.batch and (args.fbx or args.gltf or args.bvh):
        p.error("--fbx/--gltf/--bvh name one file: in a batch use --export fbx,glb,bvh")
    if args.batch and args.detections:
        p.error("--detections is for one clip: in a batch give boxes per clip in a .txt/.csv list")
    if args.batch and args.render and "{name}" not in args.render:
        p.error("in a batch the --render path needs {name}, e.g. 'renders/{name}.mp4'")
    try:
        args.export_formats = export_formats(args.export)
    except ValueError as exc:
        p.error(str(exc))
    args.capture_argv = capture_tokens(argv, detections=True)  # passed on to `python -m core capture|batch`
    return args


def is_batch(inputs: list, output: str) -> bool:
    """One clip: a single file input (a video or a motion file, even a missing one: it is reported) and
    ``-o X.blend``. Anything else (several inputs, a folder, a glob, a list, ``-o`` a folder) is a batch."""
    first = inputs[0]
    one = len(inputs) == 1 and not os.path.isdir(first) and not glob.has_magic(first) and \
        os.path.splitext(first)[1].lower() not in LIST_EXTENSIONS
    return not (one and output.lower().endswith(".blend"))


def is_motion_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MOTION_EXTENSIONS


def export_formats(text: str) -> list:
    """``fbx,glb`` -> ["fbx", "glb"] (each once, in order); ValueError for an unknown name."""
    out = []
    for item in filter(None, (t.strip().lower() for t in (text or "").split(","))):
        if item not in EXPORT_FORMATS:
            raise ValueError(f"--export: unknown format '{item}' (use fbx, glb, gltf, bvh, csv)")
        if item not in out:
            out.append(item)
    return out


def export_files(stem: str, formats: list) -> dict:
    """{path: exporter} of ``--export`` for the files ``<stem>.<format>``: every format its own file."""
    return {f"{stem}.{f}": EXPORT_FORMATS[f] for f in formats}


STAGE_OPTIONS = ("export", "render", "engine", "render_frames", "render_scale", "samples", "no_mesh", "track",
                 "retarget_to", "retarget_preset", "in_place", "fbx_preset", "export_frames", "export_fps")


def stage_settings(args) -> dict:
    """What decides a clip's Blender outputs (a change redoes the clip in a batch)."""
    return {k: getattr(args, k, None) for k in STAGE_OPTIONS}
