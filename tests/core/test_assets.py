"""core.assets (table, checks, cli): where model files are looked for, the messages when they are missing, and content
validation (synthetic checkpoints in the official layouts, plus the usual accidents)."""

from __future__ import annotations

import dataclasses
import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest

from core import safe_load
from core.assets import checks, table
from core.assets import cli as assets_cli
from core.errors import InvalidModelFileError, MissingModelFileError


def _cut(src: Path, dst: Path, n_bytes: int) -> Path:
    with open(src, "rb") as fh:
        dst.write_bytes(fh.read(n_bytes))
    return dst


# ------------------------------------------------------------------------------------ where
def test_resolve_models_dir_order(monkeypatch, tmp_path):
    monkeypatch.delenv(table.MODELS_DIR_ENV, raising=False)
    assert table.resolve_models_dir() == Path(table.__file__).resolve().parents[2] / "models"
    monkeypatch.setenv(table.MODELS_DIR_ENV, str(tmp_path / "from-env"))
    assert table.resolve_models_dir() == tmp_path / "from-env"
    assert table.resolve_models_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert table.resolve_models_dir(str(tmp_path / "explicit")) == tmp_path / "explicit"
    monkeypatch.setenv(table.MODELS_DIR_ENV, "")
    assert table.resolve_models_dir().name == "models"


def test_model_files_table():
    assert tuple(table.MODEL_FILES) == table.ROLES == ("tcmr", "spin", "detector", "smpl", "hands", "face")
    for role, spec in table.MODEL_FILES.items():
        assert spec.role == role and spec.file_name and spec.description and spec.licence
        assert spec.approx_size_bytes > 1_000_000
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.file_name = "x"  # type: ignore[misc]
    files = table.MODEL_FILES
    assert [r for r, s in files.items() if s.required] == ["tcmr", "spin", "detector"]
    assert files["tcmr"].file_name == "tcmr_demo_model.pth.tar" and "drive.google.com" in files["tcmr"].url
    assert files["tcmr"].archive_member.endswith("/tcmr_demo_model.pth.tar")
    assert files["spin"].url == "http://visiondata.cis.upenn.edu/spin/model_checkpoint.pt"
    assert "model_checkpoint.pt" in files["spin"].aliases
    assert files["detector"].url == "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11s.pt"
    assert "AGPL" in files["detector"].licence
    assert files["smpl"].url is None and not files["smpl"].required  # licence-gated, never downloaded
    readme = (table.REPO_ROOT / "models" / "README.md").read_text()
    for spec in files.values():
        assert spec.file_name in readme and (spec.url is None or spec.url in readme)


def test_model_path_and_missing_messages(tmp_path):
    with pytest.raises(MissingModelFileError) as err:
        table.model_path("tcmr", tmp_path)
    message = str(err.value)
    assert message.startswith(f"missing model file tcmr_demo_model.pth.tar in {tmp_path}")
    assert "install_deps.py --models" in message and table.MODEL_FILES["tcmr"].url in message
    assert "models/README.md" in message and "\n" not in message
    with pytest.raises(MissingModelFileError, match="yolo11s.pt.*github.com/ultralytics"):
        table.model_path("detector", tmp_path)
    with pytest.raises(MissingModelFileError, match="SMPL_NEUTRAL.npz.*licence-gated.*smplify"):
        table.model_path("smpl", tmp_path)
    (tmp_path / "yolo11s.pt").write_bytes(b"x")
    assert table.model_path("detector", tmp_path) == tmp_path / "yolo11s.pt"
    with pytest.raises(ValueError, match="unknown model role"):
        table.model_path("hmr", tmp_path)


def test_missing_file_advice_fills_the_folder_it_is_missing_from(tmp_path):
    """A non-default folder: the command named fills *that* folder (--models-dir), online and offline."""
    folder = tmp_path / "my models"  # a blank: the command must stay copy-pasteable
    folder.mkdir()
    quoted = f"'{folder}'"
    for role in ("tcmr", "spin", "detector"):
        with pytest.raises(MissingModelFileError) as err:
            table.model_path(role, folder)
        message = str(err.value)
        assert f"`python3 install_deps.py --models --models-dir {quoted}`" in message, message
        assert f"`python3 install_deps.py --models-from FOLDER --models-dir {quoted}`" in message, message
        assert table.MODEL_FILES[role].url in message and "\n" not in message
    plain = tmp_path / "plain"
    assert table.fill_command(plain) == f"python3 install_deps.py --models --models-dir {plain}"
    # the licence-gated SMPL body is never fetched by a command; where nothing asks for it, it is optional, not
    # "missing" (issue 24, 15)
    assert "--models-dir" not in table.missing_message("smpl", folder)
    absent = table.absent_message("smpl", folder)
    assert absent.startswith("no SMPL_NEUTRAL.npz/") and f"in {folder} (optional):" in absent


def test_default_folder_keeps_the_short_advice():
    default = table.REPO_ROOT / "models"
    for folder in (default, default / "sub" / "..", str(default)):
        message = table.missing_message("tcmr", folder)
        assert "`python3 install_deps.py --models`" in message and "--models-dir" not in message, message
        assert "`python3 install_deps.py --models-from FOLDER`" in message, message  # downloaded by hand
    assert table.how_to_get("spin") == table.how_to_get("spin", default)
    assert table.fill_command() == table.fill_command(default) == "python3 install_deps.py --models"


def test_missing_models_folder_is_named(tmp_path):
    nowhere = tmp_path / "no" / "such dir"
    for role in table.ROLES:
        with pytest.raises(MissingModelFileError) as err:
            table.model_path(role, nowhere)
        message = str(err.value)
        assert message.startswith(f"the models folder {nowhere} does not exist"), message
        assert "missing model file" not in message and "\n" not in message
        assert f"--models-dir '{nowhere}'" in message
    a_file = tmp_path / "models.txt"
    a_file.write_text("x")
    with pytest.raises(MissingModelFileError, match="is a file, not a folder"):
        table.model_path("tcmr", a_file)
    assert table.models_dir_problem(tmp_path) is None


def test_model_path_uses_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(table.MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(MissingModelFileError, match=str(tmp_path)):
        table.model_path("spin")
    (tmp_path / "spin_model_checkpoint.pth.tar").write_bytes(b"x")
    assert table.model_path("spin") == tmp_path / "spin_model_checkpoint.pth.tar"


def test_find_smpl_file_preference(tmp_path):
    assert table.find_smpl_file(tmp_path) is None
    long_name = tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    long_name.write_bytes(b"x")
    assert table.find_smpl_file(tmp_path) == long_name
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"x")
    assert table.find_smpl_file(tmp_path) == tmp_path / "SMPL_NEUTRAL.pkl"
    (tmp_path / "SMPL_NEUTRAL.npz").write_bytes(b"x")
    assert table.find_smpl_file(tmp_path) == tmp_path / "SMPL_NEUTRAL.npz"
    assert table.model_path("smpl", tmp_path) == tmp_path / "SMPL_NEUTRAL.npz"


# ------------------------------------------------------------------------------------ cheap checks
def test_quick_check_catches_common_accidents(tmp_path):
    cases = {
        "empty": (b"", "empty"),
        "html": (b"\n<!DOCTYPE html><html><title>Google Drive - Quota exceeded</title>" + b" " * 2_000_000, "HTML"),
        "text": (b"hello world" * 200_000, "neither a zip nor a pickle"),
        "tiny": (b"\x80\x02}q\x00.", "too small"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert expected in (checks.quick_check("tcmr", path) or ""), name
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", bytes(range(256)) * 12_000)
    good = tmp_path / "good.pt"
    good.write_bytes(buf.getvalue())
    assert checks.quick_check("detector", good) is None
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(buf.getvalue()[:2_000_000])
    assert "truncated" in checks.quick_check("detector", truncated)
    assert "cannot read" in checks.quick_check("tcmr", tmp_path / "absent")


def test_pickle_globals_are_read_without_unpickling(tmp_path):
    for protocol in (2, 4, 5):  # GLOBAL (protocol 2) and STACK_GLOBAL with memoized names (4, 5)
        data = pickle.dumps({"x": io.BytesIO, "y": io.BytesIO, "z": zipfile.ZipFile}, protocol=protocol)
        found = safe_load._pickle_globals(data)
        assert {("_io", "BytesIO"), ("zipfile", "ZipFile")} <= found, protocol
    path = tmp_path / "m.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("m/data.pkl", b"\x80\x02cultralytics.nn.tasks\nDetectionModel\nq\x00)\x81q\x01.")
    assert ("ultralytics.nn.tasks", "DetectionModel") in safe_load.pickle_globals_in_zip(path)
    assert safe_load.pickle_globals_in_zip(tmp_path / "absent") is None


# ------------------------------------------------------------------------------------ content checks
@pytest.mark.slow
def test_official_layout_checkpoints_are_valid(models_dir):
    checks.validate_model_file("tcmr", models_dir / "tcmr_demo_model.pth.tar")
    checks.validate_model_file("spin", models_dir / "spin_model_checkpoint.pth.tar")
    assert checks.sniff_role(models_dir / "tcmr_demo_model.pth.tar") == "tcmr"
    assert checks.sniff_role(models_dir / "spin_model_checkpoint.pth.tar") == "spin"


@pytest.mark.slow
def test_swapped_checkpoints_are_refused_with_a_hint(models_dir, tmp_path):
    spin = tmp_path / "mystery.pth.tar"  # a neutral name: the message must say what it is by content
    spin.symlink_to(models_dir / "spin_model_checkpoint.pth.tar")
    with pytest.raises(InvalidModelFileError) as err:
        checks.validate_model_file("tcmr", spin)
    message = str(err.value)
    assert "not a valid tcmr_demo_model.pth.tar" in message and "spin_model_checkpoint.pth.tar" in message
    assert "\n" not in message and "install_deps.py --models" in message
    tcmr = tmp_path / "other.pth.tar"
    tcmr.symlink_to(models_dir / "tcmr_demo_model.pth.tar")
    with pytest.raises(InvalidModelFileError, match="not a valid spin_model_checkpoint.*tcmr_demo_model.pth.tar"):
        checks.validate_model_file("spin", tcmr)
    with pytest.raises(InvalidModelFileError, match="no ultralytics detection model"):
        checks.validate_model_file("detector", models_dir / "tcmr_demo_model.pth.tar")


@pytest.mark.slow
def test_truncated_checkpoint_is_refused(tcmr_checkpoint, tmp_path):
    cut = _cut(tcmr_checkpoint, tmp_path / "tcmr_demo_model.pth.tar", 50_000_000)
    with pytest.raises(InvalidModelFileError) as err:
        checks.validate_model_file("tcmr", cut)
    assert "truncated" in str(err.value) and "\n" not in str(err.value)


def test_html_page_is_refused_by_every_role(tmp_path):
    page = tmp_path / "page"
    page.write_text("<html><body>Sign in to continue</body></html>")
    for role in table.ROLES:
        with pytest.raises(InvalidModelFileError, match="HTML page"):
            checks.validate_model_file(role, page)
    with pytest.raises(MissingModelFileError):
        checks.validate_model_file("tcmr", tmp_path / "absent.pth.tar")


@pytest.mark.slow
def test_detector_weights(models_dir, tmp_path):
    detector = models_dir / "yolo11s.pt"
    if not detector.exists():
        pytest.skip("ultralytics not installed: no synthetic detector")
    checks.validate_model_file("detector", detector)
    assert checks.sniff_role(detector) == "detector"
    with pytest.raises(InvalidModelFileError, match="looks like yolo11s.pt"):
        checks.validate_model_file("tcmr", detector)
    other = tmp_path / "other.pt"  # a torch zip of something else
    import torch

    torch.save({"weights": torch.zeros(300_000)}, other)
    with pytest.raises(InvalidModelFileError, match="no ultralytics detection model"):
        checks.validate_model_file("detector", other)


def test_smpl_files(smpl_npz, smpl_pkl, tmp_path):
    checks.validate_model_file("smpl", smpl_npz)
    checks.validate_model_file("smpl", smpl_pkl)  # chumpy inside: read without chumpy
    import numpy as np

    with np.load(smpl_npz) as data:
        arrays = dict(data)
    del arrays["J_regressor"]
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    with pytest.raises(InvalidModelFileError, match="key J_regressor is missing"):
        checks.validate_model_file("smpl", tmp_path / "SMPL_NEUTRAL.npz")
    arrays["J_regressor"] = np.zeros((24, 10))
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    with pytest.raises(InvalidModelFileError, match=r"key J_regressor has shape \[24, 10\]"):
        checks.validate_model_file("smpl", tmp_path / "SMPL_NEUTRAL.npz")
    cut = _cut(smpl_pkl, tmp_path / "SMPL_NEUTRAL.pkl", smpl_pkl.stat().st_size // 2)
    with pytest.raises(InvalidModelFileError, match="not a readable SMPL model file"):
        checks.validate_model_file("smpl", cut)


# ------------------------------------------------------------------------------------ command line
def test_cli_reports_missing_files(tmp_path, capsys):
    assert assets_cli.main(["validate", "--models-dir", str(tmp_path), "--json"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["role"] for r in rows] == list(table.ROLES)
    assert [r["status"] for r in rows] == ["missing"] * len(table.ROLES)
    # required files are "missing"; optional ones (the SMPL body, the hand/face models) are only absent
    assert all(r["message"].startswith("missing model file" if r["required"] else "no ") for r in rows), rows
    assert {r["role"] for r in rows if not r["required"]} >= {"smpl"}
    assert assets_cli.main(["validate", "--file", "nope=/x"]) == 2


@pytest.mark.slow
def test_cli_validates_a_models_dir(models_dir, tmp_path, capsys):
    rc = assets_cli.main(["validate", "--models-dir", str(models_dir), "--json"])
    rows = {r["role"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    expected_rc = 0 if (models_dir / "yolo11s.pt").exists() else 1
    assert rc == expected_rc
    assert rows["tcmr"]["status"] == rows["spin"]["status"] == "ok"
    assert rows["smpl"]["status"] == "missing" and not rows["smpl"]["required"]
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "tcmr_demo_model.pth.tar").symlink_to(models_dir / "spin_model_checkpoint.pth.tar")
    assert assets_cli.main(["validate", "--file", f"tcmr={wrong / 'tcmr_demo_model.pth.tar'}"]) == 1
    assert "invalid" in capsys.readouterr().out
    shutil.rmtree(wrong)


def test_task_bundles_checked_by_content(tmp_path, hand_landmarker_task, face_landmarker_task):
    """A MediaPipe .task is a zip of TFLite models: the right members, TFLite magic, every CRC (one line each)."""
    checks.validate_model_file("hands", hand_landmarker_task)
    checks.validate_model_file("face", face_landmarker_task)  # Google's bundle starts with padding before "PK"
    truncated = tmp_path / "truncated.task"
    truncated.write_bytes(hand_landmarker_task.read_bytes()[:3_000_000])
    flipped = bytearray(face_landmarker_task.read_bytes())
    flipped[2_000_000] ^= 0x01
    (tmp_path / "flipped.task").write_bytes(bytes(flipped))
    fake = tmp_path / "fake.task"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("hand_detector.tflite", b"\x00" * 2_000_000)
        zf.writestr("hand_landmarks_detector.tflite", b"\x00" * 8)
    cases = [("face", hand_landmarker_task, "lacks face_detector.tflite"),
             ("hands", face_landmarker_task, "looks like face_landmarker.task"),
             ("hands", truncated, "truncated"), ("face", tmp_path / "flipped.task", "fails its checksum"),
             ("hands", fake, "is not a TFLite model")]
    for role, path, fragment in cases:
        with pytest.raises(InvalidModelFileError) as err:
            checks.validate_model_file(role, path)
        message = str(err.value)
        assert fragment in message and "\n" not in message, message
        assert table.MODEL_FILES[role].url in message  # where the right file comes from
