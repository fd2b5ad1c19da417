"""The points of the soles that touch the floor: heel, ball and toe of each foot, fixed to the foot's bones.

A real foot rolls heel → ball → toe: at each moment a different part of the sole rests, and the part that rests
does not move. So contacts, the floor and the foot lock work on **sole points** rather than on the joints:

=========  ================  ======================================================================
column     carried by        where (in the rest pose)
=========  ================  ======================================================================
0, 1       left/right ankle  the heel: on the sole, under the ankle joint
2, 3       left/right foot   the ball: on the sole, under SMPL's foot joint (10/11, the toe base)
4, 5       left/right foot   the toe tip: on the sole, ``TOE_TIP_OF_FOOT`` of the foot's length ahead
=========  ================  ======================================================================

Each point turns with its bone (``p = joint + G_joint · offset``), so a raised heel has height, and the points'
positions do not depend on where "up" is: the floor can be found from them before anything else is known.
The sole lies at the lowest rest-mesh vertex (``v_shaped``) or ``TOE_ABOVE_SOLE_M`` under the lower toe joint.
Columns 0–3 are the order of the ``contact`` arrays in result files (``FOOT_JOINT_IDS``: ankles, then toes).
"""

from __future__ import annotations

import numpy as np

from ..skeleton import FOOT_JOINTS

FOOT_JOINT_IDS = (FOOT_JOINTS["left"][0], FOOT_JOINTS["right"][0], FOOT_JOINTS["left"][1], FOOT_JOINTS["right"][1])
SOLE_NAMES = ("left heel", "right heel", "left ball", "right ball", "left toe", "right toe")
SOLE_JOINTS = (7, 8, 10, 11, 10, 11)  # the bone each sole point is fixed to
SOLE_FOOT = (0, 1, 0, 1, 0, 1)  # 0 = left, 1 = right
FOOT_COLUMNS = ((0, 2, 4), (1, 3, 5))  # heel, ball, toe of the left and the right foot
TOE_ABOVE_SOLE_M = 0.035  # without a rest mesh: the sole lies this far below the lower toe joint (SMPL-like)
TOE_TIP_OF_FOOT = 0.45  # the toe tip lies this share of the ankle -> toe-joint length ahead of the ball


def sole_height(rest_joints: np.ndarray, v_shaped=None) -> float:
    """Height (SMPL y, rest pose) of the soles: the lowest rest-mesh vertex, else below the toe joints."""
    if v_shaped is not None:
        return float(np.min(np.asarray(v_shaped, dtype=np.float64)[:, 1]))
    J = np.asarray(rest_joints, dtype=np.float64)
    return float(min(J[FOOT_JOINT_IDS[2], 1], J[FOOT_JOINT_IDS[3], 1]) - TOE_ABOVE_SOLE_M)


def foot_rest_heights(rest_joints: np.ndarray, v_shaped=None) -> np.ndarray:
    """Height above the floor of each foot joint (ankles, toes) when standing in the rest pose. -> (4,) metres."""
    J = np.asarray(rest_joints, dtype=np.float64)
    return J[list(FOOT_JOINT_IDS), 1] - sole_height(J, v_shaped)


def sole_offsets(rest_joints: np.ndarray, v_shaped=None) -> np.ndarray:
    """Each sole point relative to its bone's joint, in rest-pose (SMPL) coordinates. -> (6, 3) metres."""
    J = np.asarray(rest_joints, dtype=np.float64)
    floor_y = sole_height(J, v_shaped)
    out = np.zeros((6, 3))
    for k, j in enumerate(SOLE_JOINTS):
        out[k, 1] = floor_y - J[j, 1]
        if k >= 4:  # the toe tip: ahead of the ball along the foot (horizontal in the rest pose)
            ankle = SOLE_JOINTS[k - 4]
            ahead = J[j] - J[ankle]
            ahead[1] = 0.0
            out[k, [0, 2]] = TOE_TIP_OF_FOOT * ahead[[0, 2]]
    return out


def sole_points(joints: np.ndarray, global_rotmat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Positions of the six sole points. joints: (T, 24, 3); global_rotmat: (T, 24, 3, 3) (any common frame);
    offsets: (6, 3) from :func:`sole_offsets` -> (T, 6, 3)."""
    ids = list(SOLE_JOINTS)
    return joints[:, ids] + np.einsum("tkij,kj->tki", global_rotmat[:, ids], offsets)


def feet_from_soles(columns: np.ndarray) -> np.ndarray:
    """The 4 file columns (ankle/heel, toe) from 6 sole columns: a toe column is on when its ball or tip is.
    columns: (T, 6) bool -> (T, 4) bool."""
    c = np.asarray(columns, dtype=bool)
    return np.concatenate([c[:, :2], c[:, 2:4] | c[:, 4:6]], axis=1)
