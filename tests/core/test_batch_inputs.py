"""core.batch without the network: inputs (files, folders, globs, lists), names, the manifest and resume, and the
driver's reaction to a full output folder (fake captures, real videos for the frame counts)."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from core.batch import inputs as I
from core.batch.manifest import Manifest, plan, video_fingerprint
from core.cli.options import capture_config
from core.errors import InvalidArgumentError

sys.path.insert(0, str(Path(__file__).parent.parent))
import result_fuzz  # noqa: E402  (tests/result_fuzz.py: valid result files)


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------------ inputs
def test_folder_glob_and_duplicate_names(tmp_path):
    a = touch(tmp_path / "a" / "walk.mp4")
    b = touch(tmp_path / "b" / "walk.mp4")
    touch(tmp_path / "a" / "notes.txt")
    touch(tmp_path / "a" / "deep" / "run.mov")
    got = I.collect_clips([tmp_path / "a", str(tmp_path / "b" / "*.mp4")])
    assert [c.video for c in got.clips] == [str(a), str(b)]
    assert got.ignored == [str(tmp_path / "a" / "notes.txt")]
    names = [c.output_name for c in got.clips]
    assert len(set(names)) == 2 and all(n.startswith("walk-") and n.endswith(".npz") for n in names)
    # names are stable from run to run and do not depend on the order of the inputs
    again = I.collect_clips([str(tmp_path / "b" / "*.mp4"), tmp_path / "a"])
    assert sorted(c.output_name for c in again.clips) == sorted(names)
    deep = I.collect_clips([tmp_path / "a"], recursive=True)
    assert str(tmp_path / "a" / "deep" / "run.mov") in [c.video for c in deep.clips]
    # the same file named twice is captured once
    twice = I.collect_clips([a, tmp_path / "a"])
    assert len(twice.clips) == 1 and len(twice.duplicates) == 1
    with pytest.raises(InvalidArgumentError, match="matches no file"):
        I.collect_clips([str(tmp_path / "nothing" / "*.mp4")])


def test_txt_and_csv_lists_with_per_clip_options(tmp_path):
    touch(tmp_path / "clips" / "a.mp4")
    touch(tmp_path / "clips" / "boxes.json", b"{}")
    (tmp_path / "clips" / "list.txt").write_text(
        "# clips for the shoot\n"
        "a.mp4 --detections boxes.json --frames 10:99 --track 2\n"
        "a.mp4 --target-fps 15 --no-smoothing --output a_15fps\n"
        "'with space.mp4'\n")
    got = I.collect_clips([tmp_path / "clips" / "list.txt"])
    first, second, third = got.clips
    assert first.video == str(tmp_path / "clips" / "a.mp4")
    assert first.options == {"detections": str(tmp_path / "clips" / "boxes.json"), "frames": "10:99", "track": "2"}
    assert second.options["target_fps"] == 15.0 and second.options["no_smoothing"] is True
    assert second.output_name == "a_15fps.npz"
    assert third.video == str(tmp_path / "clips" / "with space.mp4")
    assert first.key != second.key  # the same video with other options is another clip
    config = capture_config({"models": "/m", "device": "cpu", "target_fps": 20.0}, first.options)
    assert (config.frame_start, config.frame_end, config.track, config.target_fps) == (10, 99, "2", 20.0)
    assert config.detections_path == str(tmp_path / "clips" / "boxes.json") and config.smoothing.enabled
    assert not capture_config({}, second.options).smoothing.enabled

    (tmp_path / "l.csv").write_text("video,detections,frames,no_smoothing\nclips/a.mp4,clips/boxes.json,0:49,yes\n"
                                    "clips/a.mp4,,,\n")
    rows = I.collect_clips([tmp_path / "l.csv"]).clips
    assert rows[0].options == {"detections": str(tmp_path / "clips" / "boxes.json"), "frames": "0:49",
                               "no_smoothing": True}
    assert rows[1].options == {}


@pytest.mark.parametrize("text, match", [
    ("a.mp4 --colour red\n", "unknown option"),
    ("a.mp4 --frames 9:3\n", "START <= END"),
    ("a.mp4 --target-fps\n", "needs a value"),
    ("a.mp4 --output ../escape\n", "inside the output folder"),
    ("a.mp4 --output x\nb.mp4 --output x.npz\n", "two clips would write x.npz"),
])
def test_bad_list_rows_name_the_line(tmp_path, text, match):
    (tmp_path / "list.txt").write_text(text)
    with pytest.raises(InvalidArgumentError, match=match) as info:
        I.collect_clips([tmp_path / "list.txt"])
    assert "list.txt:" in str(info.value)
    (tmp_path / "bad.csv").write_text("path,frames\na.mp4,0:9\n")
    with pytest.raises(InvalidArgumentError, match="'video' column"):
        I.collect_clips([tmp_path / "bad.csv"])


# ------------------------------------------------------------------------------------------------ manifest
def test_manifest_resume_rules(tmp_path):
    video = touch(tmp_path / "v.mp4", b"abc")
    (clip,) = I.collect_clips([video]).clips
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / clip.output_name
    m = Manifest(tmp_path / "out" / "manifest.jsonl")
    fp = video_fingerprint(str(video))
    m.append({"key": clip.key, "status": "done", **fp, "options": "o1"})
    h = lambda c: "o1"  # noqa: E731
    assert len(plan([clip], m, h, str(tmp_path / "out")).todo) == 1  # the output file is gone: redo
    valid = result_fuzz.valid_files()["capture"]
    for damaged in (b"result", valid[: len(valid) - 100]):  # not a result, cut short: redo
        out.write_bytes(damaged)
        assert len(plan([clip], m, h, str(tmp_path / "out")).todo) == 1
    out.write_bytes(valid)
    assert plan([clip], m, h, str(tmp_path / "out")).done == [clip]
    assert len(plan([clip], m, lambda c: "o2", str(tmp_path / "out")).todo) == 1  # other options: redo
    assert len(plan([clip], m, h, str(tmp_path / "out"), force=True).todo) == 1
    # a reload sees the same, and ignores a line a crash cut short
    with open(m.path, "a") as fh:
        fh.write('{"key": "' + clip.key + '", "status": "fai')
    m2 = Manifest(m.path)
    assert m2.bad_lines == 1 and plan([clip], m2, h, str(tmp_path / "out")).done == [clip]
    # changed video (size/mtime; or content with --hash): redo
    os.utime(video, ns=(fp["mtime_ns"] + 10**9, fp["mtime_ns"] + 10**9))
    assert len(plan([clip], m2, h, str(tmp_path / "out")).todo) == 1
    m2.append({"key": clip.key, "status": "done", **video_fingerprint(str(video), True), "options": "o1"})
    os.utime(video, ns=(fp["mtime_ns"], fp["mtime_ns"]))
    assert plan([clip], m2, h, str(tmp_path / "out"), content_hash=True).done == [clip]  # same bytes
    video.write_bytes(b"abd")
    assert len(plan([clip], m2, h, str(tmp_path / "out"), content_hash=True).todo) == 1
    # failed: skipped unless asked
    m2.append({"key": clip.key, "status": "failed", **video_fingerprint(str(video)), "options": "o1"})
    assert plan([clip], m2, h, str(tmp_path / "out")).failed == [clip]
    assert len(plan([clip], m2, h, str(tmp_path / "out"), retry_failed=True).todo) == 1


# ------------------------------------------------------------------------------------------------ driver
class _FakeResult:
    def __init__(self, n, warnings=()):
        self.tracks = [list(range(n))]
        self.meta = {"refine": {"warnings": list(warnings)}} if warnings else {}

    def save(self, path):
        if "full" in os.path.basename(path):
            from core.errors import OutputNotWritableError

            raise OutputNotWritableError("cannot write: No space left on device") from OSError(errno.ENOSPC, "full")
        Path(path).write_bytes(result_fuzz.valid_files()["capture"])  # a real result: resume checks it


@pytest.fixture
def fake_capture(monkeypatch):
    """core.pipeline.run/load_models replaced: a 'capture' takes no time and writes a small file."""
    import core.pipeline

    monkeypatch.setattr(core.pipeline, "load_models", lambda config, detector=True: object())
    monkeypatch.setattr(core.pipeline, "run", lambda video, config, progress=None, cancel=None, models=None:
                        _FakeResult(7))


@pytest.fixture
def fake_models(tmp_path):
    folder = tmp_path / "models"
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar", "yolo11s.pt"):
        touch(folder / name)
    return folder


def test_full_output_folder_stops_the_batch_and_loses_nothing(tmp_path, fake_capture, fake_models):
    import synthetic
    from core.batch.runner import BatchOptions, run_batch

    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a_long", "full", "c_short"):
        synthetic.write_synthetic_video(clips / f"{name}.mp4", n_frames={"a_long": 30, "full": 20}.get(name, 10))
    out = tmp_path / "out"
    opts = BatchOptions(inputs=[str(clips)], out_dir=str(out), capture={"models": str(fake_models), "device": "cpu"})
    summary = run_batch(opts)
    assert summary.exit_code == 2 and "No space left on device" in summary.message
    assert "run the same command again" in summary.message
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [os.path.basename(r["video"]) for r in records] == ["a_long.mp4"]  # longest first; the full one unrecorded
    assert not [p for p in out.iterdir() if p.name.startswith("full")]
    # space freed (here: the clip renamed): the same command goes on and does the rest
    (clips / "full.mp4").rename(clips / "b.mp4")
    summary = run_batch(opts)
    assert summary.exit_code == 0 and summary.skipped_done == 1 and summary.done == 2


def test_interrupt_between_clips_keeps_done_ones(tmp_path, fake_capture, fake_models):
    import synthetic
    from core.batch.runner import BatchOptions, _Driver, run_batch

    for name in ("a", "b", "c"):
        synthetic.write_synthetic_video(tmp_path / f"{name}.mp4", n_frames=10)
    stop = threading.Event()
    original = _Driver.on_result

    def on_result(self, key, result):
        original(self, key, result)
        stop.set()  # as Ctrl-C would, right after the first clip

    _Driver.on_result = on_result
    try:
        opts = BatchOptions(inputs=[str(tmp_path / "*.mp4")], out_dir=str(tmp_path / "out"),
                            capture={"models": str(fake_models), "device": "cpu"})
        summary = run_batch(opts, stop=stop)
    finally:
        _Driver.on_result = original
    assert summary.exit_code == 130 and summary.done == 1 and summary.not_run == 2
    assert len(list((tmp_path / "out").glob("*.npz"))) == 1


def test_dry_run_lists_and_records_nothing(tmp_path, fake_capture, fake_models, capsys):
    """Issue 24 (7): `batch --dry-run` wrote 'failed' records for unreadable clips, so the real run then skipped
    them. A dry run says what would happen and writes no record; the real run tries every clip."""
    import synthetic
    from core.batch.runner import BatchOptions, run_batch

    (tmp_path / "clips").mkdir()
    synthetic.write_synthetic_video(tmp_path / "clips" / "good.mp4", n_frames=10)
    touch(tmp_path / "clips" / "broken.mp4", b"not a video")
    opts = BatchOptions(inputs=[str(tmp_path / "clips")], out_dir=str(tmp_path / "out"),
                        capture={"models": str(fake_models), "device": "cpu"}, dry_run=True)
    summary = run_batch(opts)
    err = capsys.readouterr().err
    assert summary.exit_code == 0 and summary.not_run == 2 and not summary.records
    assert "would fail" in err and "broken.mp4" in err and "would capture" in err and "good.mp4" in err
    assert not (tmp_path / "out" / "manifest.jsonl").exists()
    opts.dry_run = False
    summary = run_batch(opts)
    assert summary.done == 1 and summary.failed == 1 and summary.skipped_failed == 0  # both clips tried


def test_capture_warnings_reach_the_manifest_and_the_progress(tmp_path, monkeypatch, fake_models, capsys):
    """Issue 24 (8): a capture's warnings (e.g. no floor found) were lost in a batch: they are in the clip's
    manifest record and in the progress (a JSON 'warning' event, the 'clip' event's list)."""
    import core.pipeline
    import synthetic
    from core.batch.runner import BatchOptions, run_batch

    warning = "the floor could not be estimated (fewer than 8 resting frames); the motion stays in the camera frame"
    monkeypatch.setattr(core.pipeline, "load_models", lambda config, detector=True: object())
    monkeypatch.setattr(core.pipeline, "run", lambda video, config, progress=None, cancel=None, models=None:
                        _FakeResult(7, [warning]))
    synthetic.write_synthetic_video(tmp_path / "swim.mp4", n_frames=10)
    opts = BatchOptions(inputs=[str(tmp_path / "swim.mp4")], out_dir=str(tmp_path / "out"),
                        capture={"models": str(fake_models), "device": "cpu"}, progress_json=True)
    assert run_batch(opts).exit_code == 0
    (record,) = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert record["status"] == "done" and record["warnings"] == [warning]
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {"type": "warning", "key": record["key"], "message": f"swim.mp4: {warning}"} in events
    assert next(e for e in events if e["type"] == "clip")["warnings"] == [warning]


def test_output_folder_problems_fail_at_once(tmp_path):
    from core.batch.runner import BatchOptions, run_batch
    from core.errors import OutputNotWritableError

    touch(tmp_path / "file")
    with pytest.raises(OutputNotWritableError, match="is a file"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out_dir=str(tmp_path / "file")))
    with pytest.raises(OutputNotWritableError, match="cannot write"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out_dir=str(tmp_path / "file" / "sub")))
    with pytest.raises(InvalidArgumentError, match="no video found"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out_dir=str(tmp_path / "out")))


def test_progress_line_and_eta():
    import io

    from core.batch.progress import BatchProgress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = BatchProgress(3, {"a": 300, "b": 100, "c": 100}, stream=stream)
    bar.t0 -= 60.0  # a minute in
    bar.start("a", "a.mp4")
    bar.finish("a", {"status": "done", "output": "/o/a.npz", "seconds": 50}, "a.mp4")
    bar.start("b", "b.mp4")
    bar.update("b", 0.5)
    assert abs(bar.fraction() - 350 / 500) < 1e-9
    assert abs(bar.eta_s() - 60.0 * (150 / 350)) < 1.0  # frames left / frames per second so far
    bar.finish("b", {"status": "failed", "error": "no person found"}, "b.mp4")
    status = bar.status()
    assert status.startswith("[2/3] 1 done, 1 failed, 0 running") and "clips/min" in status and "ETA" in status
    text = stream.getvalue()
    assert "failed b.mp4: no person found" in text and "\r\033[K" in text
    # Issue 24 (15): clips that fail at once read "80520.8 clips/min"; a rate is shown once it means something
    quick = BatchProgress(2, {"a": 10, "b": 10}, stream=io.StringIO())
    quick.finish("a", {"status": "failed", "error": "not a video"}, "a.mp4")
    assert "| -- clips/min |" in quick.status()


def test_executor_choice(monkeypatch):
    from core.batch import local, runner, worker

    monkeypatch.setattr(worker, "cuda_device_count", lambda: 4)
    opts = runner.BatchOptions(inputs=[], out_dir="x", capture={"device": "cuda"})
    ex = runner.make_executor(opts)
    assert isinstance(ex, local.ProcessExecutor) and ex.workers == 4 and ex.gpus == [0, 1, 2, 3]  # one per GPU
    ex = runner.make_executor(runner.BatchOptions(inputs=[], out_dir="x", capture={"device": "cpu"}, workers=2))
    assert isinstance(ex, local.ProcessExecutor) and ex.gpus is None
    assert ex.threads == max(1, (os.cpu_count() or 1) // 2)
    assert isinstance(runner.make_executor(runner.BatchOptions(inputs=[], out_dir="x")), local.InlineExecutor)
