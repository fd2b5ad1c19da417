"""The headless command's main: one clip (``VIDEO|--import FILE -o OUT.blend``) or a batch (``cli/batch.py``).

Exit codes: 0 done; 2 a user error (one ``error: ...`` line on stderr); 3 a batch where some clips failed (see
its manifest); 130 interrupted.
"""

from __future__ import annotations

import os
import sys

import bpy

from ...core.batch.runner import EXIT_INTERRUPTED
from ...core.errors import MocapError, one_line
from ...core.outputs import check_output_file
from ..runtime.job import ProgressPrinter
from . import batch, steps
from .options import export_files, is_motion_file, parse_args

PACKAGE = __name__.split(".")[0]  # the add-on's package (``tcmr_mocap`` from headless.py)


def fresh_scene() -> None:
    """An empty scene with the add-on enabled; re-saving a .blend leaves no ``.blend1`` beside it."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon()
    bpy.context.preferences.filepaths.save_version = 0


def enable_addon() -> None:
    """Through the add-on system (so the preferences exist); a plain register() where it refuses the module."""
    import addon_utils
    import importlib

    try:
        if addon_utils.enable(PACKAGE, default_set=True, handle_error=lambda exc: None) is not None:
            return
    except Exception:  # the add-on system may refuse a module outside its paths
        pass
    importlib.import_module(PACKAGE).register()


def run_one(args, printer) -> int:
    source = args.inputs[0]
    blend = os.path.abspath(args.output)
    exports = export_files(os.path.splitext(blend)[0], args.export_formats)
    named = ((args.fbx, "FBX"), (args.gltf, "GLTF"), (args.bvh, "BVH"))
    exports.update({os.path.abspath(path): fmt for path, fmt in named if path})
    check_output_file(blend, example="clip.blend")  # before any work: a capture may take minutes
    for path in exports:
        check_output_file(path, example=os.path.basename(path), in_place=True)
    build = steps.build_options(args, blend, printer)
    result = steps.import_motion(source, build) if is_motion_file(source) else steps.capture(args, source, build,
                                                                                            printer)
    warnings = list(result.warnings)
    written = steps.finish(args, result, blend, exports, args.render, warnings,
                           on_frame=lambda done, total: printer.line(f"[render] frame {done}/{total}"))
    for warning in dict.fromkeys(warnings):
        sys.stderr.write(f"warning: {warning}\n")
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    printer = ProgressPrinter()
    try:
        fresh_scene()
        if args.batch:
            return batch.run_batch(args, printer, fresh_scene)
        return run_one(args, printer)
    except MocapError as err:
        bpy.context.window_manager.tcmr_job.last_error = str(err)
        sys.stderr.write(f"error: {one_line(err)}\n")
        return EXIT_INTERRUPTED if getattr(err, "exit_code", 2) == EXIT_INTERRUPTED else 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; no output was written\n")
        return EXIT_INTERRUPTED
