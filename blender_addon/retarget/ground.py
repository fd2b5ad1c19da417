"""Where the target's root goes, and its feet on the floor. numpy only.

- :func:`root_path`: the hips' head over time. ``path``: the target's rest position plus the source's travel
  scaled by the leg-length ratio (strides fit the legs); ``in_place``: no horizontal travel; ``overlay``: the
  source's own position, unscaled, on the source's floor (the character stands where the captured person
  stands, for renders over the footage). Vertically the hips follow the source's hip height above its floor,
  scaled by the leg ratio.
- :func:`planted`: the source's foot contacts: a foot whose lowest point (ankle, toe) is near the source's
  floor and barely moves.
- :func:`floor_offsets`: the vertical shift of the root per frame that puts the target's soles (the lowest
  point of its skinned mesh under each foot, see :class:`Soles`) on its floor on the source's contact frames,
  linear in between, never a foot in the air below the floor; :class:`Footing` then lifts a planted foot
  still below the floor with its own leg (two planted feet of a source with unequal legs both touch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROOT_MODES = ("path", "in_place", "overlay")
CONTACT_HEIGHT = 0.025  # metres above the source's floor, for a 0.9 m leg (scaled by the source's leg)
CONTACT_SPEED = 1.0  # metres per second, same scaling
CONTACT_SLACK = 0.01  # metres: a planted foot this close to the floor is on it
FOOT_FLOOR_SPREAD = 0.03  # metres: how much higher one foot's lowest level may be than the other's


def leg_length(sk) -> float:
    lengths = []
    for s in "LR":
        if all(sk.has(f"{p}.{s}") for p in ("thigh", "shin", "foot")):
            lengths.append(np.linalg.norm(sk.heads[f"shin.{s}"] - sk.heads[f"thigh.{s}"])
                           + np.linalg.norm(sk.heads[f"foot.{s}"] - sk.heads[f"shin.{s}"]))
    return float(np.mean(lengths)) if lengths else 1.0


@dataclass
class Soles:
    """Points under the feet, skinned like the mesh: per side ``points`` (K, 3) armature rest space,
    ``bones`` (K, M) bone indices (TargetRig order) and ``weights`` (K, M) (rows sum to 1); ``floor``: the
    lowest of them at rest, world z."""

    points: dict
    bones: dict
    weights: dict
    floor: float

    def lowest(self, P: np.ndarray, L_inv: np.ndarray, object_world: np.ndarray) -> np.ndarray:
        """(T, 2) world height of the lowest sole point of each foot (L, R) under pose matrices P (T, N, 4, 4).
        L_inv: (N, 4, 4) inverse rest matrices."""
        out = []
        zrow = object_world[2]
        for side in "LR":
            pts, bones, w = self.points[side], self.bones[side], self.weights[side]
            z = np.zeros((P.shape[0], len(pts)))
            for b in np.unique(bones):  # each bone moves all points; each point takes its weight of it
                wb = np.where(bones == b, w, 0.0).sum(axis=1)  # (K,)
                used = wb > 0
                M = zrow @ (P[:, b] @ L_inv[b])  # (T, 4): the world height row of the bone's skinning matrix
                z[:, used] += (M[:, :3] @ pts[used].T + M[:, 3:]) * wb[used]
            out.append(z.min(axis=1))
        return np.stack(out, axis=-1)


def root_path(src, motion, tgt, mode: str, target_floor: float, source_floor: float):
    """(hips head (T, 3) world, leg ratio, the floor height (world z) the target's soles go to).

    target_floor: the target's lowest sole point at rest; source_floor: the source's floor (its soles)."""
    if mode not in ROOT_MODES:
        raise ValueError(f"root mode {mode!r} is not one of {ROOT_MODES}")
    ratio = leg_length(tgt) / max(leg_length(src), 1e-9)
    hips_src = motion.heads["hips"]
    ankles_src = np.stack([motion.heads[f"foot.{s}"][:, 2] for s in "LR" if f"foot.{s}" in motion.heads], -1)
    standing = float(np.percentile(ankles_src.min(axis=-1), 5))  # the source's ankles when standing
    ankle_tgt = float(np.mean([tgt.heads[f"foot.{s}"][2] for s in "LR" if tgt.has(f"foot.{s}")]))
    hips = np.empty_like(hips_src)
    if mode == "path":
        hips[:, :2] = tgt.heads["hips"][:2] + ratio * (hips_src[:, :2] - hips_src[:1, :2])
    elif mode == "in_place":
        hips[:, :2] = tgt.heads["hips"][:2]
    else:
        hips[:, :2] = hips_src[:, :2]
    floor = source_floor if mode == "overlay" else target_floor
    hips[:, 2] = floor + (ankle_tgt - target_floor) + ratio * (hips_src[:, 2] - standing)
    return hips, ratio, floor


def planted(points: np.ndarray, fps: float, leg: float) -> tuple[np.ndarray, np.ndarray]:
    """The source's feet on the floor: ((T, 2) bool, (T, 2) height of each foot's lowest point above the
    source's floor, its first CONTACT_SLACK counted as the floor (a capture's planted feet jitter)).
    points: (T, 2, K, 3) world points of each foot (ankle, toe …); leg: the source's leg length (thresholds
    scale with it)."""
    scale = leg / 0.9
    low = points[..., 2].min(axis=-1)  # (T, 2)
    common = np.percentile(low, 2)  # each foot's own floor, within FOOT_FLOOR_SPREAD of the common one (a
    own = np.minimum(np.percentile(low, 2, axis=0), common + FOOT_FLOOR_SPREAD * scale)  # skeleton's unequal feet)
    height = low - own
    centre = points.mean(axis=2)
    speed = np.zeros(low.shape)
    if len(points) > 2:
        speed[1:-1] = np.linalg.norm(centre[2:, :, :2] - centre[:-2, :, :2], axis=-1) * fps / 2
        speed[0], speed[-1] = speed[1], speed[-2]
    return (height < CONTACT_HEIGHT * scale) & (speed < CONTACT_SPEED * scale), \
        (height - CONTACT_SLACK * scale).clip(0.0, None)


def floor_offsets(sole_z: np.ndarray, contacts: np.ndarray, floor: float, tolerance: float = 0.0,
                  heights: np.ndarray | None = None) -> np.ndarray:
    """(T,) vertical shift of the root. On contact frames the most firmly planted sole (the lowest in the
    source) at its height above ``floor`` (``heights`` (T, 2): the source's foot heights above its floor,
    scaled; 0 by default), as long as every planted sole stays between ``tolerance`` below the floor and half
    of it above its own height, and a foot in the air no more than ``tolerance`` below the floor (if
    no shift does all that, the upper limits hold and the leg of a foot still too low lifts it, see
    :class:`Footing`); linear in between (held at the ends); on frames with no foot planted never a sole below
    the floor. sole_z: (T, 2); contacts: (T, 2) bool."""
    below = floor - sole_z  # how far each foot must rise to touch the floor
    h = np.zeros_like(below) if heights is None else heights
    on = contacts.any(axis=1)
    if not on.any():  # never planted (a jump, a swim): the lowest feet of the clip on the floor
        return np.full(len(below), float(np.percentile(below.max(axis=1), 95)))
    firm = np.argmin(np.where(contacts, h, np.inf), axis=1)
    rows = np.arange(len(below))
    wanted = below[rows, firm] + h[rows, firm]
    lo = below.max(axis=1) - tolerance  # no foot, planted or swinging, too low
    hi = np.where(contacts, below + h, np.inf).min(axis=1) + 0.5 * tolerance  # no planted foot too high
    shift_on = np.where(lo <= hi, np.clip(wanted, lo, hi), 0.5 * (lo + hi))
    t = np.arange(len(below))
    shift = np.interp(t, t[on], shift_on[on])
    return np.where(on, shift, np.maximum(shift, below.max(axis=1)))


FADE_FRAMES = 4
TOLERANCE = 0.01  # metres: planted soles within this of the floor are left alone (a lift bends a straight knee a lot)


class Footing:
    """Feet on the floor, refined from measured poses: each :meth:`update` (given the pose just solved or
    evaluated) returns how far to move the root up and the new world rotations of the thighs and shins that
    bring a foot still more than the tolerance below the floor up, or a planted one too far above it down (its
    knee bends or opens a little; the foot keeps its orientation).

    soles: :class:`Soles`; contacts: (T, 2) the source's planted feet; heights: (T, 2) how high above the floor
    each planted sole goes (the source's, scaled: a foot landing is not yet flat); floor: world z; legs: {side:
    (thigh, shin, foot) bone names}; follow: {bone: (T, 3, 3)} the world rotations wanted (thighs and shins
    updated in place)."""

    def __init__(self, soles: Soles, contacts, heights, floor: float, legs: dict, follow: dict, rig):
        self.soles, self.contacts, self.heights, self.floor = soles, contacts, heights, floor
        self.legs, self.follow = legs, follow
        self.index = {n: i for i, n in enumerate(rig.names)}
        self.L_inv = np.linalg.inv(rig.rest_local)
        self.object_world = rig.object_world

    def update(self, P: np.ndarray) -> np.ndarray:
        """P: (T, N, 4, 4) armature-space pose matrices (TargetRig order). Returns the root's shift (T,)."""
        sole_z = self.soles.lowest(P, self.L_inv, self.object_world)
        shift = floor_offsets(sole_z, self.contacts, self.floor, TOLERANCE, self.heights)
        z = sole_z + shift[:, None] - self.floor
        lift = (-TOLERANCE - z).clip(0.0, None)  # still too low: its leg lifts it
        lift = np.where(self.contacts, lift, _fade(lift, FADE_FRAMES))  # eased in and out in the air only
        top = np.where(self.contacts, self.heights, np.inf) + 0.5 * TOLERANCE
        lift -= (z - top).clip(0.0, None)  # planted and too high: its leg reaches down (as far as its knee opens)
        O = self.object_world
        for k, side in enumerate("LR"):
            if side not in self.legs or not lift[:, k].any():
                continue
            thigh, shin, foot = self.legs[side]
            pos = [P[:, self.index[b], :3, 3] @ O[:3, :3].T + O[:3, 3] for b in (thigh, shin, foot)]
            S1, S2 = lift_leg(*pos, lift[:, k])  # the lift beyond the root's shift, which moves hip and ankle alike
            self.follow[thigh] = S1 @ self.follow[thigh]
            self.follow[shin] = S2 @ self.follow[shin]
        return shift


def _fade(lift: np.ndarray, frames: int) -> np.ndarray:
    """Each lift eased in and out over ``frames`` frames around the frames it applies to. lift: (T, 2)."""
    out = lift.copy()
    for k in range(1, frames + 1):
        w = 1.0 - k / (frames + 1)
        out[k:] = np.maximum(out[k:], w * lift[:-k])
        out[:-k] = np.maximum(out[:-k], w * lift[k:])
    return out


def lift_leg(hip, knee, ankle, lift):
    """World rotations (T, 3, 3) to apply to the thigh and the shin so that the ankle rises by ``lift`` (T,;
    negative: goes down, no further than the straight leg) while the hip stays (the knee bends in its own
    plane; lengths kept). hip, knee, ankle: (T, 3)."""
    from ...core import rotations

    l1 = np.linalg.norm(knee - hip, axis=-1)
    l2 = np.linalg.norm(ankle - knee, axis=-1)
    target = ankle.copy()
    target[:, 2] += lift
    d_vec = target - hip
    d = np.clip(np.linalg.norm(d_vec, axis=-1), np.abs(l1 - l2) + 1e-6, 0.9999 * (l1 + l2))
    u = d_vec / np.maximum(np.linalg.norm(d_vec, axis=-1, keepdims=True), 1e-12)
    bend = (knee - hip) - np.sum((knee - hip) * u, -1, keepdims=True) * u
    fallback = np.cross(u, [1.0, 0.0, 0.0])
    bend = np.where(np.linalg.norm(bend, axis=-1, keepdims=True) > 1e-6, bend, fallback)
    v = bend / np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-12)
    cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / (2 * l1 * d), -1.0, 1.0)
    new_knee = hip + l1[:, None] * (cos_a[:, None] * u + np.sqrt(1 - cos_a ** 2)[:, None] * v)
    new_ankle = hip + d[:, None] * u
    S1 = rotations.rotmat_from_vectors(knee - hip, new_knee - hip)
    S2 = rotations.rotmat_from_vectors(ankle - knee, new_ankle - new_knee)
    return S1, S2


def foot_points(sk, motion=None) -> np.ndarray:
    """(T, 2, 3, 3) world points of each foot (L, R): the ankle, the toe's head and its end (or the foot's end
    twice without a toe), posed by ``motion`` (T frames) or at rest (T = 1)."""
    out = []
    for side in "LR":
        foot, toe = f"foot.{side}", f"toe.{side}"
        bone = toe if sk.has(toe) else foot
        rest = np.stack([sk.heads[foot], sk.heads[bone], sk.end(bone)])  # (3, 3)
        if motion is None:
            out.append(rest[None])
            continue
        D = motion.rot[bone] @ sk.rot[bone].T
        end = motion.heads[bone] + D @ (rest[2] - rest[1])
        out.append(np.stack([motion.heads[foot], motion.heads[bone], end], axis=1))
    return np.stack(out, axis=1)
