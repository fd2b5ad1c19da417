"""Retargeting maths, numpy only: the source's posed limb segments -> the target's bone rotations.

World space throughout until :func:`solve_pose`; rotations act on column vectors (core/rotations.py).

- A *segment* of a slot runs from its bone's head to the next joint's head (upper arm -> forearm head, shin ->
  foot head, spine.k -> spine.k+1 …): what the mesh follows, whatever way the bone's tail or axes point. A
  hand's segment ends at the base of its fingers (or the centroid of its hand mesh), never at a tail an
  importer pointed along some local axis (``Skeleton.ends``).
- Each rig gets a *body frame* from its rest (left = thighs and upper arms right -> left, up = hips -> neck,
  forward = left × up) and every segment a *segment frame* F = (segment direction, a reference axis made
  perpendicular: forward, or up for feet). The source's posed segment frame is its posed direction with the
  reference axis carried by the source bone's rotation since rest.
- The target bone's world rotation is then ``W_t = F_src(t) · F_tgt_rest⁻¹ · R_tgt_rest``: its segment points
  where the source's points, with the twist the source's has, starting from the target's *actual* rest (T- or
  A-pose, any roll). Chains of other lengths (spine, neck) are matched by the fraction of chain length.
- Hips: the pelvis frame (left, up) is copied the same way; head: the source's rotation since rest, turned
  by the body frames.
- Toes keep their own rest bend: a toe turns with its foot plus the source toe's change relative to the source
  foot (never the source's toe direction: SMPL's toe continues the ankle -> ball line).
- Fingers turn with their hand plus a rotation relative to the hand: the source's finger bones' (carried
  between the two rigs' hand frames), captured hand poses (``Motion.fingers``, hand-frame coordinates, see
  hands.py), or a relaxed curl.
- :func:`solve_pose` turns world rotations into pose-bone values for plain parenting; a mapped bone hanging
  under a separate control root (``FootControl.L -> Foot.L``) is pinned to the end of its limb by moving that
  root. Where the root goes (path, floor) is ground.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core import rotations
from .bonemap import CHAINS


@dataclass
class Skeleton:
    """A rig's mapped slots in world space (rest). heads/tails: slot -> (3,), rot: slot -> (3, 3);
    ends: slot -> (3,) where a limb end's segment ends (hands: the finger bases or the hand mesh's centroid;
    default: the tail); end_slots: slot -> [slots] whose heads' mean is that end (a hand's finger bases: posed,
    they move with the palm bones too); hand_frames: side -> (3, 3) (hands.hand_frame)."""

    heads: dict
    tails: dict
    rot: dict
    ends: dict = field(default_factory=dict)
    end_slots: dict = field(default_factory=dict)
    hand_frames: dict = field(default_factory=dict)

    def has(self, slot: str) -> bool:
        return slot in self.heads

    def end(self, slot: str) -> np.ndarray:
        return self.ends.get(slot, self.tails[slot])


@dataclass
class Motion:
    """The source posed: slot -> heads (T, 3) and world rotations (T, 3, 3); optionally captured fingers:
    fingers: {finger slot: (T, 3, 3) rotation relative to the hand in hand-frame coordinates}
    (hands.mano_to_hand_frame)."""

    heads: dict
    rot: dict
    fingers: dict = field(default_factory=dict)


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


NEXT = {"shoulder": "upper_arm", "upper_arm": "forearm", "forearm": "hand", "thigh": "shin", "shin": "foot",
        "foot": "toe"}


def target_world(src: Skeleton, motion: Motion, tgt: Skeleton) -> dict:
    """World rotations the target's mapped bones should have: {target slot: (T, 3, 3)}."""
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
        for part in ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot"):
            slot = f"{part}.{side}"
            if not (src.has(slot) and tgt.has(slot)):
                continue
            ref_s, ref_t = _reference(part, B_s), _reference(part, B_t)
            nxt = NEXT.get(part)
            has_next = nxt and src.has(f"{nxt}.{side}") and tgt.has(f"{nxt}.{side}")
            D = delta(slot)
            if has_next:
                d_t = motion.heads[f"{nxt}.{side}"] - motion.heads[slot]
                d_rest_t = tgt.heads[f"{nxt}.{side}"] - tgt.heads[slot]
            elif slot in src.end_slots:  # a hand: to its finger bases as posed
                d_t = np.mean([motion.heads[s] for s in src.end_slots[slot]], axis=0) - motion.heads[slot]
                d_rest_t = tgt.end(slot) - tgt.heads[slot]
            else:  # a limb end: to its hand mesh (or the tail), carried by the bone
                d_t = D @ (src.end(slot) - src.heads[slot])
                d_rest_t = tgt.end(slot) - tgt.heads[slot]
            F_src = frame(d_t, D @ ref_s)
            F_tgt = frame(d_rest_t, ref_t)
            out[slot] = F_src @ F_tgt.T @ tgt.rot[slot]
        _toe(src, motion, tgt, side, B_s @ B_t.T, out)
        _fingers(src, motion, tgt, side, out)
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
    return out


def _toe(src, motion, tgt, side, M, out) -> None:
    """The target toe turns with its foot, plus the source toe's change relative to its foot (written in the
    target's axes: M = B_s B_tᵀ takes the target's body axes to the source's): it keeps its own rest bend."""
    foot, toe = f"foot.{side}", f"toe.{side}"
    if not (tgt.has(toe) and foot in out):
        return
    D_foot_t = out[foot] @ tgt.rot[foot].T
    if src.has(toe) and src.has(foot):
        D_fs = motion.rot[foot] @ src.rot[foot].T
        D_ts = motion.rot[toe] @ src.rot[toe].T
        E = M.T @ np.swapaxes(D_fs, -1, -2) @ D_ts @ M  # the toe's own change, target axes
    else:
        E = np.eye(3)
    out[toe] = D_foot_t @ E @ tgt.rot[toe]


def _fingers(src, motion, tgt, side, out) -> None:
    """Finger bones: their hand's change since rest, then their own rotation relative to the hand: from the
    source's finger bones (between the hand frames), else captured (Motion.fingers), else relaxed."""
    from . import hands
    from .bonemap import finger_of

    hand = f"hand.{side}"
    slots = [s for s in tgt.heads if (finger_of(s) or ("", 0, ""))[2] == side]
    if not slots or hand not in out:
        return
    T = out[hand].shape[0]
    D_hand_t = out[hand] @ tgt.rot[hand].T
    H_t = tgt.hand_frames.get(side)
    relaxed_dirs = {}
    for slot in slots:
        if H_t is not None and src.has(slot) and src.has(hand) and side in src.hand_frames:
            H_s = src.hand_frames[side]
            D_h = motion.rot[hand] @ src.rot[hand].T
            D_f = motion.rot[slot] @ src.rot[slot].T
            rel = H_t @ H_s.T @ np.swapaxes(D_h, -1, -2) @ D_f @ H_s @ H_t.T
        elif H_t is not None and slot in motion.fingers:
            rel = H_t @ motion.fingers[slot] @ H_t.T
        else:
            relaxed_dirs[slot] = tgt.end(slot) - tgt.heads[slot]
            continue
        out[slot] = D_hand_t @ rel @ tgt.rot[slot]
    if relaxed_dirs:
        back = (H_t if H_t is not None else hands.hand_frame(tgt.heads[hand], tgt.end(hand), side=side))[:, 1]
        for slot, rel in hands.relaxed(relaxed_dirs, {side: back}, T).items():
            out[slot] = D_hand_t @ rel @ tgt.rot[slot]


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


@dataclass
class Pose:
    """Solved pose-bone values over T frames: basis_rot {key bone: (T, 3, 3)}, root_loc (T, 3) basis location of
    the root bone, carriers {bone: (T, 3) basis location} of control roots moved to pin limb ends, and the
    armature-space pose matrices of every bone P (T, N, 4, 4) (TargetRig order)."""

    basis_rot: dict
    root_loc: np.ndarray
    carriers: dict
    P: np.ndarray


def solve_pose(rig: TargetRig, follow_world: dict, keys: dict, hips_follow: str, hips_world: np.ndarray,
               root: str, pins: dict | None = None) -> Pose:
    """Pose-bone values (plain parenting, no constraints) giving the followed bones their world rotations.

    follow_world: {bone: (T, 3, 3)} world rotation wanted for a mapped bone; keys: {mapped bone: key bone}
    (the key bone moves rigidly with the mapped one, e.g. a Rigify FK control and its DEF bone);
    hips_world: (T, 3) wanted world position of ``hips_follow``'s head, reached by translating ``root``;
    pins: {bone: limb bone}: ``bone`` (a foot or hand under a separate control root) is carried to where it
    would sit if it hung from the limb bone as at rest, by moving its topmost ancestor that is not the limb's.
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
        X = _parent_side(rig, P, j, T)
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
    h0 = (P[:, k] @ np.linalg.inv(L[k]) @ L[f])[:, :3, 3]  # the followed bone rides on its key bone
    want = hips_world @ O_inv[:3, :3].T + O_inv[:3, 3]
    r = index[root]
    old = np.zeros(3) if r in key_rot else rig.basis[r][:3, 3]
    root_loc = _translate(rig, P, r, want - h0) + old
    carriers = {}
    for bone, limb in (pins or {}).items():
        b, p = index[bone], index[limb]
        c = _carrier(rig, b, p)
        if c is None:
            continue
        target = (P[:, p] @ np.linalg.inv(L[p]) @ L[b])[:, :3, 3]
        carriers[rig.names[c]] = _translate(rig, P, c, target - P[:, b, :3, 3]) + rig.basis[c][:3, 3]
    return Pose(basis_rot=basis_rot, root_loc=root_loc, carriers=carriers, P=P)


def _parent_side(rig: TargetRig, P: np.ndarray, j: int, T: int) -> np.ndarray:
    """(T, 4, 4): bone j's pose matrix before its own basis (its parent's pose carried to j's rest)."""
    p = rig.parents[j]
    L = rig.rest_local
    if p < 0:
        return np.broadcast_to(L[j], (T, 4, 4)).copy()
    return P[:, p] @ np.linalg.inv(L[p]) @ L[j]


def _translate(rig: TargetRig, P: np.ndarray, j: int, shift: np.ndarray) -> np.ndarray:
    """Move bone j's head (and everything below it) by ``shift`` (T, 3) armature space, in P; returns the
    change of j's basis location that does it (a basis location acts before the bone's rotation)."""
    X3 = _parent_side(rig, P, j, P.shape[0])[:, :3, :3]
    below = [j] + [c for c in range(len(rig.names)) if j in _ancestors(rig, c)]
    moved = P[:, below]
    moved[..., :3, 3] += shift[:, None, :]
    P[:, below] = moved
    return np.linalg.solve(X3, shift[..., None])[..., 0]


def _ancestors(rig: TargetRig, j: int) -> list:
    out = []
    while rig.parents[j] >= 0:
        j = int(rig.parents[j])
        out.append(j)
    return out


def _carrier(rig: TargetRig, bone: int, limb: int):
    """The topmost ancestor of ``bone`` (or itself) that is not an ancestor of ``limb``; None when ``bone``
    already hangs below ``limb``."""
    up = set(_ancestors(rig, limb))
    if limb in _ancestors(rig, bone):
        return None
    c = bone
    while rig.parents[c] >= 0 and int(rig.parents[c]) not in up:
        c = int(rig.parents[c])
    return c
