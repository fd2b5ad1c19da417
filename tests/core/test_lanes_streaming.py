"""CPU lanes (core.runtime.lanes) and features streamed in pass 1 (core.capture.features.StreamedFeatures): both
are speed-ups that must not change a number.

- lanes: pieces run at once on separate threads with a share of torch's threads each, in order, errors and the
  caller's thread count and grad mode handled; no lanes inside a lane; the backbone and the detector give the
  same rows split into lanes as in one call;
- streaming: a capture whose features were computed while pass 1 decoded the frames equals the two-pass one,
  pass 2 then decodes only the frames of filled-in rows (none when every frame was detected), and a capture
  of one chosen track does not stream;
- the batch manifest's options hash ignores both (a resumed batch does not redo its clips).
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

import core
import synthetic
from core.runtime import lanes
from core.config import CaptureConfig, SmoothingConfig, SpeedConfig


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------------- lanes
def test_split_gives_contiguous_near_equal_pieces():
    for n, k in ((10, 3), (7, 2), (1, 4), (32, 2), (5, 5)):
        parts = lanes.split(n, k)
        assert len(parts) == min(n, k)
        assert parts[0].start == 0 and parts[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
        sizes = [p.stop - p.start for p in parts]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


def test_run_shares_threads_keeps_order_and_restores(two_threads):
    seen = []

    def task(k):
        def go():
            seen.append((k, threading.get_ident(), torch.get_num_threads(), torch.is_inference_mode_enabled()))
            return k * 10
        return go

    with torch.inference_mode():
        assert lanes.run([task(0), task(1)]) == [0, 10]
    assert torch.get_num_threads() == 2
    by_lane = {k: (ident, threads, inference) for k, ident, threads, inference in seen}
    assert by_lane[0][0] == threading.get_ident() and by_lane[1][0] != threading.get_ident()
    assert by_lane[0][1] == 1 and by_lane[1][1] == 1  # one thread each
    assert by_lane[0][2] and by_lane[1][2]  # the caller's inference mode reached the lane thread


def test_run_raises_a_lane_error_after_all_lanes_finished(two_threads):
    finished = threading.Event()

    def slow_ok():
        import time

        time.sleep(0.2)
        finished.set()
        return 1

    def boom():
        raise ValueError("lane failed")

    with pytest.raises(ValueError, match="lane failed"):
        lanes.run([slow_ok, boom])
    assert finished.is_set() and torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="lane failed"):
        lanes.run([boom, slow_ok])
    assert torch.get_num_threads() == 2


def test_ctrl_c_while_a_lane_thread_starts(two_threads, monkeypatch):
    """A SIGINT while the pool starts its worker is raised once the worker is recorded and its piece is done:
    no worker the pool does not know (Python would hang at exit joining it), no piece left running."""
    import concurrent.futures.thread as cft
    import os
    import signal
    import time

    monkeypatch.setattr(lanes, "_POOL", None)  # a fresh pool: its first submit starts a thread
    real_start = threading.Thread.start

    def start_with_ctrl_c(self):
        os.kill(os.getpid(), signal.SIGINT)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start_with_ctrl_c)
    done, ran_first = threading.Event(), []

    def piece():
        time.sleep(0.2)
        done.set()
        return 1

    with pytest.raises(KeyboardInterrupt):
        lanes.run([lambda: ran_first.append(True), piece])
    pool = lanes._POOL  # noqa: SLF001 (the test's own pool; undo() puts the shared one back)
    monkeypatch.undo()
    try:
        assert done.is_set() and not ran_first  # the lane's piece was waited for; the caller's was not started
        workers = [t for t in pool._threads if t.is_alive()]  # noqa: SLF001
        assert workers and all(t in cft._threads_queues for t in workers)  # noqa: SLF001 (joined at exit)
        assert torch.get_num_threads() == 2
    finally:
        pool.shutdown(wait=True)


def test_lane_count_rules(two_threads, monkeypatch):
    monkeypatch.delenv("TCMR_LANES", raising=False)
    assert lanes.lane_count(None) == 2
    assert lanes.lane_count(4) == 2  # at most one lane per torch thread
    assert lanes.lane_count(None, "cuda") == 1
    assert lanes.lane_count(None, items=5, min_items=4) == 1  # too few items to share
    monkeypatch.setenv("TCMR_LANES", "1")
    assert lanes.lane_count(None) == 1
    monkeypatch.delenv("TCMR_LANES")
    inside = lanes.run([lambda: lanes.lane_count(2), lambda: lanes.lane_count(2)])
    assert inside == [1, 1]  # no lanes inside a lane
    torch.set_num_threads(1)
    assert lanes.lane_count(2) == 1


def test_backbone_in_lanes_equals_one_call(spin_checkpoint, two_threads):
    crops = torch.from_numpy(np.random.default_rng(2).normal(size=(8, 3, 224, 224)).astype(np.float32))
    one = core.load_backbone(spin_checkpoint, lanes=1)
    two = core.load_backbone(spin_checkpoint, lanes=2)
    assert two._plan is not None  # the fused plan is built when the model is loaded
    threads = set()
    plan_call = type(two._plan).__call__

    def spy(plan, x):
        threads.add(threading.get_ident())
        return plan_call(plan, x)

    with torch.inference_mode():
        a = one(crops)
        type(two._plan).__call__ = spy
        try:
            b = two(crops)
        finally:
            type(two._plan).__call__ = plan_call
    assert len(threads) == 2  # really split
    assert torch.equal(a, b) or float((a - b).abs().max() / a.abs().max()) < 1e-6


def test_detector_in_lanes_gives_each_frames_boxes(tmp_path, synthetic_video, two_threads):
    """A detector whose head calls everything a person (many boxes per frame): two lanes = one, frame by frame."""
    pytest.importorskip("ultralytics")
    from core.capture.tracking import PersonDetector
    from core.capture.video import VideoReader

    weights = synthetic.write_detector_weights(tmp_path / "yolo11s.pt", person_logit=8.0)
    frames = np.concatenate([c.frames_rgb_u8 for c in VideoReader(synthetic_video).scan(chunk_frames=8)])[:7]
    one = PersonDetector(weights, "cpu", image_size=320, batch_frames=4, lanes=1)
    two = PersonDetector(weights, "cpu", image_size=320, batch_frames=4, lanes=2)
    assert len(one._models) == 1 and len(two._models) == 2
    a, b = one(frames), two(frames)
    assert torch.get_num_threads() == 2
    assert len(a) == len(b) == 7 and all(len(boxes) > 0 for boxes, _ in a)
    for (ba, sa), (bb, sb) in zip(a, b):
        assert ba.shape == bb.shape
        np.testing.assert_allclose(bb, ba, atol=1e-3)
        np.testing.assert_allclose(sb, sa, atol=1e-5)


def test_detector_lanes_keep_the_frame_order(tmp_path, monkeypatch, two_threads):
    """Frames shared out over lanes and batches come back in order, each copy of the network used."""
    pytest.importorskip("ultralytics")
    from core.capture.tracking import PersonDetector

    used = []

    class Result:  # what ultralytics' predict returns, as far as PersonDetector reads it
        def __init__(self, frame_bgr):
            value = float(frame_bgr[0, 0, 2])  # the red channel of the RGB frame, after the swap to BGR
            self.boxes = self
            self.xyxy, self.conf = np.array([[value, 0, value + 1, 1]], np.float32), np.array([0.5], np.float32)

        def cpu(self):
            return self

        def numpy(self):
            return self

    def fake_predict(self, model, frames_bgr, image_size=None):
        used.append(id(model))
        return [Result(f) for f in frames_bgr]

    weights = synthetic.write_detector_weights(tmp_path / "yolo11s.pt")
    detector = PersonDetector(weights, "cpu", image_size=320, batch_frames=2, lanes=2)
    monkeypatch.setattr(PersonDetector, "_predict", fake_predict)
    frames = np.zeros((9, 8, 8, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(9)[:, None, None] * 10  # frame k is red k·10
    found = detector(frames)
    assert [float(boxes[0, 0]) for boxes, _ in found] == [k * 10.0 for k in range(9)]
    assert set(used) == {id(m) for m in detector._models} and len(used) == 5  # 5 + 4 frames, 2 per batch


# --------------------------------------------------------------------------------------------- streaming
class BoxDetector:
    """Stands in for YOLO: the synthetic figure's true box on each frame it is given, frames in order."""

    def __init__(self, n_frames: int):
        self.n, self.next = n_frames, 0

    def __call__(self, frames_rgb_u8):
        out = []
        for _ in frames_rgb_u8:
            out.append((synthetic.figure_box_xyxy(self.next, 320, 240, self.n)[None].astype(np.float32),
                        np.array([0.9], np.float32)))
            self.next += 1
        return out


def _capture(models_dir, video, monkeypatch, n_frames, tracker="bytetrack", **speed):
    from core.pipeline import load_models, run
    from core.capture.video import VideoReader

    reads = []
    plain_read = VideoReader.read

    def counting_read(self, frame_ids, chunk_frames=64):
        reads.append(len(frame_ids))
        return plain_read(self, frame_ids, chunk_frames)

    monkeypatch.setattr(VideoReader, "read", counting_read)
    config = CaptureConfig(models_dir=str(models_dir), device="cpu", smoothing=SmoothingConfig(enabled=False),
                           speed=replace(SpeedConfig(), **speed))
    config = replace(config, tracker=replace(config.tracker, tracker=tracker))
    models = load_models(config, detector=False)
    models.detector = BoxDetector(n_frames)
    result = run(str(video), config, models=models)
    monkeypatch.setattr(VideoReader, "read", plain_read)
    return result, reads


def test_streamed_features_equal_the_two_pass_ones(models_dir, synthetic_video, monkeypatch):
    n = 40  # the synthetic video's length
    streamed, reads_s = _capture(models_dir, synthetic_video, monkeypatch, n, stream_features=True)
    two_pass, reads_2 = _capture(models_dir, synthetic_video, monkeypatch, n, stream_features=False)
    (ts,), (t2,) = streamed.tracks, two_pass.tracks
    assert len(ts) == len(t2) == n
    assert reads_2 == [n] and reads_s == []  # every frame detected: no second decode at all
    for key in ("rotmat", "betas", "cam"):
        a, b = getattr(ts, key), getattr(t2, key)
        assert float(np.abs(a - b).max()) <= 1e-6 * max(float(np.abs(b).max()), 1.0), key


def test_botsort_gets_bgr_frames_and_streams(models_dir, synthetic_video, monkeypatch):
    """BoT-SORT (which looks at the pixels) gets each frame in BGR order, contiguous; the capture streams."""
    from core.capture.tracking import PersonTracker

    seen = []
    plain_update = PersonTracker.update

    def spy(self, position, bbox_xyxy, scores=None, frame_bgr_u8=None):
        seen.append(frame_bgr_u8)
        return plain_update(self, position, bbox_xyxy, scores, frame_bgr_u8)

    monkeypatch.setattr(PersonTracker, "update", spy)
    result, reads = _capture(models_dir, synthetic_video, monkeypatch, 40, tracker="botsort")
    assert len(result.tracks) == 1 and len(result.tracks[0]) == 40 and reads == []
    from core.capture.video import VideoReader

    first = next(iter(VideoReader(synthetic_video).scan(chunk_frames=1))).frames_rgb_u8[0]
    assert len(seen) == 40 and seen[0].flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(seen[0], first[:, :, ::-1])


def test_streaming_with_detect_every_decodes_only_filled_in_frames(models_dir, synthetic_video, monkeypatch):
    n = 40
    streamed, reads_s = _capture(models_dir, synthetic_video, monkeypatch, n, stream_features=True, detect_every=3)
    two_pass, reads_2 = _capture(models_dir, synthetic_video, monkeypatch, n, stream_features=False,
                                 detect_every=3)
    (ts,), (t2,) = streamed.tracks, two_pass.tracks
    assert reads_2 == [len(t2)]
    assert len(reads_s) == 1 and reads_s[0] == int(ts.interpolated.sum()) > 0  # only the rows between detections
    np.testing.assert_allclose(ts.rotmat, t2.rotmat, atol=1e-6)


def test_a_chosen_track_is_not_streamed(models_dir, synthetic_video, monkeypatch):
    import core.capture.features as features_mod

    made = []
    plain = features_mod.StreamedFeatures

    class Spy(plain):
        def __init__(self, *a, **k):
            made.append(1)
            super().__init__(*a, **k)

    monkeypatch.setattr(features_mod, "StreamedFeatures", Spy)
    from core.pipeline import load_models, run

    config = CaptureConfig(models_dir=str(models_dir), device="cpu", track="1",
                           smoothing=SmoothingConfig(enabled=False))
    models = load_models(config, detector=False)
    models.detector = BoxDetector(40)
    result = run(str(synthetic_video), config, models=models)
    assert [t.track_id for t in result.tracks] == [1] and made == []
    models.detector = BoxDetector(40)
    run(str(synthetic_video), replace(config, track="all"), models=models)
    assert made == [1]


# ------------------------------------------------------------------------------------------------- batch
def test_batch_options_hash_ignores_lanes_and_streaming():
    from core.batch.manifest import capture_options_hash as hash_of

    base = CaptureConfig()
    other = replace(base, speed=replace(base.speed, lanes=3, stream_features=False))
    assert hash_of(base) == hash_of(other)
    assert hash_of(base) == hash_of(replace(base, device="cuda"))
    # Pinned, so that an accidental change (a speed-only setting or a default that does not change the output
    # entering the hash) fails here. It changes on purpose when a default that changes the output changes: the
    # refine stage's new floor, foot lock and adaptive smoothing (issue 19), the floor's footprints against the flat
    # feet (its fifth round), Lepski's rule in the smoothing (its sixth) and the floor's points weighed by their
    # reach from the hip (its eighth), each leg's footprints sharing one height offset (its ninth) and feet held
    # where they rest above the floor (its tenth), re-capture clips done before them.
    assert hash_of(CaptureConfig(models_dir="/m")) == "47c42c79678f"
    assert hash_of(base) != hash_of(replace(base, speed=replace(base.speed, detect_every=2)))


def test_streamed_rows_through_the_gpu_crop_path(synthetic_video):
    """The GPU branch (frames uploaded once per chunk, crops cut by grid_sample) run on CPU tensors: each row's
    feature lands under its own (track, position) key, close to the OpenCV crop's, and frames without
    people are not uploaded."""
    from core.capture.crop import CROP_SIZE, crop_person, crops_to_imagenet
    from core.capture.features import StreamedFeatures
    from core.capture.video import VideoReader

    chunk = next(iter(VideoReader(synthetic_video).scan(chunk_frames=6)))

    class Identity:  # "features" = the normalised crop's mean per channel, enough to tell crops apart
        def parameters(self):
            return iter([torch.zeros(1)])

        def __call__(self, x):
            return x.mean(dim=(2, 3))

    rows = {0: [(1, 0, synthetic.figure_box_xyxy(0))], 2: [(1, 2, synthetic.figure_box_xyxy(2)),
                                                          (7, 2, np.array([5.0, 5.0, 60.0, 90.0]))]}
    store = StreamedFeatures(Identity(), bbox_scale=1.2, batch=2)
    store._gpu = torch.device("cpu")  # the GPU branch, on the CPU
    uploaded = []
    plain_from_numpy = torch.from_numpy
    torch.from_numpy = lambda a: (uploaded.append(a.shape[0]), plain_from_numpy(a))[1]
    try:
        store.add_chunk(chunk, rows)
    finally:
        torch.from_numpy = plain_from_numpy
    store.finish()
    assert uploaded == [2]  # frames 0 and 2 only
    from core.capture.tracking import bbox_xyxy_to_cxcys

    for tid, pos, box in rows[0] + rows[2]:
        got = store.take(tid, pos)
        cxcys = bbox_xyxy_to_cxcys(np.asarray(box, np.float32)[None], 1.0)[0]
        ref = crops_to_imagenet(crop_person(chunk.frames_rgb_u8[pos], cxcys, 1.2, CROP_SIZE)[None])[0].mean(axis=(1, 2))
        assert got is not None and got.shape == (3,)
        np.testing.assert_allclose(got, ref, atol=0.02)
    assert store.take(1, 1) is None and len(store) == 0
