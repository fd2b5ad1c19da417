"""Hands: finger chains found on a rig, the hand's rest frame, and what drives the fingers. numpy only.

- :func:`detect_fingers`: the chains below a hand (thumb, index, middle, ring, little; 1–3 bones each, the
  bone nearest the hand first), by name (thumb/index/middle|mid/ring/pinky|little, or numbered
  ``finger1..5`` / ``Finger0..4``), else by shape (the thumb leaves the hand's axis the most, the others in
  order from the front). Palm/metacarpal bones (by name, or a shared bone two fingers hang from, or the extra
  bones of a chain longer than three) are not fingers.
- :func:`hand_frame`: (3, 3) columns (along the hand, back of the hand, along × back) of a hand at rest, from
  its wrist and finger bases — the frame finger rotations are expressed in, on any rig.
- Finger motion, per finger joint, is a rotation relative to the hand (what the joint adds to the chain above
  it up to the wrist), in *hand-frame coordinates*. It comes from the source's own finger bones, or from
  captured SMPL-X/MANO hand poses (:func:`mano_to_hand_frame`: ``hand_pose_aa`` (T, 15, 3) axis-angle, MANO
  joint order index1-3, middle1-3, little1-3, ring1-3, thumb1-3, relative to the flat hand), or, without
  either, :func:`relaxed` gives a natural rest curl (not the rest pose's flat hand).
"""

from __future__ import annotations

import re

import numpy as np

from ...core import rotations
from .bonemap import FINGERS
from .names import finger_of_name, is_palm_name

MANO_ORDER = ("index", "middle", "little", "ring", "thumb")  # SMPL-X / MANO: 3 joints each, this finger order
# hand frames of SMPL-X's T-pose (y up, facing +z, the left hand on +x, palms down): along, back, along × back
SMPLX_HAND_FRAME = {"L": np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]).T,
                    "R": np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]]).T}
# a relaxed hand: flexion (degrees) of each finger's three joints, more towards the little finger
RELAXED_DEG = {"thumb": (8.0, 12.0, 10.0), "index": (15.0, 22.0, 12.0), "middle": (20.0, 28.0, 15.0),
               "ring": (25.0, 32.0, 17.0), "little": (30.0, 36.0, 20.0)}


# ------------------------------------------------------------------------------------------ detection
def _chains(rig, hand: int) -> list[list[int]]:
    """Every path from below the hand to a leaf, helpers left out (root side first)."""
    from .names import is_helper

    out = []

    def walk(i, path):
        kids = [c for c in rig.children(i) if not is_helper(rig.names[c])]
        if not kids:
            if path:
                out.append(path)
            return
        for c in kids:
            walk(c, path + [c])

    walk(hand, [])
    return out


def _number(name: str) -> int | None:
    m = re.search(r"(\d+)\D*$", re.sub(r"\.\d{3}$", "", name))
    return int(m.group(1)) if m else None


def _finger_bones(rig, chains: list[list[int]]) -> list[list[int]]:
    """The finger part of each chain: shared bones (a palm two fingers hang from), palm-named bones and, in a
    chain longer than three, its first bones (metacarpals) or a numbered tip bone are dropped."""
    count = {}
    for c in chains:
        for i in c:
            count[i] = count.get(i, 0) + 1
    out = []
    for c in chains:
        f = [i for i in c if count[i] == 1 and not is_palm_name(rig.names[i])]
        if len(f) > 3:
            first, last = _number(rig.names[f[0]]), _number(rig.names[f[-1]])
            if first is not None and last is not None and last - first >= 3:
                f = f[:3]  # Thumb1..Thumb4: the 4th is a tip
            else:
                f = f[-3:]
        if f:
            out.append(f)
    return out


def detect_fingers(rig, hand: int, side: str) -> dict:
    """{finger slot: bone index} of the fingers below ``hand`` (see the module docstring)."""
    chains = _finger_bones(rig, _chains(rig, hand))
    if not chains:
        return {}
    named = {}
    for c in chains:
        name = finger_of_name(rig.names[c[0]])
        if name is not None and name not in named:
            named[name] = c
    if len(named) < len(chains):
        numbered = _by_number(rig, chains)
        named = numbered if len(numbered) > len(named) else named
    if not named and len(chains) < 2:
        return {}  # one bone or chain below the hand, nameless: the hand's end (SMPL's hand joint), not a finger
    if len(named) < min(len(chains), 5):  # the rest by shape, around the ones the names gave
        rest = [c for c in chains if all(c is not n for n in named.values())]
        for finger, c in _by_shape(rig, hand, rest, thumb="thumb" not in named,
                                   names=[f for f in FINGERS[1:] if f not in named]).items():
            named[finger] = c
    return {f"{finger}{k + 1}.{side}": i for finger, c in named.items() for k, i in enumerate(c[:3])}


def _by_number(rig, chains) -> dict:
    """MakeHuman ``finger1-1`` (1 = thumb) or 3ds Max ``Finger0`` (0 = thumb): the finger number in the name."""
    nums = []
    for c in chains:
        m = re.search(r"finger\D*(\d)", rig.names[c[0]], re.IGNORECASE)
        nums.append(int(m.group(1)) if m else None)
    if None in nums or len(set(nums)) != len(nums):
        return {}
    base = 0 if 0 in nums else 1
    return {FINGERS[n - base]: c for n, c in zip(nums, chains) if 0 <= n - base < 5}


def _by_shape(rig, hand: int, chains, thumb: bool = True, names=FINGERS[1:]) -> dict:
    """Thumb (if ``thumb``): the chain that leaves the hand's axis the most, if it clearly does (or one of five);
    the others take ``names`` in order from the most forward (the index, the character facing -Y)."""
    if not chains:
        return {}
    wrist = np.asarray(rig.heads[hand], dtype=np.float64)
    tips = [np.asarray(rig.tails[c[-1]], dtype=np.float64) for c in chains]
    roots = [np.asarray(rig.heads[c[0]], dtype=np.float64) for c in chains]
    axis = _unit(np.mean(tips, axis=0) - wrist)
    angles = [np.degrees(np.arccos(np.clip(_unit(t - r) @ axis, -1, 1))) for t, r in zip(tips, roots)]
    order = list(range(len(chains)))
    out = {}
    if thumb and len(chains) >= 2:
        t = int(np.argmax(angles))
        others = sorted(angles[:t] + angles[t + 1:])
        if len(chains) == 5 or angles[t] > others[len(others) // 2] + 20.0:
            out["thumb"] = chains[t]
            order.remove(t)
    order.sort(key=lambda i: roots[i][1])  # most forward (-Y) first
    names = list(names)
    if len(order) == 3 and len(names) == 4:  # three fingers: index, middle, little
        names = ["index", "middle", "little"]
    for f, i in zip(names, order):
        out[f] = chains[i]
    return out


# ------------------------------------------------------------------------------------------ frames and poses
def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / max(np.linalg.norm(v), 1e-12)


def hand_frame(wrist, along_point, index_base=None, little_base=None, side: str = "L",
               up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """(3, 3) columns (along, back of the hand, along × back) at rest. ``along_point``: the finger bases' mean
    (or the hand mesh's centroid); without an index/little pair the back of the hand is taken as the world's
    ``up`` made perpendicular (a palm-down hand)."""
    along = _unit(np.asarray(along_point, float) - wrist)
    if index_base is not None and little_base is not None:
        across = np.asarray(index_base, float) - little_base
        back = (-1.0 if side == "L" else 1.0) * np.cross(along, across)
    else:
        back = np.asarray(up, dtype=np.float64)
    back = _unit(back - (back @ along) * along)
    return np.stack([along, back, np.cross(along, back)], axis=-1)


def relaxed(finger_dirs: dict, back: dict, T: int) -> dict:
    """A relaxed curl: {finger slot: (T, 3, 3) rotation relative to the hand, world rest axes}: each joint
    flexes about its own bend axis (back of the hand × the bone's rest direction: fingertips curl to the palm),
    by RELAXED_DEG. finger_dirs: {finger slot: (3,) rest direction}; back: {side: (3,) back of the hand}."""
    from .bonemap import finger_of

    out = {}
    chain = {}
    for slot in sorted(finger_dirs, key=lambda s: finger_of(s)[1]):
        finger, k, side = finger_of(slot)
        axis = _unit(np.cross(back[side], finger_dirs[slot]))
        R = rotations.axis_angle_to_rotmat(axis * np.radians(RELAXED_DEG[finger][k - 1]))
        chain[(finger, side)] = chain.get((finger, side), np.eye(3)) @ R
        out[slot] = np.broadcast_to(chain[(finger, side)], (T, 3, 3)).copy()
    return out


def mano_to_hand_frame(hand_pose_aa: np.ndarray, side: str) -> dict:
    """Captured finger poses -> {finger slot: (T, 3, 3) rotation relative to the hand, hand-frame coordinates}.

    hand_pose_aa: (T, 15, 3) SMPL-X/MANO axis-angle of one hand (MANO_ORDER, 3 joints per finger, each relative
    to its parent joint, relative to the flat hand), in SMPL-X body coordinates."""
    T = hand_pose_aa.shape[0]
    R = rotations.axis_angle_to_rotmat(np.asarray(hand_pose_aa, dtype=np.float64)).reshape(T, 5, 3, 3, 3)
    H = SMPLX_HAND_FRAME[side]
    out = {}
    for f, finger in enumerate(MANO_ORDER):
        chain = np.tile(np.eye(3), (T, 1, 1))
        for k in range(3):
            chain = chain @ R[:, f, k]  # the joint's rotation relative to the wrist: parents first
            out[f"{finger}{k + 1}.{side}"] = H.T @ chain @ H
    return out
