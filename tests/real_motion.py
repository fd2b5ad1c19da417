"""Real recorded human motion as SMPL clips with a known floor, for the refine tests and ``bench/bench_refine.py``.

The clips come from the pinned packages of ``tests/realdata.py`` (DeepMimic clips from pybullet, CMU BVH from
Debian's assimp test models) and are retargeted onto SMPL by ``core.formats`` (floor at y = 0, SMPL's y-up
world), so they have what procedural motion lacks: leaning runners, heels that roll, crouched landings, flight,
a person getting up from the floor. :func:`load_clip` returns the same dict as ``motion_synth.make_clip``, so
``motion_synth.to_camera``/``degrade`` apply unchanged.

Development clips (``DEVELOPMENT``) tune the refine stage; **held-out** clips (``HELD_OUT``) are only checked: no
threshold, weight or rule was chosen on them (they were run while diagnosing — that is how the floor's silent
tilts on short on-the-spot clips showed — but nothing was fitted to their numbers). Earlier rounds held out
dance_b, getup, climb and boxing; the second round worked on dance_b and getup explicitly, the third on the
foot lock and the smoothing of kick, roll, backflip, spinkick and cmu_example, so they are development clips
now. ``standing`` (the fourth round: a person standing still, the issue's judged case) was added held out.
Ground-truth contacts (:func:`truth_contacts`): a sole within ``CONTACT_HEIGHT_M`` of the floor moving slower
than ``CONTACT_SPEED_MPS`` horizontally (real feet roll, so a planted ankle still moves a little).
"""

from __future__ import annotations

import functools

import numpy as np

import realdata
from core import metrics
from core.formats.bvh import read_bvh
from core.formats.deepmimic import read_deepmimic
from core.formats.to_smpl import to_smpl
from core.motion.contacts import clean_runs
from core.motion.soles import FOOT_JOINT_IDS, foot_rest_heights
from core.smpl import forward_kinematics

# name: (realdata file, cycles of a looping DeepMimic clip, seconds to keep (None: all), what it is)
CLIPS = {
    "walk": ("deepmimic_walk", 4, None, "walking (DeepMimic)"),
    "run": ("deepmimic_run", 6, None, "running with flight phases, 22° lean (DeepMimic)"),
    "jump": ("deepmimic_jump", 2, None, "run-up, two-foot jumps with crouched landings (DeepMimic)"),
    "dance_a": ("deepmimic_dance_a", 2, None, "dance: leaning, raised heels (DeepMimic)"),
    "playground": ("cmu_01_01", 1, 20.0, "CMU 01_01: playground jumps, 120 fps source"),
    "dance_b": ("deepmimic_dance_b", 2, None, "dance with hops (DeepMimic)"),
    "getup": ("deepmimic_getup_faceup", 1, None, "lying on the back, getting up, standing (DeepMimic)"),
    "climb": ("cmu_01_03", 1, 30.0, "CMU 01_03: climbing on and jumping off playground structures"),
    "boxing": ("boxing_toes", 1, 20.0, "boxing on the spot, 100 fps source"),
    "spin": ("deepmimic_spin", 1, None, "turning on the spot on one foot (DeepMimic)"),
    "spinkick": ("deepmimic_spinkick", 2, None, "spinning kick, one foot in the air (DeepMimic)"),
    "kick": ("deepmimic_kick", 1, None, "front kick from standing (DeepMimic)"),
    "punch": ("deepmimic_punch", 1, None, "punching while standing (DeepMimic)"),
    "cartwheel": ("deepmimic_cartwheel", 1, None, "cartwheel: hands on the floor, feet over the head (DeepMimic)"),
    "backflip": ("deepmimic_backflip", 2, None, "standing back flips (DeepMimic)"),
    "roll": ("deepmimic_roll", 2, None, "forward rolls over the floor (DeepMimic)"),
    "crawl": ("deepmimic_crawl", 1, None, "crawling on hands and knees (DeepMimic)"),
    "getup_down": ("deepmimic_getup_facedown", 1, None, "lying face down, getting up, standing (DeepMimic)"),
    "cmu_example": ("cmu_example_bvh", 1, None, "CMU clip from bvh-loader: a 0.6 s sprint, 120 fps source"),
    "standing": ("boxing_toes", 1, 1.25, "standing still: the boxing clip's first 1.25 s, before the first punch"),
}
HELD_OUT = ("punch", "cartwheel", "crawl", "getup_down", "standing")
DEVELOPMENT = tuple(name for name in CLIPS if name not in HELD_OUT)
CONTACT_HEIGHT_M = 0.025
CONTACT_SPEED_MPS = 0.25
CONTACT_MIN_S = 0.1


def truth_contacts(joints: np.ndarray, times_s: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(T, 4) bool in FOOT_JOINT_IDS order: the sole under the joint within CONTACT_HEIGHT_M of y = 0 and its
    horizontal speed (central differences) below CONTACT_SPEED_MPS, for at least CONTACT_MIN_S (a foot that
    only brushes the floor for a frame is not planted). joints: (T, 24, 3), y up."""
    feet = joints[:, list(FOOT_JOINT_IDS)]
    sole = feet[..., 1] - foot_rest_heights(rest_joints)
    speed = np.linalg.norm(np.gradient(feet[..., [0, 2]], times_s, axis=0), axis=-1)
    down = (sole < CONTACT_HEIGHT_M) & (speed < CONTACT_SPEED_MPS)
    return np.stack([clean_runs(down[:, k], times_s, CONTACT_MIN_S, 0.0) for k in range(4)], axis=1)


RAISED_MIN_M = 0.05
RAISED_PELVIS_M = 0.35


def truth_raised_rests(joints: np.ndarray, times_s: np.ndarray, rest_joints: np.ndarray) -> np.ndarray:
    """(T, 4) bool in FOOT_JOINT_IDS order: a foot standing on something above the floor (a climbing frame, a
    step) — its ankle and toe joints both still (3-D speed below CONTACT_SPEED_MPS) with both soles more than
    RAISED_MIN_M above y = 0 and the pelvis at least RAISED_PELVIS_M above them (standing or crouching on it,
    not a foot held up while lying or kneeling), for at least CONTACT_MIN_S; both of the foot's columns alike (a
    heel raised over toes on the floor is not one). joints: (T, 24, 3), y up."""
    feet = joints[:, list(FOOT_JOINT_IDS)]
    sole = feet[..., 1] - foot_rest_heights(rest_joints)
    speed = np.linalg.norm(np.gradient(feet, times_s, axis=0), axis=-1)
    up = (sole > RAISED_MIN_M) & (speed < CONTACT_SPEED_MPS) & (joints[:, :1, 1] - sole > RAISED_PELVIS_M)
    out = np.zeros(up.shape, dtype=bool)
    for ankle, toe in ((0, 2), (1, 3)):  # left, right
        out[:, ankle] = out[:, toe] = clean_runs(up[:, ankle] & up[:, toe], times_s, CONTACT_MIN_S, 0.0)
    return out


@functools.lru_cache(maxsize=None)
def _retargeted(name: str, fps: float):
    file, cycles, seconds, _what = CLIPS[name]
    path = realdata.require(file)
    source = read_bvh(path) if str(path).endswith(".bvh") else read_deepmimic(path, cycles=cycles)
    motion = to_smpl(source, fps=fps)
    if seconds is not None:
        keep = motion.times_s <= seconds + 1e-9
        motion.rotmat, motion.transl, motion.times_s = motion.rotmat[keep], motion.transl[keep], motion.times_s[keep]
    return motion


def load_clip(name: str, fps: float = 30.0) -> dict:
    """A real clip as SMPL motion (y up, floor y = 0, path centred on the origin). Returns the keys of
    ``motion_synth.make_clip``: rotmat (T, 24, 3, 3), transl (T, 3), times_s, contact (T, 4), joints, rest_joints,
    kind, and raised (T, 4): feet resting above the floor (:func:`truth_raised_rests`). Skips the test (fails
    under CI) when the package cannot be fetched."""
    m = _retargeted(name, float(fps))
    transl = m.transl.copy()
    P, _ = forward_kinematics(m.rest_joints, m.rotmat)
    centre = 0.5 * (transl.min(axis=0) + transl.max(axis=0))
    transl[:, [0, 2]] -= centre[[0, 2]]
    joints = P + transl[:, None]
    return {"rotmat": m.rotmat.copy(), "transl": transl, "times_s": m.times_s.copy(),
            "contact": truth_contacts(joints, m.times_s, m.rest_joints),
            "raised": truth_raised_rests(joints, m.times_s, m.rest_joints), "joints": joints,
            "rest_joints": m.rest_joints.copy(), "kind": name}


def properties(clip: dict) -> dict:
    """What the clip is like: mean and 90th-percentile trunk lean (°), heel raise while the ball of that foot
    is down (90th percentile, °), frames with both feet off the floor, floor contacts (frames)."""
    J, rest = clip["joints"], clip["rest_joints"]
    soles = J[:, list(FOOT_JOINT_IDS), 1] - foot_rest_heights(rest)
    lean = metrics.lean_deg(J)
    heel = metrics.heel_raise_deg(J, rest)
    ball_down = soles[:, 2:] < CONTACT_HEIGHT_M
    return {"lean_mean_deg": float(lean.mean()), "lean_p90_deg": float(np.percentile(lean, 90)),
            "heel_raise_p90_deg": float(np.percentile(heel[ball_down], 90)) if ball_down.any() else 0.0,
            "flight_frames": int(metrics.flight_frames(soles).sum()),
            "contact_frames": int(clip["contact"].any(axis=1).sum()), "frames": int(J.shape[0])}


def camera(pitch_deg: float = 15.0, roll_deg: float = 3.0, height_m: float = 1.4, distance_m: float = 6.0):
    """A camera ``height_m`` above the floor, ``distance_m`` from the origin on +z, pitched down and rolled
    (``motion_synth.camera_pose`` aimed so that its centre is at that height)."""
    import motion_synth as ms

    return ms.camera_pose(pitch_deg, roll_deg, distance_m, height_m - distance_m * np.tan(np.radians(pitch_deg)))
