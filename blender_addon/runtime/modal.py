"""The modal loop shared by the long-running operators (capture, install, SMPL export).

A timer polls the job (anything with ``poll()``, ``finished``, ``fraction``, ``message``, ``cancel()``);
progress goes to ``window_manager.tcmr_job`` (shown by the panel) and the cursor progress
(``progress_update``); Esc or the panel's Cancel button (``tcmr.cancel_job``) cancels.
"""

from __future__ import annotations

from bpy.types import Operator

from ..ui import fail

TIMER_S = 0.1


def redraw(context) -> None:
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else ()):
        if area.type in ("VIEW_3D", "PREFERENCES"):
            area.tag_redraw()


class ModalJobMixin:
    """Subclasses set ``self.runner`` and call :meth:`start_modal`; they implement :meth:`job_finished`."""

    job_label = "Job"
    runner = None
    _timer = None

    def start_modal(self, context):
        wm = context.window_manager
        status = wm.tcmr_job
        status.running, status.label, status.progress = True, self.job_label, 0.0
        status.status, status.cancel_requested, status.last_error = "starting", False, ""
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(TIMER_S, window=context.window)
        wm.modal_handler_add(self)
        redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        status = context.window_manager.tcmr_job
        if status.cancel_requested or (event.type == "ESC" and event.value == "PRESS"):
            self.runner.cancel()
            self._stop(context, f"{self.job_label} cancelled")
            self.report({"WARNING"}, f"{self.job_label} cancelled")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self.runner.poll():
            status.progress = self.runner.fraction
            status.status = self.runner.message
            context.window_manager.progress_update(int(100 * self.runner.fraction))
            redraw(context)
        if self.runner.finished:
            self._stop(context, "")
            return self.job_finished(context)
        return {"PASS_THROUGH"}

    def cancel(self, context):  # Blender calls this when the modal operator is ended from outside
        if self.runner is not None and not self.runner.finished:
            self.runner.cancel()
        self._stop(context, f"{self.job_label} cancelled")

    def _stop(self, context, text: str) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
            wm.progress_end()
        wm.tcmr_job.running = False
        wm.tcmr_job.status = text
        redraw(context)

    def fail(self, context, message: str):
        """Report one line as an error (and keep it in the panel); returns {'CANCELLED'}."""
        return fail(self, context, message)

    def job_finished(self, context):
        raise NotImplementedError


class TCMR_OT_cancel_job(Operator):
    """Cancel the running capture or installation"""

    bl_idname = "tcmr.cancel_job"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context):
        return context.window_manager.tcmr_job.running

    def execute(self, context):
        context.window_manager.tcmr_job.cancel_requested = True
        return {"FINISHED"}


CLASSES = (TCMR_OT_cancel_job,)
