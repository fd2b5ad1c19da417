"""Rig builders for the retargeting tests: hand-built humanoids named like Mixamo, Unreal (UE5), VRM and a
nameless one, with A-pose rests, bent elbows, odd bone rolls and tails that do not point along the limb;
the Rigify metarig and a generated Rigify rig; a source capture armature over a motion exercising every limb.
"""

from __future__ import annotations

import numpy as np

import blender_helpers as H

# canonical joints: key, parent key, head (metres, Z up, facing -Y, the character's left on +X)
def humanoid_joints(arm_down_deg=40.0, elbow_bend_deg=15.0, n_spine=3, n_neck=1, scale=1.0, collars=True,
                    leg_scale=1.0):
    a = np.radians(arm_down_deg)
    e = np.radians(elbow_bend_deg)
    J = []

    def add(key, parent, head):
        J.append((key, parent, np.asarray(head, dtype=np.float64) * scale))

    add("root", None, (0, 0, 0))
    hips_z = 0.05 + 0.88 * leg_scale
    add("hips", "root", (0, 0.01, hips_z))
    top = hips_z + 0.45
    prev = "hips"
    for i in range(n_spine):
        z = hips_z + 0.06 + i * (top - hips_z - 0.06) / n_spine
        add(f"spine{i}", prev, (0, 0.01 - 0.01 * i, z))
        prev = f"spine{i}"
    chest = prev
    neck_top = top + 0.17
    for i in range(n_neck):
        add(f"neck{i}", prev, (0, 0.0, top + 0.02 + i * 0.15 / n_neck))
        prev = f"neck{i}"
    add("head", prev, (0, -0.01, neck_top))
    add("head_end", "head", (0, -0.01, neck_top + 0.2))
    for side, sx in (("L", 1.0), ("R", -1.0)):
        sh = np.array([0.18 * sx, 0.0, top - 0.03])
        if collars:
            add(f"shoulder.{side}", chest, (0.03 * sx, -0.03, top - 0.02))
        arm_dir = np.array([np.cos(a) * sx, 0.0, -np.sin(a)])
        elbow = sh + 0.28 * arm_dir
        fore_dir = np.array([np.cos(a) * np.cos(e) * sx, -np.sin(e), -np.sin(a) * np.cos(e)])
        wrist = elbow + 0.25 * fore_dir
        add(f"upper_arm.{side}", f"shoulder.{side}" if collars else chest, sh)
        add(f"forearm.{side}", f"upper_arm.{side}", elbow)
        add(f"hand.{side}", f"forearm.{side}", wrist)
        add(f"finger.{side}", f"hand.{side}", wrist + 0.09 * fore_dir)
        add(f"finger_end.{side}", f"finger.{side}", wrist + 0.17 * fore_dir)
        hip = np.array([0.095 * sx, 0.01, hips_z - 0.06])
        knee = np.array([0.1 * sx, -0.01, 0.05 + 0.46 * leg_scale])
        ankle = np.array([0.105 * sx, 0.03, 0.08])
        add(f"thigh.{side}", "hips", hip)
        add(f"shin.{side}", f"thigh.{side}", knee)
        add(f"foot.{side}", f"shin.{side}", ankle)
        add(f"toe.{side}", f"foot.{side}", (0.11 * sx, -0.1, 0.02))
        add(f"toe_end.{side}", f"toe.{side}", (0.11 * sx, -0.18, 0.02))
    return J


MIXAMO = {"root": None, "hips": "Hips", "head": "Head", "head_end": "HeadTop_End",
          **{f"spine{i}": n for i, n in enumerate(["Spine", "Spine1", "Spine2"])}, "neck0": "Neck"}
for _s, _w in (("L", "Left"), ("R", "Right")):
    MIXAMO.update({f"shoulder.{_s}": f"{_w}Shoulder", f"upper_arm.{_s}": f"{_w}Arm", f"forearm.{_s}": f"{_w}ForeArm",
                   f"hand.{_s}": f"{_w}Hand", f"finger.{_s}": f"{_w}HandIndex1", f"finger_end.{_s}": f"{_w}HandIndex2",
                   f"thigh.{_s}": f"{_w}UpLeg", f"shin.{_s}": f"{_w}Leg", f"foot.{_s}": f"{_w}Foot",
                   f"toe.{_s}": f"{_w}ToeBase", f"toe_end.{_s}": f"{_w}Toe_End"})
UE5 = {"root": "root", "hips": "pelvis", "head": "head", "head_end": None,
       **{f"spine{i}": f"spine_0{i + 1}" for i in range(5)}, "neck0": "neck_01", "neck1": "neck_02"}
for _s in "LR":
    _l = _s.lower()
    UE5.update({f"shoulder.{_s}": f"clavicle_{_l}", f"upper_arm.{_s}": f"upperarm_{_l}",
                f"forearm.{_s}": f"lowerarm_{_l}", f"hand.{_s}": f"hand_{_l}", f"finger.{_s}": f"index_01_{_l}",
                f"finger_end.{_s}": f"index_02_{_l}", f"thigh.{_s}": f"thigh_{_l}", f"shin.{_s}": f"calf_{_l}",
                f"foot.{_s}": f"foot_{_l}", f"toe.{_s}": f"ball_{_l}", f"toe_end.{_s}": None})
VRM = {"root": None, "hips": "hips", "head": "head", "head_end": None, "spine0": "spine", "spine1": "chest",
       "neck0": "neck"}
for _s, _w in (("L", "left"), ("R", "right")):
    VRM.update({f"upper_arm.{_s}": f"{_w}UpperArm", f"forearm.{_s}": f"{_w}LowerArm", f"hand.{_s}": f"{_w}Hand",
                f"finger.{_s}": f"{_w}IndexProximal", f"finger_end.{_s}": f"{_w}IndexIntermediate",
                f"thigh.{_s}": f"{_w}UpperLeg", f"shin.{_s}": f"{_w}LowerLeg", f"foot.{_s}": f"{_w}Foot",
                f"toe.{_s}": f"{_w}Toes", f"toe_end.{_s}": None})

STYLES = {
    # style: (names, joint options, odd tails/rolls, object transform like an FBX import (Y-up cm data))
    "mixamo": (MIXAMO, dict(arm_down_deg=45.0, elbow_bend_deg=20.0, n_spine=3, n_neck=1, scale=100.0), True, True),
    "ue5": (UE5, dict(arm_down_deg=35.0, elbow_bend_deg=10.0, n_spine=5, n_neck=2, scale=1.1, leg_scale=1.1),
            True, False),
    "arms_down": (MIXAMO, dict(arm_down_deg=80.0, elbow_bend_deg=30.0, n_spine=2, n_neck=1, scale=0.9), True,
                  False),
    "vrm": (VRM, dict(arm_down_deg=30.0, elbow_bend_deg=0.0, n_spine=2, n_neck=1, scale=0.85, collars=False),
            True, False),
    "nameless": (None, dict(arm_down_deg=0.0, elbow_bend_deg=5.0, n_spine=2, n_neck=1, scale=0.95), False, False),
}


def build_rig(context, style: str, name: str | None = None, prefix: str = ""):
    """A hand-built humanoid armature of ``style`` (see STYLES). Returns the object."""
    import bpy

    names, opts, odd, fbx_like = STYLES[style]
    joints = humanoid_joints(**opts)
    keep = [(k, p, h) for k, p, h in joints if names is None or names.get(k)]
    index = {k: i for i, (k, _, _) in enumerate(keep)}

    def bone_name(k):
        if names is None:
            return f"bone_{index[k]:03d}"
        return prefix + names[k]

    def parent_of(p):
        while p is not None and p not in index:
            p = next(pp for kk, pp, _ in joints if kk == p)
        return p

    data = bpy.data.armatures.new(name or style)
    obj = bpy.data.objects.new(name or style, data)
    context.scene.collection.objects.link(obj)
    children = {}
    for k, p, _ in keep:
        children.setdefault(parent_of(p), []).append(k)
    rng = np.random.default_rng(len(style))
    R_data = np.eye(3)
    if fbx_like:  # data Y-up (x, z, -y), object rotated +90° about X and scaled 0.01, as FBX imports are
        R_data = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    from tcmr_mocap.blender_addon.scene.armature import edit_mode

    with edit_mode(context, obj) as arm:
        ebs = {}
        for k, p, head in keep:
            eb = arm.edit_bones.new(bone_name(k))
            h = R_data @ head
            kids = children.get(k, [])
            own = head
            if kids:
                tail_w = dict((kk, hh) for kk, _, hh in keep)[kids[0]]
            else:
                par = dict((kk, hh) for kk, _, hh in keep).get(parent_of(p), head - np.array([0, 0, 0.1]))
                tail_w = own + 0.5 * (own - par)
            if np.linalg.norm(tail_w - own) < 1e-6:
                tail_w = own + np.array([0, 0, 0.05 * opts.get("scale", 1.0)])
            if odd:  # tails off the limb (as Mixamo/UE/VRoid exports) and odd rolls
                length = np.linalg.norm(tail_w - own)
                wobble = rng.normal(size=3)
                tail_w = own + (tail_w - own) + 0.6 * length * wobble / np.linalg.norm(wobble)
            eb.head = h.tolist()
            eb.tail = (R_data @ tail_w).tolist()
            eb.roll = float(rng.uniform(-np.pi, np.pi)) if odd else 0.0
            if p is not None and parent_of(p) is not None:
                eb.parent = ebs[parent_of(p)]
            ebs[k] = eb
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    if fbx_like:
        obj.rotation_euler = (np.pi / 2, 0.0, 0.0)
        obj.scale = (0.01, 0.01, 0.01)
    obj.location = (1.5, 0.5, 0.0)
    context.view_layer.update()
    return obj


def build_metarig(context):
    import addon_utils
    import bpy

    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    obj = context.active_object
    obj.location = (-1.5, 0.0, 0.0)
    context.view_layer.update()
    return obj


def build_rigify_rig(context):
    """A rig generated by Blender's bundled Rigify from the human metarig (IK by default)."""
    import bpy

    meta = build_metarig(context)
    context.view_layer.objects.active = meta
    bpy.ops.pose.rigify_generate()
    rig = context.scene.objects.get("rig") or context.active_object
    context.view_layer.update()
    return meta, rig


def every_limb_motion(n_frames: int = 120, fps: float = 30.0):
    """procedural_motion (walk, arm raises, elbows, full turn) plus a squat in the middle with a forward
    spine bend and a nod, in SMPL's y-up world. Returns (rotmat (T, 24, 3, 3), transl (T, 3))."""
    R, transl = H.procedural_motion(n_frames, fps)
    t = np.arange(n_frames) / fps
    squat = np.clip(np.sin(np.pi * (t / t[-1] - 0.3) / 0.4), 0.0, None) * ((t / t[-1] > 0.3) & (t / t[-1] < 0.7))
    for j, amount in ((1, -1.2), (2, -1.2), (4, 2.0), (5, 2.0), (7, -0.7), (8, -0.7)):
        R[:, j] = H.rot("x", amount * squat) @ R[:, j]
    R[:, 3] = H.rot("x", 0.4 * squat) @ R[:, 3]  # lean forward
    R[:, 6] = H.rot("z", 0.2 * np.sin(2 * np.pi * t)) @ R[:, 6]
    R[:, 12] = H.rot("x", 0.3 * np.sin(2 * np.pi * 0.5 * t)) @ R[:, 12]  # nod
    R[:, 13] = H.rot("y", 0.3 * squat) @ R[:, 13]  # collars
    R[:, 14] = H.rot("y", -0.3 * squat) @ R[:, 14]
    transl = transl.copy()
    transl[:, 1] -= 0.35 * squat
    return R, transl


def build_source(context, tmp_path, smpl_arrays, n_frames: int = 120, betas=None):
    """A capture armature (the add-on's own import) moving through every_limb_motion. Returns the object."""
    import bpy

    betas = np.zeros(10) if betas is None else betas
    R, transl = H.to_camera_frame(*every_limb_motion(n_frames))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(n_frames), betas)},
                           video_path=str(tmp_path / "walk.mp4"))
    result.save(tmp_path / "walk.npz")
    assert bpy.ops.tcmr.import_motion(filepath=str(tmp_path / "walk.npz"), create_mesh=False) == {"FINISHED"}
    return bpy.data.objects["walk.mp4 · track 1"]


SEGMENTS = {  # judged segment: (from slot, to slot); chains use their first entries
    "upper_arm": ("upper_arm", "forearm"), "forearm": ("forearm", "hand"), "thigh": ("thigh", "shin"),
    "shin": ("shin", "foot"), "foot": ("foot", "toe"),
}


def _segment_slots(bm):
    out = {}
    for name, (a, b) in SEGMENTS.items():
        for s in "LR":
            if f"{a}.{s}" in bm.bones and f"{b}.{s}" in bm.bones:
                out[f"{name}.{s}"] = (bm.bones[f"{a}.{s}"], bm.bones[f"{b}.{s}"])
    spine0, neck0 = bm.bones.get("spine.0"), bm.bones.get("neck.0")
    if spine0 and neck0:
        out["spine"] = (spine0, neck0)
    if neck0:
        out["neck"] = (neck0, bm.bones["head"])
    return out


def posed_heads(obj, names, frames) -> np.ndarray:
    """(T, len(names), 3) world heads of pose bones over frames."""
    import bpy

    scene = bpy.context.scene
    out = np.empty((len(frames), len(names), 3))
    for i, f in enumerate(frames):
        scene.frame_set(int(f))
        mw = np.array(obj.matrix_world)
        heads = np.array([obj.pose.bones[n].head for n in names])
        out[i] = heads @ mw[:3, :3].T + mw[:3, 3]
    return out


def limb_errors(source, target, frames, target_preset="AUTO"):
    """Angle (degrees) between each judged segment's world direction on the target and on the source, per
    frame: {segment: (T,)}; and (error of the hips' horizontal path against the source's scaled by the leg
    ratio (T,) metres, leg ratio). (Vertically the hips also carry the feet to the floor.)"""
    from tcmr_mocap.blender_addon.retarget import bake

    sbm = bake.resolve_map(source, "AUTO")
    tbm = bake.resolve_map(target, target_preset)
    s_seg, t_seg = _segment_slots(sbm), _segment_slots(tbm)
    common = [k for k in t_seg if k in s_seg]
    s_names = sorted({n for k in common for n in s_seg[k]} | {sbm.bones["hips"]})
    t_names = sorted({n for k in common for n in t_seg[k]} | {tbm.bones["hips"]})
    S = posed_heads(source, s_names, frames)
    T = posed_heads(target, t_names, frames)

    def direction(P, names, a, b):
        d = P[:, names.index(b)] - P[:, names.index(a)]
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    errors = {}
    for k in common:
        ds, dt = direction(S, s_names, *s_seg[k]), direction(T, t_names, *t_seg[k])
        errors[k] = np.degrees(np.arccos(np.clip(np.sum(ds * dt, -1), -1.0, 1.0)))
    ratio = _leg(target, tbm) / _leg(source, sbm)
    hs, ht = S[:, s_names.index(sbm.bones["hips"])], T[:, t_names.index(tbm.bones["hips"])]
    path_err = np.linalg.norm(((ht - ht[:1]) - ratio * (hs - hs[:1]))[:, :2], axis=-1)
    return errors, path_err, ratio


def _leg(obj, bm):
    mw = np.array(obj.matrix_world)
    h = {s: mw[:3, :3] @ np.array(obj.data.bones[bm.bones[s]].head_local) + mw[:3, 3] for s in bm.bones}
    return np.mean([np.linalg.norm(h[f"shin.{s}"] - h[f"thigh.{s}"]) + np.linalg.norm(h[f"foot.{s}"] - h[f"shin.{s}"])
                    for s in "LR"])
