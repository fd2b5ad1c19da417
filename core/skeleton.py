"""SMPL skeleton facts: joint names, kinematic tree, and the official 49-joint output order.

Pure data (no numpy needed). Joint index ``i`` of every ``(…, 24, …)`` array in this project is
``SMPL_JOINT_NAMES[i]``; the Blender armature's pose bones carry exactly these names.
"""

from __future__ import annotations

NUM_SMPL_JOINTS = 24
NUM_BETAS = 10
NUM_VERTICES = 6890
NUM_FACES = 13776
NUM_POSE_BLENDSHAPES = 207  # 23 non-root joints × 9 rotation-matrix entries

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

# Parent of each joint (kintree_table[0] of the SMPL model, root = -1). Every parent index is smaller
# than its child's, so a single forward pass over the joints is a valid topological order.
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# SMPL's spine, pelvis to chest (spine1, spine2, spine3): one recorded back bends through all three
SMPL_SPINE: tuple[int, ...] = (3, 6, 9)

# Joint index of the left/right counterpart (for mirroring and foot logic).
SMPL_MIRROR: tuple[int, ...] = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)

# smplx's SMPL output: 24 SMPL joints, then 21 vertex joints (nose, eyes, ears, feet, fingertips).
SMPLX_VERTEX_JOINT_IDS: tuple[int, ...] = (
    332, 6260, 2800, 4071, 583,  # nose, reye, leye, rear, lear
    3216, 3226, 3387, 6617, 6624, 6787,  # LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe, RHeel
    2746, 2319, 2445, 2556, 2673, 6191, 5782, 5905, 6016, 6133,  # fingertips (unused by TCMR)
)

# TCMR/SPIN's 49 output joints, as indices into [45 smplx joints ‖ 9 J_regressor_extra joints].
JOINTS49_SOURCE_IDS: tuple[int, ...] = (
    # 0-24: OpenPose BODY_25
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    # 25-48: "GT" joints (LSP, MPII, H36M, face)
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
)

JOINTS49_NAMES: tuple[str, ...] = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder", "OP LElbow",
    "OP LWrist", "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip", "OP LKnee", "OP LAnkle",
    "OP REye", "OP LEye", "OP REar", "OP LEar", "OP LBigToe", "OP LSmallToe", "OP LHeel", "OP RBigToe",
    "OP RSmallToe", "OP RHeel",
    "rankle", "rknee", "rhip", "lhip", "lknee", "lankle", "rwrist", "relbow", "rshoulder", "lshoulder",
    "lelbow", "lwrist", "neck", "headtop", "pelvis", "thorax", "spine", "jaw", "head", "nose", "leye",
    "reye", "lear", "rear",
)

# SMPL-H (AMASS, 52 joints: 22 body + 15 per hand) shares SMPL's first 22 joints; SMPL's 22/23 (hands)
# have no SMPL-H counterpart and are left at identity when importing SMPL-H poses.
SMPLH_NUM_BODY_JOINTS = 22

# Foot joints used for contact detection: (ankle, foot/toe) per side.
FOOT_JOINTS = {"left": (7, 10), "right": (8, 11)}
