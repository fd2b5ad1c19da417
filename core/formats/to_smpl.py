"""Retargeting recorded motion (a :class:`~.source.SourceMotion` from BVH or DeepMimic) onto the SMPL skeleton.

The result, :class:`SmplMotion`, is SMPL motion in SMPL's own world (y up, facing +z at rest, metres) with the
floor at y = 0: local rotations ``rotmat`` (T, 24, 3, 3) (joint 0 = the global orientation), the root
translation ``transl`` (T, 3) and the rest skeleton it was made for. :meth:`SmplMotion.to_result` puts it in
front of a camera as a :class:`core.result.MotionResult`, the file every other stage reads.

How (global-rotation transfer; every step is a closed formula, nothing is optimised):

1. **Joints by name** (:func:`match_joints`): the source joints that play SMPL's roles, from the usual names
   (CMU ``LeftUpLeg/LeftLeg/LeftFoot/LeftToeBase``, ``LeftHip/LeftKnee/LeftAnkle/LeftToes``, Mixamo,
   DeepMimic ``left_hip``...); ``spine3`` is the neck's parent; ``spine1``/``spine2`` have no source joint.
2. **Canonical axes**: the source's up is the rest pose's hips -> head direction rounded to an axis, its left
   the right hip -> left hip direction; a constant rotation turns them onto SMPL's (+y up, +x left, +z forward).
3. **Global rotations**: G_smpl[j] = G_src[src(j)] · A_j. For the pelvis, spine, neck, head, ankles and toes
   A_j = I (both rest poses stand upright with flat feet: a raised heel or a leaning torso carries over as the
   same angle); for hips, knees, collars, shoulders, elbows and wrists A_j is the smallest rotation taking
   SMPL's rest bone onto the source's rest bone (a T-pose arm follows an A-pose or hanging arm). ``spine1``
   and ``spine2`` take 1/3 and 2/3 of the way (slerp) from the pelvis to ``spine3``; joints without a
   source (collars, toes, hands) keep their parent's orientation. Local = G_parent⁻¹ · G.
4. **Feet**: a fixed turn levels each foot where it rests on the floor (:func:`level_feet`: rest poses whose
   feet are rolled, like the CMU skeleton's, and DeepMimic's foot boxes, which rest askew by a constant
   2–33° per clip and foot), and a source without toe joints (or with toes that never turn, as DeepMimic's)
   gets toes that bend up near the floor instead of sinking into it (:func:`bend_toes`).
5. **Where**: the source is scaled by SMPL's leg length over its own longer leg (hip to ankle), the SMPL hips'
   midpoint follows the scaled source hips' midpoint, a two-bone IK bends each SMPL leg so that its ankle keeps
   the scaled source ankle's height (:func:`reach_ankles`: the legs' proportions and the hips' width differ,
   which would otherwise lift or sink a foot by centimetres), and the whole motion is lifted so that the soles
   (ankles and toes less their standing heights) rest on y = 0 in the stance phases (:func:`floor_level`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import InvalidMotionFileError
from ..motion.soles import FOOT_JOINT_IDS, foot_rest_heights, sole_height
from ..rotations import (axis_angle_to_rotmat, quat_wxyz_slerp, quat_wxyz_to_rotmat, rotmat_from_vectors,
                         rotmat_to_axis_angle, rotmat_to_quat_wxyz)
from ..skeleton import SMPL_PARENTS
from ..smpl import forward_kinematics
from .source import SourceMotion

# A made-up but anatomically plausible SMPL-like rest skeleton of a 1.7 m adult (metres, y up, facing +z; the
# same numbers as the tests' synthetic SMPL body). Pass a person's own rest joints where they are known.
TYPICAL_REST_JOINTS = np.array([
    [0.000, -0.240, 0.028], [0.058, -0.322, 0.010], [-0.060, -0.331, 0.014], [0.004, -0.129, -0.017],
    [0.104, -0.705, 0.018], [-0.106, -0.714, 0.012], [0.010, 0.009, -0.016], [0.090, -1.144, -0.025],
    [-0.092, -1.152, -0.031], [0.008, 0.064, 0.007], [0.122, -1.204, 0.097], [-0.121, -1.209, 0.100],
    [-0.001, 0.287, -0.030], [0.077, 0.197, -0.018], [-0.075, 0.197, -0.023], [0.006, 0.353, 0.030],
    [0.196, 0.227, -0.027], [-0.192, 0.224, -0.031], [0.455, 0.221, -0.053], [-0.458, 0.221, -0.050],
    [0.719, 0.231, -0.055], [-0.724, 0.227, -0.050], [0.800, 0.224, -0.060], [-0.807, 0.221, -0.057],
])

# SMPL joint -> the base names (lower case, side removed) a source joint may carry, best first
_SIDED = {  # (left index, right index): names
    (1, 2): ("upleg", "thigh", "upperleg", "hip"),
    (4, 5): ("leg", "lowerleg", "shin", "calf", "knee"),
    (7, 8): ("foot", "ankle"),
    (10, 11): ("toebase", "toe", "toes", "ball"),
    (16, 17): ("arm", "uparm", "upperarm", "shoulder"),
    (13, 14): ("collar", "clavicle", "shoulder"),
    (18, 19): ("forearm", "lowerarm", "elbow"),
    (20, 21): ("hand", "wrist"),
}
_CENTRE = {12: ("neck", "neck1"), 15: ("head",)}
_SAME_REST = (0, 7, 8, 9, 10, 11, 12, 15)  # A_j = I: upright torso and head, flat feet in both rest poses
REST_SPEED_LEGS = 0.3  # a resting foot point moves slower than this many leg lengths per second (~0.25 m/s)
REST_BAND_LEGS = 0.03  # ... and lies within this many leg lengths (~2.5 cm) of its own resting height
STANCE_BLEND_M = 0.04  # the feet share the role of the lower foot while their heights differ by less than this
MAX_LEVEL_DEG = 45.0  # a resting foot turned further than this from level lies on its side or top (crawling)
_BONE_CHILD = {1: 4, 2: 5, 4: 7, 5: 8, 13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21, 20: 22, 21: 23}


def _split_side(name: str) -> tuple[Optional[str], str]:
    n = name.split(":")[-1].split("|")[-1].lower()
    n = "".join(ch for ch in n if ch.isalnum())
    for side, words in (("L", ("left",)), ("R", ("right",))):
        for w in words:
            if n.startswith(w):
                return side, n[len(w):]
            if n.endswith(w):
                return side, n[:-len(w)]
    return None, n


def match_joints(motion: SourceMotion) -> dict[int, int]:
    """SMPL joint index -> source joint index, from the joint names (see the module docstring). Raises
    InvalidMotionFileError when the legs, arms, neck or head cannot be found."""
    parts = [_split_side(n) for n in motion.names]
    short = {}  # also accept one-letter sides: LHip, RKnee, lfoot ...
    for i, (side, base) in enumerate(parts):
        if side is None and len(base) > 1 and base[0] in "lr":
            short[i] = ("L" if base[0] == "l" else "R", base[1:])
    found: dict[int, int] = {0: 0}
    used = {0}
    for (li, ri), words in _SIDED.items():
        for side, smpl in (("L", li), ("R", ri)):
            for table in (dict(enumerate(parts)), short):
                hit = next((i for w in words for i, (s, b) in table.items() if s == side and b == w and i not in used),
                           None)
                if hit is not None:
                    found[smpl] = hit
                    used.add(hit)
                    break
    for smpl, words in _CENTRE.items():
        hit = next((i for w in words for i, (s, b) in enumerate(parts) if s is None and b == w and i not in used), None)
        if hit is not None:
            found[smpl] = hit
            used.add(hit)
    missing = [name for name, idx in (("hips/thighs", 1), ("knees", 4), ("ankles/feet", 7), ("upper arms", 16),
                                      ("elbows/forearms", 18), ("neck", 12), ("head", 15)) if idx not in found
               or idx + (1 if idx in (1, 4, 7, 16, 18) else 0) not in found]
    if missing:
        raise InvalidMotionFileError(f"{motion.source}: cannot find the {', '.join(missing)} among the joints "
                                     f"({', '.join(motion.names[:12])}...); SMPL retargeting needs a humanoid skeleton")
    found[9] = int(motion.parents[found[12]])  # the chest: the neck's parent
    if found[9] <= 0:
        raise InvalidMotionFileError(f"{motion.source}: the neck hangs from the root; cannot find the chest")
    return found


def canonical_axes(motion: SourceMotion, joints: dict[int, int]) -> np.ndarray:
    """(3, 3) rotation from the source's axes to SMPL's (x left, y up, z forward), from the rest pose."""
    rest = motion.rest_positions()
    up = rest[joints[15]] - 0.5 * (rest[joints[1]] + rest[joints[2]])
    axis = int(np.argmax(np.abs(up)))
    up_axis = np.zeros(3)
    up_axis[axis] = np.sign(up[axis])
    left = rest[joints[1]] - rest[joints[2]]
    left = left - (left @ up_axis) * up_axis
    if np.linalg.norm(left) < 1e-9:
        raise InvalidMotionFileError(f"{motion.source}: the hips have no left-right offset in the rest pose")
    left /= np.linalg.norm(left)
    forward = np.cross(left, up_axis)
    return np.stack([left, up_axis, forward])  # rows: where each SMPL axis lies in source coordinates


@dataclass
class SmplMotion:
    """SMPL motion in SMPL's world (y up, floor at y = 0, metres). rotmat: (T, 24, 3, 3) local; transl: (T, 3)
    (the SMPL origin; joints = FK(rest_joints, rotmat) + transl); times_s: (T,); rest_joints: (24, 3)."""

    rotmat: np.ndarray
    transl: np.ndarray
    times_s: np.ndarray
    rest_joints: np.ndarray
    source: str = "<motion>"

    def joints(self) -> np.ndarray:
        """(T, 24, 3) world joint positions."""
        P, _ = forward_kinematics(self.rest_joints, self.rotmat)
        return P + self.transl[:, None]

    def to_result(self, R_cam_from_world: Optional[np.ndarray] = None, camera_centre: Optional[np.ndarray] = None,
                  focal_length_px: float = 1500.0, width: int = 1920, height: int = 1080):
        """The motion seen by a camera, as a one-track :class:`core.result.MotionResult` (camera frame, like a
        capture; with the world frame stored, so Blender shows it upright). Default camera: level, 1.2 m up,
        looking along world −z at the middle of the path from 4 m behind the farthest point. R_cam_from_world:
        (3, 3) SMPL world -> OpenCV camera; camera_centre: (3,) in the SMPL world."""
        from ..result import MotionResult, TrackMotion
        from ..rotations import R_BLENDER_FROM_SMPL

        T = self.rotmat.shape[0]
        J = self.joints()
        if R_cam_from_world is None:
            R_cam_from_world = np.diag([1.0, -1.0, -1.0])  # level, looking along world -z
        if camera_centre is None:
            mid = 0.5 * (J[:, 0].min(axis=0) + J[:, 0].max(axis=0))
            camera_centre = np.array([mid[0], 1.2, J[..., 2].max() + 4.0])
        Rc = np.asarray(R_cam_from_world, dtype=np.float64)
        rot = self.rotmat.copy()
        rot[:, 0] = Rc @ rot[:, 0]
        J0 = self.rest_joints[0]
        transl = (J0 + self.transl - camera_centre) @ Rc.T - J0
        z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
        track = TrackMotion(track_id=1, frame_ids=np.arange(T), bbox_xyxy=z(T, 4), bbox_cxcys=z(T, 3),
                            interpolated=np.zeros(T, bool), rotmat=rot.astype(np.float32),
                            pose_aa=rotmat_to_axis_angle(rot).astype(np.float32), betas=z(T, 10), cam=z(T, 3),
                            orig_cam=z(T, 4), transl_cam=transl.astype(np.float32), scores=z(T, 3),
                            rest_joints=self.rest_joints.astype(np.float32),
                            times_s=np.asarray(self.times_s, dtype=np.float64))
        fps = 1.0 / float(np.median(np.diff(self.times_s))) if T > 1 else 30.0
        # world (Z up, floor at Z = 0) from the SMPL world (y up): x_world = R_zy (R_cam⁻¹ x_cam + centre);
        # no footage (video_path empty): the source is a motion file, named in meta
        return MotionResult(video_path="", fps=fps, width=width, height=height, num_frames=T,
                            focal_length_px=focal_length_px, timestamps_s=np.asarray(self.times_s, np.float64),
                            tracks=[track], meta={"source": {"kind": "retargeted mocap", "file": self.source}},
                            R_world_from_cam=R_BLENDER_FROM_SMPL @ Rc.T,
                            cam_position_world=R_BLENDER_FROM_SMPL @ np.asarray(camera_centre, dtype=np.float64))


def _global_rotations(motion: SourceMotion, joints: dict[int, int], C: np.ndarray, rest_smpl: np.ndarray):
    P_src, G_src = motion.forward_kinematics()
    G_c = C @ G_src @ C.T  # (T, J, 3, 3) in SMPL axes
    rest_c = motion.rest_positions() @ C.T
    T = G_c.shape[0]
    G = np.empty((T, 24, 3, 3))
    for j in range(24):
        parent = SMPL_PARENTS[j]
        if j in (3, 6):
            continue  # spine1/2: after spine3
        if j not in joints:  # parents come first, and spine3 (9) fills in spine1/2 before 12, 13, 14 need it
            G[:, j] = G[:, parent]
            continue
        A = np.eye(3)
        if j not in _SAME_REST:
            child = _BONE_CHILD[j]
            src_child = joints.get(child)
            if src_child is None and j in (20, 21):  # a hand without a child: it continues the forearm
                A = rotmat_from_vectors(rest_smpl[j] - rest_smpl[j - 2], rest_c[joints[j]] - rest_c[joints[j - 2]])
            elif src_child is not None:
                A = rotmat_from_vectors(rest_smpl[child] - rest_smpl[j], rest_c[src_child] - rest_c[joints[j]])
        G[:, j] = G_c[:, joints[j]] @ A
        if j == 9:
            q0 = rotmat_to_quat_wxyz(G[:, 0])
            q9 = rotmat_to_quat_wxyz(G[:, 9])
            G[:, 3] = quat_wxyz_to_rotmat(quat_wxyz_slerp(q0, q9, 1.0 / 3.0))
            G[:, 6] = quat_wxyz_to_rotmat(quat_wxyz_slerp(q0, q9, 2.0 / 3.0))
    return G, P_src @ C.T


def level_feet(G_ankle: np.ndarray, ankle: np.ndarray, toe: np.ndarray, times_s: np.ndarray,
               leg: float) -> np.ndarray:
    """The fixed turn B of a foot (G' = G · B) that makes its sole level, on average, while it rests on the floor.
    A source's foot frame need not be level when the foot stands flat: the CMU skeleton's feet roll ~18° in its
    rest pose, and DeepMimic's foot boxes rest pitched and rolled by a constant 2–33° per clip and foot (the punch
    clip's boxes stand 19° toes-down and 25° rolled, an edge 3.5 cm inside the floor), the recording's feet
    fitted to a box. Resting frames: ankle and toe both still (slower than ``REST_SPEED_LEGS`` leg lengths per
    second) and both within ``REST_BAND_LEGS`` leg lengths of their own resting height (the 5th percentile of
    their heights while still): heel and toe on the floor together; a foot turned more than ``MAX_LEVEL_DEG``
    from level there lies on its top or side (kneeling, crawling) and does not count. Their mean up becomes
    SMPL's up, if they agree (mean of the unit ups at least 0.98 long, within ~11°); else B = I.
    G_ankle: (T, 3, 3) canonical axes (y up); ankle, toe: (T, 3); times_s: (T,); leg: the source's leg length
    (its units) -> (3, 3)."""
    t = np.asarray(times_s, dtype=np.float64)
    if t.shape[0] < 3:
        return np.eye(3)
    still = np.ones(t.shape[0], dtype=bool)
    for p in (ankle, toe):
        still &= np.linalg.norm(np.gradient(p, t, axis=0), axis=-1) < REST_SPEED_LEGS * leg
    if still.sum() < 3:
        return np.eye(3)
    flat = still.copy()
    for p in (ankle, toe):
        flat &= p[:, 1] <= np.percentile(p[still, 1], 5) + REST_BAND_LEGS * leg
    if flat.sum() < 3:
        return np.eye(3)
    up_in_foot = np.einsum("tji,j->ti", G_ankle[flat], np.array([0.0, 1.0, 0.0]))  # Gᵀ · up per frame
    up_in_foot = up_in_foot[up_in_foot[:, 1] > np.cos(np.radians(MAX_LEVEL_DEG))]  # not a foot lying on its top
    if up_in_foot.shape[0] < 3:
        return np.eye(3)
    v = up_in_foot.mean(axis=0)
    if np.linalg.norm(v) < 0.98:  # the resting frames disagree: no single offset explains them
        return np.eye(3)
    return rotmat_from_vectors(np.array([0.0, 1.0, 0.0]), v / np.linalg.norm(v))


def bend_toes(R: np.ndarray, transl: np.ndarray, rest: np.ndarray, toe: int, reach_m: float = 0.04) -> None:
    """A source without toe joints has rigid feet: standing on the ball with the heel raised, a rigid SMPL foot
    would push its toes into the floor. Near the floor (the ball's sole within ``reach_m``, fading out above)
    the toes bend up by the foot's downward pitch (at most 60°), as real toes do. In place on R (T, 24, 3, 3)
    local rotations; transl: (T, 3) (floor at y = 0)."""
    ankle = SMPL_PARENTS[toe]
    P, G = forward_kinematics(rest, R)
    ahead = rest[toe] - rest[ankle]
    ahead[1] = 0.0  # the foot's forward direction, level in the rest pose
    forward = G[:, ankle] @ (ahead / np.linalg.norm(ahead))
    pitch_down = np.arcsin(np.clip(-forward[:, 1], -1.0, 1.0))  # > 0: toes below the heel
    height = P[:, toe, 1] + transl[:, 1] - (rest[toe, 1] - sole_height(rest))  # the ball's sole above the floor
    near = 1.0 - np.clip(height / reach_m, 0.0, 1.0)
    near = near * near * (3.0 - 2.0 * near)
    bend = np.clip(pitch_down, 0.0, np.radians(60.0)) * near
    aa = np.zeros((R.shape[0], 3))
    aa[:, 0] = -bend  # about the foot's lateral (x) axis: toes up
    R[:, toe] = axis_angle_to_rotmat(aa) @ R[:, toe]


def reach_ankles(R: np.ndarray, transl: np.ndarray, rest: np.ndarray, ankles_src: np.ndarray) -> None:
    """Each SMPL ankle to the scaled source ankle's height by a two-bone IK on hip and knee (along the floor it
    stays where the mapped bone directions put it; the knee bends in their plane, the foot keeps its orientation).
    SMPL's thigh and shin are not the source's proportions (DeepMimic's thigh is longer than its shin, SMPL's
    shorter), a source's legs may differ in length (CMU skeletons fitted to a person, by ~2 %), and SMPL's hips
    sit closer together (a tilted pelvis lifts SMPL's lower hip less): with bone directions alone, a bent knee,
    the longer leg or a tilted pelvis puts a foot up to 4 cm above or below where the source's stands. Where the
    lower foot's leg (blended over ``STANCE_BLEND_M`` of height difference) cannot reach, the whole body is
    lowered by the shortfall (millimetres); a higher foot out of reach falls short. The ankles keep SMPL's own
    small asymmetry (its right ankle sits lower above the sole than its left), so both soles land at the
    source's heights. In place on R (T, 24, 3, 3) local rotations and transl (T, 3); rest: (24, 3); ankles_src:
    (T, 2, 3) scaled source ankles (SMPL axes, the same origin as transl)."""
    from ..motion.footlock import LEGS, two_bone_ik

    P, G = forward_kinematics(rest, R)
    heights = foot_rest_heights(rest)[:2]  # ankles above the sole in SMPL's rest pose
    targets = P[:, [leg[2] for leg in LEGS]] + transl[:, None]  # (T, 2, 3): along the floor where they are
    for f, leg in enumerate(LEGS):
        targets[:, f, 1] = ankles_src[:, f, 1] + G[:, leg[2], 1, 1] * (heights[f] - heights.mean())
    short = np.zeros((R.shape[0], 2))
    for f, (hip, knee, ankle) in enumerate(LEGS):
        length = (np.linalg.norm(rest[knee] - rest[hip]) + np.linalg.norm(rest[ankle] - rest[knee])) * (1.0 - 1e-3)
        d = targets[:, f] - (P[:, hip] + transl)
        dist = np.linalg.norm(d, axis=-1)
        # lowering the body by x brings the hip closer to a foot below it by about x · (the leg's vertical share)
        down = np.clip(-d[:, 1] / np.maximum(dist, 1e-9), 0.5, 1.0)
        short[:, f] = np.clip(dist - length, 0.0, None) / down
    # only the lower foot (the one that can stand) lowers the body; a leg kicking out falls short instead
    lower_left = np.clip(0.5 + (targets[:, 1, 1] - targets[:, 0, 1]) / STANCE_BLEND_M, 0.0, 1.0)
    transl[:, 1] -= lower_left * short[:, 0] + (1.0 - lower_left) * short[:, 1]
    joints = P + transl[:, None]
    rows = np.arange(R.shape[0])
    for f, leg in enumerate(LEGS):
        two_bone_ik(R, G, joints, leg, targets[:, f], rows)


def _rigid(motion: SourceMotion, joint: int) -> bool:
    """Whether a source joint never turns against its parent (a fixed point such as DeepMimic's toes)."""
    return bool(np.allclose(motion.local_rotmat[:, joint], np.eye(3), atol=1e-9))


def local_from_global(G: np.ndarray) -> np.ndarray:
    """(T, 24, 3, 3) global rotations -> SMPL local rotations (joint 0 stays global)."""
    R = np.empty_like(G)
    R[:, 0] = G[:, 0]
    for j in range(1, 24):
        R[:, j] = np.swapaxes(G[:, SMPL_PARENTS[j]], -1, -2) @ G[:, j]
    return R


def floor_level(sole_heights: np.ndarray) -> float:
    """The height the soles rest at: the lower quartile of each frame's lowest sole (stance phases cluster
    there; flight, climbing and swinging feet lie above it). sole_heights: (T, F) -> metres."""
    return float(np.percentile(np.min(sole_heights, axis=1), 25))


def to_smpl(motion: SourceMotion, rest_joints: Optional[np.ndarray] = None, fps: Optional[float] = None) -> SmplMotion:
    """Retarget ``motion`` onto SMPL (see the module docstring). rest_joints: (24, 3) the SMPL rest skeleton
    (default :data:`TYPICAL_REST_JOINTS`); fps: resample to this rate (slerp / cubic), default: the source's.
    Raises InvalidMotionFileError when the skeleton is not a humanoid one."""
    from ..motion.resample import grid_times, resample_cubic, resample_rotmat

    rest = np.asarray(TYPICAL_REST_JOINTS if rest_joints is None else rest_joints, dtype=np.float64)
    joints = match_joints(motion)
    C = canonical_axes(motion, joints)
    G, P_src = _global_rotations(motion, joints, C, rest)
    rest_c = motion.rest_positions() @ C.T
    src_leg = max(sum(np.linalg.norm(rest_c[joints[b]] - rest_c[joints[a]]) for a, b in leg)
                  for leg in (((1, 4), (4, 7)), ((2, 5), (5, 8))))
    smpl_leg = sum(np.linalg.norm(rest[b] - rest[a]) for a, b in ((1, 4), (4, 7)))
    if not src_leg > 0:
        raise InvalidMotionFileError(f"{motion.source}: the legs have no length in the rest pose")
    for f, (ankle, toe) in enumerate(((7, 10), (8, 11))):
        src_toe = joints.get(toe)
        if src_toe is None:  # no toe joint: nothing to tell the foot's resting orientation by
            B = np.eye(3)
        else:
            B = level_feet(G[:, ankle], P_src[:, joints[ankle]], P_src[:, src_toe], motion.times_s, src_leg)
        G[:, ankle] = G[:, ankle] @ B
        G[:, toe] = G[:, toe] @ B
    R = local_from_global(G)
    scale = smpl_leg / src_leg  # by the longer leg: SMPL's legs reach every scaled source ankle
    P, _ = forward_kinematics(rest, R)
    hips_src = 0.5 * (P_src[:, joints[1]] + P_src[:, joints[2]]) * scale
    transl = hips_src - 0.5 * (P[:, 1] + P[:, 2])
    reach_ankles(R, transl, rest, P_src[:, [joints[7], joints[8]]] * scale)
    times = np.asarray(motion.times_s, dtype=np.float64)
    if fps:
        new_times = grid_times(times, fps)
        R = resample_rotmat(R, times, new_times)
        transl = resample_cubic(transl, times, new_times)
        times = new_times - new_times[0]
    P, _ = forward_kinematics(rest, R)
    feet = P[:, list(FOOT_JOINT_IDS)] + transl[:, None]
    soles = feet[..., 1] - foot_rest_heights(rest)
    transl[:, 1] -= floor_level(soles)
    for toe in (10, 11):
        if toe not in joints or _rigid(motion, joints[toe]):
            bend_toes(R, transl, rest, toe)
    return SmplMotion(rotmat=R, transl=transl, times_s=times, rest_joints=rest, source=motion.source)


def retarget_file(path, rest_joints: Optional[np.ndarray] = None, fps: Optional[float] = None) -> SmplMotion:
    """Read a BVH (``.bvh``) or DeepMimic (``.txt``/``.json``) file and retarget it onto SMPL."""
    from .bvh import read_bvh
    from .deepmimic import read_deepmimic

    name = str(path).lower()
    reader = read_bvh if name.endswith(".bvh") else read_deepmimic
    return to_smpl(reader(path), rest_joints, fps)

