"""Seconds per frame of a whole capture on the synthetic video: decode, detect (YOLO + ByteTrack), features, regress.

    .venv/bin/python bench/bench_pipeline.py [--frames 120] [--size 640x360] [--models DIR] [--device cpu]

Without ``--models`` a synthetic models directory (official layouts, random weights, ~500 MB) is written to a
temporary folder first. The synthetic detector has random weights and finds nobody, so the detect stage is
timed on its own (its cost does not depend on what it finds) and the capture itself runs on the figure's
ground-truth boxes (``--detections``, linked by ByteTrack). Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the synthetic video")
    parser.add_argument("--models", help="models folder (default: write synthetic ones to a temp folder)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    import torch

    import synthetic
    from core.config import CaptureConfig, SmoothingConfig
    from core.pipeline import run
    from core.capture.tracking import PersonDetector, PersonTracker
    from core.capture.video import VideoReader

    work = Path(tempfile.mkdtemp(prefix="tcmr_bench_"))
    models = Path(args.models) if args.models else synthetic.write_models_dir(work / "models")
    video = synthetic.write_synthetic_video(work / "walk.mp4", n_frames=args.frames, width=width, height=height)
    boxes = [synthetic.figure_box_xyxy(t, width, height, args.frames).tolist() for t in range(args.frames)]
    dets = work / "boxes.json"
    dets.write_text(json.dumps({"frames": [{"frame": t, "bbox_xyxy": [b]} for t, b in enumerate(boxes)]}))
    n = args.frames

    t0 = time.perf_counter()
    for _ in VideoReader(video).scan():
        pass
    decode_s = time.perf_counter() - t0

    detector = PersonDetector(models / "yolo11s.pt", args.device)
    tracker = PersonTracker("bytetrack")
    t0 = time.perf_counter()
    pos = 0
    for chunk in VideoReader(video).scan():
        for found in detector(chunk.frames_rgb_u8):
            tracker.update(pos, *found)
            pos += 1
    detect_s = time.perf_counter() - t0

    config = CaptureConfig(models_dir=str(models), device=args.device, detections_path=str(dets),
                           smoothing=SmoothingConfig(enabled=True))
    t0 = time.perf_counter()
    result = run(str(video), config)
    capture_s = time.perf_counter() - t0
    timings = result.meta["timings_s"]
    frames = sum(len(t) for t in result.tracks)

    rows = {
        "decode": decode_s / n,
        "detect (YOLO + ByteTrack, incl. decode)": detect_s / n,
        "features (decode + crop + ResNet-50)": timings["features"] / frames,
        "regress (TCMR + camera + smoothing)": timings["regress"] / frames,
        "model loading (once per run, s)": timings["open"],
    }
    total = rows["detect (YOLO + ByteTrack, incl. decode)"] + rows["features (decode + crop + ResNet-50)"] \
        + rows["regress (TCMR + camera + smoothing)"]
    print(f"{n} frames {width}x{height}, device {args.device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    for name, value in rows.items():
        print(f"  {name:45s} {value:8.3f}" + ("" if "once" in name else " s/frame"))
    print(f"  {'total per frame (detect + features + regress)':45s} {total:8.3f} s/frame")
    print(f"  {'capture wall time with --detections':45s} {capture_s:8.1f} s")
    print(json.dumps({"frames": n, "size": [width, height], "device": args.device, "s_per_frame": total,
                      "stages_s_per_frame": rows, "capture_s": capture_s}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
