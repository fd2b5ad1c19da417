"""Every restricted loader of the core refuses code: pickles (SMPL .pkl, torch checkpoints in zip and legacy
layout, pickled object arrays inside .npz files) whose unpickling would call os/posix/nt.system,
subprocess.* or builtins.exec to create a marker file. Each must raise its clean one-line error and the marker
must not appear. (The payloads themselves are checked to be live: plain pickle does create the marker.)"""

from __future__ import annotations

import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import evil_pickles as E  # noqa: E402

from core.errors import InvalidModelFileError, InvalidMotionFileError, MocapError  # noqa: E402

targets = pytest.mark.parametrize("module, name", E.TARGETS, ids=E.target_ids())


@pytest.fixture(autouse=True)
def _every_target_live(monkeypatch):
    E.make_all_targets_live(monkeypatch)  # e.g. a stand-in `nt` on Linux: refusing it must not depend on luck


def assert_refused(call, error, marker: Path, *names: str):
    """``call()`` raises ``error`` (one line, naming the file), and the marker was not created."""
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in names), message
    assert not E.ran(marker), "the payload ran"


@targets
def test_payloads_are_live(module, name, tmp_path):
    """Guards the guards: unrestricted unpickling of each payload really runs it."""
    if not E.is_live(module):
        pytest.skip(f"no module {module} on this platform (its payload is still refused below)")
    marker = E.marker_for(tmp_path, module, name)
    obj = pickle.loads(E.payload(module, name, marker))
    if name == "Popen":
        obj["pose"].wait()
    assert E.ran(marker)


# ------------------------------------------------------------------------------------------- SMPL .pkl
@targets
def test_smpl_pickle_refuses_code(module, name, tmp_path):
    from core.safe_load import load_smpl_pickle
    from core.smpl import load_smpl_arrays

    marker = E.marker_for(tmp_path, module, name)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(E.payload(module, name, marker))
    assert_refused(lambda: load_smpl_pickle(path), InvalidModelFileError, marker, path.name, "refused global")
    assert_refused(lambda: load_smpl_arrays(path), InvalidModelFileError, marker, path.name)
    path.write_bytes(E.payload(module, name, marker, top_level=True))
    assert_refused(lambda: load_smpl_pickle(path), InvalidModelFileError, marker, f"{module}.{name}")


# ------------------------------------------------------------------------------------------- torch files
@pytest.fixture(params=["zip", "legacy", "raw-pickle"])
def torch_layout(request):
    return request.param


def _write_torch(layout: str, path: Path, data: bytes) -> Path:
    if layout == "zip":
        return E.write_torch_zip(path, data)
    if layout == "legacy":
        return E.write_torch_legacy(path, data)
    path.write_bytes(data)
    return path


@targets
def test_torch_loaders_refuse_code(module, name, torch_layout, tmp_path):
    pytest.importorskip("torch")
    from core.assets import checks
    from core.safe_load import torch_load_weights
    from core.tcmr.checkpoint import spin_backbone_state_dict_from_file, tcmr_state_dict_from_file

    marker = E.marker_for(tmp_path, module, name)
    path = _write_torch(torch_layout, tmp_path / "tcmr_demo_model.pth.tar", E.payload(module, name, marker))
    assert_refused(lambda: torch_load_weights(path), InvalidModelFileError, marker, path.name)
    assert_refused(lambda: tcmr_state_dict_from_file(path), InvalidModelFileError, marker, path.name)
    assert_refused(lambda: spin_backbone_state_dict_from_file(path), InvalidModelFileError, marker, path.name)
    assert checks.sniff_role(path) is None and not E.ran(marker)


def test_torch_loader_message_for_refused_code(tmp_path):
    pytest.importorskip("torch")
    from core.safe_load import torch_load_weights

    marker = E.marker_for(tmp_path, "os", "system")
    path = E.write_torch_zip(tmp_path / "spin_model_checkpoint.pth.tar", E.payload("os", "system", marker))
    assert_refused(lambda: torch_load_weights(path, "SPIN checkpoint"), InvalidModelFileError, marker,
                   "refused for safety", "models/README.md")


# ------------------------------------------------------------------------------------------- .npz members
@targets
def test_npz_readers_refuse_pickled_members(module, name, tmp_path):
    from core.result import MotionResult
    from core.smpl import load_smpl_arrays

    marker = E.marker_for(tmp_path, module, name)
    evil = E.payload(module, name, marker, top_level=True)
    smpl = E.write_npz(tmp_path / "SMPL_NEUTRAL.npz", {"f": np.zeros((13776, 3), np.int64)}, {"v_template": evil})
    assert_refused(lambda: load_smpl_arrays(smpl), InvalidModelFileError, marker, smpl.name)
    result = E.write_npz(tmp_path / "out.npz", {"format_version": np.array(1), "track_ids": np.array([1])},
                         {"meta_json": evil})
    assert_refused(lambda: MotionResult.load(result), InvalidMotionFileError, marker, str(result))


@targets
def test_detections_npz_refuses_pickled_members(module, name, tmp_path):
    pytest.importorskip("cv2")
    from core.capture.tracking import load_detections

    marker = E.marker_for(tmp_path, module, name)
    path = E.write_npz(tmp_path / "boxes.npz", {"frame_ids": np.arange(3)},
                       {"bbox_xyxy": E.payload(module, name, marker, top_level=True)})
    assert_refused(lambda: load_detections(path), MocapError, marker, "boxes.npz")


# ------------------------------------------------------------------------------------------- the detector
@targets
def test_detector_file_with_command_globals_is_refused(module, name, tmp_path):
    """ultralytics unpickles yolo11s.pt in full, so its pickle is scanned (never run) for such globals first:
    a file that also names a real detection model class is still refused, and nothing runs."""
    pytest.importorskip("torch")
    from core import safe_load
    from core.assets import checks

    marker = E.marker_for(tmp_path, module, name)
    looks_right = b"cultralytics.nn.tasks\nDetectionModel\n0"  # push the class, then POP it
    data = b"\x80\x02" + looks_right + b"}X\x04\x00\x00\x00pose" + E.reduce_call(module, name, marker) + b"s."
    path = E.write_torch_zip(tmp_path / "yolo11s.pt", data)
    with zipfile.ZipFile(path, "a") as zf:  # as big as a checkpoint, past the size check
        zf.writestr("archive/data/99", b"\0" * 1_100_000)
    assert (module, name) in safe_load.pickle_globals_in_zip(path)
    assert safe_load.unsafe_pickle_globals(safe_load.pickle_globals_in_zip(path)) == [f"{module}.{name}"]
    assert_refused(lambda: checks.validate_model_file("detector", path), InvalidModelFileError, marker,
                   "yolo11s.pt", f"{module}.{name}", "refused for safety")
    if module == "os":  # a capture loads the detector itself: it scans first too (before ultralytics unpickles)
        pytest.importorskip("ultralytics")
        from core.capture.tracking import PersonDetector

        assert_refused(lambda: PersonDetector(str(path)), InvalidModelFileError, marker, "yolo11s.pt",
                       f"{module}.{name}", "refused for safety")


def test_pickle_scan_sees_every_way_of_naming_a_global(tmp_path):
    from core import safe_load

    marker = tmp_path / "MARKER"
    inst = b"(S'touch x'\nios\nsystem\n."  # protocol 0 INST: imports os.system like GLOBAL does
    assert ("os", "system") in safe_load._pickle_globals(inst)
    hidden = b"\x80\x04(X\x02\x00\x00\x00os\x94X\x06\x00\x00\x00system\x94h\x00h\x01\x93."  # names via the memo
    assert ("os", "system") in safe_load._pickle_globals(hidden)
    built = b"\x80\x04X\x02\x00\x00\x00osX\x06\x00\x00\x00systemh\x07\x93."  # a name the scan cannot follow
    assert safe_load.unsafe_pickle_globals(safe_load._pickle_globals(built)) == ["an unresolvable global"]
    # a decoy data.pkl beside the one torch reads does not hide the real one
    evil = E.write_torch_zip(tmp_path / "a.pt", E.payload("subprocess", "call", marker))
    with zipfile.ZipFile(evil, "a") as zf:
        zf.writestr("data.pkl", pickle.dumps({"weights": 1}, protocol=2))
    assert ("subprocess", "call") in safe_load.pickle_globals_in_zip(evil)
    assert not marker.exists()


def test_refuse_code_in_pickle_before_a_full_load(tmp_path):
    """The guard a caller runs before a library unpickles the file in full (ultralytics and the detector)."""
    pytest.importorskip("torch")
    from core.assets import checks

    marker = E.marker_for(tmp_path, "os", "system")
    evil = E.write_torch_zip(tmp_path / "yolo11s.pt", E.payload("os", "system", marker))
    assert_refused(lambda: checks.refuse_code_in_pickle(evil), InvalidModelFileError, marker,
                   str(evil), "os.system", "refused for safety", "yolo11s.pt")
    clean = E.write_torch_zip(tmp_path / "clean.pt", pickle.dumps({"weights": [1.0]}, protocol=2))
    assert checks.refuse_code_in_pickle(clean) is None
