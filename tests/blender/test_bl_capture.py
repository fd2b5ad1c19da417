"""tcmr.capture against a fake core (a script that answers like `python -m core capture --progress-json`):
options on the command line, progress, import on success, errors as reports, cancel leaving no trace."""

from __future__ import annotations

import json
import os
import time
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
from tcmr_mocap.blender_addon.scene import builder  # noqa: E402
from tcmr_mocap.blender_addon.runtime import commands  # noqa: E402
from tcmr_mocap.blender_addon.capture.session import CaptureSession  # noqa: E402
from tcmr_mocap.blender_addon.runtime.modal import ModalJobMixin  # noqa: E402

BETAS = np.zeros(10)


@pytest.fixture
def prepared_result(tmp_path, smpl_arrays, synthetic_video):
    R, transl = H.to_camera_frame(*H.procedural_motion(40))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(40), BETAS)}, video_path=str(synthetic_video))
    path = tmp_path / "prepared.npz"
    result.save(path)
    return path


def fake(tmp_path, **config):
    return H.write_fake_core(tmp_path / "fake", **config)


def test_capture_imports_the_result_and_passes_the_options(scene, tmp_path, prepared_result, synthetic_video):
    from tcmr_mocap.blender_addon.scene import raw_store

    python = fake(tmp_path, mode="ok", result=str(prepared_result))
    s = scene.tcmr
    s.person, s.track_id = "ONE", 2
    r = scene.tcmr_refine  # the one set of refine options: passed to the core, which refines once
    r.live_update = False
    r.smoothing, r.foot_lock, r.upright, r.window = "slerp-average", "ground", False, 7
    assert s.quality == "EXACT"  # the default
    s.quality = "FAST"
    s.use_frame_range, s.frame_start, s.frame_end = True, 5, 30
    s.use_target_fps, s.target_fps = True, 15.0
    s.use_focal_length, s.focal_length_px = True, 900.0
    s.create_mesh = False
    refined_here = []
    original = raw_store.refine
    raw_store.refine = lambda *a, **k: refined_here.append(1) or original(*a, **k)
    try:
        assert bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(python),
                                    models_dir=str(tmp_path), detections=str(tmp_path / "boxes.json")) == {"FINISHED"}
    finally:
        raw_store.refine = original
    assert not refined_here  # the add-on does not refine the core's result a second time
    argv = json.loads((python.parent / "argv.json").read_text())
    assert argv[:4] == ["-m", "core", "capture", str(synthetic_video)]
    text = " ".join(argv)
    for part in ("--progress-json", "--track 2", "--smoothing slerp-average", "--foot-lock ground", "--no-upright",
                 "--window 7", "--frames 5:30", "--target-fps 15",
                 "--focal-length 900", "--fast", f"--models {tmp_path}", f"--detections {tmp_path / 'boxes.json'}"):
        assert part in text, part
    arm = bpy.data.objects["walk.mp4 · track 1"]
    assert arm.type == "ARMATURE" and not arm.children  # create_mesh off
    assert scene.camera.name == "walk.mp4 · camera" and scene.frame_end == 40
    assert not list(tmp_path.glob("tcmr_capture_*"))
    # the temporary folder of the run is gone
    out = argv[argv.index("-o") + 1]
    assert not os.path.exists(os.path.dirname(out))


def test_panel_detections_file_and_each_progress_line_once(scene, tmp_path, prepared_result, synthetic_video, capfd):
    """Issue 24 (13, 15): the panel has a detections-file field (the capture passes it to the core), and a blocking
    capture prints each progress line once (the final "save: saved" came out three times)."""
    python = fake(tmp_path, mode="ok", result=str(prepared_result), step_s=0.2)
    scene.tcmr.detections_path = str(tmp_path / "boxes.json")
    assert bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(python),
                                models_dir=str(tmp_path)) == {"FINISHED"}
    argv = json.loads((python.parent / "argv.json").read_text())
    assert f"--detections {tmp_path / 'boxes.json'}" in " ".join(argv)
    lines = [line for line in capfd.readouterr().out.splitlines() if line.startswith("[tcmr]")]
    assert len(lines) >= 3 and len(lines) == len(set(lines)), lines


def test_core_error_becomes_a_report(scene, tmp_path, synthetic_video):
    message = "no person found in walk.mp4: try --detections or a video where the person is larger"
    python = fake(tmp_path, mode="error", message=message)
    before = H.scene_snapshot()
    with pytest.raises(RuntimeError, match="no person found"):  # bpy.ops raises on an error report
        bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(python))
    assert bpy.context.window_manager.tcmr_job.last_error == message
    assert H.scene_snapshot() == before


def test_core_crash_and_bad_inputs_become_reports(scene, tmp_path, synthetic_video):
    wm = bpy.context.window_manager
    python = fake(tmp_path, mode="crash")
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(python))
    assert "exit code 1" in wm.tcmr_job.last_error
    with pytest.raises(RuntimeError, match="video not found"):
        bpy.ops.tcmr.capture(filepath=str(tmp_path / "missing.mp4"), python_path=str(python))
    with pytest.raises(RuntimeError, match="runtime Python not found"):
        bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(tmp_path / "no" / "python"))
    with pytest.raises(RuntimeError, match="choose a video"):
        bpy.ops.tcmr.capture(python_path=str(python))


class Driver(ModalJobMixin):
    """The capture operator's modal loop without a window: what Blender's event loop would call."""

    job_label = "Capture"

    def __init__(self, runner):
        self.runner = runner
        self.reports = []

    def report(self, kind, message):
        self.reports.append((set(kind), message))

    def job_finished(self, context):
        try:
            result = self.runner.finish(context)
        except Exception as err:  # noqa: BLE001 - the test looks at it
            return self.fail(context, str(err))
        return {"FINISHED"} if result.armatures else {"CANCELLED"}


TIMER = SimpleNamespace(type="TIMER", value="NOTHING")


def _session(python, video, mesh=False):
    return CaptureSession(python, str(video), commands.CaptureOptions(),
                          builder.BuildOptions(create_mesh=mesh)).start()


def _drive_until(driver, context, condition, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    result = {"PASS_THROUGH"}
    while not condition() and time.monotonic() < deadline:
        result = driver.modal(context, TIMER)
        if result != {"PASS_THROUGH"}:
            return result
        time.sleep(0.02)
    return result


@pytest.mark.parametrize("how", ["button", "escape"])
def test_cancel_leaves_no_trace(scene, tmp_path, prepared_result, synthetic_video, how):
    scene.render.fps, scene.frame_end = 24, 77
    before = H.scene_snapshot()
    python = fake(tmp_path, mode="slow", result=str(prepared_result))
    context = bpy.context
    wm = context.window_manager
    session = _session(python, synthetic_video)
    driver = Driver(session)
    wm.tcmr_job.running = True  # what start_modal sets (it needs a window for its timer)
    _drive_until(driver, context, lambda: (python.parent / "pid").exists() and wm.tcmr_job.progress >= 0.8)
    assert wm.tcmr_job.progress == pytest.approx(0.8) and "network" in wm.tcmr_job.status
    pid = int((python.parent / "pid").read_text())
    tmpdir = os.path.dirname(session._default_output)
    assert os.path.isdir(tmpdir)
    if how == "button":
        assert bpy.ops.tcmr.cancel_job() == {"FINISHED"}
        result = driver.modal(context, TIMER)
    else:
        result = driver.modal(context, SimpleNamespace(type="ESC", value="PRESS"))
    assert result == {"CANCELLED"}
    assert ({"WARNING"}, "Capture cancelled") in driver.reports
    assert not wm.tcmr_job.running and wm.tcmr_job.status == "Capture cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(tmpdir)
    assert H.scene_snapshot() == before


def test_modal_run_to_the_end(scene, tmp_path, prepared_result, synthetic_video):
    python = fake(tmp_path, mode="ok", result=str(prepared_result), step_s=0.05)
    wm = bpy.context.window_manager
    driver = Driver(_session(python, synthetic_video))
    wm.tcmr_job.running = True
    progress = []
    result = _drive_until(driver, bpy.context, lambda: progress.append(wm.tcmr_job.progress) or False)
    assert result == {"FINISHED"}
    assert max(progress) > 0 and not wm.tcmr_job.running
    assert "walk.mp4 · track 1" in bpy.data.objects
