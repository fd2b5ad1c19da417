"""The headless command's retarget and export steps (headless.py only calls these).

``--retarget-to RIG`` imports the character from ``.fbx``, ``.glb``/``.gltf`` or ``.blend`` and bakes the
captured motion onto it; the exports (``--fbx``/``--gltf``/``--bvh``/``--export``) then hold that rig with its
new action, with ``--fbx-preset``, ``--export-frames START:END`` and ``--export-fps F``.
"""

from __future__ import annotations

import os

RIG_EXTENSIONS = (".fbx", ".glb", ".gltf", ".blend")


def add_arguments(parser) -> None:
    g = parser.add_argument_group("retarget and export")
    g.add_argument("--retarget-to", metavar="RIG", help="bake the motion onto the character in RIG (.fbx, .glb, "
                                                        ".gltf, .blend); the exports then hold that rig")
    g.add_argument("--retarget-preset", default="AUTO", metavar="ID",
                   help="bone map of the rig: AUTO (default) or a preset id (mixamo, rigify_generated, unreal_ue5 …)")
    g.add_argument("--in-place", action="store_true", help="retarget in place (no root motion)")
    g.add_argument("--bvh", metavar="OUT.bvh", help="also export the motion as BVH")
    g.add_argument("--fbx-preset", default="unity", choices=("unity", "unreal", "maya"),
                   help="FBX conventions of the tool it is for (default unity)")
    g.add_argument("--export-frames", metavar="START:END", help="scene frames to export, inclusive")
    g.add_argument("--export-fps", type=float, metavar="F", help="export at this frame rate (resampled)")


def import_rig(context, path: str):
    """The armature in a rig file, added to the scene (with its meshes). Raises RetargetError."""
    import bpy

    from . import bake

    path = os.path.abspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in RIG_EXTENSIONS:
        raise bake.RetargetError(f"--retarget-to: cannot read '{ext}' files (use .fbx, .glb, .gltf or .blend)")
    if not os.path.isfile(path):
        raise bake.RetargetError(f"--retarget-to: no such file {path}")
    before = set(bpy.data.objects)
    try:
        if ext == ".fbx":
            bpy.ops.import_scene.fbx(filepath=path, anim_offset=0.0)
        elif ext in (".glb", ".gltf"):
            bpy.ops.import_scene.gltf(filepath=path)
        else:
            with bpy.data.libraries.load(path, link=False) as (src, dst):
                dst.objects = list(src.objects)
            for obj in dst.objects:
                if obj is not None and obj.name not in context.scene.objects:
                    context.scene.collection.objects.link(obj)
    except (RuntimeError, OSError) as err:
        raise bake.RetargetError(f"--retarget-to: cannot read {path}: {str(err).strip().splitlines()[-1]}") from None
    armatures = [o for o in bpy.data.objects if o not in before and o.type == "ARMATURE"]
    if not armatures:
        raise bake.RetargetError(f"--retarget-to: {os.path.basename(path)} holds no armature")
    return max(armatures, key=lambda o: len(o.data.bones))


def retarget_to_file(context, source, args):
    """Import ``args.retarget_to`` and bake ``source``'s action onto it; the rig becomes the active object.
    With ``--render`` the character goes where the captured person is (root motion "overlay": the source's own
    path and floor, unscaled, so the render shows it over the person); otherwise the path scaled by the leg
    ratio, or in place with ``--in-place``."""
    from . import bake

    if source is None:
        raise bake.RetargetError("--retarget-to: the scene has no captured armature to retarget")
    target = import_rig(context, args.retarget_to)
    root = "overlay" if getattr(args, "render", None) else not getattr(args, "in_place", False)
    bake.retarget(context, source, target, preset=args.retarget_preset, root_motion=root)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    target.select_set(True)
    context.view_layer.objects.active = target
    return target


def export_files(context, armature, files: dict, args) -> list:
    """Write {format: path} (paths may be None) with the command line's export options. Returns the paths."""
    from .. import export

    written = []
    for fmt, path in files.items():
        if path:
            written.append(export.export_action(context, armature, path, fmt, **export_options(args)))
    return written


def export_options(args) -> dict:
    """Keyword arguments of export.export_action from the command line."""
    opts = {"preset": (getattr(args, "fbx_preset", None) or "unity").upper()}
    frames = getattr(args, "export_frames", None)
    if frames:
        start, sep, end = frames.partition(":")
        try:
            opts["frame_start"] = int(start) if start.strip() else None
            opts["frame_end"] = int(end) if sep and end.strip() else None
        except ValueError:
            from . import bake

            raise bake.RetargetError(f"--export-frames: expected START:END scene frames, got {frames!r}") from None
    if getattr(args, "export_fps", None):
        opts["fps"] = float(args.export_fps)
    return opts
