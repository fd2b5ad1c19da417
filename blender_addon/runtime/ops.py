"""Operators around the runtime: set it up (install_deps.py), re-check it, export the SMPL body."""

from __future__ import annotations

import bpy
from bpy.types import Operator

from ..ui import done
from . import commands, environment, preferences
from .job import DONE, start_in_extension
from .modal import ModalJobMixin


class _JobOperator(ModalJobMixin):
    """Runs ``self.command(context)`` as a modal job (blocking in background mode)."""

    progress_stream = "stdout"

    @classmethod
    def poll(cls, context):
        return not context.window_manager.tcmr_job.running

    def _start(self, context):
        self.runner = start_in_extension(self.command(context), self.progress_stream)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        self._start(context)
        return self.start_modal(context)

    def execute(self, context):
        self._start(context)
        self.runner.wait()
        return self.job_finished(context)

    def job_finished(self, context):
        environment.forget_probes()
        if self.runner.state != DONE:
            return self.fail(context, f"{self.job_label}: {self.runner.error}")
        return done(self, f"{self.job_label}: {self.runner.message}", self.runner.warnings)


class TCMR_OT_install_deps(_JobOperator, Operator):
    """Create the runtime environment with install_deps.py (offline when online access is off)"""

    bl_idname = "tcmr.install_deps"
    bl_label = "Install Dependencies"
    job_label = "Install"

    def command(self, context):
        prefs = preferences.get_prefs(context)
        return commands.install_command(preferences.user_env_dir(), preferences.models_dir(context),
                                       download_models=bool(prefs and prefs.download_models),
                                       online=bool(bpy.app.online_access))


class TCMR_OT_export_smpl(_JobOperator, Operator):
    """Write the SMPL body inside the TCMR checkpoint to SMPL_NEUTRAL.npz in the models directory"""

    bl_idname = "tcmr.export_smpl"
    bl_label = "Export SMPL Body"
    job_label = "SMPL export"
    progress_stream = "stderr"

    def command(self, context):
        status = preferences.readiness(context)
        from ...core.assets.table import MODEL_FILES

        return commands.export_smpl_command(status.python, preferences.models_dir(context),
                                           status.models_dir / MODEL_FILES["smpl"].file_name)

    @classmethod
    def poll(cls, context):
        return super().poll(context) and preferences.runtime_python(context) is not None


class TCMR_OT_refresh_status(Operator):
    """Check the runtime environment and the model files again"""

    bl_idname = "tcmr.refresh_status"
    bl_label = "Refresh"

    def execute(self, context):
        environment.forget_probes()
        status = preferences.readiness(context)
        self.report({"INFO"} if status.ready else {"WARNING"},
                    "runtime and models ready" if status.ready else status.problems[0])
        return {"FINISHED"}


CLASSES = (TCMR_OT_install_deps, TCMR_OT_export_smpl, TCMR_OT_refresh_status)
