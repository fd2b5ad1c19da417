"""The floor and the upright world frame.

The capture lives in the OpenCV camera frame (x right, y down, z forward). The floor is the plane the soles
rest on, found from **where the soles rest**, pooled over every track of the video (one camera, one floor):

1. **Resting sole points** (:mod:`.soles`: heel, ball and toe of each foot, fixed to the foot's bones, so their
   positions do not depend on any guess of "up"): a point rests where it stays put — its speed, on a lightly
   averaged path, below ``still_speed_mps`` for at least ``min_still_s``. A swinging foot, a foot in flight
   and the first and last frames of a step never count; a leaning torso, raised heels and fast travel change
   nothing here.
2. **A first plane** by RANSAC (:func:`_ransac`): the level the soles rest on most, preferring the lowest,
   searched up to ``search_from_body_deg`` from the torso's up (a body lying, crawling or getting up has its
   torso far from up), facing the side the pelvis is on.
3. **The plane** ``z = αa + βb + δ`` (a, b, z along the current normal's basis) by iteratively reweighted least
   squares: Huber weights beyond ``inlier_m``, points far above the plane dropped (a foot on a step, a raised
   heel held still), and at each frame only each foot's lowest points (within ``lowest_tol_m``). Four rounds,
   from a wide inlier band to the final one. Each point is weighed by how far its height can be trusted: an
   error in the leg's angle at the hip (``leg_angle_error_deg``) moves a sole point up or down by that angle
   times its reach from the hip along the floor, so a foot under its hip counts fully and the front foot of a
   lunge, a boxer's stance or a crouched landing less (:func:`_reach_weights`).
4. **What positions cannot settle**: while the points are picked, a light ridge ``prior_weight`` (m²) pulls the
   tilt towards a prior normal in directions the resting points do not spread along (a straight line). The
   prior is the first plane itself in the first round, then the mean "up" of the **feet while they stand flat**
   (heel and ball both resting at the same height), else the torso's up (pelvis and upper spine) where it is
   within ``max_tilt_from_body_deg`` of the plane, else the first plane.
5. **Points and prior, each as sure as it is** (:func:`_combine`): the final tilt weighs the plane of the
   points against the prior by their precisions. A foot resting on one spot again and again carries one height
   error (a recording's left foot a centimetre above its right, a capture's leg a degree off), however many
   frames and contacts, so the points count per **footprint** (contacts within ``footprint_m``), each with the
   footprints' own scatter about the plane as its height error (at least ``footprint_error_m``). Each leg's
   footprints also share one height offset (``leg_offset_error_m``: a recording's left foot a centimetre above
   its right, a capture's leg off for the whole clip), so where the left and right footprints lie along two
   lines (a straight walk, a boxer's stance) the tilt across those lines is unsure, and where the person turns
   it is settled; the flat feet
   count with their scatter from contact to contact (over the number of contacts) plus
   ``feet_prior_error_deg``; the torso (or a lying body's first plane) with ``torso_prior_error_deg``. A walk
   across the room is settled by its footprints alone; a dancer or a person standing on the spot, whose few
   footprints lie a centimetre off, mostly by the flat feet.

The result records how sure it is (:class:`FloorFrame`): the resting points used and on how many separate
contacts, their spread along the floor, the residual, the prior's share of each tilt direction, the angle
between the points' own plane and the flat feet's up, an estimate of the tilt's standard error (step 5's) and
a ``confidence`` (high / medium / low). The error counts half that angle as well: where the soles rest and how
the flat feet stand are two measures of the tilt, and an angle between them says at least one is off. A low
confidence becomes a warning in the refine report (never a silent tilt). Fewer than ``min_contact_frames``
frames with a resting sole (swimming, a person never on the ground), no flat foot and a body never upright
on the plane found (crawling, rolling), or no flat foot and a tilt error estimated above
``max_unsettled_error_deg`` (a crawl's toes along a line: a floor tilted tens of degrees is worse than none) raise
:class:`FloorNotFoundError`.

The world frame it defines: :mod:`.world`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..config import FloorConfig
from ..errors import MocapError
from .contacts import clean_runs, joint_speeds, runs
from .smoothing import moving_average
from ..smpl import forward_kinematics
from .soles import sole_offsets, sole_points
from .world import world_frame

SMPL_UP = np.array([0.0, 1.0, 0.0])  # SMPL's canonical up axis
UP_JOINTS = (0, 9)  # pelvis and spine3: their global rotations carry the torso's up
UPRIGHT_DEG = 45.0  # a body stands upright while its torso is within this of the floor's normal
PELVIS_ABOVE_M = 0.08  # SMPL's pelvis joint lies at least this far above whatever the body rests on
CONTACT_SCORE_POINTS = 10  # a first plane counts at most this many resting points of one contact


class FloorNotFoundError(MocapError):
    """The floor (and the upright world frame) cannot be estimated: no foot rests, or nothing settles the plane.
    The message says why; whoever catches it says what happens then (:data:`NO_FLOOR_KEPT`, or how to refine
    without a floor)."""


NO_FLOOR_KEPT = "the motion stays in the camera frame"  # appended where a missing floor is only a warning


@dataclass
class FloorInput:
    """One track, camera frame. soles: (T, 6, 3) sole points (:func:`.soles.sole_points`); foot_up: (T, 2, 3)
    each foot's up axis (SMPL y of the ankles); torso_up: (T, 3); times_s: (T,); pelvis: (T, 3) or None (the
    body lies above its floor: it tells a floor from the same plane upside down)."""

    soles: np.ndarray
    foot_up: np.ndarray
    torso_up: np.ndarray
    times_s: np.ndarray
    pelvis: Optional[np.ndarray] = None
    hips: Optional[np.ndarray] = None  # (T, 2, 3) left and right hip joints or None: a resting point's reach from its
    # hip carries the leg's angle error into its height

    @classmethod
    def from_motion(cls, rest_joints, rotmat, transl, times_s, v_shaped=None) -> "FloorInput":
        """From SMPL motion in the camera frame: rest_joints (24, 3); rotmat (T, 24, 3, 3); transl (T, 3);
        times_s (T,); v_shaped (6890, 3) or None."""
        P, G = forward_kinematics(rest_joints, rotmat)
        joints = P + np.asarray(transl, dtype=np.float64)[:, None]
        return cls(soles=sole_points(joints, G, sole_offsets(rest_joints, v_shaped)), foot_up=G[:, [7, 8]] @ SMPL_UP,
                   torso_up=(G[:, list(UP_JOINTS)] @ SMPL_UP).mean(axis=1),
                   times_s=np.asarray(times_s, dtype=np.float64), pelvis=joints[:, 0], hips=joints[:, [1, 2]])


@dataclass
class FloorFrame:
    normal_cam: np.ndarray  # (3,) unit floor normal (up) in camera coordinates
    offset: float  # the floor is {x : normal_cam · x = offset} (camera coordinates, metres)
    num_points: int  # resting sole points the final fit used (inliers)
    R_world_from_cam: np.ndarray  # (3, 3)
    cam_position_world: np.ndarray  # (3,) = (0, 0, camera height)
    num_contacts: int = 0  # separate resting runs those points come from
    spread_m: tuple = (0.0, 0.0)  # std of the points along the floor's two principal directions (major, minor)
    rms_m: float = 0.0  # residual of the inliers
    prior: str = "feet"  # what settled the directions the points do not span: "feet" (flat feet), "torso" or
    # "plane" (the points' own first plane: a body lying or crawling, whose torso is not up)
    prior_share: tuple = (0.0, 0.0)  # the prior's weight in the tilt along (major, minor), 0..1
    disagreement_deg: float = 0.0  # angle between the points' own plane and the flat feet's up (0 without flat feet)
    tilt_error_deg: float = 0.0  # standard error estimate of the floor's tilt
    confidence: str = "high"  # high | medium | low

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
                "roll_deg": round(self.roll_deg, 3), "num_points": int(self.num_points),
                "num_contacts": int(self.num_contacts), "spread_m": [round(float(v), 4) for v in self.spread_m],
                "rms_m": round(float(self.rms_m), 5), "prior": self.prior,
                "prior_share": [round(float(v), 3) for v in self.prior_share],
                "disagreement_deg": round(float(self.disagreement_deg), 3),
                "tilt_error_deg": round(float(self.tilt_error_deg), 3), "confidence": self.confidence}

    def evidence(self) -> str:
        """What the floor rests on, for people: "±2.3°; 111 resting sole points on 17 contacts, spread …"."""
        text = (f"±{self.tilt_error_deg:.1f}°; {self.num_points} resting sole points on {self.num_contacts} contacts, "
                f"spread {self.spread_m[0]:.2f} × {self.spread_m[1]:.2f} m")
        if self.disagreement_deg >= 1.0:
            text += f"; the flat feet stand {self.disagreement_deg:.1f}° off the plane of those points"
        return text


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two unit vectors, degrees."""
    return math.degrees(math.acos(float(np.clip(u @ v, -1.0, 1.0))))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _basis(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = _unit(np.cross(u, helper))
    return e1, np.cross(u, e1)


def resting(inp: FloorInput, config: FloorConfig) -> np.ndarray:
    """(T, 6) bool: sole points that stay put (speed of the 3-frame averaged path over ±2 frames below
    ``still_speed_mps``, for at least ``min_still_s``)."""
    speed = joint_speeds(moving_average(inp.soles, 3), inp.times_s, span=2)
    still = speed < config.still_speed_mps
    for k in range(still.shape[1]):
        still[:, k] = clean_runs(still[:, k], inp.times_s, config.min_still_s, 0.0)
    return still


@dataclass
class _Candidates:
    points: np.ndarray  # (K, 3)
    group: np.ndarray  # (K,) one id per (track, frame, foot): "lowest of its foot" is tested within a group
    run: np.ndarray  # (K,) one id per resting run (a contact)
    column: np.ndarray  # (K,) sole column 0..5
    leg: np.ndarray  # (K,) one id per (track, foot): a leg's footprints share one height offset
    foot_up: np.ndarray  # (K, 3) that foot's up axis at that frame
    reach: np.ndarray  # (K, 3) the point less its leg's hip joint (zeros without hips)
    torso_up: np.ndarray  # (3,) mean over every frame of every track
    pelvis: np.ndarray  # (M, 3) pelvis positions (a subsample of every track's frames; may be empty)
    torso_frames: np.ndarray  # (M', 3) the torso's up at a subsample of every track's frames


def _gather(inputs: list[FloorInput], config: FloorConfig) -> _Candidates:
    pts, group, run, col, leg, fup, reach = [], [], [], [], [], [], []
    gid = rid = 0
    ups, pelvis, torso_frames = [], [], []
    for track, inp in enumerate(inputs):
        step = max(1, inp.soles.shape[0] // 100)
        torso_frames.append(inp.torso_up[::step])
        if inp.pelvis is not None:
            pelvis.append(inp.pelvis[::step])
        T = inp.soles.shape[0]
        ups.append(inp.torso_up)
        still = resting(inp, config)
        run_id = np.full((T, 6), -1)
        for k in range(6):
            for a, b in runs(still[:, k]):
                run_id[a:b, k] = rid
                rid += 1
        t_idx, k_idx = np.nonzero(still)
        foot = np.array([0, 1, 0, 1, 0, 1])[k_idx]
        pts.append(inp.soles[t_idx, k_idx])
        group.append(gid + 2 * t_idx + foot)
        gid += 2 * T
        run.append(run_id[t_idx, k_idx])
        col.append(k_idx)
        leg.append(2 * track + foot)
        fup.append(inp.foot_up[t_idx, foot])
        reach.append(inp.soles[t_idx, k_idx] - inp.hips[t_idx, foot] if inp.hips is not None
                     else np.zeros((t_idx.size, 3)))
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape)  # noqa: E731
    torso = _unit(np.concatenate(ups).mean(axis=0)) if ups else SMPL_UP
    return _Candidates(cat(pts, (0, 3)), cat(group, (0,)).astype(np.int64), cat(run, (0,)).astype(np.int64),
                       cat(col, (0,)).astype(np.int64), cat(leg, (0,)).astype(np.int64), cat(fup, (0, 3)),
                       cat(reach, (0, 3)), torso,
                       cat(pelvis, (0, 3)), cat(torso_frames, (0, 3)))


def _reach_weights(c: _Candidates, n: np.ndarray, config: FloorConfig) -> np.ndarray:
    """(K,) how far each resting point's height can be trusted, 0..1: a leg's angle error (``leg_angle_error_deg``
    at the hip) moves a sole point up or down by its reach from the hip along the floor times that angle, so a
    point under its hip keeps weight 1 and one at the end of a leg stretched out in a lunge, a crouched landing
    or a boxer's stance counts less (weight = ``footprint_error_m``² over that plus the reach's error²)."""
    r = c.reach - np.outer(c.reach @ n, n)
    reach_err2 = math.tan(math.radians(config.leg_angle_error_deg)) ** 2 * np.sum(r * r, axis=1)
    return config.footprint_error_m ** 2 / (config.footprint_error_m ** 2 + reach_err2)


def _fit_plane(points, weights0, u, offset, prior, prior_weight, inlier_m):
    """Huber-IRLS ridge fit of z = αa + βb + δ in the basis of ``u`` (points above the plane beyond 3 inlier
    bands drop out, below beyond 6), the ridge pulling (α, β) towards the ``prior`` normal. -> (unit normal,
    offset, weights (K,), in-plane covariance (2, 2) of the weighted points). Starts from the plane
    {u · x = offset}."""
    e1, e2 = _basis(u)
    alpha_p, beta_p = -(prior @ e1) / (prior @ u), -(prior @ e2) / (prior @ u)  # the prior as a slope
    a, b, z = points @ e1, points @ e2, points @ u
    alpha = beta = 0.0
    delta = float(offset)
    w = weights0.copy()
    cov = np.zeros((2, 2))
    for _ in range(6):
        r = z - alpha * a - beta * b - delta
        absr = np.abs(r)
        w = weights0 * np.where(absr <= inlier_m, 1.0, inlier_m / np.maximum(absr, 1e-12))
        w = np.where((r > 3.0 * inlier_m) | (r < -6.0 * inlier_m), 0.0, w)
        sw = w.sum()
        if sw <= 0:
            break
        am, bm, zm = (w * a).sum() / sw, (w * b).sum() / sw, (w * z).sum() / sw
        da, db, dz = a - am, b - bm, z - zm
        cov = np.array([[(w * da * da).sum(), (w * da * db).sum()], [(w * da * db).sum(), (w * db * db).sum()]]) / sw
        ridge = prior_weight * sw  # prior_weight is a spread (m²): compare it with the points' variance
        A = cov * sw + ridge * np.eye(2)
        rhs = np.array([(w * da * dz).sum() + ridge * alpha_p, (w * db * dz).sum() + ridge * beta_p])
        alpha, beta = np.linalg.solve(A, rhs)
        delta = zm - alpha * am - beta * bm
    n = u - alpha * e1 - beta * e2
    norm = np.linalg.norm(n)
    return n / norm, float(delta / norm), w, cov


def _on_floor(c: _Candidates, n: np.ndarray, offset: float, config: FloorConfig) -> np.ndarray:
    """(K,) bool: near the plane and among the lowest points of their foot at their frame."""
    h = c.points @ n - offset
    lowest = np.full(int(c.group.max(initial=-1)) + 1, np.inf)
    np.minimum.at(lowest, c.group, h)
    return (h - lowest[c.group] < config.lowest_tol_m) & (np.abs(h) < 3.0 * config.inlier_m)


def _flat_feet_up(c: _Candidates, keep: np.ndarray, n: np.ndarray, offset: float, config: FloorConfig):
    """The feet's up at frames where their heel and ball both rest at the same height (a flat foot), outliers
    beyond 10° of the median dropped: (mean up (3,), each contact's mean up (M, 3)); None when fewer than
    ``min_contact_frames`` such frames."""
    h = c.points @ n - offset
    heel = keep & (c.column < 2)
    ball = keep & (c.column >= 2) & (c.column < 4)
    ball_h = dict(zip(c.group[ball].tolist(), h[ball].tolist()))
    flat = np.array([i for i in np.flatnonzero(heel)
                     if abs(ball_h.get(int(c.group[i]), np.inf) - h[i]) < config.lowest_tol_m], dtype=np.int64)
    if len(flat) < config.min_contact_frames:
        return None
    ups = c.foot_up[flat]
    med = _unit(np.median(ups, axis=0))
    good = ups @ med > math.cos(math.radians(10.0))
    if good.sum() < config.min_contact_frames:
        return None
    per_contact = _mean_by(np.unique(c.run[flat[good]], return_inverse=True)[1], ups[good])
    return _unit(ups[good].mean(axis=0)), per_contact / np.linalg.norm(per_contact, axis=1, keepdims=True)


def _ransac(c: _Candidates, prior: np.ndarray, config: FloorConfig, trials: int = 300):
    """The level the soles rest on most, preferring the lowest: planes through three resting points of
    different contacts (spanning at least ``min_span_m``, within ``search_from_body_deg`` of the torso's up —
    wide, as a body lying, crawling or getting up has its torso far from up) are scored by their points within
    2 ``inlier_m``, at most ``CONTACT_SCORE_POINTS`` from one contact (a person standing still on a box for
    seconds rests hundreds of points there on a few contacts, a walk on the floor a few on each of many: without
    the cap the box's top, or a plane tilted through both, outscored the floor); of the planes scoring at least
    half the best, the one with the fewest points below it wins (a floor is under a step, a bench, a climbing
    frame). A plane faces the side where the pelvis mostly is (the torso's side without pelvis positions).
    Seeded: the same input gives the same plane. -> (normal, offset) or None."""
    K = c.points.shape[0]
    if K < 3:
        return None
    rng = np.random.default_rng(0)
    idx = rng.integers(0, K, size=(trials, 3))
    p0, p1, p2 = c.points[idx[:, 0]], c.points[idx[:, 1]], c.points[idx[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    area2 = np.linalg.norm(n, axis=1)
    longest = np.max(np.stack([np.linalg.norm(p1 - p0, axis=1), np.linalg.norm(p2 - p1, axis=1),
                               np.linalg.norm(p0 - p2, axis=1)]), axis=0)
    ok = (area2 / np.maximum(longest, 1e-9) > config.min_span_m) & (c.run[idx[:, 0]] != c.run[idx[:, 1]]) & \
         (c.run[idx[:, 1]] != c.run[idx[:, 2]]) & (c.run[idx[:, 0]] != c.run[idx[:, 2]])
    n = n / np.maximum(area2, 1e-12)[:, None]
    if c.pelvis.shape[0]:  # the body lies above its floor, the pelvis joint at least a buttock's depth
        above = np.median(c.pelvis @ n.T - np.sum(n * p0, axis=1), axis=0)  # (trials,)
        n = np.where(above[:, None] < 0, -n, n)
        ok &= np.abs(above) > PELVIS_ABOVE_M
    else:
        n = np.where((n @ prior)[:, None] < 0, -n, n)
    ok &= n @ prior > math.cos(math.radians(config.search_from_body_deg))
    if not ok.any():
        return None
    n, p0 = n[ok], p0[ok]
    offset = np.sum(n * p0, axis=1)
    h = c.points @ n.T - offset  # (K, planes)
    band = 2.0 * config.inlier_m
    order = np.argsort(c.run, kind="stable")  # the points contact by contact
    starts = np.flatnonzero(np.r_[True, c.run[order][1:] != c.run[order][:-1]])
    near = np.add.reduceat((np.abs(h) < band)[order].astype(np.int64), starts, axis=0)  # (contacts, planes)
    score = np.minimum(near, CONTACT_SCORE_POINTS).sum(axis=0)
    below = (h < -2.0 * band).sum(axis=0)
    good = score >= 0.5 * score.max()
    best = np.flatnonzero(good)[np.lexsort((-score[good], below[good]))[0]]
    return n[best], float(offset[best])


def estimate_floor(inputs: list[FloorInput], config: FloorConfig = FloorConfig()) -> FloorFrame:
    """The floor under every track of a video (camera frame). Raises FloorNotFoundError."""
    if not inputs:
        raise FloorNotFoundError("the floor could not be estimated: there is no track")
    c = _gather(inputs, config)
    frames = np.unique(c.group).size
    if frames < config.min_contact_frames or c.points.shape[0] < 3:
        raise FloorNotFoundError(
            f"the floor could not be estimated: the feet rest on the ground in only {frames} frame(s) "
            f"(at least {config.min_contact_frames} needed; the person may never touch the ground)")
    prior, prior_kind = c.torso_up, "torso"
    feet_contacts = np.zeros((0, 3))
    found = _ransac(c, c.torso_up, config)
    if found is None:
        n, offset = prior, float(np.median(c.points @ prior))
    else:
        n, offset = found
        prior, prior_kind = n, "plane"  # the first fit leans on the plane itself, not on a torso that may lie
    plane = prior
    keep = np.abs(c.points @ n - offset) < 4.0 * config.inlier_m
    for it, band in enumerate((4.0, 2.0, 1.0, 1.0)):
        if it > 0:
            keep = _on_floor(c, n, offset, config)
            feet = _flat_feet_up(c, keep, n, offset, config)
            if feet is not None:
                (prior, feet_contacts), prior_kind = feet, "feet"
            elif _angle_deg(c.torso_up, n) <= config.max_tilt_from_body_deg:  # an upright body's lean is bounded
                prior, prior_kind = c.torso_up, "torso"
            else:
                prior, prior_kind = plane, "plane"
            if keep.sum() < 3:
                break
        w0 = keep * _reach_weights(c, n, config)
        n, offset, w, cov = _fit_plane(c.points, w0, n, offset, prior, config.prior_weight,
                                       band * config.inlier_m)
    data_n, inliers = n, w > 0.5 * w0  # the plane of the resting points alone (a light ridge), its points
    n, post_cov, data_prec, prior_prec = _combine(c, inliers, data_n, offset, prior, prior_kind, feet_contacts,
                                                  config)
    if inliers.any():  # turned about the resting points, not about the camera
        centre = c.points[inliers].mean(axis=0)
        offset = float(n @ centre - (data_n @ centre - offset))
    angle = _angle_deg(data_n, prior)
    upright = c.torso_frames @ n > math.cos(math.radians(UPRIGHT_DEG))
    if prior_kind != "feet" and not upright.any():
        raise FloorNotFoundError("the floor could not be estimated: no foot stands flat on it and the body never "
                                 "stands upright (crawling, lying, rolling)")
    if angle > config.max_tilt_from_body_deg:
        raise FloorNotFoundError(f"the floor could not be estimated: the plane under the feet is tilted {angle:.0f}° "
                                 f"from the {'feet' if prior_kind == 'feet' else 'body'}'s up (no consistent ground "
                                 "contact)")
    # the height: the median of every resting point near the plane (the fit kept each foot's lowest points,
    # which sit below the typical sole by the jitter; pins would pull every foot down by that)
    h = c.points @ n - offset
    near = np.abs(h) < 2.0 * config.inlier_m
    if near.sum() >= 3:
        offset += float(np.median(h[near]))
    R, cam = world_frame(n, offset)
    frame = FloorFrame(normal_cam=n, offset=offset, num_points=int(inliers.sum()), R_world_from_cam=R,
                       cam_position_world=cam, prior=prior_kind,
                       disagreement_deg=angle if prior_kind == "feet" else 0.0)
    _confidence(frame, c, inliers, cov, post_cov, data_prec, prior_prec, config)
    if prior_kind != "feet" and frame.tilt_error_deg > config.max_unsettled_error_deg:
        raise FloorNotFoundError(f"the floor could not be estimated: no foot stands flat on it, and where the soles "
                                 f"rest leaves its tilt unsure ({frame.evidence()}), as when crawling, kneeling or "
                                 "lying")
    return frame


def _mean_by(label: np.ndarray, values: np.ndarray, weight: Optional[np.ndarray] = None) -> np.ndarray:
    """Weighted mean of ``values`` (K,) or (K, D) per ``label`` (K,) ints 0..G-1 -> (G,) or (G, D)."""
    w = np.ones(label.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    total = np.bincount(label, weights=w)
    if values.ndim == 1:
        return np.bincount(label, weights=w * values) / total
    return np.stack([np.bincount(label, weights=w * values[:, k]) / total for k in range(values.shape[1])], axis=1)


def _footprints(c: _Candidates, inl: np.ndarray, n: np.ndarray, offset: float, config: FloorConfig):
    """The inlier resting points grouped by contact, and contacts whose centres lie within ``footprint_m`` into
    footprints (largest first): a foot resting on one spot again and again carries one height error (the
    recording's, the capture's), however many frames and contacts. -> (centres (F, 2) along the plane's basis,
    mean heights above the plane (F,), the leg (:attr:`_Candidates.leg`) each footprint is mostly of (F,))."""
    pts = c.points[inl]
    inv = np.unique(c.run[inl], return_inverse=True)[1]
    cnt = np.bincount(inv).astype(np.float64)
    centre = _mean_by(inv, pts @ np.stack(_basis(n), axis=1))
    height = _mean_by(inv, pts @ n - offset)
    run_leg = np.zeros(cnt.size, dtype=np.int64)
    run_leg[inv] = c.leg[inl]  # a contact is one sole column's run: one leg
    label = np.full(cnt.size, -1)
    seeds: list[np.ndarray] = []
    for i in np.argsort(-cnt, kind="stable"):
        near = [j for j, s in enumerate(seeds) if np.linalg.norm(centre[i] - s) < config.footprint_m]
        if near:
            label[i] = near[0]
        else:
            seeds.append(centre[i])
            label[i] = len(seeds) - 1
    share = np.zeros((len(seeds), int(run_leg.max(initial=0)) + 1))  # frames of each leg in each footprint
    np.add.at(share, (label, run_leg), cnt)
    return _mean_by(label, centre, cnt), _mean_by(label, height, cnt), np.argmax(share, axis=1)


def _slope_precision(centre: np.ndarray, leg: np.ndarray, var: float, leg_var: float) -> np.ndarray:
    """Precision (2, 2) of a plane's two slopes fitted to footprints at ``centre`` (F, 2), each with height
    error variance ``var``, their common height unknown, and the footprints of each ``leg`` (F,) sharing one
    height offset of variance ``leg_var`` (0: none). The offsets are unknowns with that prior, marginalised:
    the precision of the slopes is the Schur complement of the joint (slopes, height, offsets) system."""
    X = np.concatenate([centre, np.ones((centre.shape[0], 1))], axis=1)
    if leg_var > 0.0:
        X = np.concatenate([X, np.eye(int(leg.max()) + 1)[leg]], axis=1)
    M = X.T @ X / var
    if leg_var > 0.0:
        M[3:, 3:] += np.eye(M.shape[0] - 3) / leg_var
    rest = M[2:, 2:]
    return M[:2, :2] - M[:2, 2:] @ np.linalg.solve(rest, M[2:, :2])


def _combine(c: _Candidates, inl: np.ndarray, n: np.ndarray, offset: float, prior: np.ndarray, prior_kind: str,
             feet_contacts: np.ndarray, config: FloorConfig):
    """The tilt where the resting points and the prior (the flat feet's up, else the torso's or the first plane)
    meet, each weighted by how sure it is: the points by their footprints' spread over their height error
    (their scatter about the plane, at least ``footprint_error_m``; each leg's footprints sharing one offset of
    ``leg_offset_error_m``, :func:`_slope_precision`), the flat feet by their scatter over their
    contacts plus ``feet_prior_error_deg``. Slopes along the plane's basis (radians). -> (normal (3,), posterior
    covariance (2, 2), data precision (2, 2), prior precision (scalar))."""
    e1, e2 = _basis(n)
    data_prec = np.zeros((2, 2))
    if inl.sum() >= 3:
        centre, height, leg = _footprints(c, inl, n, offset, config)
        nf = centre.shape[0]
        var = max(float((height ** 2).sum()) / max(nf - 3, 1), config.footprint_error_m ** 2)
        data_prec = _slope_precision(centre, leg, var, config.leg_offset_error_m ** 2)
    slope = lambda u: np.array([-(u @ e1) / (u @ n), -(u @ e2) / (u @ n)])  # noqa: E731
    if prior_kind == "feet" and feet_contacts.shape[0] >= 1:
        slopes = np.stack([slope(u) for u in feet_contacts])
        m = len(slopes)
        scatter = float(((slopes - slopes.mean(axis=0)) ** 2).sum()) / max(2 * (m - 1), 1) if m > 1 else 0.0
        prior_var = scatter / m + math.radians(config.feet_prior_error_deg) ** 2
    else:
        prior_var = math.radians(config.torso_prior_error_deg) ** 2
    prior_prec = 1.0 / prior_var
    post_cov = np.linalg.inv(data_prec + prior_prec * np.eye(2))
    theta = post_cov @ (prior_prec * slope(prior))
    return _unit(n - theta[0] * e1 - theta[1] * e2), post_cov, data_prec, prior_prec


def _confidence(frame: FloorFrame, c: _Candidates, inl: np.ndarray, cov: np.ndarray, post_cov: np.ndarray,
                data_prec: np.ndarray, prior_prec: float, config: FloorConfig) -> None:
    """Fill in the spread, residual, prior share, tilt error and confidence of a fitted floor (cov: the inlier
    points' in-plane covariance; inl: (K,) the fit's inliers; post_cov, data_prec, prior_prec: :func:`_combine`'s)."""
    h = c.points @ frame.normal_cam - frame.offset
    frame.rms_m = float(np.sqrt(np.mean(h[inl] ** 2))) if inl.any() else 0.0
    frame.num_contacts = int(np.unique(c.run[inl]).size)
    var = np.sort(np.clip(np.linalg.eigvalsh(cov), 0.0, None))[::-1]  # (major, minor) variances
    frame.spread_m = tuple(float(v) for v in np.sqrt(var))
    prec = np.sort(np.clip(np.linalg.eigvalsh(data_prec), 0.0, None))[::-1]  # (major, minor) precisions
    frame.prior_share = tuple(float(prior_prec / (p + prior_prec)) for p in prec)
    model = math.degrees(math.sqrt(max(float(np.trace(post_cov)), 0.0)))
    # where the soles rest and how the flat feet stand are two measures of the tilt; the angle between them is
    # a floor under their errors (a capture whose feet disagree by centimetres between left and right, or
    # between heel and toe, gives a confident-looking plane that is degrees off): half of it joins the error
    frame.tilt_error_deg = float(math.hypot(model, 0.5 * frame.disagreement_deg))
    if frame.tilt_error_deg <= config.high_confidence_deg and frame.num_contacts >= 4:
        frame.confidence = "high"
    elif frame.tilt_error_deg <= config.low_confidence_deg:
        frame.confidence = "medium"
    else:
        frame.confidence = "low"
