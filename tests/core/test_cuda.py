"""The CUDA path on a real GPU (skipped without one; bench/device_check.sh runs these on the lent GPU machine).

- ResNet-50 (fused plan and layer by layer) and TCMR (shared projections and the release's nn.GRU, i.e. cuDNN's
  RNN) in float32 on the GPU equal the float64 CPU networks to float32 rounding, also when the caller has turned
  TensorFloat-32 on for everything (core/tcmr/float32.py turns it off inside and puts it back);
- bfloat16 / float16 ResNet-50 stays close (the fast mode);
- the crops cut on the GPU match OpenCV's;
- a whole capture on CUDA (frames through pinned memory, crops on the GPU, ≥ 1024 windows per TCMR call) equals
  the same networks run by hand on the CPU from the same kind of crops.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")

import core  # noqa: E402
import synthetic  # noqa: E402
from core.capture.crop import IMAGENET_STD, crop_people_torch, crop_person, crops_to_imagenet  # noqa: E402


def rel_err(a, b) -> float:
    a = a.detach().double().cpu() if torch.is_tensor(a) else torch.as_tensor(np.asarray(a, np.float64))
    b = b.detach().double().cpu() if torch.is_tensor(b) else torch.as_tensor(np.asarray(b, np.float64))
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.fixture(scope="module")
def crops():
    return torch.from_numpy(np.random.default_rng(3).normal(size=(8, 3, 224, 224)).astype(np.float32))


def test_backbone_float32_on_the_gpu_is_exact(spin_checkpoint, crops, caller_tf32):
    ref64 = core.load_backbone(spin_checkpoint, dtype=torch.float64)
    gpu = core.load_backbone(spin_checkpoint, device="cuda")
    with torch.inference_mode():
        ref = ref64.forward_layers(crops.double())
        fused = gpu(crops.cuda())
        layers = gpu.forward_layers(crops.cuda())
    assert caller_tf32()  # the caller's setting is back after each call
    assert rel_err(fused, ref) < 1e-5 and rel_err(layers, ref) < 1e-5  # TensorFloat-32: ~1e-3


@pytest.mark.parametrize("dtype, bound", [(torch.bfloat16, 0.03), (torch.float16, 0.01)])
def test_half_backbones_stay_close(spin_checkpoint, crops, dtype, bound):
    ref = core.load_backbone(spin_checkpoint)
    half = core.load_backbone(spin_checkpoint, device="cuda", dtype=dtype)
    with torch.inference_mode():
        err = rel_err(half(crops.cuda().to(dtype)).float(), ref(crops))
    assert 0 < err < bound


def test_tcmr_float32_on_the_gpu_is_exact(tcmr_checkpoint, caller_tf32):
    ref = core.load_tcmr(tcmr_checkpoint, dtype=torch.float64)
    gpu = core.load_tcmr(tcmr_checkpoint, device="cuda")
    feats = np.random.default_rng(4).normal(size=(40, 2048)).astype(np.float32)
    want = ref.predict_sequence(feats.astype(np.float64), windowing="official")
    for shared in (True, False):  # False: every window through nn.GRU (cuDNN's RNN on the GPU)
        got = gpu.predict_sequence(feats, windowing="official", shared=shared)
        assert caller_tf32()
        for key in ("rotmat", "betas", "cam", "scores", "joints49", "verts"):
            assert rel_err(got[key], want[key]) < 1e-5, (shared, key)  # the CPU in float32: ≤ 1e-6; TF32: ~1e-3


def test_gpu_crop_on_the_gpu_matches_the_opencv_crop():
    import cv2

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), (0, 0), 3)
    boxes = np.array([[160, 120, 100], [10, 20, 80], [300, 200, 250.5], [100.3, 130.7, 37.2]])
    ref = crops_to_imagenet(np.stack([crop_person(img, b) for b in boxes]))
    out = crop_people_torch(torch.from_numpy(img).cuda(), boxes)
    assert out.is_cuda and out.shape == (4, 3, 224, 224)
    grey = np.abs(out.cpu().numpy() - ref) * IMAGENET_STD[None, :, None, None] * 255.0
    assert grey.mean() < 0.3 and grey.max() < 3.0
    cpu = crop_people_torch(torch.from_numpy(img), boxes).numpy()
    assert np.abs(out.cpu().numpy() - cpu).max() < 1e-4  # the same sampling on either device


def test_capture_on_cuda_equals_the_networks_by_hand(models_dir, synthetic_video, tmp_path, tcmr_model):
    from core.config import CaptureConfig, SmoothingConfig, TrackerConfig
    from core.pipeline import run
    from core.capture.tracking import bbox_xyxy_to_cxcys

    frames = list(range(20))
    boxes = np.array([synthetic.figure_box_xyxy(t) for t in frames])
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps({"tracks": [{"track_id": 1, "frame_ids": frames, "bbox_xyxy": boxes.tolist()}]}))
    cfg = CaptureConfig(models_dir=str(models_dir), device="cuda", detections_path=str(dets), frame_end=19,
                        smoothing=SmoothingConfig(enabled=False), tracker=replace(TrackerConfig(), min_track_frames=16))
    (track,) = run(str(synthetic_video), cfg).tracks
    assert len(track) == 20
    import cv2

    cap = cv2.VideoCapture(str(synthetic_video))
    crops = []
    for t in frames:  # the GPU's crop (grid_sample), here on CPU tensors
        ok, frame = cap.read()
        cxcys = bbox_xyxy_to_cxcys(boxes[t:t + 1], 1.0)
        crops.append(crop_people_torch(torch.from_numpy(np.ascontiguousarray(frame[:, :, ::-1])), cxcys, 1.2))
    cap.release()
    backbone = core.load_backbone(models_dir / "spin_model_checkpoint.pth.tar")
    with torch.inference_mode():
        feats = backbone(torch.cat(crops)).numpy()
    out = tcmr_model.predict_sequence(feats, with_verts=False)
    np.testing.assert_allclose(track.rotmat, out["rotmat"], atol=2e-4)
    np.testing.assert_allclose(track.cam, out["cam"], atol=2e-4)
