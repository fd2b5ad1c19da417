"""Network speed: ResNet-50 features and TCMR per frame, on the synthetic checkpoints (run by hand, not in CI).

    python bench/bench_network.py [--threads 2] [--frames 128] [--device cpu] [--models DIR]

Prints one markdown table (ms per frame; lower is better) to paste into bench/RESULTS.md. The reference point
(spec §5): the official code on a 2-core CPU takes ≈245 ms/frame for ResNet-50 and ≈77 ms/frame for TCMR incl.
SMPL. Rows:
- backbone: batch of 32 crops, channels-last vs contiguous weights.
- tcmr official path: every window built and run through ``torch.nn.GRU`` (the release's ops), 64 per call.
- tcmr predict_sequence: shared first-layer projections (default), with verts / joints only / no SMPL.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import core  # noqa: E402


def best_of(fn, repeats: int) -> float:
    """Minimum wall time of ``repeats`` runs after one warm-up (the machine may be shared)."""
    fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=128, help="track length for predict_sequence")
    ap.add_argument("--batch", type=int, default=32, help="crops per backbone call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--models", type=Path, default=None, help="folder with the two checkpoints (else synthetic)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        models = args.models
        if models is None:
            import synthetic

            models = Path(tmp)
            synthetic.write_tcmr_checkpoint(models / "tcmr_demo_model.pth.tar", seed=0)
            synthetic.write_spin_checkpoint(models / "spin_model_checkpoint.pth.tar", seed=0)
        rows = []
        rng = np.random.default_rng(0)
        crops = torch.from_numpy(rng.normal(size=(args.batch, 3, 224, 224)).astype(np.float32)).to(args.device)
        for channels_last in (True, False):
            backbone = core.load_backbone(models / "spin_model_checkpoint.pth.tar", device=args.device,
                                          channels_last=channels_last)

            def run_backbone():
                with torch.inference_mode():
                    backbone(crops)

            t = best_of(run_backbone, args.repeats)
            rows.append((f"backbone, batch {args.batch}, channels_last={channels_last}", 1000 * t / args.batch))

        model = core.load_tcmr(models / "tcmr_demo_model.pth.tar", device=args.device)
        feats = np.abs(rng.normal(size=(args.frames, 2048))).astype(np.float32)
        cases = [
            ("tcmr official path (nn.GRU, 64 windows/call) + SMPL verts", dict(shared=False)),
            ("tcmr predict_sequence + SMPL verts", dict()),
            ("tcmr predict_sequence + joints49 only", dict(with_verts=False)),
            ("tcmr predict_sequence, no SMPL", dict(with_smpl=False)),
            ("tcmr predict_sequence + SMPL verts, 128 windows/call", dict(batch_windows=128)),
        ]
        for label, kwargs in cases:
            t = best_of(lambda: model.predict_sequence(feats, **kwargs), args.repeats)
            rows.append((label, 1000 * t / args.frames))

    cpu = platform.processor() or platform.machine()
    print(f"\nmachine: {cpu}, torch {torch.__version__}, {args.threads} threads, device {args.device}, "
          f"N = {args.frames} frames\n")
    print("| what | ms / frame |")
    print("|---|---|")
    for label, ms in rows:
        print(f"| {label} | {ms:.1f} |")


if __name__ == "__main__":
    main()
