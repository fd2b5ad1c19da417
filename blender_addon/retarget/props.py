"""Retarget and export settings (per scene, saved with the .blend) and the panel's editable bone map."""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty,
                       PointerProperty, StringProperty)
from bpy.types import PropertyGroup

from . import ops


def _is_armature(self, obj):
    return obj.type == "ARMATURE"


class TCMR_BoneMapItem(PropertyGroup):
    slot: StringProperty(name="Slot", description="Humanoid part (hips, spine.0, upper_arm.L ...)")
    bone: StringProperty(name="Bone", description="The target rig's bone playing this part (empty: not driven)")


class TCMR_RetargetSettings(PropertyGroup):
    source: PointerProperty(name="Source", type=bpy.types.Object, poll=_is_armature,
                            description="The armature with the motion (a capture or an import)")
    target: PointerProperty(name="Target", type=bpy.types.Object, poll=_is_armature,
                            description="The character's armature")
    preset: EnumProperty(name="Bone Map", items=ops.preset_items,
                         description="Naming standard of the target rig")
    root_motion: BoolProperty(name="Root Motion", default=True,
                              description="Move along the source's path, scaled by the leg-length ratio "
                                          "(off: in place)")
    overlay: BoolProperty(name="Over the Footage", default=False,
                          description="Stand where the captured person stands and follow their path unscaled, "
                                      "on their floor (for renders over the footage)")
    bone_map: CollectionProperty(type=TCMR_BoneMapItem)
    bone_map_index: IntProperty(default=0)
    export_format: EnumProperty(name="Format", items=(("FBX", "FBX", "Unity, Unreal, Maya"),
                                                      ("GLTF", "glTF / GLB", "Web, Godot, three.js"),
                                                      ("BVH", "BVH", "Motion only")), default="FBX")
    fbx_preset: EnumProperty(name="For", items=(("UNITY", "Unity", ""), ("UNREAL", "Unreal", ""),
                                                ("MAYA", "Maya", "")), default="UNITY")
    export_path: StringProperty(name="File", subtype="FILE_PATH", default="//animation.fbx")
    use_export_range: BoolProperty(name="Frame Range", default=False,
                                   description="Export only part of the action")
    export_start: IntProperty(name="Start", default=1)
    export_end: IntProperty(name="End", default=250)
    use_export_fps: BoolProperty(name="FPS", default=False, description="Resample to another frame rate")
    export_fps: FloatProperty(name="FPS", default=30.0, min=1.0, soft_max=120.0)


CLASSES = (TCMR_BoneMapItem, TCMR_RetargetSettings)


def register_properties() -> None:
    bpy.types.Scene.tcmr_retarget = PointerProperty(type=TCMR_RetargetSettings)


def unregister_properties() -> None:
    del bpy.types.Scene.tcmr_retarget
