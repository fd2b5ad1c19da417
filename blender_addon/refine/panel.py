"""The "Refine" sub-panel of the Mocap tab: foot lock, level floor, smoothing, frame rate, face calibration, floor
display; the selected result's floor (camera pitch, roll, height and how sure the floor is) and its refine
warnings."""

from __future__ import annotations

from bpy.types import Panel

from ..scene import raw_store
from ..ui import SidebarTab, switched_row, wrapped_label
from . import ops


class TCMR_PT_refine(SidebarTab, Panel):
    bl_label = "Refine"
    bl_parent_id = "TCMR_PT_mocap"

    def draw(self, context):
        layout = self.layout
        s = context.scene.tcmr_refine
        col = layout.column()
        col.prop(s, "foot_lock")
        col.prop(s, "upright")
        col.prop(s, "smoothing")
        if s.smoothing == "one-euro":
            sub = col.column(align=True)
            sub.prop(s, "min_cutoff")
            sub.prop(s, "beta")
            sub.prop(s, "translation_min_cutoff")
        elif s.smoothing == "slerp-average":
            col.prop(s, "window")
        switched_row(col, s, "use_fps", ("fps",))
        col.prop(s, "face_calibration")
        row = col.row(align=True)
        row.prop(s, "show_ground", toggle=True)
        row.prop(s, "show_contacts", toggle=True)
        col.prop(s, "live_update")
        target = ops.target_collection(context)
        if target is None:
            wrapped_label(layout, context, "Capture or import a result to refine it; captures use these options.",
                          icon="INFO")
            return
        wrapped_label(layout, context, f"{target.name}: {raw_store.floor_summary(target)}", icon="VIEW_PERSPECTIVE")
        for warning in raw_store.warnings(target):
            wrapped_label(layout, context, warning, icon="ERROR")
        layout.operator("tcmr.refine", icon="FILE_REFRESH")


CLASSES = (TCMR_PT_refine,)
