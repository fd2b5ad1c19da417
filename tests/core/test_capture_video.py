"""core.capture.video: metadata, real timestamps (incl. a variable-frame-rate file), ranges, target fps, chunking,
bad files."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from core.capture import video as video_mod  # noqa: E402
from core.errors import InvalidArgumentError, VideoReadError  # noqa: E402
from core.capture.video import VideoReader, full_timestamps  # noqa: E402

import synthetic  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)


# ------------------------------------------------------------------------------- a real VFR file (Matroska)
def _ebml(id_hex: str, payload: bytes) -> bytes:
    return bytes.fromhex(id_hex) + b"\x01" + len(payload).to_bytes(7, "big") + payload  # 8-byte size field


def _uint(id_hex: str, value: int) -> bytes:
    return _ebml(id_hex, value.to_bytes(8, "big"))


def write_vfr_mkv(path, frames_bgr, times_ms) -> None:
    """A minimal Matroska file with MJPEG frames at the given presentation times (milliseconds): a genuinely
    variable-frame-rate video that FFmpeg (hence OpenCV) demuxes with these timestamps."""
    h, w = frames_bgr[0].shape[:2]
    header = _ebml("1A45DFA3", _uint("4286", 1) + _uint("42F7", 1) + _uint("42F2", 4) + _uint("42F3", 8)
                   + _ebml("4282", b"matroska") + _uint("4287", 4) + _uint("4285", 2))
    info = _ebml("1549A966", _uint("2AD7B1", 1_000_000) + _ebml("4D80", b"t") + _ebml("5741", b"t"))
    track = _ebml("AE", _uint("D7", 1) + _uint("73C5", 1) + _uint("83", 1) + _ebml("86", b"V_MJPEG")
                  + _ebml("E0", _uint("B0", w) + _uint("BA", h)))
    blocks = b""
    for img, t in zip(frames_bgr, times_ms):
        ok, jpg = cv2.imencode(".jpg", img)
        assert ok
        blocks += _ebml("A3", b"\x81" + struct.pack(">h", int(t)) + b"\x80" + jpg.tobytes())
    segment = _ebml("18538067", info + _ebml("1654AE6B", track) + _ebml("1F43B675", _uint("E7", 0) + blocks))
    with open(path, "wb") as fh:
        fh.write(header + segment)


VFR_TIMES_MS = [0, 40, 80, 100, 200, 210, 220, 400, 433, 466, 500, 700]


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mkv"
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(len(VFR_TIMES_MS))]
    write_vfr_mkv(path, frames, VFR_TIMES_MS)
    return path


def _all_frames_bgr(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


# ------------------------------------------------------------------------------------------------ tests
def test_metadata_of_synthetic_video(synthetic_video):
    info = VideoReader(synthetic_video).info
    assert (info.fps, info.width, info.height, info.frame_count) == (30.0, 320, 240, 40)


def test_scan_streams_every_frame_in_chunks(synthetic_video):
    reader = VideoReader(synthetic_video)
    chunks = list(reader.scan(chunk_frames=16))
    assert [c.frame_ids.shape[0] for c in chunks] == [16, 16, 8]
    ids = np.concatenate([c.frame_ids for c in chunks])
    np.testing.assert_array_equal(ids, np.arange(40))
    times = np.concatenate([c.timestamps_s for c in chunks])
    np.testing.assert_allclose(times, np.arange(40) / 30.0, atol=1e-6)
    np.testing.assert_allclose(reader.timestamps_s, times)
    assert reader.reached_end
    frames = np.concatenate([c.frames_rgb_u8 for c in chunks])
    assert frames.shape == (40, 240, 320, 3) and frames.dtype == np.uint8
    reference = _all_frames_bgr(synthetic_video)
    np.testing.assert_array_equal(frames[7], reference[7][:, :, ::-1])  # RGB out


def test_scan_is_lazy(synthetic_video, monkeypatch):
    """Nothing beyond the first chunk is decoded before the first chunk is handed out (streaming)."""
    reader = VideoReader(synthetic_video)
    seen = []
    original = VideoReader._frames

    def counting(self, select, decode, times_out):
        for item in original(self, select, decode, times_out):
            seen.append(item[0])
            yield item

    monkeypatch.setattr(VideoReader, "_frames", counting)
    gen = reader.scan(chunk_frames=8)
    first = next(gen)
    assert first.frame_ids.shape[0] == 8 and len(seen) == 8
    gen.close()


def test_chunks_are_capped_by_bytes(synthetic_video, monkeypatch):
    monkeypatch.setattr(video_mod, "MAX_CHUNK_BYTES", 320 * 240 * 3 * 5)
    chunks = list(VideoReader(synthetic_video).scan(chunk_frames=64))
    assert max(c.frame_ids.shape[0] for c in chunks) == 5


def test_frame_range_is_inclusive_and_keeps_video_indices(synthetic_video):
    reader = VideoReader(synthetic_video)
    chunks = list(reader.scan(chunk_frames=4, frame_start=5, frame_end=12))
    ids = np.concatenate([c.frame_ids for c in chunks])
    np.testing.assert_array_equal(ids, np.arange(5, 13))
    np.testing.assert_allclose(np.concatenate([c.timestamps_s for c in chunks]), ids / 30.0, atol=1e-6)
    assert reader.timestamps_s.shape == (13,) and not reader.reached_end
    reference = _all_frames_bgr(synthetic_video)
    np.testing.assert_array_equal(chunks[0].frames_rgb_u8[0], reference[5][:, :, ::-1])


def test_target_fps_subsamples_by_time(synthetic_video):
    reader = VideoReader(synthetic_video)
    ids = np.concatenate([c.frame_ids for c in reader.scan(target_fps=10)])
    np.testing.assert_array_equal(ids, np.arange(0, 40, 3))
    ids = np.concatenate([c.frame_ids for c in reader.scan(frame_start=4, frame_end=20, target_fps=12)])
    # 12 of 30 fps: the first frame of every 1/12 s interval after frame 4 (0.4 frame steps -> 2,3,2,3,...)
    np.testing.assert_array_equal(ids, [4, 7, 9, 12, 14, 17, 19])
    ids = np.concatenate([c.frame_ids for c in reader.scan(target_fps=100)])
    np.testing.assert_array_equal(ids, np.arange(40))  # above the video rate: every frame


def test_variable_frame_rate_keeps_real_timestamps(vfr_video):
    reader = VideoReader(vfr_video)
    chunks = list(reader.scan(chunk_frames=5))
    times = np.concatenate([c.timestamps_s for c in chunks])
    np.testing.assert_allclose(times, np.array(VFR_TIMES_MS) / 1000.0, atol=1e-6)
    frames = np.concatenate([c.frames_rgb_u8 for c in chunks])
    np.testing.assert_allclose(frames[:, 10, 10, 0], 20 * np.arange(len(VFR_TIMES_MS)), atol=3)  # JPEG
    # no plausible container rate here: the nominal rate comes from the timestamps
    assert reader.info.fps == 0.0
    assert reader.nominal_fps() == pytest.approx((len(VFR_TIMES_MS) - 1) / 0.7)
    # target fps by time: the first frame of each 100 ms interval
    ids = np.concatenate([c.frame_ids for c in reader.scan(target_fps=10, decode=False)])
    t = np.array(VFR_TIMES_MS)
    expected = [i for i in range(len(t)) if i == 0 or math.floor(t[i] / 100 + 1e-6) > math.floor(t[i - 1] / 100 + 1e-6)]
    np.testing.assert_array_equal(ids, expected)


def test_read_decodes_exactly_the_requested_frames(synthetic_video):
    reader = VideoReader(synthetic_video)
    chunks = list(reader.read(np.array([39, 5, 7, 7]), chunk_frames=2))
    np.testing.assert_array_equal(np.concatenate([c.frame_ids for c in chunks]), [5, 7, 39])
    reference = _all_frames_bgr(synthetic_video)
    np.testing.assert_array_equal(chunks[1].frames_rgb_u8[0], reference[39][:, :, ::-1])
    with pytest.raises(VideoReadError, match="ended before"):
        list(reader.read(np.array([3, 40])))


def test_full_timestamps_extends_past_the_decoded_part(synthetic_video):
    reader = VideoReader(synthetic_video)
    for _ in reader.scan(frame_end=9, decode=False):
        pass
    ts = full_timestamps(reader, 40)
    np.testing.assert_allclose(ts, np.arange(40) / 30.0, atol=1e-6)


def test_range_checks(synthetic_video):
    reader = VideoReader(synthetic_video)
    with pytest.raises(InvalidArgumentError, match="only 40 frames"):
        list(reader.scan(frame_start=50, decode=False))
    with pytest.raises(InvalidArgumentError):
        list(reader.scan(frame_start=10, frame_end=5))
    with pytest.raises(InvalidArgumentError):
        list(reader.scan(target_fps=0))


@pytest.mark.parametrize("kind", synthetic.BAD_VIDEO_KINDS)
def test_bad_files_raise_video_read_error(tmp_path, synthetic_video, kind):
    path = synthetic.write_bad_video(tmp_path / "bad.mp4", kind, synthetic_video)
    with pytest.raises(VideoReadError) as err:
        VideoReader(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_chunk_frames_are_swapped_to_rgb_and_a_size_change_is_one_clear_error(synthetic_video):
    """Chunks are built by swapping each BGR frame into the chunk array; a frame of another size (streams that
    change resolution) is a VideoReadError naming the sizes, not a wrong or half-filled chunk."""
    reader = VideoReader(synthetic_video)
    a = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    chunk = reader._make_chunk([0, 1], [0.0, 0.1], [a, a[::-1].copy()], True)
    np.testing.assert_array_equal(chunk.frames_rgb_u8[0], a[:, :, ::-1])
    np.testing.assert_array_equal(chunk.frames_rgb_u8[1], a[::-1, :, ::-1])
    with pytest.raises(VideoReadError, match=r"6x4, then 6x5 at frame 7"):
        reader._make_chunk([3, 7], [0.0, 0.1], [a, np.zeros((5, 6, 3), np.uint8)], True)
