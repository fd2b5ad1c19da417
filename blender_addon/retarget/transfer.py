"""Retargeting maths, numpy only: the source's posed limb segments -> the target's bone rotations.

World space throughout until :func:`solve_pose`; rotations act on column vectors (core/rotations.py).

- A *segment* of a slot runs from its bone's head to the next joint's head (upper arm -> forearm head, shin ->
  foot head, spine.k -> spine.k+1 …): what the mesh follows, whatever way the bone's tail or axes point.
- Each rig gets a *body frame* from its rest (left = thighs and upper arms right -> left, up = hips -> neck,
  forward = left × up) and every segment a *segment frame* F = (segment direction, a reference axis made
  perpendicular: forward, or up for feet and toes). The source's posed segment frame is its posed direction
  with the reference axis carried by the source bone's rotation since rest.
- The target bone's world rotation is then ``W_t = F_src(t) · F_tgt_rest⁻¹ · R_tgt_rest``: its segment points
  where the source's points, with the twist the source's has, starting from the target's *actual* rest (T- or
  A-pose, any roll). Chains of other lengths (spine, neck) are matched by the fraction of chain length.
- Hips: the pelvis frame (left, up) is copied the same way; head: the source's rotation since rest, turned
  by the body frames. Root: ``hips_t = hips_tgt_rest + ratio · (hips_src(t) − hips_src(0))`` horizontally
  (or fixed, in place) and ``ankle_tgt_rest + ratio · (hips_src(t) − ankle floor_src)`` vertically, ratio =
  target leg length / source leg length, so strides fit and feet stay on the target's floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core import rotations
from .bonemap import CHAINS


@dataclass
class Skeleton:
    """A rig's mapped slots in world space (rest). heads/tails: slot -> (3,), rot: slot -> (3, 3)."""

    heads: dict
    tails: dict
    rot: dict

    def has(self, slot: str) -> bool:
        return slot in self.heads


@dataclass
class Motion:
    """The source posed: slot -> heads (T, 3) and world rotations (T, 3, 3)."""

    heads: dict
    rot: dict
    meta: dict = field(default_factory=dict)


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def frame(primary, secondary) -> np.ndarray:
    """Orthonormal frame (..., 3, 3), columns (p, s⊥, p × s⊥). primary, secondary: (..., 3)."""
    p = _unit(primary)
    s = np.asarray(secondary, dtype=np.float64)
    s = _unit(s - np.sum(s * p, axis=-1, keepdims=True) * p)
    return np.stack([p, s, np.cross(p, s)], axis=-1)


def chain_slots(sk_bones, name: str) -> list[str]:
    return sorted((s for s in sk_bones if s.split(".")[0] == name), key=lambda s: int(s.split(".")[1]))


def body_frame(sk: Skeleton) -> np.ndarray:
    """(3, 3) columns (left, up, forward) of the rig at rest."""
    left = np.zeros(3)
    for part in ("thigh", "upper_arm"):
        if sk.has(f"{part}.L") and sk.has(f"{part}.R"):
            left += _unit(sk.heads[f"{part}.L"] - sk.heads[f"{part}.R"])
    top = next((sk.heads[s] for s in (*chain_slots(sk.heads, "neck"), "head") if s in sk.heads))
    up = top - sk.heads["hips"]
    F = frame(left, up)  # (left, up⊥, left × up = forward)
    return F


def segment_end(sk: Skeleton, slot: str) -> np.ndarray:
    """Rest head of the next joint after ``slot`` (or the bone's tail at a chain end)."""
    part, _, side = slot.partition(".")
    nxt = {"shoulder": "upper_arm", "upper_arm": "forearm", "forearm": "hand", "thigh": "shin", "shin": "foot",
           "foot": "toe"}.get(part)
    if nxt and sk.has(f"{nxt}.{side}"):
        return sk.heads[f"{nxt}.{side}"]
    return sk.tails[slot]


def _reference(part: str, body: np.ndarray) -> np.ndarray:
    return body[:, 1] if part in ("foot", "toe") else body[:, 2]


def _torso_chains(src: Skeleton, tgt: Skeleton) -> list[tuple[list, list, str]]:
    """[(source slots, target slots, end)] for the spine and neck, matched separately when both rigs have
    a neck chain, as one torso chain otherwise. The chain's last segment ends at the next chain or head."""
    s_sp, s_nk = chain_slots(src.heads, "spine"), chain_slots(src.heads, "neck")
    t_sp, t_nk = chain_slots(tgt.heads, "spine"), chain_slots(tgt.heads, "neck")
    if s_nk and t_nk:
        out = []
        if s_sp and t_sp:
            out.append((s_sp, t_sp, "neck"))
        out.append((s_nk, t_nk, "head"))
        return out
    s_all, t_all = s_sp + s_nk, t_sp + t_nk
    return [(s_all, t_all, "head")] if s_all and t_all else []


def _polyline(heads_of, slots, end_point):
    pts = [heads_of(s) for s in slots] + [end_point]
    return np.stack(pts, axis=-2)  # (..., n+1, 3)


def _fractions(points: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=-2), axis=-1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return cum / max(cum[-1], 1e-12)


def _at_fraction(points: np.ndarray, fr: np.ndarray, u: float) -> np.ndarray:
    i = int(np.clip(np.searchsorted(fr, u, side="right") - 1, 0, len(fr) - 2))
    w = (u - fr[i]) / max(fr[i + 1] - fr[i], 1e-12)
    return points[..., i, :] + w * (points[..., i + 1, :] - points[..., i, :]), i


def leg_length(sk: Skeleton) -> float:
    lengths = []
    for s in "LR":
        if all(sk.has(f"{p}.{s}") for p in ("thigh", "shin", "foot")):
            lengths.append(np.linalg.norm(sk.heads[f"shin.{s}"] - sk.heads[f"thigh.{s}"])
                           + np.linalg.norm(sk.heads[f"foot.{s}"] - sk.heads[f"shin.{s}"]))
    return float(np.mean(lengths)) if lengths else 1.0


def target_world(src: Skeleton, motion: Motion, tgt: Skeleton, root_motion: bool = True) -> tuple[dict, np.ndarray, float]:
    """World rotations the target's mapped bones should have, and where its hips head goes.

    Returns ({target slot: (T, 3, 3)}, hips head (T, 3), leg ratio)."""
    B_s, B_t = body_frame(src), body_frame(tgt)
    out = {}

    def delta(slot):  # source bone rotation since rest, (T, 3, 3)
        return motion.rot[slot] @ src.rot[slot].T

    # hips: pelvis frame (left, up)
    out["hips"] = delta("hips") @ B_s @ B_t.T @ tgt.rot["hips"]
    if src.has("head") and tgt.has("head"):
        out["head"] = delta("head") @ B_s @ B_t.T @ tgt.rot["head"]
    # limbs: the same slot's segment
    for side in "LR":
        for part in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe"):
            slot = f"{part}.{side}"
            if not (src.has(slot) and tgt.has(slot)):
                continue
            ref_s, ref_t = _reference(part, B_s), _reference(part, B_t)
            nxt = {"shoulder": "upper_arm", "upper_arm": "forearm", "forearm": "hand", "thigh": "shin",
                   "shin": "foot", "foot": "toe"}.get(part)
            has_next = nxt and src.has(f"{nxt}.{side}") and tgt.has(f"{nxt}.{side}")
            D = delta(slot)
            if has_next:
                d_t = motion.heads[f"{nxt}.{side}"] - motion.heads[slot]
                d_rest_t = tgt.heads[f"{nxt}.{side}"] - tgt.heads[slot]
            else:  # a limb end: the bone's own direction (head -> tail) on both sides
                d_t = D @ (src.tails[slot] - src.heads[slot])
                d_rest_t = tgt.tails[slot] - tgt.heads[slot]
            F_src = frame(d_t, D @ ref_s)
            F_tgt = frame(d_rest_t, ref_t)
            out[slot] = F_src @ F_tgt.T @ tgt.rot[slot]
    # spine / neck chains by fraction of length
    for s_slots, t_slots, end in _torso_chains(src, tgt):
        s_end_slot = _first(src, end)
        t_end_slot = _first(tgt, end)
        if s_end_slot is None or t_end_slot is None:
            continue
        P_rest = _polyline(lambda s: src.heads[s], s_slots, src.heads[s_end_slot])
        P_pose = _polyline(lambda s: motion.heads[s], s_slots, motion.heads[s_end_slot])
        Q_rest = _polyline(lambda s: tgt.heads[s], t_slots, tgt.heads[t_end_slot])
        fs, ft = _fractions(P_rest), _fractions(Q_rest)
        ref_s, ref_t = B_s[:, 2], B_t[:, 2]
        for k, slot in enumerate(t_slots):
            a, b = ft[k], ft[k + 1]
            pa, _ = _at_fraction(P_pose, fs, a)
            pb, _ = _at_fraction(P_pose, fs, b)
            _, i_mid = _at_fraction(P_rest, fs, 0.5 * (a + b))
            D = delta(s_slots[i_mid])
            F_src = frame(pb - pa, D @ ref_s)
            F_tgt = frame(Q_rest[k + 1] - Q_rest[k], ref_t)
            out[slot] = F_src @ F_tgt.T @ tgt.rot[slot]
    # root
    ratio = leg_length(tgt) / max(leg_length(src), 1e-9)
    hips_src = motion.heads["hips"]
    ankles = np.stack([motion.heads[f"foot.{s}"][:, 2] for s in "LR" if f"foot.{s}" in motion.heads], -1)
    floor_src = float(np.percentile(ankles.min(axis=-1), 5))
    ankle_tgt = float(np.mean([tgt.heads[f"foot.{s}"][2] for s in "LR" if tgt.has(f"foot.{s}")]))
    hips = np.empty_like(hips_src)
    if root_motion:
        hips[:, :2] = tgt.heads["hips"][:2] + ratio * (hips_src[:, :2] - hips_src[:1, :2])
    else:
        hips[:, :2] = tgt.heads["hips"][:2]
    hips[:, 2] = ankle_tgt + ratio * (hips_src[:, 2] - floor_src)
    return out, hips, ratio


def _first(sk: Skeleton, chain_or_slot: str):
    if chain_or_slot in CHAINS:
        slots = chain_slots(sk.heads, chain_or_slot)
        if slots:
            return slots[0]
        chain_or_slot = "head"
    return chain_or_slot if sk.has(chain_or_slot) else None


# ---------------------------------------------------------------------------------------- armature space
@dataclass
class TargetRig:
    """The target armature: bones in an order with parents first.

    parents: (N,) int, -1 for roots; rest_local: (N, 4, 4) ``bone.matrix_local``; basis: (N, 4, 4) the
    current ``matrix_basis`` (kept for bones not keyed); object_world: (4, 4)."""

    names: list
    parents: np.ndarray
    rest_local: np.ndarray
    basis: np.ndarray
    object_world: np.ndarray


def _rot_scale(M):
    """Rotation and uniform scale of (..., 3, 3)."""
    s = np.cbrt(np.abs(np.linalg.det(M)))[..., None, None]
    return rotations.project_to_rotmat(M / np.maximum(s, 1e-12)), s[..., 0, 0]


def solve_pose(rig: TargetRig, follow_world: dict, keys: dict, hips_follow: str, hips_world: np.ndarray,
               root: str, probe: tuple = ()) -> tuple[dict, np.ndarray, dict]:
    """Pose-bone values (plain parenting, no constraints) giving the followed bones their world rotations.

    follow_world: {bone: (T, 3, 3)} world rotation wanted for a mapped bone; keys: {mapped bone: key bone}
    (the key bone moves rigidly with the mapped one, e.g. a Rigify FK control and its DEF bone);
    hips_world: (T, 3) wanted world position of ``hips_follow``'s head, reached by translating ``root``.
    Returns ({key bone: basis rotation (T, 3, 3)}, root basis location (T, 3), {probe bone: world head
    (T, 3)} for the bones in ``probe`` below the root).
    """
    index = {n: i for i, n in enumerate(rig.names)}
    O_rot, O_s = _rot_scale(rig.object_world[:3, :3])
    O_inv = np.linalg.inv(rig.object_world)
    L = rig.rest_local
    T = hips_world.shape[0]
    N = len(rig.names)
    key_rot = {}  # key bone index -> armature-space rotation wanted (T, 3, 3)
    for bone, W in follow_world.items():
        key = keys.get(bone, bone)
        f, k = index[bone], index[key]
        key_rot[k] = O_rot.T @ W @ L[f, :3, :3].T @ L[k, :3, :3]
    P = np.empty((T, N, 4, 4))
    basis_rot = {}
    for j in range(N):
        p = rig.parents[j]
        X = (P[:, p] @ np.linalg.inv(L[p]) @ L[j]) if p >= 0 else np.broadcast_to(L[j], (T, 4, 4)).copy()
        if j in key_rot:
            Xr, _ = _rot_scale(X[:, :3, :3])
            Rb = np.swapaxes(Xr, -1, -2) @ key_rot[j]
            Bm = np.tile(np.eye(4), (T, 1, 1))
            Bm[:, :3, :3] = Rb
            basis_rot[rig.names[j]] = Rb
            P[:, j] = X @ Bm
        else:
            P[:, j] = X @ rig.basis[j]
    f = index[hips_follow]
    k = index[keys.get(hips_follow, hips_follow)]
    follow_pose = P[:, k] @ np.linalg.inv(L[k]) @ L[f]  # the followed bone rides on its key bone
    h0 = follow_pose[:, :3, 3]
    want = hips_world @ O_inv[:3, :3].T + O_inv[:3, 3]
    r = index[root]
    pr = rig.parents[r]
    Xr = (P[:, pr] @ np.linalg.inv(L[pr]) @ L[r]) if pr >= 0 else np.broadcast_to(L[r], (T, 4, 4))
    X3 = Xr[:, :3, :3]  # basis location is applied before the bone's rotation: head = X_loc + X3 · loc
    old = np.zeros(3) if r in key_rot else rig.basis[r][:3, 3]
    loc = np.linalg.solve(X3, (want - h0)[..., None])[..., 0] + old
    heads = {}
    for bone in probe:
        b, kb = index[bone], index[keys.get(bone, bone)]
        head = (P[:, kb] @ np.linalg.inv(L[kb]) @ L[b])[:, :3, 3] + (want - h0)
        heads[bone] = head @ rig.object_world[:3, :3].T + rig.object_world[:3, 3]
    return basis_rot, loc, heads


def floor_offset(ankles_world: list, ankle_rest_z: float) -> float:
    """Vertical shift that puts the lower foot's ankle, in its lowest 5 % of frames, at the rig's rest
    ankle height (the feet on the target's floor whatever its leg proportions). ankles_world: [(T, 3)]."""
    low = np.min(np.stack([a[:, 2] for a in ankles_world], -1), axis=-1)
    return float(ankle_rest_z - np.percentile(low, 5))
