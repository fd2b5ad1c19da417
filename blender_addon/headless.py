"""Capture (or import) a motion into a .blend without a UI, optionally exporting FBX/glTF of the active action.

    blender -b --factory-startup --python-exit-code 2 --python blender_addon/headless.py -- \\
        VIDEO -o OUT.blend [--fbx OUT.fbx] [--gltf OUT.glb] [--models DIR] [--detections FILE] ...
    .venv/bin/python blender_addon/headless.py VIDEO -o OUT.blend ...      (the ``bpy`` module from PyPI)
    ... --import FILE -o OUT.blend                                        (no capture: our .npz, TCMR .pkl, AMASS)

This entry script is the one place that makes the repository root importable as the package ``tcmr_mocap``
(the way Blender loads an extension); it then enables the add-on and calls ``bpy.ops.tcmr.capture`` or
``bpy.ops.tcmr.import_motion``. Exit codes: 0 done, 2 a user error (one ``error: ...`` line on stderr).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tcmr_mocap"


def parse_args(argv=None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[1:]
        if "--" in sys.argv:  # blender -b --python headless.py -- ARGS
            argv = sys.argv[sys.argv.index("--") + 1:]
    p = argparse.ArgumentParser(prog="headless.py", description="TCMR Mocap: video -> .blend without a UI.")
    p.add_argument("video", nargs="?", help="the video to capture (not with --import)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.blend", help="the .blend file to write")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="skip the capture: import this motion file (.npz ours/AMASS, TCMR .pkl)")
    p.add_argument("--fbx", metavar="OUT.fbx", help="also export the first armature's active action as FBX")
    p.add_argument("--gltf", metavar="OUT.glb", help="also export it as glTF (.glb or .gltf)")
    p.add_argument("--models", metavar="DIR", help="models directory (default: $TCMR_MOCAP_MODELS, else models/)")
    p.add_argument("--python", metavar="PY", help="Python of the core's environment (default: <repo>/.venv)")
    p.add_argument("--detections", metavar="FILE", help="person boxes from a .json/.npz file instead of YOLO")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="where the networks run")
    p.add_argument("--track", metavar="all|ID", help="every person (default) or one track id")
    p.add_argument("--frames", metavar="START:END", help="video frames to capture, inclusive, from 0")
    p.add_argument("--target-fps", type=float, metavar="F", help="process about F frames per second")
    p.add_argument("--focal-length", type=float, metavar="PX", help="focal length in pixels")
    p.add_argument("--no-smoothing", action="store_true", help="keep the raw network output")
    p.add_argument("--no-mesh", action="store_true", help="armatures only, no SMPL mesh")
    args = p.parse_args(argv)
    if bool(args.video) == bool(args.import_file):
        p.error("give either a VIDEO to capture or --import FILE")
    return args


def load_package():
    """Import the repository root as ``tcmr_mocap`` (a package with the root as its search location)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(PACKAGE, REPO_ROOT / "__init__.py",
                                                  submodule_search_locations=[str(REPO_ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    module.__time__ = os.path.getmtime(module.__file__)  # addon_utils reloads a module without it (and fails)
    return module


def enable_addon(bpy):
    """Enable through the add-on system (so the preferences exist); fall back to a plain register()."""
    package = load_package()
    import addon_utils

    try:
        if addon_utils.enable(PACKAGE, default_set=True, handle_error=lambda exc: None) is not None:
            return
    except Exception:  # the add-on system may refuse a module outside its paths
        pass
    package.register()


def apply_capture_options(scene, args) -> None:
    s = scene.tcmr
    if args.track and args.track != "all":
        s.person, s.track_id = "ONE", int(args.track)
    if args.frames:
        start, _, end = args.frames.partition(":")
        s.use_frame_range = True
        s.frame_start = int(start or 0)
        s.frame_end = int(end) if end else 10**9
    if args.target_fps:
        s.use_target_fps, s.target_fps = True, args.target_fps
    if args.focal_length:
        s.use_focal_length, s.focal_length_px = True, args.focal_length
    s.smoothing = not args.no_smoothing
    s.create_mesh = not args.no_mesh


def export_active(bpy, armature, fbx: str | None, gltf: str | None) -> None:
    """Export the armature (and its mesh) with its active action only."""
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    armature.select_set(True)
    for child in armature.children:
        child.select_set(True)
    bpy.context.view_layer.objects.active = armature
    if fbx:
        bpy.ops.export_scene.fbx(filepath=os.path.abspath(fbx), use_selection=True,
                                 object_types={"ARMATURE", "MESH"}, add_leaf_bones=False, bake_anim=True,
                                 bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False)
    if gltf:
        bpy.ops.export_scene.gltf(filepath=os.path.abspath(gltf), use_selection=True,
                                  export_format="GLTF_SEPARATE" if gltf.endswith(".gltf") else "GLB",
                                  export_animations=True, export_animation_mode="ACTIVE_ACTIONS")


def main(argv=None) -> int:
    args = parse_args(argv)
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon(bpy)
    scene = bpy.context.scene
    wm = bpy.context.window_manager
    try:
        if args.import_file:
            result = bpy.ops.tcmr.import_motion(filepath=os.path.abspath(args.import_file),
                                                create_mesh=not args.no_mesh, models_dir=args.models or "")
        else:
            apply_capture_options(scene, args)
            result = bpy.ops.tcmr.capture(filepath=os.path.abspath(args.video), models_dir=args.models or "",
                                          python_path=args.python or "", detections=args.detections or "",
                                          device=args.device or "")
    except RuntimeError:  # bpy.ops raises on an error report: ours carry one line in last_error
        if not wm.tcmr_job.last_error:
            raise
        result = {"CANCELLED"}
    if "FINISHED" not in result:
        sys.stderr.write(f"error: {wm.tcmr_job.last_error or 'cancelled'}\n")
        return 2
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.output), check_existing=False)
    sys.stdout.write(f"wrote {args.output}\n")
    if args.fbx or args.gltf:
        armature = bpy.context.view_layer.objects.active
        export_active(bpy, armature, args.fbx, args.gltf)
        for path in (args.fbx, args.gltf):
            if path:
                sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
