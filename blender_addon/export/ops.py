"""``tcmr.export_action``: one armature with one action to a file (the Retarget & Export panel's button)."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy.types import Operator

from ...core.errors import MocapError
from ..ui import fail
from . import exporter


class TCMR_OT_export_action(Operator):
    """Export an armature with one action: FBX (Unity, Unreal, Maya settings), glTF/GLB or BVH; or its captured
    face as an ARKit CSV (Live Link Face's layout)"""

    bl_idname = "tcmr.export_action"
    bl_label = "Export Animation"

    filepath: StringProperty(name="File", subtype="FILE_PATH")
    armature: StringProperty(name="Armature", description="Empty: the panel's target, else the active object")
    format: EnumProperty(name="Format", items=(("FBX", "FBX", ""), ("GLTF", "glTF / GLB", ""), ("BVH", "BVH", ""),
                                               ("CSV", "ARKit CSV", "")), default="FBX")
    fbx_preset: EnumProperty(name="For", items=(("UNITY", "Unity", ""), ("UNREAL", "Unreal", ""),
                                                ("MAYA", "Maya", "")), default="UNITY")
    frame_start: IntProperty(name="Start", default=-1, description="-1: the action's first frame")
    frame_end: IntProperty(name="End", default=-1, description="-1: the action's last frame")
    fps: FloatProperty(name="FPS", default=0.0, min=0.0, description="0: the scene's frame rate")

    def execute(self, context):
        name = self.armature
        settings = getattr(context.scene, "tcmr_retarget", None)
        if not name and settings is not None and settings.target is not None:
            name = settings.target.name
        obj = bpy.data.objects.get(name) if name else context.active_object
        try:
            path = exporter.export_action(context, obj, bpy.path.abspath(self.filepath), self.format,
                                          preset=self.fbx_preset,
                                          frame_start=None if self.frame_start < 0 else self.frame_start,
                                          frame_end=None if self.frame_end < 0 else self.frame_end,
                                          fps=self.fps or None)
        except MocapError as err:
            return fail(self, context, str(err))
        self.report({"INFO"}, f"Exported {path}")
        return {"FINISHED"}


CLASSES = (TCMR_OT_export_action,)
