"""Benchmark of the refine stage (core/motion) on real recorded motion and on procedural motion, with a known floor.

    .venv/bin/python bench/bench_refine.py [--seconds 6] [--seeds 1] [--real-seeds 3] [--real-only | --procedural-only]
                                           [--clips walk,run] [--options default,one-euro]

**Real motion** (tests/real_motion.py: DeepMimic and CMU clips retargeted onto SMPL by core.formats; held-out
clips, not used to tune anything, marked *): each clip at 30 fps is seen by a camera pitched 15° down, rolled
3°, 1.4 m above the floor and degraded like a network output (0.5° jitter on every joint rotation, 3/3/10 mm
translation jitter, a slow 3 cm root drift along the floor and 3° hip drift), ``--real-seeds`` noise draws each
(a floor found from a few seconds of on-the-spot motion changes by degrees from one draw to the next, so one
draw says little); one row per clip and option: floor tilt error (mean / max over the draws), how many draws
warned of a low-confidence floor, foot skate input → refined (the clean motion's own skate during its contacts in
brackets: real feet roll), MPJPE input → refined, acceleration error (means over the draws), time per
person-frame, and in how many draws the issue's bar held.

**Procedural motion** (tests/motion_synth.py: walk, run, jump, turn with planted feet, generated at 600 fps and
taken at 30 fps (25 fps for the 25 -> 30 row), cameras pitched 0/15/30° and rolled ±5°, 0.8° jitter): the
table of earlier versions, per option, averaged over the clips.

Metrics (core/metrics.py, against the clean motion): foot skate = horizontal travel of the ankles and toes
between consecutive ground-truth contact frames in the true world frame (mm/frame); tilt = angle between the
estimated and the true floor normal; MPJPE/PA-MPJPE over the 24 SMPL joints (root = hip midpoint); acceleration
error (mm/frame²); time = ``refine_result`` wall time per person-frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import motion_synth as ms  # noqa: E402
import real_motion as rm  # noqa: E402

from core import metrics, rotations  # noqa: E402
from core.config import FootLockConfig, RefineConfig  # noqa: E402
from core.motion.soles import FOOT_JOINT_IDS  # noqa: E402
from core.motion.refine import refine_result  # noqa: E402
from core.result import MotionResult, TrackMotion  # noqa: E402
from core.smpl import forward_kinematics  # noqa: E402

KINDS = ("walk", "run", "jump", "turn")
CAMERAS = [(p, r) for p in (0.0, 15.0, 30.0) for r in (-5.0, 5.0)]
D = RefineConfig()
FINE_FPS = 600.0  # procedural clips are generated at this rate and sampled at 30, 25 and 24 fps
NEVER = FootLockConfig(mode="never")
OPTIONS = {  # name: (refine config or None for the degraded input itself, input frame rate)
    "input (no refine)": (None, 30.0),
    "default": (D, 30.0),
    "--smoothing one-euro --foot-lock never": (dataclasses.replace(D, smoothing="one-euro", foot_lock=NEVER), 30.0),
    "--smoothing slerp-average --foot-lock never": (dataclasses.replace(D, smoothing="slerp-average",
                                                                        foot_lock=NEVER), 30.0),
    "--foot-lock never": (dataclasses.replace(D, foot_lock=NEVER), 30.0),
    "--smoothing one-euro": (dataclasses.replace(D, smoothing="one-euro"), 30.0),
    "--smoothing slerp-average": (dataclasses.replace(D, smoothing="slerp-average"), 30.0),
    "--foot-lock always": (dataclasses.replace(D, foot_lock=FootLockConfig(mode="always")), 30.0),
    "--foot-lock ground": (dataclasses.replace(D, foot_lock=FootLockConfig(mode="ground")), 30.0),
    "--smoothing none": (dataclasses.replace(D, smoothing="none"), 30.0),
    "30 fps input, --fps 24": (dataclasses.replace(D, fps=24.0), 30.0),
    "25 fps input, --fps 30": (dataclasses.replace(D, fps=30.0), 25.0),
}
REAL_OPTIONS = ("default", "--foot-lock never", "--smoothing one-euro", "--smoothing slerp-average",
                "--foot-lock ground", "--smoothing none")


def _result(rotmat, transl, times, fps, rest=ms.REST_JOINTS):
    n = rotmat.shape[0]
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    track = TrackMotion(track_id=1, frame_ids=np.arange(n), bbox_xyxy=z(n, 4), bbox_cxcys=z(n, 3),
                        interpolated=np.zeros(n, bool), rotmat=rotmat.astype(np.float32),
                        pose_aa=rotations.rotmat_to_axis_angle(rotmat).astype(np.float32), betas=z(n, 10),
                        cam=z(n, 3), orig_cam=z(n, 4), transl_cam=transl.astype(np.float32), scores=z(n, 3),
                        rest_joints=np.asarray(rest, np.float32))
    return MotionResult(video_path="bench.mp4", fps=fps, width=1280, height=720, num_frames=n,
                        focal_length_px=1500.0, timestamps_s=times, tracks=[track])


def _joints(rotmat, transl, rest=ms.REST_JOINTS):
    P, _ = forward_kinematics(rest, np.asarray(rotmat, np.float64))
    return P + np.asarray(transl, np.float64)[:, None]


def procedural_sequences(seconds: float, seeds: int):
    """Yield (name, {fps: clean clip at that rate}, R_cam_from_world, centre, {input fps: degraded result})."""
    for kind in KINDS:
        fine = ms.make_clip(kind, fps=FINE_FPS, seconds=seconds)
        for ci, (pitch, roll) in enumerate(CAMERAS):
            for seed in range(seeds):
                R, C = ms.camera_pose(pitch, roll)
                rc, tc = ms.to_camera(fine["rotmat"], fine["transl"], R, C)
                clean = {}
                for fps in (30.0, 25.0, 24.0):
                    step = int(round(FINE_FPS / fps))
                    clean[fps] = {"rotmat": rc[::step], "transl": tc[::step], "times": fine["times_s"][::step],
                                  "contact": fine["contact"][::step], "rest": ms.REST_JOINTS}
                inputs = {}
                for fps in (30.0, 25.0):
                    c = clean[fps]
                    rd, td = ms.degrade(c["rotmat"], c["transl"], seed=1000 * ci + seed + 17 * len(kind),
                                        R_cam_from_world=R)
                    inputs[fps] = _result(rd, td, c["times"], fps)
                yield f"{kind} p{pitch:g} r{roll:g}", clean, R, C, inputs


def real_sequence(name: str, seed: int = 0):
    """(clean clip in the camera (30 fps), R_cam_from_world, centre, degraded MotionResult) of a real clip."""
    clip = rm.load_clip(name)
    R, C = rm.camera()
    rc, tc = ms.to_camera(clip["rotmat"], clip["transl"], R, C, clip["rest_joints"])
    clean = {"rotmat": rc, "transl": tc, "times": clip["times_s"], "contact": clip["contact"],
             "raised": clip["raised"], "rest": clip["rest_joints"]}
    rd, td = ms.degrade(rc, tc, seed=seed + 31 * len(name), jitter_deg=0.5, R_cam_from_world=R)
    return clean, R, C, _result(rd, td, clip["times_s"], 30.0, clip["rest_joints"])


def evaluate(out_rot, out_tr, clean, R, C, times=None):
    """Metrics of a motion against the clean clip (rows matched by time when ``times`` is given)."""
    if times is not None:
        rows = np.searchsorted(clean["times"], np.asarray(times) - 1e-6)
        clean = {k: (v[rows] if k != "rest" else v) for k, v in clean.items()}
    J = _joints(out_rot, out_tr, clean["rest"])
    G = _joints(clean["rotmat"], clean["transl"], clean["rest"])
    up = (0.0, 1.0, 0.0)
    world = J @ R + C  # camera -> the clip's y-up world
    truth = G @ R + C
    ids = list(FOOT_JOINT_IDS)
    raised = clean.get("raised", np.zeros_like(clean["contact"]))  # feet resting above the floor (real clips)
    return {"skate": metrics.foot_skate(world[:, ids], clean["contact"], up=up),
            "truth_skate": metrics.foot_skate(truth[:, ids], clean["contact"], up=up),
            "raised_skate": metrics.foot_skate(world[:, ids], raised, up=up),
            "truth_raised_skate": metrics.foot_skate(truth[:, ids], raised, up=up),
            "mpjpe": metrics.mpjpe(J, G), "pa": metrics.pa_mpjpe(J, G), "accel": metrics.accel_error(J, G)}


def refine_timed(res, cfg):
    t0 = time.perf_counter()
    out, report = refine_result(res, cfg, strict=False)
    return out, report, 1000.0 * (time.perf_counter() - t0)


def tilt_deg(report, R):
    if report.floor is None:
        return float("nan")
    true_up = R @ np.array([0.0, 1.0, 0.0])
    return float(np.degrees(np.arccos(np.clip(report.floor.normal_cam @ true_up, -1, 1))))


def run_real(clips, options, seeds: int):
    """{(clip, option): metrics per noise draw} (a clip whose floor cannot be found: tilt NaN, a warning)."""
    rows = {}
    for name in clips:
        for seed in range(seeds):
            clean, R, C, res = real_sequence(name, seed)
            tr = res.tracks[0]
            base = evaluate(tr.rotmat, tr.transl_cam, clean, R, C)
            for opt in options:
                cfg, _fps = OPTIONS[opt]
                out, report, ms_total = refine_timed(res, cfg)
                t = out.tracks[0]
                m = evaluate(t.rotmat, t.transl_cam, clean, R, C, t.times_s)
                row = rows.setdefault((name, opt), {k: [] for k in ("tilt", "skate_in", "skate", "truth", "mpjpe_in",
                                                                   "mpjpe", "accel", "ms", "frames", "warn",
                                                                   "raised_in", "raised", "raised_truth")})
                row["tilt"].append(tilt_deg(report, R))
                planted = base["skate"].size > 0  # a clip whose feet never rest (dance_b slides): no skate
                row["skate_in"].append(1000 * base["skate"].mean() if planted else np.nan)
                row["skate"].append(1000 * m["skate"].mean() if planted else np.nan)
                row["truth"].append(1000 * m["truth_skate"].mean() if planted else np.nan)
                row["mpjpe_in"].append(1000 * base["mpjpe"].mean())
                row["mpjpe"].append(1000 * m["mpjpe"].mean())
                row["accel"].append(1000 * m["accel"].mean())
                row["ms"].append(ms_total)
                row["frames"].append(report.rows)
                row["warn"].append(report.floor is None or report.floor.confidence == "low")
                up = base["raised_skate"].size > 0  # feet resting on something above the floor (climb)
                row["raised_in"].append(1000 * base["raised_skate"].mean() if up else np.nan)
                row["raised"].append(1000 * m["raised_skate"].mean() if up else np.nan)
                row["raised_truth"].append(1000 * m["truth_raised_skate"].mean() if up else np.nan)
    return rows


def passes(r: dict, i: int) -> bool:
    """The issue's bar on noise draw ``i`` of a row: tilt < 2°, skate ≤ max(5, truth + 3) mm/frame and ≤ half the
    input's (a clip without planted frames has no skate), MPJPE at most 2 mm above the input's."""
    skate, truth, skate_in = r["skate"][i], r["truth"][i], r["skate_in"][i]
    skate_ok = np.isnan(skate) or (skate <= max(5.0, truth + 3.0) and skate <= 0.5 * skate_in)
    return bool(r["tilt"][i] < 2.0 and skate_ok and r["mpjpe"][i] <= r["mpjpe_in"][i] + 2.0)


def real_table(rows) -> str:
    lines = ["| clip | option | floor tilt (°) mean / max | low-confidence warnings | foot skate in → out (truth), "
             "mm/frame | MPJPE in → out (mm) | accel error (mm/frame²) | ms / person-frame | bar met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (name, opt), r in rows.items():
        n = len(r["tilt"])
        mean = {k: float(np.mean(v)) for k, v in r.items()}
        ms_per = np.sum(r["ms"]) / max(np.sum(r["frames"]), 1)
        label = f"{name}{' *' if name in rm.HELD_OUT else ''}"
        tilts = np.asarray(r["tilt"], dtype=np.float64)
        found = tilts[~np.isnan(tilts)]
        tilt = "no floor" if not found.size else f"{found.mean():.2f} / {found.max():.2f}"
        if found.size < n:
            tilt += f" (no floor in {n - found.size})"
        skate = ("— (no planted frames)" if np.isnan(mean["skate"]) else
                 f"{mean['skate_in']:.1f} → {mean['skate']:.1f} ({mean['truth']:.1f})")
        met = sum(passes(r, i) for i in range(n))
        lines.append(f"| {label} | {opt} | {tilt} | {sum(r['warn'])}/{n} | {skate} | "
                     f"{mean['mpjpe_in']:.1f} → {mean['mpjpe']:.1f} | {mean['accel']:.2f} | {ms_per:.3f} | {met}/{n} |")
    return "\n".join(lines)


def run_procedural(seconds: float, seeds: int):
    rows = {name: {"skate": [], "mpjpe": [], "pa": [], "accel": [], "tilt": [], "ms": [], "frames": 0}
            for name in OPTIONS}
    for _name, clean, R, C, inputs in procedural_sequences(seconds, seeds):
        for name, (cfg, in_fps) in OPTIONS.items():
            row = rows[name]
            res = inputs[in_fps]
            if cfg is None:
                tr = res.tracks[0]
                m = evaluate(tr.rotmat, tr.transl_cam, clean[in_fps], R, C)
            else:
                out, report, ms_total = refine_timed(res, cfg)
                row["ms"].append(ms_total)
                row["frames"] += report.rows
                tr = out.tracks[0]
                m = evaluate(tr.rotmat, tr.transl_cam, clean[cfg.fps or in_fps], R, C, tr.times_s)
                row["tilt"].append(tilt_deg(report, R))
            for k in ("skate", "mpjpe", "pa", "accel"):
                row[k].append(m[k])
    return rows


def procedural_table(rows) -> str:
    lines = ["| option | foot skate (mm/frame) | floor tilt error (°) mean / max | MPJPE (mm) | PA-MPJPE (mm) "
             "| accel error (mm/frame²) | time (ms / person-frame) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        cat = lambda k: np.concatenate(r[k])  # noqa: E731
        tilt = "—" if not r["tilt"] else f"{np.mean(r['tilt']):.2f} / {np.max(r['tilt']):.2f}"
        ms_per = "—" if not r["ms"] else f"{np.sum(r['ms']) / max(r['frames'], 1):.3f}"
        lines.append(f"| {name} | {1000 * cat('skate').mean():.1f} | {tilt} | {1000 * cat('mpjpe').mean():.1f} | "
                     f"{1000 * cat('pa').mean():.1f} | {1000 * cat('accel').mean():.2f} | {ms_per} |")
    return "\n".join(lines)


def per_kind(rows, seeds: int) -> str:
    """Default option per procedural clip kind: foot skate input -> refined, max tilt, MPJPE input -> refined."""
    n = len(CAMERAS) * seeds
    parts = []
    for i, kind in enumerate(KINDS):
        sl = slice(i * n, (i + 1) * n)
        before = np.concatenate(rows["input (no refine)"]["skate"][sl]).mean() * 1000
        after = np.concatenate(rows["default"]["skate"][sl]).mean() * 1000
        m0 = np.concatenate(rows["input (no refine)"]["mpjpe"][sl]).mean() * 1000
        m1 = np.concatenate(rows["default"]["mpjpe"][sl]).mean() * 1000
        tilt = np.max(rows["default"]["tilt"][sl])
        parts.append(f"{kind} skate {before:.1f} → {after:.1f}, MPJPE {m0:.1f} → {m1:.1f} (max tilt {tilt:.2f}°)")
    return "default per procedural clip: " + "; ".join(parts)


def raised_table(rows) -> str:
    """Foot skate where the recording's feet rest on something above the floor (a climbing frame), per option;
    only clips that have such frames."""
    lines = ["| clip | option | frames with a foot resting above the floor | foot skate there in → out (truth), "
             "mm/frame |", "|---|---|---|---|"]
    for (name, opt), r in rows.items():
        if np.all(np.isnan(r["raised"])):
            continue
        frames = int(rm.load_clip(name)["raised"].any(axis=1).sum())
        into, out, truth = (np.nanmean(r[k]) for k in ("raised_in", "raised", "raised_truth"))
        skate = f"{into:.1f} → {out:.1f} ({truth:.1f})"
        lines.append(f"| {name} | {opt} | {frames} | {skate} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=6.0, help="length of each procedural clip (default 6)")
    p.add_argument("--seeds", type=int, default=1, help="noise draws per procedural clip and camera (default 1)")
    p.add_argument("--real-seeds", type=int, default=3, help="noise draws per real clip (default 3)")
    p.add_argument("--clips", default=",".join(rm.CLIPS), help="real clips (default: all)")
    p.add_argument("--options", default=",".join(REAL_OPTIONS), help="options for the real clips")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--real-only", action="store_true")
    group.add_argument("--procedural-only", action="store_true")
    args = p.parse_args()
    t0 = time.perf_counter()
    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}"
    print(f"# refine benchmark, {datetime.date.today()}; {machine}\n")
    if not args.procedural_only:
        clips = [c for c in args.clips.split(",") if c]
        print(f"## Real motion ({len(clips)} clips, 30 fps, {args.real_seeds} noise draws each; * = held out)\n")
        real = run_real(clips, [o for o in args.options.split(",") if o], args.real_seeds)
        print(real_table(real))
        print("\n### Feet resting above the floor (the same draws)\n")
        print(raised_table(real))
        print()
    if not args.real_only:
        rows = run_procedural(args.seconds, args.seeds)
        n = len(KINDS) * len(CAMERAS) * args.seeds
        print(f"## Procedural motion ({n} sequences: {', '.join(KINDS)} × {len(CAMERAS)} cameras, pitch 0/15/30°, "
              f"roll ±5°, {args.seconds:g} s at 30 fps each)\n")
        print(procedural_table(rows))
        print()
        print(per_kind(rows, args.seeds))
    print(f"\n({time.perf_counter() - t0:.0f} s total)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
