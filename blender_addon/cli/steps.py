"""The Blender steps of the headless command for one clip: the scene (a capture through the core, or an imported
motion file), then retarget (``--retarget-to RIG``: the character imported from .fbx, .glb/.gltf or .blend, the
motion baked onto it), save, export and render (:func:`finish`).

Every step raises MocapError with one line when it cannot be done; :func:`finish` then removes the files it had
written for the clip, so a failed clip leaves nothing half-done behind.
"""

from __future__ import annotations

import os
from typing import Optional

import bpy

from ...core.cli.values import scene_frames
from ...core.errors import MocapError
from ..capture.session import CaptureSession
from ..export import exporter
from ..render import overlay
from ..retarget.bake import RetargetError, retarget
from ..runtime import commands, environment, preferences
from ..scene import builder

RIG_EXTENSIONS = (".fbx", ".glb", ".gltf", ".blend")


def build_options(args, blend: str, printer) -> builder.BuildOptions:
    """Scene options of the command line; footage frames (where Blender misreads the movie) beside the .blend."""
    return builder.BuildOptions(
        create_mesh=not args.no_mesh, set_scene=True,
        models_dir=os.path.abspath(args.models) if args.models else preferences.models_dir(bpy.context),
        smpl_path=os.path.abspath(args.smpl) if args.smpl else "",
        footage_dir=os.path.join(os.path.dirname(os.path.abspath(blend)), "footage"),
        python=str(core_python(args) or ""), on_progress=printer)


def core_python(args):
    """The core's Python: ``--python``, else the add-on's runtime environment (None when there is none)."""
    return environment.resolve_python(args.python) if args.python else preferences.runtime_python(bpy.context)


def capture(args, video: str, build: builder.BuildOptions, printer) -> builder.BuildResult:
    """Capture ``video`` with the core (its options as the user gave them) and build the result into the scene."""
    options = commands.CaptureOptions(models_dir=build.models_dir, device=preferences.device(bpy.context),
                                      extra=tuple(args.capture_argv))
    session = CaptureSession(core_python(args), os.path.abspath(video), options, build).start()
    session.wait(on_update=printer)
    printer(session)
    result = session.finish(bpy.context)
    result.warnings[:0] = list(session.job.warnings)  # what the capture itself warned about (e.g. no floor)
    return result


def import_motion(path: str, build: builder.BuildOptions) -> builder.BuildResult:
    return builder.import_file(bpy.context, os.path.abspath(path), build)


def export_armature(result: builder.BuildResult, track: Optional[str]):
    """The armature exports take: ``--track ID``'s, else the longest track's."""
    if track and str(track).strip().lower() != "all":
        wanted = str(track).strip()
        for obj in result.armatures:
            if str(obj.get(builder.TRACK_KEY)) == wanted:
                return obj
        ids = ", ".join(str(o.get(builder.TRACK_KEY)) for o in result.armatures)
        raise MocapError(f"--track {wanted}: there is no such track (tracks: {ids})")
    return result.longest


def finish(args, result: builder.BuildResult, blend: str, exports: dict, render_to: Optional[str],
           warnings: list, on_frame=None) -> list:
    """Retarget (``--retarget-to``), set up the render (kept in the .blend, for farms), save, export, render.
    ``exports``: {path: "FBX" | "GLTF" | "BVH" | "CSV"}. Returns the files written. A clip without a camera (an AMASS
    file) is saved without its render and a warning."""
    scene, context = bpy.context.scene, bpy.context
    written: list = []
    try:
        if render_to and scene.camera is None:
            warnings.append("not rendered: the motion file has no camera or footage")
            render_to = None
        armature = export_armature(result, getattr(args, "track", None))
        smpl_bodies = []
        if getattr(args, "retarget_to", None):  # the character rig, with the motion baked on, is what gets exported
            smpl_bodies = [c for c in armature.children if c.type == "MESH"]
            armature = retarget_to_file(context, armature, args)  # (args.render: overlay placement)
        if render_to:  # with a retargeted character, the character is rendered (the SMPL body is hidden)
            frames = None
            if args.render_frames:
                first, last = args.render_frames
                frames = (first + 1, None if last is None else last + 1)  # keys sit on video frame + 1
            info = overlay.setup_overlay(scene, render_to, engine=args.engine, frames=frames,
                                         scale=args.render_scale, hide=tuple(smpl_bodies), samples=args.samples)
            if not info["footage"]:
                why = "" if result.video_path else ": the motion file names no video"  # else the build said why
                warnings.append(f"rendered without footage{why} (the body over a transparent background)")
        for path, fmt in exports.items():
            written.append(exporter.export_action(context, armature, path, fmt=fmt, **export_options(args)))
        if render_to:
            written += _render(scene, render_to, on_frame)
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(blend), check_existing=False)
        written.append(os.path.abspath(blend))
    except BaseException:
        for path in written:  # nothing half-done: the clip's files go with it
            _remove(path)
        raise
    return written


def import_rig(context, path: str):
    """The armature in a rig file, added to the scene (with its meshes). Raises RetargetError."""
    path = os.path.abspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in RIG_EXTENSIONS:
        raise RetargetError(f"--retarget-to: cannot read '{ext}' files (use .fbx, .glb, .gltf or .blend)")
    if not os.path.isfile(path):
        raise RetargetError(f"--retarget-to: no such file {path}")
    before = set(bpy.data.objects)
    try:
        if ext == ".fbx":
            bpy.ops.import_scene.fbx(filepath=path, anim_offset=0.0)
        elif ext in (".glb", ".gltf"):  # (no bone display shape: it would be a stray Icosphere in the scene)
            bpy.ops.import_scene.gltf(filepath=path, disable_bone_shape=True)
        else:
            with bpy.data.libraries.load(path, link=False) as (src, dst):
                dst.objects = list(src.objects)
            for obj in dst.objects:
                if obj is not None and obj.name not in context.scene.objects:
                    context.scene.collection.objects.link(obj)
    except (RuntimeError, OSError) as err:
        raise RetargetError(f"--retarget-to: cannot read {path}: {str(err).strip().splitlines()[-1]}") from None
    armatures = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    if not armatures:
        raise RetargetError(f"--retarget-to: {os.path.basename(path)} holds no armature")
    return max(armatures, key=lambda o: len(o.data.bones))


def retarget_to_file(context, source, args):
    """Import ``args.retarget_to`` and bake ``source``'s action onto it; the rig becomes the active object.
    With ``--render`` the character goes where the captured person is (root motion "overlay": the source's own
    path and floor, unscaled, so the render shows it over the person); otherwise the path scaled by the leg
    ratio, or in place with ``--in-place``."""
    if source is None:
        raise RetargetError("--retarget-to: the scene has no captured armature to retarget")
    target = import_rig(context, args.retarget_to)
    root = "overlay" if getattr(args, "render", None) else not getattr(args, "in_place", False)
    retarget(context, source, target, preset=args.retarget_preset, root_motion=root)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    target.select_set(True)
    context.view_layer.objects.active = target
    return target


def export_options(args) -> dict:
    """Keyword arguments of exporter.export_action from the command line (``--export-frames`` was checked when it
    was parsed)."""
    opts = {"preset": (getattr(args, "fbx_preset", None) or "unity").upper()}
    if getattr(args, "export_frames", None):
        opts["frame_start"], opts["frame_end"] = scene_frames(args.export_frames)
    if getattr(args, "export_fps", None):
        opts["fps"] = float(args.export_fps)
    return opts


def _render(scene, render_to: str, on_frame) -> list:
    if overlay.output_kind(render_to)[0] != "video":
        return overlay.render(scene, on_frame)
    final = os.path.abspath(render_to)
    partial = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.partial{os.path.splitext(final)[1]}")
    scene.render.filepath = partial  # rendered under a temporary name: never a half video under the real one
    try:
        overlay.render(scene, on_frame)
        os.replace(partial, final)
    finally:
        scene.render.filepath = final
        _remove(partial)
    return [final]


def _remove(path: str) -> None:
    try:
        if os.path.isfile(path):
            os.remove(path)
    except OSError:
        pass
