"""Shared, session-scoped fixtures: synthetic model files and a synthetic video, built once per test run.

Files are big (the TCMR checkpoint is ~395 MB, like the real one), so build them once and share them.
Everything is seeded: two runs build bit-identical files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import synthetic`

import synthetic  # noqa: E402


def _have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.fixture(scope="session")
def smpl_arrays():
    """dict of the synthetic SMPL model's arrays (official .pkl key names, dense)."""
    return synthetic.make_smpl_arrays(seed=0)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """A models directory with tcmr_demo_model.pth.tar, spin_model_checkpoint.pth.tar and yolo11s.pt
    (synthetic, official layouts; the detector has random weights)."""
    if not _have("torch"):
        pytest.skip("torch is not installed")
    folder = tmp_path_factory.mktemp("models")
    return synthetic.write_models_dir(folder, seed=0, detector=_have("ultralytics"))


@pytest.fixture(scope="session")
def tcmr_checkpoint(models_dir):
    return models_dir / "tcmr_demo_model.pth.tar"


@pytest.fixture(scope="session")
def spin_checkpoint(models_dir):
    return models_dir / "spin_model_checkpoint.pth.tar"


@pytest.fixture(scope="session")
def smpl_pkl(tmp_path_factory, smpl_arrays):
    """SMPL_NEUTRAL.pkl written like the official file (chumpy shapedirs, sparse J_regressor)."""
    return synthetic.write_smpl_pkl(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl", smpl_arrays)


@pytest.fixture(scope="session")
def smpl_npz(tmp_path_factory, smpl_arrays):
    return synthetic.write_smpl_npz(tmp_path_factory.mktemp("smplnpz") / "SMPL_NEUTRAL.npz", smpl_arrays)


@pytest.fixture(scope="session")
def synthetic_video(tmp_path_factory):
    """40 frames, 320×240, 30 fps, mp4v: a figure walking left to right."""
    return synthetic.write_synthetic_video(tmp_path_factory.mktemp("video") / "walk.mp4")


# ---------------------------------------------------------------------------------- network (core.tcmr)
@pytest.fixture(scope="session")
def tcmr_model(tcmr_checkpoint):
    """core.load_tcmr on the synthetic checkpoint (CPU, float32, embedded SMPL body), loaded once."""
    import core

    return core.load_tcmr(tcmr_checkpoint)
