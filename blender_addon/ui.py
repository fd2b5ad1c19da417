"""Drawing helpers shared by the Mocap tab's panels (the main panel and its Refine sub-panel)."""

from __future__ import annotations

import textwrap


def wrapped_label(layout, context, text: str, icon: str = "NONE") -> None:
    """A label broken into lines that fit the sidebar."""
    width = max(20, int((context.region.width if context.region else 300) / 7))
    col = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1")
