"""The hands/face stage inside a capture (core.pipeline.run with fake networks, real MediaPipe models) and its
options on the command line: it runs, stores the arrays, degrades gracefully, and off means today's output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("mediapipe")

from core.config import ExtremitiesConfig  # noqa: E402
from core.errors import MissingModelFileError  # noqa: E402
from core.extremities.handpose import relaxed_hand_pose  # noqa: E402
from core.extremities.layout import RESULT_ARRAY_NAMES  # noqa: E402
from core.pipeline import run  # noqa: E402
from core.result import MotionResult  # noqa: E402
from test_pipeline import N_FRAMES, fake_config, fakes  # noqa: E402,F401  (the fake networks' fixture)


def with_tasks(fakes, hand_landmarker_task, face_landmarker_task):
    for task in (hand_landmarker_task, face_landmarker_task):
        (fakes["models"] / task.name).symlink_to(task)


def test_capture_stores_fingers_and_face_never_nan(fakes, synthetic_video, hand_landmarker_task,
                                                   face_landmarker_task, tmp_path):
    """Auto mode with both model files: every track gets the arrays; the synthetic figure has no real hands or
    face, so nothing is seen: relaxed hands, neutral face, confidence 0, no NaN anywhere; format 2 on disk."""
    with_tasks(fakes, hand_landmarker_task, face_landmarker_task)
    events = []
    result = run(str(synthetic_video), fake_config(fakes), progress=lambda *e: events.append(e))
    (track,) = result.tracks
    assert track.hand_pose_aa.shape == (N_FRAMES, 2, 15, 3) and track.hand_conf.shape == (N_FRAMES, 2)
    assert track.face_blendshapes.shape == (N_FRAMES, 52) and track.face_conf.shape == (N_FRAMES,)
    assert track.head_rot_aa.shape == (N_FRAMES, 3)
    for name in RESULT_ARRAY_NAMES:
        assert np.isfinite(getattr(track, name)).all() and np.isfinite(track.raw[name]).all(), name
    meta = result.meta["extremities"]
    assert meta["parts"] == {"body": True, "hands": True, "face": True} and not meta["warnings"]
    assert meta["person_frames"] == N_FRAMES and meta["ms_per_person_frame"] > 0
    unseen = track.hand_conf == 0
    for s, side in enumerate(("left", "right")):
        rows = unseen[:, s]
        np.testing.assert_allclose(track.hand_pose_aa[rows, s], np.broadcast_to(relaxed_hand_pose(side),
                                                                                  (rows.sum(), 15, 3)), atol=1e-5)
    assert "extremities" in {stage for stage, _, _ in events}
    fractions = [f for _, f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] <= 1.0
    path = tmp_path / "out.npz"
    result.save(path)
    with np.load(path) as z:
        assert int(z["format_version"]) == 2 and "blendshape_names" in z.files and "hand_joint_names" in z.files
    back = MotionResult.load(path)
    np.testing.assert_array_equal(back.track(1).hand_pose_aa, track.hand_pose_aa)


def test_off_is_todays_output_bit_exact(fakes, synthetic_video, hand_landmarker_task, face_landmarker_task,
                                        tmp_path):
    """--no-hands --no-face with the model files present == no model files at all == the capture before this
    stage existed (same arrays, format 1, no extremity members)."""
    plain = run(str(synthetic_video), replace(fake_config(fakes), extremities=ExtremitiesConfig(False, False)))
    with_tasks(fakes, hand_landmarker_task, face_landmarker_task)
    off = run(str(synthetic_video), replace(fake_config(fakes), extremities=ExtremitiesConfig(False, False)))
    assert off.meta["extremities"] == {"parts": {"body": True, "hands": False, "face": False}, "warnings": []}
    a, b = plain.to_arrays(), off.to_arrays()
    assert sorted(a) == sorted(b) and int(b["format_version"]) == 1
    for key in a:
        if key != "meta_json":  # (timings differ)
            assert a[key].tobytes() == b[key].tobytes(), key
    assert not any(name in key for key in b for name in RESULT_ARRAY_NAMES)


def test_missing_model_files(fakes, synthetic_video):
    """Auto: the body is captured, with one warning per missing file naming it and the command that fetches it.
    Explicit --hands without its file: an error before any work (no frame decoded)."""
    result = run(str(synthetic_video), fake_config(fakes))
    warnings = result.meta["extremities"]["warnings"]
    assert len(warnings) == 2 and result.tracks[0].hand_pose_aa is None and result.tracks[0].face_conf is None
    for warning, name in zip(warnings, ("hand_landmarker.task", "face_landmarker.task")):
        assert name in warning and "install_deps.py --models" in warning and "\n" not in warning
    events = []
    with pytest.raises(MissingModelFileError, match="hand_landmarker.task") as err:
        run(str(synthetic_video), replace(fake_config(fakes), extremities=ExtremitiesConfig(hands=True)),
            progress=lambda *e: events.append(e))
    assert "install_deps.py --models" in str(err.value)
    assert {stage for stage, _, _ in events} <= {"open"}  # nothing decoded, no network run


def test_command_line_hands_without_its_file_is_one_error_line(tmp_path, capsys, synthetic_video):
    """`python -m core capture --hands` with no hand_landmarker.task: exit 2, one `error:` line naming the file and
    the command that fetches it, before any work (no output file)."""
    from core.__main__ import main

    models = tmp_path / "models"
    models.mkdir()
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar", "yolo11s.pt"):
        (models / name).write_bytes(b"stand-in")  # (only looked for before the hands check; never loaded)
    out = tmp_path / "out.npz"
    code = main(["capture", str(synthetic_video), "-o", str(out), "--models", str(models), "--hands", "--no-face"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: missing model file hand_landmarker.task")
    assert "install_deps.py --models" in err[0] and not out.exists()


def test_batch_takes_the_same_switches():
    import argparse

    from core.batch.cli import add_parser, options_from_args
    from core.cli.options import capture_config
    import dataclasses

    from core.batch.manifest import _SPEED_ONLY, capture_options_hash, options_hash

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", "clips/", "-o", "out/", "--no-hands", "--face"])
    options = options_from_args(args)
    config = capture_config(options.capture)
    assert (config.extremities.hands, config.extremities.face) == (False, True)
    default = capture_config(options_from_args(parser.parse_args(["batch", "clips/", "-o", "out/"])).capture)
    assert default.extremities == ExtremitiesConfig()
    # default switches leave a batch's option hash what it was before fingers and face existed (the settings
    # without them), so a resumed batch does not capture its done clips again
    before = dataclasses.asdict(default)
    before.pop("device")
    before.pop("extremities")
    before["refine"].pop("extremities")
    for name in _SPEED_ONLY:
        before["speed"].pop(name, None)
    assert capture_options_hash(default) == options_hash(before)
    assert capture_options_hash(config) != capture_options_hash(default)


def test_refine_resamples_fingers_and_face(fakes, synthetic_video, hand_landmarker_task, face_landmarker_task):
    """`refine --fps`: the fingers/face follow the new rows (slerp / linear), stay finite and in range, and the raw
    capture stays beside them, so refining again starts from it."""
    from core.config import FloorConfig, FootLockConfig, RefineConfig
    from core.motion.refine import refine_result

    with_tasks(fakes, hand_landmarker_task, face_landmarker_task)
    captured = run(str(synthetic_video), fake_config(fakes))
    config = RefineConfig(fps=20.0, foot_lock=FootLockConfig(mode="never"), floor=FloorConfig(upright=False))
    refined, _ = refine_result(captured, config)
    (track,) = refined.tracks
    n = len(track.times_s)
    assert n == len(track) and n < N_FRAMES  # 30 -> 20 rows a second
    assert track.hand_pose_aa.shape == (n, 2, 15, 3) and track.face_blendshapes.shape == (n, 52)
    for name in RESULT_ARRAY_NAMES:
        assert np.isfinite(getattr(track, name)).all(), name
        assert track.raw[name].shape[0] == N_FRAMES, name
    assert (track.hand_conf >= 0).all() and (track.hand_conf <= 1).all()
    again, _ = refine_result(refined, config)  # from the raw rows again: the same result
    np.testing.assert_allclose(again.tracks[0].hand_pose_aa, track.hand_pose_aa, atol=1e-6)
