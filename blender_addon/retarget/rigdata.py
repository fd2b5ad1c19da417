"""Reading rigs for the retargeting: rest skeletons in world space, the source sampled over its frames, the
target's bone hierarchy for the numpy solve, the evaluated pose of every bone."""

from __future__ import annotations

import numpy as np

from ...core import rotations
from . import bonemap, detect, transfer


def rig_info(obj) -> detect.RigInfo:
    bones = list(obj.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    mw = np.array(obj.matrix_world)
    heads = np.array([b.head_local for b in bones]).reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    tails = np.array([b.tail_local for b in bones]).reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    parents = [index[b.parent.name] if b.parent else -1 for b in bones]
    return detect.RigInfo(names=[b.name for b in bones], parents=parents, heads=heads, tails=tails)


def object_rotation(obj) -> np.ndarray:
    M = np.array(obj.matrix_world)[:3, :3]
    return rotations.project_to_rotmat(M / np.cbrt(abs(np.linalg.det(M))))


def skeleton(obj, bm: bonemap.BoneMap) -> transfer.Skeleton:
    mw = np.array(obj.matrix_world)
    O = object_rotation(obj)
    heads, tails, rot = {}, {}, {}
    for slot, name in bm.bones.items():
        b = obj.data.bones[name]
        heads[slot] = mw[:3, :3] @ np.array(b.head_local) + mw[:3, 3]
        tails[slot] = mw[:3, :3] @ np.array(b.tail_local) + mw[:3, 3]
        rot[slot] = O @ rotations.project_to_rotmat(np.array(b.matrix_local)[:3, :3])
    return transfer.Skeleton(heads=heads, tails=tails, rot=rot)


def pose_matrices(obj) -> np.ndarray:
    """(N, 4, 4) armature-space pose matrices of every pose bone as evaluated now."""
    flat = np.empty(16 * len(obj.pose.bones), dtype=np.float32)
    obj.pose.bones.foreach_get("matrix", flat)
    return np.swapaxes(flat.reshape(-1, 4, 4), -1, -2).astype(np.float64)


def sample_source(scene, obj, bm: bonemap.BoneMap, frames: np.ndarray) -> transfer.Motion:
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    slots = list(bm.bones)
    idx = np.array([index[bm.bones[s]] for s in slots])
    T = len(frames)
    heads = np.empty((T, len(slots), 3))
    rot = np.empty((T, len(slots), 3, 3))
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        P = pose_matrices(obj)[idx]
        mw = np.array(obj.matrix_world)
        heads[t] = P[:, :3, 3] @ mw[:3, :3].T + mw[:3, 3]
        rot[t] = object_rotation(obj) @ rotations.project_to_rotmat(P[:, :3, :3])
    return transfer.Motion(heads={s: heads[:, i] for i, s in enumerate(slots)},
                           rot={s: rot[:, i] for i, s in enumerate(slots)})


def target_rig(obj) -> transfer.TargetRig:
    bones = list(obj.data.bones)
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
