"""Blender 5.1/5.2 (Python 3.13): the add-on's **Install Dependencies** builds the core's runtime with
Blender's own Python, and then a capture runs through that runtime.

Runs where the add-on tests run on Python 3.13: the bpy 5.2.3 environment that tests/test_blender_versions.py
drives (or any bpy on 3.13). The runtime goes to a persistent folder of the per-user cache
(``$TCMR_TEST_RUNTIMES/py3.13``, default ``~/.cache/tcmr_mocap/test-runtimes/py3.13``): the first run is a cold
build (minutes: torch for Python 3.13 comes from PyPI), later runs find it recorded and only re-check it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.version_info[:2] != (3, 13),
                                                    reason="the Python 3.13 (Blender 5.1/5.2) path")]


def _runtime_dir() -> Path:
    from tcmr_mocap.installer.envs import default_env_cache

    root = os.environ.get("TCMR_TEST_RUNTIMES")
    return Path(root) / "py3.13" if root else default_env_cache().parent / "test-runtimes" / "py3.13"


def test_install_dependencies_then_capture(scene, tmp_path, models_dir, synthetic_video, monkeypatch):
    from tcmr_mocap.blender_addon.runtime import commands, environment, preferences

    env_dir = _runtime_dir()
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(preferences, "user_env_dir", lambda: env_dir)  # the extension's user folder
    prefs = preferences.get_prefs(bpy.context)
    prefs.models_dir, prefs.python_path = str(models_dir), ""
    bpy.context.preferences.system.use_online_access = True  # factory settings start offline; pip needs PyPI
    assert bpy.app.online_access
    command = commands.install_command(env_dir, str(models_dir), download_models=False, online=True)
    assert command[:2] == [sys.executable, str(environment.INSTALL_SCRIPT)]  # Blender's own Python runs the set-up

    start = time.monotonic()
    assert bpy.ops.tcmr.install_deps() == {"FINISHED"}
    print(f"Install Dependencies with Python {sys.version.split()[0]}: {time.monotonic() - start:.0f} s")
    python = environment.env_python(env_dir)
    probe = subprocess.run([str(python), "-c", "import json, sys, numpy, torch, cv2; print(json.dumps("
                            "[list(sys.version_info[:2]), numpy.__version__, torch.__version__, cv2.__version__]))"],
                           capture_output=True, text=True, timeout=600, env=environment.clean_env())
    assert probe.returncode == 0, probe.stderr[-2000:]
    py, numpy_version, torch_version, cv2_version = json.loads(probe.stdout.strip().splitlines()[-1])
    assert py == [3, 13] and numpy_version.startswith("2.") and cv2_version.startswith("4.")
    assert environment.resolve_python("", [env_dir]) in (python, environment.env_python(environment.REPO_ENV_DIR))

    import synthetic

    boxes = tmp_path / "boxes.json"
    frames = [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t).tolist()], "scores": [0.9]} for t in range(40)]
    boxes.write_text(json.dumps({"frames": frames}))
    assert bpy.ops.tcmr.capture(filepath=str(synthetic_video), python_path=str(python), models_dir=str(models_dir),
                                detections=str(boxes), device="cpu") == {"FINISHED"}
    arm = bpy.data.objects["walk.mp4 · track 1"]
    keys = H.fcurve_values(arm, 'pose.bones["pelvis"].rotation_quaternion', 0)[0]
    np.testing.assert_array_equal(keys, np.arange(1, 41))
