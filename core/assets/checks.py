"""Is a file on disk the right model file? A cheap standard-library look, and the real content check.

- :func:`quick_check`: standard library only, reads a few bytes (empty, an HTML error page, not a zip or pickle,
  truncated); the MediaPipe ``.task`` bundles are checked in full here (:func:`task_bundle_problem`).
  ``install_deps.py`` runs it before any environment exists.
- :func:`validate_model_file`: the real loaders (keys and shapes of the checkpoints, the detector's ultralytics
  classes, the SMPL arrays); torch/numpy are imported when it runs. Nothing in a file is executed: pickles are
  scanned or loaded with allow-lists (:mod:`core.safe_load`).

==========  ==========================================================================================
role        content check
==========  ==========================================================================================
tcmr        ``core.tcmr.checkpoint.tcmr_state_dict_from_file``
spin        ``core.tcmr.checkpoint.spin_backbone_state_dict_from_file``
detector    torch zip whose ``data.pkl`` names an ultralytics model (scanned, never unpickled here)
smpl        ``core.smpl.load_smpl_arrays`` (keys and shapes)
hands       a MediaPipe bundle: a zip holding ``hand_detector.tflite`` and ``hand_landmarks_detector.tflite``,
            each a TFLite model
face        idem with ``face_detector.tflite``, ``face_landmarks_detector.tflite``, ``face_blendshapes.tflite``
==========  ==========================================================================================
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Optional

from ..errors import InvalidModelFileError, MissingModelFileError
from .table import MODEL_FILES, how_to_get, spec_of

# The models inside each MediaPipe ``.task`` bundle (a zip): every one must be there and be a TFLite model.
TASK_BUNDLE_MEMBERS = {
    "hands": ("hand_detector.tflite", "hand_landmarks_detector.tflite"),
    "face": ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite"),
}
_TFLITE_MAGIC = b"TFL3"  # FlatBuffer file identifier of a TFLite model (bytes 4-8)
_DETECTOR_CLASSES = ("DetectionModel", "SegmentationModel", "PoseModel")
_MIN_CHECKPOINT_BYTES = 1_000_000  # anything smaller is an error page or a stub, never a checkpoint


def quick_check(role: str, path) -> Optional[str]:
    """Cheap standard-library check of a file for ``role``: a problem description, or None if plausible.

    Catches the common accidents without reading the whole file: empty or tiny files, HTML error pages,
    files that are neither a zip (torch >= 1.6, ``.npz``) nor a pickle (legacy torch, ``.pkl``), and zips
    whose central directory is missing (truncated downloads).
    """
    path = Path(path)
    spec_of(role)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as err:
        return f"cannot read it ({err.strerror or err})"
    if size == 0:
        return "it is empty"
    if head.lstrip()[:1] == b"<" or b"<html" in head.lower():
        return "it is an HTML page, not a model file (a failed or blocked download?)"
    if role in TASK_BUNDLE_MEMBERS:  # (a bundle may have padding before its first member: no header test)
        return task_bundle_problem(role, path)
    is_zip = head.startswith(b"PK\x03\x04")
    is_pickle = head[:1] == b"\x80"
    if not (is_zip or is_pickle):
        return "it is neither a zip nor a pickle, so not a PyTorch/numpy model file"
    if role != "smpl" and size < _MIN_CHECKPOINT_BYTES:
        return f"it is only {size} bytes, far too small for a checkpoint (truncated?)"
    if is_zip and not zipfile.is_zipfile(path):
        return "it is a truncated zip (the download stopped early?)"
    return None


def task_bundle_problem(role: str, path) -> Optional[str]:
    """What is wrong with the MediaPipe ``.task`` bundle ``path`` for ``role`` ("hands"/"face"), or None.

    Standard library only: the zip is read (every member's CRC checked, so a corrupt download is caught), each
    model of :data:`TASK_BUNDLE_MEMBERS` must be in it and start like a TFLite model. Nothing is executed."""
    wanted = TASK_BUNDLE_MEMBERS[role]
    if not zipfile.is_zipfile(path):
        return "it is not a zip, or a truncated one (the download stopped early?), so not a MediaPipe .task bundle"
    try:
        with zipfile.ZipFile(path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            missing = [m for m in wanted if m not in names]
            if missing:
                other = next((r for r, members in TASK_BUNDLE_MEMBERS.items()
                              if r != role and all(m in names for m in members)), None)
                hint = f" -- it looks like {MODEL_FILES[other].file_name}" if other else ""
                held = ", ".join(sorted(names)[:6]) or "nothing"
                return f"it is not a MediaPipe {role} bundle: it lacks {', '.join(missing)} (it holds {held}){hint}"
            bad = zf.testzip()
            if bad is not None:
                return f"it is corrupt ({bad} fails its checksum; download it again)"
            for member in wanted:
                with zf.open(names[member]) as fh:
                    if fh.read(8)[4:8] != _TFLITE_MAGIC:
                        return f"its {member} is not a TFLite model"
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"it is not a readable zip ({_first_line(err)})"
    return None


def validate_model_file(role: str, path) -> None:
    """Check that ``path`` really is the file for ``role``; raise if not.

    Raises :class:`MissingModelFileError` if it does not exist and :class:`InvalidModelFileError` (one
    line: the file, what is wrong, where to get the right one) if its content is wrong: keys/shapes of
    the checkpoints, the ultralytics classes of the detector, the SMPL arrays.
    """
    path = Path(path)
    spec = spec_of(role)
    if not path.is_file():
        raise MissingModelFileError(f"missing model file {path}: {how_to_get(role, path.parent)}")
    problem = quick_check(role, path)
    if problem is None:
        checks = {"tcmr": _check_tcmr, "spin": _check_spin, "detector": _check_detector, "smpl": _check_smpl}
        problem = checks[role](path) if role in checks else None  # (the .task bundles: quick_check is the check)
    if problem is not None:
        problem = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", problem).split())  # one plain line
        raise InvalidModelFileError(
            f"{path} is not a valid {spec.file_name} ({spec.description}): {problem}; get the right file: "
            f"{how_to_get(role)}"
        )


def _check_checkpoint(path: Path, role: str, loader_name: str) -> Optional[str]:
    """Run the real loader of ``core.tcmr.checkpoint``; on failure say what the file looks like instead."""
    from ..tcmr import checkpoint

    try:
        getattr(checkpoint, loader_name)(path)
        return None
    except InvalidModelFileError as err:
        problem = str(err)
    except Exception as err:  # torch.load errors: truncated file, not a checkpoint, ...
        problem = f"cannot load it ({type(err).__name__}: {_first_line(err)})"
    actual = sniff_role(path)
    named = problem.replace(str(path), "").replace(path.name, "")  # the hint only if not already given
    if actual is not None and actual != role and MODEL_FILES[actual].file_name not in named:
        problem += f" -- it looks like {MODEL_FILES[actual].file_name} ({MODEL_FILES[actual].description})"
    return problem


def _check_tcmr(path: Path) -> Optional[str]:
    return _check_checkpoint(path, "tcmr", "tcmr_state_dict_from_file")


def _check_spin(path: Path) -> Optional[str]:
    return _check_checkpoint(path, "spin", "spin_backbone_state_dict_from_file")


def _check_detector(path: Path) -> Optional[str]:
    """A torch zip checkpoint whose pickle references an ultralytics detection model class.

    The pickle is only scanned (``pickletools``), never executed.
    """
    from ..safe_load import pickle_globals_in_zip, unsafe_pickle_globals

    globals_ = pickle_globals_in_zip(path)
    if globals_ is None:
        return "it is not a PyTorch zip checkpoint (no data.pkl inside)"
    unsafe = unsafe_pickle_globals(globals_)
    if unsafe:
        return (f"it would run code when loaded ({', '.join(unsafe)}) and was refused for safety; delete it and "
                "get the file from its official source")
    if any(mod == "ultralytics.nn.tasks" and name in _DETECTOR_CLASSES for mod, name in globals_):
        return None
    actual = sniff_role(path)
    hint = f" -- it looks like {MODEL_FILES[actual].file_name}" if actual not in (None, "detector") else ""
    return f"it holds no ultralytics detection model (ultralytics.nn.tasks.DetectionModel){hint}"


def _check_smpl(path: Path) -> Optional[str]:
    """The real SMPL loader (``core.smpl.load_smpl_arrays``: keys, shapes; the .pkl without chumpy)."""
    from ..smpl import load_smpl_arrays

    try:
        load_smpl_arrays(path)
    except InvalidModelFileError as err:
        return str(err)
    return None


def refuse_code_in_pickle(path, role: str = "detector") -> None:
    """Raise :class:`InvalidModelFileError` (one line) if the torch zip ``path`` holds a pickle naming a global
    that runs code (:func:`unsafe_pickle_globals`). For files a library unpickles in full (ultralytics and the
    detector): call it before handing the file over. Only scans; nothing in the file runs."""
    from ..safe_load import pickle_globals_in_zip, unsafe_pickle_globals

    unsafe = unsafe_pickle_globals(pickle_globals_in_zip(path) or ())
    if unsafe:
        raise InvalidModelFileError(
            f"{path} would run code when loaded ({', '.join(unsafe)}) and was refused for safety; delete it and "
            f"get {spec_of(role).file_name} from its official source: {how_to_get(role, Path(path).parent)}")


def sniff_role(path) -> Optional[str]:
    """Best guess of which role's file ``path`` holds (``tcmr``/``spin``/``detector``), or None.

    For error messages only ("this looks like the SPIN checkpoint"). Loads with ``weights_only=True``
    (``core.safe_load.torch_load_weights``), so nothing in the file runs.
    """
    from ..safe_load import pickle_globals_in_zip, torch_load_weights

    globals_ = pickle_globals_in_zip(path)
    if globals_ and any(mod.startswith("ultralytics") for mod, _ in globals_):
        return "detector"

    try:
        obj = torch_load_weights(path)
    except Exception:  # anything unreadable: no guess
        return None
    if not isinstance(obj, dict):
        return None
    if "gen_state_dict" in obj or any(str(k).startswith("encoder.gru_cur.") for k in obj):
        return "tcmr"
    state = obj.get("model", obj)
    if isinstance(state, dict) and "conv1.weight" in state and "layer4.0.conv1.weight" in state:
        return "spin"
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
