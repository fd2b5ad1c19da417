"""Bone-map auto-detection for rigs no preset covers. numpy only.

1. A preset that maps every required slot wins (bonemap.best_preset).
2. Otherwise the *anchors* — head, both hands, both feet — are found by name (side markers ``L``/``R``/
   ``Left``/``_l``/``.L``/``l`` + CamelCase, and synonyms: wrist for hand, ankle for foot …) and, where a name
   gives nothing, by the rest shape (the highest bone near the middle, the arm chains' outermost joints,
   the lowest bone on each side).
3. The rest comes from the hierarchy: hips = the common ancestor of the feet and the head, chest = that of
   the hands; spine = the bones between them, neck = between chest and head; each limb walks up from its
   anchor (shin, thigh / forearm, upper arm, collar), skipping helpers (twist, roll, IK, end bones).

Rigs are given as ``RigInfo``: names, parent indices and rest heads/tails in world space (Z up; the
character's left on +X when it faces -Y, Blender's convention, for rigs without side names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .bonemap import REQUIRED, BoneMap, best_preset

HELPER_TOKENS = {"ik", "pole", "target", "twist", "roll", "end", "nub", "tip", "mch", "vis", "tweak", "helper",
                 "corrective", "jiggle", "weapon", "prop", "ctrl", "offset", "null", "share", "top", "socket",
                 "bend2", "ik_target", "poletarget", "ikfk", "parent", "damped", "elbowtarget", "kneetarget"}
FINGER_TOKENS = {"thumb", "index", "middle", "ring", "pinky", "little", "finger", "carpal", "palm", "metacarpal"}
LEFT, RIGHT = {"l", "left", "lft", "左"}, {"r", "right", "rgt", "右"}


@dataclass
class RigInfo:
    names: list
    parents: list  # parent index per bone, -1 for roots
    heads: np.ndarray  # (N, 3) world rest
    tails: np.ndarray  # (N, 3)

    def children(self, i: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == i]

    def ancestors(self, i: int) -> list[int]:
        out = []
        while self.parents[i] >= 0:
            i = self.parents[i]
            out.append(i)
        return out


def tokens(name: str) -> list[str]:
    """'mixamorig:LeftForeArm' -> ['mixamorig', 'left', 'fore', 'arm']; 'lShldrBend' -> ['l', 'shldr', 'bend']."""
    parts = re.split(r"[\s_.:\-|]+", name)
    out = []
    for part in parts:
        out += [t.lower() for t in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\x00-\x7f]+", part)]
    return [t for t in out if t]


def side_of(name: str) -> str:
    toks = tokens(name)
    if any(t in LEFT for t in toks) or name.startswith("左"):
        return "L"
    if any(t in RIGHT for t in toks) or name.startswith("右"):
        return "R"
    return ""


def _role_text(name: str) -> str:
    return "".join(t for t in tokens(name) if t not in LEFT | RIGHT)


def is_helper(name: str) -> bool:
    toks = set(tokens(name))
    text = _role_text(name)
    return bool(toks & HELPER_TOKENS) or bool(toks & FINGER_TOKENS) or text.endswith("end") or "twist" in text


def _name_anchor(rig: RigInfo, words: tuple, side: str, exclude: tuple = ()) -> int | None:
    """The bone whose role text contains one of ``words`` on ``side``; if several, the one nearest the root
    (SMPL's 'left_foot' below 'left_ankle')."""
    hits = []
    for i, name in enumerate(rig.names):
        if is_helper(name) or side_of(name) != side:
            continue
        text = _role_text(name)
        if any(w in text for w in words) and not any(x in text for x in exclude):
            hits.append(i)
    if not hits:
        return None
    return min(hits, key=lambda i: (len(rig.ancestors(i)), i))


def detect(rig: RigInfo, user_dir=None) -> BoneMap:
    """A bone map for ``rig``: a complete preset if one fits, else names + hierarchy (may miss slots: the
    caller reports ``missing_required()``)."""
    bm = best_preset(rig.names, user_dir)
    if bm is not None:
        return bm
    near = best_preset(rig.names, user_dir, partial=True)
    if near is not None and len(near.missing_required()) <= 0.3 * len(REQUIRED):
        return near  # a rig of a known kind with bones missing: the caller names them
    return detect_by_structure(rig)


def detect_by_structure(rig: RigInfo) -> BoneMap:
    n = len(rig.names)
    if n == 0:
        return BoneMap(bones={}, preset="AUTO")
    heads = np.asarray(rig.heads, dtype=np.float64)
    anchors = {
        "head": _name_anchor(rig, ("head",), "", exclude=("headtop", "top", "fore")),
        "hand.L": _name_anchor(rig, ("hand", "wrist"), "L"),
        "hand.R": _name_anchor(rig, ("hand", "wrist"), "R"),
        "foot.L": _name_anchor(rig, ("foot", "ankle"), "L"),
        "foot.R": _name_anchor(rig, ("foot", "ankle"), "R"),
    }
    height = float(heads[:, 2].max() - heads[:, 2].min()) or 1.0
    floor = float(heads[:, 2].min())
    center_x = float(np.median(heads[:, 0]))
    real = [i for i in range(n) if not is_helper(rig.names[i])] or list(range(n))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        if anchors[f"foot.{side}"] is None:
            anchors[f"foot.{side}"] = _geometry_foot(rig, real, sign, center_x, floor, height)
    if anchors["head"] is None:
        anchors["head"] = _geometry_head(rig, real, center_x, height)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        if anchors[f"hand.{side}"] is None:
            anchors[f"hand.{side}"] = _geometry_hand(rig, real, sign, center_x, anchors)
    bones: dict[str, str] = {}
    if any(v is None for v in anchors.values()):
        for slot, i in anchors.items():
            if i is not None:
                bones[slot] = rig.names[i]
        return BoneMap(bones=bones, preset="AUTO")
    hips = _lca(rig, [anchors["foot.L"], anchors["foot.R"], anchors["head"]])
    chest = _lca(rig, [anchors["hand.L"], anchors["hand.R"]])
    if hips is None or chest is None:
        return BoneMap(bones={s: rig.names[i] for s, i in anchors.items()}, preset="AUTO")
    bones["hips"] = rig.names[hips]
    bones["head"] = rig.names[anchors["head"]]
    spine = _between(rig, hips, chest, include_end=True) if chest != hips else []
    neck = _between(rig, chest, anchors["head"], include_end=False)
    for k, i in enumerate(spine):
        bones[f"spine.{k}"] = rig.names[i]
    for k, i in enumerate(neck):
        bones[f"neck.{k}"] = rig.names[i]
    for side in "LR":
        foot = anchors[f"foot.{side}"]
        leg = _between(rig, hips, foot, include_end=False)
        if len(leg) >= 2:
            bones[f"thigh.{side}"], bones[f"shin.{side}"] = rig.names[leg[-2]], rig.names[leg[-1]]
        bones[f"foot.{side}"] = rig.names[foot]
        toes = [c for c in rig.children(foot)
                if not is_helper(rig.names[c]) and "heel" not in _role_text(rig.names[c])]
        if toes:  # a child named toe/ball first, else the one furthest along the foot (not a heel)
            along = np.asarray(rig.tails[foot]) - rig.heads[foot]
            toes.sort(key=lambda c: (not any(w in _role_text(rig.names[c]) for w in ("toe", "ball")),
                                     -float(np.dot(np.asarray(rig.heads[c]) - rig.heads[foot], along))))
            bones[f"toe.{side}"] = rig.names[toes[0]]
        hand = anchors[f"hand.{side}"]
        arm = _between(rig, chest, hand, include_end=False)
        if len(arm) >= 2:
            bones[f"upper_arm.{side}"], bones[f"forearm.{side}"] = rig.names[arm[-2]], rig.names[arm[-1]]
        if len(arm) >= 3:
            bones[f"shoulder.{side}"] = rig.names[arm[-3]]
        bones[f"hand.{side}"] = rig.names[hand]
    return BoneMap(bones=bones, preset="AUTO")


def _lca(rig: RigInfo, bones: list[int]) -> int | None:
    paths = [[b, *rig.ancestors(b)] for b in bones]
    common = set(paths[0]).intersection(*paths[1:])
    for b in paths[0]:
        if b in common:
            return b
    return None


def _between(rig: RigInfo, top: int, bottom: int, include_end: bool) -> list[int]:
    """Bones strictly below ``top`` down to ``bottom`` (inclusive if include_end), root side first; helpers
    and bones whose head coincides with their parent's are skipped."""
    path = [bottom, *rig.ancestors(bottom)]
    if top not in path:
        return []
    chain = path[: path.index(top)][::-1]
    if not include_end:
        chain = chain[:-1]
    out = []
    heads = np.asarray(rig.heads)
    for i in chain:
        if is_helper(rig.names[i]):
            continue
        p = rig.parents[i]
        if p >= 0 and np.linalg.norm(heads[i] - heads[p]) < 1e-4:  # e.g. CMU's LHipJoint at the hips
            continue
        out.append(i)
    return out


def _geometry_foot(rig, real, sign, center_x, floor, height):
    side = [i for i in real if sign * (rig.heads[i][0] - center_x) > 0.02 * height]
    if not side:
        return None
    low = min(side, key=lambda i: rig.heads[i][2])
    path = [low, *rig.ancestors(low)]
    ankle = [i for i in path if rig.heads[i][2] < floor + 0.15 * height and i in real and i in side]
    return ankle[-1] if ankle else low


def _geometry_head(rig, real, center_x, height):
    mid = [i for i in real if abs(rig.heads[i][0] - center_x) < 0.05 * height]
    if not mid:
        return None
    top = max(mid, key=lambda i: rig.tails[i][2])
    length = np.linalg.norm(np.asarray(rig.tails[top]) - rig.heads[top])
    if not rig.children(top) and rig.parents[top] >= 0 and length < 0.04 * height:
        return rig.parents[top]
    return top


def _geometry_hand(rig, real, sign, center_x, anchors):
    head = anchors.get("head")
    ups = set(rig.ancestors(head)) if head is not None else set()
    side = [i for i in real if sign * (rig.heads[i][0] - center_x) > 0 and i not in ups]
    feet = {anchors.get("foot.L"), anchors.get("foot.R")}
    leg_bones = set()
    for f in feet:
        if f is not None:
            leg_bones |= {f, *rig.ancestors(f)}
    side = [i for i in side if i not in leg_bones]
    if not side:
        return None
    far = max(side, key=lambda i: sign * rig.heads[i][0])
    path = [far, *rig.ancestors(far)]
    base = next((i for i in path if i in ups), path[-1])
    origin = np.asarray(rig.heads[base])
    reach = np.linalg.norm(np.asarray(rig.heads[far]) - origin)
    for i in reversed(path[: path.index(base)] if base in path else path):
        if i in real and np.linalg.norm(np.asarray(rig.heads[i]) - origin) > 0.65 * reach:
            return i
    return far
