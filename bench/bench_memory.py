"""Peak memory of a capture versus video length (run by hand; results go to bench/RESULTS.md).

Claim under test: decoding, cropping and feature extraction stream in chunks, so a long video needs no
more RAM than a short one apart from the per-frame result arrays (~10 KB per person-frame).

    python bench/bench_memory.py [--frames 60 600] [--width 1920 --height 1080] [--models DIR]

Builds synthetic 1080p videos of each length and a synthetic models folder (unless --models is given),
runs ``python -m core capture`` on each with ``--detections`` (the synthetic detector has random weights),
and prints the peak resident memory of each run (``ru_maxrss`` of the child process). ``--tracker botsort``
makes pass 1 decode the pixels (BoT-SORT looks at them), so the features are streamed in pass 1 as with a
detector.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import synthetic  # noqa: E402


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` in a fresh child (via a tiny wrapper so ru_maxrss is this run's alone): (MB, seconds)."""
    wrapper = (
        "import resource, subprocess, sys, json;"
        "rc = subprocess.call(sys.argv[1:]);"
        "print(json.dumps([rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    rc, maxrss_kb = json.loads(out.stdout.strip().splitlines()[-1])
    if rc != 0:
        raise SystemExit(f"capture failed ({rc}): {out.stderr.strip().splitlines()[-1:]}")
    return maxrss_kb / 1024.0, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, nargs="+", default=[60, 600])
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--models", type=Path, default=None)
    ap.add_argument("--tracker", choices=("bytetrack", "botsort"), default="bytetrack")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = args.models or synthetic.write_models_dir(tmp / "models", detector=False)
        print(f"tracker {args.tracker}\n| frames | size | peak RSS (MB) | wall (s) |\n|---|---|---|---|")
        for n in args.frames:
            video = synthetic.write_synthetic_video(tmp / f"v{n}.mp4", n_frames=n, width=args.width,
                                                    height=args.height)
            boxes = tmp / f"boxes{n}.json"
            frames = [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t, args.width, args.height, n).tolist()]}
                      for t in range(n)]
            boxes.write_text(json.dumps({"frames": frames}))
            cmd = [sys.executable, "-m", "core", "capture", str(video), "-o", str(tmp / f"out{n}.npz"),
                   "--models", str(models), "--detections", str(boxes), "--device", "cpu", "--tracker", args.tracker]
            mb, seconds = peak_rss_mb(cmd)
            print(f"| {n} | {args.width}×{args.height} | {mb:.0f} | {seconds:.1f} |", flush=True)
            os.remove(video)


if __name__ == "__main__":
    main()
