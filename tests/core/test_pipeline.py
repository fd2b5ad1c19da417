"""core.pipeline.run in-process: with fake networks (fast, exact checks) and with the synthetic checkpoints."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")

import core.tcmr.checkpoint as checkpoint  # noqa: E402
from core import smpl  # noqa: E402
from core.capture.camera import cam_to_transl, crop_cam_to_orig  # noqa: E402
from core.config import CaptureConfig, SmoothingConfig, TrackerConfig  # noqa: E402
from core.capture.crop import crop_person, crops_to_imagenet  # noqa: E402
from core.errors import (  # noqa: E402
    CancelledError,
    DeviceUnavailableError,
    InvalidArgumentError,
    MissingModelFileError,
    NoPersonFoundError,
    VideoTooShortError,
)
from core.pipeline import run  # noqa: E402
from core.result import MotionResult  # noqa: E402
from core.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle  # noqa: E402
from core.capture.tracking import bbox_xyxy_to_cxcys  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent))
import synthetic  # noqa: E402

N_FRAMES, W, H = 40, 320, 240


def figure_boxes(frames=range(N_FRAMES)):
    return np.array([synthetic.figure_box_xyxy(t, W, H, N_FRAMES) for t in frames])


def write_track_detections(path, frames=range(N_FRAMES), track_id=1):
    frames = list(frames)
    doc = {"tracks": [{"track_id": track_id, "frame_ids": frames, "bbox_xyxy": figure_boxes(frames).tolist()}]}
    Path(path).write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------------------------------------- fakes
class FakeBackbone(torch.nn.Module):
    """Feature = per-channel mean of the normalised crop (3 numbers) followed by zeros."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(x.shape[0], 2048)
        out[:, :3] = x.float().mean(dim=(2, 3))
        return out


class FakeTCMR:
    """predict_sequence with outputs that depend on the features (so row alignment is visible)."""

    def __init__(self, smpl_arrays):
        self.smpl_arrays = smpl_arrays
        self.calls = []

    def predict_sequence(self, features, windowing="ours", batch_windows=64, with_smpl=True, with_verts=True):
        f = np.asarray(features, dtype=np.float64)
        n = f.shape[0]
        self.calls.append({"features": f.copy(), "windowing": windowing, "with_smpl": with_smpl})
        aa = np.zeros((n, 24, 3))
        aa[:, 0] = [np.pi, 0, 0]
        aa[:, 1:, 0] = 0.3 * np.sin(np.arange(n))[:, None] + 0.1 * f[:, :1]
        rotmat = axis_angle_to_rotmat(aa).astype(np.float32)
        out = {
            "rotmat": rotmat, "pose_aa": rotmat_to_axis_angle(rotmat).astype(np.float32),
            "betas": np.tile(np.linspace(-0.5, 0.5, 10, dtype=np.float32), (n, 1)),
            "cam": np.stack([0.9 + 0.01 * np.cos(np.arange(n)), 0.02 * np.ones(n), -0.03 * np.ones(n)], -1)
            .astype(np.float32),
            "scores": np.full((n, 3), 1 / 3, np.float32),
        }
        if with_smpl:
            out["joints49"] = np.zeros((n, 49, 3), np.float32)
            if with_verts:
                out["verts"] = np.ones((n, 6890, 3), np.float32)
        return out


@pytest.fixture
def fakes(monkeypatch, tmp_path, smpl_arrays):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar", "yolo11s.pt"):
        (models / name).write_bytes(b"stand-in")
    model = FakeTCMR(smpl_arrays)
    monkeypatch.setattr(checkpoint, "load_tcmr", lambda path, device="cpu", smpl=None: model)
    monkeypatch.setattr(checkpoint, "load_backbone", lambda path, device="cpu": FakeBackbone())
    return {"models": models, "model": model, "dir": tmp_path}


def fake_config(fakes, **kw):
    dets = kw.pop("detections", None) or write_track_detections(fakes["dir"] / "dets.json")
    base = CaptureConfig(models_dir=str(fakes["models"]), device="cpu", detections_path=str(dets),
                         smoothing=SmoothingConfig(enabled=False))
    return replace(base, **kw)


# ------------------------------------------------------------------------------------------ with fakes
def test_result_is_filled_from_the_network_output(fakes, synthetic_video, smpl_arrays):
    events = []
    result = run(str(synthetic_video), fake_config(fakes), progress=lambda *e: events.append(e))
    model = fakes["model"]
    assert (result.fps, result.width, result.height, result.num_frames) == (30.0, W, H, N_FRAMES)
    np.testing.assert_allclose(result.timestamps_s, np.arange(N_FRAMES) / 30.0, atol=1e-6)
    assert result.focal_length_px == pytest.approx(np.hypot(W, H))
    (track,) = result.tracks
    assert track.track_id == 1 and len(track) == N_FRAMES
    np.testing.assert_array_equal(track.frame_ids, np.arange(N_FRAMES))
    np.testing.assert_allclose(track.bbox_xyxy, figure_boxes(), rtol=1e-6)
    np.testing.assert_allclose(track.bbox_cxcys, bbox_xyxy_to_cxcys(figure_boxes(), 1.2), rtol=1e-6)
    assert not track.interpolated.any()
    # smoothing off: the network output bit-exact
    out = model.predict_sequence(model.calls[0]["features"])
    np.testing.assert_array_equal(track.rotmat, out["rotmat"])
    np.testing.assert_array_equal(track.pose_aa, out["pose_aa"])
    np.testing.assert_array_equal(track.cam, out["cam"])
    box = bbox_xyxy_to_cxcys(figure_boxes(), 1.2)
    np.testing.assert_allclose(track.orig_cam, crop_cam_to_orig(out["cam"], box, W, H), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(track.transl_cam, cam_to_transl(out["cam"], box, W, H, np.hypot(W, H)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(track.rest_joints, smpl.rest_joints(smpl_arrays, out["betas"].mean(0)), atol=1e-5)
    assert track.v_shaped.shape == (6890, 3) and track.verts is None and track.joints49 is None
    assert model.calls[0]["with_smpl"] is False and model.calls[0]["windowing"] == "ours"
    np.testing.assert_array_equal(result.smpl_faces, smpl_arrays["f"])
    assert result.smpl_lbs_weights.dtype == np.float32
    assert result.meta["detector"].startswith("file:") and result.meta["processed_frames"] == N_FRAMES
    assert set(result.meta["timings_s"]) == {"open", "detect", "features", "regress"}
    # progress: overall fraction never goes back, stages in order, ends at the pipeline's share (0.97)
    fractions = [f for _, f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.97)
    stages = [s for s, _, _ in events]
    assert sorted(set(stages), key=stages.index) == ["open", "detect", "features", "regress"]
    # saved and read back
    result.save(fakes["dir"] / "out.npz")
    back = MotionResult.load(fakes["dir"] / "out.npz")
    np.testing.assert_array_equal(back.tracks[0].rotmat, track.rotmat)


def test_features_come_from_the_right_crops(fakes, synthetic_video):
    run(str(synthetic_video), fake_config(fakes))
    feats = fakes["model"].calls[0]["features"]
    import cv2

    cap = cv2.VideoCapture(str(synthetic_video))
    for t in range(N_FRAMES):
        ok, frame = cap.read()
        if t in (0, 17, 39):
            tracker_box = bbox_xyxy_to_cxcys(figure_boxes([t]), 1.0)[0]
            crop = crop_person(frame[:, :, ::-1], tracker_box, 1.2)
            expected = crops_to_imagenet(crop[None]).mean(axis=(2, 3))[0]
            np.testing.assert_allclose(feats[t, :3], expected, atol=1e-4)
    cap.release()


def test_smoothing_and_vertices(fakes, synthetic_video):
    cfg = fake_config(fakes, smoothing=SmoothingConfig(enabled=True), save_vertices=True,
                      window=replace(CaptureConfig().window, windowing="official"))
    track = run(str(synthetic_video), cfg).tracks[0]
    raw = fakes["model"].predict_sequence(fakes["model"].calls[0]["features"])
    assert not np.array_equal(track.rotmat, raw["rotmat"])
    np.testing.assert_allclose(axis_angle_to_rotmat(track.pose_aa), track.rotmat, atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(track.rotmat), 1.0, atol=1e-5)
    assert np.std(np.diff(track.rotmat[:, 1:], axis=0)) < np.std(np.diff(raw["rotmat"][:, 1:], axis=0))
    assert track.verts.shape == (N_FRAMES, 6890, 3) and track.joints49.shape == (N_FRAMES, 49, 3)
    assert fakes["model"].calls[0]["windowing"] == "official"


def test_frame_range_target_fps_and_gaps(fakes, synthetic_video):
    frames = [f for f in range(N_FRAMES) if not 12 <= f < 18]  # a detection gap of 6 video frames
    dets = write_track_detections(fakes["dir"] / "gap.json", frames)
    cfg = fake_config(fakes, detections=dets, frame_start=3, frame_end=38, target_fps=15,
                      tracker=replace(TrackerConfig(), min_track_frames=10, max_gap_frames=5))
    (track,) = run(str(synthetic_video), cfg).tracks
    np.testing.assert_array_equal(track.frame_ids, np.arange(3, 39, 2))
    np.testing.assert_array_equal(track.frame_ids[track.interpolated], [13, 15, 17])  # 3 processed frames
    # a gap longer than max_gap_frames splits the track in two
    cfg = replace(cfg, tracker=replace(cfg.tracker, max_gap_frames=2, min_track_frames=5))
    tracks = run(str(synthetic_video), cfg).tracks
    assert [t.track_id for t in tracks] == [1, 2]
    assert tracks[0].frame_ids[-1] == 11 and tracks[1].frame_ids[0] == 19


def test_track_selection(fakes, synthetic_video):
    assert [t.track_id for t in run(str(synthetic_video), fake_config(fakes, track="1")).tracks] == [1]
    with pytest.raises(InvalidArgumentError, match="no track 9"):
        run(str(synthetic_video), fake_config(fakes, track="9"))
    with pytest.raises(InvalidArgumentError):
        run(str(synthetic_video), fake_config(fakes, track="first"))


def test_cancel_between_chunks(fakes, synthetic_video):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(CancelledError):
        run(str(synthetic_video), fake_config(fakes, decode_chunk=8), cancel=cancel)
    assert fakes["model"].calls == []


def test_bad_inputs_raise_mocap_errors(fakes, synthetic_video, tmp_path):
    with pytest.raises(VideoTooShortError, match="only 10 frames"):
        run(str(synthetic_video), fake_config(fakes, frame_end=9))
    elsewhere = write_track_detections(tmp_path / "late.json", range(100, 140))
    with pytest.raises(NoPersonFoundError, match="no person"):
        run(str(synthetic_video), fake_config(fakes, detections=elsewhere))
    short = write_track_detections(tmp_path / "short.json", range(0, 12))
    with pytest.raises(NoPersonFoundError, match="lasts 25 frames"):
        run(str(synthetic_video), fake_config(fakes, detections=short))
    (fakes["models"] / "spin_model_checkpoint.pth.tar").unlink()
    with pytest.raises(MissingModelFileError, match="spin_model_checkpoint.pth.tar"):
        run(str(synthetic_video), fake_config(fakes))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_but_absent(fakes, synthetic_video):
    with pytest.raises(DeviceUnavailableError, match="cpu"):
        run(str(synthetic_video), fake_config(fakes, device="cuda"))


# --------------------------------------------------------------------------- with the synthetic models
@pytest.mark.slow
def test_real_checkpoints_with_detections(models_dir, synthetic_video, tmp_path, tcmr_model):
    """The real loaders and networks (synthetic weights) on 20 frames; the result must equal running the
    networks by hand on crops made independently."""
    dets = write_track_detections(tmp_path / "dets.json")
    cfg = CaptureConfig(models_dir=str(models_dir), device="cpu", detections_path=str(dets), frame_end=19,
                        save_vertices=True, smoothing=SmoothingConfig(enabled=False),
                        tracker=replace(TrackerConfig(), min_track_frames=16))
    result = run(str(synthetic_video), cfg)
    (track,) = result.tracks
    assert len(track) == 20 and track.verts.shape == (20, 6890, 3) and track.joints49.shape == (20, 49, 3)
    # by hand: decode, crop, backbone, TCMR
    import cv2

    cap = cv2.VideoCapture(str(synthetic_video))
    crops = []
    for t in range(20):
        ok, frame = cap.read()
        crops.append(crop_person(frame[:, :, ::-1], bbox_xyxy_to_cxcys(figure_boxes([t]), 1.0)[0], 1.2))
    cap.release()
    backbone = checkpoint.load_backbone(models_dir / "spin_model_checkpoint.pth.tar")
    with torch.inference_mode():
        feats = backbone(torch.from_numpy(crops_to_imagenet(np.stack(crops)))).numpy()
    out = tcmr_model.predict_sequence(feats)
    np.testing.assert_allclose(track.rotmat, out["rotmat"], atol=2e-4)
    np.testing.assert_allclose(track.cam, out["cam"], atol=2e-4)
    np.testing.assert_allclose(track.verts, out["verts"], atol=2e-3)
    arrays = tcmr_model.smpl_arrays
    np.testing.assert_allclose(track.rest_joints, smpl.rest_joints(arrays, track.betas.mean(0)), atol=1e-5)
    np.testing.assert_array_equal(result.smpl_faces, arrays["f"])


@pytest.mark.slow
def test_yolo_path_with_random_weights_finds_nobody(models_dir, synthetic_video):
    """The detector path runs end to end offline; the random-weights detector finds no person, which must
    surface as NoPersonFoundError (not a crash)."""
    cfg = CaptureConfig(models_dir=str(models_dir), device="cpu",
                        tracker=replace(TrackerConfig(), image_size=320))
    threads = torch.get_num_threads()
    with pytest.raises(NoPersonFoundError, match="no person"):
        run(str(synthetic_video), cfg)
    assert torch.get_num_threads() == threads
