"""Speed benchmark (issue 8): model stage against the official scheme, whole captures per stage, Blender import.

    .venv/bin/python bench/bench_speed.py [--part model capture blender] [--frames 96] [--rounds 3]
                                          [--clip-frames 90] [--threads 2] [--models DIR]

Runs from a fresh checkout: without ``--models`` it writes official-layout checkpoints with random weights
(tests/synthetic.py; same compute as the real files) and a YOLO11s-sized detector to a temporary folder.
Prints markdown tables for bench/RESULTS.md, with the machine and its load (``os.getloadavg``) next to them.

- ``model``: the model stage through the public API — ``core.load_backbone`` on a track's crops (batches of 32),
  then ``predict_sequence`` of ``core.load_tcmr`` — against a plain implementation of the official scheme
  (``bench/official_scheme.py``: torchvision ResNet-50 NCHW fp32, one 16-frame window per frame through
  ``torch.nn.GRU``, SMPL for every window). Alternating rounds in one process; the ratio is per round, the
  median is reported. Outputs are compared (max error relative to each output's largest value). Each case
  runs with its allocator setting (``core.runtime.allocator``): the official scheme with glibc's defaults, as a plain
  process runs it, ours with freed memory kept, as ``core``'s loaders set it; rows of the official scheme
  with freed memory kept, and of ours with glibc's defaults, give the like-for-like ratios.
  On the CPU it ends with an arithmetic bound: the stage's FLOPs (``model_flops_per_frame``) over the fastest
  float32 rate measured in the process (``machine_peak_gflops``), i.e. the least time any implementation
  doing these multiplications could take, and the most it could gain over the official scheme.
- ``capture``: ``core.pipeline.run`` on synthetic 720p / 1080p clips with one and three walking figures,
  exact and ``--fast``. The detector is a real YOLO11s-sized network (random weights), so it costs what a
  real one costs, but it finds nobody; its boxes are replaced by the figures' ground-truth boxes (looked up
  by the frame's pixels) after the network ran. Per stage s/frame, end-to-end frames/s, and the accuracy
  cost of fast mode against exact mode: MPJPE / PA-MPJPE (mm) of the 24 SMPL joints between the two outputs
  and the box IoU of the bridged (``--detect-every``) boxes. Model loading (once per process; it includes the
  detector's set-up) is a column of its own, the stages exclude it. ``--ablation`` adds exact mode with one
  CPU lane and with two passes (features not streamed in pass 1); ``--textured`` clips decode as slowly as real
  footage. One untimed capture per clip first, then ``--rounds`` alternating rounds of every mode (medians).
- ``blender``: importing one person's motion of N frames (armature, keys, camera) with the bpy module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))


def machine() -> str:
    import torch

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        cpu = platform.processor() or platform.machine()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"{gpu}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def load() -> str:
    return "load %.1f / %.1f / %.1f" % os.getloadavg()


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


# ------------------------------------------------------------------------------------------ model stage
def bench_model(models: Path, frames: int, rounds: int, device: str) -> list[str]:
    import torch

    import core
    from core.runtime.allocator import keep_freed_memory
    from core.tcmr import spin_backbone_state_dict_from_file, tcmr_state_dict_from_file
    from official_scheme import load_official, run_official

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rng = np.random.default_rng(0)
    crops = torch.from_numpy(rng.normal(size=(frames, 3, 224, 224)).astype(np.float32))
    tcmr = core.load_tcmr(models / "tcmr_demo_model.pth.tar", device=device)
    backbone = core.load_backbone(models / "spin_model_checkpoint.pth.tar", device=device)
    fast_backbone = None
    from core.runtime.device import cpu_has_fast_bf16

    if device.startswith("cuda") or cpu_has_fast_bf16():
        fast_backbone = core.load_backbone(models / "spin_model_checkpoint.pth.tar", device=device,
                                           dtype=torch.bfloat16)
    off_backbone, off_tcmr = load_official(tcmr_state_dict_from_file(models / "tcmr_demo_model.pth.tar"),
                                           spin_backbone_state_dict_from_file(models / "spin_model_checkpoint.pth.tar"),
                                           tcmr.regressor.smpl)
    off_backbone.to(device)
    off_tcmr.to(device)

    def ours(net, with_smpl=False, windowing="ours"):
        def go():
            with torch.inference_mode():
                feats = torch.cat([net(crops[i:i + 32].to(device)).float() for i in range(0, frames, 32)])
            return tcmr.predict_sequence(feats.cpu().numpy(), windowing=windowing, with_smpl=with_smpl,
                                         with_verts=with_smpl)
        return go

    # every case runs with its allocator setting (core.runtime.allocator): the official scheme as a plain process runs
    # it (glibc's defaults: large blocks mmapped and unmapped when freed), ours as core's loaders set it (freed
    # memory kept); the "freed memory kept" official rows give the like-for-like ratio
    official_name = "official scheme (torchvision ResNet-50 NCHW fp32 + nn.GRU per window + SMPL verts)"
    official_kept = "official scheme, freed memory kept (core.runtime.allocator, as ours)"
    ours_exact = "ours, exact (fp32; default capture: no verts)"
    features_official_kept = "— ResNet-50 alone: official, freed memory kept"
    features_ours = "— ResNet-50 alone: ours, fused plan (batches of 32, CPU lanes)"
    from core.tcmr.float32 import exact_float32

    def run_off():  # the release ran on torch 1.4, before TensorFloat-32: full float32 on a GPU, as ours runs
        with exact_float32(device):
            return run_official(off_backbone, off_tcmr, crops.to(device))
    cases = {
        official_name: (run_off, False),
        official_kept: (run_off, True),
        ours_exact: (ours(backbone), True),
        "ours, exact, with SMPL verts + joints": (ours(backbone, with_smpl=True), True),
    }
    if fast_backbone is not None:
        cases["ours, fast (bf16 ResNet-50, fp32 TCMR)"] = (ours(fast_backbone), True)

    def features_only(net, batch):
        def go():
            with torch.inference_mode(), exact_float32(device):  # ours sets it anyway; the official needs it
                for i in range(0, frames, batch):
                    net(crops[i:i + batch].to(device))
        return go

    one_lane = core.load_backbone(models / "spin_model_checkpoint.pth.tar", device=device, lanes=1)
    cases["ours, exact, one lane (no CPU lanes)"] = (ours(one_lane), True)
    cases["ours, exact, glibc's defaults (freed memory handed back)"] = (ours(backbone), False)
    cases["— ResNet-50 alone: official (torchvision, NCHW, one batch)"] = (features_only(off_backbone, 256), False)
    cases[features_official_kept] = (features_only(off_backbone, 256), True)
    cases[features_ours] = (features_only(backbone, 32), True)
    cases["— ResNet-50 alone: ours, fused plan, one lane"] = (features_only(one_lane, 32), True)
    cases["— ResNet-50 alone: ours, fused plan, glibc's defaults"] = (features_only(backbone, 32), False)
    cases["— ResNet-50 alone: ours, layer by layer (fuse(False), batches of 32)"] = (features_only(
        core.load_backbone(models / "spin_model_checkpoint.pth.tar", device=device).fuse(False), 32), True)
    # accuracy first (official windowing so both predict the same windows)
    ref = run_off()
    exact = ours(backbone, with_smpl=True, windowing="official")()
    errors = {k: rel_err(exact[k], ref[k]) for k in ("rotmat", "betas", "cam", "scores", "verts", "joints49")}
    fast_err = None
    if fast_backbone is not None:
        fast = ours(fast_backbone, with_smpl=True, windowing="official")()
        fast_err = {k: rel_err(fast[k], ref[k]) for k in ("rotmat", "cam", "joints49")}
    times = {k: [] for k in cases}
    for fn, keep in cases.values():
        keep_freed_memory(keep)
        fn()  # warm-up (also builds the fused plan)
    load_before = load()
    for _ in range(rounds):
        for name, (fn, keep) in cases.items():
            keep_freed_memory(keep)
            sync()
            t = time.perf_counter()
            fn()
            sync()
            times[name].append(1000.0 * (time.perf_counter() - t) / frames)
    keep_freed_memory()
    load_after = load()
    official = times[official_name]
    lines = [f"model stage, {frames} frames, {rounds} alternating rounds, device {device}; {machine()}; "
             f"{load_before} before, {load_after} after", "",
             "| what | ms / frame (median; all rounds) | frames/s | speed-up vs official (median of per-round "
             "ratios) |",
             "|---|---|---|---|"]
    official_features = next((ts for name, ts in times.items() if name.startswith("—")), official)
    for name, ts in times.items():  # the ResNet-50-alone rows against the official ResNet-50 alone
        ratios = [o / t for o, t in zip(official_features if name.startswith("—") else official, ts)]
        median = statistics.median(ts)
        lines.append(f"| {name} | {_ms(median)} ({', '.join(_ms(t, 2) for t in ts)}) | {1000.0 / median:,.0f} | "
                     f"{statistics.median(ratios):.2f}× |")

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    lines += ["", "like for like, both keeping freed memory: ours exact "
              f"{ratio(official_kept, ours_exact):.2f}× "
              "the official scheme; ResNet-50 alone "
              f"{ratio(features_official_kept, features_ours):.2f}×"]
    lines += ["", "max error relative to each output's largest value, ours exact vs official scheme: " +
              ", ".join(f"{k} {v:.1e}" for k, v in errors.items())]
    if fast_err:
        lines.append("ours fast (bf16 ResNet-50) vs official: " + ", ".join(f"{k} {v:.1e}" for k, v in fast_err.items()))
    if device == "cpu":
        resnet, temporal = model_flops_per_frame(backbone, tcmr, frames)
        peak, rates = machine_peak_gflops()
        floor_ms = 1000.0 * (resnet + temporal) / peak
        lines += ["", f"arithmetic bound: ResNet-50 {resnet:.2f} + TCMR {temporal:.2f} GFLOP per frame; the fastest "
                  f"float32 rate measured here {peak:.0f} GFLOP/s ({rates}) -> at least {floor_ms:.1f} ms per "
                  f"frame for these multiplications, at most {statistics.median(official) / floor_ms:.2f}× the "
                  "official scheme's median"]
    return lines


def _ms(value: float, digits: int = 3) -> str:
    """Milliseconds for a table: one decimal from 10 ms up (the CPU's range), else ``digits`` significant
    figures (a GPU's fractions of a millisecond would all print as 0.1)."""
    if value >= 10:
        return f"{value:.{1 if digits >= 3 else 0}f}"
    return f"{value:.{digits}g}"


def _s(value: float) -> str:
    """Seconds per frame for a table: three decimals (the CPU's range), two significant figures below 1 ms
    (a GPU's stages would all print as 0.000)."""
    return f"{value:.3f}" if value >= 0.001 or value == 0 else f"{value:.2g}"


def model_flops_per_frame(backbone, tcmr, frames: int) -> tuple[float, float]:
    """Arithmetic of the exact model stage as ours runs it -> (ResNet-50 GFLOP per crop, TCMR GFLOP per frame).

    Counted by ``torch.utils.flop_counter`` (2 FLOPs per multiply-add) on the layer-by-layer ResNet-50 and on
    ``predict_sequence`` with the shared projections (the least arithmetic of any exact TCMR we know; its oneDNN
    recurrent products are counted as the plain ``F.linear`` they equal). No SMPL, no vertices.
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from core.tcmr import temporal

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        backbone.forward_layers(torch.zeros(1, 3, 224, 224))
    resnet = counter.get_total_flops() / 1e9
    recurrent = temporal.recurrent_linear
    temporal.recurrent_linear = lambda h, w, b=None: F.linear(h, w, b)
    try:
        feats = np.random.default_rng(1).normal(size=(frames, 2048)).astype(np.float32)
        with FlopCounterMode(display=False) as counter:
            tcmr.predict_sequence(feats, with_smpl=False, with_verts=False)
    finally:
        temporal.recurrent_linear = recurrent
    return resnet, counter.get_total_flops() / 1e9 / frames


def machine_peak_gflops(repeats: int = 5) -> tuple[float, str]:
    """The fastest float32 arithmetic this process reaches on the CPU -> (GFLOP/s, what reached it).

    Two candidates, best of ``repeats`` each: oneDNN's matmul of 2048² × 2048² on all torch threads, and a
    ResNet-50 3×3 convolution (256 channels, 14×14, 16 crops; oneDNN, fused bias + ReLU) run in every CPU lane
    at once, one thread each, as the fused plan runs. A bound for any implementation that does the same
    multiplications: it cannot beat the machine's best rate on every one of them.
    """
    import torch
    import torch.nn.functional as F
    from bench_network import best_of

    from core.runtime import lanes
    from core.tcmr.backbone import _has_mkldnn_pointwise
    from core.tcmr.temporal import _onednn_linear_ok

    def best(fn, flops):
        return flops / best_of(fn, repeats) / 1e9

    rates = {}
    with torch.inference_mode():
        a, w, b = torch.randn(2048, 2048), torch.randn(2048, 2048), torch.zeros(2048)
        if _onednn_linear_ok():
            rates["oneDNN matmul 2048³"] = best(
                lambda: torch.ops.mkldnn._linear_pointwise(a, w, b, "none", [], ""), 2 * 2048 ** 3)
        else:
            rates["matmul 2048³"] = best(lambda: F.linear(a, w, b), 2 * 2048 ** 3)
        n = lanes.lane_count(None, "cpu")
        xs = [torch.randn(16, 256, 14, 14).contiguous(memory_format=torch.channels_last) for _ in range(n)]
        k = torch.randn(256, 256, 3, 3).contiguous(memory_format=torch.channels_last)
        kb = torch.zeros(256)

        def conv(x):
            if _has_mkldnn_pointwise():
                return torch.ops.mkldnn._convolution_pointwise(x, k, kb, [1, 1], [1, 1], [1, 1], 1, "relu",
                                                               [None], "")
            return F.relu_(F.conv2d(x, k, kb, padding=1))
        rates[f"3×3 convolution in {n} lanes"] = best(
            lambda: lanes.run([lambda x=x: conv(x) for x in xs]), n * 2 * 16 * 14 * 14 * 256 * 256 * 9)
    name = max(rates, key=rates.get)
    return rates[name], ", ".join(f"{k} {v:.0f}" for k, v in rates.items())


# ---------------------------------------------------------------------------------------------- capture
def figure_boxes(t: int, n: int, width: int, height: int, people: int) -> list[list[float]]:
    """Ground-truth boxes of ``people`` walking figures (the synthetic figure, shifted and scaled)."""
    import synthetic

    out = []
    for p in range(people):
        scale = 1.0 - 0.2 * p
        b = synthetic.figure_box_xyxy(t, width, height, n)
        cx, cy = (b[0] + b[2]) / 2 + (p - (people - 1) / 2) * 0.28 * width, (b[1] + b[3]) / 2
        w, h = (b[2] - b[0]) * scale, (b[3] - b[1]) * scale
        out.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return out


def write_clip(path: Path, n: int, width: int, height: int, people: int, textured: bool = False) -> Path:
    """The synthetic clip. ``textured``: a fine-grained background that pans 2 px per frame, so decoding costs
    about what real footage costs (the plain clip's flat background decodes ~10× faster)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    rng = np.random.default_rng(3)
    if textured:
        wide = cv2.GaussianBlur(rng.integers(60, 190, size=(height, width + 2 * n, 3)).astype(np.uint8), (0, 0), 1)
    else:
        background = cv2.GaussianBlur(rng.integers(90, 150, size=(height, width, 3)).astype(np.uint8), (0, 0), 3)
    for t in range(n):
        img = np.ascontiguousarray(wide[:, 2 * t:2 * t + width]) if textured else background.copy()
        for k, (x0, y0, x1, y1) in enumerate(figure_boxes(t, n, width, height, people)):
            cx, h = (x0 + x1) / 2, y1 - y0
            swing = 0.12 * h * np.sin(t * 0.5 + k)
            head, neck, hip = (int(cx), int(y0 + 0.08 * h)), (int(cx), int(y0 + 0.18 * h)), (int(cx), int(y0 + 0.55 * h))
            cv2.circle(img, head, int(0.07 * h), (150, 180, 220), -1)
            cv2.line(img, neck, hip, (40 + 60 * k, 60, 160), max(2, int(0.1 * h)))
            for sign in (-1, 1):
                cv2.line(img, hip, (int(cx + sign * swing), int(y1)), (30, 30, 30), max(2, int(0.05 * h)))
                cv2.line(img, neck, (int(cx - sign * swing), int(y0 + 0.5 * h)), (150, 180, 220), max(2, int(0.035 * h)))
        writer.write(img)
    writer.release()
    return path


def _frame_key(frame_rgb) -> str:
    return hashlib.blake2b(np.ascontiguousarray(frame_rgb[::8, ::8]).tobytes(), digest_size=12).hexdigest()


class GroundTruthDetector:
    """Runs the real (random-weight) YOLO on every frame it is given — the cost of detection — then returns the
    figures' true boxes for those frames (found by the frame's pixels)."""

    def __init__(self, yolo, boxes_by_key: dict):
        self.yolo, self.boxes_by_key = yolo, boxes_by_key
        self.seconds, self.frames = 0.0, 0

    def __call__(self, frames_rgb_u8):
        t = time.perf_counter()
        self.yolo(frames_rgb_u8)
        self.seconds += time.perf_counter() - t
        self.frames += len(frames_rgb_u8)
        out = []
        for f in frames_rgb_u8:
            b = np.asarray(self.boxes_by_key[_frame_key(f)], np.float32).reshape(-1, 4)
            out.append((b, np.full(len(b), 0.9, np.float32)))
        return out


def joints24(model, track) -> np.ndarray:
    """(N, 24, 3) posed SMPL joints (metres, root-relative frame of the body) from the track's rotmat + betas."""
    from core.smpl import forward_kinematics, rest_joints

    rest = rest_joints(model.smpl_arrays, track.betas.mean(0))
    posed, _ = forward_kinematics(rest, track.rotmat.astype(np.float64))
    return posed


def joint_errors_mm(pred, ref) -> tuple[float, float]:
    """(MPJPE, PA-MPJPE) in mm between two (N, 24, 3) joint sets (core.metrics, spec §4)."""
    from core.metrics import mpjpe, pa_mpjpe

    return float(mpjpe(pred, ref).mean() * 1000), float(pa_mpjpe(pred, ref).mean() * 1000)


def box_iou(a, b):
    lo, hi = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def bench_capture(models: Path, n: int, sizes, people_list, device: str, work: Path,
                  overlap: bool = True, ablation: bool = False, textured: bool = False, rounds: int = 1) -> list[str]:
    import torch

    from core.config import FAST_DETECT_EVERY, FAST_DETECTOR_SIZE, CaptureConfig, SpeedConfig
    from core.capture.crop import crop_person
    from core.pipeline import load_models, run
    from core.runtime.device import fast_precision
    from core.capture.tracking import PersonDetector, bbox_xyxy_to_cxcys
    from core.capture.video import VideoReader

    lines = [f"whole capture, {n}-frame synthetic clips{' (textured, panning)' if textured else ''}, device {device}, "
             f"decode thread {'on' if overlap else 'off'}; "
             f"{machine()}", "",
             "| clip | mode | decode | detect + track | crop | features | temporal | refine | write | "
             "total s/frame | **frames/s** (median; rounds) | models loaded (s, once per process) | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    accuracy = ["", "| clip | fast vs exact: MPJPE (mm) | PA-MPJPE (mm) | box IoU of bridged boxes (min / mean) |",
                "|---|---|---|---|"]
    import core.pipeline as pipeline

    refine_s = [0.0]
    plain_refine = pipeline.refine_capture

    def timed_refine(result, config):  # the refine stage is not in meta["timings_s"]: time it here
        t0 = time.perf_counter()
        try:
            return plain_refine(result, config)
        finally:
            refine_s[0] += time.perf_counter() - t0

    pipeline.refine_capture = timed_refine
    modes = {"exact": SpeedConfig(overlap=overlap),
             "fast": SpeedConfig(precision=fast_precision(device), detect_every=FAST_DETECT_EVERY, overlap=overlap)}
    if ablation:  # what the CPU lanes and the streamed features each bring (same numbers as "exact")
        modes["exact, one lane"] = SpeedConfig(overlap=overlap, lanes=1)
        modes["exact, two passes"] = SpeedConfig(overlap=overlap, stream_features=False)
    for width, height in sizes:
        for people in people_list:
            clip = write_clip(work / f"clip_{width}_{people}.mp4", n, width, height, people, textured)
            keys = {}
            t = time.perf_counter()
            for chunk in VideoReader(str(clip)).scan():
                for fid, f in zip(chunk.frame_ids.tolist(), chunk.frames_rgb_u8):
                    keys[_frame_key(f)] = figure_boxes(fid, n, width, height, people)
            decode_s = (time.perf_counter() - t) / n
            # crop cost alone (OpenCV warp of every person box)
            reader_frames = next(iter(VideoReader(str(clip)).scan(16))).frames_rgb_u8
            t = time.perf_counter()
            for k, f in enumerate(reader_frames):
                for b in figure_boxes(k, n, width, height, people):
                    crop_person(f, bbox_xyxy_to_cxcys(np.array(b))[0])
            crop_s = (time.perf_counter() - t) / len(reader_frames)
            results, setups = {}, {}
            for mode, speed in modes.items():
                size = FAST_DETECTOR_SIZE if mode == "fast" else CaptureConfig().tracker.image_size
                config = CaptureConfig(models_dir=str(models), device=device, speed=speed)
                config = replace(config, tracker=replace(config.tracker, image_size=size))
                t = time.perf_counter()
                loaded = load_models(config, detector=False)
                yolo = PersonDetector(models / "yolo11s.pt", loaded.device.type, size, 0.25, 16, lanes=speed.lanes)
                load_s = time.perf_counter() - t
                torch.set_num_threads(torch.get_num_threads())  # (the detector's guard restores it)
                loaded.detector = GroundTruthDetector(yolo, keys)
                setups[mode] = (config, loaded, load_s)
            # one untimed capture first: oneDNN builds its kernels for each new shape once per process (like
            # loading the models, not a per-frame cost); then the modes alternate, medians reported
            run(str(clip), setups["exact"][0], models=setups["exact"][1])
            runs = {mode: [] for mode in modes}
            for _ in range(max(1, rounds)):
                for mode, (config, loaded, load_s) in setups.items():
                    before = load()
                    refine_s[0] = 0.0
                    t = time.perf_counter()
                    result = run(str(clip), config, models=loaded)
                    wall = time.perf_counter() - t
                    t = time.perf_counter()
                    result.save(str(work / f"out_{mode}.npz"))
                    write_s = time.perf_counter() - t
                    tm = result.meta["timings_s"]
                    runs[mode].append({"detect": tm.get("detect", 0), "features": tm.get("features", 0),
                                       "regress": tm.get("regress", 0), "refine": refine_s[0], "write": write_s,
                                       "total": wall + write_s, "load": before})
                    results[mode] = result
            for mode, rs in runs.items():
                med = {k: statistics.median(r[k] for r in rs) / n for k in ("detect", "features", "regress",
                                                                            "refine", "write", "total")}
                row = [f"{width}×{height}, {people} person{'s' if people > 1 else ''}", mode,
                       _s(decode_s), _s(med["detect"]), _s(crop_s), _s(med["features"]), _s(med["regress"]),
                       _s(med["refine"]), _s(med["write"]), _s(med["total"]),
                       f"**{1.0 / med['total']:.1f}** ({', '.join(format(n / r['total'], '.1f') for r in rs)})",
                       f"{setups[mode][2]:.1f}", "load " + " … ".join(r["load"].split()[1] for r in (rs[0], rs[-1]))]
                lines.append("| " + " | ".join(row) + " |")
                print(lines[-1], flush=True)
            exact, fast = results["exact"], results["fast"]
            model = load_models(CaptureConfig(models_dir=str(models), device="cpu"), detector=False).tcmr
            mp, pa, ious = [], [], []
            for te in exact.tracks:
                tf = min(fast.tracks, key=lambda t: abs(int(np.median(t.bbox_xyxy[:, 0])) - int(np.median(te.bbox_xyxy[:, 0]))))
                common, ie, i_f = np.intersect1d(te.frame_ids, tf.frame_ids, return_indices=True)
                je, jf = joints24(model, te)[ie], joints24(model, tf)[i_f]
                a, b = joint_errors_mm(jf, je)
                mp.append(a)
                pa.append(b)
                ious.append(box_iou(tf.bbox_xyxy[i_f], te.bbox_xyxy[ie]))
            iou = np.concatenate(ious)
            accuracy.append(f"| {width}×{height}, {people} person{'s' if people > 1 else ''} | {np.mean(mp):.1f} | "
                            f"{np.mean(pa):.1f} | {iou.min():.3f} / {iou.mean():.3f} |")
            os.remove(clip)
    return lines + accuracy


# ---------------------------------------------------------------------------------------------- blender
BLENDER_SCRIPT = r"""
import sys, time, json
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
import numpy as np
import bpy, addon_utils
from pathlib import Path
frames_list = [int(x) for x in sys.argv[4].split(",")]
import synthetic
from tcmr_mocap.blender_addon.scene import builder
from tcmr_mocap.core.result import MotionResult, TrackMotion
from tcmr_mocap.core import smpl as smpl_mod
arrays = synthetic.make_smpl_arrays(seed=0)
stored = [0.0]
try:  # the raw result kept in the .blend for later refining (blender_addon/scene/raw_store.py), timed apart
    from tcmr_mocap.blender_addon.scene import raw_store
    plain_remember = raw_store.remember

    def remember(*a, **k):
        t1 = time.perf_counter()
        try:
            return plain_remember(*a, **k)
        finally:
            stored[0] += time.perf_counter() - t1
    raw_store.remember = remember
except ImportError:
    pass
out = []
for n in frames_list:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("tcmr_mocap", default_set=True, handle_error=None)
    rng = np.random.default_rng(0)
    aa = rng.normal(scale=0.3, size=(n, 24, 3))
    from tcmr_mocap.core.rotations import axis_angle_to_rotmat
    rotmat = axis_angle_to_rotmat(aa).astype(np.float32)
    betas = np.zeros((n, 10), np.float32)
    rest = smpl_mod.rest_joints(arrays, betas[0]).astype(np.float32)
    t = TrackMotion(track_id=1, frame_ids=np.arange(n), bbox_xyxy=np.tile([100, 50, 300, 500], (n, 1)).astype(np.float32),
        bbox_cxcys=np.tile([200, 275, 540], (n, 1)).astype(np.float32), interpolated=np.zeros(n, bool), rotmat=rotmat,
        pose_aa=aa.astype(np.float32), betas=betas, cam=np.tile([1, 0, 0], (n, 1)).astype(np.float32),
        orig_cam=np.tile([0.5, 0.5, 0, 0], (n, 1)).astype(np.float32),
        transl_cam=np.tile([0, 0, 5], (n, 1)).astype(np.float32), scores=np.full((n, 3), 1 / 3, np.float32),
        rest_joints=rest, v_shaped=smpl_mod.shaped_vertices(arrays, betas[0]).astype(np.float32))
    res = MotionResult(video_path="walk.mp4", fps=30.0, width=1280, height=720, num_frames=n, focal_length_px=1468.6,
        timestamps_s=np.arange(n) / 30.0, tracks=[t], smpl_faces=np.asarray(arrays["f"], np.int64),
        smpl_lbs_weights=np.asarray(arrays["weights"], np.float32), meta={})
    path = Path(sys.argv[3]) / f"motion_{n}.npz"
    res.save(str(path))
    for rep in range(3):
        for mesh in (False, True):
            bpy.ops.wm.read_factory_settings(use_empty=True)
            addon_utils.enable("tcmr_mocap", default_set=True, handle_error=None)
            stored[0] = 0.0
            t0 = time.perf_counter()
            builder.import_file(bpy.context, str(path), builder.BuildOptions(create_mesh=mesh))
            out.append([n, mesh, time.perf_counter() - t0, stored[0]])
print("RESULT " + json.dumps(out))
"""


def bench_blender(frames_list, work: Path) -> list[str]:
    import shutil

    pkg = work / "pkg"
    pkg.mkdir(exist_ok=True)
    if not (pkg / "tcmr_mocap").exists():
        os.symlink(REPO, pkg / "tcmr_mocap", target_is_directory=True)
    script = work / "bl_bench.py"
    script.write_text(BLENDER_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(pkg), str(REPO / "tests"), str(work),
                           ",".join(str(n) for n in frames_list)], capture_output=True, text=True, timeout=1800)
    shutil.rmtree(pkg, ignore_errors=True)
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not line:
        return [f"blender import failed: {done.stderr.strip()[-1500:]}"]
    rows = json.loads(line[0][len("RESULT "):])
    lines = [f"Blender import (bpy module {_bpy_version()}), one person, median of 3; {machine()}; {load()}", "",
             "| frames | armature + keys + camera (s) | of which storing the raw result (raw_store) | "
             "+ skinned SMPL mesh (s) |", "|---|---|---|---|"]
    by_n = {}
    for n, mesh, s, stored in rows:
        by_n.setdefault(n, {}).setdefault(mesh, []).append((s, stored))
    for n, d in by_n.items():
        arm = sorted(d[False])[len(d[False]) // 2]
        body = sorted(d[True])[len(d[True]) // 2]
        lines.append(f"| {n} | {arm[0]:.2f} | {arm[1]:.2f} | {body[0]:.2f} |")
    return lines


def _bpy_version() -> str:
    try:
        import importlib.metadata as md

        return md.version("bpy")
    except Exception:
        return "?"


# ------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", nargs="+", default=["model", "capture", "blender"],
                    choices=["model", "capture", "blender"])
    ap.add_argument("--frames", type=int, default=96, help="track length for the model stage")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clip-frames", type=int, default=90, help="frames per synthetic clip (capture part)")
    ap.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    ap.add_argument("--people", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--blender-frames", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-overlap", action="store_true", help="capture part: no decode thread (for comparison)")
    ap.add_argument("--textured", action="store_true",
                    help="capture part: clips with a panning, fine-grained background (decoding costs what real "
                         "footage costs)")
    ap.add_argument("--ablation", action="store_true",
                    help="capture part: also exact mode with one CPU lane, and with two passes (no streamed features)")
    ap.add_argument("--models", type=Path, default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="tcmr_speed_") as tmp:
        work = Path(tmp)
        models = args.models
        if models is None and ("model" in args.part or "capture" in args.part):
            import synthetic

            models = work / "models"
            synthetic.write_models_dir(models, seed=0, detector=False)
            synthetic.write_detector_weights(models / "yolo11s.pt", variant="yolo11s.yaml")
            torch.set_num_threads(args.threads)  # ultralytics resets it
        print(f"command: {' '.join(sys.argv)}", flush=True)
        if "model" in args.part:
            print("\n".join(bench_model(models, args.frames, args.rounds, args.device)) + "\n", flush=True)
        if "capture" in args.part:
            sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
            print("\n".join(bench_capture(models, args.clip_frames, sizes, args.people, args.device, work,
                                             overlap=not args.no_overlap, ablation=args.ablation,
                                             textured=args.textured, rounds=args.rounds)) + "\n",
                  flush=True)
        if "blender" in args.part:
            print("\n".join(bench_blender(args.blender_frames, work)) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
