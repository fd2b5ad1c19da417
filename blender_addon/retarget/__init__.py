"""Retargeting: a captured (or imported) motion onto any humanoid rig, baked as plain keyframes.

- ``presets/*.json``: bone maps as data, one file per naming standard (see bonemap.py for the format);
- ``bonemap.py``: slots, presets, matching names under any prefix; ``detect.py``: names + hierarchy;
- ``transfer.py``: the maths (numpy, no bpy); ``rigdata.py``: reading rigs; ``bake.py``: baking, correcting
  through constraints, placing IK controls; ``ops.py``, ``props.py``, ``panel.py``: operators, settings and
  the panel section; ``cli.py``: the headless command's retarget/export steps.

Only bonemap, detect and transfer load without Blender.
"""

from __future__ import annotations


def classes() -> list:
    from . import ops, panel, props

    return [*props.CLASSES, *ops.CLASSES, *panel.CLASSES]
