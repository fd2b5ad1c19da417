"""Captured ARKit weights -> VRM expressions, for characters without ARKit-named shape keys (VRoid, VRM avatars).

The table (:data:`TABLE`, README "Fingers and face"): each VRM 1.0 preset expression's weight is the mean of
the ARKit weights listed, clipped to 0..1:

=============  ===========================================================
expression     ARKit weights (mean)
=============  ===========================================================
blink          eyeBlinkLeft, eyeBlinkRight (when the avatar has no blinkLeft/blinkRight)
blinkLeft      eyeBlinkLeft
blinkRight     eyeBlinkRight
aa             jawOpen
ih             mouthStretchLeft, mouthStretchRight
ou             mouthPucker
ee             mouthLowerDownLeft, mouthLowerDownRight
oh             mouthFunnel
happy          mouthSmileLeft, mouthSmileRight
angry          browDownLeft, browDownRight
sad            mouthFrownLeft, mouthFrownRight
relaxed        cheekSquintLeft, cheekSquintRight
surprised      browInnerUp, eyeWideLeft, eyeWideRight
=============  ===========================================================

What is driven: a VRM expression is a group of shape keys (its *binds*: mesh, shape key, weight). With the VRM
add-on for Blender (saturday06) the binds are read from the armature data: VRM 1.0
``vrm_addon_extension.vrm1.expressions.preset.<name>.morph_target_binds`` (``node.mesh_object_name``,
``index`` = shape key name, ``weight``), VRM 0.x ``vrm_addon_extension.vrm0.blend_shape_master
.blend_shape_groups`` (``preset_name``, ``binds``: ``mesh.mesh_object_name``, ``index``, ``weight``); each bound
shape key is keyed with Σ bind weight × expression weight (as the add-on's own preview sums them). The add-on's
``preview`` properties are not keyed: keys on the shape keys themselves reach FBX/glTF and need no add-on.
Without the add-on (a VRM read as glTF), shape keys named like an expression are keyed: the preset's own name or
its VRM 0.x name (``blink``, ``Blink_L``, ``A``, ``Joy``, ``Sorrow``, ``Fun`` …) or VRoid Studio's
(``Fcl_EYE_Close``, ``Fcl_EYE_Close_L``, ``Fcl_MTH_A`` … ``Fcl_MTH_O``, ``Fcl_ALL_Joy``, ``Fcl_ALL_Angry``,
``Fcl_ALL_Sorrow``, ``Fcl_ALL_Fun``, ``Fcl_ALL_Surprised``), any prefix before a separator ignored.

Plain Python + numpy; bpy data is passed in.
"""

from __future__ import annotations

import re

import numpy as np

from ...core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

TABLE: dict[str, tuple[str, ...]] = {
    "blink": ("eyeBlinkLeft", "eyeBlinkRight"),
    "blinkLeft": ("eyeBlinkLeft",),
    "blinkRight": ("eyeBlinkRight",),
    "aa": ("jawOpen",),
    "ih": ("mouthStretchLeft", "mouthStretchRight"),
    "ou": ("mouthPucker",),
    "ee": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "oh": ("mouthFunnel",),
    "happy": ("mouthSmileLeft", "mouthSmileRight"),
    "angry": ("browDownLeft", "browDownRight"),
    "sad": ("mouthFrownLeft", "mouthFrownRight"),
    "relaxed": ("cheekSquintLeft", "cheekSquintRight"),
    "surprised": ("browInnerUp", "eyeWideLeft", "eyeWideRight"),
}
# VRM 1.0 preset -> the add-on's property name, VRM 0.x preset names, and shape-key names it goes by
VRM1_PROPERTY = {"blinkLeft": "blink_left", "blinkRight": "blink_right"}
VRM0_PRESET = {"a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh", "blink": "blink", "blink_l": "blinkLeft",
               "blink_r": "blinkRight", "joy": "happy", "angry": "angry", "sorrow": "sad", "fun": "relaxed"}
_ALIASES = {
    "blink": ("blink", "fcleyeclose"), "blinkLeft": ("blinkleft", "blinkl", "fcleyeclosel"),
    "blinkRight": ("blinkright", "blinkr", "fcleyecloser"), "aa": ("aa", "a", "fclmtha"), "ih": ("ih", "i", "fclmthi"),
    "ou": ("ou", "u", "fclmthu"), "ee": ("ee", "e", "fclmthe"), "oh": ("oh", "o", "fclmtho"),
    "happy": ("happy", "joy", "fclalljoy"), "angry": ("angry", "fclallangry"), "sad": ("sad", "sorrow", "fclallsorrow"),
    "relaxed": ("relaxed", "fun", "fclallfun"), "surprised": ("surprised", "fclallsurprised"),
}
_BY_ALIAS = {alias: expr for expr, aliases in _ALIASES.items() for alias in aliases}


def expression_weights(arkit: np.ndarray) -> dict:
    """{expression: (T,) weight} from ARKit weights (T, 52) through :data:`TABLE`."""
    w = np.asarray(arkit, dtype=np.float64)
    return {expr: np.clip(w[:, [ARKIT_BLENDSHAPE_NAMES.index(n) for n in names]].mean(axis=1), 0.0, 1.0)
            for expr, names in TABLE.items()}


def expression_of(name: str):
    """The VRM expression a shape key called ``name`` stands for (see the module docstring), or None."""
    words = [w for w in re.split(r"[._:|\s\-]+", name.strip()) if w]
    for start in range(len(words)):
        key = re.sub(r"[^a-z0-9]", "", "".join(words[start:]).lower())
        if key in _BY_ALIAS:
            return _BY_ALIAS[key]
    return None


def _one_blink(found: set) -> set:
    """Either blink or blinkLeft + blinkRight, never both (they would close the eyes twice)."""
    return found - {"blink"} if {"blinkLeft", "blinkRight"} <= found else found - {"blinkLeft", "blinkRight"}


def binds(armature) -> dict:
    """{expression: [(mesh object name, shape key name, weight)]} from the VRM add-on's data on ``armature``'s
    armature data ({} without the add-on or without binds): VRM 1.0's expressions, or VRM 0.x's blend shape
    groups when the add-on's ``spec_version`` says 0.x."""
    ext = getattr(getattr(armature, "data", None), "vrm_addon_extension", None)
    out: dict = {}
    if ext is None:
        return out
    if str(getattr(ext, "spec_version", "1.0")).startswith("0"):
        master = getattr(getattr(ext, "vrm0", None), "blend_shape_master", None)
        for group in getattr(master, "blend_shape_groups", ()):
            expr = VRM0_PRESET.get(str(getattr(group, "preset_name", "")).lower())
            for b in getattr(group, "binds", ()) if expr is not None else ():
                out.setdefault(expr, []).append((b.mesh.mesh_object_name, b.index, float(b.weight)))
    else:
        preset = getattr(getattr(getattr(ext, "vrm1", None), "expressions", None), "preset", None)
        for expr in TABLE:
            group = getattr(preset, VRM1_PROPERTY.get(expr, expr), None) if preset is not None else None
            for b in getattr(group, "morph_target_binds", ()):
                out.setdefault(expr, []).append((b.node.mesh_object_name, b.index, float(b.weight)))
    keep = _one_blink(set(out))
    return {e: v for e, v in out.items() if e in keep}


def bound_values(bind_table: dict, weights: dict) -> dict:
    """{mesh object name: {shape key: (T,) value}}: Σ bind weight × expression weight, clipped to 0..1."""
    out: dict = {}
    for expr, items in bind_table.items():
        for mesh, key, w in items:
            values = out.setdefault(mesh, {})
            values[key] = values.get(key, 0.0) + w * weights[expr]
    return {m: {k: np.clip(v, 0.0, 1.0) for k, v in values.items()} for m, values in out.items()}


def named_values(key_names, weights: dict) -> dict:
    """{shape key: (T,) value} for the shape keys named like an expression (the first key of each)."""
    found: dict = {}
    for name in key_names:
        expr = expression_of(name)
        if expr is not None and expr not in found.values():
            found[name] = expr
    keep = _one_blink(set(found.values()))
    return {name: weights[expr] for name, expr in found.items() if expr in keep}
