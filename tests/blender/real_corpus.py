"""The corpus of real characters the retargeting tests run on: MPFB2's rigs on the MakeHuman body
(real_rigs.py builds them) as they arrive from other tools — native, through Blender's FBX and glTF exporters
and the stock importers, renamed to the naming standards (Mixamo, VRoid, VRM 1.0, UE4/UE5, Ready Player Me,
Character Creator, Auto-Rig Pro, low-poly ``.L/.R`` with separate IK control roots, CesiumMan-like, nameless) —
and MPFB's Rigify metarig with the rig Rigify generates from it.

``roles_of`` / ``Variant.roles``: which bone plays which part, as the rig's author meant it (carried through
every rename): what auto-detection is checked against, and what the scores measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from real_rigs import Assets, RigSpec, build_character, build_rigify

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


LIMBS = ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe")


def _standard(torso: dict, limbs: tuple, finger=None, sides=(("L", "l"), ("R", "r"))) -> dict:
    """{slot: name} of a naming standard: torso slots as given, the limb slots (LIMBS order) from patterns with
    ``{S}`` (L/R) and ``{s}`` (the standard's side word), fingers from ``finger(finger, k)`` patterns."""
    out = dict(torso)
    for S, s in sides:
        out.update({f"{part}.{S}": pattern.format(S=S, s=s) for part, pattern in zip(LIMBS, limbs) if pattern})
        if finger is not None:
            out.update({f"{f}{k}.{S}": finger(f, k).format(S=S, s=s) for f in FINGERS for k in (1, 2, 3)})
    return out


def _cc_names() -> dict:
    return _standard({"hips": "CC_Base_Hip", "spine.0": "CC_Base_Waist", "spine.1": "CC_Base_Spine01",
                      "spine.2": "CC_Base_Spine02", "neck.0": "CC_Base_NeckTwist01", "head": "CC_Base_Head"},
                     tuple(f"CC_Base_{{S}}_{p}" for p in ("Clavicle", "Upperarm", "Forearm", "Hand", "Thigh",
                                                          "Calf", "Foot", "ToeBase")),
                     lambda f, k: f"CC_Base_{{S}}_{ {'middle': 'Mid', 'little': 'Pinky'}.get(f, f.title())}{k}")


def _arp_names() -> dict:
    return _standard({"hips": "root.x", "spine.0": "spine_01.x", "spine.1": "spine_02.x", "spine.2": "spine_03.x",
                      "neck.0": "neck.x", "head": "head.x"},
                     ("shoulder.{s}", "arm_stretch.{s}", "forearm_stretch.{s}", "hand.{s}", "thigh_stretch.{s}",
                      "leg_stretch.{s}", "foot.{s}", "toes_01.{s}"),
                     lambda f, k: f"{'pinky' if f == 'little' else f}{k}.{{s}}")


def _lowpoly_names() -> dict:
    return _standard({"hips": "Hips", "spine.0": "Abdomen", "spine.1": "Torso", "spine.2": "Chest",
                      "neck.0": "Neck", "head": "Head"},
                     tuple(f"{p}.{{S}}" for p in ("Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg",
                                                   "Foot", "Toe")),
                     lambda f, k: f"{f.title()}{k}.{{S}}")


def _cesium_names() -> dict:
    """CesiumMan-like: side markers and numbers, no words for the parts (no fingers)."""
    return _standard({"hips": "Skeleton_torso_joint_1", "spine.0": "torso_joint_2", "spine.1": "torso_joint_3",
                      "spine.2": "Skeleton_torso_joint_4", "neck.0": "Skeleton_neck_joint_1",
                      "head": "Skeleton_neck_joint_2"},
                     (*(f"Skeleton_arm_joint_{{S}}_{i}" for i in (1, 2, 3, 4)),
                      *(f"leg_joint_{{S}}_{i}" for i in (1, 2, 3, 5))))


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
