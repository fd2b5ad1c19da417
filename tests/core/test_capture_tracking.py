"""core.capture.tracking: track clean-up on hand-made detections, the ultralytics tracker and detector, detection
files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InvalidArgumentError
from core.capture.tracking import bbox_xyxy_to_cxcys, build_tracks, fill_and_split, load_detections


def _boxes(positions, x0=10.0, speed=2.0, w=40.0, h=100.0):
    p = np.asarray(positions, dtype=np.float64)
    x = x0 + speed * p
    return np.stack([x, np.full_like(x, 20.0), x + w, np.full_like(x, 20.0 + h)], axis=-1)


# ------------------------------------------------------------------------------------------- pure logic
def test_square_crop_box():
    out = bbox_xyxy_to_cxcys([[10, 20, 50, 120], [0, 0, 30, 10]], scale=1.2)
    np.testing.assert_allclose(out, [[30, 70, 120], [15, 5, 36]])


def test_short_gap_is_filled_by_interpolation():
    pos = np.array([0, 1, 2, 6, 7])  # positions 3, 4, 5 missing
    boxes = _boxes(pos)
    boxes[3, 3] += 30.0  # the box after the gap is taller: interpolation must follow it
    pieces = fill_and_split(pos, boxes, max_gap_frames=3)
    assert len(pieces) == 1
    p, b, interp = pieces[0]
    np.testing.assert_array_equal(p, np.arange(8))
    np.testing.assert_array_equal(interp, [0, 0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(b[3:6], boxes[2] + (boxes[3] - boxes[2]) * np.array([[1], [2], [3]]) / 4)
    np.testing.assert_array_equal(b[[0, 1, 2, 6, 7]], boxes)


def test_long_gap_splits_the_track():
    pos = np.array([0, 1, 2, 7, 8])  # 4 missing
    pieces = fill_and_split(pos[::-1], _boxes(pos)[::-1], max_gap_frames=3)  # order does not matter
    assert [p.tolist() for p, _, _ in pieces] == [[0, 1, 2], [7, 8]]
    assert not any(i.any() for _, _, i in pieces)
    with pytest.raises(ValueError):
        fill_and_split([1, 1], _boxes([1, 1]), 3)


def test_build_tracks_drops_short_splits_and_renumbers():
    frame_ids = np.arange(100) * 2 + 5  # e.g. target fps: every other video frame, from frame 5
    a = np.r_[0:30, 33:60, 95:100]  # gap 3 (filled), gap 35 (split: a short tail piece, dropped)
    b = np.r_[10:20]  # too short
    c = np.r_[0:26, 70:98]  # split into two kept pieces: id 7 keeps 0..25, new id 8 gets 70..97
    raw = {3: (a, _boxes(a)), 5: (b, _boxes(b)), 7: (c, _boxes(c, x0=200))}
    tracks = build_tracks(raw, frame_ids, min_track_frames=25, max_gap_frames=5, bbox_scale=1.2)
    assert [t.track_id for t in tracks] == [3, 7, 9]  # 8 went to track 3's dropped tail
    t3, t7, t9 = tracks
    np.testing.assert_array_equal(t3.positions, np.arange(60))
    np.testing.assert_array_equal(t3.frame_ids, frame_ids[:60])
    assert t3.interpolated.sum() == 3 and t3.interpolated[30:33].all()
    np.testing.assert_array_equal(t9.positions, np.arange(70, 98))
    np.testing.assert_allclose(t7.bbox_cxcys, bbox_xyxy_to_cxcys(t7.bbox_xyxy, 1.2), rtol=1e-6)
    assert t7.bbox_cxcys[0, 2] == pytest.approx(120.0)  # max(40, 100) × 1.2
    assert t3.bbox_xyxy.dtype == np.float32 and t3.interpolated.dtype == bool


def test_interpolated_rows_do_not_count_towards_the_minimum():
    pos = np.r_[0:10, 30:40]  # 20 detections spanning 40 frames
    assert build_tracks({1: (pos, _boxes(pos))}, np.arange(40), 25, 30) == []
    assert len(build_tracks({1: (pos, _boxes(pos))}, np.arange(40), 20, 30)[0]) == 40


# ------------------------------------------------------------------------------------ ultralytics tracker
def test_bytetrack_links_two_people_across_a_short_gap():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    from core.capture.tracking import PersonTracker

    threads = torch.get_num_threads()
    tracker = PersonTracker("bytetrack", max_gap_frames=10)
    n = 40
    for p in range(n):
        boxes, scores = [], []
        if not 15 <= p < 19:  # person A missing for 4 frames
            boxes.append(_boxes([p], x0=10, speed=3)[0])
            scores.append(0.9)
        boxes.append(_boxes([p], x0=400, speed=-2)[0])
        scores.append(0.8)
        tracker.update(p, np.array(boxes), np.array(scores))
    assert torch.get_num_threads() == threads
    raw = tracker.raw_tracks()
    assert len(raw) == 2
    tracks = build_tracks(raw, np.arange(n), min_track_frames=25, max_gap_frames=10, bbox_scale=1.2)
    assert len(tracks) == 2
    a = min(tracks, key=lambda t: t.bbox_xyxy[0, 0])
    np.testing.assert_array_equal(a.positions, np.arange(n))
    assert a.interpolated[15:19].all() and a.interpolated.sum() == 4
    np.testing.assert_allclose(a.bbox_xyxy[:, 0], _boxes(np.arange(n), x0=10, speed=3)[:, 0], atol=2.0)


def test_yolo_detector_on_the_synthetic_video(models_dir, synthetic_video):
    """The real ultralytics path with the random-weights yolo11s.pt: runs offline, one entry per frame,
    well-formed boxes (it may find nobody), torch's thread count untouched."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    from core.capture.tracking import PersonDetector
    from core.capture.video import VideoReader

    threads = torch.get_num_threads()
    detector = PersonDetector(models_dir / "yolo11s.pt", "cpu", image_size=320, batch_frames=4)
    chunk = next(iter(VideoReader(synthetic_video).scan(chunk_frames=6)))
    found = detector(chunk.frames_rgb_u8)
    assert torch.get_num_threads() == threads
    assert len(found) == 6
    for boxes, scores in found:
        assert boxes.shape == (scores.shape[0], 4) and boxes.dtype == np.float32
        assert np.all(scores >= 0.25)


def test_bad_detector_file(tmp_path):
    pytest.importorskip("ultralytics")
    from core.errors import InvalidModelFileError
    from core.capture.tracking import PersonDetector

    bad = tmp_path / "yolo11s.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(InvalidModelFileError, match="yolo11s.pt"):
        PersonDetector(bad)


# ------------------------------------------------------------------------------------- detections files
def test_detection_file_formats(tmp_path):
    per_frame = {"frames": [{"frame": 0, "bbox_xyxy": [[1, 2, 11, 22], [50, 50, 60, 90]], "scores": [0.9, 0.4]},
                            {"frame": 3, "bbox_xyxy": [[2, 2, 12, 22]]}]}
    (tmp_path / "f.json").write_text(json.dumps(per_frame))
    d = load_detections(tmp_path / "f.json")
    assert d.track_ids is None
    np.testing.assert_array_equal(d.frame_ids, [0, 0, 3])
    np.testing.assert_allclose(d.scores, [0.9, 0.4, 1.0])

    per_track = {"tracks": [{"track_id": 4, "frame_ids": [0, 1, 2], "bbox_xyxy": [[0, 0, 5, 9]] * 3}]}
    (tmp_path / "t.json").write_text(json.dumps(per_track))
    d = load_detections(tmp_path / "t.json")
    np.testing.assert_array_equal(d.track_ids, [4, 4, 4])
    raw = d.raw_tracks({0: 0, 2: 1})  # frame 1 is not processed
    np.testing.assert_array_equal(raw[4][0], [0, 1])

    np.savez(tmp_path / "d.npz", frame_ids=np.array([5, 6]), bbox_xyxy=np.array([[0, 0, 4, 4], [1, 1, 5, 5.0]]),
             track_ids=np.array([1, 1]))
    d = load_detections(tmp_path / "d.npz")
    np.testing.assert_array_equal(d.frame_ids, [5, 6])
    np.testing.assert_array_equal(d.track_ids, [1, 1])


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"boxes": []}),
    json.dumps({"frames": [{"frame": 0, "bbox_xyxy": [[10, 10, 5, 20]]}]}),  # x1 < x0
    json.dumps({"frames": [{"frame": -1, "bbox_xyxy": [[0, 0, 5, 20]]}]}),
    json.dumps({"tracks": [{"track_id": 1, "frame_ids": [0, 0], "bbox_xyxy": [[0, 0, 5, 5], [0, 0, 5, 5]]}]}),
    json.dumps({"tracks": [{"track_id": 1, "frame_ids": [0, 1], "bbox_xyxy": [[0, 0, 5, 5]]}]}),
])
def test_bad_detection_files(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidArgumentError):
        load_detections(path)
    with pytest.raises(InvalidArgumentError, match="not found"):
        load_detections(tmp_path / "missing.json")
