"""Hands (retarget/hands.py): finger chains found by name and by shape, palm bones left out, the hand frame,
the relaxed curl and captured SMPL-X/MANO poses. numpy only."""

from __future__ import annotations

import numpy as np
import pytest

from tcmr_mocap.blender_addon.retarget import detect, hands
from tcmr_mocap.core import rotations

FORWARD = np.array([0.0, -1.0, 0.0])  # the character faces -Y; its left hand lies along +X


def hand_rig(names: dict, metacarpals=False, thumb=True, shared_palm=False):
    """A left hand at the origin, palm down, fingers along +X: {finger: [bone names]} -> RigInfo. Index to
    little lie from the front (-Y) to the back; the thumb leaves forward and down. Optional palm bones:
    one per finger (metacarpals) or one shared by the index and the thumb (Rigify's palm.01)."""
    bones, parents, heads, tails = ["hand"], [-1], [np.zeros(3)], [np.array([0.05, 0.0, 0.0])]

    def add(name, parent, head, tail):
        bones.append(name)
        parents.append(bones.index(parent))
        heads.append(np.asarray(head, float))
        tails.append(np.asarray(tail, float))

    if shared_palm:
        add("palm_shared", "hand", [0.01, -0.01, 0], [0.07, -0.02, 0])
    for i, finger in enumerate(("thumb", "index", "middle", "ring", "little")):
        if finger not in names or (finger == "thumb" and not thumb):
            continue
        y = -0.025 + 0.017 * (i - 1)
        if finger == "thumb":
            base, step = np.array([0.02, -0.03, -0.01]), np.array([0.02, -0.02, -0.01])
        else:
            base, step = np.array([0.08, y, 0.0]), np.array([0.03, 0.0, 0.0])
        parent = "hand"
        if shared_palm and finger in ("thumb", "index"):
            parent = "palm_shared"
        elif metacarpals and finger != "thumb":
            add(f"metacarpal{i}", "hand", [0.01, y, 0], base)
            parent = f"metacarpal{i}"
        for k, name in enumerate(names[finger]):
            add(name, parent, base + k * step, base + (k + 1) * step)
            parent = name
    return detect.RigInfo(names=bones, parents=parents, heads=np.array(heads), tails=np.array(tails))


def expected(names, side="L"):
    return {f"{f}{k + 1}.{side}": n for f, chain in names.items() for k, n in enumerate(chain)}


MIXAMO = {f: [f"LeftHand{'Pinky' if f == 'little' else f.title()}{k}" for k in (1, 2, 3)] for f in hands.MANO_ORDER}
NUMBERED = {f: [f"finger{i + 1}-{k}.L" for k in (1, 2, 3)] for i, f in enumerate(("thumb", "index", "middle", "ring",
                                                                                   "little"))}
NAMELESS = {f: [f"b{i}{k}" for k in (1, 2, 3)] for i, f in enumerate(("thumb", "index", "middle", "ring", "little"))}


@pytest.mark.parametrize("names, kw", [(MIXAMO, {}), (NUMBERED, {"metacarpals": True}), (NAMELESS, {}),
                                       (NAMELESS, {"metacarpals": True}), (MIXAMO, {"shared_palm": True})])
def test_fingers_found(names, kw):
    rig = hand_rig(names, **kw)
    found = {s: rig.names[i] for s, i in hands.detect_fingers(rig, 0, "L").items()}
    assert found == expected(names)


def test_max_biped_counts_from_zero_and_a_hand_end_is_no_finger():
    names = {f: [f"Bip01 L Finger{i}{'' if k == 0 else k}" for k in range(3)]
             for i, f in enumerate(("thumb", "index", "middle", "ring", "little"))}
    rig = hand_rig(names)
    assert {s: rig.names[i] for s, i in hands.detect_fingers(rig, 0, "L").items()} == expected(names)
    lone = detect.RigInfo(names=["wrist", "hand_joint"], parents=[-1, 0], heads=np.zeros((2, 3)),
                          tails=np.array([[0.05, 0, 0], [0.08, 0, 0]]))
    assert hands.detect_fingers(lone, 0, "L") == {}  # SMPL's hand joint below the wrist


def test_four_fingers_no_thumb():
    names = {f: NAMELESS[f] for f in ("index", "middle", "ring", "little")}
    rig = hand_rig(names, thumb=False)
    assert {s: rig.names[i] for s, i in hands.detect_fingers(rig, 0, "L").items()} == expected(names)


@pytest.mark.parametrize("side", "LR")
def test_hand_frame_palm_down(side):
    """A palm-down T-pose hand: along the arm, the back of the hand up, whichever side."""
    x = 1.0 if side == "L" else -1.0
    wrist = np.zeros(3)
    H = hands.hand_frame(wrist, [0.08 * x, 0, 0], index_base=[0.08 * x, -0.02, 0], little_base=[0.08 * x, 0.03, 0],
                         side=side)
    np.testing.assert_allclose(H[:, 0], [x, 0, 0], atol=1e-12)
    np.testing.assert_allclose(H[:, 1], [0, 0, 1], atol=1e-12)
    assert np.linalg.det(H) == pytest.approx(1.0)


def test_relaxed_curl_towards_the_palm():
    back = {"L": np.array([0.0, 0.0, 1.0])}
    dirs = {f"{f}{k}.L": np.array([1.0, 0.0, 0.0]) for f in ("index", "little") for k in (1, 2, 3)}
    rel = hands.relaxed(dirs, back, T=2)
    for finger in ("index", "little"):
        total = 0.0
        for k in (1, 2, 3):
            total += hands.RELAXED_DEG[finger][k - 1]
            d = rel[f"{finger}{k}.L"][0] @ np.array([1.0, 0.0, 0.0])
            assert d[2] < 0  # towards the palm (down)
            assert np.degrees(np.arccos(d[0])) == pytest.approx(total)  # the joints' flexions add up


@pytest.mark.parametrize("side", "LR")
def test_mano_poses_in_hand_frame_coordinates(side):
    """Each joint's rotation relative to the hand is the product of the chain's axis-angle rotations, written
    in the hand frame: a flexion about SMPL-X's curl axis of that hand turns the finger towards the palm
    (-back), 90° at the first joint + 30° at the second = 120° at the second."""
    curl = {"L": [0.0, 0.0, -1.0], "R": [0.0, 0.0, 1.0]}[side]  # SMPL-X T-pose: palms down (-y)
    pose = np.zeros((3, 15, 3))
    pose[:, 0] = np.radians(90.0) * np.array(curl)  # index1
    pose[:, 1] = np.radians(30.0) * np.array(curl)  # index2
    rel = hands.mano_to_hand_frame(pose, side)
    along = np.array([1.0, 0.0, 0.0])  # hand-frame coordinates: along, back, along x back
    np.testing.assert_allclose(rel["index1." + side][0] @ along, [0, -1, 0], atol=1e-12)
    d2 = rel["index2." + side][0] @ along
    assert np.degrees(np.arccos(d2[0])) == pytest.approx(120.0) and d2[1] < 0
    np.testing.assert_allclose(rel["ring3." + side], np.tile(np.eye(3), (3, 1, 1)), atol=1e-12)
    pose[:, 4] = [0.0, 0.4, 0.0]  # middle2 turned about another axis: the chain's order matters
    pose[:, 3] = [0.0, 0.0, 0.7]
    rel = hands.mano_to_hand_frame(pose, side)
    R1, R2 = rotations.axis_angle_to_rotmat(pose[0, 3]), rotations.axis_angle_to_rotmat(pose[0, 4])
    H = hands.SMPLX_HAND_FRAME[side]  # back to SMPL-X coordinates: the parent's rotation first
    np.testing.assert_allclose(H @ rel["middle2." + side][0] @ H.T, R1 @ R2, atol=1e-12)
