"""Export one armature with one action: FBX (Unity / Unreal / Maya conventions), glTF/GLB, BVH — through
Blender's bundled exporters, with a frame range and a frame rate.

- FBX, all presets: no leaf bones, the baked animation of *that action only* (no other actions, no NLA),
  start/end keyed, no curve simplification (keys are exact); Y up / -Z forward, which Unity, Unreal and
  Maya all read (each converts to its own axes on import). Unity: unit scale applied to the objects (the
  rig arrives at scale 1); Unreal: deform bones only (a Rigify rig exports its DEF skeleton), scale left to
  the importer (centimetres, the rig at 100 %); Maya: every bone, no extra scale.
- glTF/GLB: the active action only, sampled over the range, at the exact frame rate (``gltf_times``: a
  29.83 fps motion keeps 29.83, where Blender's exporter alone writes 30.17).
- BVH: the armature's motion (no mesh), native rotation orders.
- CSV: the captured face as ARKit weights per frame in Live Link Face's layout (arkit_csv), sampled at the
  export's frame rate over the range; the scene is not touched.
- A frame rate other than the scene's retimes a temporary copy of the action (key times × fps / scene fps)
  and sets the scene's rate while writing; everything (scene, selection, the armature's action) is restored.
"""

from __future__ import annotations

import os

import bpy
import numpy as np

from ...core.errors import MocapError
from ...core.outputs import check_output_file
from . import gltf_times

FORMATS = ("FBX", "GLTF", "BVH", "CSV")
FBX_COMMON = dict(use_selection=True, object_types={"ARMATURE", "MESH"}, add_leaf_bones=False, bake_anim=True,
                  bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False,
                  bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0, bake_anim_step=1.0,
                  axis_forward="-Z", axis_up="Y", primary_bone_axis="Y", secondary_bone_axis="X",
                  armature_nodetype="NULL", mesh_smooth_type="FACE")
FBX_PRESETS = {
    "UNITY": dict(apply_unit_scale=True, apply_scale_options="FBX_SCALE_ALL", use_armature_deform_only=True),
    "UNREAL": dict(apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", use_armature_deform_only=True),
    "MAYA": dict(apply_unit_scale=True, apply_scale_options="FBX_SCALE_NONE", use_armature_deform_only=False),
}


class ExportError(MocapError):
    """An export that cannot be done as asked (one line that says what to do)."""


def fbx_settings(preset: str) -> dict:
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset '{preset}' (use one of {', '.join(FBX_PRESETS)})")
    return {**FBX_COMMON, **FBX_PRESETS[preset]}


def export_action(context, obj, filepath: str, fmt: str = "FBX", preset: str = "UNITY", action=None,
                  frame_start: int | None = None, frame_end: int | None = None, fps: float | None = None) -> str:
    """Write ``obj`` (an armature, with its mesh children for FBX/glTF) animated by ``action`` (default: its
    active one). Returns the path written."""
    fmt = fmt.upper()
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}' (use FBX, GLTF, BVH or CSV)")
    if obj is None or obj.type != "ARMATURE":
        raise ExportError("export needs an armature: select the captured or retargeted rig")
    action = action or (obj.animation_data.action if obj.animation_data else None)
    if action is None:
        raise ExportError(f"'{obj.name}' has no action to export: capture, import or retarget first")
    settings = fbx_settings(preset) if fmt == "FBX" else None
    filepath = os.path.abspath(filepath) if filepath else ""
    allowed = {"FBX": (".fbx",), "GLTF": (".glb", ".gltf"), "BVH": (".bvh",), "CSV": (".csv",)}[fmt]
    if filepath and not os.path.isdir(filepath) and not filepath.lower().endswith(allowed):  # format's extension
        filepath += allowed[0]
    if not filepath:
        raise ExportError("no export file given: pick a file to write")
    check_output_file(filepath, hint="pick another file", example=f"animation{allowed[0]}", in_place=True)
    a_start, a_end = (int(round(v)) for v in action.frame_range)
    start = a_start if frame_start is None else int(frame_start)
    end = a_end if frame_end is None else int(frame_end)
    if end < start:
        raise ExportError(f"the export frame range {start}-{end} is empty (end before start)")
    scene = context.scene
    if fmt == "CSV":
        return _face_csv(scene, obj, filepath, start, end, fps)
    saved = _Saved(context, obj)
    temp = None
    try:
        scene_fps = scene.render.fps / scene.render.fps_base
        if fps and abs(fps - scene_fps) > 1e-6:
            r = fps / scene_fps
            temp = action.copy()
            temp.name = action.name + " (export)"
            _retime(temp, start, r)
            end = start + int((end - start) * r + 1e-6)  # the last sample inside the original duration
            from ..scene.pose_keys import fps_to_blender

            scene.render.fps, scene.render.fps_base = fps_to_blender(fps)
            action_used = temp
        else:
            action_used = action
        slot = obj.animation_data.action_slot
        obj.animation_data.action = action_used
        if slot is not None and action_used.slots:
            obj.animation_data.action_slot = action_used.slots[0] if action_used != action else slot
        scene.frame_start, scene.frame_end = start, end
        scene.frame_set(start)  # a track keyed invisible outside its frames is visible (selectable) here
        _select(context, obj, with_meshes=fmt != "BVH")
        try:
            if fmt == "FBX":
                bpy.ops.export_scene.fbx(filepath=filepath, **settings)
            elif fmt == "GLTF":
                bpy.ops.export_scene.gltf(filepath=filepath, use_selection=True,
                                          export_format="GLTF_SEPARATE" if filepath.lower().endswith(".gltf")
                                          else "GLB", export_animations=True,
                                          export_animation_mode="ACTIVE_ACTIONS", export_frame_range=True,
                                          export_force_sampling=True)
                gltf_times.set_frame_rate(filepath, fps or scene_fps)  # 29.83 fps stays 29.83 (see gltf_times)
            else:
                bpy.ops.export_anim.bvh(filepath=filepath, frame_start=start, frame_end=end,
                                        rotate_mode="NATIVE", root_transform_only=False)
        except (RuntimeError, OSError) as err:
            raise ExportError(f"{fmt} export to {filepath} failed: {str(err).strip().splitlines()[-1]}") from None
    finally:
        saved.restore(context, obj)
        if temp is not None:
            bpy.data.actions.remove(temp)
    return filepath


def _face_csv(scene, obj, filepath: str, start: int, end: int, fps: float | None) -> str:
    from . import arkit_csv

    scene_fps = scene.render.fps / scene.render.fps_base
    rate = float(fps or scene_fps)
    count = int((end - start) * rate / scene_fps + 1e-6) + 1  # samples inside the range at the export's rate
    weights = arkit_csv.face_weights(obj, start + np.arange(count) * scene_fps / rate)
    if weights is None:
        raise ExportError(f"'{obj.name}' has no captured face to write as ARKit CSV (capture with the Face option, "
                          "or retarget a capture that has one)")
    try:
        return arkit_csv.write(filepath, weights, rate)
    except OSError as err:
        raise ExportError(f"cannot write {filepath}: {err.strerror or err}") from None


def _retime(action, origin: float, ratio: float) -> None:
    for layer in action.layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                for fc in bag.fcurves:
                    for kp in fc.keyframe_points:
                        for attr in ("co", "handle_left", "handle_right"):
                            v = getattr(kp, attr)
                            setattr(kp, attr, (origin + (v[0] - origin) * ratio, v[1]))
                    fc.update()


def _select(context, obj, with_meshes: bool) -> None:
    if context.mode != "OBJECT" and context.active_object is not None:
        bpy.ops.object.mode_set(mode="OBJECT")
    for o in context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    if with_meshes:
        for child in obj.children:
            if child.type == "MESH":
                child.select_set(True)
    context.view_layer.objects.active = obj


class _Saved:
    def __init__(self, context, obj):
        scene = context.scene
        self.scene = (scene.frame_start, scene.frame_end, scene.frame_current, scene.render.fps,
                      scene.render.fps_base)
        self.selected = [o for o in context.view_layer.objects if o.select_get()]
        self.active = context.view_layer.objects.active
        self.action = obj.animation_data.action
        self.slot = obj.animation_data.action_slot

    def restore(self, context, obj):
        scene = context.scene
        (scene.frame_start, scene.frame_end, frame, scene.render.fps, scene.render.fps_base) = self.scene
        obj.animation_data.action = self.action
        if self.slot is not None:
            obj.animation_data.action_slot = self.slot
        for o in context.view_layer.objects:
            o.select_set(o in self.selected)
        context.view_layer.objects.active = self.active
        scene.frame_set(frame)
