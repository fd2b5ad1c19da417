"""Benchmark of the refine stage (core/motion) on procedural motion with a known floor.

    .venv/bin/python bench/bench_refine.py [--seconds 6] [--seeds 1] [--markdown]

Clips: walk, run, jump, turn (tests/motion_synth.py: SMPL motion whose planted feet do not slide, floor at
y = 0), generated at 600 fps and taken at 30 fps (25 fps for the 25 -> 30 row), each seen by cameras pitched 0/15/30° down and rolled ±5°,
then degraded like a network output: 0.8° jitter on every joint rotation, 3/3/10 mm jitter on the translation
(x/y/depth), and slow drifts (3 cm of the root along the floor, 3° of the hips) that make planted feet slide.
Every option is refined from the same degraded input and measured with core/metrics.py against the clean
motion: foot skate (mm per frame, horizontal travel of the ankles and toes during the ground-truth contacts, in
the true world frame), floor tilt error (angle between the estimated and the true floor normal), MPJPE and
PA-MPJPE (24 SMPL joints, root-aligned at the hips), acceleration error (mm/frame²), and the time per
person-frame of ``refine_result``. ``--fps`` rows are compared with the clean motion sampled at the new rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import motion_synth as ms  # noqa: E402

from core import metrics, rotations  # noqa: E402
from core.config import FootLockConfig, RefineConfig  # noqa: E402
from core.motion.contacts import FOOT_JOINT_IDS  # noqa: E402
from core.motion.refine import refine_result  # noqa: E402
from core.result import MotionResult, TrackMotion  # noqa: E402
from core.smpl import forward_kinematics  # noqa: E402

KINDS = ("walk", "run", "jump", "turn")
CAMERAS = [(p, r) for p in (0.0, 15.0, 30.0) for r in (-5.0, 5.0)]
D = RefineConfig()
FINE_FPS = 600.0  # clips are generated at this rate and sampled at 30, 25 and 24 fps
OPTIONS = {  # name: (refine config or None for the degraded input itself, input frame rate)
    "input (no refine)": (None, 30.0),
    "one-euro only (--smoothing one-euro --foot-lock never)": (dataclasses.replace(
        D, smoothing="one-euro", foot_lock=FootLockConfig(mode="never")), 30.0),
    "slerp-average only (--foot-lock never)": (dataclasses.replace(D, smoothing="slerp-average",
                                                                   foot_lock=FootLockConfig(mode="never")), 30.0),
    "auto (default: slerp-average, auto, upright)": (D, 30.0),
    "auto, --smoothing one-euro": (dataclasses.replace(D, smoothing="one-euro"), 30.0),
    "always": (dataclasses.replace(D, foot_lock=FootLockConfig(mode="always")), 30.0),
    "ground": (dataclasses.replace(D, foot_lock=FootLockConfig(mode="ground")), 30.0),
    "auto, --smoothing none": (dataclasses.replace(D, smoothing="none"), 30.0),
    "auto, 30 fps input, --fps 24": (dataclasses.replace(D, fps=24.0), 30.0),
    "auto, 25 fps input, --fps 30": (dataclasses.replace(D, fps=30.0), 25.0),
}


DEFAULT = "auto (default: slerp-average, auto, upright)"


def _result(rotmat, transl, times, fps):
    n = rotmat.shape[0]
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    track = TrackMotion(track_id=1, frame_ids=np.arange(n), bbox_xyxy=z(n, 4), bbox_cxcys=z(n, 3),
                        interpolated=np.zeros(n, bool), rotmat=rotmat.astype(np.float32),
                        pose_aa=rotations.rotmat_to_axis_angle(rotmat).astype(np.float32), betas=z(n, 10),
                        cam=z(n, 3), orig_cam=z(n, 4), transl_cam=transl.astype(np.float32), scores=z(n, 3),
                        rest_joints=ms.REST_JOINTS.astype(np.float32))
    return MotionResult(video_path="bench.mp4", fps=fps, width=1280, height=720, num_frames=n,
                        focal_length_px=1500.0, timestamps_s=times, tracks=[track])


def _joints(rotmat, transl):
    P, _ = forward_kinematics(ms.REST_JOINTS, np.asarray(rotmat, np.float64))
    return P + np.asarray(transl, np.float64)[:, None]


def sequences(seconds: float, seeds: int):
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
                                  "contact": fine["contact"][::step]}
                inputs = {}
                for fps in (30.0, 25.0):
                    c = clean[fps]
                    rd, td = ms.degrade(c["rotmat"], c["transl"], seed=1000 * ci + seed + 17 * len(kind),
                                        R_cam_from_world=R)
                    inputs[fps] = _result(rd, td, c["times"], fps)
                yield f"{kind} p{pitch:g} r{roll:g}", clean, R, C, inputs


def evaluate(out_rot, out_tr, clean, R, C, times=None):
    """Metrics of a motion against the clean clip (rows matched by time when ``times`` is given)."""
    if times is not None:
        rows = np.searchsorted(clean["times"], np.asarray(times) - 1e-6)
        clean = {k: v[rows] for k, v in clean.items()}
    J = _joints(out_rot, out_tr)
    G = _joints(clean["rotmat"], clean["transl"])
    world = J @ R + C  # camera -> the clip's y-up world
    skate = metrics.foot_skate(world[:, list(FOOT_JOINT_IDS)], clean["contact"], up=(0.0, 1.0, 0.0))
    return {"skate": skate, "mpjpe": metrics.mpjpe(J, G), "pa": metrics.pa_mpjpe(J, G),
            "accel": metrics.accel_error(J, G)}


def run(seconds: float, seeds: int):
    rows = {name: {"skate": [], "mpjpe": [], "pa": [], "accel": [], "tilt": [], "ms": [], "frames": 0}
            for name in OPTIONS}
    for _name, clean, R, C, inputs in sequences(seconds, seeds):
        true_up = R @ np.array([0.0, 1.0, 0.0])
        for name, (cfg, in_fps) in OPTIONS.items():
            row = rows[name]
            res = inputs[in_fps]
            if cfg is None:
                tr = res.tracks[0]
                m = evaluate(tr.rotmat, tr.transl_cam, clean[in_fps], R, C)
            else:
                t0 = time.perf_counter()
                out, report = refine_result(res, cfg, strict=True)
                row["ms"].append(1000.0 * (time.perf_counter() - t0))
                row["frames"] += report.rows
                tr = out.tracks[0]
                m = evaluate(tr.rotmat, tr.transl_cam, clean[cfg.fps or in_fps], R, C, tr.times_s)
                row["tilt"].append(np.degrees(np.arccos(np.clip(report.floor.normal_cam @ true_up, -1, 1))))
            for k in ("skate", "mpjpe", "pa", "accel"):
                row[k].append(m[k])
    return rows


def table(rows) -> str:
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


def per_clip_skate(rows) -> str:
    """Foot skate of `auto` per clip kind (mm/frame), input -> refined."""
    n = len(CAMERAS) * ARGS.seeds
    parts = []
    for i, kind in enumerate(KINDS):
        sl = slice(i * n, (i + 1) * n)
        before = np.concatenate(rows["input (no refine)"]["skate"][sl]).mean() * 1000
        after = np.concatenate(rows[DEFAULT]["skate"][sl]).mean() * 1000
        tilt = np.max(rows[DEFAULT]["tilt"][sl])
        parts.append(f"{kind} {before:.1f} → {after:.1f} (max tilt {tilt:.2f}°)")
    return "auto per clip, foot skate input → refined: " + "; ".join(parts)


def main() -> int:
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=6.0, help="length of each clip (default 6)")
    p.add_argument("--seeds", type=int, default=1, help="noise draws per clip and camera (default 1)")
    ARGS = p.parse_args()
    t0 = time.perf_counter()
    rows = run(ARGS.seconds, ARGS.seeds)
    n = len(KINDS) * len(CAMERAS) * ARGS.seeds
    print(f"# refine benchmark: {n} sequences ({', '.join(KINDS)} × {len(CAMERAS)} cameras, pitch 0/15/30°, "
          f"roll ±5°), {ARGS.seconds:g} s at 30 fps each; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}; {time.perf_counter() - t0:.0f} s total\n")
    print(table(rows))
    print()
    print(per_clip_skate(rows))
    return 0


ARGS = None

if __name__ == "__main__":
    sys.exit(main())
