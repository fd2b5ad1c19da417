"""The floor and the upright world frame.

The capture lives in the OpenCV camera frame (x right, y down, z forward). The floor is the plane the feet rest
on: it is fitted to the soles under the foot joints at the frames where a foot is **slow and at the lowest
level** of the track (so a jump's flight, a swinging leg or a raised foot never count), pooled over every
track of the video (one camera, one floor):

1. the body's mean "up" (SMPL's y axis carried by the pelvis and upper spine, averaged over every frame) gives
   a first normal and the prior;
2. candidate points are the foot joints moved down by their standing height (``contacts.foot_rest_heights``),
   taken where the joint is slower than ``speed_on_mps`` and within ``height_off_m`` of the track's low level;
3. the plane ``z = αa + βb + δ`` (a, b, z: coordinates along the current normal's basis) is fitted by
   iteratively reweighted least squares (Huber weights beyond ``inlier_m``) with a ridge ``prior_weight`` on
   (α, β): directions the points span (a walk spreads them metres along its path) follow the data, directions
   they do not span (standing still, a straight line) stay on the body's up. Steps 2–3 repeat with the new
   normal.

Fewer than ``min_contact_frames`` candidate frames (swimming, jumping all the time, a track that never slows
down) raise :class:`FloorNotFoundError`.

World frame: Z = the floor normal (up), the floor at Z = 0, the camera at (0, 0, height) with its viewing
direction turned onto the +Y half (world +Y = the camera's forward axis projected on the floor), X = Y × Z.
``x_world = R_world_from_cam @ x_cam + cam_position_world``; with a level camera this is exactly the add-on's
old fixed mapping (``core.rotations.R_BLENDER_FROM_OPENCV``) lifted by the camera height.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import ContactConfig, FloorConfig
from ..errors import MocapError
from .contacts import clean_runs, joint_speeds
from .smoothing import moving_average

SMPL_UP = np.array([0.0, 1.0, 0.0])  # SMPL's canonical up axis
_UP_JOINTS = (0, 9)  # pelvis and spine3: their global rotations carry the torso's up


class FloorNotFoundError(MocapError):
    """No frames where a foot rests on the floor: the floor (and the upright world frame) cannot be estimated."""


@dataclass
class FloorInput:
    """One track, camera frame. joints: (T, 24, 3) posed joints incl. translation; global_rotmat: (T, 24, 3, 3);
    times_s: (T,); rest_heights: (4,) standing height of the foot joints (ankles, toes) above the sole."""

    joints: np.ndarray
    global_rotmat: np.ndarray
    times_s: np.ndarray
    rest_heights: np.ndarray


@dataclass
class FloorFrame:
    normal_cam: np.ndarray  # (3,) unit floor normal (up) in camera coordinates
    offset: float  # the floor is {x : normal_cam · x = offset} (camera coordinates, metres)
    num_points: int  # candidate points the fit used
    R_world_from_cam: np.ndarray  # (3, 3)
    cam_position_world: np.ndarray  # (3,) = (0, 0, camera height)

    @property
    def camera_height_m(self) -> float:
        return float(self.cam_position_world[2])

    @property
    def pitch_deg(self) -> float:
        """Camera pitch: the angle of its viewing direction above the horizon (negative: looking down)."""
        return math.degrees(math.asin(float(np.clip(self.R_world_from_cam[2, 2], -1.0, 1.0))))

    @property
    def roll_deg(self) -> float:
        """Camera roll about its viewing axis: the angle of the world's up in the image from the image's up
        (positive: the camera's right side is up)."""
        n = self.R_world_from_cam[2]  # world up in camera coordinates
        return math.degrees(math.atan2(float(n[0]), float(-n[1])))

    def as_dict(self) -> dict:
        return {"normal_cam": [round(float(v), 6) for v in self.normal_cam], "offset_m": round(self.offset, 5),
                "camera_height_m": round(self.camera_height_m, 4), "pitch_deg": round(self.pitch_deg, 3),
                "roll_deg": round(self.roll_deg, 3), "num_points": int(self.num_points)}


def world_frame(normal_cam: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(R_world_from_cam (3, 3), cam_position_world (3,)) for the floor {normal_cam · x = offset}."""
    z = np.asarray(normal_cam, dtype=np.float64)
    z = z / np.linalg.norm(z)
    forward = np.array([0.0, 0.0, 1.0])
    y = forward - (forward @ z) * z
    if np.linalg.norm(y) < 1e-6:  # looking straight down or up: keep the image's "up" as forward
        y = np.array([0.0, -1.0, 0.0]) - (-z[1]) * z
    y = y / np.linalg.norm(y)
    x = np.cross(y, z)
    R = np.stack([x, y, z])
    return R, np.array([0.0, 0.0, -float(offset)])


def body_up(inputs: list[FloorInput]) -> np.ndarray:
    """(3,) unit mean torso up over every frame of every track (camera coordinates)."""
    ups = [inp.global_rotmat[:, list(_UP_JOINTS)] @ SMPL_UP for inp in inputs]  # (T, 2, 3) each
    mean = np.concatenate([u.reshape(-1, 3) for u in ups]).mean(axis=0)
    return mean / max(np.linalg.norm(mean), 1e-12)


def _basis(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(u, e1)


def _candidates(inputs: list[FloorInput], u: np.ndarray, contact: ContactConfig, plane=None,
                inlier_m: float = 0.03):
    """Sole points under slow foot joints that are their foot's lowest (within 4 cm, 1.5 cm once a plane is
    known) and at the floor level:
    within ``height_off_m`` of the track's low level, or (``plane`` = (normal, offset) given) within
    ``inlier_m`` of that plane. Returns (points (K, 3), number of frames giving one)."""
    points, normals, frames = [], [], 0
    for inp in inputs:
        feet = inp.joints[:, [7, 8, 10, 11]]  # (T, 4, 3)
        soles = feet - inp.rest_heights[None, :, None] * u  # (T, 4, 3) the sole under each joint
        height = soles @ u  # (T, 4)
        foot_low = np.minimum(height[:, [0, 1]], height[:, [2, 3]])  # (T, 2) left, right
        lowest = height - np.concatenate([foot_low, foot_low], axis=1) < (0.04 if plane is None else 0.015)
        speed = joint_speeds(moving_average(feet, 5), inp.times_s)  # averaged: jitter must not look like motion
        slow = (speed < contact.speed_on_mps) & lowest
        for k in range(4):  # a foot at rest stays slow a while (a kick's turning point does not)
            slow[:, k] = clean_runs(slow[:, k], inp.times_s, contact.min_contact_s, 0.0)
        if not slow.any():
            continue
        if plane is None:  # the low level around each frame (a first normal may be off by degrees over metres)
            low = np.where(slow, height, np.inf).min(axis=1)  # (T,)
            level = np.full(low.shape, np.inf)
            t = inp.times_s
            lo = np.searchsorted(t, t - 0.75, side="left")
            hi = np.searchsorted(t, t + 0.75, side="right")
            for i in np.flatnonzero(np.isfinite(low)):  # ±0.75 s around each frame (times are sorted)
                near = low[lo[i]:hi[i]]
                level[i] = np.percentile(near[np.isfinite(near)], 10)
            ok = slow & (height < level[:, None] + contact.height_off_m)
        else:
            ok = slow & (np.abs(soles @ plane[0] - plane[1]) < inlier_m)
        frames += int(ok.any(axis=1).sum())
        points.append(soles[ok])
        flat = ok[:, [0, 1]] & ok[:, [2, 3]]  # (T, 2) ankle and toe of a foot both down: the sole is level
        for f, ankle in enumerate((7, 8)):
            normals.append(inp.global_rotmat[flat[:, f], ankle] @ SMPL_UP)
    pts = np.concatenate(points) if points else np.zeros((0, 3))
    sole_normals = np.concatenate(normals) if normals else np.zeros((0, 3))
    return pts, frames, sole_normals


def _fit_plane(points: np.ndarray, u: np.ndarray, config: FloorConfig, prior=None) -> tuple[np.ndarray, float]:
    """Huber-IRLS ridge fit of z = αa + βb + δ in the basis of ``u``, the ridge pulling (α, β) towards the
    ``prior`` normal (default ``u``) so that repeated fits do not drift. -> (unit normal, offset)."""
    e1, e2 = _basis(u)
    p = u if prior is None else np.asarray(prior, dtype=np.float64)
    alpha_p, beta_p = -(p @ e1) / (p @ u), -(p @ e2) / (p @ u)  # the prior as a slope in this basis
    a, b, z = points @ e1, points @ e2, points @ u
    alpha = beta = 0.0
    delta = float(np.median(z))
    w = np.ones_like(z)
    for _ in range(8):
        r = z - alpha * a - beta * b - delta
        absr = np.abs(r)
        w = np.where(absr <= config.inlier_m, 1.0, config.inlier_m / np.maximum(absr, 1e-12))
        w = np.where(absr > 4.0 * config.inlier_m, 0.0, w)  # far outliers (a raised foot, a jump) drop out
        sw = w.sum()
        if sw <= 0:
            break
        am, bm, zm = (w * a).sum() / sw, (w * b).sum() / sw, (w * z).sum() / sw
        da, db, dz = a - am, b - bm, z - zm
        ridge = config.prior_weight * sw  # prior_weight is a spread (m²): compare it with the points' variance
        A = np.array([[(w * da * da).sum() + ridge, (w * da * db).sum()],
                      [(w * da * db).sum(), (w * db * db).sum() + ridge]])
        rhs = np.array([(w * da * dz).sum() + ridge * alpha_p, (w * db * dz).sum() + ridge * beta_p])
        alpha, beta = np.linalg.solve(A, rhs)
        delta = zm - alpha * am - beta * bm
    n = u - alpha * e1 - beta * e2
    norm = np.linalg.norm(n)
    return n / norm, float(delta / norm)


def estimate_floor(inputs: list[FloorInput], config: FloorConfig = FloorConfig(),
                   contact: ContactConfig = ContactConfig()) -> FloorFrame:
    """The floor under every track of a video (camera frame). Raises FloorNotFoundError."""
    if not inputs:
        raise FloorNotFoundError("the floor could not be estimated: there is no track")
    prior = body_up(inputs)
    u = prior
    points, frames = np.zeros((0, 3)), 0
    plane = None
    used = 0
    for it in range(4):
        cand, frames, sole_normals = _candidates(inputs, u, contact, plane, 2.0 * config.inlier_m)
        if it == 0 and sole_normals.shape[0] >= config.min_contact_frames:
            # feet flat on the floor carry its normal: a better prior than the torso (which leans)
            mean = sole_normals.mean(axis=0)
            u = mean / np.linalg.norm(mean)
            prior = u
            cand, frames, _ = _candidates(inputs, u, contact, plane, 2.0 * config.inlier_m)
        if it > 0 and (frames < config.min_contact_frames or cand.shape[0] < 3):
            break  # the refined selection is too thin: keep the previous fit
        points, used = cand, frames
        if frames < config.min_contact_frames or points.shape[0] < 3:
            raise FloorNotFoundError(
                f"the floor could not be estimated: the feet rest on the ground in only {frames} frame(s) "
                f"(at least {config.min_contact_frames} needed; the person may never touch the ground); "
                "the motion stays in the camera frame (use --no-upright and --foot-lock never to skip the floor)")
        n, offset = _fit_plane(points, u, config, prior)
        u = n
        plane = (n, offset)
    angle = math.degrees(math.acos(float(np.clip(u @ body_up(inputs), -1.0, 1.0))))
    if angle > config.max_tilt_from_body_deg:
        raise FloorNotFoundError(f"the floor could not be estimated: the plane under the feet is tilted {angle:.0f}° "
                                 "from the body's up (no consistent ground contact); the motion stays in the "
                                 "camera frame")
    R, c = world_frame(u, offset)
    return FloorFrame(normal_cam=u, offset=offset, num_points=int(points.shape[0]), R_world_from_cam=R,
                      cam_position_world=c)


# --------------------------------------------------------------------------------- motion between frames
def motion_to_world(rotmat: np.ndarray, transl: np.ndarray, root_joint: np.ndarray, R: np.ndarray,
                    c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame SMPL motion -> world. rotmat: (T, 24, 3, 3), transl: (T, 3), root_joint: (3,) rest pelvis
    J₀; R, c: x_world = R x_cam + c. SMPL turns about J₀, so t_w = R (J₀ + t) + c − J₀."""
    Rw = np.array(rotmat, dtype=np.float64, copy=True)
    Rw[:, 0] = R @ Rw[:, 0]
    J0 = np.asarray(root_joint, dtype=np.float64)
    return Rw, (J0 + np.asarray(transl, dtype=np.float64)) @ R.T + c - J0


def motion_to_camera(rotmat_world: np.ndarray, transl_world: np.ndarray, root_joint: np.ndarray, R: np.ndarray,
                     c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`motion_to_world`."""
    Rc = np.array(rotmat_world, dtype=np.float64, copy=True)
    Rc[:, 0] = R.T @ Rc[:, 0]
    J0 = np.asarray(root_joint, dtype=np.float64)
    return Rc, (J0 + np.asarray(transl_world, dtype=np.float64) - c) @ R - J0
