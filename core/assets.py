"""Model files: where they live, what each one is, and whether a file on disk is the right one.

The only module that knows the file names inside the models directory. Importing it needs only the
standard library (``install_deps.py`` uses :data:`MODEL_FILES` and :func:`quick_check` before anything is
installed); the content checks import torch/numpy when they run.

Roles and files (see ``models/README.md`` for sources and licences):

==========  ==================================  ==========================================================
role        file                                content check
==========  ==================================  ==========================================================
tcmr        tcmr_demo_model.pth.tar             ``core.tcmr.checkpoint.tcmr_state_dict_from_file``
spin        spin_model_checkpoint.pth.tar       ``core.tcmr.checkpoint.spin_backbone_state_dict_from_file``
detector    yolo11s.pt                          torch zip whose ``data.pkl`` names an ultralytics model
smpl        SMPL_NEUTRAL.npz / .pkl (optional)  ``core.smpl.load_smpl_arrays`` (keys and shapes)
hands       hand_landmarker.task (optional)     a MediaPipe bundle: a zip holding ``hand_detector.tflite`` and
                                                ``hand_landmarks_detector.tflite``, each a TFLite model
face        face_landmarker.task (optional)     idem with ``face_detector.tflite``,
                                                ``face_landmarks_detector.tflite``, ``face_blendshapes.tflite``
==========  ==================================  ==========================================================

The ``.task`` checks need only the standard library (:func:`task_bundle_problem`), so ``install_deps.py`` runs
them before any environment exists.

Models directory: an explicit argument, else ``$TCMR_MOCAP_MODELS``, else ``<repo>/models``.

Command line (``install_deps.py`` runs it with the environment's Python)::

    python -m core.assets validate [--models-dir DIR] [--file ROLE=PATH ...] [--json]
    python -m core.assets list

``validate`` exits 0 when every file it looked at is valid and no required file is missing, else 1;
with ``--json`` it writes one object per file: ``{"role", "file", "path", "status", "required",
"message"}`` with status ``ok`` / ``missing`` / ``invalid``.
"""

from __future__ import annotations

import json
import os
import pickletools
import re
import shlex
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import InvalidModelFileError, MissingModelFileError

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR_ENV = "TCMR_MOCAP_MODELS"
README_HINT = "see models/README.md"

ROLES = ("tcmr", "spin", "detector", "smpl", "hands", "face")

# The official TCMR release ships its demo checkpoint (and a copy of SPIN's) inside base_data.zip on Google
# Drive (scripts/get_base_data.sh of hongsukchoi/TCMR_RELEASE).
TCMR_BASE_DATA_URL = (
    "https://drive.google.com/uc?id=1WmSYmDWdMSXyNU6ZcFQVF8ULtR_S9L3b&export=download&confirm=t"
)


@dataclass(frozen=True)
class ModelFile:
    """One file of the models directory.

    ``url`` is the official download: the file itself, or (when ``archive_member`` is set) an archive
    holding it under that member path. ``None`` means it cannot be downloaded automatically.
    ``aliases`` are other names the same content is published under; ``--models-from`` accepts them.
    ``approx_size_bytes`` is for progress messages only (approximate, see models/README.md).
    """

    role: str
    file_name: str
    description: str
    url: Optional[str]
    licence: str
    approx_size_bytes: int
    required: bool
    source_page: str
    aliases: tuple[str, ...] = ()
    archive_member: Optional[str] = None


MODEL_FILES: dict[str, ModelFile] = {
    "tcmr": ModelFile(
        role="tcmr",
        file_name="tcmr_demo_model.pth.tar",
        description="TCMR demo checkpoint (temporal encoder + regressor; embeds an SMPL neutral body)",
        url=TCMR_BASE_DATA_URL,
        archive_member="base_data/tcmr_demo_model.pth.tar",
        licence="MIT (TCMR release); the embedded regressor.smpl.* body is under the SMPL licence",
        approx_size_bytes=395_000_000,
        required=True,
        source_page="https://github.com/hongsukchoi/TCMR_RELEASE (scripts/get_base_data.sh -> base_data.zip)",
    ),
    "spin": ModelFile(
        role="spin",
        file_name="spin_model_checkpoint.pth.tar",
        description="SPIN checkpoint; its ResNet-50 computes the per-frame features",
        url="http://visiondata.cis.upenn.edu/spin/model_checkpoint.pt",
        licence="BSD-3-Clause (SPIN release)",
        approx_size_bytes=108_000_000,
        required=True,
        source_page="https://github.com/nkolot/SPIN (fetch_data.sh); also in TCMR's base_data.zip",
        aliases=("model_checkpoint.pt",),
    ),
    "detector": ModelFile(
        role="detector",
        file_name="yolo11s.pt",
        description="ultralytics YOLO11s person detector",
        url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11s.pt",
        licence="AGPL-3.0 (ultralytics)",
        approx_size_bytes=19_000_000,
        required=True,
        source_page="https://github.com/ultralytics/assets/releases/tag/v8.3.0",
    ),
    "smpl": ModelFile(
        role="smpl",
        file_name="SMPL_NEUTRAL.npz",
        description="SMPL neutral body (optional: the TCMR checkpoint carries a copy)",
        url=None,
        licence="SMPL/SMPLify model licence (non-commercial research; registration required)",
        approx_size_bytes=40_000_000,
        required=False,
        source_page="https://smplify.is.tue.mpg.de (neutral model, after registration)",
        aliases=("SMPL_NEUTRAL.pkl", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"),
    ),
    "hands": ModelFile(
        role="hands",
        file_name="hand_landmarker.task",
        description="MediaPipe hand landmarker (palm detector + 21 hand landmarks; fingers, --hands)",
        url="https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/float16/1/"
            "hand_landmarker.task",
        licence="Apache-2.0 (Google MediaPipe)",
        approx_size_bytes=7_800_000,
        required=False,
        source_page="https://ai.google.dev/edge/mediapipe/solutions/vision/hand_landmarker",
    ),
    "face": ModelFile(
        role="face",
        file_name="face_landmarker.task",
        description="MediaPipe face landmarker (face detector, 478-point mesh, 52 blendshapes; --face)",
        url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
            "face_landmarker.task",
        licence="Apache-2.0 (Google MediaPipe)",
        approx_size_bytes=3_758_596,
        required=False,
        source_page="https://ai.google.dev/edge/mediapipe/solutions/vision/face_landmarker",
    ),
}

# The models inside each MediaPipe ``.task`` bundle (a zip): every one must be there and be a TFLite model.
TASK_BUNDLE_MEMBERS = {
    "hands": ("hand_detector.tflite", "hand_landmarks_detector.tflite"),
    "face": ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite"),
}
_TFLITE_MAGIC = b"TFL3"  # FlatBuffer file identifier of a TFLite model (bytes 4-8)

# SMPL files in order of preference.
SMPL_FILE_NAMES = (MODEL_FILES["smpl"].file_name,) + MODEL_FILES["smpl"].aliases

_DETECTOR_CLASSES = ("DetectionModel", "SegmentationModel", "PoseModel")
# Globals no model file needs and that run commands or code when a pickle calls them. The detector is the one
# file ultralytics unpickles in full, so its pickle is scanned for these first (:func:`unsafe_pickle_globals`).
_UNSAFE_MODULES = ("os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
                   "ctypes", "pickle", "marshal", "code", "codeop", "webbrowser", "multiprocessing", "tempfile")
_UNSAFE_BUILTINS = ("eval", "exec", "compile", "__import__", "open", "breakpoint", "input", "globals", "locals",
                    "vars", "setattr", "delattr")
UNRESOLVED_GLOBAL = ("?", "?")  # a STACK_GLOBAL whose names the scan could not follow
_MIN_CHECKPOINT_BYTES = 1_000_000  # anything smaller is an error page or a stub, never a checkpoint


# ------------------------------------------------------------------------------------------- where
def resolve_models_dir(explicit=None) -> Path:
    """The models directory: ``explicit`` if given, else ``$TCMR_MOCAP_MODELS``, else ``<repo>/models``."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get(MODELS_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return REPO_ROOT / "models"


def is_default_models_dir(folder) -> bool:
    """True if ``folder`` is ``<repo>/models``, the folder ``install_deps.py --models`` fills without options."""
    try:
        return Path(folder).expanduser().resolve() == (REPO_ROOT / "models").resolve()
    except (OSError, RuntimeError):
        return False


def fill_command(models_dir=None, offline: bool = False) -> str:
    """The ``install_deps.py`` command that puts the model files into ``models_dir`` (None: the default folder):
    downloading them, or with ``offline`` importing them from a folder of downloaded files."""
    source = "--models-from FOLDER" if offline else "--models"
    if models_dir is None or is_default_models_dir(models_dir):
        return f"python3 install_deps.py {source}"
    return f"python3 install_deps.py {source} --models-dir {shlex.quote(str(models_dir))}"


def how_to_get(role: str, models_dir=None) -> str:
    """One clause telling a user where the file for ``role`` comes from. With ``models_dir`` (the folder it is
    missing from) the command named fills *that* folder (``--models-dir DIR`` unless it is ``<repo>/models``)."""
    spec = _spec(role)
    if spec.url is None:
        return f"it is licence-gated: register at {spec.source_page} and put it there by hand ({README_HINT})"
    if spec.archive_member:
        where = f"take {spec.archive_member} out of the zip at {spec.url}"
    else:
        where = f"download it from {spec.url}"
    folder = None if models_dir is None or is_default_models_dir(models_dir) else models_dir
    return (f"run `{fill_command(folder)}` (or `{fill_command(folder, offline=True)}` with files you "
            f"downloaded), or {where} ({README_HINT})")


def missing_message(role: str, models_dir) -> str:
    """The one-line message for a missing file of ``role`` in ``models_dir``."""
    names = "/".join(SMPL_FILE_NAMES) if role == "smpl" else _spec(role).file_name
    return f"missing model file {names} in {models_dir}: {how_to_get(role, models_dir)}"


def absent_message(role: str, models_dir) -> str:
    """The one-line note for an optional file (``required=False``) that is not there: not "missing", since
    nothing asked for it (the SMPL body: captures carry their own; only some imports need it)."""
    names = "/".join(SMPL_FILE_NAMES) if role == "smpl" else _spec(role).file_name
    return f"no {names} in {models_dir} (optional): {how_to_get(role, models_dir)}"


def models_dir_problem(folder) -> Optional[str]:
    """The one-line message if ``folder`` does not exist or is not a folder, else None."""
    folder = Path(folder)
    if folder.is_dir():
        return None
    where = f"check the path (--models, ${MODELS_DIR_ENV} or the add-on's Models Directory)"
    if folder.exists():
        return f"the models folder {folder} is a file, not a folder: {where} ({README_HINT})"
    return f"the models folder {folder} does not exist: {where}, or fill it with `{fill_command(folder)}` ({README_HINT})"


def model_path(role: str, models_dir=None) -> Path:
    """Path of the file for ``role`` in the models directory (no content check).

    Raises :class:`MissingModelFileError` naming the file, the folder and where to get it (or, if the folder
    itself is missing, saying so).
    """
    folder = resolve_models_dir(models_dir)
    problem = models_dir_problem(folder)
    if problem is not None:
        raise MissingModelFileError(problem)
    found = find_model_file(role, folder)
    if found is None:
        raise MissingModelFileError(missing_message(role, folder))
    return found


def find_model_file(role: str, models_dir) -> Optional[Path]:
    """The file for ``role`` in the folder ``models_dir`` if it is there, else None (no content check).
    SMPL: the first of :data:`SMPL_FILE_NAMES` present (``.npz`` preferred, then ``.pkl``, then the long name)."""
    folder = Path(models_dir)
    for name in SMPL_FILE_NAMES if role == "smpl" else (_spec(role).file_name,):
        if (folder / name).is_file():
            return folder / name
    return None


def find_smpl_file(models_dir) -> Optional[Path]:
    """An SMPL neutral body file in ``models_dir``, or None (see :func:`find_model_file`)."""
    return find_model_file("smpl", models_dir)


def _spec(role: str) -> ModelFile:
    try:
        return MODEL_FILES[role]
    except KeyError:
        raise ValueError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}") from None


# ------------------------------------------------------------------------------------------- what
def quick_check(role: str, path) -> Optional[str]:
    """Cheap standard-library check of a file for ``role``: a problem description, or None if plausible.

    Catches the common accidents without reading the whole file: empty or tiny files, HTML error pages,
    files that are neither a zip (torch >= 1.6, ``.npz``) nor a pickle (legacy torch, ``.pkl``), and zips
    whose central directory is missing (truncated downloads).
    """
    path = Path(path)
    _spec(role)
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
    spec = _spec(role)
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
    from .tcmr import checkpoint

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
    from .smpl import load_smpl_arrays

    try:
        load_smpl_arrays(path)
    except InvalidModelFileError as err:
        return str(err)
    return None


# ------------------------------------------------------------------------------------------- sniffing
def pickle_globals_in_zip(path) -> Optional[set[tuple[str, str]]]:
    """(module, name) pairs referenced by the ``data.pkl`` of a torch zip checkpoint, or None if not one.
    Every pickle in the zip is scanned (whichever one a loader reads, its globals are in the set).

    Uses ``pickletools`` only: nothing in the file is imported or executed.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if not any(n.endswith("data.pkl") for n in names):
                return None
            found: set[tuple[str, str]] = set()
            for name in names:
                if name.endswith(".pkl"):
                    found |= _pickle_globals(zf.read(name))
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return found


def refuse_code_in_pickle(path, role: str = "detector") -> None:
    """Raise :class:`InvalidModelFileError` (one line) if the torch zip ``path`` holds a pickle naming a global
    that runs code (:func:`unsafe_pickle_globals`). For files a library unpickles in full (ultralytics and the
    detector): call it before handing the file over. Only scans; nothing in the file runs."""
    unsafe = unsafe_pickle_globals(pickle_globals_in_zip(path) or ())
    if unsafe:
        raise InvalidModelFileError(
            f"{path} would run code when loaded ({', '.join(unsafe)}) and was refused for safety; delete it and "
            f"get {_spec(role).file_name} from its official source: {how_to_get(role, Path(path).parent)}")


def unsafe_pickle_globals(globals_) -> list[str]:
    """The ``module.name`` of each global in ``globals_`` (from :func:`pickle_globals_in_zip`) that can run a
    command or code (os/posix/nt/subprocess/..., builtins.eval/exec/...), or one the scan could not resolve."""
    bad = set()
    for module, name in globals_:
        top = module.split(".")[0]
        if (module, name) == UNRESOLVED_GLOBAL:
            bad.add("an unresolvable global")
        elif top in _UNSAFE_MODULES or (top in ("builtins", "__builtin__") and name in _UNSAFE_BUILTINS):
            bad.add(f"{module}.{name}")
    return sorted(bad)


def _pickle_globals(data: bytes) -> set[tuple[str, str]]:
    """Globals of a pickle: GLOBAL args and STACK_GLOBAL (module, name) from the strings pushed before
    (:data:`UNRESOLVED_GLOBAL` when those are not plain strings the scan can follow)."""
    found: set[tuple[str, str]] = set()
    memo: dict[int, str] = {}
    recent: list[Optional[str]] = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                found.add((module, name))
            elif op.name == "STACK_GLOBAL":
                resolved = len(recent) >= 2 and None not in recent[-2:]
                found.add((recent[-2], recent[-1]) if resolved else UNRESOLVED_GLOBAL)
            elif op.name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT") and recent:
                memo[int(arg)] = recent[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                recent.append(memo.get(int(arg)))
            elif isinstance(arg, str) and ("UNICODE" in op.name or "STRING" in op.name):
                recent.append(str(arg))
            else:
                recent.append(None)
            del recent[:-4]
    except (ValueError, EOFError):
        pass  # truncated pickle: report what was seen
    return found


def sniff_role(path) -> Optional[str]:
    """Best guess of which role's file ``path`` holds (``tcmr``/``spin``/``detector``), or None.

    For error messages only ("this looks like the SPIN checkpoint"). Loads with ``weights_only=True``
    (``core.safe_load.torch_load_weights``), so nothing in the file runs.
    """
    globals_ = pickle_globals_in_zip(path)
    if globals_ and any(mod.startswith("ultralytics") for mod, _ in globals_):
        return "detector"
    from .safe_load import torch_load_weights

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


# ------------------------------------------------------------------------------------------- CLI
def _validate_entries(models_dir: Optional[str], files: list[str]) -> list[dict]:
    """Check ``--file ROLE=PATH`` entries, or every role in the models directory when none are given."""
    entries: list[tuple[str, Optional[Path]]] = []
    if files:
        for item in files:
            role, sep, path = item.partition("=")
            if not sep or role not in MODEL_FILES:
                raise ValueError(f"--file expects ROLE=PATH with ROLE one of {', '.join(ROLES)}, got {item!r}")
            entries.append((role, Path(path)))
    else:
        folder = resolve_models_dir(models_dir)
        entries += [(role, find_model_file(role, folder)) for role in ROLES]
    results = []
    for role, path in entries:
        spec = MODEL_FILES[role]
        row = {"role": role, "file": spec.file_name, "path": str(path) if path else None, "required": spec.required}
        if path is None:
            folder = resolve_models_dir(models_dir)
            row.update(status="missing", message=missing_message(role, folder) if spec.required
                       else absent_message(role, folder))
        else:
            try:
                validate_model_file(role, path)
                row.update(status="ok", message="")
            except (InvalidModelFileError, MissingModelFileError) as err:
                row.update(status="invalid" if path.exists() else "missing", message=str(err))
            except ImportError as err:  # the content check itself is unavailable (broken install)
                row.update(status="unchecked", message=f"content check unavailable: {err}")
        results.append(row)
    return results


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.assets", description="Check the model files.")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check the files of a models directory, or given files")
    val.add_argument("--models-dir", help=f"default: ${MODELS_DIR_ENV}, else <repo>/models")
    val.add_argument("--file", action="append", default=[], metavar="ROLE=PATH", help="check one file")
    val.add_argument("--json", action="store_true", help="one JSON object per file")
    sub.add_parser("list", help="the model files and their sources")
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "list":
        for spec in MODEL_FILES.values():
            out.write(f"{spec.role:9s} {spec.file_name:32s} {'required' if spec.required else 'optional'}  "
                      f"{spec.url or spec.source_page}\n")
        return 0
    try:
        results = _validate_entries(args.models_dir, args.file)
    except ValueError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    for row in results:
        if args.json:
            out.write(json.dumps(row) + "\n")
        elif row["status"] == "ok":
            out.write(f"ok       {row['role']:9s} {row['path']}\n")
        else:
            label = row["status"] if row["required"] or row["status"] == "invalid" else "absent"
            out.write(f"{label:8s} {row['role']:9s} {row['message']}\n")
    bad = any(r["status"] == "invalid" or (r["status"] == "missing" and r["required"]) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(_main())
