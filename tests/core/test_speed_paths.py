"""The speed paths: the fast *exact* ones equal the plain ones to float32 rounding; the opt-in fast mode is sane.

- ResNet-50's fused inference plan (BN folded, oneDNN fused convolutions) == the layer-by-layer forward;
- the model stage through the public API (load_backbone -> predict_sequence) == the plain official-scheme
  path (unfused layers, every window built and run through torch.nn.GRU), within 1e-5 on the same features
  and 2e-5 end to end;
- bf16 features stay close to fp32 (fast mode), the GPU crop (grid_sample) matches the OpenCV crop,
- the prefetch thread keeps order, errors and clean-up; --detect-every interpolates between detections;
- the CLI's --fast preset and the precision checks.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest
import torch

import core
import synthetic
from core.config import CaptureConfig, SpeedConfig
from core.capture.crop import IMAGENET_STD, crop_people_torch, crop_person, crops_to_imagenet
from core.errors import InvalidArgumentError
from core.capture.features import prefetch
from core.runtime.device import cpu_has_fast_bf16


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture(scope="module")
def backbone(spin_checkpoint):
    return core.load_backbone(spin_checkpoint)


@pytest.fixture(scope="module")
def crops():
    return torch.from_numpy(np.random.default_rng(1).normal(size=(3, 3, 224, 224)).astype(np.float32))


# ---------------------------------------------------------------------------------------------- backbone
def test_fused_plan_equals_layer_by_layer(backbone, crops):
    given = crops.clone()
    with torch.inference_mode():
        fused = backbone(crops)
        plain = backbone.forward_layers(crops)
    assert backbone._plan is not None and backbone._plan.usable  # the plan really ran
    assert rel_err(fused, plain) < 1e-5
    assert torch.equal(crops, given)  # the residual adds write into the block's own tensors, never the input


def test_recurrent_linear_is_f_linear_and_keeps_autograd():
    from core.tcmr.temporal import _gru_layer, recurrent_linear

    rng = np.random.default_rng(3)
    h = torch.from_numpy(rng.normal(size=(96, 1024)).astype(np.float32))
    w = torch.from_numpy(rng.normal(0, 0.03, size=(3072, 1024)).astype(np.float32))
    b = torch.from_numpy(rng.normal(size=3072).astype(np.float32))
    ref = torch.nn.functional.linear(h.double(), w.double(), b.double())
    with torch.inference_mode():
        out = recurrent_linear(h, w, b)
    assert out.shape == (96, 3072) and out.dtype == torch.float32
    assert rel_err(out, ref) < 1e-6  # float32 rounding of a 1024-long sum
    # with autograd on, the plain path runs and gradients flow
    gi = torch.from_numpy(rng.normal(size=(3, 2, 3 * 4)).astype(np.float32)).requires_grad_()
    w_hh = torch.from_numpy(rng.normal(size=(12, 4)).astype(np.float32)).requires_grad_()
    _gru_layer(gi, w_hh, torch.zeros(12)).sum().backward()
    assert gi.grad is not None and w_hh.grad is not None and w_hh.grad.abs().sum() > 0


def test_plan_follows_weight_changes(spin_checkpoint, crops):
    net = core.load_backbone(spin_checkpoint)
    with torch.inference_mode():
        before = net(crops[:1])
    with torch.no_grad():
        net.layer4[2].bn3.bias.add_(20.0)  # in place: the plan must notice and rebuild
    with torch.inference_mode():
        after, plain = net(crops[:1]), net.forward_layers(crops[:1])
    assert rel_err(after, before) > 1e-3
    assert rel_err(after, plain) < 1e-5


def test_plan_off_and_with_autograd_run_the_layers(spin_checkpoint, crops):
    net = core.load_backbone(spin_checkpoint).fuse(False)
    with torch.inference_mode():
        a = net(crops[:1])
        b = net.forward_layers(crops[:1])
    assert net._plan is None and torch.equal(a, b)
    net.fuse(True)
    with torch.no_grad():
        net(crops[:1])
    assert net._plan is not None


def test_float64_backbone_is_not_fused(spin_checkpoint, crops):
    net = core.load_backbone(spin_checkpoint, dtype=torch.float64)
    with torch.inference_mode():
        out = net(crops[:1].double())
    assert out.dtype == torch.float64 and not net._plan.usable


@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="CPU without bfloat16")
def test_bf16_features_are_close(spin_checkpoint, backbone, crops):
    fast = core.load_backbone(spin_checkpoint, dtype=torch.bfloat16)
    with torch.inference_mode():
        ref = backbone(crops)
        out = fast(crops).float()
    err = rel_err(out, ref)
    assert 0 < err < 0.03  # bf16 has 8 mantissa bits: a few 1e-3 relative, never exact


# ------------------------------------------------------------------------------------------ model stage
def test_model_stage_equals_the_plain_official_path(spin_checkpoint, tcmr_checkpoint, crops):
    """load_backbone -> predict_sequence (fused plan, shared GRU projections) == the plain path."""
    rng = np.random.default_rng(2)
    n = 24
    track = torch.from_numpy(rng.normal(size=(n, 3, 224, 224)).astype(np.float32))
    net = core.load_backbone(spin_checkpoint)
    model = core.load_tcmr(tcmr_checkpoint)
    with torch.inference_mode():
        fast_feats = torch.cat([net(track[i:i + 8]) for i in range(0, n, 8)]).numpy()
        plain_feats = torch.cat([net.forward_layers(track[i:i + 8]) for i in range(0, n, 8)]).numpy()
    assert rel_err(fast_feats, plain_feats) < 1e-5
    for windowing in ("ours", "official"):
        plain = model.predict_sequence(plain_feats, windowing=windowing, shared=False, with_verts=False)
        shared = model.predict_sequence(plain_feats, windowing=windowing, with_verts=False)
        fast = model.predict_sequence(fast_feats, windowing=windowing, with_verts=False)
        for key in ("rotmat", "betas", "cam", "scores", "joints49"):
            scale = np.abs(plain[key]).max()
            # the same features: the shared GRU projections within the parity tests' bound (test_windowing)
            np.testing.assert_allclose(shared[key], plain[key], rtol=1e-5, atol=1e-5 * scale,
                                       err_msg=f"{windowing} {key}, same features")
            # end to end: the fused plan's features differ from the layers' by float32 rounding (~5e-7 of their
            # largest), which the small heads carry to ~1.2e-5 of their own largest value (betas: |β| ≤ 0.05 from
            # features of order 1; an AVX-512 Xeon): twice the bound, still far below any real error
            np.testing.assert_allclose(fast[key], plain[key], rtol=2e-5, atol=2e-5 * scale,
                                       err_msg=f"{windowing} {key}, end to end")


# ----------------------------------------------------------------------------------------------- crops
def _test_image(h=240, w=320):
    import cv2

    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3)


def test_gpu_crop_matches_the_opencv_crop():
    """Run on CPU tensors here: the same function runs on the GPU in a capture."""
    img = _test_image()
    boxes = np.array([[160, 120, 100], [10, 20, 80], [300, 200, 250.5], [100.3, 130.7, 37.2]])
    ref = crops_to_imagenet(np.stack([crop_person(img, b) for b in boxes]))
    out = crop_people_torch(torch.from_numpy(img), boxes).numpy()
    assert out.shape == ref.shape == (4, 3, 224, 224) and out.dtype == np.float32
    grey = np.abs(out - ref) * IMAGENET_STD[None, :, None, None] * 255.0  # difference in grey levels
    assert grey.mean() < 0.3
    assert grey.max() < 3.0  # along the frame's edge (image meets black) OpenCV's 1/32-pixel grid shows
    # inside the frame: about one grey level (OpenCV rounds to uint8 and positions to 1/32 pixel)
    inside = crop_people_torch(torch.from_numpy(img), boxes[:1]).numpy()
    assert (np.abs(inside - ref[:1]) * IMAGENET_STD[None, :, None, None] * 255.0).max() <= 1.01
    # a wrong crop (half a pixel off) would be far outside these bounds
    shifted = crop_people_torch(torch.from_numpy(img), boxes[:1] + np.array([0.5, 0.5, 0.0])).numpy()
    assert (np.abs(shifted - ref[:1]) * IMAGENET_STD[None, :, None, None] * 255.0).max() > 1.5


def test_gpu_crop_rejects_bad_boxes():
    with pytest.raises(ValueError):
        crop_people_torch(torch.from_numpy(_test_image()), np.array([[10.0, 10.0, 0.0]]))


# -------------------------------------------------------------------------------------------- prefetch
def test_prefetch_keeps_order_and_raises_errors():
    with prefetch(iter(range(50)), depth=2) as items:
        assert list(items) == list(range(50))

    def broken():
        yield 1
        raise ValueError("boom")

    with prefetch(broken()) as items:
        it = iter(items)
        assert next(it) == 1
        with pytest.raises(ValueError, match="boom"):
            next(it)


def test_prefetch_stopped_early_closes_the_source():
    closed = []

    def source():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append(True)

    with prefetch(source()) as items:
        for i in items:
            if i == 3:
                break
    assert closed == [True]


def _endless(closed: list):
    try:
        while True:
            time.sleep(0.001)
            yield 0
    finally:
        closed.append(True)


def test_ctrl_c_while_a_thread_starts_is_raised_after_it(monkeypatch):
    """A SIGINT while prefetch (or a lane) starts its thread is held back and raised right after, once the
    thread is recorded: the prefetch worker is then stopped at once, not lost."""
    import os
    import signal
    import threading

    from core.capture import features
    from core.runtime.interrupts import deferred_interrupts

    real_start = threading.Thread.start

    def start_with_ctrl_c(self):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the thread is being started
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_with_ctrl_c)
    closed: list = []
    worker = None
    with pytest.raises(KeyboardInterrupt):
        worker = prefetch(_endless(closed))
    monkeypatch.undo()
    assert worker is None and closed == [True]  # started, then stopped and its source closed
    assert not [w for w in list(features._LIVE) if w._thread.is_alive()]
    # outside the block Ctrl-C is immediate; an ignored SIGINT stays ignored
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            held = True
        raise AssertionError("not raised after the block")
    assert held
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_prefetch_left_open_is_stopped_at_exit():
    """A worker whose ``with`` block never ran (an interrupt between creating and entering it) is stopped by the
    exit hook, before Python finalises its daemon threads."""
    from core.capture import features

    closed: list = []
    worker = prefetch(_endless(closed))
    assert worker in features._LIVE and worker._thread.is_alive()
    features._close_live_prefetchers()
    assert closed == [True] and not worker._thread.is_alive() and worker not in features._LIVE


# ------------------------------------------------------------------------------------- detect every k
def test_detect_every_interpolates_between_detections(tmp_path, synthetic_video):
    """The detector on every 3rd frame only: the track covers the clip, the rows in between are interpolated,
    and the boxes stay close to the every-frame ones (box IoU). (A stand-in detector that knows the figure's
    box for each frame it is shown.)"""
    from core.pipeline import _detect_and_track, _Reporter
    from core.capture.video import VideoReader

    n = 40
    frames = np.concatenate([c.frames_rgb_u8 for c in VideoReader(str(synthetic_video)).scan()]).astype(np.int16)
    shown = []

    def detector(pixels):  # (k, H, W, 3) -> [(boxes (1, 4), scores (1,))] per frame
        out = []
        for image in pixels:
            t = int(np.abs(frames - image).mean(axis=(1, 2, 3)).argmin())  # which frame this is
            shown.append(t)
            out.append((synthetic.figure_box_xyxy(t, 320, 240, n)[None], np.array([0.9], dtype=np.float32)))
        return out

    out = {}
    for every in (1, 3):
        shown.clear()
        config = CaptureConfig(speed=SpeedConfig(detect_every=every))
        _, _, tracks = _detect_and_track(VideoReader(str(synthetic_video)), config, detector, None,
                                         _Reporter(None, None))
        assert len(tracks) == 1 and shown == list(range(0, n, every))  # the detector saw every k-th frame only
        out[every] = tracks[0]
    exact, sparse = out[1], out[3]
    assert not exact.interpolated.any()
    assert sparse.interpolated.sum() >= len(sparse) // 2  # two of every three rows filled in
    assert not sparse.interpolated[::3].any()
    common = np.intersect1d(exact.frame_ids, sparse.frame_ids)
    assert len(common) >= n - 3  # at most the rows after the last detection are lost
    a = exact.bbox_xyxy[np.searchsorted(exact.frame_ids, common)]
    b = sparse.bbox_xyxy[np.searchsorted(sparse.frame_ids, common)]
    assert box_iou(a, b).min() > 0.9


def test_detect_every_never_thins_out_boxes_from_a_file(tmp_path, synthetic_video):
    """Issue 24 (6): `--fast --detections FILE` used only every 3rd box of the file (--detect-every 3 is for the
    detector's cost; given boxes cost nothing): every row comes from the file, none is interpolated."""
    import json

    from core.pipeline import _detect_and_track, _Reporter
    from core.capture.tracking import load_detections
    from core.capture.video import VideoReader

    n = 40
    boxes = [synthetic.figure_box_xyxy(t, 320, 240, n) for t in range(n)]
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"frames": [{"frame": t, "bbox_xyxy": [b.tolist()]} for t, b in enumerate(boxes)]}))
    config = CaptureConfig(speed=SpeedConfig(detect_every=3))
    _, _, tracks = _detect_and_track(VideoReader(str(synthetic_video)), config, None,
                                     load_detections(str(path)), _Reporter(None, None))
    (track,) = tracks
    assert not track.interpolated.any() and np.array_equal(track.frame_ids, np.arange(n))


def box_iou(a, b):
    lo, hi = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


# ------------------------------------------------------------------------------------------ CLI, checks
def _args(**kw):
    base = dict(fast=False, precision=None, detect_every=None, detector_size=None)
    base.update(kw)
    return argparse.Namespace(**base)


def test_fast_preset_and_explicit_flags():
    from core.cli.speed import apply_speed_args

    exact = apply_speed_args(CaptureConfig(device="cpu"), _args())
    assert exact.speed == SpeedConfig() and exact.tracker.image_size == CaptureConfig().tracker.image_size
    fast = apply_speed_args(CaptureConfig(device="cpu"), _args(fast=True))
    assert fast.speed.detect_every == 3 and fast.tracker.image_size == 416
    assert fast.speed.precision == ("bf16" if cpu_has_fast_bf16() else "fp32")
    mixed = apply_speed_args(CaptureConfig(device="cpu"), _args(fast=True, precision="fp32", detect_every=2,
                                                                detector_size=320))
    assert (mixed.speed.precision, mixed.speed.detect_every, mixed.tracker.image_size) == ("fp32", 2, 320)


def test_cli_parses_the_speed_flags():
    from core.__main__ import build_parser

    args = build_parser().parse_args(["capture", "v.mp4", "-o", "o.npz", "--fast", "--detect-every", "2",
                                      "--detector-size", "320"])
    assert args.fast and args.detect_every == 2 and args.detector_size == 320
    with pytest.raises(SystemExit):
        build_parser().parse_args(["capture", "v.mp4", "-o", "o.npz", "--detector-size", "300"])


def test_precision_checks():
    from core.pipeline import backbone_precision_kwargs

    cpu = torch.device("cpu")
    assert backbone_precision_kwargs("fp32", cpu) == {}
    with pytest.raises(InvalidArgumentError, match="GPU"):
        backbone_precision_kwargs("fp16", cpu)
    if cpu_has_fast_bf16():
        assert backbone_precision_kwargs("bf16", cpu) == {"dtype": torch.bfloat16}


# ------------------------------------------------------------------------------------ fast mode, whole run
@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="CPU without bfloat16")
def test_fast_capture_stays_close_to_exact(models_dir, synthetic_video, tmp_path):
    """A whole capture in fast mode (bf16 features, detections on every 3rd frame) against the exact one: same
    track, same frames but the tail after the last detection, joints within a few mm, and not identical."""
    import json

    from core.config import SmoothingConfig
    from core.metrics import mpjpe
    from core.pipeline import run
    from core.smpl import forward_kinematics, rest_joints

    n = 40
    frames = [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t, 320, 240, n).tolist()]} for t in range(n)]
    dets = tmp_path / "boxes.json"
    dets.write_text(json.dumps({"frames": frames}))
    base = CaptureConfig(models_dir=str(models_dir), device="cpu", detections_path=str(dets),
                         smoothing=SmoothingConfig(enabled=False))
    from dataclasses import replace

    exact = run(str(synthetic_video), base)
    fast = run(str(synthetic_video), replace(base, speed=SpeedConfig(precision="bf16", detect_every=3)))
    (te,), (tf,) = exact.tracks, fast.tracks
    common, ie, i_f = np.intersect1d(te.frame_ids, tf.frame_ids, return_indices=True)
    assert len(common) >= n - 3
    arrays = synthetic.make_smpl_arrays(seed=0)
    rest = rest_joints(arrays, te.betas.mean(0))
    je = forward_kinematics(rest, te.rotmat[ie])[0]
    jf = forward_kinematics(rest, tf.rotmat[i_f])[0]
    err_mm = mpjpe(jf, je).mean() * 1000
    assert 0 < err_mm < 20, err_mm
    assert fast.meta["options"]["speed"]["precision"] == "bf16"
