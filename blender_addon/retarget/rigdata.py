"""Reading rigs for the retargeting: rest skeletons in world space (with where hands end and how they are
turned), the skinned points under the feet, the source sampled over its frames, the target's bone hierarchy for
the numpy solve, the evaluated pose of every bone."""

from __future__ import annotations

import numpy as np

from ...core import rotations
from . import bonemap, detect, ground, hands, transfer

MAX_SOLE_POINTS = 600  # per foot


def rig_info(obj) -> detect.RigInfo:
    bones = list(obj.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    mw = np.array(obj.matrix_world)
    heads = np.array([b.head_local for b in bones]).reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    tails = np.array([b.tail_local for b in bones]).reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    parents = [index[b.parent.name] if b.parent else -1 for b in bones]
    ik = []
    for pb in obj.pose.bones:
        for con in pb.constraints:
            if con.type == "IK" and con.target == obj and not con.mute and con.influence > 0:
                pole = con.pole_subtarget if con.pole_target == obj else ""
                ik.append((index[pb.name], index.get(con.subtarget), index.get(pole)))
    return detect.RigInfo(names=[b.name for b in bones], parents=parents, heads=heads, tails=tails, ik=ik)


def object_rotation(obj) -> np.ndarray:
    M = np.array(obj.matrix_world)[:3, :3]
    return rotations.project_to_rotmat(M / np.cbrt(abs(np.linalg.det(M))))


def skeleton(obj, bm: bonemap.BoneMap, skin=None) -> transfer.Skeleton:
    """The rig's mapped slots at rest (world space), where its hands end and how they are turned. skin: the
    rig's Skin, if already read."""
    mw = np.array(obj.matrix_world)
    O = object_rotation(obj)
    heads, tails, rot = {}, {}, {}
    for slot, name in bm.bones.items():
        b = obj.data.bones[name]
        heads[slot] = mw[:3, :3] @ np.array(b.head_local) + mw[:3, 3]
        tails[slot] = mw[:3, :3] @ np.array(b.tail_local) + mw[:3, 3]
        rot[slot] = O @ rotations.project_to_rotmat(np.array(b.matrix_local)[:3, :3])
    sk = transfer.Skeleton(heads=heads, tails=tails, rot=rot)
    skin = skin or Skin(obj)
    for slot, name in bm.bones.items():
        end = _end(obj, bm, slot, name, heads, skin)
        if end is not None:
            sk.ends[slot] = end
        if slot.startswith("hand."):
            bases = [f"{f}1.{slot[-1]}" for f in ("index", "middle", "ring", "little") if f"{f}1.{slot[-1]}" in heads]
            if bases:
                sk.end_slots[slot] = bases
    for side in "LR":
        hand = f"hand.{side}"
        if hand in heads:
            index_base = heads.get(next((f"{f}1.{side}" for f in ("index", "middle") if f"{f}1.{side}" in heads), ""))
            little_base = heads.get(next((f"{f}1.{side}" for f in ("little", "ring") if f"{f}1.{side}" in heads), ""))
            sk.hand_frames[side] = hands.hand_frame(heads[hand], sk.end(hand), index_base, little_base, side,
                                                    up=transfer.body_frame(sk)[:, 1] if "hips" in heads else
                                                    (0.0, 0.0, 1.0))
    return sk


def _end(obj, bm, slot, name, heads, skin):
    """Where a slot's segment ends when no next slot does: a hand at its finger bases (not the thumb) or its
    mesh's centroid; any bone at its only child's head; else None (its tail)."""
    part, _, side = slot.partition(".")
    if part == "hand":
        bases = [heads[f"{f}1.{side}"] for f in ("index", "middle", "ring", "little") if f"{f}1.{side}" in heads]
        if bases:
            return np.mean(bases, axis=0)
        centroid = skin.centroid(name)
        if centroid is not None:
            return centroid
    return _child_head(obj, name)


def _child_head(obj, name):
    """World head of the bone's only child (an end bone counts when it is the only one), if away from its own."""
    children = list(obj.data.bones[name].children)
    kids = [c for c in children if not detect.is_helper(c.name)] or children
    if len(kids) != 1:
        return None
    mw = np.array(obj.matrix_world)
    head = mw[:3, :3] @ np.array(kids[0].head_local) + mw[:3, 3]
    own = mw[:3, :3] @ np.array(obj.data.bones[name].head_local) + mw[:3, 3]
    return head if np.linalg.norm(head - own) > 1e-4 else None


class Skin:
    """The meshes an armature deforms (Armature modifier), read once: world rest vertices, and per vertex its
    deforming bones and normalised weights."""

    def __init__(self, obj):
        import bpy

        self.obj = obj
        self.co, self.groups = [], []
        deform = {b.name for b in obj.data.bones if b.use_deform}
        for mesh in bpy.data.objects:
            if mesh.type != "MESH" or not any(m.type == "ARMATURE" and m.object == obj and m.show_viewport
                                              for m in mesh.modifiers):
                continue
            names = {g.index: g.name for g in mesh.vertex_groups}
            me = mesh.data
            co = np.empty(3 * len(me.vertices))
            me.vertices.foreach_get("co", co)
            mw = np.array(mesh.matrix_world)
            self.co.append(co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3])
            self.groups.append([[(names[g.group], g.weight) for g in v.groups
                                 if names.get(g.group) in deform and g.weight > 0] for v in me.vertices])

    def vertices(self, bones: set) -> tuple[np.ndarray, list]:
        """World rest positions (K, 3) of the vertices whose strongest bone is in ``bones``, and their weights
        [[(bone, weight) …] …]."""
        pts, ws = [], []
        for co, groups in zip(self.co, self.groups):
            for i, g in enumerate(groups):
                if g and max(g, key=lambda x: x[1])[0] in bones:
                    pts.append(co[i])
                    ws.append(g)
        return np.array(pts).reshape(-1, 3), ws

    def centroid(self, bone: str):
        pts, _ = self.vertices(_below(self.obj, bone))
        return pts.mean(axis=0) if len(pts) >= 10 else None


def _below(obj, bone: str) -> set:
    """The bone and every bone below it."""
    out = {bone}
    for b in obj.data.bones[bone].children_recursive:
        out.add(b.name)
    return out


def soles(obj, bm: bonemap.BoneMap, rig: transfer.TargetRig, skin=None) -> ground.Soles:
    """The points under each foot of ``obj``, skinned: the vertices of its mesh that the foot or the toes
    move most, near the bottom (or, without a usable mesh, the ankle, the toe's head and its end)."""
    index = {n: i for i, n in enumerate(rig.names)}
    mw = np.array(obj.matrix_world)
    to_arm = np.linalg.inv(mw)
    skin = skin or Skin(obj)
    points, bones, weights, floors = {}, {}, {}, []
    for side in "LR":
        foot = bm.bones[f"foot.{side}"]
        pts, ws = skin.vertices(_below(obj, foot))
        if len(pts) >= 10:
            ankle = mw[:3, :3] @ np.array(obj.data.bones[foot].head_local) + mw[:3, 3]
            low = pts[:, 2].min()
            keep = np.flatnonzero(pts[:, 2] < low + 0.5 * max(ankle[2] - low, 1e-3))
            keep = keep[np.argsort(pts[keep, 2])][:MAX_SOLE_POINTS]
            m = max(len(ws[i]) for i in keep)
            b = np.zeros((len(keep), m), dtype=np.int64)
            w = np.zeros((len(keep), m))
            for r, i in enumerate(keep):
                for c, (name, value) in enumerate(ws[i]):
                    b[r, c], w[r, c] = index[name], value
            w /= w.sum(axis=1, keepdims=True)
            p = pts[keep]
        else:  # no usable mesh: the ankle, the toe's head and where the toe (or foot) ends
            last = bm.bones.get(f"toe.{side}") or foot
            end = _child_head(obj, last)
            p = np.array([mw[:3, :3] @ np.array(obj.data.bones[n].head_local) + mw[:3, 3] for n in (foot, last)]
                         + [end if end is not None else mw[:3, :3] @ np.array(obj.data.bones[last].tail_local)
                            + mw[:3, 3]])
            b = np.array([[index[foot]], [index[last]], [index[last]]])
            w = np.ones((3, 1))
        points[side] = p @ to_arm[:3, :3].T + to_arm[:3, 3]
        bones[side], weights[side] = b, w
        floors.append(p[:, 2].min())
    return ground.Soles(points=points, bones=bones, weights=weights, floor=float(min(floors)))


def pose_matrices(obj) -> np.ndarray:
    """(N, 4, 4) armature-space pose matrices of every pose bone as evaluated now."""
    flat = np.empty(16 * len(obj.pose.bones), dtype=np.float32)
    obj.pose.bones.foreach_get("matrix", flat)
    return np.swapaxes(flat.reshape(-1, 4, 4), -1, -2).astype(np.float64)


def sample_source(scene, obj, bm: bonemap.BoneMap, frames: np.ndarray) -> transfer.Motion:
    """The source's mapped bones over ``frames``: read from its keys in numpy when its bones simply follow
    their parents and their own keys (a capture, an imported motion), else evaluated frame by frame."""
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    slots = list(bm.bones)
    idx = np.array([index[bm.bones[s]] for s in slots])
    P = keyed_pose(obj, frames)
    if P is None:
        P = np.empty((len(frames), len(index), 4, 4))
        for t, f in enumerate(frames):
            scene.frame_set(int(f))
            P[t] = pose_matrices(obj)
    P = P[:, idx]
    mw = np.array(obj.matrix_world)
    heads = P[..., :3, 3] @ mw[:3, :3].T + mw[:3, 3]
    rot = object_rotation(obj) @ rotations.project_to_rotmat(P[..., :3, :3])
    return transfer.Motion(heads={s: heads[:, i] for i, s in enumerate(slots)},
                           rot={s: rot[:, i] for i, s in enumerate(slots)})


_NOT_POSE = ("hide_viewport", "hide_render")
_CHANNELS = {"location": 3, "rotation_quaternion": 4, "rotation_euler": 3, "rotation_axis_angle": 4, "scale": 3}


def keyed_pose(obj, frames):
    """(T, N, 4, 4) armature-space pose matrices (pose-bone order) computed from the action's F-curves, or
    None when Blender has to evaluate (constraints, drivers, NLA, object-level keys, bones that do not fully
    inherit their parent's transform or keep their location in armature space)."""
    from ..scene.keyframes import channelbag_of

    anim = obj.animation_data
    bag = channelbag_of(obj)
    if bag is None or len(anim.drivers) or len(anim.nla_tracks) or obj.constraints:
        return None
    bones = list(obj.pose.bones)
    for pb in bones:
        b = pb.bone
        if pb.constraints or not b.use_inherit_rotation or b.inherit_scale != "FULL" or not b.use_local_location:
            return None
    index = {pb.name: i for i, pb in enumerate(bones)}
    values = {}
    f = np.asarray(frames, dtype=np.float64)
    for fc in bag.fcurves:
        path = fc.data_path
        if path.startswith('["') or path in _NOT_POSE:
            continue  # custom properties (a captured face) and visibility do not move bones
        if not path.startswith('pose.bones["') or fc.mute:
            return None
        name, _, prop = path[len('pose.bones["'):].partition('"].')
        if name not in index or prop not in _CHANNELS:
            continue
        values[(name, prop, fc.array_index)] = np.array([fc.evaluate(x) for x in f])
    T = len(f)
    L = np.array([np.array(pb.bone.matrix_local) for pb in bones])
    P = np.empty((T, len(bones), 4, 4))
    for pb in _parents_first(bones):
        j = index[pb.name]
        def channel(prop, default):
            return np.stack([values.get((pb.name, prop, i), np.full(T, default[i])) for i in range(len(default))],
                            axis=-1)

        mode = pb.rotation_mode
        if mode == "QUATERNION":
            R = rotations.quat_wxyz_to_rotmat(channel("rotation_quaternion", tuple(pb.rotation_quaternion)))
        elif mode == "AXIS_ANGLE":
            aa = channel("rotation_axis_angle", tuple(pb.rotation_axis_angle))
            axis = aa[:, 1:] / np.maximum(np.linalg.norm(aa[:, 1:], axis=-1, keepdims=True), 1e-12)
            R = rotations.axis_angle_to_rotmat(axis * aa[:, :1])
        else:
            R = rotations.euler_to_rotmat(channel("rotation_euler", tuple(pb.rotation_euler)), mode)
        B = np.tile(np.eye(4), (T, 1, 1))
        B[:, :3, :3] = R * channel("scale", tuple(pb.scale))[:, None, :]
        B[:, :3, 3] = channel("location", tuple(pb.location))
        parent = pb.parent
        if parent is None:
            P[:, j] = L[j] @ B
        else:
            p = index[parent.name]
            P[:, j] = P[:, p] @ np.linalg.inv(L[p]) @ L[j] @ B
    return P


def _parents_first(bones) -> list:
    """Bones (or pose bones) ordered so that every parent comes before its children."""
    order, seen = [], set()

    def visit(b):
        if b.name in seen:
            return
        if b.parent:
            visit(b.parent)
        seen.add(b.name)
        order.append(b)

    for b in bones:
        visit(b)
    return order


def target_rig(obj) -> transfer.TargetRig:
    order = _parents_first(list(obj.data.bones))
    index = {b.name: i for i, b in enumerate(order)}
    basis = np.array([np.array(obj.pose.bones[b.name].matrix_basis) for b in order])
    return transfer.TargetRig(
        names=[b.name for b in order],
        parents=np.array([index[b.parent.name] if b.parent else -1 for b in order]),
        rest_local=np.array([np.array(b.matrix_local) for b in order]),
        basis=basis, object_world=np.array(obj.matrix_world))


def source_action(obj):
    anim = obj.animation_data
    return anim.action if anim is not None else None


def frame_range(action) -> np.ndarray:
    start, end = action.frame_range
    return np.arange(int(np.floor(start)), int(np.ceil(end)) + 1)
