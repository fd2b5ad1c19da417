"""The SMPL armature: 24 bones named after the SMPL joints, in SMPL's kinematic tree, heads on the rest joints;
with captured fingers also 30 finger bones named as SMPL-X names them (``left_index1`` …, pose_keys.finger_rest).

Each bone points to its (main) child; leaves continue their parent's direction. Bone rolls are only cosmetic:
the keyframe maths reads every bone's actual rest rotation back from ``matrix_local`` (see pose_keys.py).
"""

from __future__ import annotations

from contextlib import contextmanager

import bpy
import numpy as np

from ...core import rotations
from ...core.skeleton import NUM_SMPL_JOINTS, SMPL_JOINT_NAMES, SMPL_PARENTS
from . import pose_keys

_MAIN_CHILD = {0: 3, 9: 12}  # pelvis -> spine1, spine3 -> neck (the other children branch off)
_LEAF_FRACTION = 0.5  # a leaf bone is half as long as its parent segment ...
_MIN_BONE_LENGTH = 0.03  # ... and at least this long (metres)


def bone_tails(heads: np.ndarray) -> np.ndarray:
    """Tail of every bone. heads: (24, 3) armature space -> (24, 3)."""
    tails = np.empty_like(heads)
    children = {j: [c for c in range(NUM_SMPL_JOINTS) if SMPL_PARENTS[c] == j] for j in range(NUM_SMPL_JOINTS)}
    for j in range(NUM_SMPL_JOINTS):
        if children[j]:
            tails[j] = heads[_MAIN_CHILD.get(j, children[j][0])]
        else:
            d = heads[j] - heads[SMPL_PARENTS[j]]
            length = np.linalg.norm(d)
            tails[j] = heads[j] + d / max(length, 1e-9) * max(_LEAF_FRACTION * length, _MIN_BONE_LENGTH)
        if np.linalg.norm(tails[j] - heads[j]) < 1e-4:  # degenerate rest joints: keep Blender's bone valid
            tails[j] = heads[j] + np.array([0.0, 0.0, _MIN_BONE_LENGTH])
    return tails


@contextmanager
def edit_mode(context, obj):
    """Edit-mode on ``obj`` (linked to the view layer), back to object mode afterwards."""
    if context.mode != "OBJECT" and context.active_object is not None:
        bpy.ops.object.mode_set(mode="OBJECT")
    context.view_layer.objects.active = obj
    with context.temp_override(active_object=obj, object=obj, selected_objects=[obj],
                               selected_editable_objects=[obj]):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            yield obj.data
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")


def build_armature(context, name: str, rest_joints: np.ndarray, collection, fingers: bool = False) -> tuple:
    """Create the armature object in ``collection`` (which must be in the view layer); ``fingers``: with the 30
    finger bones.

    rest_joints: (24, 3) SMPL frame. Returns (object, bone rest rotations (24, 3, 3) in armature space).
    """
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    heads = pose_keys.rest_heads(rest_joints)
    tails = bone_tails(heads)
    with edit_mode(context, obj) as arm:
        bones = []
        for j, joint in enumerate(SMPL_JOINT_NAMES):
            eb = arm.edit_bones.new(joint)
            eb.head = heads[j].tolist()
            eb.tail = tails[j].tolist()
            direction = (tails[j] - heads[j]) / np.linalg.norm(tails[j] - heads[j])
            # bone Z towards the front (-Y) unless the bone itself points front/back (feet): then up
            eb.align_roll((0.0, 0.0, 1.0) if abs(direction[1]) > 0.7 else (0.0, -1.0, 0.0))
            if SMPL_PARENTS[j] >= 0:
                eb.parent = bones[SMPL_PARENTS[j]]
            bones.append(eb)
        if fingers:
            f_heads, f_tails, parents = pose_keys.finger_rest(rest_joints)
            for name_f, head, tail, parent in zip(pose_keys.FINGER_BONE_NAMES, f_heads, f_tails, parents):
                eb = arm.edit_bones.new(name_f)
                eb.head, eb.tail = head.tolist(), tail.tolist()
                eb.align_roll((0.0, 0.0, 1.0))  # bone Z up: fingers bend about their X axis
                eb.parent = arm.edit_bones[parent]
                eb.use_connect = parent not in SMPL_JOINT_NAMES
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    data.display_type = "OCTAHEDRAL"
    obj.show_in_front = True
    return obj, bone_rest_rotations(obj)


def bone_rest_rotations(obj, names=SMPL_JOINT_NAMES) -> np.ndarray:
    """(K, 3, 3): rotation part of each bone's ``matrix_local``, in ``names`` order (SMPL joint order)."""
    B = np.array([np.array(obj.data.bones[name].matrix_local.to_3x3()) for name in names])
    return rotations.project_to_rotmat(B)  # stored as float32 in Blender
