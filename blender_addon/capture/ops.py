"""``tcmr.capture``: video -> keyframed SMPL armature(s), through the core as a subprocess.

Invoked from the UI it is modal (progress in the panel, Esc/Cancel ends the core and leaves the scene as it
was); executed directly (scripts, ``blender -b``) it blocks until the core ends and prints progress lines.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty
from bpy.types import Operator

from ...core.errors import MocapError
from ..refine import settings as refine_settings
from ..runtime import commands, environment, preferences
from ..runtime.job import ProgressPrinter
from ..runtime.modal import ModalJobMixin
from ..scene import builder
from ..ui import done
from .session import CaptureSession


def capture_options(context, models_dir: str = "", detections: str = "") -> commands.CaptureOptions:
    """The panel's options (scene.tcmr, the refine panel's scene.tcmr_refine) + the preferences as core CLI
    options: the core refines the capture once, with the refine panel's options."""
    s = context.scene.tcmr
    return commands.CaptureOptions(
        models_dir=models_dir or preferences.models_dir(context),
        device=preferences.device(context),
        track="all" if s.person == "ALL" else str(s.track_id),
        refine=refine_settings.refine_config(context.scene.tcmr_refine),
        frame_start=s.frame_start if s.use_frame_range else None,
        frame_end=s.frame_end if s.use_frame_range else None,
        target_fps=s.target_fps if s.use_target_fps else None,
        focal_length_px=s.focal_length_px if s.use_focal_length else None,
        detections=detections,
        fast=s.quality == "FAST",
        hands=None if s.hands else False,  # on: when the model file is there (the core warns when it is not)
        face=None if s.face else False,
    )


class TCMR_OT_capture(ModalJobMixin, Operator):
    """Capture the motion of the people in the video onto SMPL armatures"""

    bl_idname = "tcmr.capture"
    bl_label = "Capture"
    bl_options = {"UNDO"}  # one undo step for the import; no redo panel (redo would capture again)
    job_label = "Capture"

    filepath: StringProperty(name="Video", subtype="FILE_PATH", options={"SKIP_SAVE"},
                             description="Video to capture (empty: the panel's video)")
    models_dir: StringProperty(name="Models", subtype="DIR_PATH", options={"SKIP_SAVE", "HIDDEN"},
                               description="Models directory (empty: the preferences')")
    python_path: StringProperty(name="Runtime Python", subtype="FILE_PATH", options={"SKIP_SAVE", "HIDDEN"},
                                description="Python of the core's environment (empty: the preferences')")
    detections: StringProperty(name="Detections", subtype="FILE_PATH", options={"SKIP_SAVE", "HIDDEN"},
                               description="Person boxes from a file instead of the detector (empty: the panel's)")
    device: StringProperty(name="Device", options={"SKIP_SAVE", "HIDDEN"},
                           description="auto, cpu or cuda (empty: the preferences')")

    @classmethod
    def poll(cls, context):
        return not context.window_manager.tcmr_job.running

    def _session(self, context) -> CaptureSession:
        s = context.scene.tcmr
        video = bpy.path.abspath(self.filepath or s.video_path)
        python = (environment.resolve_python(bpy.path.abspath(self.python_path)) if self.python_path
                  else preferences.runtime_python(context))
        models_dir = bpy.path.abspath(self.models_dir) if self.models_dir else ""
        detections = self.detections or s.detections_path  # the operator's, else the panel's
        options = capture_options(context, models_dir, bpy.path.abspath(detections) if detections else "")
        if self.device:
            options.device = self.device
        build = builder.BuildOptions(create_mesh=s.create_mesh, set_scene=True,
                                     models_dir=options.models_dir, **refine_settings.display_options(context))
        return CaptureSession(python, video, options, build)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        try:
            self.runner = self._session(context).start()
        except MocapError as err:
            return self.fail(context, str(err))
        return self.start_modal(context)

    def execute(self, context):
        """Blocking run (background mode and scripts)."""
        context.window_manager.tcmr_job.last_error = ""
        try:
            self.runner = self._session(context).start()
            self.runner.wait(on_update=ProgressPrinter())  # each line once (no "save: saved" three times)
        except MocapError as err:
            return self.fail(context, str(err))
        return self.job_finished(context)

    def job_finished(self, context):
        try:
            result = self.runner.finish(context)
        except MocapError as err:
            return self.fail(context, str(err))
        return done(self, f"Captured {len(result.armatures)} person(s) into '{result.collection.name}'",
                    result.warnings)


CLASSES = (TCMR_OT_capture,)
