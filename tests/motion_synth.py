"""Procedural SMPL motion with a known floor, for the refine tests and ``bench/bench_refine.py``.

Clips (``make_clip(kind)``): ``walk``, ``run`` (flight phases), ``jump`` (squat, 25 cm jumps in place),
``turn`` (stepping on the spot through half a turn), ``sit`` (stand, sit down on a chair, stand up), ``stand``
(a person who hardly moves: weight shifts, soft knees, flat feet), ``float``
(never touches the ground: a swimmer-like kick, for the "no floor" errors). Every clip lives in SMPL's y-up
world with the floor at y = 0. The root translation is built so that the lowest foot joint's sole stays on the
floor and does not slide (the foot that carries the weight is planted exactly); runs and jumps add ballistic
flight on top. Ground-truth contacts: the sole within 1.5 cm of the floor and moving < 0.15 m/s horizontally.

Then :func:`to_camera` puts a clip into a pitched and rolled OpenCV camera, and :func:`degrade` adds what a
network adds: per-frame jitter on every joint rotation and on the translation (more in depth), and slow drifts
of the root and the hips that make planted feet slide.
"""

from __future__ import annotations

import numpy as np

import synthetic
from core import rotations
from core.motion.soles import FOOT_JOINT_IDS, foot_rest_heights
from core.smpl import forward_kinematics

REST_JOINTS = synthetic.REST_JOINTS
KINDS = ("walk", "run", "jump", "turn", "sit", "stand", "float")


def rot(axis: str, angle) -> np.ndarray:
    a = np.asarray(angle, dtype=np.float64)
    aa = np.zeros(a.shape + (3,))
    aa[..., "xyz".index(axis)] = a
    return rotations.axis_angle_to_rotmat(aa)


def _bump(x):
    """Smooth non-negative bump: (0.5 + 0.5 cos x)^3."""
    return (0.5 + 0.5 * np.cos(x)) ** 3


def _pose(kind: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local rotations (T, 24, 3, 3), heading (T,) and the extra flight height (T,) of a clip."""
    T = t.shape[0]
    R = np.tile(np.eye(3), (T, 24, 1, 1))
    heading = np.zeros(T)
    flight = np.zeros(T)
    lean = np.zeros(T)
    arms = 1.2
    if kind in ("walk", "turn", "run", "float"):
        freq, hip_a, knee_a, lean0 = {"walk": (0.9, 0.4, 1.0, 0.03), "turn": (0.9, 0.15, 0.6, 0.0),
                                      "run": (1.4, 0.6, 1.6, 0.15), "float": (1.2, 0.5, 0.8, 0.0)}[kind]
        phase = 2 * np.pi * freq * t
        for side, (hip, knee, ankle) in enumerate(((1, 4, 7), (2, 5, 8))):
            ph = phase + side * np.pi
            R[:, hip] = rot("x", -hip_a * np.sin(ph))
            R[:, knee] = rot("x", knee_a * _bump(ph) + 0.05)
            R[:, ankle] = rot("x", -0.25 * _bump(ph) + 0.25 * _bump(ph + 1.2) + 0.05)
        swing = 0.35 * np.sin(phase)
        R[:, 16] = rot("x", swing) @ rot("z", -arms)
        R[:, 17] = rot("x", -swing) @ rot("z", arms)
        R[:, 18] = rot("y", -0.3 - 0.3 * (kind == "run"))
        R[:, 19] = rot("y", 0.3 + 0.3 * (kind == "run"))
        R[:, 3] = rot("y", 0.12 * np.sin(phase))
        lean[:] = lean0
        if kind == "turn":
            heading = np.pi * t / t[-1]
    elif kind == "jump":
        cycle = 1.2
        u = np.mod(t, cycle)
        crouch = np.where(u < 0.5, np.sin(np.pi * u / 0.5) ** 2, np.where(u > 0.9, 0.5 * np.sin(np.pi * (u - 0.9) / 0.3) ** 2, 0.0))
        R[:, 1] = R[:, 2] = rot("x", -1.0 * crouch)
        R[:, 4] = R[:, 5] = rot("x", 1.6 * crouch)
        R[:, 7] = R[:, 8] = rot("x", -1.0 * crouch)
        lean = 0.4 * crouch
        R[:, 16] = rot("x", -0.8 * crouch) @ rot("z", -arms)
        R[:, 17] = rot("x", -0.8 * crouch) @ rot("z", arms)
        fu = np.clip((u - 0.5) / 0.4, 0.0, 1.0)
        flight = np.where((u > 0.5) & (u < 0.9), 0.25 * 4 * fu * (1 - fu), 0.0)
    elif kind == "stand":
        # standing on the spot: a slow side-to-side weight shift, knees softening, feet flat
        sway = 0.04 * np.sin(2 * np.pi * 0.3 * t)
        knee = 0.06 + 0.04 * np.sin(2 * np.pi * 0.2 * t)
        for hip, knee_j, ankle in ((1, 4, 7), (2, 5, 8)):
            R[:, hip] = rot("z", sway)
            R[:, knee_j] = rot("x", knee)
            R[:, ankle] = rot("x", -knee) @ rot("z", -sway)
        R[:, 16] = rot("z", -arms)
        R[:, 17] = rot("z", arms)
    elif kind == "sit":
        # stand 0-1 s, sit down 1-2 s, sit 2-3 s, stand up 3-4 s (knees 90°, feet stay flat)
        c = np.clip(np.minimum(t - 1.0, 4.0 - t), 0.0, 1.0)
        c = 0.5 - 0.5 * np.cos(np.pi * c)
        R[:, 1] = R[:, 2] = rot("x", -1.5 * c)
        R[:, 4] = R[:, 5] = rot("x", 1.5 * c)
        lean = 0.0 * c
        R[:, 16] = rot("z", -arms) @ np.eye(3)
        R[:, 17] = rot("z", arms) @ np.eye(3)
    else:
        raise ValueError(kind)
    R[:, 0] = rot("y", heading) @ rot("x", lean)
    if kind != "jump":
        R[:, 9] = rot("x", 0.03 * np.sin(4 * np.pi * t))
    return R, heading, flight


def make_clip(kind: str, fps: float = 30.0, seconds: float = 4.0, heading_deg: float = 90.0) -> dict:
    """A clean clip. Returns rotmat (T, 24, 3, 3), transl (T, 3) (SMPL y-up world, floor y = 0), times_s (T,),
    contact (T, 4) bool (ground truth, ``FOOT_JOINT_IDS`` order), joints (T, 24, 3), rest_joints (24, 3).
    The whole clip is turned by ``heading_deg`` about the vertical (90: walking across a camera on +z) and its
    path centred on the origin."""
    times = np.arange(int(round(seconds * fps))) / fps
    R, _heading, flight = _pose(kind, times)
    P, _ = forward_kinematics(REST_JOINTS, R)
    rest_h = foot_rest_heights(REST_JOINTS)
    feet = P[:, list(FOOT_JOINT_IDS)]  # (T, 4, 3) relative to the root pivot
    sole = feet[..., 1] - rest_h  # (T, 4)
    low = np.argmin(sole, axis=1)
    transl = np.zeros((times.shape[0], 3))
    if kind == "run":  # airborne while the feet swap: both soles about equally low
        d = np.minimum(sole[:, 0], sole[:, 2]) - np.minimum(sole[:, 1], sole[:, 3])
        flight = 0.06 * np.maximum(0.0, 1.0 - (d / 0.12) ** 2) ** 2
    transl[:, 1] = -sole.min(axis=1) + flight
    if kind == "sit":  # sitting: the feet stay down, the seat carries the body (the pelvis drops)
        transl[:, 1] = -sole.min(axis=1)
    if kind == "float":  # swimming 0.6 m above the floor, drifting forward
        transl[:, 1] = 0.6 - sole.min(axis=1) + 0.05 * np.sin(2 * np.pi * times)
    for i in range(1, times.shape[0]):
        if kind == "float":
            transl[i, [0, 2]] = transl[i - 1, [0, 2]] + np.array([0.0, 0.8]) / fps
            continue
        j = low[i - 1]
        transl[i, [0, 2]] = transl[i - 1, [0, 2]] + feet[i - 1, j, [0, 2]] - feet[i, j, [0, 2]]
    turn = rot("y", np.radians(heading_deg))
    R[:, 0] = turn @ R[:, 0]
    J0 = REST_JOINTS[0]
    transl = (J0 + transl) @ turn.T - J0
    centre = 0.5 * (transl.min(axis=0) + transl.max(axis=0))
    transl[:, [0, 2]] -= centre[[0, 2]]
    P, _ = forward_kinematics(REST_JOINTS, R)
    joints = P + transl[:, None]
    world_feet = joints[:, list(FOOT_JOINT_IDS)]
    speed = np.zeros(world_feet.shape[:2])
    speed[1:] = np.linalg.norm(np.diff(world_feet[..., [0, 2]], axis=0), axis=-1) * fps
    speed[0] = speed[1]
    contact = (world_feet[..., 1] - rest_h < 0.015) & (speed < 0.15)
    return {"rotmat": R, "transl": transl, "times_s": times, "contact": contact, "joints": joints,
            "rest_joints": REST_JOINTS.copy(), "kind": kind}


def onto_a_box_clip(height_m: float = 0.4, walk_s: float = 4.0, stand_s: float = 4.0):
    """A person walks ``walk_s``, then stands ``stand_s`` still on a box ``height_m`` high where the walk ends (the
    walk and stand clips joined: the body rises in one frame). -> (rotmat (T, 24, 3, 3), transl (T, 3) y-up
    world, frame of the step)."""
    walk, stand = make_clip("walk", seconds=walk_s), make_clip("stand", seconds=stand_s)
    lift = walk["transl"][-1] - stand["transl"][0] + np.array([0.0, height_m, 0.0])
    rotmat = np.concatenate([walk["rotmat"], stand["rotmat"]])
    transl = np.concatenate([walk["transl"], stand["transl"] + lift])
    return rotmat, transl, walk["rotmat"].shape[0]


def camera_pose(pitch_deg: float, roll_deg: float, distance_m: float = 6.0, aim_height_m: float = 1.0):
    """A camera in the SMPL y-up world looking at the origin from +z, pitched down by ``pitch_deg`` and rolled.
    Returns (R_cam_from_world (3, 3), camera centre (3,))."""
    p = np.radians(pitch_deg)
    r = np.radians(roll_deg)
    level = np.diag([1.0, -1.0, -1.0])  # OpenCV axes of a level camera looking along world -z
    R = rot("z", r) @ rot("x", p) @ level  # looking down at the person
    centre = np.array([0.0, aim_height_m + distance_m * np.tan(p), distance_m])
    return R, centre


def to_camera(rotmat: np.ndarray, transl: np.ndarray, R_cam_from_world: np.ndarray, centre: np.ndarray,
              rest_joints: np.ndarray = REST_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """World motion -> camera-frame motion (rotmat, transl_cam). SMPL turns about J₀."""
    J0 = np.asarray(rest_joints)[0]
    Rc = np.array(rotmat, copy=True)
    Rc[:, 0] = R_cam_from_world @ Rc[:, 0]
    return Rc, (J0 + transl - centre) @ R_cam_from_world.T - J0


def _smooth_noise(rng, shape, frames: int) -> np.ndarray:
    """Unit-variance low-pass noise along axis 0 (a Gaussian kernel of ``frames`` standard deviation)."""
    pad = 4 * frames
    x = rng.normal(size=(shape[0] + 2 * pad,) + tuple(shape[1:]))
    k = np.exp(-0.5 * (np.arange(-pad, pad + 1) / frames) ** 2)
    k /= k.sum()
    out = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, x)
    return out / np.std(out)


def degrade(rotmat_cam: np.ndarray, transl_cam: np.ndarray, seed: int = 0, jitter_deg: float = 0.8,
            transl_jitter_m=(0.003, 0.003, 0.01), slide_m: float = 0.03, hip_slide_deg: float = 3.0,
            pose_error_deg: float = 0.0, R_cam_from_world=None) -> tuple[np.ndarray, np.ndarray]:
    """Network-like errors: iid per-frame jitter (rotations ``jitter_deg``, translation ``transl_jitter_m``
    x/y/depth), a slowly varying pose error on every joint (``pose_error_deg``), and slow drifts (root
    horizontal translation of ``slide_m`` std, hip rotations of ``hip_slide_deg`` std) that make planted feet
    slide."""
    rng = np.random.default_rng(seed)
    T = rotmat_cam.shape[0]
    noise = np.radians(jitter_deg) * rng.normal(size=(T, 24, 3))
    noise += np.radians(pose_error_deg) * _smooth_noise(rng, (T, 24, 3), 6)
    R = rotmat_cam @ rotations.axis_angle_to_rotmat(noise)
    hips = np.radians(hip_slide_deg) * _smooth_noise(rng, (T, 2, 3), 8)
    R[:, 1:3] = R[:, 1:3] @ rotations.axis_angle_to_rotmat(hips)
    t = transl_cam + rng.normal(size=(T, 3)) * np.asarray(transl_jitter_m)
    drift = slide_m * _smooth_noise(rng, (T, 3), 10)
    if R_cam_from_world is not None:  # drift along the floor only
        drift[:, 1] = 0.0
        drift = drift @ R_cam_from_world.T
    return R, t + drift
