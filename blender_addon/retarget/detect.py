"""Bone-map auto-detection: presets, then names + hierarchy + rest shape. numpy only.

1. A preset that maps every required slot wins (bonemap.best_preset); finger chains it lacks are found below.
2. Otherwise the *anchors* — head, both hands, both feet — are found by name (side markers ``L``/``R``/
   ``Left``/``_l``/``.L``/``l`` + CamelCase, and synonyms: wrist for hand, ankle for foot …), else by shape:
   the hand is where the finger chains meet, or the end of the arm's chain; the head is the highest bone near
   the middle, a foot the lowest bone on its side. Helper bones (twist, roll, IK/FK, pole, control, target,
   end …) and finger, palm and toe-digit bones never serve.
3. A foot or hand parented elsewhere than its limb (under a separate control root, ``FootControl.L -> Foot.L``)
   is attached to the bone whose end it sits on. Hips = the common ancestor of the feet and the head, chest =
   that of the hands; spine = the bones between them, neck = between chest and head.
4. Each limb's chain (chest -> hand, hips -> foot, helpers skipped) is split into collar / upper arm / forearm
   (hip joint / thigh / shin) by its shape: the split whose lengths look most like a human limb (forearm ~0.85
   upper arm, collar ~0.55 upper arm; shin ~ thigh), with bones that continue a straight line (twist segments)
   kept inside their part — so a rig whose upper arm is two bones is not mapped one bone off.
5. Fingers: hands.detect_fingers (names, else shape).

Rigs are given as ``RigInfo``: names, parent indices and rest heads/tails in world space (Z up; the
character's left on +X when it faces -Y, Blender's convention, for rigs without side names).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from . import hands
from .bonemap import REQUIRED, BoneMap, best_preset, finger_of
from .names import is_extremity, is_helper, role_text, side_of, toe_digit

@dataclass
class RigInfo:
    names: list
    parents: list  # parent index per bone, -1 for roots
    heads: np.ndarray  # (N, 3) world rest
    tails: np.ndarray  # (N, 3)
    ik: list = field(default_factory=list)  # [(bone, target bone or None, pole bone or None)] the rig's own IK

    def children(self, i: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == i]

    def ancestors(self, i: int) -> list[int]:
        out = []
        while self.parents[i] >= 0:
            i = self.parents[i]
            out.append(i)
        return out


def _name_anchor(rig: RigInfo, words: tuple, side: str, exclude: tuple = ()) -> int | None:
    """The bone whose role text contains one of ``words`` on ``side``; if several, the one nearest the root
    (SMPL's 'left_foot' below 'left_ankle')."""
    hits = []
    for i, name in enumerate(rig.names):
        if is_helper(name) or is_extremity(name) or side_of(name) != side:
            continue
        text = role_text(name)
        if any(w in text for w in words) and not any(x in text for x in exclude):
            hits.append(i)
    if not hits:
        return None
    return min(hits, key=lambda i: (len(rig.ancestors(i)), i))


def detect(rig: RigInfo, user_dir=None) -> BoneMap:
    """A bone map for ``rig``: a complete preset if one fits, else names + hierarchy (may miss slots: the
    caller reports ``missing_required()``). Finger chains and IK controls are added where found."""
    bm = best_preset(rig.names, user_dir)
    if bm is None:
        found = detect_by_structure(rig)
        near = best_preset(rig.names, user_dir, partial=True)
        bm = found
        if near is not None and len(near.missing_required()) <= 0.3 * len(REQUIRED):
            # a rig of a known kind with bones missing: unless the structure agrees with the names wherever
            # they say something, the names win and the caller names the missing bones
            if found.missing_required() or any(found.bones.get(s) != b for s, b in near.bones.items()
                                               if s in REQUIRED):
                bm = near
    complete_hands(rig, bm)
    ik_controls(rig, bm)
    return bm


def complete_hands(rig: RigInfo, bm: BoneMap) -> None:
    """Add finger chains found by hands.detect_fingers for hands whose map has none."""
    index = {n: i for i, n in enumerate(rig.names)}
    for side in "LR":
        hand = bm.bones.get(f"hand.{side}")
        if hand not in index or any(finger_of(s) and s.endswith(side) for s in bm.bones):
            continue
        for slot, i in hands.detect_fingers(rig, index[hand], side).items():
            bm.bones[slot] = rig.names[i]


def ik_controls(rig: RigInfo, bm: BoneMap) -> None:
    """The rig's own IK constraints on mapped bones: their poles are placed in the limb's bend plane and their
    targets on the limb's end (unless the end already hangs below the target), as for Rigify's controls."""
    slot_of = {b: s for s, b in bm.bones.items()}
    nxt = {"shin": "foot", "forearm": "hand"}
    for bone, target, pole in rig.ik:
        slot = slot_of.get(rig.names[bone])
        if slot is None or slot.split(".")[0] not in nxt:
            continue
        part, side = slot.split(".")
        upper = {"shin": "thigh", "forearm": "upper_arm"}[part]
        end = bm.bones.get(f"{nxt[part]}.{side}")
        if end is None or f"{upper}.{side}" not in bm.bones:
            continue
        end_i = rig.names.index(end)
        if target is not None and target not in (end_i, *rig.ancestors(end_i)):
            bm.snap.setdefault(rig.names[target], end)
        if pole is not None:
            bm.poles.setdefault(rig.names[pole], [bm.bones[f"{upper}.{side}"], rig.names[bone], end])


def split_torso(rig: RigInfo, bm: BoneMap) -> None:
    """Spine and neck chains split at the chest — the bone the arms hang from (common ancestor of the collars or
    upper arms) — whatever way a preset divided them; of several chain bones moved by one key bone (a Rigify
    neck control) only the first stays mapped."""
    chain = bm.chain("spine") + bm.chain("neck")
    index = {n: i for i, n in enumerate(rig.names)}
    arms = [bm.bones.get(f"shoulder.{s}") or bm.bones.get(f"upper_arm.{s}") for s in "LR"]
    if not chain or not all(a in index for a in arms):
        return
    chest = _lca(rig, [index[a] for a in arms])
    if chest is None:
        return
    if rig.names[chest] not in chain:  # the arms hang from another hierarchy (Rigify's ORG bones): nearest head
        at = np.asarray(rig.heads[chest])
        chest = min((index[b] for b in chain), key=lambda i: np.linalg.norm(np.asarray(rig.heads[i]) - at))
    k = chain.index(rig.names[chest])
    seen = set()
    for slot in [s for s in bm.bones if s.split(".")[0] in ("spine", "neck")]:
        del bm.bones[slot]
    for part, bones in (("spine", chain[:k + 1]), ("neck", chain[k + 1:])):
        n = 0
        for bone in bones:
            key = bm.key_bone(bone)
            if key in seen:
                continue
            seen.add(key)
            bm.bones[f"{part}.{n}"] = bone
            n += 1


# ------------------------------------------------------------------------------------------ by structure
def detect_by_structure(rig: RigInfo) -> BoneMap:
    n = len(rig.names)
    if n == 0:
        return BoneMap(bones={}, preset="AUTO")
    g = _Geometry(rig)
    anchors = {"head": _name_anchor(rig, ("head",), "", exclude=("headtop", "top", "fore"))}
    for side in "LR":
        anchors[f"foot.{side}"] = _name_anchor(rig, ("foot", "ankle"), side)
        anchors[f"hand.{side}"] = _name_anchor(rig, ("hand", "wrist"), side)
    for side, sign in (("L", 1.0), ("R", -1.0)):
        if anchors[f"foot.{side}"] is None:
            anchors[f"foot.{side}"] = g.foot(sign)
    if anchors["head"] is None:
        anchors["head"] = g.head()
    for side, sign in (("L", 1.0), ("R", -1.0)):
        if anchors[f"hand.{side}"] is None:
            anchors[f"hand.{side}"] = g.hand(sign, anchors)
    if any(v is None for v in anchors.values()):
        return BoneMap(bones={s: rig.names[i] for s, i in anchors.items() if i is not None}, preset="AUTO")
    parents = list(rig.parents)
    head = anchors["head"]
    for slot in ("foot.L", "foot.R", "hand.L", "hand.R"):
        _attach(rig, parents, anchors[slot], head, g)
    tree = RigInfo(rig.names, parents, rig.heads, rig.tails)
    hips = _lca(tree, [anchors["foot.L"], anchors["foot.R"], head])
    chest = _lca(tree, [anchors["hand.L"], anchors["hand.R"]])
    if hips is None or chest is None:
        return BoneMap(bones={s: rig.names[i] for s, i in anchors.items()}, preset="AUTO")
    bones = {"hips": rig.names[hips], "head": rig.names[head]}
    spine = _between(tree, hips, chest, include_end=True) if chest != hips else []
    for k, i in enumerate(spine):
        bones[f"spine.{k}"] = rig.names[i]
    for k, i in enumerate(_between(tree, chest, head, include_end=False)):
        bones[f"neck.{k}"] = rig.names[i]
    for side in "LR":
        foot, hand = anchors[f"foot.{side}"], anchors[f"hand.{side}"]
        leg = split_limb(tree, _between(tree, hips, foot, include_end=False), foot, "leg")
        arm = split_limb(tree, _between(tree, chest, hand, include_end=False), hand, "arm")
        for part, i in zip(("thigh", "shin"), leg[1:]):
            if i is not None:
                bones[f"{part}.{side}"] = rig.names[i]
        for part, i in zip(("shoulder", "upper_arm", "forearm"), arm):
            if i is not None:
                bones[f"{part}.{side}"] = rig.names[i]
        bones[f"foot.{side}"], bones[f"hand.{side}"] = rig.names[foot], rig.names[hand]
        toe = _toe(rig, foot)
        if toe is not None:
            bones[f"toe.{side}"] = rig.names[toe]
    return BoneMap(bones=bones, preset="AUTO")


class _Geometry:
    """The rest shape: height, floor, middle, and the bones that can be body parts."""

    def __init__(self, rig: RigInfo):
        self.rig = rig
        heads = np.asarray(rig.heads, dtype=np.float64)
        self.height = float(heads[:, 2].max() - heads[:, 2].min()) or 1.0
        self.floor = float(heads[:, 2].min())
        self.center_x = float(np.median(heads[:, 0]))
        names = rig.names
        self.real = [i for i in range(len(names)) if not is_helper(names[i]) and not is_extremity(names[i])] \
            or list(range(len(names)))

    def side(self, sign) -> list[int]:
        return [i for i in self.real if sign * (self.rig.heads[i][0] - self.center_x) > 0.02 * self.height]

    def foot(self, sign):
        rig = self.rig
        side = self.side(sign)
        if not side:
            return None
        low = min(side, key=lambda i: rig.heads[i][2])
        path = [low, *rig.ancestors(low)]
        ankle = [i for i in path if rig.heads[i][2] < self.floor + 0.15 * self.height and i in side]
        return ankle[-1] if ankle else low

    def head(self):
        rig = self.rig
        mid = [i for i in self.real if abs(rig.heads[i][0] - self.center_x) < 0.05 * self.height]
        if not mid:
            return None
        top = max(mid, key=lambda i: rig.tails[i][2])
        length = np.linalg.norm(np.asarray(rig.tails[top]) - rig.heads[top])
        if not rig.children(top) and rig.parents[top] >= 0 and length < 0.04 * self.height:
            return rig.parents[top]  # a head-top end bone
        return top

    def hand(self, sign, anchors):
        """Where the finger chains meet (a bone with 3+ branches out on the side), else on the chain that reaches
        furthest out, the bone after upper arm and forearm (split_limb's proportions, the hand ~0.72 forearm)."""
        rig = self.rig
        head = anchors.get("head")
        ups = set(rig.ancestors(head)) if head is not None else set()
        legs = set()
        for f in (anchors.get("foot.L"), anchors.get("foot.R")):
            if f is not None:
                legs |= {f, *rig.ancestors(f)}
        side = [i for i in range(len(rig.names)) if sign * (rig.heads[i][0] - self.center_x) > 0.05 * self.height
                and i not in ups and i not in legs and not is_helper(rig.names[i])]
        if not side:
            return None
        far = max(side, key=lambda i: sign * rig.heads[i][0])
        path = [far, *rig.ancestors(far)]
        for i in path:
            if i in ups:
                break
            if len([c for c in rig.children(i) if not is_helper(rig.names[c])]) >= 3:
                return i
        chain = [i for i in path if i not in ups and not is_helper(rig.names[i])][::-1]
        if len(chain) < 3:
            return chain[-1] if chain else far
        best = None
        for w in range(2, len(chain)):
            upper_fore = split_limb(rig, chain[:w], chain[w], "arm", with_cost=True)
            hand = np.linalg.norm(np.asarray(rig.tails[chain[-1]]) - rig.heads[chain[w]])
            fore = np.linalg.norm(np.asarray(rig.heads[chain[w]]) - rig.heads[upper_fore[2]])
            cost = upper_fore[3] + 0.3 * abs(np.log(max(hand, 1e-6) / max(fore, 1e-6) / 0.72))
            if best is None or cost < best[0]:
                best = (cost, chain[w])
        return best[1]


def _attach(rig: RigInfo, parents: list, anchor: int, head: int, g: _Geometry) -> None:
    """Give a foot/hand hanging under a separate control root its limb as parent (in ``parents``): the bone of
    the head's tree whose end (tail or a child's head) is nearest the anchor's head."""
    tree = RigInfo(rig.names, parents, rig.heads, rig.tails)
    lca = _lca(tree, [anchor, head])
    if lca is not None and len(_between(tree, lca, anchor, include_end=False)) >= 2:
        return
    own = {anchor, *(c for c in range(len(rig.names)) if anchor in tree.ancestors(c))}
    top = {head, *tree.ancestors(head)}
    best, best_d = None, 0.08 * g.height
    for i in g.real:
        if i in own or i == anchor:
            continue
        if not ({i, *tree.ancestors(i)} & top):
            continue
        ends = [rig.tails[i], *(rig.heads[c] for c in tree.children(i) if c not in own)]
        d = min(np.linalg.norm(np.asarray(e) - rig.heads[anchor]) for e in ends)
        if d < best_d and np.linalg.norm(np.asarray(rig.heads[i]) - rig.heads[anchor]) > 0.1 * g.height:
            best, best_d = i, d
    if best is not None:
        parents[anchor] = best


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


# proportions of a human limb: (lower part / upper part, collar or hip bone / upper part)
PROPORTIONS = {"arm": (0.85, 0.55), "leg": (1.0, 0.25)}


def split_limb(rig: RigInfo, chain: list[int], end: int, kind: str, with_cost: bool = False) -> list:
    """[collar or hip bone (or None), upper, lower] of a limb chain (root side first, ``end`` = the hand or
    foot below it): the split whose part lengths are most human, bones on a straight line kept together, an
    upper arm that starts outside the torso. ``with_cost``: the split's cost appended."""
    if len(chain) < 2:
        out = [None, *([None] * (2 - len(chain))), *chain]
        return out + [np.inf] if with_cost else out
    joints = np.array([rig.heads[i] for i in chain] + [rig.heads[end]], dtype=np.float64)
    heads = np.asarray(rig.heads, dtype=np.float64)
    height = float(np.ptp(heads[:, 2])) or 1.0
    centre_x = float(np.median(heads[:, 0]))
    lower_ratio, collar_ratio = PROPORTIONS[kind]
    best = None
    for s, e in itertools.combinations(range(len(chain)), 2):
        upper = np.linalg.norm(joints[e] - joints[s])
        lower = np.linalg.norm(joints[-1] - joints[e])
        if upper < 1e-6 or lower < 1e-6:
            continue
        cost = abs(np.log(lower / upper / lower_ratio))
        if s > 0:
            collar = np.linalg.norm(joints[s] - joints[0])
            cost += abs(np.log(max(collar, 1e-6) / upper / collar_ratio))
        if kind == "arm" and abs(joints[s][0] - centre_x) < 0.05 * height:
            cost += 1.0  # a shoulder joint inside the torso: that is a collar
        cost += 3.0 * (_bend(joints[s:e + 1]) + _bend(joints[e:]))  # twist segments lie on a line
        cost += _name_hint(rig, chain[s], chain[e], kind)
        if best is None or cost < best[0]:
            best = (cost, s, e)
    if best is None:
        out = [None, chain[-2], chain[-1]]
        return out + [np.inf] if with_cost else out
    cost, s, e = best
    out = [chain[0] if s > 0 else None, chain[s], chain[e]]
    return out + [cost] if with_cost else out


def _bend(points: np.ndarray) -> float:
    """How far inner points stray from the straight line through the ends, relative to its length."""
    if len(points) < 3:
        return 0.0
    a, b = points[0], points[-1]
    d = b - a
    length = np.linalg.norm(d)
    if length < 1e-9:
        return 0.0
    d /= length
    inner = points[1:-1] - a
    return float(np.max(np.linalg.norm(inner - np.outer(inner @ d, d), axis=1)) / length)


def _name_hint(rig: RigInfo, upper: int, lower: int, kind: str) -> float:
    """A small bonus when the names agree (upper arm / forearm, thigh / shin words)."""
    up, low = role_text(rig.names[upper]), role_text(rig.names[lower])
    words = {"arm": (("upper", "uparm", "shoulder"), ("fore", "lower", "lowarm", "elbow")),
             "leg": (("thigh", "upleg", "upper", "hip"), ("shin", "calf", "knee", "lower", "lowleg"))}[kind]
    bonus = 0.0
    if any(w in up for w in words[0]) and not any(w in up for w in words[1]):
        bonus -= 0.2
    if any(w in low for w in words[1]):
        bonus -= 0.2
    return bonus


def _toe(rig: RigInfo, foot: int):
    """A child named toe/ball first, else the one furthest along the foot (no heels, no toe digits: a foot with
    a bone per toe keeps them at rest)."""
    kids = [c for c in rig.children(foot) if not is_helper(rig.names[c]) and "heel" not in role_text(rig.names[c])]
    if len(kids) >= 3 or any(toe_digit(rig.names[c]) for c in kids):
        return None
    if not kids:
        return None
    along = np.asarray(rig.tails[foot]) - rig.heads[foot]
    kids.sort(key=lambda c: (not any(w in role_text(rig.names[c]) for w in ("toe", "ball")),
                             -float(np.dot(np.asarray(rig.heads[c]) - rig.heads[foot], along))))
    return kids[0]
