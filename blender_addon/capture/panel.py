"""The sidebar (N panel) tab "Mocap": readiness, capture options, progress/cancel, import."""

from __future__ import annotations

from bpy.types import Panel

from ..runtime import preferences
from ..ui import SidebarTab, switched_row, wrapped_label


class TCMR_PT_mocap(SidebarTab, Panel):
    bl_label = "TCMR Mocap"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tcmr
        job = context.window_manager.tcmr_job
        status = preferences.readiness(context)

        box = layout.box()
        if status.ready:
            box.label(text="Runtime and models ready", icon="CHECKMARK")
        else:
            box.label(text="Dependencies missing", icon="ERROR")
            for problem in status.problems:
                wrapped_label(box, context, problem, icon="DOT")
            box.operator("preferences.addon_show", text="Open Preferences", icon="PREFERENCES").module = \
                preferences.ADDON_ID
        if status.smpl_file is not None:
            wrapped_label(box, context, f"SMPL body: {status.smpl_file.name}", icon="OUTLINER_OB_ARMATURE")
        else:
            wrapped_label(box, context, "SMPL body: captures carry their own. Importing TCMR .pkl or AMASS files "
                          f"needs SMPL_NEUTRAL.npz/.pkl in {status.models_dir}, or exported from the TCMR "
                          "checkpoint:", icon="INFO")
            box.operator("tcmr.export_smpl", icon="EXPORT")

        col = layout.column()
        col.enabled = not job.running
        col.prop(settings, "video_path")
        col.prop(settings, "detections_path")
        row = col.row(align=True)
        row.prop(settings, "person", expand=True)
        if settings.person == "ONE":
            col.prop(settings, "track_id")
        row = col.row(align=True)
        row.prop(settings, "quality", expand=True)
        for flag, values in (("use_frame_range", ("frame_start", "frame_end")), ("use_target_fps", ("target_fps",)),
                             ("use_focal_length", ("focal_length_px",))):
            switched_row(col, settings, flag, values)
        row = col.row(align=True)
        row.prop(settings, "create_mesh")
        row.prop(settings, "hands", toggle=True)
        row.prop(settings, "face", toggle=True)

        if job.running:
            layout.progress(factor=job.progress, type="BAR", text=f"{job.label} {100 * job.progress:.0f}%")
            if job.status:
                wrapped_label(layout, context, job.status)
            layout.operator("tcmr.cancel_job", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.4
            row.enabled = status.ready and bool(settings.video_path)
            row.operator("tcmr.capture", icon="REC")
            if job.last_error:
                wrapped_label(layout, context, job.last_error, icon="ERROR")
            elif job.status:
                wrapped_label(layout, context, job.status, icon="INFO")
        layout.separator()
        layout.operator("tcmr.import_motion", icon="IMPORT")


CLASSES = (TCMR_PT_mocap,)
