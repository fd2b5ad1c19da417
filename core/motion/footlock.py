"""Foot lock: soles that stand still while they rest on the floor, without pops, and only where it helps.

Works in the upright world frame (Z up, floor at Z = 0) on SMPL motion (local rotations + root translation),
with contacts per **sole point** (:mod:`.soles`: heel, ball and toe of each foot, columns 0..5):

1. **Pins.** Each contact (a run of one column) holds its sole point at a lock point: the median of the point's
   horizontal positions over the contact, on the floor (pulled down only from the landing on). Mode ``ground``
   holds only the height (the point keeps its horizontal path). A pin fades in around the landing
   (``blend_outside`` of the fade before the landing frame, so the foot is held from the frame it lands) and out
   around the lift-off of *that* point (a heel's pin is gone as the heel rises, the ball's and toe's hold on):
   quintic smootherstep fades over ``blend_s``/``release_s``, at most a third of a short contact, so position,
   velocity and acceleration stay continuous. A contact whose point strayed in the input
   by more than ``slide_ok_m`` (rms) from its lock gets less weight, none beyond ``slide_max_m`` (a pivot, a
   shuffle, a false contact); the pull onto the floor is scaled by the floor's confidence (``vertical_weight``).
   A contact is locked where its point **rests** (:func:`rest_stretches`): frame by frame the pin lets go where
   the captured point strays more than ``stray_ok_m`` … ``stray_max_m`` from that spot — a real foot that slides
   or pivots over the floor while it carries weight (a kick's stance foot, feet dragged out of a roll) is not
   dragged back, and where it comes to rest again it gets a spot of its own. A planted foot's drift stays within
   that reach; lock less where a contact is doubtful, not more. Where one rest stretch follows another, the pin
   does not jump from spot to spot: it moves on as fast as the captured point went
   (:func:`handover_locks`). A contact on something above the floor (a step, a box, a climbing frame:
   :func:`.contacts.detect_raised_rests`) is held the same way at its own level, the median of its captured
   heights, instead of on the floor.
2. **Per foot** the pinned points ask for one rigid motion of the foot (:func:`foot_motion`: a weighted 3-D
   fit of heel, ball and toe onto their pins; vertically only the pins' mean pull). A rolling foot has its heel
   pin released and its ball and toe pins on: it keeps rolling about them. Heel, ball and toe lie almost on a
   line, so the foot's roll about it is held at its mean over each stretch the foot is pinned, and its pitch
   follows a slow average (:func:`contact_up`; a captured roll or pitch jitters, and the ankle, 9 cm above the
   sole, would sway with it). The fitted turns and targets are averaged over ``TURN_S`` (where a foot is
   planted its target does not jitter, so nothing is blurred there).
3. **Root.** ``root_share`` of the feet's mean correction along the floor and all of its height (weighted by how
   planted each foot is) moves the whole body, averaged over ``root_smoothing_s`` (the height over
   ``root_height_smoothing_s``: only a slow trend, such as a camera's depth drift, lifts the body); across breaks
   between contacts up to ``max_carry_s`` (a running stride's flight) it follows a straight line, over a longer
   flight it fades to no correction at all, so nothing from one landing is carried through a jump.
4. **Legs.** The rest of each foot's correction goes to an analytic two-bone IK on hip, knee and ankle: the
   knee bends (law of cosines, in the leg's own plane), the hip swings the ankle onto its target; the ankle's
   world orientation is kept, turned by the foot's fitted turn. Near a straight knee, changes of reach are
   eased (``soft_reach``: there a millimetre of leg length is a large knee swing, the acceleration a viewer
   sees). Only rotations change; bone lengths are SMPL's.

Forward kinematics comes from :func:`core.smpl.forward_kinematics`; rotations from :mod:`core.rotations`.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..config import FootLockConfig
from ..rotations import axis_angle_to_rotmat, rotmat_from_vectors, rotmat_to_axis_angle
from ..smpl import forward_kinematics
from .contacts import runs
from .smoothing import moving_average
from .soles import FOOT_COLUMNS, sole_points

LEGS = ((1, 4, 7), (2, 5, 8))  # (hip, knee, ankle) left, right
TURN_S = 0.1  # the feet's fitted turns are averaged over this window
LAND_S = 0.05  # a sole is pulled onto the floor from this long before its landing frame on
FORWARD_S = 0.5  # the feet's forward axes (their pitch, when their roll is held) are averaged over this window


def smootherstep(x: np.ndarray) -> np.ndarray:
    """6x⁵ − 15x⁴ + 10x³ on [0, 1] (clipped): zero first and second derivatives at both ends."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def pin_weights(contact: np.ndarray, times_s: np.ndarray, blend_s: float, outside: float = 0.8,
                release_s: float = 0.12, release_outside: float = 0.0) -> list[tuple[np.ndarray, slice]]:
    """One smooth weight curve (T,) per contact run of a (T,) bool column, with the run's slice. The pin fades in
    over ``blend_s`` around the landing (the share ``outside`` of it before the contact's first frame, so the
    foot is held from the frame it lands) and out over ``release_s`` around the lift-off (``release_outside`` of
    it after the contact's last frame: the point lifts as captured instead of being held through the push-off).
    Fades are shortened to a third of a contact's span."""
    t = np.asarray(times_s, dtype=np.float64)
    out = []
    for a, e in runs(contact):
        span = t[e - 1] - t[a]
        b = max(min(float(blend_s), span / 3.0), 1e-6)
        r = max(min(float(release_s), span / 3.0), 1e-6)
        start = t[a] - outside * b
        stop = t[e - 1] + release_outside * r
        w = np.minimum(smootherstep((t - start) / b), smootherstep((stop - t) / r))
        out.append((w, slice(a, e)))
    return out


def _settled(xy: np.ndarray) -> np.ndarray:
    """A contact's point path (K, 2) averaged over 5 frames (as it is when K < 5): where it rests and how it
    moves on, without the capture's per-frame jitter."""
    return moving_average(xy, 5) if xy.shape[0] >= 5 else xy


def rest_stretches(xy: np.ndarray, times_s: np.ndarray, config: FootLockConfig) -> list:
    """Where a contact's point rests: a list of (lock (2,), nearness (n,) in 0..1, stretch (a slice of the K
    frames, n long)). A capture's planted foot wanders a few centimetres around one spot (jitter, slow drift of the
    root and hips); a real foot that slides or pivots over the floor while it carries weight (the stance foot of a
    kick, feet dragged out of a roll) moves tens of centimetres and may rest again elsewhere — held at one spot
    (the contact's median), it would be dragged back over its slide. *Nearness* falls from 1 within
    ``stray_ok_m`` to 0 beyond ``stray_max_m`` (positions averaged over 5 frames, :func:`_settled`). The spot:
    the position with the most frames near it (where the point stays longest), then three rounds of the
    nearness-weighted mean of the positions (K, 2). Its stretch runs from the first to the last frame near it (nearness ½; the pin lets go
    frame by frame where the point strays); every run of frames far from it lasting ``min_contact_s`` is searched
    the same way for a spot of its own. times_s: (K,)."""
    K = xy.shape[0]
    ok, far = config.stray_ok_m, config.stray_max_m
    smooth = _settled(xy)
    frame = float(np.median(np.diff(times_s))) if K > 1 else 1.0 / 30.0
    out = []

    def nearness(distance):
        return smootherstep((far - distance) / max(far - ok, 1e-9))

    def search(lo: int, hi: int, depth: int) -> None:
        if depth > 4 or times_s[hi - 1] - times_s[lo] + frame < config.contact.min_contact_s - 1e-9:
            return
        pts, sm = xy[lo:hi], smooth[lo:hi]
        lock = np.median(sm, axis=0)
        if np.linalg.norm(sm - lock, axis=-1).max() > ok:  # not all at one spot: start where it stays longest
            lock = sm[int(np.argmax(nearness(np.linalg.norm(sm[:, None] - sm[None], axis=-1)).sum(axis=1)))]
        for _ in range(3):
            near = nearness(np.linalg.norm(sm - lock, axis=-1))
            lock = (near[:, None] * pts).sum(axis=0) / near.sum()
        near = nearness(np.linalg.norm(sm - lock, axis=-1))
        held = np.flatnonzero(near >= 0.5)
        if held.size == 0:
            return
        a, b = int(held[0]), int(held[-1]) + 1
        out.append((lock, near[a:b], slice(lo + a, lo + b)))
        for ra, rb in runs(near < 0.5):
            search(lo + ra, lo + rb, depth + 1)

    search(0, K, 0)
    return out


def handover_locks(stretches: list, xy: np.ndarray, times_s: np.ndarray) -> list:
    """The lock of each rest stretch of one contact (sorted by their first frames): its spot, or — for stretches
    that follow each other (the point came to rest at one spot and, still in contact, at the next: a foot sliding
    over the floor, or a capture's planted foot drifting) — one path shared by the chain, which
    holds each spot around the frame where the point rests there (the stretch's nearness-weighted mean time) and
    moves on to the next no faster than the captured point went: over twice the time the point (:func:`_settled`)
    took to cover the middle half of the way from one spot to the next, centred there, never beyond the
    two stretches' mean times (smootherstep). Pins that jumped from one spot to the next where the stretches meet
    would move the foot 10–20 cm within two frames.

    stretches: [(spot (2,), nearness (n,), stretch (slice of the K frames))] from :func:`rest_stretches`;
    xy: (K, 2) the point's horizontal path over the contact; times_s: (K,) -> a list of (2,) spots or (K, 2)
    paths."""
    K = xy.shape[0]
    t = np.asarray(times_s, dtype=np.float64)
    locks = [np.asarray(spot, dtype=np.float64) for spot, _near, _sub in stretches]
    if len(stretches) < 2:
        return locks
    smooth = _settled(xy)
    centres = [float((near * t[sub]).sum() / max(near.sum(), 1e-12)) for _spot, near, sub in stretches]
    chains, chain = [], [0]
    for i in range(1, len(stretches)):
        a, b = stretches[i - 1][2], stretches[i][2]
        if b.stop > a.stop and centres[i] > centres[i - 1]:  # not one found inside the other's frames
            chain.append(i)
        else:
            chains.append(chain)
            chain = [i]
    chains.append(chain)
    for chain in chains:
        if len(chain) < 2:
            continue
        path = np.repeat(locks[chain[0]][None], K, axis=0)
        for i, j in zip(chain[:-1], chain[1:]):
            A, B = locks[i], locks[j]
            ab = B - A
            progress = ((smooth - A) @ ab) / max(float(ab @ ab), 1e-12)  # 0 at A, 1 at B
            meet = stretches[j][2].start
            lo = meet
            while lo > 0 and t[lo - 1] >= centres[i] and progress[lo - 1] > 0.25:
                lo -= 1
            hi = meet
            while hi < K - 1 and t[hi] <= centres[j] and progress[hi] < 0.75:
                hi += 1
            mid, half = 0.5 * (t[lo] + t[hi]), max(t[hi] - t[lo], 1e-3)
            start, stop = max(centres[i], mid - half), min(centres[j], mid + half)
            share = smootherstep((t - start) / max(stop - start, 1e-6))[:, None]
            on = t >= start
            path[on] = ((1.0 - share) * A + share * B)[on]
        for i in chain:
            locks[i] = path
    return locks


def _add_pin(delta, weight, k, w, lock_xy, p, t, seg, vertical_weight, level=0.0) -> None:
    """Add one pin of sole column k to delta (T, 6, 3) / weight (T, 6) in place: weights w (T,), horizontal lock
    (2,) or (T, 2), the point's path p (T, 3), times t (T,), its contact's rows ``seg`` (the landing), the height
    it rests at (``level``: 0 on the floor)."""
    d = np.zeros((t.shape[0], 3))
    d[:, :2] = lock_xy - p[:, :2]
    # onto the floor only from the landing on (a foot still coming down is not pulled down early)
    landed = smootherstep((t - t[seg.start] + LAND_S) / LAND_S)
    d[:, 2] = (level - p[:, 2]) * vertical_weight * landed
    delta[:, k] += w[:, None] * d
    weight[:, k] += w


def sole_pins(soles: np.ndarray, contact: np.ndarray, times_s: np.ndarray, config: FootLockConfig,
              vertical_weight: float = 1.0, raised: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Corrections of the six sole points and how pinned each is.

    soles: (T, 6, 3) world (floor Z = 0); contact: (T, 6) bool; raised: (T, 6) bool or None, the contact frames
    that rest above the floor (:func:`.contacts.detect_raised_rests`): a contact mostly of them is held at its
    median captured height, not pulled onto the floor. Returns (delta (T, 6, 3), weight (T, 6)): the pinned
    position is soles + delta / weight. ``vertical_weight`` scales the pull onto the floor (0..1)."""
    T = soles.shape[0]
    t = np.asarray(times_s, dtype=np.float64)
    delta = np.zeros((T, 6, 3))
    weight = np.zeros((T, 6))
    for k in range(6):
        p = soles[:, k]
        for w, seg in pin_weights(contact[:, k], times_s, config.blend_s, config.blend_outside, config.release_s,
                                  config.release_outside):
            up = raised[seg, k] if raised is not None else np.zeros(seg.stop - seg.start, dtype=bool)
            level = float(np.median(p[seg, 2][up])) if up.mean() > 0.5 else 0.0
            if config.mode == "ground":
                _add_pin(delta, weight, k, w, p[:, :2], p, t, seg, vertical_weight, level)
                continue
            xy = p[seg, :2]
            slide = float(np.sqrt(np.mean(np.sum((xy - np.median(xy, axis=0)) ** 2, axis=-1))))  # rms
            trust = np.clip((config.slide_max_m - slide) / max(config.slide_max_m - config.slide_ok_m, 1e-9), 0.0, 1.0)
            stretches = sorted(rest_stretches(xy, t[seg], config), key=lambda s: s[2].start)
            locks = handover_locks(stretches, xy, t[seg])
            for (_spot, near, sub), lock in zip(stretches, locks):
                rows = slice(seg.start + sub.start, seg.start + sub.stop)
                held = np.zeros(T, dtype=bool)
                held[rows] = True
                [(ws, _rows)] = pin_weights(held, times_s, config.blend_s, config.blend_outside, config.release_s,
                                            config.release_outside)
                # frame by frame the pin lets go where the point strays from its spot (before and after the
                # stretch as at its first and last frames)
                near_t = np.concatenate([np.full(rows.start, near[0]), near, np.full(T - rows.stop, near[-1])])
                if lock.ndim == 2:  # a path over the contact's frames: held at its ends outside them
                    lock = np.concatenate([np.repeat(lock[:1], seg.start, axis=0), lock,
                                           np.repeat(lock[-1:], T - seg.stop, axis=0)])
                _add_pin(delta, weight, k, ws * trust * near_t, lock, p, t, rows, vertical_weight, level)
    scale = np.maximum(weight, 1.0)  # overlapping fades of two contacts never pull more than one pin
    return delta / scale[..., None], weight / scale


def foot_motion(ankles: np.ndarray, foot_up: np.ndarray, soles: np.ndarray, delta: np.ndarray,
                weight: np.ndarray, up_target=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per foot, the rigid motion that best brings its pinned sole points onto their pins: a weighted Kabsch fit
    of the heel, ball and toe (3-D) — a foot standing flat stays still as a whole, ankle and toe joints too, and
    a foot rolling on its ball turns about it. Heel, ball and toe lie almost on one line, so the foot's roll about
    that line is kept as captured (its up axis joins the fit as a weak fourth point). The turn needs two pins and
    fades in with the weaker of the two strongest.

    ankles: (T, 2, 3); foot_up, up_target: (T, 2, 3) unit up axes of the feet (default: the same); soles,
    delta: (T, 6, 3); weight: (T, 6) ->
    (ankle translation (T, 2, 3), scaled by the foot's weight; the foot's weight (T, 2) = its strongest pin;
    turn (T, 2, 3, 3) to apply to the foot's world orientation)."""
    T = soles.shape[0]
    move = np.zeros((T, 2, 3))
    fweight = np.zeros((T, 2))
    turn = np.tile(np.eye(3), (T, 2, 1, 1))
    for f, cols in enumerate(FOOT_COLUMNS):
        c = list(cols)
        w = weight[:, c]  # (T, 3)
        sw = np.maximum(w.sum(axis=1), 1e-9)
        p = soles[:, c]
        target = p + delta[:, c] / np.maximum(w[..., None], 1e-9)  # the pins themselves
        pm = np.einsum("tk,tkd->td", w, p) / sw[:, None]
        qm = np.einsum("tk,tkd->td", w, target) / sw[:, None]
        x, y = p - pm[:, None], target - qm[:, None]
        up = 0.1 * foot_up[:, f]  # the weak fourth point: the foot's up axis
        aim = up if up_target is None else 0.1 * up_target[:, f]
        H = np.einsum("tk,tki,tkj->tij", w, x, y) + 0.3 * w.max(axis=1)[:, None, None] * np.einsum(
            "ti,tj->tij", up, aim)
        U, _, Vt = np.linalg.svd(H)
        V = np.swapaxes(Vt, -1, -2)
        d = np.sign(np.linalg.det(V @ np.swapaxes(U, -1, -2)))
        D = np.tile(np.eye(3), (T, 1, 1))
        D[:, 2, 2] = d
        Rk = V @ D @ np.swapaxes(U, -1, -2)
        second = np.clip(np.sort(w, axis=1)[:, -2], 0.0, 1.0)
        Rk = axis_angle_to_rotmat(rotmat_to_axis_angle(Rk) * second[:, None])  # one pin: no turn
        fweight[:, f] = w.max(axis=1)
        moved = qm + np.einsum("tij,tj->ti", Rk, ankles[:, f] - pm)  # where the ankle goes
        # vertically only the pins' mean pull: a turn of the foot would lift or lower the whole body through the
        # ankle's lever (tenths of a degree of foot jitter are centimetres at the root)
        moved[:, 2] = ankles[:, f, 2] + (qm[:, 2] - pm[:, 2])
        move[:, f] = (moved - ankles[:, f]) * fweight[:, f:f + 1]
        turn[:, f] = Rk
    return move, fweight, turn


def contact_up(foot_up: np.ndarray, foot_forward: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per foot, the up axis square to ``foot_forward`` (the heel–toe line, world, Z up) whose roll about it is
    held at the pin-weighted mean of the captured up's roll over each stretch where any of the foot's sole points
    is pinned; the captured up elsewhere. Heel, ball and toe pins fix the foot's pitch and heading but not its
    roll about that line. foot_up, foot_forward: (T, 2, 3) unit axes; weight: (T, 6) pin weights -> (T, 2, 3)
    unit up axes (square to ``foot_forward`` where pinned)."""
    out = np.array(foot_up, dtype=np.float64, copy=True)
    vertical = np.array([0.0, 0.0, 1.0])
    for f, cols in enumerate(FOOT_COLUMNS):
        w = weight[:, list(cols)].max(axis=1)
        for a, b in runs(w > 0):
            fwd = foot_forward[a:b, f]
            ref = vertical - (fwd @ vertical)[:, None] * fwd  # no roll: the vertical, square to the forward axis
            ref /= np.maximum(np.linalg.norm(ref, axis=-1, keepdims=True), 1e-9)
            up = foot_up[a:b, f]
            roll = np.arctan2(np.einsum("ti,ti->t", np.cross(ref, up), fwd), np.einsum("ti,ti->t", ref, up))
            held = (w[a:b] * roll).sum() / w[a:b].sum()
            out[a:b, f] = ref * np.cos(held) + np.cross(fwd, ref) * np.sin(held)
    return out


def two_bone_ik(rotmat: np.ndarray, glob: np.ndarray, joints: np.ndarray, leg: tuple[int, int, int],
                target: np.ndarray, rows: np.ndarray, ankle_global=None, soft_reach: float = 0.0) -> None:
    """Move the ankle of ``leg`` onto ``target`` at ``rows``, in place on ``rotmat`` (local rotations).

    rotmat, glob: (T, 24, 3, 3) local and global rotations; joints: (T, 24, 3) positions; target: (T, 3).
    Beyond reach the leg straightens towards the target. Within ``soft_reach`` (a share of the leg's length) of
    full reach, changes of the hip-ankle distance are eased exponentially (near a straight knee a millimetre of
    length is a large knee swing; the ankle then falls short by millimetres instead of the knee popping). The
    ankle's global rotation is kept, or becomes ``ankle_global`` ((len(rows), 3, 3)) when given.
    """
    if rows.size == 0:
        return
    hip, knee, ankle = leg
    h, k, a = joints[rows, hip], joints[rows, knee], joints[rows, ankle]
    u, v = h - k, a - k
    l1 = np.linalg.norm(u, axis=-1)
    l2 = np.linalg.norm(v, axis=-1)
    d = target[rows] - h
    dist = np.linalg.norm(d, axis=-1)
    if soft_reach > 0:  # near full reach a small change of length swings the knee far: ease it there
        reach = (l1 + l2) * (1.0 - 1e-4)
        soft = soft_reach * (l1 + l2)
        start = reach - soft

        def eased(x):
            return np.where(x > start, reach - soft * np.exp(-(x - start) / soft), x)

        d0 = np.linalg.norm(a - h, axis=-1)
        dist = d0 + eased(dist) - eased(d0)  # the change of length, eased; a leg asked to stay stays
    dist = np.clip(dist, np.abs(l1 - l2) + 1e-4, (l1 + l2) * (1.0 - 1e-4))
    cos_cur = np.clip(np.sum(u * v, axis=-1) / (l1 * l2), -1.0, 1.0)
    cos_new = np.clip((l1 ** 2 + l2 ** 2 - dist ** 2) / (2.0 * l1 * l2), -1.0, 1.0)
    axis = np.cross(u, v)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    # a straight leg has no plane: bend about the thigh's own flexion axis (SMPL: -x of the hip)
    fallback = -glob[rows, hip][:, :, 0]
    axis = np.where(s > 1e-6, axis / np.maximum(s, 1e-12), fallback)
    R1 = axis_angle_to_rotmat(axis * (np.arccos(cos_new) - np.arccos(cos_cur))[:, None])  # about the knee
    a1 = k + np.einsum("nij,nj->ni", R1, v)
    R2 = rotmat_from_vectors(a1 - h, d)  # swing about the hip
    G_hip = R2 @ glob[rows, hip]
    G_knee = R2 @ R1 @ glob[rows, knee]
    G_parent = glob[rows, 0]
    rotmat[rows, hip] = np.swapaxes(G_parent, -1, -2) @ G_hip
    rotmat[rows, knee] = np.swapaxes(G_hip, -1, -2) @ G_knee
    G_ankle = glob[rows, ankle] if ankle_global is None else ankle_global
    rotmat[rows, ankle] = np.swapaxes(G_knee, -1, -2) @ G_ankle


def _root_correction(foot_delta: np.ndarray, foot_weight: np.ndarray, times_s: np.ndarray,
                     config: FootLockConfig) -> np.ndarray:
    """(T, 3): the planted feet's mean correction (``root_share`` of it along the floor); across breaks up to ``max_carry_s`` a straight
    line between the planted frames around it, over longer ones fading to zero; then a moving average over
    ``root_smoothing_s`` (along the floor) and ``root_height_smoothing_s`` (the height)."""
    t = np.asarray(times_s, dtype=np.float64)
    fw = foot_weight[:, :, None]
    root = (fw * foot_delta).sum(axis=1) / np.maximum(fw.sum(axis=1), 1e-9)
    root[:, :2] *= config.root_share  # along the floor the legs take the rest; a floating body is the root's
    planted = fw.sum(axis=1)[:, 0] >= 0.5
    if not planted.any():
        return np.zeros_like(root)
    T = t.shape[0]
    idx = np.flatnonzero(planted)
    out = np.stack([np.interp(t, t[idx], root[idx, k]) for k in range(3)], axis=1)
    # each frame's distance to the planted frames before and after it, and the length of its break
    prev_i = np.searchsorted(idx, np.arange(T), side="right") - 1
    before = np.where(prev_i >= 0, t - t[idx[np.maximum(prev_i, 0)]], np.inf)
    next_i = np.minimum(prev_i + 1, idx.size - 1)
    after = np.where(idx[next_i] >= np.arange(T), t[idx[next_i]] - t, np.inf)
    long_break = ~planted & (before + after > config.max_carry_s)
    fade = 1.0 - smootherstep(np.minimum(before, after) / max(0.5 * config.max_carry_s, 1e-6))
    out *= np.where(long_break, fade, 1.0)[:, None]
    out[:, :2] = moving_average(out[:, :2], _frames(t, config.root_smoothing_s))
    # the height only as a slow trend (a camera's depth drift): the soles' heights at single contacts scatter by
    # the floor's own uncertainty, and lifting the whole body by that would only move the pelvis off
    out[:, 2] = moving_average(out[:, 2], _frames(t, config.root_height_smoothing_s))
    return out


def _frames(times_s: np.ndarray, seconds: float) -> int:
    """An odd number of frames spanning about ``seconds`` on the median frame step."""
    t = np.asarray(times_s, dtype=np.float64)
    frame = float(np.median(np.diff(t))) if t.shape[0] > 1 else 1.0 / 30.0
    return int(round(seconds / max(frame, 1e-6))) | 1


def lock_feet(rotmat: np.ndarray, transl: np.ndarray, rest_joints: np.ndarray, times_s: np.ndarray,
              contact: np.ndarray, sole_offsets: np.ndarray, config: FootLockConfig = FootLockConfig(),
              vertical_weight: float = 1.0, raised: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Pin the feet. World frame (Z up, floor Z = 0). rotmat: (T, 24, 3, 3) local (joint 0 relative to the
    world); transl: (T, 3); rest_joints: (24, 3); times_s: (T,); contact: (T, 6) bool (sole columns);
    sole_offsets: (6, 3) (:func:`.soles.sole_offsets`); vertical_weight: 0..1, how strongly soles are pulled
    onto the floor (the floor's confidence); raised: (T, 6) bool or None, contact frames resting above the floor
    (held at their own height, :func:`sole_pins`). Returns new (rotmat, transl), float64. Mode ``never`` returns
    copies."""
    R = np.array(rotmat, dtype=np.float64, copy=True)
    t = np.array(transl, dtype=np.float64, copy=True)
    if config.mode == "never" or not np.any(contact):
        return R, t
    P, G = forward_kinematics(rest_joints, R)
    joints = P + t[:, None]
    soles = sole_points(joints, G, sole_offsets)
    delta, weight = sole_pins(soles, contact, times_s, config, vertical_weight, raised)
    foot_up = G[:, [7, 8]] @ np.array([0.0, 1.0, 0.0])
    # the up the feet keep: the roll held over each pinned stretch, the pitch a slow average (the captured ones
    # jitter, and the ankle 9 cm above the sole sways with them); ``ground`` pins only heights: as captured
    if config.mode != "ground":
        forward = moving_average(G[:, [7, 8]] @ np.array([0.0, 0.0, 1.0]), _frames(times_s, FORWARD_S))
        steady = contact_up(foot_up, forward / np.linalg.norm(forward, axis=-1, keepdims=True), weight)
    else:
        steady = moving_average(foot_up, 7)
        steady /= np.linalg.norm(steady, axis=-1, keepdims=True)
    foot_delta, foot_weight, foot_turn = foot_motion(joints[:, [7, 8]], foot_up, soles, delta, weight, steady)
    # the fit jumps where pins come and go (its weights change fast): average the turn and where the ankles are
    # sent over a few frames (where a foot is planted its target does not jitter, so nothing is blurred there)
    frames = _frames(times_s, TURN_S)
    foot_turn = axis_angle_to_rotmat(moving_average(rotmat_to_axis_angle(foot_turn), frames))
    ankles = joints[:, [7, 8]]
    steady_target = moving_average(ankles + foot_delta, frames)
    foot_delta = foot_weight[..., None] * (steady_target - ankles) + (1.0 - foot_weight[..., None]) * foot_delta
    root = _root_correction(foot_delta, foot_weight, times_s, config)
    t += root
    joints += root[:, None]
    for f, leg in enumerate(LEGS):
        ankle = leg[2]
        residual = foot_delta[:, f] - foot_weight[:, f:f + 1] * root
        turning = np.abs(foot_turn[:, f] - np.eye(3)).max(axis=(1, 2)) > 1e-9
        rows = np.flatnonzero((np.linalg.norm(residual, axis=-1) > 1e-7) | turning)
        two_bone_ik(R, G, joints, leg, joints[:, ankle] + residual, rows, foot_turn[rows, f] @ G[rows, ankle],
                    config.soft_reach)
    return R, t
