"""What the Mocap tab's panels and operators share: labels that fit the sidebar, an operator's error line."""

from __future__ import annotations

import textwrap

from ..core.errors import one_line


def wrapped_label(layout, context, text: str, icon: str = "NONE") -> None:
    """A label broken into lines that fit the sidebar."""
    width = max(20, int((context.region.width if context.region else 300) / 7))
    col = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1")


def fail(op, context, message: str) -> set:
    """Report ``message`` as one error line, kept in the panel too; returns the operator's {'CANCELLED'}."""
    message = one_line(message)
    context.window_manager.tcmr_job.last_error = message
    op.report({"ERROR"}, message)
    return {"CANCELLED"}
