"""Writing the baked keys, and what needs Blender's own evaluation of the rig.

- :func:`write_action`: one new action: rotation keys of the key bones (in each bone's rotation mode),
  location keys of the root, of moved control roots and of placed IK controls, the switches.
- :func:`correct`: rigs whose bones follow constraints or drivers (a generated Rigify rig: DEF bones follow FK
  controls through MCH bones; a rig with its own IK) are evaluated frame by frame and the keyed controls turned
  until the mapped bones reach their rotations (each pass propagates a control's change to the controls below
  it), the root moved until the hips are where they should be and the soles on the floor. The residual it
  reports covers the mapped (deform) bones' directions as well as the keyed controls.
- :func:`control_targets`: where IK controls go on a pose (hand/foot controls ride on their limb end as at
  rest, poles sit in the limb's bend plane); :func:`ik_basis_numpy` / :func:`ik_basis_evaluated` turn that into
  pose-bone values, from the numpy pose of a plain rig or from Blender's evaluation.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...core import rotations
from ..scene import keyframes
from .rigdata import object_rotation, pose_matrices

MAX_PASSES = 6
TOLERANCE_DEG = 0.2
TOLERANCE_M = 1e-3


def needs_evaluation(obj, bm) -> bool:
    if bm.keys or bm.properties:
        return True
    if obj.animation_data is not None and len(obj.animation_data.drivers):
        return True
    for pb in obj.pose.bones:
        b = pb.bone
        if pb.constraints or not b.use_inherit_rotation or b.inherit_scale not in ("FULL",):
            return True
    return False


# ------------------------------------------------------------------------------------------------ keys
def rotation_channels(pb, R: np.ndarray) -> tuple[str, np.ndarray]:
    """The data path and per-frame values for a pose bone's rotation mode. R: (T, 3, 3)."""
    mode = pb.rotation_mode
    if mode in ("QUATERNION", "AXIS_ANGLE"):
        return "rotation_quaternion", rotations.quat_wxyz_make_continuous(rotations.rotmat_to_quat_wxyz(R))
    return "rotation_euler", np.unwrap(rotations.rotmat_to_euler(R, mode), axis=0)


class Keys:
    """The new action's F-curves: rotations per bone, locations per bone, written and later corrected."""

    def __init__(self, obj, name: str, frames):
        self.obj = obj
        self.frames = np.asarray(frames, dtype=np.float64)
        self.action, self.bag = keyframes.new_action(obj, name)
        self.rot, self.loc, self._groups = {}, {}, {}

    def group(self, bone):
        if bone not in self._groups:
            self._groups[bone] = self.bag.groups.new(bone)
        return self._groups[bone]

    def rotation(self, bone: str, R: np.ndarray) -> None:
        pb = self.obj.pose.bones[bone]
        path, values = rotation_channels(pb, R)
        if bone in self.rot:
            for i, fc in enumerate(self.rot[bone]):
                _set_values(fc, values[:, i])
            return
        base = f'pose.bones["{bone}"].'
        self.rot[bone] = [keyframes.fill_fcurve(self.bag, base + path, i, self.group(bone), self.frames, values[:, i])
                          for i in range(values.shape[1])]

    def location(self, bone: str, loc: np.ndarray) -> None:
        if bone in self.loc:
            for i, fc in enumerate(self.loc[bone]):
                _set_values(fc, loc[:, i])
            return
        base = f'pose.bones["{bone}"].location'
        self.loc[bone] = [keyframes.fill_fcurve(self.bag, base, i, self.group(bone), self.frames, loc[:, i])
                          for i in range(3)]

    def switch(self, bone: str, prop: str, value: float) -> None:
        keyframes.fill_fcurve(self.bag, f'pose.bones["{bone}"]["{prop}"]', 0, self.group(bone), self.frames[[0, -1]],
                              np.array([value, value], dtype=np.float64))

    def remove(self) -> None:
        bpy.data.actions.remove(self.action)


def _set_values(fc, values):
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    co = co.reshape(-1, 2)
    co[:, 1] = values
    fc.keyframe_points.foreach_set("co", co.ravel())
    fc.update()


# ------------------------------------------------------------------------------------------------ correction
def correct(scene, obj, frames, follow, bm, hips, root, pose, keys: Keys, footing=None):
    """Evaluate, compare each key bone's armature rotation with the wanted one, turn the key bones, move the
    root to ``hips`` (vertically where ``footing`` (ground.Footing) puts the soles on the floor, measured on
    the evaluated pose; it also updates the legs in ``follow``). Returns (passes, residual degrees over key
    bones and the mapped bones' directions, and the last evaluated pose matrices (T, N, 4, 4), pose-bone order,
    when they are those of the final keys, else None). pose: transfer.Pose (basis_rot and root_loc are
    updated)."""
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    O = object_rotation(obj)
    mw_inv = np.linalg.inv(np.array(obj.matrix_world))
    key_of = {b: bm.key_bone(b) for b in follow}

    def rest_rot(name):
        return rotations.project_to_rotmat(np.array(obj.data.bones[name].matrix_local)[:3, :3])

    keyed = set(key_of.values())
    up = {}  # the nearest keyed ancestor of each key bone (its change carries the key bone along)
    for k in keyed:
        p = obj.data.bones[k].parent
        while p is not None and p.name not in keyed:
            p = p.parent
        up[k] = p.name if p is not None else None
    order = sorted(keyed, key=lambda k: len(obj.data.bones[k].parent_recursive))
    hips_bone = bm.bones["hips"]
    residual, last = 0.0, np.inf
    mw = np.array(obj.matrix_world)
    for n_pass in range(1, MAX_PASSES + 1):
        P = np.empty((len(frames), len(obj.pose.bones), 4, 4))
        for t, f in enumerate(frames):
            scene.frame_set(int(f))
            P[t] = pose_matrices(obj)
        if footing is not None:
            shift = footing.update(_reorder(P, obj, footing))
            hips[:, 2] = P[:, index[hips_bone], :3, 3] @ mw[2, :3] + mw[2, 3] + shift
        # the key bones' own armature-space rotations: a control and the bone it moves keep their rest relation
        want_arm = {key_of[b]: O.T @ W @ rest_rot(b).T @ rest_rot(key_of[b]) for b, W in follow.items()}
        want_dir = {b: (O.T @ W)[..., :, 1] for b, W in follow.items()}
        change, errs = {}, []
        for bone, W in want_arm.items():
            A = rotations.project_to_rotmat(P[:, index[bone], :3, :3])
            C = W @ np.swapaxes(A, -1, -2)
            errs.append(_angle(C))
            change[bone] = C
        for bone, d in want_dir.items():  # the deform bones themselves
            got = P[:, index[bone], :3, 1]
            errs.append(np.degrees(np.arccos(np.clip(np.sum(got * d, -1) / np.maximum(
                np.linalg.norm(got, axis=-1), 1e-12), -1, 1))))
        hips_arm = hips @ mw_inv[:3, :3].T + mw_inv[:3, 3]
        hips_err = hips_arm - P[:, index[hips_bone], :3, 3]
        residual = float(max(e.max() for e in errs))
        if residual < TOLERANCE_DEG and np.abs(hips_err).max() < TOLERANCE_M:
            return n_pass, residual, P
        if residual > 0.9 * last and np.abs(hips_err).max() < TOLERANCE_M:
            return n_pass, residual, P  # no better than the last pass: the rig's own constraints hold these bones
        last = residual
        applied = {}  # key bone -> its world change this pass
        for k in order:
            K = rotations.project_to_rotmat(P[:, index[k], :3, :3])
            X = K @ np.swapaxes(pose.basis_rot[k], -1, -2)  # achieved parent-side rotation
            if up[k] in applied:
                X = applied[up[k]] @ X  # the ancestor's correction carries this bone along
            K_new = change[k] @ K
            pose.basis_rot[k] = rotations.project_to_rotmat(np.swapaxes(X, -1, -2) @ K_new)
            applied[k] = K_new @ np.swapaxes(K, -1, -2)
            keys.rotation(k, pose.basis_rot[k])
        if root in pose.basis_rot:
            Rb = pose.basis_rot[root]
        else:
            Rb = np.broadcast_to(np.array(obj.pose.bones[root].matrix_basis)[:3, :3], (len(frames), 3, 3))
        X3 = P[:, index[root], :3, :3] @ np.linalg.inv(Rb)
        pose.root_loc += np.linalg.solve(X3, hips_err[..., None])[..., 0]
        keys.location(root, pose.root_loc)
    return MAX_PASSES, residual, None


def _reorder(P, obj, footing):
    """Pose matrices in pose-bone order -> the TargetRig order footing indexes."""
    return to_rig_order(P, obj, sorted(footing.index, key=footing.index.get))


def to_rig_order(P, obj, names):
    """Pose matrices (T, N, 4, 4) in pose-bone order -> the order of ``names`` (a TargetRig's)."""
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    return P[:, [index[n] for n in names]]


def plain_controls(obj, controls, P=None) -> bool:
    """Whether these bones simply follow their parents (no constraints, inheriting rotation and scale — an
    averaged scale counts when the parents, as evaluated in P (T, N, 4, 4) pose-bone order, are unscaled): their
    pose-bone values then follow from their parents' evaluated pose."""
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    for c in controls:
        pb = obj.pose.bones[c]
        b = pb.bone
        if pb.constraints or not b.use_inherit_rotation or b.inherit_scale not in ("FULL", "AVERAGE"):
            return False
        if b.inherit_scale == "AVERAGE" and pb.parent is not None:
            if P is None or not np.allclose(np.linalg.norm(P[:, index[pb.parent.name], :3, :3], axis=-2), 1.0,
                                            atol=1e-4):
                return False
    return True


def _angle(C):
    return np.degrees(np.arccos(np.clip((np.trace(C, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))


# ------------------------------------------------------------------------------------------------ IK controls
def control_targets(P: dict, L: dict, snap: dict, poles: dict) -> dict:
    """Where IK controls go: {control: (T, 4, 4) armature-space pose matrix}. P: {bone: (T, 4, 4)} posed
    matrices of the mapped bones; L: {bone: (4, 4)} rest matrices. A snapped control rides on its bone as at
    rest; a pole sits in its limb's bend plane at its rest distance from the middle joint (or, for a straight
    limb, where it sits relative to the upper bone at rest)."""
    out = {c: P[b] @ np.linalg.inv(L[b]) @ L[c] for c, b in snap.items()}
    for c, (upper, lower, end) in poles.items():
        a, b, e = (P[n][:, :3, 3] for n in (upper, lower, end))
        bend = b - 0.5 * (a + e)
        dist = np.linalg.norm(L[c][:3, 3] - L[lower][:3, 3])
        m = P[upper] @ np.linalg.inv(L[upper]) @ L[c]  # rigid with the upper bone (a straight limb)
        norm = np.linalg.norm(bend, axis=-1, keepdims=True)
        bent = norm[:, 0] > 0.02 * dist
        m[bent, :3, 3] = b[bent] + bend[bent] / norm[bent] * dist
        out[c] = m
    return out


def ik_basis_numpy(rig, P_all: np.ndarray, snap: dict, poles: dict, parent_space: tuple = ()) -> dict:
    """{control: (T, 4, 4) basis} from a pose P_all (T, N, 4, 4) in TargetRig order (a plain rig's solved
    pose, or a rig's evaluated one) for controls that simply follow their parents; ``parent_space``: controls
    whose location is in their parent's space (``use_local_location`` off, as Rigify's IK controls)."""
    from .transfer import _parent_side

    index = {n: i for i, n in enumerate(rig.names)}
    names = {*snap, *snap.values(), *poles, *(b for chain in poles.values() for b in chain)}
    P = {n: P_all[:, index[n]] for n in names}
    L = {n: rig.rest_local[index[n]] for n in names}
    out = {}
    for c, want in control_targets(P, L, snap, poles).items():
        j = index[c]
        X = _parent_side(rig, P_all, j, P_all.shape[0])
        B = np.linalg.inv(X) @ want
        if c in parent_space:  # the bone's rest turn relative to its parent applies to its location too
            p = rig.parents[j]
            rel = (np.linalg.inv(rig.rest_local[p]) @ rig.rest_local[j]) if p >= 0 else rig.rest_local[j]
            B[:, :3, 3] = B[:, :3, 3] @ rel[:3, :3].T
        out[c] = B
    return out


def ik_basis_evaluated(scene, obj, frames, snap: dict, poles: dict) -> dict:
    """{control: (T, 4, 4) basis} on the evaluated pose (``Object.convert_space`` turns the wanted pose
    matrices into pose-bone values against the evaluated parents, whatever the bones' local-location and
    inheritance settings)."""
    from mathutils import Matrix

    L = {b.name: np.array(b.matrix_local) for b in obj.data.bones}
    controls = [*snap, *poles]
    index = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    used = {*snap.values(), *(b for chain in poles.values() for b in chain)}
    basis = {c: np.empty((len(frames), 4, 4)) for c in controls}
    for t, f in enumerate(frames):
        scene.frame_set(int(f))
        Pall = pose_matrices(obj)
        P = {n: Pall[index[n]][None] for n in used}
        want = control_targets(P, L, snap, poles)
        for c in controls:
            basis[c][t] = np.array(obj.convert_space(pose_bone=obj.pose.bones[c], matrix=Matrix(want[c][0].tolist()),
                                                     from_space="POSE", to_space="LOCAL"))
    return basis


def key_controls(keys: Keys, basis: dict, snap: dict) -> None:
    """Location keys of every placed control, and rotation keys of the snapped ones."""
    for c, B in basis.items():
        if c in snap:
            keys.rotation(c, rotations.project_to_rotmat(B[:, :3, :3]))
        keys.location(c, B[:, :3, 3])
