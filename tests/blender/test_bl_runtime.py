"""The add-on's bpy-free plumbing: the core command line, progress lines, the subprocess job, frame mapping."""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tcmr_mocap.blender_addon.scene import pose_keys
from tcmr_mocap.blender_addon.runtime import commands, environment
from tcmr_mocap.core.config import FootLockConfig, RefineConfig
from tcmr_mocap.blender_addon.runtime.job import CANCELLED, DONE, ERROR, SubprocessJob


def test_capture_command():
    refine = dataclasses.replace(RefineConfig(), smoothing="none", foot_lock=FootLockConfig(mode="never"), fps=24.0)
    options = commands.CaptureOptions(models_dir="/m", device="cpu", track="2", refine=refine, frame_start=10,
                                      frame_end=None, target_fps=15.0, focal_length_px=1500.0, detections="/d.json",
                                      fast=True)
    cmd = commands.capture_command(Path("/env/bin/python"), "/v/walk.mp4", "/tmp/o.npz", options)
    assert cmd[:8] == ["/env/bin/python", "-m", "core", "capture", "/v/walk.mp4", "-o", "/tmp/o.npz",
                       "--progress-json"]
    text = " ".join(cmd)
    for part in ("--device cpu", "--track 2", "--models /m", "--smoothing none", "--foot-lock never", "--fps 24.0",
                 "--frames 10:", "--target-fps 15", "--focal-length 1500", "--detections /d.json", "--fast"):
        assert part in text
    plain = commands.capture_command(Path("py"), "v.mp4", "o.npz", commands.CaptureOptions())
    assert "--smoothing" not in plain and "--frames" not in plain and "--models" not in plain
    assert "--fast" not in plain  # exact unless asked
    assert plain[plain.index("--track") + 1] == "all"


def test_install_command_respects_online_access():
    offline = commands.install_command(Path("/u/venv"), "/m", download_models=True, online=False)
    assert offline[1].endswith("install_deps.py") and "--offline" in offline and "--models" not in offline
    assert offline[offline.index("--env") + 1] == "/u/venv" and "--json" in offline
    online = commands.install_command(None, "", download_models=True, online=True)
    assert "--models" in online and "--offline" not in online and "--env" not in online


def test_parse_event():
    e = commands.parse_event('{"type": "progress", "stage": "tracking", "fraction": 0.5, "message": "m"}\n')
    assert e["type"] == "progress" and e["fraction"] == 0.5 and e["stage"] == "tracking"
    assert commands.parse_event('{"type": "done", "output": "/x.npz"}')["output"] == "/x.npz"
    assert commands.parse_event('{"type": "error", "message": "no person", "exit_code": 2}')["type"] == "error"
    assert commands.parse_event('{"stage": "error", "fraction": null, "message": "m"}')["type"] == "error"
    assert commands.parse_event('{"stage": "pip", "fraction": 7, "message": "m"}')["fraction"] == 1.0
    for junk in ("plain text", "{not json", "[1, 2]", '{"other": 1}', ""):
        assert commands.parse_event(junk) is None


def test_resolve_python(tmp_path):
    assert environment.resolve_python("/explicit/python") == Path("/explicit/python")
    env = tmp_path / "env"
    python = environment.env_python(env)
    python.parent.mkdir(parents=True)
    python.write_text("")
    if not environment.env_python(environment.REPO_ENV_DIR).is_file():
        assert environment.resolve_python("", [tmp_path / "none", env]) == python
    (env / "tcmr_mocap_building").write_text("")  # install_deps.py's marker: a set-up that did not finish
    assert environment.resolve_python("", [tmp_path / "none", env]) != python  # a half-built env is never used
    assert environment.check_readiness(tmp_path / "nope" / "python", str(tmp_path)).problems[0].startswith(
        "runtime Python not found")
    assert "install" in environment.check_readiness(None, str(tmp_path)).problems[0].lower()
    problems = environment.check_readiness(None, str(tmp_path / "no-such-folder")).problems
    assert len([p for p in problems if "no-such-folder" in p]) == 1 and "does not exist" in problems[-1]
    assert set(environment.runtime_modules()) >= {"torch", "cv2", "numpy"}


def _script(tmp_path, body: str) -> list:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_job_progress_and_done(tmp_path):
    argv = _script(tmp_path, """
        import json, sys
        for f in (0.25, 0.5):
            event = {"type": "progress", "stage": "s", "fraction": f, "message": f"at {f}"}
            sys.stderr.write(json.dumps(event) + "\\n")
            print("stdout noise")
        sys.stderr.write(json.dumps({"type": "done", "output": "/r.npz"}) + "\\n")
    """)
    seen = []
    job = SubprocessJob(argv).start()
    assert job.wait(on_update=lambda j: seen.append(j.fraction), timeout_s=30) == DONE
    assert job.output == "/r.npz" and job.fraction == 1.0 and job.returncode == 0
    assert seen and job.stage == "s" and job.message == "at 0.5"


def test_job_error_line_and_fallbacks(tmp_path):
    job = SubprocessJob(_script(tmp_path, """
        import json, sys
        sys.stderr.write(json.dumps({"type": "error", "message": "no person found", "exit_code": 2}) + "\\n")
        sys.exit(2)
    """)).start()
    assert job.wait(timeout_s=30) == ERROR and job.error == "no person found"
    job = SubprocessJob(_script(tmp_path, """
        import sys
        sys.stderr.write("error: the video is unreadable\\n")
        sys.exit(2)
    """)).start()
    job.wait(timeout_s=30)
    assert job.error == "the video is unreadable (exit code 2)"
    job = SubprocessJob(_script(tmp_path, "raise ZeroDivisionError('boom')\n")).start()
    job.wait(timeout_s=30)
    assert job.state == ERROR and "ZeroDivisionError: boom" in job.error and "exit code 1" in job.error
    job = SubprocessJob([str(tmp_path / "does-not-exist")]).start()
    assert job.state == ERROR and "cannot start" in job.error


def test_job_cancel_ends_process_tree(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    job = SubprocessJob(_script(tmp_path, f"""
        import json, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        sys.stderr.write(json.dumps({{"type": "progress", "stage": "s", "fraction": 0.1, "message": "m"}}) + "\\n")
        time.sleep(60)
    """)).start()
    deadline = time.monotonic() + 20
    while job.fraction < 0.1 and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.05)
    assert job.fraction == pytest.approx(0.1)
    start = time.monotonic()
    job.cancel()
    assert time.monotonic() - start < 5.0
    assert job.state == CANCELLED and job.returncode is not None
    grandchild = int(pid_file.read_text())
    for _ in range(100):
        if not _running(grandchild):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the core's child process survived the cancel")


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait for a reaper that a container's PID 1 never runs)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def test_scene_frames_same_rate_uses_frame_ids():
    frame_ids = np.array([3, 4, 5, 9])
    times = np.array([0.1, 0.14, 0.2, 0.33])  # variable frame rate
    frames, keep = pose_keys.scene_frames(times, frame_ids, source_fps=30.0, scene_fps=30.0)
    np.testing.assert_array_equal(frames, frame_ids + 1)
    np.testing.assert_array_equal(keep, np.arange(4))
    ntsc = 30000 / 1001
    fps, base = pose_keys.fps_to_blender(ntsc)
    assert (fps, round(base, 6)) == (30, 1.001)
    frames, _ = pose_keys.scene_frames(times, frame_ids, ntsc, fps / np.float32(base))  # fps_base is float32
    np.testing.assert_array_equal(frames, frame_ids + 1)


def test_scene_frames_other_rate_uses_timestamps():
    frame_ids = np.arange(0, 12, 2)  # target-fps subsampling: every other frame of a 30 fps video
    times = frame_ids / 30.0
    frames, keep = pose_keys.scene_frames(times, frame_ids, 30.0, scene_fps=24.0)
    np.testing.assert_array_equal(frames, [1, 3, 4, 6, 7, 9])  # 1 + round(t · 24)
    frames, keep = pose_keys.scene_frames(np.arange(10) / 60.0, np.arange(10), 60.0, scene_fps=30.0)
    np.testing.assert_array_equal(frames, [1, 2, 3, 4, 5, 6])  # two rows per scene frame: the first is kept
    np.testing.assert_array_equal(keep, [0, 1, 3, 5, 7, 9])  # halves round up: 0.5 -> 1, 1.5 -> 2 ...
    assert pose_keys.fps_to_blender(25.0) == (25, 1.0)
    assert pose_keys.scene_frame_count(100, 60.0, 30.0) == 50
