"""The retarget's face step: the source armature's captured ARKit weights (blender_addon/scene/face.py) keyed onto the
target character's shape keys, over the frames the body was baked on.

Per mesh the target's armature moves (deformed by it or parented to it): its ARKit-named shape keys take the
weights of the same names (face.arkit_index: case, separators, ``_L``/``_R`` and prefixes ignored); a character
with none of them gets VRM expressions (vrm_expressions: the VRM add-on's expression binds, else shape keys named
like the expressions). The keys are baked (face.bake_shape_keys: they survive export and a deleted capture).
The panel's *Face to Selected Meshes* (ops.TCMR_OT_face_to_meshes) runs the same step on any meshes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..scene import face
from . import vrm_expressions


@dataclass
class FaceBake:
    """What the step keyed: [(shape-key datablock, the action it had)] of the meshes it touched, and a summary
    for the report."""

    replaced: list = field(default_factory=list)
    keys: int = 0  # shape keys keyed
    mode: str = ""  # "arkit", "vrm" (the add-on's binds), "vrm names" or "" (nothing keyed)

    def undo(self) -> None:
        """Remove what the step made and give the meshes back their earlier actions."""
        import bpy

        for key, previous in self.replaced:
            current = key.animation_data.action if key.animation_data else None
            if current is not None and current != previous and current.get(face.SOURCE_KEY) is not None:
                key.animation_data.action = previous
                bpy.data.actions.remove(current)
        self.replaced = []

    def commit(self) -> None:
        """Drop the shape-key actions an earlier retarget had baked (the animator's own stay, fake user)."""
        face.release(self.replaced)


def transfer(source, target, frames, name: str, meshes=None) -> FaceBake:
    """Key the face of ``target`` (an armature: the meshes it moves; or ``meshes`` given, e.g. the selected ones,
    with ``target`` the armature whose VRM data to read, or None) from ``source``'s ARKit properties at
    ``frames``; nothing when the source has no face or the meshes no matching shape keys."""
    done = FaceBake()
    weights = face.read_properties(source, frames)
    if weights is None:
        return done
    meshes = face.meshes_of(target) if meshes is None else [m for m in meshes if m.data.shape_keys is not None]
    plan = {m.name: face.arkit_values(m, weights) for m in meshes}
    done.mode = "arkit" if any(plan.values()) else ""
    if not done.mode:
        expressions = vrm_expressions.expression_weights(weights)
        table = vrm_expressions.binds(target) if target is not None else {}
        if table:
            plan, done.mode = vrm_expressions.bound_values(table, expressions), "vrm"
        else:
            plan = {m.name: vrm_expressions.named_values([kb.name for kb in m.data.shape_keys.key_blocks[1:]],
                                                         expressions) for m in meshes}
            done.mode = "vrm names" if any(plan.values()) else ""
    by_name = {m.name: m for m in meshes}
    try:
        for mesh_name, values in plan.items():
            mesh = by_name.get(mesh_name)
            if mesh is None or not values:
                continue
            known = {k: v for k, v in values.items() if k in mesh.data.shape_keys.key_blocks}
            key = mesh.data.shape_keys
            done.replaced.append((key, key.animation_data.action if key.animation_data else None))
            if face.bake_shape_keys(mesh, frames, known, f"{name} · {mesh.name}", source.name) is not None:
                done.keys += len(known)
    except BaseException:
        done.undo()
        raise
    return done

