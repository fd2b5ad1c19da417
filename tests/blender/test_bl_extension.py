"""The repository builds into an extension zip (with Blender's own builder, what `blender --command extension
build` runs) that installs into a user extension repository and enables."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

REPO_ROOT = Path(__file__).resolve().parents[2]


def blender_ext_cli() -> Path:
    path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    if not path.is_file():
        pytest.skip(f"Blender's extension builder is not at {path}")
    return path


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("ext") / "tcmr_mocap.zip"
    proc = subprocess.run([sys.executable, str(blender_ext_cli()), "build", "--source-dir", str(REPO_ROOT),
                           "--output-filepath", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_zip_contents(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for required in ("blender_manifest.toml", "__init__.py", "install_deps.py", "installer/__init__.py",
                     "installer/main.py", "installer/pins.py", "installer/envs.py", "blender_addon/__init__.py",
                     "blender_addon/headless.py", "core/__init__.py", "core/rotations.py", "core/result.py",
                     # Install Dependencies reads the pins from these files inside the installed extension
                     "requirements.txt", "requirements-test.txt", "requirements-ray.txt", "requirements-dev.txt"):
        assert required in names, required
    for name in names:
        assert not name.startswith(("tests/", ".venv", "bench/", ".ci/", ".git", "docs/")), name
        assert "__pycache__" not in name and not name.endswith((".pyc", ".pth.tar", ".pt", ".pkl", ".npz")), name


def test_install_and_enable(extension_zip, tmp_path):
    script = textwrap.dedent("""
        import sys, bpy, addon_utils
        zip_path, ext_dir = sys.argv[1:3]
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.context.preferences.extensions.repos.new(
            name="TCMR Test", module="tcmr_test", custom_directory=ext_dir, source="USER")
        assert bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="tcmr_test", enable_on_install=True) == {"FINISHED"}
        module = "bl_ext.tcmr_test.tcmr_mocap"
        assert addon_utils.check(module) == (True, True), addon_utils.check(module)
        for op in ("capture", "import_motion", "cancel_job", "install_deps"):
            assert hasattr(bpy.ops.tcmr, op), op
        assert hasattr(bpy.types, "TCMR_PT_mocap")
        prefs = bpy.context.preferences.addons[module].preferences
        assert prefs.bl_rna.identifier == "TCMR_AddonPreferences" and prefs.device == "auto"
        import importlib  # the pins, read through install_deps.py's package inside the installed extension
        assert "torch" in importlib.import_module(module + ".blender_addon.runtime.environment").runtime_modules()
        addon_utils.disable(module, default_set=True)
        assert not hasattr(bpy.types, "TCMR_PT_mocap")
        print("EXTENSION OK")
    """)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, "-c", script, str(extension_zip), str(tmp_path / "repo")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert "EXTENSION OK" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "repo" / "tcmr_mocap" / "blender_manifest.toml").is_file()
    # Install Dependencies runs the installed install_deps.py by path: its package comes along, from any folder
    script = tmp_path / "repo" / "tcmr_mocap" / "install_deps.py"
    done = subprocess.run([sys.executable, str(script), "--check", "--json", "--env", str(tmp_path / "no-env")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "environment not ready" in done.stdout, done.stdout + done.stderr
