"""What the Mocap tab's panels and operators share: the tab itself, labels that fit the sidebar, a switch with the
values it enables, an operator's error line and its closing report."""

from __future__ import annotations

import textwrap

from ..core.errors import one_line


class SidebarTab:
    """Where the add-on's panels live: the 3D viewport's sidebar (N panel), tab "Mocap"."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"


def wrapped_label(layout, context, text: str, icon: str = "NONE") -> None:
    """A label broken into lines that fit the sidebar."""
    width = max(20, int((context.region.width if context.region else 300) / 7))
    col = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1")


def switched_row(layout, data, switch: str, values) -> None:
    """One row: the property ``switch`` (a checkbox), then the properties ``values``, editable while it is on."""
    row = layout.row(align=True)
    row.prop(data, switch)
    sub = row.row(align=True)
    sub.enabled = getattr(data, switch)
    for value in values:
        sub.prop(data, value)


def fail(op, context, message: str) -> set:
    """Report ``message`` as one error line, kept in the panel too; returns the operator's {'CANCELLED'}."""
    message = one_line(message)
    context.window_manager.tcmr_job.last_error = message
    op.report({"ERROR"}, message)
    return {"CANCELLED"}


def done(op, message: str, warnings=()) -> set:
    """Report the warnings, then ``message``; returns the operator's {'FINISHED'}."""
    for warning in warnings:
        op.report({"WARNING"}, warning)
    op.report({"INFO"}, message)
    return {"FINISHED"}
