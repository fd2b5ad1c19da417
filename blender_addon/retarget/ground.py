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
CONTACT_HEIGHT = 0.04  # metres above the source's floor, for a 0.9 m leg (scaled by the source's leg)
CONTACT_SPEED = 1.0  # metres per second, same scaling


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
        for side in "LR":
            pts, bones, w = self.points[side], self.bones[side], self.weights[side]
            skin = P[:, bones] @ L_inv[bones]  # (T, K, M, 4, 4)
            moved = np.einsum("tkmij,kj->tkmi", skin[..., :3, :], np.c_[pts, np.ones(len(pts))])
            posed = np.einsum("tkmi,km->tki", moved, w)  # (T, K, 3) armature space
            z = posed @ object_world[2, :3] + object_world[2, 3]
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


def planted(points: np.ndarray, fps: float, leg: float) -> np.ndarray:
    """(T, 2) bool: the source's feet on the floor. points: (T, 2, K, 3) world points of each foot (ankle,
    toe …); leg: the source's leg length (thresholds scale with it)."""
    scale = leg / 0.9
    low = points[..., 2].min(axis=-1)  # (T, 2)
    floor = np.percentile(low, 2)
    centre = points.mean(axis=2)
    speed = np.zeros(low.shape)
    if len(points) > 2:
        speed[1:-1] = np.linalg.norm(centre[2:, :, :2] - centre[:-2, :, :2], axis=-1) * fps / 2
        speed[0], speed[-1] = speed[1], speed[-2]
    return (low - floor < CONTACT_HEIGHT * scale) & (speed < CONTACT_SPEED * scale)


def floor_offsets(sole_z: np.ndarray, contacts: np.ndarray, floor: float, tolerance: float = 0.0) -> np.ndarray:
    """(T,) vertical shift of the root: on contact frames the planted soles centred on ``floor`` (the higher no
    more than ``tolerance`` above it; a lower one is then lifted by its leg, see :class:`Footing`), linear in
    between (held at the ends); on frames with no foot planted never a sole below the floor (with one planted,
    the other leg lifts its foot instead). sole_z: (T, 2); contacts: (T, 2) bool."""
    need = floor - sole_z  # how far each foot must rise to touch
    on = contacts.any(axis=1)
    if not on.any():  # never planted (a jump, a swim): the lowest feet of the clip on the floor
        return np.full(len(need), float(np.percentile(need.max(axis=1), 95)))
    low = np.where(on, np.where(contacts, need, np.inf).min(axis=1), 0.0)  # the higher planted foot
    high = np.where(on, np.where(contacts, need, -np.inf).max(axis=1), 0.0)
    at_contact = np.minimum(0.5 * (low + high), low + tolerance)
    t = np.arange(len(need))
    shift = np.interp(t, t[on], at_contact[on])
    return np.where(on, shift, np.maximum(shift, need.max(axis=1)))


FADE_FRAMES = 4
TOLERANCE = 0.01  # metres: planted soles within this of the floor are left alone (a lift bends a straight knee a lot)


class Footing:
    """Feet on the floor, refined from measured poses: each :meth:`update` (given the pose just solved or
    evaluated) returns how far to move the root up and the new world rotations of the thighs and shins that
    lift a foot still below the floor (its knee bends a little; the foot keeps its orientation): a planted foot
    to within the tolerance, a foot in the air to the floor.

    soles: :class:`Soles`; contacts: (T, 2) the source's planted feet; floor: world z; legs: {side: (thigh,
    shin, foot) bone names}; follow: {bone: (T, 3, 3)} the world rotations wanted (thighs and shins updated
    in place)."""

    def __init__(self, soles: Soles, contacts, floor: float, legs: dict, follow: dict, rig):
        self.soles, self.contacts, self.floor, self.legs, self.follow = soles, contacts, floor, legs, follow
        self.index = {n: i for i, n in enumerate(rig.names)}
        self.L_inv = np.linalg.inv(rig.rest_local)
        self.object_world = rig.object_world

    def update(self, P: np.ndarray) -> np.ndarray:
        """P: (T, N, 4, 4) armature-space pose matrices (TargetRig order). Returns the root's shift (T,)."""
        sole_z = self.soles.lowest(P, self.L_inv, self.object_world)
        shift = floor_offsets(sole_z, self.contacts, self.floor, TOLERANCE)
        below = self.floor - (sole_z + shift[:, None])  # > 0: under the floor after the shift
        lift = np.where(self.contacts, below - TOLERANCE, below).clip(0.0, None)
        lift = _fade(lift, FADE_FRAMES)
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
    """World rotations (T, 3, 3) to apply to the thigh and the shin so that the ankle rises by ``lift`` (T,)
    while the hip stays (the knee bends in its own plane; lengths kept). hip, knee, ankle: (T, 3)."""
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
