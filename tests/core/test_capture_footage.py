"""``python -m core footage``: a video's frames as the capture decodes them (numbered by video frame, with their
timestamps), the Blender add-on's footage for videos whose container timing Blender reads differently."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

sys.path.insert(0, str(Path(__file__).parent.parent))
import mp4_timing  # noqa: E402
import synthetic  # noqa: E402
from cli_runner import run_core  # noqa: E402

from core.capture.footage import frame_file, read_footage  # noqa: E402
from core.capture.video import VideoReader  # noqa: E402


def test_frames_and_times_are_the_captures(tmp_path):
    """A variable-rate clip (50 ms gaps): file N is decoded frame N, footage.json has every frame's time."""
    cfr = synthetic.write_counter_video(tmp_path / "cfr.mp4", n_frames=30)
    video = tmp_path / "vfr.mp4"
    mp4_timing.retime(cfr, video, [768 if k % 7 == 6 else 512 for k in range(30)], 15360)
    out = tmp_path / "frames"
    proc = run_core("footage", video, "-o", out, "--frames", "4:20")
    assert proc.returncode == 0, proc.stderr
    reader = VideoReader(str(video))
    decoded = np.concatenate([c.frames_rgb_u8 for c in reader.scan()])
    info = read_footage(str(out), str(video))
    assert info is not None and (info["first"], info["last"]) == (4, 20)
    np.testing.assert_allclose(info["timestamps_s"], reader.timestamps_s[4:21], atol=1e-6)
    assert np.diff(info["timestamps_s"]).max() > 0.045  # the gaps are there (not a steady 30 fps)
    assert sorted(p.name for p in out.iterdir()) == ["footage.json"] + [f"frame_{k:06d}.jpg" for k in range(4, 21)]
    for k in (4, 10, 20):
        image = cv2.imread(frame_file(str(out), k))[..., ::-1].astype(np.float32)
        off = np.abs(decoded.astype(np.float32) - image[None]).mean(axis=(1, 2, 3))  # (30,)
        assert int(off.argmin()) == k and off[k] < 3.0, (k, off[k])
    # a changed video no longer matches its footage
    video.touch()
    assert read_footage(str(out), str(video)) is None and read_footage(str(out)) is not None


def test_bad_video_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    proc = run_core("footage", tmp_path / "notes.mp4", "-o", tmp_path / "frames")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "frames").exists() and not [p for p in tmp_path.iterdir() if "partial" in p.name]
