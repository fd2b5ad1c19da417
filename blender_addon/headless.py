"""Captures (or imports) into .blend files without a UI: one clip, or a whole batch, resumably; exports and renders.

    blender -b --factory-startup --python-exit-code 2 --python blender_addon/headless.py -- \\
        VIDEO -o OUT.blend [--fbx OUT.fbx] [--gltf OUT.glb] [--render OUT.mp4] [--models DIR] [--detections FILE]
    .venv/bin/python blender_addon/headless.py VIDEO -o OUT.blend ...      (the ``bpy`` module from PyPI)
    ... --import FILE -o OUT.blend                                        (no capture: our .npz, TCMR .pkl, AMASS)
    ... INPUT... -o OUT_DIR [--export fbx,glb,bvh] [--render 'OUT_DIR/{name}.mp4'] [--workers N]   (a batch)

**One clip** (one input and ``-o`` ending in ``.blend``): the video is captured by the core (a subprocess), or
the motion file imported, and the scene is saved; ``--fbx``/``--gltf``/``--export`` write the first armature's
active action, ``--render`` renders the body over the footage (:mod:`blender_addon.render`).

**A batch** (several inputs, folders, globs, ``.txt``/``.csv`` lists as ``python -m core batch`` reads them, or
``-o`` a folder): videos are captured first by ``python -m core batch`` into ``OUT_DIR/captures`` (models
loaded once, ``--workers``, its own manifest and resume), motion files (``.npz``/``.pkl``) are imported as
they are; then each clip becomes ``OUT_DIR/<name>.blend`` (+ ``<name>.fbx``/``.glb``/``.bvh`` with ``--export``,
+ the render when ``--render`` has a ``{name}`` in its path). ``OUT_DIR/blender_manifest.jsonl`` records each
clip (input, status, outputs, seconds, error): a re-run skips the clips that are done and unchanged, retries
failed ones only with ``--retry-failed``, and one bad clip never stops the batch.

This entry script is the one place that makes the repository root importable as the package ``tcmr_mocap``
(the way Blender loads an extension); it then enables the add-on and uses its operators and modules.
Exit codes: 0 done; 2 a user error (one ``error: ...`` line on stderr); 3 a batch where some clips failed
(see the manifest); 130 interrupted.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tcmr_mocap"
MOTION_EXTENSIONS = (".npz", ".pkl")
MANIFEST_NAME = "blender_manifest.jsonl"
EXIT_SOME_FAILED = 3


def build_parser() -> argparse.ArgumentParser:
    """The options (a function, so other stages can add theirs: retarget, export presets)."""
    p = argparse.ArgumentParser(prog="headless.py", description="TCMR Mocap: videos -> .blend files without a UI.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="videos to capture, motion files to import (.npz ours/AMASS, TCMR .pkl), folders, globs, "
                        ".txt/.csv lists (as `python -m core batch` reads them)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.blend|OUT_DIR",
                   help="the .blend to write (one input), or a folder (a batch: OUT_DIR/<name>.blend per clip)")
    p.add_argument("--import", dest="import_file", metavar="FILE",
                   help="skip the capture: import this motion file (.npz ours/AMASS, TCMR .pkl)")
    p.add_argument("--fbx", metavar="OUT.fbx", help="also export the first armature's active action as FBX")
    p.add_argument("--gltf", metavar="OUT.glb", help="also export it as glTF (.glb or .gltf)")
    p.add_argument("--export", metavar="FORMATS", default="",
                   help="comma list of fbx, glb, gltf, bvh: write <name>.<format> next to each .blend")
    p.add_argument("--models", metavar="DIR", help="models directory (default: $TCMR_MOCAP_MODELS, else models/)")
    p.add_argument("--python", metavar="PY", help="Python of the core's environment (default: <repo>/.venv)")
    p.add_argument("--detections", metavar="FILE", help="person boxes from a .json/.npz file instead of YOLO "
                                                         "(one clip; in a batch give them per clip in a list)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help="where the networks run")
    p.add_argument("--track", metavar="all|ID", help="every person (default) or one track id")
    p.add_argument("--frames", metavar="START:END", help="video frames to capture, inclusive, from 0")
    p.add_argument("--target-fps", type=float, metavar="F", help="process about F frames per second")
    p.add_argument("--focal-length", type=float, metavar="PX", help="focal length in pixels")
    p.add_argument("--no-smoothing", action="store_true", help="keep the raw network output")
    p.add_argument("--fast", action="store_true",
                   help="faster, slightly less exact capture (the core's --fast: bf16 features where the machine "
                        "has them, the detector on every 3rd frame at 416 px)")
    p.add_argument("--no-mesh", action="store_true", help="armatures only, no SMPL mesh")
    r = p.add_argument_group("rendering (the body over the footage, through the matched camera)")
    r.add_argument("--render", metavar="OUT.mp4|PATTERN",
                   help="render to a video (.mp4/.mov/.mkv/.avi) or images ('#' = frame number, e.g. "
                        "frames/f_####.png); in a batch the path needs {name}, e.g. 'renders/{name}.mp4'")
    r.add_argument("--engine", default="workbench", choices=("workbench", "eevee", "cycles"),
                   help="render engine (default workbench: fast, works headless)")
    r.add_argument("--render-frames", metavar="START:END",
                   help="video frames to render, inclusive, from 0 (default: the whole capture)")
    r.add_argument("--render-scale", type=int, default=100, metavar="PCT",
                   help="resolution in percent of the video's (default 100)")
    r.add_argument("--samples", type=int, metavar="N", help="EEVEE/Cycles samples per pixel (default 16 / 32)")
    b = p.add_argument_group("batch")
    b.add_argument("--workers", type=int, default=1, metavar="N", help="capture worker processes (core batch)")
    b.add_argument("--retry-failed", action="store_true", help="try clips that failed in an earlier run again")
    b.add_argument("--force", action="store_true", help="redo every clip (captures stay cached unless they changed)")
    b.add_argument("--recursive", action="store_true", help="also search sub-folders of folder inputs")
    load_package()
    from tcmr_mocap.blender_addon.retarget import cli as retarget_cli

    retarget_cli.add_arguments(p)  # --retarget-to, --bvh, --fbx-preset, --export-frames, --export-fps
    return p


def parse_args(argv=None) -> argparse.Namespace:
    if argv is None:
        argv = sys.argv[1:]
        if "--" in sys.argv:  # blender -b --python headless.py -- ARGS
            argv = sys.argv[sys.argv.index("--") + 1:]
    p = build_parser()
    args = p.parse_args(argv)
    if args.import_file:
        if args.inputs:
            p.error("give either INPUTs or --import FILE")
        args.inputs = [args.import_file]
    if not args.inputs:
        p.error("give either a VIDEO to capture or --import FILE")
    args.batch = is_batch(args)
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
    return args


def is_batch(args) -> bool:
    """One clip: a single file input (a video or a motion file, even a missing one: it is reported) and
    ``-o X.blend``. Anything else (several inputs, a folder, a glob, a list, ``-o`` a folder) is a batch."""
    first = args.inputs[0]
    one = len(args.inputs) == 1 and not os.path.isdir(first) and not glob.has_magic(first) and \
        os.path.splitext(first)[1].lower() not in (".txt", ".lst", ".csv")
    return not (one and args.output.lower().endswith(".blend"))


def export_formats(text: str) -> list:
    known = {"fbx": "FBX", "glb": "GLTF", "gltf": "GLTF", "bvh": "BVH"}
    out = []
    for item in filter(None, (t.strip().lower() for t in (text or "").split(","))):
        if item not in known:
            raise ValueError(f"--export: unknown format '{item}' (use fbx, glb, gltf, bvh)")
        out.append(item)
    return out


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
    if args.no_smoothing:  # the network output as it is: the refine panel's options (one set for the capture)
        scene.tcmr_refine.smoothing, scene.tcmr_refine.foot_lock = "none", "never"
    s.quality = "FAST" if args.fast else "EXACT"
    s.create_mesh = not args.no_mesh


class ProgressPrinter:
    """``[tcmr] 42.0% stage: message`` lines on stdout, each distinct line once (a job reports the same state
    more than once: at its last progress event, at "done" and when it ends)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.last = None

    def __call__(self, job) -> None:
        line = f"[tcmr] {100 * job.fraction:5.1f}% {job.message}"
        if line != self.last:
            self.last = line
            self.stream.write(line + "\n")
            self.stream.flush()


# ------------------------------------------------------------------------------------------------ one clip
def build_one(bpy, args, source: str, is_video: bool, printer) -> None:
    """Capture (or import) ``source`` into the current (empty) scene. Raises MocapError with one line."""
    from tcmr_mocap.blender_addon import ops_capture, preferences, runtime, scene_builder
    from tcmr_mocap.blender_addon.capture import CaptureSession

    context = bpy.context
    if not is_video:
        options = scene_builder.BuildOptions(create_mesh=not args.no_mesh, set_scene=True,
                                             models_dir=args.models or preferences.models_dir(context))
        scene_builder.import_file(context, os.path.abspath(source), options)
        return
    apply_capture_options(context.scene, args)
    python = runtime.resolve_python(args.python) if args.python else preferences.runtime_python(context)
    options = ops_capture.capture_options(context, os.path.abspath(args.models) if args.models else "",
                                          os.path.abspath(args.detections) if args.detections else "")
    if args.device:
        options.device = args.device
    build = scene_builder.BuildOptions(create_mesh=not args.no_mesh, set_scene=True, models_dir=options.models_dir)
    session = CaptureSession(python, os.path.abspath(source), options, build).start()
    session.wait(on_update=printer)
    printer(session)
    session.finish(context)


def first_armature(bpy):
    active = bpy.context.view_layer.objects.active
    if active is not None and active.type == "ARMATURE":
        return active
    return next((o for o in bpy.context.scene.objects if o.type == "ARMATURE"), None)


def render_frames(text, scene) -> tuple | None:
    """--render-frames START:END (video frames, inclusive) -> scene frames (keys sit on video frame + 1)."""
    if not text:
        return None
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        first = int(start) + 1 if start.strip() else None
        last = int(end) + 1 if end.strip() else None
    except ValueError:
        from tcmr_mocap.core.errors import InvalidArgumentError

        raise InvalidArgumentError(f"--render-frames: expected START:END video frames, got {text!r}") from None
    return first, last


def finish_scene(bpy, args, blend: str, exports: dict, render_to: str | None, warnings: list | None = None) -> list:
    """Set up the render (kept in the .blend, for farms), save, export, render. Returns the files written.
    With ``warnings`` (a batch), a clip without a camera (an AMASS file) is saved without its render and a
    warning; otherwise that is an error."""
    from tcmr_mocap.blender_addon import render
    from tcmr_mocap.blender_addon.retarget import cli as retarget_cli

    scene = bpy.context.scene
    written = []
    if render_to and scene.camera is None and warnings is not None:
        warnings.append("not rendered: the motion file has no camera or footage")
        render_to = None
    smpl_bodies = []
    if getattr(args, "retarget_to", None):  # the character rig, with the motion baked on, is what gets exported
        source = first_armature(bpy)
        smpl_bodies = [c for c in (source.children if source else ()) if c.type == "MESH"]
        retarget_cli.retarget_to_file(bpy.context, source, args)
    if render_to:  # with a retargeted character, the character is rendered (the SMPL body is hidden)
        render.setup_overlay(scene, render_to, engine=args.engine, frames=render_frames(args.render_frames, scene),
                             scale=args.render_scale, hide=tuple(smpl_bodies), samples=args.samples)
    bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(blend), check_existing=False)
    written.append(blend)
    armature = first_armature(bpy)
    if exports:
        from tcmr_mocap.blender_addon import export

        for fmt, path in exports.items():
            export.export_action(bpy.context, armature, path, fmt=fmt, **retarget_cli.export_options(args))
            written.append(path)
    if render_to:
        if render.output_kind(render_to)[0] == "video":
            final = os.path.abspath(render_to)
            partial = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.partial"
                                   f"{os.path.splitext(final)[1]}")
            scene.render.filepath = partial  # rendered under a temporary name: never a half video under the real one
            try:
                render.render(scene)
                os.replace(partial, final)
            finally:
                scene.render.filepath = final
                if os.path.exists(partial):
                    os.remove(partial)
            written.append(final)
        else:
            written += render.render(scene)
    return written


def run_one(bpy, args) -> int:
    source = args.inputs[0]
    is_video = os.path.splitext(source)[1].lower() not in MOTION_EXTENSIONS
    wm = bpy.context.window_manager
    exports = {"FBX" if f == "fbx" else "GLTF" if f in ("glb", "gltf") else "BVH":
               os.path.splitext(args.output)[0] + "." + f for f in args.export_formats}
    from tcmr_mocap.core.errors import MocapError

    try:
        build_one(bpy, args, source, is_video, ProgressPrinter())
        written = finish_scene(bpy, args, args.output, exports, args.render)
        if args.fbx or args.gltf or args.bvh:
            from tcmr_mocap.blender_addon.retarget import cli as retarget_cli

            written += retarget_cli.export_files(bpy.context, first_armature(bpy),
                                                 {"FBX": args.fbx, "GLTF": args.gltf, "BVH": args.bvh}, args)
    except MocapError as err:
        wm.tcmr_job.last_error = str(err)
        sys.stderr.write(f"error: {' '.join(str(err).split())}\n")
        return 130 if getattr(err, "exit_code", 2) == 130 else 2
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return 0


# ------------------------------------------------------------------------------------------------ a batch
def split_inputs(items) -> tuple[list, list]:
    """(motion files to import, inputs for the core batch: videos, folders, globs, lists)."""
    motions, for_core = [], []
    for item in items:
        if os.path.isfile(item) and os.path.splitext(item)[1].lower() in MOTION_EXTENSIONS:
            motions.append(os.path.abspath(item))
        elif glob.has_magic(item) and not os.path.exists(item):
            matches = sorted(glob.glob(item, recursive=True))
            motions += [os.path.abspath(m) for m in matches if os.path.splitext(m)[1].lower() in MOTION_EXTENSIONS]
            if any(os.path.splitext(m)[1].lower() not in MOTION_EXTENSIONS for m in matches) or not matches:
                for_core.append(item)
        else:
            for_core.append(item)
    return motions, for_core


def _fingerprint(path: str) -> dict:
    try:
        st = os.stat(path)
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError:
        return {}


class BatchManifest:
    def __init__(self, path: str):
        self.path = path
        self.latest = {}
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and rec.get("key"):
                        self.latest[rec["key"]] = rec

    def append(self, record: dict) -> None:
        record.setdefault("finished_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.latest[record["key"]] = record


def _stage_options(args) -> str:
    """What decides the Blender stage's outputs (changing it redoes the clip)."""
    keys = ("export", "render", "engine", "render_frames", "render_scale", "samples", "no_mesh", "retarget_to")
    text = json.dumps({k: getattr(args, k, None) for k in sorted(keys)}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def core_batch(args, for_core: list, captures: str, printer) -> tuple[dict, list]:
    """Capture the videos with ``python -m core batch`` (resumable on its own). Returns ({clip key: record of its
    manifest}, clips) -- the clips as the core names them (same inputs, same rules)."""
    from tcmr_mocap.blender_addon import preferences, runtime
    from tcmr_mocap.blender_addon.job import SubprocessJob
    from tcmr_mocap.core.batch.inputs import collect_clips
    from tcmr_mocap.core.errors import DependencyMissingError, MocapError

    import bpy

    clips = collect_clips(for_core, recursive=args.recursive, skip_dirs=[captures]).clips
    if not clips:
        return {}, []
    python = runtime.resolve_python(args.python) if args.python else preferences.runtime_python(bpy.context)
    if python is None or not Path(python).is_file():
        raise DependencyMissingError("the core's Python environment is missing (run install_deps.py, or give "
                                     "--python PY)")
    argv = [str(python), "-m", "core", "batch", *for_core, "-o", captures, "--progress-json",
            "--workers", str(args.workers)]
    models = args.models or preferences.models_dir(bpy.context)
    if models:
        argv += ["--models", os.path.abspath(models)]
    for flag, value in (("--device", args.device), ("--track", args.track), ("--frames", args.frames),
                        ("--target-fps", args.target_fps), ("--focal-length", args.focal_length)):
        if value is not None:
            argv += [flag, str(value)]
    if args.no_smoothing:
        argv.append("--no-smoothing")
    if args.fast:
        argv.append("--fast")
    if args.retry_failed:
        argv.append("--retry-failed")
    if args.recursive:
        argv.append("--recursive")
    job = SubprocessJob(argv, cwd=runtime.EXTENSION_ROOT, env=runtime.clean_env(runtime.EXTENSION_ROOT),
                        progress_stream="stderr").start()
    try:  # its end state is reported below, per clip: print progress only while it runs
        job.wait(on_update=lambda j: printer(j) if j.state == "running" else None)
    except KeyboardInterrupt:
        job.cancel()
        from tcmr_mocap.core.errors import CancelledError

        raise CancelledError("interrupted: finished clips are kept; run the same command again to go on") from None
    if job.returncode not in (0, EXIT_SOME_FAILED):
        raise MocapError(job.error or f"the core batch stopped (exit code {job.returncode})")
    from tcmr_mocap.core.batch.manifest import MANIFEST_NAME as CORE_MANIFEST, Manifest

    return Manifest(os.path.join(captures, CORE_MANIFEST)).latest, clips


def run_batch(bpy, args) -> int:
    from tcmr_mocap.core.errors import MocapError

    out_dir = os.path.abspath(args.output)
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, f".tcmr_write_test_{os.getpid()}")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as exc:
        sys.stderr.write(f"error: cannot write to the output folder {out_dir}: {exc.strerror or exc} "
                         "(choose a writable -o folder)\n")
        return 2
    printer = ProgressPrinter()
    motions, for_core = split_inputs(args.inputs)
    try:
        captured, clips = core_batch(args, for_core, os.path.join(out_dir, "captures"), printer) if for_core \
            else ({}, [])
    except MocapError as err:
        sys.stderr.write(f"error: {' '.join(str(err).split())}\n")
        return 130 if getattr(err, "exit_code", 2) == 130 else 2
    items = []  # (key, input shown, result file or None, capture error or None, name)
    for clip in clips:
        rec = captured.get(clip.key)
        name = os.path.splitext(clip.output_name)[0]
        if rec is None:
            items.append((clip.key, clip.video, None, "not captured (interrupted?)", name))
        elif rec.get("status") != "done":
            items.append((clip.key, clip.video, None, f"capture failed: {rec.get('error')}", name))
        else:
            items.append((clip.key, clip.video, rec["output"], None, name))
    for path in motions:
        key = hashlib.sha1(path.encode()).hexdigest()[:8]
        items.append((key, path, path, None, f"{os.path.splitext(os.path.basename(path))[0]}-{key}"))
    names = [n for *_, n in items]
    if len(set(names)) != len(names):
        sys.stderr.write("error: two clips would write the same .blend name (rename one)\n")
        return 2
    manifest = BatchManifest(os.path.join(out_dir, MANIFEST_NAME))
    stage = _stage_options(args)
    done = failed = skipped = 0
    for k, (key, shown, result_file, error, name) in enumerate(items, 1):
        blend = os.path.join(out_dir, name + ".blend")
        exports = {("FBX" if f == "fbx" else "GLTF" if f in ("glb", "gltf") else "BVH"): os.path.join(out_dir, f"{name}.{f}")
                   for f in args.export_formats}
        render_to = args.render.replace("{name}", name) if args.render else None
        fp = _fingerprint(result_file) if result_file else {}
        prev = manifest.latest.get(key)
        outputs = [blend, *exports.values()] + ([render_to] if render_to and "#" not in render_to else [])
        same = prev is not None and prev.get("stage") == stage and prev.get("source", {}) == fp and not args.force
        if same and prev.get("status") == "done" and all(os.path.exists(p) for p in outputs
                                                          if p == blend or p in prev.get("outputs", [])):
            skipped += 1
            continue
        if same and prev.get("status") == "failed" and not args.retry_failed:
            failed += 1
            continue
        t0 = time.perf_counter()
        record = {"key": key, "input": shown, "motion": result_file, "name": name, "stage": stage, "source": fp}
        if error:
            record.update(status="failed", error=error, outputs=[], seconds=0.0)
        else:
            bpy.ops.wm.read_factory_settings(use_empty=True)
            enable_addon(bpy)
            try:
                build_one(bpy, args, result_file, False, printer)
                warnings = []
                written = finish_scene(bpy, args, blend, exports, render_to, warnings)
                record.update(status="done", error=None, outputs=written)
                if warnings:
                    record["warnings"] = warnings
            except MocapError as err:
                record.update(status="failed", error=" ".join(str(err).split()), outputs=[])
            except KeyboardInterrupt:
                sys.stderr.write("error: interrupted: finished clips are kept; run the same command again to go on\n")
                return 130
            record["seconds"] = round(time.perf_counter() - t0, 3)
        manifest.append(record)
        if record["status"] == "done":
            done += 1
            sys.stdout.write(f"[{k}/{len(items)}] wrote {blend}\n")
        else:
            failed += 1
            sys.stdout.write(f"[{k}/{len(items)}] failed {shown}: {record['error']}\n")
        sys.stdout.flush()
    sys.stdout.write(f"blender batch: {done} done, {skipped} already done, {failed} failed; manifest "
                     f"{manifest.path}\n")
    if failed:
        sys.stderr.write(f"error: {failed} of {len(items)} clip(s) failed (see {manifest.path}; --retry-failed "
                         "tries them again)\n")
        return EXIT_SOME_FAILED
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon(bpy)
    if args.batch:
        return run_batch(bpy, args)
    return run_one(bpy, args)


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
