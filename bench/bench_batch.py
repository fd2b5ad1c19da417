"""Batch throughput: clips/minute and person-frames/s of ``python -m core batch`` on a synthetic batch, for 1 worker,
2 worker processes and Ray with 2 local actors (``--ray local``). Run by hand; results in bench/RESULTS.md.

    .venv/bin/python bench/bench_batch.py [--clips 20] [--models DIR] [--configs 1,2,ray2]

Clips are synthetic walking-figure videos (320x240, 30 fps) of 20 to 39 frames (mixed lengths, so balancing
matters) with person boxes from a detections file (the synthetic YOLO has random weights and finds nobody);
the networks are the synthetic ones in the official layouts, so the per-frame cost is the real network's.
Each configuration starts from an empty output folder and is timed end to end as a user sees it (process
start, model loading in every worker, Ray start-up for the Ray run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def make_batch(folder: Path, n_clips: int) -> Path:
    import synthetic

    rows = []
    for k in range(n_clips):
        n = 20 + (k * 7) % 20  # 20..39 frames
        video = synthetic.write_synthetic_video(folder / f"clip{k:02d}.mp4", n_frames=n)
        boxes = folder / f"clip{k:02d}.json"
        boxes.write_text(json.dumps({"frames": [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t, n_frames=n)
                                                                           .tolist()]} for t in range(n)]}))
        rows.append(f"{video} --detections {boxes}")
    listing = folder / "clips.txt"
    listing.write_text("\n".join(rows) + "\n")
    return listing


def run(listing: Path, models: Path, out: Path, extra: list) -> dict:
    cmd = [sys.executable, "-m", "core", "batch", str(listing), "-o", str(out), "--models", str(models), "--device",
           "cpu", "--min-track-frames", "16", *extra]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(extra) or 'inline'} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    frames = sum(r["person_frames"] for r in records)
    return {"clips": len(records), "seconds": seconds, "clips_per_min": 60 * len(records) / seconds,
            "person_frames": frames, "person_frames_per_s": frames / seconds,
            "busy_s": sum(r["seconds"] for r in records)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=20)
    p.add_argument("--models", type=Path, help="models folder (default: build synthetic ones in a temp folder)")
    p.add_argument("--configs", default="1,2,ray2")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        models = args.models
        if models is None:
            import synthetic

            models = synthetic.write_models_dir(tmp / "models", seed=0, detector=False) if (tmp / "models").mkdir() \
                is None else None
        listing = make_batch(tmp / "clips", args.clips) if (tmp / "clips").mkdir() is None else None
        configs = {"1": ("1 worker (inline)", []), "2": ("2 worker processes", ["--workers", "2"]),
                   "ray2": ("Ray, 2 local actors", ["--ray", "local", "--workers", "2"])}
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}; {args.clips} clips")
        print("| configuration | wall s | clips/min | person-frames/s | busy s (sum of clip times) |")
        print("|---|---|---|---|---|")
        for key in args.configs.split(","):
            label, extra = configs[key]
            r = run(listing, models, tmp / f"out_{key}", extra)
            print(f"| {label} | {r['seconds']:.1f} | {r['clips_per_min']:.1f} | {r['person_frames_per_s']:.1f} | "
                  f"{r['busy_s']:.1f} |", flush=True)
        print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
