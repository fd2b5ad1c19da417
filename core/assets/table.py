"""The model files: which ones there are, where they live, and how a user gets them.

The only module that knows the file names inside the models directory (checking a file's content is
:mod:`core.assets.checks`; the command line :mod:`core.assets.cli`). Standard library only: ``install_deps.py``
uses :data:`MODEL_FILES` before anything is installed.

Roles and files (see ``models/README.md`` for sources and licences):

==========  ==================================  ==========================================================
role        file                                what it is
==========  ==================================  ==========================================================
tcmr        tcmr_demo_model.pth.tar             the TCMR demo checkpoint (embeds an SMPL neutral body)
spin        spin_model_checkpoint.pth.tar       SPIN's checkpoint: the ResNet-50 feature extractor
detector    yolo11s.pt                          ultralytics YOLO11s person detector
smpl        SMPL_NEUTRAL.npz / .pkl (optional)  SMPL neutral body (licence-gated)
hands       hand_landmarker.task (optional)     MediaPipe hand landmarker (``--hands``)
face        face_landmarker.task (optional)     MediaPipe face landmarker (``--face``)
==========  ==================================  ==========================================================

Models directory: an explicit argument, else ``$TCMR_MOCAP_MODELS``, else ``<repo>/models``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import MissingModelFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
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

# SMPL files in order of preference.
SMPL_FILE_NAMES = (MODEL_FILES["smpl"].file_name,) + MODEL_FILES["smpl"].aliases


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
    spec = spec_of(role)
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
    names = "/".join(SMPL_FILE_NAMES) if role == "smpl" else spec_of(role).file_name
    return f"missing model file {names} in {models_dir}: {how_to_get(role, models_dir)}"


def absent_message(role: str, models_dir) -> str:
    """The one-line note for an optional file (``required=False``) that is not there: not "missing", since
    nothing asked for it (the SMPL body: captures carry their own; only some imports need it)."""
    names = "/".join(SMPL_FILE_NAMES) if role == "smpl" else spec_of(role).file_name
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
    for name in SMPL_FILE_NAMES if role == "smpl" else (spec_of(role).file_name,):
        if (folder / name).is_file():
            return folder / name
    return None


def find_smpl_file(models_dir) -> Optional[Path]:
    """An SMPL neutral body file in ``models_dir``, or None (see :func:`find_model_file`)."""
    return find_model_file("smpl", models_dir)


def spec_of(role: str) -> ModelFile:
    """The :class:`ModelFile` of ``role`` (ValueError naming the roles for an unknown one)."""
    try:
        return MODEL_FILES[role]
    except KeyError:
        raise ValueError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}") from None
