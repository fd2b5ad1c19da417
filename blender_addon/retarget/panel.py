"""The "Retarget & Export" sub-panel of the Mocap tab: source, target, bone map (editable), options, export."""

from __future__ import annotations

from bpy.types import Panel, UIList

from ..ui import SidebarTab, switched_row
from . import bonemap


class TCMR_UL_bone_map(UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=bonemap.slot_label(item.slot))
        target = context.scene.tcmr_retarget.target
        if target is not None and target.type == "ARMATURE":
            row.prop_search(item, "bone", target.data, "bones", text="")
        else:
            row.prop(item, "bone", text="")


class TCMR_PT_retarget(SidebarTab, Panel):
    bl_label = "Retarget & Export"
    bl_parent_id = "TCMR_PT_mocap"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        s = context.scene.tcmr_retarget
        col = layout.column()
        col.prop(s, "source")
        col.prop(s, "target")
        row = col.row(align=True)
        row.prop(s, "preset")
        row.operator("tcmr.retarget_detect", text="", icon="VIEWZOOM")
        row = col.row(align=True)
        row.prop(s, "root_motion")
        row.prop(s, "overlay")
        if len(s.bone_map):
            layout.template_list("TCMR_UL_bone_map", "", s, "bone_map", s, "bone_map_index", rows=6)
            layout.operator("tcmr.retarget_save_preset", icon="PRESET_NEW")
        row = layout.row()
        row.scale_y = 1.3
        row.enabled = s.source is not None and s.target is not None
        op = row.operator("tcmr.retarget", icon="ARMATURE_DATA")
        op.preset = s.preset
        op.root_motion = s.root_motion
        op.overlay = s.overlay
        layout.operator("tcmr.face_to_meshes", icon="SHAPEKEY_DATA")

        box = layout.box()
        box.label(text="Export", icon="EXPORT")
        box.prop(s, "export_format")
        if s.export_format == "FBX":
            box.prop(s, "fbx_preset")
        box.prop(s, "export_path")
        for flag, values in (("use_export_range", ("export_start", "export_end")), ("use_export_fps", ("export_fps",))):
            switched_row(box, s, flag, values)
        op = box.operator("tcmr.export_action", icon="EXPORT")
        op.filepath = s.export_path
        op.format = s.export_format
        op.fbx_preset = s.fbx_preset
        op.frame_start = s.export_start if s.use_export_range else -1
        op.frame_end = s.export_end if s.use_export_range else -1
        op.fps = s.export_fps if s.use_export_fps else 0.0


CLASSES = (TCMR_UL_bone_map, TCMR_PT_retarget)
