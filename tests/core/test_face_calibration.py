"""core.extremities.calibration and its one place in the refine stage: the response maps' shape, the per-performer
neutral (auto), none = MediaPipe's scores, and refining again never calibrates twice (the raw scores stay)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from motion_cases import result_of, track_of

from core.config import ExtremityRefineConfig, RefineConfig
from core.extremities import calibration as cal
from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES
from core.motion.refine import refine_result
from core.result import MotionResult

IX = {n: k for k, n in enumerate(ARKIT_BLENDSHAPE_NAMES)}
JAW, BLINK_L, BLINK_R, SMILE_L = IX["jawOpen"], IX["eyeBlinkLeft"], IX["eyeBlinkRight"], IX["mouthSmileLeft"]


def test_the_maps_are_monotone_identity_below_the_knee_and_full_at_the_top():
    s = np.linspace(0.0, 1.0, 1001)
    scores = np.tile(s[:, None], (1, 52))
    w = cal.map_scores(scores)
    assert w.shape == scores.shape and (w >= 0).all() and (w <= 1).all()
    assert (np.diff(w, axis=0) >= -1e-12).all()  # monotone in every channel
    assert np.allclose(w[0], 0.0) and np.allclose(w[-1], 1.0)  # f(0) = 0, f(1) = 1
    knees = {"jawOpen": 0.10, "eyeBlinkLeft": 0.30, "eyeBlinkRight": 0.30}  # (the module docstring's knees)
    for name, knee in knees.items():
        low = s <= knee
        np.testing.assert_allclose(w[low, IX[name]], s[low])  # a resting face keeps its scores
        above = (s > knee + 0.01) & (s < 0.99)
        assert (w[above, IX[name]] > s[above]).all()  # above it, lifted (MediaPipe reads these low)
    others = [k for n, k in IX.items() if n not in knees]
    np.testing.assert_array_equal(w[:, others], scores[:, others])  # smiles and the rest: unchanged
    # written out by hand from the table: jawOpen 0.34 -> 0.1 + 0.24 * 0.9 / 0.48; a closed eye's 0.77 -> 1
    one = np.zeros(52)
    one[[JAW, BLINK_L, BLINK_R]] = 0.34, 0.77, 0.5
    got = cal.map_scores(one)
    assert got[JAW] == pytest.approx(0.1 + 0.24 * 0.9 / 0.48) and got[BLINK_L] == pytest.approx(1.0)
    assert got[BLINK_R] == pytest.approx(0.3 + 0.2 * 0.7 / 0.47)


def test_the_table_is_well_formed():
    for name, (xs, ys) in cal.RESPONSE_MAPS.items():
        assert name in IX and len(xs) == len(ys) >= 2
        assert xs[0] == ys[0] == 0.0 and xs[-1] == ys[-1] == 1.0
        assert (np.diff(xs) > 0).all() and (np.diff(ys) >= 0).all()
    assert cal.FACE_CALIBRATIONS == ("standard", "auto", "none")


def performer(rng, n=120, rest=None):
    """(scores (n, 52), seen (n,)): a performer resting at ``rest`` ({name: score}) on most rows, with a blink every
    30 rows (eyes at 0.8 for 3 rows), a jaw opening at rows 60-80 (0.5) and noise ±0.02; rows 100-104 unseen."""
    base = np.zeros(52)
    for name, v in (rest or {}).items():
        base[IX[name]] = v
    s = np.tile(base, (n, 1)) + rng.uniform(-0.02, 0.02, size=(n, 52))
    for start in range(10, n, 30):
        s[start:start + 3, [BLINK_L, BLINK_R]] = 0.8
    s[60:80, JAW] = 0.5
    s = np.clip(s, 0.0, 1.0)
    seen = np.ones(n, bool)
    seen[100:105] = False
    s[~seen] = 0.0
    return s, seen


def test_none_is_mediapipe_and_standard_maps_only_the_seen_rows():
    s, seen = performer(np.random.default_rng(1), rest={"eyeBlinkLeft": 0.2, "eyeBlinkRight": 0.2})
    raw, info = cal.calibrate_face(s, seen, "none")
    np.testing.assert_array_equal(raw, s)
    assert info == {"mode": "none"}
    std, info = cal.calibrate_face(s, seen, "standard")
    np.testing.assert_allclose(std[seen], cal.map_scores(s[seen]))
    np.testing.assert_array_equal(std[~seen], s[~seen])  # unseen rows: what the capture stored (0)
    assert info == {"mode": "standard", "maps": cal.RESPONSE_MAPS_ID}
    with pytest.raises(ValueError, match="unknown face calibration"):
        cal.calibrate_face(s, seen, "louder")


def test_auto_subtracts_the_performers_resting_face():
    rest = {"eyeBlinkLeft": 0.25, "eyeBlinkRight": 0.22, "mouthSmileLeft": 0.3, "browDownLeft": 0.1}
    s, seen = performer(np.random.default_rng(2), rest=rest)
    w, info = cal.calibrate_face(s, seen, "auto", share=0.1, min_rows=30)
    assert info["mode"] == "auto" and info["maps"] == cal.RESPONSE_MAPS_ID
    for name, value in rest.items():  # the calm rows' median: the resting face within the noise
        assert info["neutral"][name] == pytest.approx(value, abs=0.02)
    assert "jawOpen" not in info["neutral"]  # a closed mouth rests at 0
    calm = seen.copy()
    calm[[r for start in range(10, 120, 30) for r in range(start, start + 3)] + list(range(60, 80))] = False
    assert np.abs(w[calm][:, [BLINK_L, BLINK_R, SMILE_L]]).max() < 0.05  # at rest: neutral
    blink = w[10, [BLINK_L, BLINK_R]]  # 0.8 over a 0.25 rest: (0.8 - 0.25) / 0.75 = 0.73, then the blink map
    expected = cal.map_scores(np.full(52, (0.8 - 0.25) / 0.75))[BLINK_L]
    assert blink[0] == pytest.approx(expected, abs=0.04) and blink[1] > 0.75
    std, _ = cal.calibrate_face(s, seen, "standard")
    assert std[calm][:, SMILE_L].mean() == pytest.approx(0.3, abs=0.02)  # standard keeps the resting smile
    # too few rows with a face for a neutral: the standard maps, and the file says why
    few = seen & (np.arange(len(seen)) < 20)
    w2, info2 = cal.calibrate_face(s, few, "auto", share=0.1, min_rows=30)
    assert info2["mode"] == "standard" and "fewer than the 30" in info2["note"]
    np.testing.assert_allclose(w2[few], cal.map_scores(s[few]))


def face_result(rng, n=90):
    """A one-track result with a face seen on every row but 40-44 (MediaPipe-like raw scores)."""
    from core.rotations import axis_angle_to_rotmat

    rot = axis_angle_to_rotmat(rng.normal(scale=0.05, size=(n, 24, 3)))
    track = track_of(rot, np.tile([0.0, 0.0, 3.0], (n, 1)))
    s, _ = performer(rng, n=n, rest={"eyeBlinkLeft": 0.1, "eyeBlinkRight": 0.1})
    conf = np.ones(n, np.float32)
    conf[40:45] = 0.0
    s[40:45] = 0.0
    track.face_blendshapes, track.face_conf = s.astype(np.float32), conf
    track.head_rot_aa = np.zeros((n, 3), np.float32)
    return result_of([track], n)


def _refine_cfg(mode):
    return dataclasses.replace(RefineConfig(), smoothing="none", floor=dataclasses.replace(RefineConfig().floor,
                                                                                             upright=False),
                               foot_lock=dataclasses.replace(RefineConfig().foot_lock, mode="never"),
                               extremities=dataclasses.replace(ExtremityRefineConfig(), face_calibration=mode))


def test_refine_calibrates_once_from_the_raw_scores(tmp_path):
    res = face_result(np.random.default_rng(4))
    raw = res.tracks[0].face_blendshapes.copy()
    seen = res.tracks[0].face_conf > 0
    std, report = refine_result(res, _refine_cfg("standard"))
    t = std.tracks[0]
    np.testing.assert_allclose(t.face_blendshapes[seen], cal.map_scores(raw[seen]), atol=1e-6)
    np.testing.assert_array_equal(t.raw["face_blendshapes"], raw)  # MediaPipe's scores stay in the file
    assert report.face_calibration == {1: {"mode": "standard", "maps": cal.RESPONSE_MAPS_ID}}
    path = tmp_path / "std.npz"
    std.save(path)
    back = MotionResult.load(path)
    assert back.meta["refine"]["face_calibration"] == {"1": {"mode": "standard", "maps": cal.RESPONSE_MAPS_ID}}
    again, _ = refine_result(back, _refine_cfg("standard"))  # refining the refined file: not mapped twice
    np.testing.assert_allclose(again.tracks[0].face_blendshapes, t.face_blendshapes, atol=1e-6)
    none, _ = refine_result(back, _refine_cfg("none"))  # and back to MediaPipe's own scores
    np.testing.assert_allclose(none.tracks[0].face_blendshapes[seen], raw[seen], atol=1e-6)
    assert none.meta["refine"]["face_calibration"] == {"1": {"mode": "none"}}
    auto, _ = refine_result(back, _refine_cfg("auto"))
    neutral = auto.meta["refine"]["face_calibration"]["1"]["neutral"]
    assert neutral["eyeBlinkLeft"] == pytest.approx(0.1, abs=0.02)
    json.dumps(auto.meta)  # (what meta_json holds)


def test_a_body_only_refine_records_no_face_calibration():
    res = face_result(np.random.default_rng(5))
    t = res.tracks[0]
    t.face_blendshapes = t.face_conf = t.head_rot_aa = None
    out, report = refine_result(res, _refine_cfg("standard"))
    assert report.face_calibration == {} and "face_calibration" not in out.meta["refine"]


def test_refine_command_takes_the_option(tmp_path):
    from core.__main__ import main

    src, out = tmp_path / "in.npz", tmp_path / "out.npz"
    face_result(np.random.default_rng(6)).save(src)
    assert main(["refine", str(src), "-o", str(out), "--foot-lock", "never", "--no-upright",
                 "--face-calibration", "none"]) == 0
    back = MotionResult.load(out)
    assert back.meta["refine"]["options"]["extremities"]["face_calibration"] == "none"
    assert back.meta["refine"]["face_calibration"]["1"]["mode"] == "none"
