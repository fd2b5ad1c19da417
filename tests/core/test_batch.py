"""``python -m core batch`` end to end on synthetic clips and models: a list with per-clip options, bad clips that
do not stop the batch, resume, --retry-failed, two worker processes, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("cv2")

sys.path.insert(0, str(Path(__file__).parent.parent))
import synthetic  # noqa: E402
from cli_runner import run_core  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def run_batch_cli(*args, timeout=400):
    return run_core("batch", *args, timeout=timeout)


def make_clip(folder: Path, name: str, n_frames: int) -> tuple[Path, Path]:
    """A synthetic walking-figure video and a detections file with its boxes."""
    video = synthetic.write_synthetic_video(folder / f"{name}.mp4", n_frames=n_frames)
    frames = [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t, n_frames=n_frames).tolist()], "scores": [0.9]}
              for t in range(n_frames)]
    boxes = folder / f"{name}.json"
    boxes.write_text(json.dumps({"frames": frames}))
    return video, boxes


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    for name, n in (("walk", 30), ("long", 40)):
        make_clip(folder, name, n)
    (folder / "sub").mkdir()
    make_clip(folder / "sub", "walk", 26)  # the same file name in another folder
    (folder / "notes.mp4").write_text("not a video\n" * 20)
    return folder


@pytest.mark.slow
def test_batch_list_resume_and_retry(clips, models_dir, tmp_path):
    from core.result import MotionResult

    listing = tmp_path / "clips.txt"
    listing.write_text(f"{clips}/walk.mp4 --detections {clips}/walk.json --frames 0:27\n"
                       f"{clips}/sub/walk.mp4 --detections {clips}/sub/walk.json\n"
                       f"{clips}/notes.mp4 --detections {clips}/walk.json\n"
                       f"{clips}/missing.mp4\n")
    out = tmp_path / "out"
    proc = run_batch_cli(listing, "-o", out, "--models", models_dir, "--device", "cpu", "--no-smoothing")
    assert proc.returncode == 3, proc.stderr  # some failed
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "2 of 4 clip(s) failed" in proc.stderr.strip().splitlines()[-1]
    records = {Path(r["video"]).relative_to(clips).as_posix(): r for r in manifest(out)}
    assert set(records) == {"walk.mp4", "sub/walk.mp4", "notes.mp4", "missing.mp4"}
    assert records["notes.mp4"]["status"] == "failed" and "as a video" in records["notes.mp4"]["error"]
    assert records["missing.mp4"]["status"] == "failed" and "not found" in records["missing.mp4"]["error"]
    for name in ("walk.mp4", "sub/walk.mp4"):
        rec = records[name]
        assert rec["status"] == "done" and rec["error"] is None and rec["seconds"] > 0
        assert rec["output"].startswith(str(out)) and Path(rec["output"]).name.startswith("walk-")
    assert records["walk.mp4"]["output"] != records["sub/walk.mp4"]["output"]
    result = MotionResult.load(records["walk.mp4"]["output"])
    (track,) = result.tracks
    assert track.frame_ids[-1] == 27 and result.meta["options"]["frame_end"] == 27  # the list's per-clip option
    assert result.meta["smoothing"] is False  # the batch's option
    assert {p.name for p in out.iterdir()} == {"manifest.jsonl", Path(records["walk.mp4"]["output"]).name,
                                               Path(records["sub/walk.mp4"]["output"]).name}
    # the models were loaded once for the whole batch
    assert len({r["worker"] for r in records.values() if r["status"] == "done"}) == 1

    # again: nothing to do (done and unchanged; failed not retried), no model loading
    mtime = os.stat(records["walk.mp4"]["output"]).st_mtime_ns
    t = time.perf_counter()
    proc = run_batch_cli(listing, "-o", out, "--models", models_dir, "--device", "cpu", "--no-smoothing")
    assert proc.returncode == 3 and time.perf_counter() - t < 20
    assert "2 already done" in proc.stdout and "2 failed before" in proc.stdout
    assert len(manifest(out)) == 4 and os.stat(records["walk.mp4"]["output"]).st_mtime_ns == mtime

    # the broken clip is fixed: --retry-failed runs the failed ones only
    make_clip(clips, "notes", 28)
    (clips / "missing.mp4").symlink_to(clips / "long.mp4")
    listing.write_text(listing.read_text().replace(f"{clips}/missing.mp4", f"{clips}/missing.mp4 --detections "
                                                   f"{clips}/long.json"))
    proc = run_batch_cli(listing, "-o", out, "--models", models_dir, "--device", "cpu", "--no-smoothing",
                         "--retry-failed")
    assert proc.returncode == 0, proc.stderr
    records = manifest(out)
    assert len(records) == 6  # 4 from the first run + the two clips captured now (the others were skipped)
    assert {Path(r["video"]).name: r["status"] for r in records[4:]} == {"notes.mp4": "done", "missing.mp4": "done"}
    # the edited row is a new clip (other options): a new output name; the old failed record stays as history
    assert records[5]["key"] != records[3]["key"] or records[4]["key"] != records[3]["key"]


@pytest.mark.slow
def test_two_workers_share_the_queue(clips, models_dir, tmp_path):
    out = tmp_path / "out"
    proc = run_batch_cli(f"{clips}/*.json", "-o", out, "--models", models_dir, timeout=10)
    assert proc.returncode == 2 and "no video found" in proc.stderr  # a glob of non-videos: nothing to do
    listing = tmp_path / "l.csv"
    listing.write_text("video,detections\n" + "".join(f"{clips}/{n}.mp4,{clips}/{n}.json\n" for n in ("walk", "long"))
                       + f"{clips}/sub/walk.mp4,{clips}/sub/walk.json\n")
    proc = run_batch_cli(listing, "-o", out, "--models", models_dir, "--device", "cpu", "--workers", "2",
                         "--progress-json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert events[-1]["type"] == "done" and events[-1]["done"] == 3
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all("ETA" in e["message"] for e in events if e["type"] == "progress")
    records = manifest(out)
    assert sorted(r["status"] for r in records) == ["done"] * 3
    assert len({r["worker"] for r in records}) == 2  # both processes took clips
    # longest first (40, 30, 26 frames): long.mp4 goes out with the first two clips, sub/walk.mp4 only when a
    # worker is free again (the order they finish in depends on the machine's load)
    started = [Path(e["video"]).relative_to(clips).as_posix() for e in events if e["type"] == "start"]
    assert sorted(started[:2]) == ["long.mp4", "walk.mp4"] and started[2:] == ["sub/walk.mp4"], started
    for r in records:
        with np.load(r["output"]) as z:
            assert int(z["format_version"]) == 1


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resumes(clips, models_dir, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    listing = tmp_path / "l.txt"
    rows = []
    for k in range(4):
        rows.append(f"{clips}/long.mp4 --detections {clips}/long.json --track 1 --output clip{k}")
    listing.write_text("\n".join(rows) + "\n")
    listing.write_text(listing.read_text().replace("--track 1 --output clip1", "--track all --output clip1")
                       .replace("--track 1 --output clip2", "--frames 0:38 --output clip2")
                       .replace("--track 1 --output clip3", "--frames 1: --output clip3"))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "TCMR_MOCAP_MODELS"}
    proc = subprocess.Popen([sys.executable, "-m", "core", "batch", str(listing), "-o", str(out), "--models",
                             str(models_dir), "--device", "cpu"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                                                signal.SIG_IGN))
    try:
        first = proc.stderr.readline()  # the first clip's line: "[1/4] done ..."
        assert "done" in first, first
        proc.send_signal(signal.SIGINT)  # arrives while the second clip runs
        rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    assert "interrupted" in rest[1] and "run the same command again" in rest[1]
    assert "Traceback" not in rest[1]
    done = [r for r in manifest(out) if r["status"] == "done"]
    assert 1 <= len(done) < 4
    names = {p.name for p in out.iterdir()}
    assert names == {"manifest.jsonl"} | {Path(r["output"]).name for r in done}  # no partial files
    proc = run_batch_cli(listing, "-o", out, "--models", models_dir, "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    records = manifest(out)
    assert sorted(r["output"] for r in records) == sorted(str(out / f"clip{k}.npz") for k in range(4))  # each once


@pytest.mark.slow
def test_killed_worker_process_is_replaced_and_its_clip_redone(clips, models_dir, tmp_path):
    """--workers 2: a worker process killed mid-clip is replaced, the clip is captured by the new one, each clip
    is written and recorded once."""
    import re

    from core.batch import runner
    from core.batch.runner import BatchOptions, run_batch

    listing = tmp_path / "l.txt"
    listing.write_text("".join(f"{clips}/{n}.mp4 --detections {clips}/{n}.json\n" for n in ("long", "walk")))
    killed = {}
    original = runner._Driver.on_start

    def on_start(self, key, worker):
        original(self, key, worker)
        if not killed:
            killed["key"], killed["pid"] = key, int(re.search(r"pid (\d+)", worker).group(1))
            os.kill(killed["pid"], signal.SIGKILL)

    runner._Driver.on_start = on_start
    try:
        summary = run_batch(BatchOptions(inputs=[str(listing)], out_dir=str(tmp_path / "out"), workers=2,
                                         capture={"models": str(models_dir), "device": "cpu"}))
    finally:
        runner._Driver.on_start = original
    assert summary.exit_code == 0, summary.message
    records = manifest(tmp_path / "out")
    assert sorted(r["status"] for r in records) == ["done", "done"] and len({r["key"] for r in records}) == 2
    redone = next(r for r in records if r["key"] == killed["key"])
    assert redone["attempt"] == 2 and f"pid {killed['pid']}" not in redone["worker"]
    assert len(list((tmp_path / "out").iterdir())) == 3  # 2 results + the manifest, no partial file
