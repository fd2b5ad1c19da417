"""Bake a source armature's motion onto a target armature as one new action of plain keyframes.

1. Read both rigs' rest (world space: where hands end, the hand frames, the skinned points under the feet)
   and sample the source's mapped bones over every frame of its action (one ``frame_set`` per frame).
2. transfer.target_world: the world rotation each mapped target bone should have; ground.root_path: where the
   hips go (the source's path scaled by the leg ratio, in place, or — ``root_motion="overlay"``, for renders
   over the footage — the source's own path, unscaled, on the source's floor).
3. transfer.solve_pose: pose-bone values for plain parenting (numpy, all frames at once); control roots that
   carry a foot or hand are moved to the limb's end; the soles measured on that pose set the root's height so
   that the planted feet stand on the floor (ground.floor_offsets); keyed with ``foreach_set`` into a fresh
   action. The rig's own IK controls and poles are keyed on that pose.
4. Rigs whose bones follow constraints or drivers (a generated Rigify rig) are then evaluated frame by frame
   and corrected (evaluate.correct), soles included.
5. A captured face (the source's ARKit properties) is keyed onto the target's ARKit-named shape keys, or its VRM
   expressions (face_transfer).

Fingers: a capture's SMPL-X finger bones (``left_index1`` …) are mapped by the ``smpl`` preset like any finger
chain, and move the target's fingers through transfer.target_world (relative to the hand, between the two
hand frames); a source without finger bones gives the target a relaxed hand.

Nothing is changed when something is wrong (checked before anything is written); a failure while writing
removes the new action and restores the target's action, pose and properties.
"""

from __future__ import annotations

from contextlib import contextmanager

import bpy
import numpy as np

from ...core.errors import MocapError
from ..scene.builder import alive
from . import bonemap, detect, evaluate, face_transfer, ground, transfer
from .rigdata import Skin, frame_range, rig_info, sample_source, skeleton, soles, source_action, target_rig

RESULT_SOURCE = "tcmr_retarget_source"  # custom properties of a retargeted action
RESULT_TARGET = "tcmr_retarget_target"
MAX_PASSES = evaluate.MAX_PASSES


class RetargetError(MocapError):
    """Bad input to the retargeting (one line that says what to do); ``bone_map``: what could be mapped (for the
    panel to offer when slots are missing)."""

    def __init__(self, message: str, bone_map: dict | None = None):
        super().__init__(message)
        self.bone_map = bone_map or {}


# ------------------------------------------------------------------------------------------------ checks
def resolve_map(obj, preset: str, custom: dict | None = None, user_dir=None) -> bonemap.BoneMap:
    """The bone map for ``obj``: "AUTO" (presets, then names and hierarchy), a preset id, or "CUSTOM"
    (``custom``: {slot: bone}, e.g. the panel's edited map). Raises RetargetError naming what is missing."""
    if obj is None or obj.type != "ARMATURE":
        what = "nothing" if obj is None else f"'{obj.name}' ({obj.type.lower()})"
        raise RetargetError(f"the retarget target must be an armature, got {what}")
    names = [b.name for b in obj.data.bones]
    info = rig_info(obj)
    if preset == "AUTO":
        bm = detect.detect(info, user_dir)
    elif preset == "CUSTOM":
        bones = {s: b for s, b in (custom or {}).items() if b}
        unknown = sorted(b for b in bones.values() if b not in obj.data.bones)
        if unknown:
            raise RetargetError(f"'{obj.name}' has no bone(s) {', '.join(unknown)}: fix the bone map")
        twice = sorted({b for b in bones.values() if list(bones.values()).count(b) > 1})
        if twice:
            slots = [bonemap.slot_label(s) for s, b in bones.items() if b == twice[0]]
            raise RetargetError(f"bone '{twice[0]}' is mapped to {' and '.join(slots)}: one bone per part")
        bm = bonemap.BoneMap(bones=bones, preset="CUSTOM")
        auto = detect.detect(info, user_dir)  # keep the rig's key bones / switches / controls if it is known
        if set(auto.bones.values()) >= set(bones.values()):
            bm.keys, bm.properties, bm.root = auto.keys, auto.properties, auto.root
            bm.snap, bm.poles = auto.snap, auto.poles
    else:
        files = bonemap.preset_files(user_dir)
        if preset not in files:
            raise RetargetError(f"unknown bone-map preset '{preset}' (known: AUTO, CUSTOM, {', '.join(files)})")
        bm = bonemap.match_preset(bonemap.load_preset(files[preset]), names, preset)
        detect.complete_hands(info, bm)
        detect.ik_controls(info, bm)
    if preset != "CUSTOM":
        detect.split_torso(info, bm)
    if not bm.bones:
        raise RetargetError(f"'{obj.name}' has no recognisable humanoid bones: pick a preset or map the bones "
                            "in the panel")
    missing = bm.missing_required()
    if missing:
        labels = ", ".join(bonemap.slot_label(s) for s in missing)
        raise RetargetError(f"'{obj.name}' is missing required bones for {labels}: map them in the panel or "
                            "pick another preset", bone_map=dict(bm.bones))
    return bm


def root_mode(root_motion) -> str:
    """True -> "path", False -> "in_place", or one of ground.ROOT_MODES."""
    if isinstance(root_motion, str):
        if root_motion not in ground.ROOT_MODES:
            raise RetargetError(f"unknown root motion {root_motion!r} (one of {', '.join(ground.ROOT_MODES)})")
        return root_motion
    return "path" if root_motion else "in_place"


# ------------------------------------------------------------------------------------------------ baking
def retarget(context, source, target, preset: str = "AUTO", root_motion=True, custom_map: dict | None = None,
             source_preset: str = "AUTO", user_dir=None, fingers: dict | None = None):
    """Bake ``source``'s action onto ``target``. ``root_motion``: True (the source's path scaled by the leg
    ratio), False (in place) or "overlay" (the source's own path and floor, unscaled: the character over the
    captured person); ``fingers``: captured finger rotations (hands.mano_to_hand_frame) for the target's
    finger chains. Returns (action, report dict with ``ratio``, ``preset``, ``frames``, ``passes``,
    ``residual_deg``, ``bone_map``)."""
    mode = root_mode(root_motion)
    if source is None or source.type != "ARMATURE":
        raise RetargetError("the retarget source must be an armature (a capture or an imported motion)")
    if target is not None and source == target:
        raise RetargetError("source and target are the same armature: pick the character rig as the target")
    action = source_action(source)
    if action is None:
        raise RetargetError(f"'{source.name}' has no action to retarget: capture or import a motion first")
    tbm = resolve_map(target, preset, custom_map, user_dir)
    try:
        sbm = resolve_map(source, source_preset, None, user_dir)
    except RetargetError as err:
        raise RetargetError(f"source: {err}") from None
    frames = frame_range(action)
    scene = context.scene
    fps = scene.render.fps / scene.render.fps_base
    saved = _TargetState(target, scene)
    keys, face_bake = None, None
    try:
        motion = sample_source(scene, source, sbm, frames)
        motion.fingers = dict(fingers or {})
        skin = Skin(target)  # its meshes, read once
        src_sk, tgt_sk = skeleton(source, sbm), skeleton(target, tbm, skin)
        world = transfer.target_world(src_sk, motion, tgt_sk)
        bad = [tbm.bones[s] for s, W in world.items() if not np.isfinite(W).all()]
        if bad:
            raise RetargetError(f"'{target.name}': bone(s) {', '.join(bad[:3])} have no length to aim (a part and "
                                "the next one start at the same point): check the bone map")
        rig = target_rig(target)
        under_feet = soles(target, tbm, rig, skin)
        source_floor = _source_floor(source, sbm, src_sk, motion)
        hips, ratio, floor = ground.root_path(src_sk, motion, tgt_sk, mode, under_feet.floor, source_floor)
        follow = {tbm.bones[s]: W for s, W in world.items()}
        root = tbm.root or tbm.key_bone(tbm.bones["hips"])
        pins = _pins(tbm)
        contacts, heights = ground.planted(ground.foot_points(src_sk, motion), fps, ground.leg_length(src_sk))
        legs = {s: tuple(tbm.bones[f"{p}.{s}"] for p in ("thigh", "shin", "foot")) for s in "LR"}
        footing = ground.Footing(under_feet, contacts, ratio * heights, floor, legs, follow, rig)
        pose = transfer.solve_pose(rig, follow, tbm.keys, tbm.bones["hips"], hips, root, pins)
        evaluated = evaluate.needs_evaluation(target, tbm)
        if not tbm.keys:  # plain bones: the numpy pose is the rig's (Rigify-like rigs: measured when evaluated)
            for _ in range(3):
                hips[:, 2] += footing.update(pose.P)
                pose = transfer.solve_pose(rig, follow, tbm.keys, tbm.bones["hips"], hips, root, pins)
        for bone, prop, value in tbm.properties:
            target.pose.bones[bone][prop] = value
        name = f"{action.name} · {target.name}"
        keys = _write(target, name + " (baking)", frames, pose, root, tbm)
        if not tbm.keys and (tbm.snap or tbm.poles):
            evaluate.key_controls(keys, evaluate.ik_basis_numpy(rig, pose.P, tbm.snap, tbm.poles), tbm.snap)
        passes, residual, P_eval = 0, 0.0, None
        if evaluated:
            with _meshes_resting(target):
                passes, residual, P_eval = evaluate.correct(scene, target, frames, follow, tbm, hips, root, pose,
                                                            keys, footing if tbm.keys else None)
                if tbm.keys and (tbm.snap or tbm.poles):
                    controls = [*tbm.snap, *tbm.poles]
                    if P_eval is not None and evaluate.plain_controls(target, controls, P_eval):
                        P_rig = evaluate.to_rig_order(P_eval, target, rig.names)
                        basis = evaluate.ik_basis_numpy(rig, P_rig, tbm.snap, tbm.poles, parent_space=tuple(
                            c for c in controls if not target.data.bones[c].use_local_location))
                    else:
                        basis = evaluate.ik_basis_evaluated(scene, target, frames, tbm.snap, tbm.poles)
                    evaluate.key_controls(keys, basis, tbm.snap)
        new = keys.action
        new[RESULT_SOURCE] = source.name
        new[RESULT_TARGET] = target.name
        face_bake = face_transfer.transfer(source, target, frames, f"{action.name} · face")
    except BaseException:
        if face_bake is not None:
            face_bake.undo()
        if keys is not None:
            keys.remove()
        saved.restore()
        raise
    finally:
        scene.frame_set(saved.frame)
    face_bake.commit()
    for old in [a for a in bpy.data.actions if a != new and a.get(RESULT_SOURCE) == source.name
                and a.get(RESULT_TARGET) == target.name]:
        bpy.data.actions.remove(old)
    previous = saved.action
    if previous is not None and alive(previous) and previous.get(RESULT_SOURCE) is None and previous.users == 0:
        previous.use_fake_user = True  # the animator's own take stays in the file (Blender drops unused actions)
    new.name = name
    return new, {"ratio": ratio, "preset": tbm.preset, "frames": len(frames), "passes": passes,
                 "residual_deg": residual, "bone_map": dict(tbm.bones), "root": mode,
                 "face_keys": face_bake.keys, "face_mode": face_bake.mode}


def _write(obj, name, frames, pose, root, bm) -> evaluate.Keys:
    for bone in pose.basis_rot:
        pb = obj.pose.bones[bone]
        if pb.rotation_mode == "AXIS_ANGLE":
            pb.rotation_mode = "QUATERNION"
    keys = evaluate.Keys(obj, name, frames)
    try:
        for bone, R in pose.basis_rot.items():
            keys.rotation(bone, R)
        keys.location(root, pose.root_loc)
        for bone, loc in pose.carriers.items():
            keys.location(bone, loc)
        for bone, prop, value in bm.properties:
            keys.switch(bone, prop, value)
    except BaseException:
        keys.remove()
        raise
    return keys


def _pins(bm) -> dict:
    """{foot/hand bone: shin/forearm bone}: limb ends that may hang under a separate control root."""
    out = {}
    for side in "LR":
        for end, limb in (("foot", "shin"), ("hand", "forearm")):
            a, b = bm.bones.get(f"{end}.{side}"), bm.bones.get(f"{limb}.{side}")
            if a and b and not bm.keys:
                out[a] = b
    return out


def _source_floor(obj, bm, sk, motion) -> float:
    """The source's floor (world z): where its lowest foot points stand, less their height above its soles at
    rest (its mesh's, if it has one)."""
    low = ground.foot_points(sk, motion)[..., 2].min(axis=(1, 2))
    rest_points = ground.foot_points(sk, None)[..., 2].min()
    rest_soles = soles(obj, bm, target_rig(obj)).floor
    return float(np.percentile(low, 5)) - (rest_points - rest_soles)


@contextmanager
def _meshes_resting(obj):
    """While the rig is evaluated frame by frame, the meshes it deforms are not (nothing reads them then)."""
    mods = [m for o in bpy.data.objects if o.type == "MESH" for m in o.modifiers
            if m.type == "ARMATURE" and m.object == obj and m.show_viewport]
    for m in mods:
        m.show_viewport = False
    try:
        yield
    finally:
        for m in mods:
            m.show_viewport = True


class _TargetState:
    """What baking may change on the target: its action and slot, rotation modes, custom properties, pose."""

    def __init__(self, obj, scene):
        self.obj = obj
        self.frame = scene.frame_current
        anim = obj.animation_data
        self.had_anim = anim is not None
        self.action = anim.action if anim else None
        self.slot = anim.action_slot if anim else None
        self.modes = {pb.name: pb.rotation_mode for pb in obj.pose.bones}
        self.props = {(pb.name, k): pb[k] for pb in obj.pose.bones for k in pb.keys()
                      if isinstance(pb[k], (int, float))}
        self.basis = {pb.name: pb.matrix_basis.copy() for pb in obj.pose.bones}

    def restore(self):
        obj = self.obj
        if self.had_anim:
            obj.animation_data.action = self.action
            if self.action is not None and self.slot is not None:
                obj.animation_data.action_slot = self.slot
        elif obj.animation_data is not None:
            obj.animation_data_clear()
        for pb in obj.pose.bones:
            pb.rotation_mode = self.modes[pb.name]
            pb.matrix_basis = self.basis[pb.name]
        for (bone, key), value in self.props.items():
            obj.pose.bones[bone][key] = value
