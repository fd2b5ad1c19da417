"""Fuzz: hostile result files (tests/result_fuzz.py, seeded) through ``bpy.ops.tcmr.import_motion`` and the
headless ``--import``: a refusal is one error line and leaves every data-block and scene setting as it was; an
accepted file puts nothing NaN/inf into the scene; no pickle runs; a decompression bomb costs no memory."""

from __future__ import annotations

import collections
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
import result_fuzz as F  # noqa: E402  (tests/result_fuzz.py)

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES, SEED = 150, 520
MAX_PEAK_MB = 200  # traced (numpy) memory of one import; reading the bomb would take GBs
_DATA = ("actions", "armatures", "cameras", "collections", "images", "materials", "meshes", "movieclips",
         "node_groups", "objects", "scenes", "texts", "worlds")


def snapshot() -> dict:
    """Every data-block by name (and its users), the scene's settings and the stored raw results."""
    out = H.scene_snapshot()
    for attr in _DATA:
        out[attr] = sorted((idb.name, idb.users) for idb in getattr(bpy.data, attr))
    out["stored"] = sorted((c.name, len(c.get("tcmr_raw_npz", b""))) for c in bpy.data.collections)
    return out


def not_finite() -> str | None:
    """The first number in the scene that is NaN/inf: keyframes, object matrices, bones, mesh vertices, cameras,
    scene timing (read back from Blender, not from the file)."""
    for action in bpy.data.actions:
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    for fc in bag.fcurves:
                        co = np.empty(2 * len(fc.keyframe_points), np.float32)
                        fc.keyframe_points.foreach_get("co", co)
                        if not np.isfinite(co).all():
                            return f"{action.name}: {fc.data_path}[{fc.array_index}]"
    for obj in bpy.data.objects:
        if not np.isfinite(np.array(obj.matrix_world)).all():
            return f"object {obj.name}"
    for arm in bpy.data.armatures:
        for bone in arm.bones:
            if not np.isfinite(np.array([*bone.head_local, *bone.tail_local])).all():
                return f"bone {arm.name}/{bone.name}"
    for mesh in bpy.data.meshes:
        co = np.empty(3 * len(mesh.vertices), np.float32)
        mesh.vertices.foreach_get("co", co)
        if not np.isfinite(co).all():
            return f"mesh {mesh.name}"
    for cam in bpy.data.cameras:
        if not np.isfinite([cam.lens, cam.sensor_width, cam.clip_end]).all():
            return f"camera {cam.name}"
    s = bpy.context.scene
    if not (np.isfinite(s.render.fps_base) and s.render.fps >= 1 and 0 <= s.frame_start <= s.frame_end):
        return "scene timing"
    return None


@pytest.mark.slow
def test_import_fuzz(scene, tmp_path):
    marker = tmp_path / "pickle_ran"
    cases = F.cases(CASES, SEED, marker)
    wm = bpy.context.window_manager
    counts, problems, peaks = collections.Counter(), [], []
    t0 = time.perf_counter()
    for i, case in enumerate(cases):
        path = tmp_path / f"case{i}.npz"
        path.write_bytes(case.data)
        label = f"case {i} ({case.kind}: {case.what})"
        before = snapshot()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        try:
            outcome = bpy.ops.tcmr.import_motion(filepath=str(path))
            message = None
        except RuntimeError as exc:  # bpy.ops: the operator's error report (or a Python traceback)
            outcome, message = {"CANCELLED"}, str(exc)
        finally:
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        peaks.append(peak)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        if peak > MAX_PEAK_MB or grown_mb > MAX_PEAK_MB:
            problems.append(f"{label}: memory: traced peak {peak:.0f} MB, peak RSS grew {grown_mb:.0f} MB")
        if outcome == {"FINISHED"}:
            counts["accepted"] += 1
            bad = not_finite()
            if bad:
                problems.append(f"{label}: accepted, and {bad} is NaN/inf")
            if case.must_refuse:
                problems.append(f"{label}: accepted")
        else:
            counts["refused"] += 1
            lines = (message or "").strip().splitlines()
            if len(lines) != 1 or not lines[0].startswith("Error: ") or "Traceback" in message:
                problems.append(f"{label}: not one error line: {message!r}")
            elif wm.tcmr_job.last_error != lines[0][len("Error: "):]:
                problems.append(f"{label}: last_error {wm.tcmr_job.last_error!r} is not the report")
            if snapshot() != before:
                problems.append(f"{label}: refused, but the scene changed")
        path.unlink()
    F.summarise("Blender import fuzz", counts, problems, marker, time.perf_counter() - t0, peaks)
    assert counts["accepted"] >= 15 and counts["refused"] >= 100


def test_headless_import_refuses_in_one_line(tmp_path):
    """The headless command's --import (blender_addon/headless.py) on a bomb and a NaN file: exit 2, one error
    line, no .blend written."""
    marker = tmp_path / "pickle_ran"
    picks = [F.bomb_case()] + [c for c in F.cases(40, SEED, marker) if c.kind == "nonfinite"][:1]
    for i, case in enumerate(picks):
        src, out = tmp_path / f"bad{i}.npz", tmp_path / f"out{i}.blend"
        src.write_bytes(case.data)
        proc = subprocess.run([sys.executable, str(REPO_ROOT / "blender_addon" / "headless.py"), "--import", src,
                               "-o", out], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert proc.returncode == 2 and len(errors) == 1 and "not a valid TCMR Mocap result" in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr + proc.stdout and not out.exists()


def test_stored_raw_copy_is_checked_too(tmp_path):
    """The raw result kept in a .blend (Refine Again reads it) goes through the same validator: a .blend may come
    from anywhere."""
    from tcmr_mocap.blender_addon.scene import raw_store
    from tcmr_mocap.core.errors import InvalidMotionFileError

    valid = F.valid_files()["capture"]
    assert len(raw_store.from_bytes(valid).tracks) == 2
    nan = next(c for c in F.cases(40, SEED, tmp_path / "marker") if c.kind == "nonfinite")
    for data in (b"garbage", valid[:-300], nan.data, F.bomb_case().data):
        with pytest.raises(InvalidMotionFileError) as caught:
            raw_store.from_bytes(data)
        assert "the raw capture stored in this .blend" in str(caught.value) and "\n" not in str(caught.value)


def test_refine_again_that_makes_nan_changes_nothing(scene, tmp_path, monkeypatch):
    """Refine Again writes into the scene, not a file: its output passes the same checks first (a refine bug that
    made NaN is one error line and the scene stays as it was)."""
    import tcmr_mocap.core.motion.refine as refine_module

    path = tmp_path / "walk.npz"
    path.write_bytes(F.valid_files()["capture"])
    assert bpy.ops.tcmr.import_motion(filepath=str(path), create_mesh=False) == {"FINISHED"}
    bpy.context.scene.tcmr_refine.live_update = False
    monkeypatch.setattr(refine_module, "refine_result", F.broken_refine(refine_module.refine_result, "transl_cam"))
    before = snapshot()
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.tcmr.refine()
    lines = str(caught.value).strip().splitlines()
    assert len(lines) == 1 and "the refine produced an invalid result (track_1/transl_cam holds NaN or inf)" in lines[0]
    assert snapshot() == before and not_finite() is None
