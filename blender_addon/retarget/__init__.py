"""Retargeting: a captured (or imported) motion onto any humanoid rig, baked as plain keyframes.

- ``presets/*.json``: bone maps as data, one file per naming standard (see bonemap.py for the format);
- ``bonemap.py``: slots, presets, matching names under any prefix; ``names.py``: reading bone names;
  ``detect.py``: names + hierarchy + rest shape; ``hands.py``: finger chains, hand frames, finger poses;
- ``transfer.py``: the rotations (numpy, no bpy); ``ground.py``: the root's path, foot contacts, soles on the
  floor; ``rigdata.py``: reading rigs (and their skinned meshes); ``bake.py``: the bake;
  ``evaluate.py``: keys, correcting through constraints, placing IK controls; ``ops.py``, ``props.py``,
  ``panel.py``: operators, settings and the panel section (its Export button runs ``export/ops.py``).

bonemap, names, detect, hands, transfer and ground load without Blender.
"""
