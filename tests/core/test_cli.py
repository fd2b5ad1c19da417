"""``python -m core`` as a subprocess: a full capture, info, export-smpl, and every bad input (exit 2, one line)."""

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


def run_cli(*args, timeout=300):
    return run_core(*args, timeout=timeout)


def assert_user_error(proc, output: Path | None = None, match: str = "", code: int = 2):
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and match in lines[0], lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    if output is not None:
        assert not output.exists()
        assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}")]  # no temp file


def figure_detections(path, frames, per_track=False):
    boxes = [synthetic.figure_box_xyxy(t).tolist() for t in frames]
    if per_track:
        doc = {"tracks": [{"track_id": 1, "frame_ids": list(frames), "bbox_xyxy": boxes}]}
    else:
        doc = {"frames": [{"frame": t, "bbox_xyxy": [b], "scores": [0.9]} for t, b in zip(frames, boxes)]}
    Path(path).write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def detections(tmp_path_factory):
    return figure_detections(tmp_path_factory.mktemp("dets") / "boxes.json", range(40))


# ------------------------------------------------------------------------------------------- success
def test_help_is_instant_and_explains():
    t = time.perf_counter()
    proc = run_cli("capture", "--help")
    assert proc.returncode == 0 and time.perf_counter() - t < 10
    for text in ("--detections", "--frames START:END", "examples:", "--progress-json", "exit codes"):
        assert text in proc.stdout
    # issue 24 (15): --no-smoothing turns off refine's smoothing and foot lock (One-Euro is no longer the default)
    no_smoothing = " ".join(proc.stdout.split("\n  --no-smoothing", 1)[1].split("\n  --", 1)[0].split())
    assert "One-Euro" not in no_smoothing and "foot lock" in no_smoothing, no_smoothing
    probe = subprocess.run([sys.executable, "-c", "import sys, runpy; sys.argv=['core','--help'];\n"
                            "try:\n    runpy.run_module('core', run_name='__main__')\nexcept SystemExit: pass\n"
                            "print('torch' in sys.modules, 'cv2' in sys.modules)"],
                           cwd=REPO, capture_output=True, text=True)
    assert probe.stdout.strip().endswith("False False")


@pytest.mark.slow
def test_capture_end_to_end(models_dir, synthetic_video, detections, tmp_path):
    from core.result import MotionResult

    out = tmp_path / "walk.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--device", "cpu",
                   "--detections", detections, "--frames", "0:29", "--progress-json", "--save-vertices")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stderr.strip().splitlines()]
    assert events[-1] == {"type": "done", "output": str(out)}
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["fraction"] for e in progress] == sorted(e["fraction"] for e in progress)
    assert {e["stage"] for e in progress} == {"open", "detect", "features", "regress", "save"}
    assert progress[-1]["fraction"] == 1.0
    assert f"wrote {out}" in proc.stdout
    result = MotionResult.load(out)
    (track,) = result.tracks
    np.testing.assert_array_equal(track.frame_ids[[0, -1]], [track.frame_ids[0], 29])
    assert len(track) >= 28  # ByteTrack confirms a track from its first frame; allow one frame of slack
    assert track.rotmat.shape == (len(track), 24, 3, 3) and track.verts.shape == (len(track), 6890, 3)
    np.testing.assert_allclose(track.bbox_xyxy, [synthetic.figure_box_xyxy(t) for t in track.frame_ids], atol=3.0)
    assert result.num_frames == 40 and result.smpl_faces.shape == (13776, 3)
    assert result.meta["options"]["frame_end"] == 29 and result.meta["device"] == "cpu"


def test_info(synthetic_video):
    proc = run_cli("info", synthetic_video, "--count", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["width"], info["height"], info["frame_count"], info["fps"]) == (320, 240, 40, 30.0)


@pytest.mark.slow
def test_export_smpl(models_dir, tmp_path, tcmr_model):
    from core.smpl import load_smpl_arrays

    out = tmp_path / "SMPL_NEUTRAL.npz"
    proc = run_cli("export-smpl", "--models", models_dir, "-o", out)
    assert proc.returncode == 0, proc.stderr
    arrays = load_smpl_arrays(out)
    for key in ("v_template", "shapedirs", "J_regressor", "weights", "f"):
        np.testing.assert_allclose(arrays[key], tcmr_model.smpl_arrays[key], atol=1e-6)


# ---------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_bad_video(kind, tmp_path, synthetic_video, models_dir, detections):
    video = synthetic.write_bad_video(tmp_path / "clip.mp4", kind, synthetic_video)
    out = tmp_path / "out.npz"
    proc = run_cli("capture", video, "-o", out, "--models", models_dir, "--detections", detections)
    assert_user_error(proc, out, match=str(video))


@pytest.mark.slow
def test_video_too_short(tmp_path, models_dir):
    video = synthetic.write_synthetic_video(tmp_path / "short.mp4", n_frames=12)
    dets = figure_detections(tmp_path / "d.json", range(12), per_track=True)
    out = tmp_path / "out.npz"
    assert_user_error(run_cli("capture", video, "-o", out, "--models", models_dir, "--detections", dets),
                      out, match="only 12 frames")


@pytest.mark.parametrize("frames", [None, "0:9"], ids=["short-clip", "short-range"])
def test_too_short_is_refused_before_the_models(frames, tmp_path, synthetic_video, detections):
    """Issue 24 (14): a clip (or range) too short to capture was refused only after seconds of model loading. It is
    refused first: here no model file exists at all, and the message is still the clip's."""
    video = synthetic.write_synthetic_video(tmp_path / "five.mp4", n_frames=5) if frames is None else synthetic_video
    empty = tmp_path / "models"
    empty.mkdir()
    out = tmp_path / "out.npz"
    proc = run_cli("capture", video, "-o", out, "--models", empty, "--detections", detections,
                   *(["--frames", frames] if frames else []))
    assert_user_error(proc, out, match=f"only {5 if frames is None else 10} frames")


@pytest.mark.slow
def test_no_person_found(tmp_path, synthetic_video, models_dir):
    dets = figure_detections(tmp_path / "d.json", range(200, 240))  # boxes for frames the video lacks
    out = tmp_path / "out.npz"
    assert_user_error(run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--detections", dets),
                      out, match="no person")


def test_missing_model_files(tmp_path, synthetic_video, detections):
    empty = tmp_path / "models"
    empty.mkdir()
    out = tmp_path / "out.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", empty, "--detections", detections)
    assert_user_error(proc, out, match="tcmr_demo_model.pth.tar")
    assert "README" in proc.stderr
    assert f"install_deps.py --models --models-dir {empty}`" in proc.stderr  # fills the folder that was given
    assert f"--models-from FOLDER --models-dir {empty}`" in proc.stderr


@pytest.mark.parametrize("command", ["capture", "export-smpl"])
def test_missing_models_folder(command, tmp_path, synthetic_video, detections):
    nowhere = tmp_path / "typo"
    out = tmp_path / "out.npz"
    args = ["-o", out, "--models", nowhere]
    proc = run_cli(command, *([synthetic_video, *args, "--detections", detections] if command == "capture" else args))
    assert_user_error(proc, out, match=f"the models folder {nowhere} does not exist")
    assert f"--models-dir {nowhere}`" in proc.stderr and "missing model file" not in proc.stderr


@pytest.mark.parametrize("models", ["empty-folder", "no-folder"])
def test_wrong_video_is_reported_before_missing_models(models, tmp_path, detections):
    folder = tmp_path / "models"
    if models == "empty-folder":
        folder.mkdir()
    video = tmp_path / "no_such_video.mp4"
    out = tmp_path / "out.npz"
    for extra in ([], ["--detections", detections]):  # with the detector (needs yolo11s.pt) and without
        proc = run_cli("capture", video, "-o", out, "--models", folder, *extra)
        assert_user_error(proc, out, match=str(video))
        assert "missing model file" not in proc.stderr and "models folder" not in proc.stderr, proc.stderr


def test_wrong_detections_file_is_reported_before_missing_models(tmp_path, synthetic_video):
    empty = tmp_path / "models"
    empty.mkdir()
    out = tmp_path / "out.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", empty, "--detections", tmp_path / "nope.json")
    assert_user_error(proc, out, match="nope.json")
    assert "missing model file" not in proc.stderr


@pytest.mark.slow
def test_wrong_model_file(tmp_path, synthetic_video, models_dir, detections):
    mixed = tmp_path / "models"
    mixed.mkdir()
    (mixed / "tcmr_demo_model.pth.tar").symlink_to(models_dir / "spin_model_checkpoint.pth.tar")
    (mixed / "spin_model_checkpoint.pth.tar").symlink_to(models_dir / "spin_model_checkpoint.pth.tar")
    out = tmp_path / "out.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", mixed, "--detections", detections)
    assert_user_error(proc, out, match="tcmr_demo_model.pth.tar")
    assert "README" in proc.stderr or "http" in proc.stderr


@pytest.mark.parametrize("where", ["missing-folder", "read-only", "is-folder"])
def test_output_not_writable(where, tmp_path, synthetic_video, models_dir, detections):
    if where == "missing-folder":
        out = tmp_path / "nope" / "out.npz"
    elif where == "read-only":
        if os.geteuid() == 0:  # root ignores permission bits; /proc refuses new files even to root
            out = Path("/proc/out.npz")
        else:
            folder = tmp_path / "ro"
            folder.mkdir()
            folder.chmod(0o500)
            out = folder / "out.npz"
    else:
        out = tmp_path / "a_folder"
        out.mkdir()
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--detections", detections)
    assert_user_error(proc, None, match="output")


def test_cuda_requested_but_absent(tmp_path, synthetic_video, models_dir, detections):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--detections", detections,
                   "--device", "cuda")
    assert_user_error(proc, out, match="--device cpu")


@pytest.mark.parametrize("args, match", [
    (["--frames", "abc"], "START:END"),
    (["--frames", "30:10"], "frame range"),
    (["--target-fps", "-5"], "positive"),
    (["--windowing", "magic"], "windowing"),
    (["--track", "first"], "track"),
    (["--frames", "100:"], "only 40 frames"),
])
def test_bad_options(args, match, tmp_path, synthetic_video, models_dir, detections):
    out = tmp_path / "out.npz"
    proc = run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--detections", detections, *args)
    assert_user_error(proc, out, match=match)


def test_bad_detections_file(tmp_path, synthetic_video, models_dir):
    dets = tmp_path / "boxes.json"
    dets.write_text("{not json")
    out = tmp_path / "out.npz"
    assert_user_error(run_cli("capture", synthetic_video, "-o", out, "--models", models_dir, "--detections", dets),
                      out, match="detections")


def test_progress_json_reports_errors_as_json(tmp_path, models_dir, detections):
    proc = run_cli("capture", tmp_path / "missing.mp4", "-o", tmp_path / "o.npz", "--models", models_dir,
                   "--detections", detections, "--progress-json")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    error = json.loads(lines[-2])
    assert error["type"] == "error" and error["exit_code"] == 2 and "missing.mp4" in error["message"]
    assert lines[-1].startswith("error: ") and "Traceback" not in proc.stderr


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
def test_ctrl_c_leaves_no_output(tmp_path, synthetic_video, models_dir, detections):
    out = tmp_path / "out.npz"
    env = {k: v for k, v in os.environ.items() if k != "TCMR_MOCAP_MODELS"}
    # started with SIGINT ignored, as a shell starts a background job (`cmd &`): Python keeps SIG_IGN unless
    # the command installs its handler itself, and Ctrl-C would then do nothing
    proc = subprocess.Popen([sys.executable, "-m", "core", "capture", str(synthetic_video), "-o", str(out),
                             "--models", str(models_dir), "--detections", str(detections), "--progress-json"],
                            cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            preexec_fn=_ignore_sigint)
    try:
        for line in proc.stderr:  # wait until the heavy part has started
            if '"stage": "features"' in line:
                break
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest[-2000:]
    last = rest.strip().splitlines()[-1]
    assert last == "error: interrupted; no output was written"
    assert "Traceback" not in rest
    assert not out.exists() and not list(tmp_path.glob(".out.npz*"))
