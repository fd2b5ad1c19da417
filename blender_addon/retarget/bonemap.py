"""Bone maps: which bone of a rig plays which humanoid part ("slot"), read from the preset data files in
``presets/`` (one JSON file per naming standard) or from the user's saved presets. numpy/stdlib only.

Slots: ``hips``, the chains ``spine.0 …`` (hips to chest) and ``neck.0 …`` (chest to head), ``head``, and per
side (``.L``/``.R``) ``shoulder`` (collar, optional), ``upper_arm``, ``forearm``, ``hand``, ``thigh``, ``shin``,
``foot``, ``toe`` and the optional finger chains ``thumb1`` … ``thumb3``, ``index1`` …, ``middle1`` …, ``ring1`` …,
``little1`` … (1 = the bone nearest the hand; palm/metacarpal bones are not fingers). A preset file holds::

    {"name": "...", "description": "...",
     "bones":  {"hips": "Hips", "upper_arm.L": "LeftArm|L_UpperArm", ...},   # "a|b": alternatives, first wins
     "chains": {"spine": ["Spine", "Spine1", "Spine2"], "neck": ["Neck"]},   # the entries present, in order
     "keys":   {"DEF-forearm.L": "forearm_fk.L"},   # optional: the bone to key so that the mapped one follows
     "properties": [["upper_arm_parent.L", "IK_FK", 1.0]],                # optional: custom properties to key
     "root": "torso",                                # optional: the bone that carries the root motion
     "snap": {"hand_ik.L": "DEF-hand.L"},            # optional: IK controls placed on the baked pose
     "poles": {"upper_arm_ik_target.L": ["DEF-upper_arm.L", "DEF-forearm.L", "DEF-hand.L"]}}

Names match case-insensitively and ignoring separators (`` _.:-``), under any common prefix the rig adds
(``mixamorig:``, ``mixamorig``, ``Armature|`` …), found from the hips bone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

PRESET_DIR = Path(__file__).resolve().parent / "presets"
FINGERS = ("thumb", "index", "middle", "ring", "little")
FINGER_PARTS = tuple(f"{f}{k}" for f in FINGERS for k in (1, 2, 3))
SIDE_PARTS = ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe", *FINGER_PARTS)
CHAINS = ("spine", "neck")
REQUIRED = ("hips", "head", *(f"{p}.{s}" for p in ("upper_arm", "forearm", "thigh", "shin", "foot") for s in "LR"))


def side_slots() -> list[str]:
    return [f"{p}.{s}" for p in SIDE_PARTS for s in "LR"]


def slot_order(bones: dict) -> list[str]:
    """Slots of a map from the root outwards (hips, spine…, neck…, head, then each limb top-down)."""
    chain = sorted((s for s in bones if s.split(".")[0] in CHAINS),
                   key=lambda s: (CHAINS.index(s.split(".")[0]), int(s.split(".")[1])))
    rest = [s for s in ("hips", *chain, "head", *side_slots()) if s in bones]
    return rest


def slot_label(slot: str) -> str:
    """'upper_arm.L' -> 'Upper Arm L', 'spine.1' -> 'Spine 2', 'index1.L' -> 'Index 1 L'."""
    base, _, tail = slot.partition(".")
    if base in CHAINS:
        return f"{base.title()} {int(tail) + 1}"
    base = re.sub(r"(\D)(\d)$", r"\1 \2", base)
    return f"{base.replace('_', ' ').title()}{' ' + tail if tail else ''}"


def finger_of(slot: str) -> tuple[str, int, str] | None:
    """'index2.L' -> ('index', 2, 'L'); None for other slots."""
    m = re.fullmatch(r"(thumb|index|middle|ring|little)([123])\.([LR])", slot)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


@dataclass
class BoneMap:
    """slot -> bone name (the bone matched against the source: what the mesh follows), plus the bones to key."""

    bones: dict[str, str]
    preset: str = "CUSTOM"
    keys: dict[str, str] = field(default_factory=dict)  # mapped bone -> bone to key (default: itself)
    properties: list = field(default_factory=list)  # [(bone, property, value)]
    root: str = ""  # bone that carries the root motion (default: the hips' key bone)
    snap: dict = field(default_factory=dict)  # IK control -> mapped bone it is placed on (e.g. hand_ik.L)
    poles: dict = field(default_factory=dict)  # pole control -> [upper, lower, end] mapped bones of its limb

    def key_bone(self, bone: str) -> str:
        return self.keys.get(bone, bone)

    def missing_required(self) -> list[str]:
        return [s for s in REQUIRED if not self.bones.get(s)]

    def chain(self, name: str) -> list[str]:
        return [self.bones[s] for s in slot_order(self.bones) if s.split(".")[0] == name]

    def to_preset(self, name: str, description: str = "") -> dict:
        """The data-file form (single names, chains as lists)."""
        flat = {s: b for s, b in self.bones.items() if s.split(".")[0] not in CHAINS}
        data = {"name": name, "description": description, "bones": flat,
                "chains": {c: self.chain(c) for c in CHAINS}}
        if self.keys:
            data["keys"] = dict(self.keys)
        if self.properties:
            data["properties"] = [list(p) for p in self.properties]
        if self.root:
            data["root"] = self.root
        return data


def normalize(name: str) -> str:
    return re.sub(r"[\s_.:\-|]", "", name).lower()


# ------------------------------------------------------------------------------------------------ presets
def preset_files(user_dir: str | Path | None = None) -> dict[str, Path]:
    """{preset id: file}: the shipped presets, then the user's (which may override a shipped id)."""
    found = {p.stem: p for p in sorted(PRESET_DIR.glob("*.json"))}
    if user_dir and Path(user_dir).is_dir():
        found.update({p.stem: p for p in sorted(Path(user_dir).glob("*.json"))})
    return found


def load_preset(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("bones"), dict):
        raise ValueError(f"{path}: not a bone-map preset (needs a 'bones' object)")
    return data


def _alternatives(entry: str) -> list[str]:
    return [a for a in str(entry).split("|") if a]


def match_preset(preset: dict, bone_names: list[str], preset_id: str = "CUSTOM") -> BoneMap:
    """The preset applied to a rig's bone names (under the best common prefix). Slots whose bones the rig
    lacks are left out; chains keep the entries present, in order."""
    by_norm: dict[str, str] = {}
    for name in bone_names:
        by_norm.setdefault(normalize(name), name)
    prefixes = {""}
    for alt in _alternatives(preset["bones"].get("hips", "")):
        n = normalize(alt)
        prefixes.update(k[: -len(n)] for k in by_norm if n and k.endswith(n))
    best = None
    for prefix in sorted(prefixes, key=len):
        bm = _apply(preset, by_norm, prefix, preset_id)
        score = len(bm.bones) + 0.5 * sum(1 for k in bm.keys.values() if k) - 0.01 * bool(prefix)
        if best is None or score > best[0]:
            best = (score, bm)
    return best[1]


def _apply(preset: dict, by_norm: dict, prefix: str, preset_id: str) -> BoneMap:
    def find(entry):
        for alt in _alternatives(entry):
            hit = by_norm.get(prefix + normalize(alt)) or by_norm.get(normalize(alt))
            if hit:
                return hit
        return None

    bones = {}
    for slot, entry in preset.get("bones", {}).items():
        hit = find(entry)
        if hit:
            bones[slot] = hit
    for chain in CHAINS:
        hits = [h for h in (find(e) for e in preset.get("chains", {}).get(chain, [])) if h]
        for i, hit in enumerate(dict.fromkeys(hits)):
            bones[f"{chain}.{i}"] = hit
    keys = {}
    for bone, key in preset.get("keys", {}).items():
        b, k = find(bone), find(key)
        if b and k:
            keys[b] = k
    props = [(find(b), p, v) for b, p, v in preset.get("properties", []) if find(b)]
    root = find(preset["root"]) if preset.get("root") else None
    snap = {find(c): find(b) for c, b in preset.get("snap", {}).items() if find(c) and find(b)}
    poles = {find(c): [find(b) for b in chain] for c, chain in preset.get("poles", {}).items()
             if find(c) and all(find(b) for b in chain)}
    return BoneMap(bones=bones, preset=preset_id, keys=keys, properties=props, root=root or "", snap=snap,
                   poles=poles)


def preset_entries(preset: dict) -> list:
    return [*preset.get("bones", {}).values(), *(e for c in preset.get("chains", {}).values() for e in c)]


def best_preset(bone_names: list[str], user_dir=None, partial: bool = False) -> BoneMap | None:
    """The preset that maps a rig completely (all required slots) with the most bones, or None. With
    ``partial``, the best incomplete one instead (to say which required bones a rig of that kind lacks)."""
    best = None
    for pid, path in preset_files(user_dir).items():
        try:
            bm = match_preset(load_preset(path), bone_names, pid)
        except (OSError, ValueError):
            continue
        if bool(bm.missing_required()) != partial:
            continue
        entries = len(preset_entries(load_preset(path)))
        score = len(bm.bones) + 0.5 * len(bm.keys) - 0.01 * (entries - len(bm.bones))  # the closest fit
        if best is None or score > best[0]:
            best = (score, bm)
    return best[1] if best else None
