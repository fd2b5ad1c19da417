"""Names and orders of the hand and face data, and the result-file members of the stage (pure data, no numpy).

Hands follow **SMPL-X/MANO**: 15 finger joints per hand, in ``HAND_JOINT_NAMES`` order (SMPL-X's
``left_hand_pose``/``right_hand_pose`` order; the SMPL-X bone of joint j on side s is ``f"{s}_{name}"``, e.g.
``left_index1``). Joint 1 of each finger is the knuckle (MCP; the thumb's is the CMC at the wrist), 2 and 3 the
next two joints; all of them hang off the body's wrist (SMPL joint ``left_wrist``/``right_wrist``).

MediaPipe's 21 hand landmarks (``HAND_LANDMARK_NAMES``) map onto them through ``FINGER_CHAINS``: a finger's
three joints sit on its landmarks ``chain[0..2]`` and each one turns the bone to the next landmark.

Face: the 52 ARKit blendshape names in alphabetical order (``ARKIT_BLENDSHAPE_NAMES``, = Apple's
``ARFaceAnchor.BlendShapeLocation`` names). MediaPipe's face landmarker gives ``_neutral`` plus 51 of them (no
``tongueOut``); we store all 52 with ``tongueOut`` always 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

HAND_SIDES: tuple[str, ...] = ("left", "right")  # axis 1 of every (N, 2, ...) hand array
HAND_JOINT_NAMES: tuple[str, ...] = (
    "index1", "index2", "index3", "middle1", "middle2", "middle3", "pinky1", "pinky2", "pinky3",
    "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3",
)
NUM_HAND_JOINTS = len(HAND_JOINT_NAMES)  # 15
WRIST_JOINT = {"left": "left_wrist", "right": "right_wrist"}  # the SMPL joint every finger hangs off

HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip", "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
# finger -> (its 3 joints in HAND_JOINT_NAMES, its 4 landmarks: joint 1, joint 2, joint 3, tip)
FINGER_CHAINS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int, int]]] = {
    "index": ((0, 1, 2), (5, 6, 7, 8)),
    "middle": ((3, 4, 5), (9, 10, 11, 12)),
    "pinky": ((6, 7, 8), (17, 18, 19, 20)),
    "ring": ((9, 10, 11), (13, 14, 15, 16)),
    "thumb": ((12, 13, 14), (1, 2, 3, 4)),
}
PALM_LANDMARKS: tuple[int, ...] = (0, 1, 5, 9, 13, 17)  # rigid with the wrist: they give the palm's rotation

ARKIT_BLENDSHAPE_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_BLENDSHAPE_NAMES)  # 52
NOT_FROM_MEDIAPIPE = ("tongueOut",)  # always 0 (MediaPipe's model has no tongue)


@dataclass(frozen=True)
class ResultArray:
    """One per-track member of a result file (``track_<id>/<name>``), for readers and the file validator.

    ``shape``: N = the track's rows; ``range``: (low, high) of every value (None: unbounded but finite)."""

    name: str
    shape: tuple
    dtype: str
    range: Optional[tuple[float, float]]
    meaning: str


# Every member the hands/face stage adds to a track (all optional: a file without them has no fingers/face).
# Refined files also keep the capture's own values as raw_<name> (same shapes, the raw rows), like the body.
# Never NaN: rows where a hand/face was not seen hold the blended/relaxed values with confidence 0.
RESULT_ARRAYS: tuple[ResultArray, ...] = (
    ResultArray("hand_pose_aa", ("N", 2, NUM_HAND_JOINTS, 3), "float32", (-3.1416, 3.1416),
                "finger joint rotations, axis-angle (radians), [:, 0] left and [:, 1] right hand, joints in "
                "HAND_JOINT_NAMES order; local to the parent joint (the wrist for joint 1), in SMPL's canonical "
                "axes like the body's pose_aa: SMPL-X left_hand_pose/right_hand_pose with a flat-hand mean"),
    ResultArray("hand_conf", ("N", 2), "float32", (0.0, 1.0),
                "how much of each hand's pose was seen in this row: 0 not seen (raw: relaxed pose; refined: "
                "blended from the nearest seen rows towards the relaxed hand), 1 a clean detection"),
    ResultArray("face_blendshapes", ("N", NUM_BLENDSHAPES), "float32", (0.0, 1.0),
                "ARKit blendshape weights in ARKIT_BLENDSHAPE_NAMES order (tongueOut always 0); 0 where no face "
                "was seen (refined: fading to 0 after the last seen row)"),
    ResultArray("face_conf", ("N",), "float32", (0.0, 1.0), "how much of the face was seen in this row (as hand_conf)"),
    ResultArray("head_rot_aa", ("N", 3), "float32", (-3.1416, 3.1416),
                "the head's rotation relative to the neck from the face (SMPL joint 'head' local rotation, "
                "axis-angle, canonical axes); the body's own head rotation where no face was seen. The refine "
                "stage turns rotmat[:, 15] towards it where face_conf is high"),
)
RESULT_ARRAY_NAMES: tuple[str, ...] = tuple(a.name for a in RESULT_ARRAYS)
# file-level members (names once per file): "hand_joint_names" (15,) str, "blendshape_names" (52,) str
