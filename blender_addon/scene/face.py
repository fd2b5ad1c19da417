"""Captured faces in the scene: the 52 ARKit weights as animated custom properties of the armature, and shape-key
animation on meshes whose shape keys carry those names.

- :func:`add_properties` / :func:`key_properties`: one float property per ARKit name on the capture armature
  (``obj["jawOpen"]``, 0..1), keyed in the armature's own action (group "Face"), so the face travels with the body
  through the dope sheet, Refine Again and the retargeting; :func:`read_properties` reads them back per frame.
- :func:`arkit_index`: which ARKit weight a shape key is, whatever its spelling (``jawOpen``, ``JawOpen``,
  ``jaw_open``, ``eyeBlink_L``, ``EyeBlinkL``, ``ARKit.eyeBlinkLeft``, ``blendShape1.mouthSmileLeft`` …: case and
  separators ignored, ``_L``/``_R`` read as Left/Right, leading words before a separator dropped).
- :func:`bake_shape_keys`: the weights as **keys on the shape keys themselves** (an action on the mesh's shape-key
  datablock), not drivers. Both reach FBX and glTF, but keys also survive what drivers do not: glTF's exporter
  only follows drivers whose variables point at the armature being exported (a retargeted character is driven by
  the capture's armature), and deleting or re-importing the capture would leave drivers pointing at nothing.
  The price: editing the armature's properties afterwards does not move the shape keys (bake again).

bpy is imported by the functions that need it; the name matching is plain Python.
"""

from __future__ import annotations

import re
from typing import Optional

import numpy as np

from ...core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

GROUP = "Face"  # F-curve group of the face properties in the armature's action
SOURCE_KEY = "tcmr_face_source"  # custom property of a shape-key action we baked: the armature it came from
_CANONICAL = {re.sub(r"[^a-z0-9]", "", n.lower()): i for i, n in enumerate(ARKIT_BLENDSHAPE_NAMES)}
_SEPARATORS = r"[._:|\s\-]+"


def _canonical(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _lookup(text: str) -> Optional[int]:
    key = _canonical(text)
    if key in _CANONICAL:
        return _CANONICAL[key]
    side = {"l": "left", "r": "right"}.get(key[-1:]) if key else None
    if side is not None:  # eyeBlink_L, EyeBlinkL
        return _CANONICAL.get(key[:-1] + side)
    return None


def arkit_index(name: str) -> Optional[int]:
    """Index in ARKIT_BLENDSHAPE_NAMES of a shape key or property called ``name``, or None."""
    words = re.split(_SEPARATORS, name.strip())
    for start in range(len(words)):  # "blendShape1.eyeBlinkLeft", "ARKit_eye_blink_L": drop leading words
        found = _lookup("_".join(words[start:]))
        if found is not None:
            return found
    return None


def match_shape_keys(names) -> dict:
    """{shape key name: ARKit index} for the names that are ARKit weights (the first key of each weight wins)."""
    out, taken = {}, set()
    for name in names:
        index = arkit_index(name)
        if index is not None and index not in taken:
            out[name] = index
            taken.add(index)
    return out


# ------------------------------------------------------------------------------------------- the armature
def add_properties(obj) -> None:
    """The 52 ARKit properties on ``obj`` (0 .. 1, at 0)."""
    for name in ARKIT_BLENDSHAPE_NAMES:
        obj[name] = 0.0
        obj.id_properties_ui(name).update(min=0.0, max=1.0, soft_min=0.0, soft_max=1.0,
                                          description=f"ARKit blendshape weight {name} (captured face)")


def key_properties(channelbag, frames: np.ndarray, weights: np.ndarray) -> None:
    """Key the ARKit properties. frames: (K,) scene frames; weights: (K, 52) in ARKIT_BLENDSHAPE_NAMES order."""
    from .keyframes import fill_fcurve

    group = channelbag.groups.new(GROUP)
    frames = np.asarray(frames, dtype=np.float64)
    for i, name in enumerate(ARKIT_BLENDSHAPE_NAMES):
        fill_fcurve(channelbag, f'["{name}"]', 0, group, frames, weights[:, i])


def has_face(obj) -> bool:
    """Whether ``obj``'s action keys the ARKit properties (a capture with a face)."""
    return _property_curves(obj) is not None


def _property_curves(obj) -> Optional[dict]:
    from .keyframes import channelbag_of

    bag = channelbag_of(obj) if obj is not None else None
    if bag is None:
        return None
    curves = {fc.data_path[2:-2]: fc for fc in bag.fcurves if fc.data_path.startswith('["') and not fc.mute}
    found = {name: curves[name] for name in ARKIT_BLENDSHAPE_NAMES if name in curves}
    return found or None


def read_properties(obj, frames) -> Optional[np.ndarray]:
    """(T, 52) ARKit weights of ``obj``'s action at ``frames`` (unkeyed names: 0), or None without a face."""
    curves = _property_curves(obj)
    if curves is None:
        return None
    f = np.asarray(frames, dtype=np.float64)
    out = np.zeros((f.shape[0], len(ARKIT_BLENDSHAPE_NAMES)))
    for i, name in enumerate(ARKIT_BLENDSHAPE_NAMES):
        if name in curves:
            out[:, i] = [curves[name].evaluate(x) for x in f]
    return np.clip(out, 0.0, 1.0)


# ------------------------------------------------------------------------------------------- meshes
def meshes_of(armature) -> list:
    """The meshes an armature moves: deformed by it (Armature modifier) or parented to it."""
    import bpy

    return [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys is not None and (
        o.parent == armature or any(m.type == "ARMATURE" and m.object == armature for m in o.modifiers))]


def arkit_values(mesh, weights: np.ndarray) -> dict:
    """{shape key name: (T,) values} of ``mesh``'s ARKit-named shape keys. weights: (T, 52)."""
    keys = mesh.data.shape_keys
    if keys is None:
        return {}
    names = [kb.name for kb in keys.key_blocks[1:]]  # (the first block is the basis)
    return {name: weights[:, i] for name, i in match_shape_keys(names).items()}


def read_shape_keys(mesh, frames) -> Optional[np.ndarray]:
    """(T, 52) ARKit weights from the animated ARKit-named shape keys of ``mesh`` at ``frames``, or None."""
    from .keyframes import channelbag_of

    key = mesh.data.shape_keys
    bag = channelbag_of(key) if key is not None else None
    if bag is None:
        return None
    curves = {fc.data_path: fc for fc in bag.fcurves if not fc.mute}
    f = np.asarray(frames, dtype=np.float64)
    out, found = np.zeros((f.shape[0], len(ARKIT_BLENDSHAPE_NAMES))), False
    for name, i in match_shape_keys(kb.name for kb in key.key_blocks[1:]).items():
        fc = curves.get(f'key_blocks["{_escape(name)}"].value')
        if fc is not None:
            out[:, i] = [fc.evaluate(x) for x in f]
            found = True
    return np.clip(out, 0.0, 1.0) if found else None


def bake_shape_keys(mesh, frames, values: dict, name: str, source_name: str = ""):
    """Key ``mesh``'s shape keys {name: (T,) values} at ``frames`` in a new action assigned to its shape-key
    datablock (tagged with ``source_name``). The action it had stays in the file until :func:`release`.
    Returns the action, or None when there is nothing to key."""
    from .keyframes import fill_fcurve, new_action

    key = mesh.data.shape_keys
    if key is None or not values:
        return None
    action, bag = new_action(key, name, id_type="KEY")
    action[SOURCE_KEY] = source_name
    group = bag.groups.new(GROUP)
    f = np.asarray(frames, dtype=np.float64)
    for block, v in values.items():
        fill_fcurve(bag, f'key_blocks["{_escape(block)}"].value', 0, group, f, np.clip(v, 0.0, 1.0))
    return action


def release(replaced) -> None:
    """After a bake succeeded: remove the replaced [(key, previous action)] that we had baked before; keep the
    animator's own (with a fake user, so that Blender does not drop it)."""
    import bpy

    for key, previous in replaced:
        current = key.animation_data.action if key.animation_data else None
        if previous is None or previous == current:
            continue
        if previous.get(SOURCE_KEY) is not None:
            bpy.data.actions.remove(previous)
        elif previous.users == 0:
            previous.use_fake_user = True


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')
