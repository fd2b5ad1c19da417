"""Bake a source armature's motion onto a target armature as one new action of plain keyframes.

1. Read both rigs' rest (world space) and sample the source's mapped bones over every frame of its action
   (one ``frame_set`` per frame; the source is small).
2. transfer.target_world: the world rotation each mapped target bone should have, and the hips' path.
3. transfer.solve_pose: pose-bone values for plain parenting (numpy, all frames at once), keyed with
   ``foreach_set`` into a fresh action.
4. Rigs whose bones follow constraints or drivers (a generated Rigify rig: DEF bones follow FK controls
   through MCH bones) are then evaluated frame by frame and the keyed controls corrected until the mapped
   bones reach their rotations (a few passes; each pass propagates a control's change to the controls
   below it).

Nothing is changed when something is wrong (checked before anything is written); a failure while writing
removes the new action and restores the target's action, pose and properties.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...core import rotations
from ...core.errors import MocapError
from .. import keyframes
from . import bonemap, detect, transfer
from .rigdata import (frame_range, object_rotation, pose_matrices, rig_info, sample_source,  # noqa: F401
                      skeleton, source_action, target_rig)

RESULT_SOURCE = "tcmr_retarget_source"  # custom properties of a retargeted action
RESULT_TARGET = "tcmr_retarget_target"
MAX_PASSES = 6
TOLERANCE_DEG = 0.2


class RetargetError(MocapError):
    """Bad input to the retargeting (one line that says what to do)."""


# ------------------------------------------------------------------------------------------------ checks
def resolve_map(obj, preset: str, custom: dict | None = None, user_dir=None) -> bonemap.BoneMap:
    """The bone map for ``obj``: "AUTO" (presets, then names and hierarchy), a preset id, or "CUSTOM"
    (``custom``: {slot: bone}, e.g. the panel's edited map). Raises RetargetError naming what is missing."""
    if obj is None or obj.type != "ARMATURE":
        what = "nothing" if obj is None else f"'{obj.name}' ({obj.type.lower()})"
        raise RetargetError(f"the retarget target must be an armature, got {what}")
    names = [b.name for b in obj.data.bones]
    if preset == "AUTO":
        bm = detect.detect(rig_info(obj), user_dir)
    elif preset == "CUSTOM":
        bones = {s: b for s, b in (custom or {}).items() if b}
        unknown = sorted(b for b in bones.values() if b not in obj.data.bones)
        if unknown:
            raise RetargetError(f"'{obj.name}' has no bone(s) {', '.join(unknown)}: fix the bone map")
        bm = bonemap.BoneMap(bones=bones, preset="CUSTOM")
        auto = detect.detect(rig_info(obj), user_dir)  # keep the rig's key bones / switches if it is known
        if set(auto.bones.values()) >= set(bones.values()):
            bm.keys, bm.properties, bm.root = auto.keys, auto.properties, auto.root
            bm.snap, bm.poles = auto.snap, auto.poles
    else:
        files = bonemap.preset_files(user_dir)
        if preset not in files:
            raise RetargetError(f"unknown bone-map preset '{preset}' (known: AUTO, CUSTOM, {', '.join(files)})")
        bm = bonemap.match_preset(bonemap.load_preset(files[preset]), names, preset)
    if not bm.bones:
        raise RetargetError(f"'{obj.name}' has no recognisable humanoid bones: pick a preset or map the bones "
                            "in the panel")
    missing = bm.missing_required()
    if missing:
        labels = ", ".join(bonemap.slot_label(s) for s in missing)
        raise RetargetError(f"'{obj.name}' is missing required bones for {labels}: map them in the panel or "
                            "pick another preset")
    return bm


# ------------------------------------------------------------------------------------------------ baking
def retarget(context, source, target, preset: str = "AUTO", root_motion: bool = True,
             custom_map: dict | None = None, source_preset: str = "AUTO", user_dir=None):
    """Bake ``source``'s action onto ``target``. Returns (action, report dict with ``ratio``, ``preset``,
    ``frames``, ``passes``, ``residual_deg``)."""
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
    saved = _TargetState(target, scene)
    new = None
    try:
        motion = sample_source(scene, source, sbm, frames)
        src_sk = skeleton(source, sbm)
        tgt_sk = skeleton(target, tbm)
        world, hips, ratio = transfer.target_world(src_sk, motion, tgt_sk, root_motion=root_motion)
        rig = target_rig(target)
        follow = {tbm.bones[s]: W for s, W in world.items()}
        root = tbm.root or tbm.key_bone(tbm.bones["hips"])
        feet = [tbm.bones[f"foot.{s}"] for s in "LR"]
        _, _, ankles = transfer.solve_pose(rig, follow, tbm.keys, tbm.bones["hips"], hips, root, probe=feet)
        hips[:, 2] += transfer.floor_offset(list(ankles.values()), float(np.mean([tgt_sk.heads[f"foot.{s}"][2]
                                                                                  for s in "LR"])))
        basis_rot, root_loc, _ = transfer.solve_pose(rig, follow, tbm.keys, tbm.bones["hips"], hips, root)
        for bone, _prop, value in tbm.properties:
            target.pose.bones[bone][_prop] = value
        name = f"{action.name} · {target.name}"
        new, bag, curves = _write_action(target, name, frames, basis_rot, root, root_loc, tbm.properties)
        passes, residual = 0, 0.0
        if _needs_evaluation(target, tbm):
            passes, residual = _correct(scene, target, frames, follow, tbm, hips, root, basis_rot, root_loc,
                                        curves)
        if tbm.snap or tbm.poles:
            place_ik_controls(scene, target, frames, tbm, bag)
        new[RESULT_SOURCE] = source.name
        new[RESULT_TARGET] = target.name
    except BaseException:
        if new is not None:
            bpy.data.actions.remove(new)
        saved.restore()
        raise
    finally:
        scene.frame_set(saved.frame)
    for old in [a for a in bpy.data.actions if a != new and a.get(RESULT_SOURCE) == source.name
                and a.get(RESULT_TARGET) == target.name]:
        bpy.data.actions.remove(old)
    previous = saved.action
    if previous is not None and _alive(previous) and previous.get(RESULT_SOURCE) is None and previous.users == 0:
        previous.use_fake_user = True  # the animator's own take stays in the file (Blender drops unused actions)
    new.name = name
    return new, {"ratio": ratio, "preset": tbm.preset, "frames": len(frames), "passes": passes,
                 "residual_deg": residual, "bone_map": dict(tbm.bones)}


def _alive(idb) -> bool:
    try:
        return idb.name is not None
    except ReferenceError:
        return False


def _needs_evaluation(obj, bm) -> bool:
    if bm.keys or bm.properties:
        return True
    if obj.animation_data is not None and len(obj.animation_data.drivers):
        return True
    for pb in obj.pose.bones:
        b = pb.bone
        if pb.constraints or not b.use_inherit_rotation or b.inherit_scale not in ("FULL",):
            return True
    return False


def _rotation_channels(pb, R: np.ndarray) -> tuple[str, np.ndarray]:
    """The data path and per-frame values for a pose bone's rotation mode. R: (T, 3, 3)."""
    mode = pb.rotation_mode
    if mode in ("QUATERNION", "AXIS_ANGLE"):
        return "rotation_quaternion", rotations.quat_wxyz_make_continuous(rotations.rotmat_to_quat_wxyz(R))
    return "rotation_euler", np.unwrap(rotations.rotmat_to_euler(R, mode), axis=0)


def _write_action(obj, name, frames, basis_rot, root, root_loc, properties):
    for bone in basis_rot:
        pb = obj.pose.bones[bone]
        if pb.rotation_mode == "AXIS_ANGLE":
            pb.rotation_mode = "QUATERNION"
    action, bag = keyframes.new_action(obj, name + " (baking)")
    try:
        curves = {}
        f = np.asarray(frames, dtype=np.float64)
        groups = {}

        def group(bone):
            if bone not in groups:
                groups[bone] = bag.groups.new(bone)
            return groups[bone]

        for bone, R in basis_rot.items():
            pb = obj.pose.bones[bone]
            path, values = _rotation_channels(pb, R)
            base = f'pose.bones["{bone}"].'
            curves[bone] = [keyframes.fill_fcurve(bag, base + path, i, group(bone), f, values[:, i])
                            for i in range(values.shape[1])]
        base = f'pose.bones["{root}"].location'
        curves[(root, "location")] = [keyframes.fill_fcurve(bag, base, i, group(root), f, root_loc[:, i])
                                      for i in range(3)]
        for bone, prop, value in properties:
            keyframes.fill_fcurve(bag, f'pose.bones["{bone}"]["{prop}"]', 0, group(bone), f[[0, -1]],
                                  np.array([value, value], dtype=np.float64))
    except BaseException:
        bpy.data.actions.remove(action)
        raise
    return action, bag, curves


def _set_curves(obj, curves, bone, R):
    path, values = _rotation_channels(obj.pose.bones[bone], R)
    for i, fc in enumerate(curves[bone]):
        _set_values(fc, values[:, i])


def _set_values(fc, values):
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    co = co.reshape(-1, 2)
    co[:, 1] = values
    fc.keyframe_points.foreach_set("co", co.ravel())
    fc.update()


def _correct(scene, obj, frames, follow, bm, hips, root, basis_rot, root_loc, curves):
    """Evaluate, compare each mapped bone's world rotation with the wanted one, adjust the key bones."""
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    O = object_rotation(obj)
    mw_inv = np.linalg.inv(np.array(obj.matrix_world))
    hips_arm = hips @ mw_inv[:3, :3].T + mw_inv[:3, 3]
    key_of = {b: bm.key_bone(b) for b in follow}

    def rest_rot(name):
        return rotations.project_to_rotmat(np.array(obj.data.bones[name].matrix_local)[:3, :3])

    # the key bones' own armature-space rotations: a control and the bone it moves keep their rest relation
    # (what the mapped bone then does through the rig's constraints, twist splits and stretches is the rig's)
    want_arm = {key_of[b]: O.T @ W @ rest_rot(b).T @ rest_rot(key_of[b]) for b, W in follow.items()}
    keyed = set(key_of.values())
    # the nearest keyed ancestor of each key bone (its change carries the key bone along)
    up = {}
    for k in keyed:
        p = obj.data.bones[k].parent
        while p is not None and p.name not in keyed:
            p = p.parent
        up[k] = p.name if p is not None else None
    order = sorted(keyed, key=lambda k: len(obj.data.bones[k].parent_recursive))
    residual = 0.0
    for n_pass in range(1, MAX_PASSES + 1):
        P = np.empty((len(frames), len(obj.pose.bones), 4, 4))
        for t, f in enumerate(frames):
            scene.frame_set(int(f))
            P[t] = pose_matrices(obj)
        errs = []
        change = {}  # key bone -> achieved-to-wanted rotation (armature space), per frame
        for bone, W in want_arm.items():
            A = rotations.project_to_rotmat(P[:, index[bone], :3, :3])
            C = W @ np.swapaxes(A, -1, -2)
            errs.append(np.degrees(np.arccos(np.clip((np.trace(C, axis1=-2, axis2=-1) - 1) / 2, -1, 1))))
            change[bone] = C
        hips_err = hips_arm - P[:, index[bm.bones["hips"]], :3, 3]
        residual = float(max(e.max() for e in errs))
        if residual < TOLERANCE_DEG and np.abs(hips_err).max() < 1e-4:
            return n_pass, residual
        applied = {}  # key bone -> its world change this pass
        for k in order:
            K = rotations.project_to_rotmat(P[:, index[k], :3, :3])
            X = K @ np.swapaxes(basis_rot[k], -1, -2)  # achieved parent-side rotation
            if up[k] in applied:
                X = applied[up[k]] @ X  # the ancestor's correction carries this bone along
            K_new = change[k] @ K
            basis_rot[k] = rotations.project_to_rotmat(np.swapaxes(X, -1, -2) @ K_new)
            applied[k] = K_new @ np.swapaxes(K, -1, -2)
            _set_curves(obj, curves, k, basis_rot[k])
        if root in basis_rot:
            Rb = basis_rot[root]
        else:
            Rb = np.broadcast_to(np.array(obj.pose.bones[root].matrix_basis)[:3, :3], (len(frames), 3, 3))
        X3 = P[:, index[root], :3, :3] @ np.linalg.inv(Rb)
        root_loc += np.linalg.solve(X3, hips_err[..., None])[..., 0]
        for i, fc in enumerate(curves[(root, "location")]):
            _set_values(fc, root_loc[:, i])
    return MAX_PASSES, residual


def place_ik_controls(scene, obj, frames, bm, bag) -> None:
    """Key the IK controls on the baked (FK) pose, so that switching a limb to IK keeps it: each IK hand/foot
    control rides on its limb end as at rest, each pole sits in the limb's bend plane (or, for a straight
    limb, where it sits relative to the upper bone at rest). The IK/FK switches stay on FK.
    (``Object.convert_space`` turns the wanted pose matrices into pose-bone values against the evaluated
    parents, whatever the bones' local-location and inheritance settings.)"""
    from mathutils import Matrix

    L = {b.name: np.array(b.matrix_local) for b in obj.data.bones}
    controls = [*bm.snap, *bm.poles]
    basis = {c: np.empty((len(frames), 4, 4)) for c in controls}
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        P = {pb.name: np.array(pb.matrix) for pb in obj.pose.bones}
        want = {c: P[b] @ np.linalg.inv(L[b]) @ L[c] for c, b in bm.snap.items()}
        for c, (upper, lower, end) in bm.poles.items():
            a, b, e = (P[n][:3, 3] for n in (upper, lower, end))
            out = b - 0.5 * (a + e)
            dist = np.linalg.norm(L[c][:3, 3] - L[lower][:3, 3])
            m = P[upper] @ np.linalg.inv(L[upper]) @ L[c]  # rigid with the upper bone (a straight limb)
            if np.linalg.norm(out) > 0.02 * dist:
                m[:3, 3] = b + out / np.linalg.norm(out) * dist
            want[c] = m
        for c in controls:
            pb = obj.pose.bones[c]
            basis[c][t] = np.array(obj.convert_space(pose_bone=pb, matrix=Matrix(want[c].tolist()),
                                                     from_space="POSE", to_space="LOCAL"))
    fr = np.asarray(frames, dtype=np.float64)
    for c in controls:
        group = bag.groups.new(c)
        pb = obj.pose.bones[c]
        if c in bm.snap:
            path, values = _rotation_channels(pb, rotations.project_to_rotmat(basis[c][:, :3, :3]))
            for i in range(values.shape[1]):
                keyframes.fill_fcurve(bag, f'pose.bones["{c}"].{path}', i, group, fr, values[:, i])
        for i in range(3):
            keyframes.fill_fcurve(bag, f'pose.bones["{c}"].location', i, group, fr, basis[c][:, i, 3])


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
