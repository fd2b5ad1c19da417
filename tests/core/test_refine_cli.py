"""``python -m core refine`` as a subprocess (numpy-only, fast) and the refine options on ``capture``."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motion_cases import camera_clip, result_of, track_of

from core.config import FootLockConfig, RefineConfig
from core.result import MotionResult

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def assert_user_error(proc, output: Path, match: str):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not output.exists()
    assert not [p for p in output.parent.iterdir() if p.name.startswith(f".{output.name}")]


def test_refine_writes_a_refined_file_with_the_raw_inside(tmp_path):
    _c, _R, _C, res, _ = camera_clip("walk", 20.0, 3.0, seconds=4.0, noisy=False)
    src = tmp_path / "walk.npz"
    res.save(src)
    out = tmp_path / "walk24.npz"
    proc = run_cli("refine", src, "-o", out, "--fps", "24", "--smoothing", "slerp-average", "--window", "7")
    assert proc.returncode == 0, proc.stderr
    assert "floor: camera pitch -20" in proc.stdout and "ms per person-frame" in proc.stdout, proc.stdout
    r = MotionResult.load(out)
    assert r.motion_fps == 24.0 and len(r.tracks[0]) == 96 and abs(r.meta["refine"]["floor"]["roll_deg"] - 3) < 1 and r.R_world_from_cam is not None
    np.testing.assert_array_equal(r.tracks[0].raw["rotmat"], res.tracks[0].rotmat)
    assert r.meta["refine"]["options"]["smoothing"] == "slerp-average"
    assert r.meta["refine"]["options"]["average_window"] == 7
    # the input is untouched, and refining the output again works (from the raw)
    np.testing.assert_array_equal(MotionResult.load(src).tracks[0].rotmat, res.tracks[0].rotmat)
    again = tmp_path / "again.npz"
    assert run_cli("refine", out, "-o", again, "--foot-lock", "ground", "--no-upright").returncode == 0
    a = MotionResult.load(again)
    assert a.R_world_from_cam is None and len(a.tracks[0]) == 120
    # issue 24 (15): `--foot-lock ground` pins nothing, and its summary no longer says feet were "planted"
    proc = run_cli("refine", src, "-o", again, "--foot-lock", "ground")
    assert proc.returncode == 0 and "planted" not in proc.stdout and "not pinned" in proc.stdout, proc.stdout
    proc = run_cli("refine", src, "-o", again)  # (the default, auto, does pin planted feet)
    assert proc.returncode == 0 and "frames with a foot planted" in proc.stdout, proc.stdout


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out.npz"
    text = tmp_path / "notes.npz"
    text.write_text("not a zip")
    assert_user_error(run_cli("refine", text, "-o", out), out, "not a readable .npz motion file")
    amass = tmp_path / "amass.npz"
    np.savez(amass, poses=np.zeros((10, 72)), trans=np.zeros((10, 3)))
    assert_user_error(run_cli("refine", amass, "-o", out), out, "is not a TCMR Mocap result")
    assert_user_error(run_cli("refine", tmp_path / "missing.npz", "-o", out), out, "not found")
    _c, _R, _C, res, (rc, tc) = camera_clip("float", seconds=3.0)
    floating = tmp_path / "float.npz"
    res.save(floating)
    proc = run_cli("refine", floating, "-o", out)
    assert_user_error(proc, out, "the floor could not be estimated")
    # and what to do instead, in the command's own words (not the captures' "stays in the camera frame")
    assert_user_error(proc, out, "nothing was written (to refine it without a floor, in the camera frame: "
                                 "--no-upright --foot-lock never)")
    short = tmp_path / "short.npz"
    result_of([track_of(rc[:5], tc[:5])], 5).save(short)
    assert_user_error(run_cli("refine", short, "-o", out), out, "track 1 has only 5 rows")
    assert_user_error(run_cli("refine", floating, "-o", out, "--window", "4"), out, "odd")
    assert_user_error(run_cli("refine", floating, "-o", tmp_path / "nope" / "x.npz"), out, "does not exist")
    # the same floating person without floor-dependent options is fine
    assert run_cli("refine", floating, "-o", out, "--foot-lock", "never", "--no-upright").returncode == 0


def test_capture_takes_the_refine_options():
    from core.__main__ import build_parser
    from core.cli.refine_options import refine_config_from_args

    p = build_parser()
    args = p.parse_args(["capture", "v.mp4", "-o", "x.npz", "--foot-lock", "ground", "--fps", "24",
                         "--no-upright", "--smoothing", "slerp-average", "--min-cutoff", "2"])
    cfg = refine_config_from_args(args)
    assert (cfg.foot_lock.mode, cfg.fps, cfg.floor.upright, cfg.smoothing) == ("ground", 24.0, False, "slerp-average")
    assert cfg.one_euro.min_cutoff_hz == 2.0
    args = p.parse_args(["capture", "v.mp4", "-o", "x.npz", "--no-smoothing"])
    cfg = refine_config_from_args(args, no_smoothing=args.no_smoothing)
    assert (cfg.smoothing, cfg.foot_lock.mode) == ("none", "never")
    args = p.parse_args(["capture", "v.mp4", "-o", "x.npz"])
    cfg = refine_config_from_args(args)
    assert (cfg.smoothing, cfg.foot_lock.mode, cfg.floor.upright, cfg.fps) == ("adaptive", "auto", True, None)
    assert cfg.extremities == RefineConfig().extremities  # face calibration: the default of core/config.py
    for command in (["capture", "v.mp4", "-o", "x.npz"], ["refine", "in.npz", "-o", "x.npz"],
                    ["batch", "clips/", "-o", "out/"]):
        args = p.parse_args([*command, "--face-calibration", "none"])
        assert refine_config_from_args(args).extremities.face_calibration == "none"
    from core.cli.options import capture_tokens  # the headless Blender command passes it on to the core

    assert capture_tokens(["v.mp4", "--face-calibration", "auto", "--frames", "1:9"]) == \
        ["--face-calibration", "auto", "--frames", "1:9"]


@pytest.mark.parametrize("config", [
    RefineConfig(),
    dataclasses.replace(RefineConfig(), smoothing="one-euro", fps=24.0, foot_lock=FootLockConfig(mode="ground"),
                        one_euro=dataclasses.replace(RefineConfig().one_euro, min_cutoff_hz=2.5, beta=0.1,
                                                     translation_min_cutoff_hz=0.7)),
    dataclasses.replace(RefineConfig(), smoothing="slerp-average", average_window=9,
                        floor=dataclasses.replace(RefineConfig().floor, upright=False)),
    dataclasses.replace(RefineConfig(), smoothing="none", foot_lock=FootLockConfig(mode="never")),
    dataclasses.replace(RefineConfig(), extremities=dataclasses.replace(RefineConfig().extremities,
                                                                        face_calibration="auto")),
])
def test_refine_argv_gives_the_config_back(config):
    """What the add-on passes to `core capture` so a capture is refined once, with the panel's options."""
    from core.__main__ import build_parser
    from core.cli.refine_options import refine_argv, refine_config_from_args

    args = build_parser().parse_args(["capture", "v.mp4", "-o", "x.npz", *refine_argv(config)])
    assert refine_config_from_args(args) == config
