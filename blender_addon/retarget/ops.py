"""Operators: ``tcmr.retarget`` (bake a motion onto a rig), ``tcmr.retarget_detect`` (fill the panel's bone
map), ``tcmr.retarget_save_preset`` (the panel's map as a preset file), ``tcmr.face_to_meshes`` (a captured face
onto any meshes' shape keys)."""

from __future__ import annotations

import json
import os

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy.types import Operator

from ...core.errors import MocapError
from ..ui import fail
from . import bake, bonemap


def user_preset_dir() -> str:
    """Where saved bone-map presets go (Blender's user config folder)."""
    return bpy.utils.user_resource("CONFIG", path=os.path.join("tcmr_mocap", "bone_maps"), create=False)


def preset_items(self, context):
    items = [("AUTO", "Auto-Detect", "Find the rig's naming standard, or map by names and hierarchy"),
             ("CUSTOM", "Bone Map Below", "Use the bone map shown in the panel (edit it, or Detect first)")]
    for pid, path in bonemap.preset_files(user_preset_dir()).items():
        try:
            data = bonemap.load_preset(path)
        except (OSError, ValueError):
            continue
        items.append((pid, data.get("name", pid), data.get("description", "")))
    preset_items.cache = items  # Blender needs the strings kept alive
    return items


def _panel_map(context) -> dict:
    settings = getattr(context.scene, "tcmr_retarget", None)
    if settings is None:
        return {}
    return {item.slot: item.bone for item in settings.bone_map}


class TCMR_OT_retarget(Operator):
    """Bake the source armature's motion onto the target rig as one new action of plain keyframes"""

    bl_idname = "tcmr.retarget"
    bl_label = "Retarget Motion"
    bl_options = {"REGISTER", "UNDO"}

    source: StringProperty(name="Source", description="Armature with the motion (empty: the panel's)")
    target: StringProperty(name="Target", description="The character's armature (empty: the panel's)")
    preset: StringProperty(name="Preset", default="AUTO",
                           description="Bone map: AUTO, CUSTOM (the panel's map) or a preset id (e.g. mixamo)")
    root_motion: BoolProperty(name="Root Motion", default=True,
                              description="Move the character along the source's path (off: in place)")
    overlay: BoolProperty(name="Over the Footage", default=False,
                          description="Stand where the captured person stands and follow their path unscaled, "
                                      "on their floor (for renders over the footage)")

    def execute(self, context):
        settings = getattr(context.scene, "tcmr_retarget", None)
        src_name = self.source or (settings.source.name if settings and settings.source else "")
        tgt_name = self.target or (settings.target.name if settings and settings.target else "")
        source, target = bpy.data.objects.get(src_name), bpy.data.objects.get(tgt_name)
        context.window_manager.tcmr_job.last_error = ""
        if source is None:
            return fail(self, context, f"no source armature '{src_name}': pick the captured armature")
        if target is None:
            return fail(self, context, f"no target object '{tgt_name}': pick the character's armature")
        try:
            root = "overlay" if self.overlay else self.root_motion
            action, info = bake.retarget(context, source, target, self.preset, root,
                                         custom_map=_panel_map(context), user_dir=user_preset_dir())
        except MocapError as err:
            if getattr(err, "bone_map", None) and settings is not None and self.preset != "CUSTOM" \
                    and (settings.target is None or settings.target == target):
                settings.target = target
                show_map(settings, err.bone_map, with_missing=True)  # what was found, the gaps to fill
            return fail(self, context, str(err))
        if info["residual_deg"] > 1.0:
            self.report({"WARNING"}, f"some bones of '{target.name}' stay up to {info['residual_deg']:.0f}° off the "
                                     "source: constraints (e.g. IK) override their keys; mute them or use FK")
        face_note = ""
        if info["face_keys"]:
            face_note = f"; face: {info['face_keys']} shape keys ({info['face_mode']})"
        self.report({"INFO"}, f"Retargeted {info['frames']} frames onto '{target.name}' as '{action.name}' "
                              f"(map: {info['preset']}, leg ratio {info['ratio']:.2f}{face_note})")
        return {"FINISHED"}


class TCMR_OT_face_to_meshes(Operator):
    """Key the selected meshes' ARKit-named shape keys (or VRM expressions) from the source armature's captured
    face, over its action's frames"""

    bl_idname = "tcmr.face_to_meshes"
    bl_label = "Face to Selected Meshes"
    bl_options = {"REGISTER", "UNDO"}

    source: StringProperty(name="Source", description="Armature with a captured face (empty: the panel's)")

    def execute(self, context):
        from ..scene import face
        from . import face_transfer
        from .rigdata import frame_range, source_action

        settings = getattr(context.scene, "tcmr_retarget", None)
        name = self.source or (settings.source.name if settings and settings.source else "")
        source = bpy.data.objects.get(name)
        context.window_manager.tcmr_job.last_error = ""
        if source is None or not face.has_face(source):
            return fail(self, context, f"'{name}' has no captured face: pick a capture made with the Face option")
        meshes = [o for o in context.selected_objects if o.type == "MESH"]
        if not meshes:
            return fail(self, context, "select the meshes whose shape keys should follow the face")
        action = source_action(source)
        done = face_transfer.transfer(source, None, frame_range(action), f"{action.name} · face", meshes=meshes)
        if not done.keys:
            return fail(self, context, "none of the selected meshes has ARKit-named shape keys or VRM expressions")
        done.commit()
        self.report({"INFO"}, f"Keyed {done.keys} shape keys from '{source.name}' ({done.mode})")
        return {"FINISHED"}


class TCMR_OT_retarget_detect(Operator):
    """Fill the bone map from the target rig (preset or auto-detection), to check and edit"""

    bl_idname = "tcmr.retarget_detect"
    bl_label = "Detect Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.tcmr_retarget
        preset = settings.preset if settings.preset != "CUSTOM" else "AUTO"
        try:
            bm = bake.resolve_map(settings.target, preset, None, user_preset_dir())
        except MocapError as err:
            return fail(self, context, str(err))
        show_map(settings, bm.bones)
        self.report({"INFO"}, f"Bone map from {bm.preset}: {len(bm.bones)} bones")
        return {"FINISHED"}


def show_map(settings, bones: dict, with_missing: bool = False) -> None:
    """The panel's bone map: ``bones`` in slot order (and, ``with_missing``, the required slots they lack,
    empty, for the user to fill)."""
    bones = dict(bones)
    if with_missing:
        bones.update({s: "" for s in bonemap.REQUIRED if not bones.get(s)})
    settings.bone_map.clear()
    for slot in bonemap.slot_order(bones):
        item = settings.bone_map.add()
        item.slot = slot
        item.bone = bones[slot]


class TCMR_OT_retarget_save_preset(Operator):
    """Save the panel's bone map as a preset (user config folder), for rigs of the same kind"""

    bl_idname = "tcmr.retarget_save_preset"
    bl_label = "Save Bone Map Preset"

    name: StringProperty(name="Name", default="My Rig")

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        bones = _panel_map(context)
        if not bones:
            return fail(self, context, "the bone map is empty: Detect it first")
        folder = user_preset_dir()
        pid = "".join(c if c.isalnum() else "_" for c in self.name.strip().lower()) or "preset"
        path = os.path.join(folder, pid + ".json")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(bonemap.BoneMap(bones=bones).to_preset(self.name), fh, indent=1, ensure_ascii=False)
        except OSError as err:
            return fail(self, context, f"cannot write {path}: {err.strerror}")
        self.report({"INFO"}, f"Saved bone map preset '{self.name}' to {path}")
        return {"FINISHED"}


CLASSES = (TCMR_OT_retarget, TCMR_OT_retarget_detect, TCMR_OT_retarget_save_preset, TCMR_OT_face_to_meshes)
