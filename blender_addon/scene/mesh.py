"""The skinned SMPL mesh: rest vertices for the person's shape, SMPL's triangles, one vertex group per joint
holding SMPL's skinning weights, parented to the armature with an Armature modifier (linear blend skinning,
as SMPL without its pose blend shapes)."""

from __future__ import annotations

import bpy
import numpy as np

from ...core.skeleton import SMPL_JOINT_NAMES
from . import pose_keys


def build_mesh(name: str, v_shaped: np.ndarray, faces: np.ndarray, lbs_weights: np.ndarray, armature_obj,
               collection):
    """v_shaped: (V, 3) SMPL frame; faces: (F, 3); lbs_weights: (V, 24). Returns the mesh object."""
    verts = pose_keys.rest_heads(v_shaped)  # same rest placement as the bones
    faces = np.asarray(faces, dtype=np.int32)
    data = bpy.data.meshes.new(name)
    data.vertices.add(verts.shape[0])
    data.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    data.loops.add(faces.size)
    data.loops.foreach_set("vertex_index", faces.ravel())
    data.polygons.add(faces.shape[0])
    data.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    data.update(calc_edges=True)
    data.polygons.foreach_set("use_smooth", np.ones(faces.shape[0], dtype=bool))
    obj = bpy.data.objects.new(name, data)
    collection.objects.link(obj)
    weights = np.asarray(lbs_weights, dtype=np.float64)
    for j, joint in enumerate(SMPL_JOINT_NAMES):
        group = obj.vertex_groups.new(name=joint)
        rows = np.flatnonzero(weights[:, j] > 1e-6)
        # one call per distinct weight value (many vertices share 1.0 and a few other values)
        values, inverse, counts = np.unique(weights[rows, j], return_inverse=True, return_counts=True)
        chunks = np.split(rows[np.argsort(inverse, kind="stable")], np.cumsum(counts)[:-1])
        for value, chunk in zip(values, chunks):
            group.add(chunk.tolist(), float(value), "REPLACE")
    obj.parent = armature_obj
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature_obj
    modifier.use_vertex_groups = True
    return obj
