"""Real recorded motion for the retargeting tests, and the measures a retarget is judged by, computed from
the evaluated scene with plain, slow methods that share nothing with the retargeting code:

- limbs: each judged segment's world direction (a bone's head to the next joint's head) on the target against
  the source's, per frame (degrees);
- hands: the target's wrist -> base of its fingers (the mean head of the index, middle, ring and little finger
  roots) or -> the centroid of its hand mesh, against the source's wrist -> hand joint (degrees);
- toes: the toe's bend relative to the foot (signed, about the body's left axis), change since rest, target
  against source (degrees);
- soles: the lowest point of the evaluated (skinned) mesh under each foot, or of the foot and toe bones
  without a mesh, against the rig's rest floor, on the frames where the source's foot is planted (metres).

Motion: a CMU BVH clip (tests/realdata.py) cut and resampled, read by Blender's BVH importer, and baked onto
the add-on's own SMPL capture armature (the source every capture gives).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CMU_SCALE = 0.0254 / 0.45  # CMU BVH units -> metres (one unit is 1/0.45 inch)
SMPL_SLOTS = {"hips": "pelvis", "head": "head", "spine.0": "spine1", "neck.0": "neck"}
for _S, _s in (("L", "left"), ("R", "right")):
    SMPL_SLOTS.update({f"shoulder.{_S}": f"{_s}_collar", f"upper_arm.{_S}": f"{_s}_shoulder",
                       f"forearm.{_S}": f"{_s}_elbow", f"hand.{_S}": f"{_s}_wrist", f"hand_end.{_S}": f"{_s}_hand",
                       f"thigh.{_S}": f"{_s}_hip", f"shin.{_S}": f"{_s}_knee", f"foot.{_S}": f"{_s}_ankle",
                       f"toe.{_S}": f"{_s}_foot"})
SEGMENTS = {"upper_arm": "forearm", "forearm": "hand", "thigh": "shin", "shin": "foot", "foot": "toe"}


# ---------------------------------------------------------------------------------------------- motion
def cut_bvh(src, dst, start: int, count: int, step: int) -> Path:
    """A BVH with frames start, start+step, … (count of them) of ``src``, its frame time scaled by step."""
    lines = Path(src).read_text().splitlines()
    m = next(i for i, line in enumerate(lines) if line.strip().upper() == "MOTION")
    frame_time = float(lines[m + 2].split(":")[1])
    frames = [line for line in lines[m + 3:] if line.strip()]
    keep = frames[start:start + count * step:step]
    if len(keep) < count:
        raise ValueError(f"{src} has {len(frames)} frames, fewer than {start} + {count} x {step}")
    out = lines[:m + 1] + [f"Frames: {count}", f"Frame Time: {frame_time * step:.7f}"] + keep
    Path(dst).write_text("\n".join(out) + "\n")
    return Path(dst)


def import_bvh(context, path, scale: float = CMU_SCALE):
    """Blender's BVH importer; returns the armature (frames from 1, scene fps set to the file's)."""
    import bpy

    before = set(bpy.data.objects)
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=scale, frame_start=1, use_fps_scale=False,
                            update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE")
    return next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")


def smpl_source(context, tmp_path, smpl_arrays, motion_arm, name="capture"):
    """The add-on's SMPL capture armature (imported from a still result) with ``motion_arm``'s motion baked
    on by the retargeting. Returns the armature."""
    import bpy
    import blender_helpers as H
    from tcmr_mocap.blender_addon.retarget import bake

    n = 2
    R = np.tile(np.eye(3), (n, 24, 1, 1))
    result = H.make_result(smpl_arrays, {1: (*H.to_camera_frame(R, np.zeros((n, 3))), np.arange(n), np.zeros(10))},
                           video_path=str(Path(tmp_path) / f"{name}.mp4"))
    result.save(Path(tmp_path) / f"{name}.npz")
    fps = context.scene.render.fps
    assert bpy.ops.tcmr.import_motion(filepath=str(Path(tmp_path) / f"{name}.npz"), create_mesh=False,
                                      set_scene=False) == {"FINISHED"}
    smpl = bpy.data.objects[f"{name}.mp4 · track 1"]
    context.scene.render.fps = fps
    bake.retarget(context, motion_arm, smpl)
    return smpl


# ---------------------------------------------------------------------------------------------- sampling
def frames_of(obj) -> np.ndarray:
    start, end = obj.animation_data.action.frame_range
    return np.arange(int(round(start)), int(round(end)) + 1)


def pose_world(obj, names, frames) -> np.ndarray:
    """(T, len(names), 4, 4) world matrices of pose bones (scaled by the object)."""
    import bpy

    scene = bpy.context.scene
    out = np.empty((len(frames), len(names), 4, 4))
    for i, f in enumerate(frames):
        scene.frame_set(int(f))
        mw = np.array(obj.matrix_world)
        out[i] = [mw @ np.array(obj.pose.bones[n].matrix) for n in names]
    return out


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(np.sum(_unit(a) * _unit(b), -1), -1.0, 1.0)))


def _rot(M):
    """Rotation part of (..., 4, 4) world matrices with scale."""
    R = M[..., :3, :3]
    return R / np.linalg.norm(R, axis=-2, keepdims=True)


def rest_world(obj, name) -> np.ndarray:
    return np.array(obj.matrix_world) @ np.array(obj.data.bones[name].matrix_local)


# ---------------------------------------------------------------------------------------------- measures
def limb_angles(source, source_slots, target, roles, frames) -> dict:
    """{segment: (T,) degrees} for every judged segment both rigs have (limbs, the spine's first bone to the
    neck, the neck to the head)."""
    pairs = {}
    for part, nxt in SEGMENTS.items():
        for S in "LR":
            pairs[f"{part}.{S}"] = (f"{part}.{S}", f"{nxt}.{S}")
    pairs["spine"], pairs["neck"] = ("spine.0", "neck.0"), ("neck.0", "head")
    pairs = {k: v for k, v in pairs.items() if all(s in source_slots and s in roles for s in v)}
    s_names = sorted({source_slots[s] for v in pairs.values() for s in v})
    t_names = sorted({roles[s] for v in pairs.values() for s in v})
    S = pose_world(source, s_names, frames)[..., :3, 3]
    T = pose_world(target, t_names, frames)[..., :3, 3]
    out = {}
    for k, (a, b) in pairs.items():
        ds = S[:, s_names.index(source_slots[b])] - S[:, s_names.index(source_slots[a])]
        dt = T[:, t_names.index(roles[b])] - T[:, t_names.index(roles[a])]
        out[k] = _angle(ds, dt)
    return out


def _finger_roots(roles, S):
    return [roles[f"{f}1.{S}"] for f in ("index", "middle", "ring", "little") if f"{f}1.{S}" in roles]


def hand_angles(source, source_slots, target, roles, frames) -> dict:
    """{hand.L/R: (T,) degrees}: the target's wrist -> finger bases (or hand-mesh centroid) against the
    source's wrist -> hand end."""
    out = {}
    for S in "LR":
        hs = pose_world(source, [source_slots[f"hand.{S}"], source_slots[f"hand_end.{S}"]], frames)[..., :3, 3]
        d_src = hs[:, 1] - hs[:, 0]
        roots = _finger_roots(roles, S)
        if roots:
            P = pose_world(target, [roles[f"hand.{S}"], *roots], frames)[..., :3, 3]
            d_tgt = P[:, 1:].mean(axis=1) - P[:, 0]
        else:
            wrist = pose_world(target, [roles[f"hand.{S}"]], frames)[:, 0, :3, 3]
            d_tgt = hand_mesh_centroid(target, roles[f"hand.{S}"], frames) - wrist
        out[f"hand.{S}"] = _angle(d_src, d_tgt)
    return out


def _left_axis(obj, slots) -> np.ndarray:
    a = rest_world(obj, slots["thigh.L"])[:3, 3] - rest_world(obj, slots["thigh.R"])[:3, 3]
    a[2] = 0.0
    return _unit(a)


def toe_bends(obj, slots, frames) -> dict:
    """{toe.L/R: (T,) degrees}: the toe's rotation relative to the foot since rest, signed about the rig's
    left axis (positive: the toe tip up)."""
    from tcmr_mocap.core import rotations

    left = _left_axis(obj, slots)
    out = {}
    for S in "LR":
        names = [slots[f"foot.{S}"], slots[f"toe.{S}"]]
        P = _rot(pose_world(obj, names, frames))
        L = [_rot(rest_world(obj, n)) for n in names]
        D_foot, D_toe = P[:, 0] @ L[0].T, P[:, 1] @ L[1].T
        E = np.swapaxes(D_foot, -1, -2) @ D_toe  # the toe's change beyond the foot's, world rest axes
        out[f"toe.{S}"] = -np.degrees(rotations.rotmat_to_axis_angle(E) @ left)
    return out


def mesh_of(obj):
    return next((c for c in obj.children if c.type == "MESH"), None)


def _leg_vertices(mesh, arm, roles, S) -> np.ndarray:
    """Indices of the vertices whose strongest weight is the foot, the toe or a bone below them."""
    bones = {roles[f"foot.{S}"]}
    for b in arm.data.bones:
        p = b.parent
        while p is not None:
            if p.name == roles[f"foot.{S}"]:
                bones.add(b.name)
            p = p.parent
    index = {g.index: g.name for g in mesh.vertex_groups}
    out = []
    for v in mesh.data.vertices:
        if v.groups:
            best = max(v.groups, key=lambda g: g.weight)
            if index[best.group] in bones:
                out.append(v.index)
    return np.array(out)


def evaluated_points(mesh, frames, index=None) -> np.ndarray:
    """(T, V, 3) world positions of the evaluated (skinned) mesh's vertices (all, or ``index``)."""
    import bpy

    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        dg = bpy.context.evaluated_depsgraph_get()
        ev = mesh.evaluated_get(dg)
        me = ev.to_mesh()
        co = np.empty(3 * len(me.vertices), dtype=np.float32)
        me.vertices.foreach_get("co", co)
        ev.to_mesh_clear()
        co = co.reshape(-1, 3).astype(np.float64)
        if index is not None:
            co = co[index]
        mw = np.array(ev.matrix_world)
        out.append(co @ mw[:3, :3].T + mw[:3, 3])
    return np.stack(out)


def hand_mesh_centroid(arm, hand, frames) -> np.ndarray:
    """(T, 3) centroid of the hand mesh: the vertices the hand or a bone below it moves most."""
    mesh = mesh_of(arm)
    bones = {hand, *(b.name for b in arm.data.bones[hand].children_recursive)}
    names = {g.index: g.name for g in mesh.vertex_groups}
    idx = [v.index for v in mesh.data.vertices
           if v.groups and names[max(v.groups, key=lambda g: g.weight).group] in bones]
    return evaluated_points(mesh, frames, np.array(idx)).mean(axis=1)


def soles(arm, roles, frames) -> tuple[dict, float]:
    """({foot.L/R: (T,) lowest point under the foot}, rest floor): the skinned mesh's, or the foot and toe
    bones' heads and tails without a mesh."""
    import bpy

    mesh = mesh_of(arm)
    out = {}
    if mesh is not None:
        rest = {}
        for S in "LR":
            idx = _leg_vertices(mesh, arm, roles, S)
            out[f"foot.{S}"] = evaluated_points(mesh, frames, idx)[..., 2].min(axis=1)
            mw = np.array(mesh.matrix_world)
            co = np.array([mesh.data.vertices[i].co for i in idx])
            rest[S] = (co @ mw[:3, :3].T + mw[:3, 3])[:, 2].min()
        return out, float(min(rest.values()))
    scene = bpy.context.scene
    floor = np.inf
    for S in "LR":
        names = [roles[f"foot.{S}"]] + ([roles[f"toe.{S}"]] if f"toe.{S}" in roles else [])
        z = []
        for f in frames:
            scene.frame_set(int(f))
            mw = np.array(arm.matrix_world)
            pts = np.array([p for n in names for p in (arm.pose.bones[n].head, arm.pose.bones[n].tail)])
            z.append((pts @ mw[:3, :3].T + mw[:3, 3])[:, 2].min())
        out[f"foot.{S}"] = np.array(z)
        mw = np.array(arm.matrix_world)
        pts = np.array([p for n in names for p in (arm.data.bones[n].head_local, arm.data.bones[n].tail_local)])
        floor = min(floor, (pts @ mw[:3, :3].T + mw[:3, 3])[:, 2].min())
    return out, float(floor)


def contacts(source, slots, frames, fps: float, height: float = 0.02, speed: float = 0.5) -> dict:
    """{foot.L/R: (T,) bool}: the source's foot planted: its lowest bone point (ankle, toe head and tail)
    within ``height`` of that foot's floor (the 2nd percentile of its lowest points, no more than 3 cm above
    the other foot's: a skeleton's feet may differ a little) and moving slower than ``speed`` m/s."""
    import bpy

    scene = bpy.context.scene
    low = {S: [] for S in "LR"}
    pos = {S: [] for S in "LR"}
    for f in frames:
        scene.frame_set(int(f))
        mw = np.array(source.matrix_world)
        for S in "LR":
            toe = source.pose.bones[slots[f"toe.{S}"]]
            pts = np.array([source.pose.bones[slots[f"foot.{S}"]].head, toe.head, toe.tail]) @ mw[:3, :3].T + mw[:3, 3]
            low[S].append(pts[:, 2].min())
            pos[S].append(pts.mean(axis=0))
    common = np.percentile(np.concatenate([low["L"], low["R"]]), 2)
    out = {}
    for S in "LR":
        floor = min(np.percentile(low[S], 2), common + 0.03)
        p = np.array(pos[S])
        v = np.zeros(len(frames))
        v[1:-1] = np.linalg.norm(p[2:, :2] - p[:-2, :2], axis=-1) * fps / 2
        v[0], v[-1] = v[1], v[-2]
        out[f"foot.{S}"] = (np.array(low[S]) - floor < height) & (v < speed)
    return out


def score(source, target, roles, frames, fps, source_slots=SMPL_SLOTS) -> dict:
    """Every measure of one retarget: {"limbs": {...}, "hands": {...}, "toes": {...} (target minus source
    bend), "soles": {foot: (contact frames,) height above the rest floor}, "contacts": {foot: (T,) bool}}."""
    out = {"limbs": limb_angles(source, source_slots, target, roles, frames)}
    if all(f"hand.{S}" in roles for S in "LR"):
        out["hands"] = hand_angles(source, source_slots, target, roles, frames)
    if all(f"toe.{S}" in roles for S in "LR"):
        bt, bs = toe_bends(target, roles, frames), toe_bends(source, source_slots, frames)
        out["toes"] = {k: bt[k] - bs[k] for k in bt}
    planted = contacts(source, source_slots, frames, fps)
    low, floor = soles(target, roles, frames)
    out["soles"] = {k: low[k][planted[k]] - floor for k in low}
    out["contacts"] = planted
    return out


def summary(s: dict) -> str:
    every = np.concatenate(list(s["limbs"].values()))
    parts = [f"limbs {every.mean():.2f}/{every.max():.1f}°"]
    if "hands" in s:
        h = np.concatenate(list(s["hands"].values()))
        parts.append(f"hands {h.mean():.1f}/{h.max():.1f}°")
    if "toes" in s:
        t = np.abs(np.concatenate(list(s["toes"].values())))
        parts.append(f"toes {t.mean():.1f}/{t.max():.1f}°")
    so = np.concatenate(list(s["soles"].values()))
    if so.size:
        parts.append(f"soles {100 * so.min():+.1f}..{100 * so.max():+.1f} cm over {so.size} contacts")
    return ", ".join(parts)
