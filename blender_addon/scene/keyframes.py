"""Keyframes the fast way: action slot -> layer -> keyframe strip -> channelbag -> F-curves filled with
``keyframe_points.add(n)`` + ``foreach_set`` (no ``keyframe_insert``, no ``Action.fcurves``, which Blender 5.0
removed). Works from Blender 4.4 (slotted actions) on; F-curve groups are created through
``channelbag.groups`` because ``fcurves.new(group_name=...)`` only exists from 5.0.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...core.skeleton import SMPL_JOINT_NAMES


def _interpolation_value(name: str) -> int:
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[name].value


def new_action(obj, name: str, id_type: str = "OBJECT"):
    """A fresh action with one slot for ``obj`` (an object, or another ID of ``id_type``, e.g. a mesh's shape
    keys: "KEY"), assigned to it. Returns (action, channelbag)."""
    action = bpy.data.actions.new(name)
    slot = action.slots.new(id_type=id_type, name=obj.name)
    strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    anim = obj.animation_data_create()
    anim.action = action
    anim.action_slot = slot
    return action, channelbag


def fill_fcurve(channelbag, data_path: str, index: int, group, frames: np.ndarray, values: np.ndarray,
                interpolation: str = "LINEAR"):
    """One F-curve with ``interpolation`` keys (linear by default) at ``frames`` (K,) holding ``values`` (K,).

    For strictly increasing frames (every import) the keys are already in order, so instead of
    ``fcurve.update()`` (sort + handle recalculation, the slowest step: ~3 ms per 10,000 keys) the handles are
    written directly, a third of the way towards each neighbour; linear keys never evaluate them, and Blender
    recalculates them on any later edit. Other frames fall back to ``update()``.
    """
    fcurve = channelbag.fcurves.new(data_path, index=index)
    fcurve.group = group
    points = fcurve.keyframe_points
    k = len(frames)
    points.add(k)
    co = np.empty((k, 2), dtype=np.float32)
    co[:, 0] = frames
    co[:, 1] = values
    points.foreach_set("co", co.ravel())
    points.foreach_set("interpolation", np.full(k, _interpolation_value(interpolation), dtype=np.int32))
    if k >= 2 and np.all(np.diff(co[:, 0]) > 0):
        step = np.diff(co, axis=0) / np.float32(3.0)  # (K-1, 2)
        left, right = co.copy(), co.copy()
        left[1:] -= step
        left[0] -= step[0]
        right[:-1] += step
        right[-1] += step[-1]
        points.foreach_set("handle_left", left.ravel())
        points.foreach_set("handle_right", right.ravel())
    else:
        fcurve.update()
    return fcurve


def write_pose_action(obj, name: str, frames: np.ndarray, quat_wxyz: np.ndarray, root_location: np.ndarray,
                      bone_names=SMPL_JOINT_NAMES):
    """Key every bone's quaternion and the root bone's (the first one's) location.

    frames: (K,) scene frames; quat_wxyz: (K, B, 4) for ``bone_names`` (B: the 24 SMPL joints, then any finger
    bones); root_location: (K, 3). Returns (the action, its channelbag).
    """
    action, channelbag = new_action(obj, name)
    frames = np.asarray(frames, dtype=np.float64)
    for j, bone in enumerate(bone_names):
        group = channelbag.groups.new(bone)
        base = f'pose.bones["{bone}"]'
        if j == 0:
            for axis in range(3):
                fill_fcurve(channelbag, base + ".location", axis, group, frames, root_location[:, axis])
        for axis in range(4):
            fill_fcurve(channelbag, base + ".rotation_quaternion", axis, group, frames, quat_wxyz[:, j, axis])
    return action, channelbag


def key_visibility(obj, first: int, last: int, name: str):
    """Show ``obj`` (viewport and render) on scene frames ``first..last`` only: constant keys on ``hide_viewport``
    and ``hide_render`` (hidden on ``first - 1`` and ``last + 1``, and so before and after). They go into the
    object's action if it has one (which then keeps ``first..last`` as its manual frame range, so exports and
    retargeting see the motion's frames, not the visibility keys), else into a new action ``name``, returned."""
    new = None
    bag = channelbag_of(obj)
    if bag is None:
        new, bag = new_action(obj, name)
    else:
        action = obj.animation_data.action
        action.use_frame_range = True
        action.frame_start, action.frame_end = float(first), float(last)
    group = bag.groups.new("Visibility")
    frames = np.array([first - 1, first, last + 1], dtype=np.float64)
    for data_path in ("hide_viewport", "hide_render"):
        fill_fcurve(bag, data_path, 0, group, frames, np.array([1.0, 0.0, 1.0]), interpolation="CONSTANT")
    return new


def channelbag_of(obj):
    """The channelbag animating ``obj`` through its assigned action slot (None if not animated)."""
    anim = obj.animation_data
    if anim is None or anim.action is None or anim.action_slot is None:
        return None
    for layer in anim.action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(anim.action_slot)
            if bag is not None:
                return bag
    return None
