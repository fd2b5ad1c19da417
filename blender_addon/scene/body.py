"""The SMPL body a scene needs: rest joints (always) and rest mesh, faces, skin weights (for the mesh).

Our capture results carry them; the TCMR demo output and AMASS files do not, so they come from the SMPL
model file in the models directory (``SMPL_NEUTRAL.npz``/``.pkl``, or the ``.npz`` that
``python -m core export-smpl`` writes from the copy inside the TCMR checkpoint). numpy only (no bpy).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ...core import smpl
from ...core.assets.table import MODEL_FILES, find_smpl_file, missing_message, resolve_models_dir
from ...core.errors import MissingModelFileError
from .formats import SceneMotion

_ARRAYS_CACHE: dict[tuple[str, float], dict] = {}


def smpl_file(models_dir=None) -> Optional[Path]:
    """The SMPL model file in the models directory (explicit > $TCMR_MOCAP_MODELS > <repo>/models), or None."""
    return find_smpl_file(resolve_models_dir(models_dir or None))


def export_hint(models_dir=None) -> str:
    folder = resolve_models_dir(models_dir or None)
    return (f"python -m core export-smpl --models {folder} -o {folder / MODEL_FILES['smpl'].file_name}"
            " (writes the copy inside the TCMR checkpoint)")


def no_body_message(models_dir=None) -> str:
    """One line: why there is no skeleton and how to get the SMPL body."""
    folder = resolve_models_dir(models_dir or None)
    return (f"this file has no SMPL rest skeleton and {missing_message('smpl', folder)}; "
            f"or run: {export_hint(models_dir)}")


def load_arrays(path: Path) -> dict:
    """SMPL arrays of a model file, cached while the file is unchanged. Raises MissingModelFileError or
    InvalidModelFileError (one line naming the file, core.smpl's)."""
    if not os.path.isfile(path):
        return smpl.load_smpl_arrays(path)  # it says what is missing
    key = (os.fspath(path), os.path.getmtime(path))
    if key not in _ARRAYS_CACHE:
        _ARRAYS_CACHE.clear()
        _ARRAYS_CACHE[key] = smpl.load_smpl_arrays(path)
    return _ARRAYS_CACHE[key]


def complete_bodies(motion: SceneMotion, models_dir=None, with_mesh: bool = False, smpl_path: str = "") -> bool:
    """Fill in what the scene needs from the SMPL file (``smpl_path`` when given, else the models folder's), in
    place. Returns whether the mesh (asked for by ``with_mesh``) can be built.

    Raises MissingModelFileError (with what to do) when a track has no rest joints and no SMPL file exists.
    """
    need_joints = any(t.rest_joints is None for t in motion.tracks)
    mesh_ready = (motion.smpl_faces is not None and motion.smpl_lbs_weights is not None
                  and all(t.v_shaped is not None for t in motion.tracks))
    if not need_joints and (mesh_ready or not with_mesh):
        return with_mesh and mesh_ready
    path = Path(smpl_path) if smpl_path else smpl_file(models_dir)
    if path is None:
        if need_joints:
            raise MissingModelFileError(no_body_message(models_dir))
        return False
    arrays = load_arrays(path)
    for track in motion.tracks:
        if track.rest_joints is None:
            track.rest_joints = smpl.rest_joints(arrays, track.betas)
        if with_mesh and track.v_shaped is None:
            track.v_shaped = smpl.shaped_vertices(arrays, track.betas)
    if with_mesh:
        if motion.smpl_faces is None:
            motion.smpl_faces = arrays["f"]
        if motion.smpl_lbs_weights is None:
            motion.smpl_lbs_weights = arrays["weights"]
    return with_mesh
