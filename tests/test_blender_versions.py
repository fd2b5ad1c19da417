"""The Blender add-on tests on every tested Blender, not only the one in this environment.

``install_deps.py --dev`` builds, for each ``bpy`` pin of requirements-test.txt whose Python is not this one,
a light environment (numpy, bpy, pytest) linked as ``<repo>/.venv-bpy<X.Y>``. This test runs the whole
``tests/blender`` suite there, with this environment's Python as the core's runtime (as inside Blender: the
add-on in Blender's Python, the core in its own environment). In CI (``$CI`` set) a missing environment is a
failure, elsewhere a skip that says how to build it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from installer import blender_envs, envs, pins

REPO = Path(__file__).resolve().parents[1]
OTHER_BLENDERS = {py: bpy for py, bpy in pins.bpy_pythons().items() if py != sys.version_info[:2]}


def _summary_counts(output: str) -> dict[str, int]:
    """{'passed': n, 'failed': n, ...} from pytest's closing line."""
    last = [line for line in output.strip().splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", last[-1])} if last else {}


@pytest.mark.slow
@pytest.mark.blender
@pytest.mark.skipif(os.environ.get("TCMR_NESTED_BLENDER_RUN") == "1", reason="already inside a nested run")
@pytest.mark.parametrize("python_version, bpy_version", sorted(OTHER_BLENDERS.items()),
                         ids=[f"bpy-{b}" for _, b in sorted(OTHER_BLENDERS.items())])
def test_blender_suite_on_another_blender(python_version, bpy_version):
    link = blender_envs.blender_test_env_link(bpy_version, REPO)
    python = envs.env_python(link)
    if not python.is_file() or envs.env_state(link) != "ready":
        message = (f"no Blender {bpy_version} test environment at {link}: run `python3 install_deps.py --dev` with a "
                   f"Python {python_version[0]}.{python_version[1]} installed (or --blender-python "
                   f"{python_version[0]}.{python_version[1]}=PATH)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = dict(os.environ, TCMR_RUNTIME_PYTHON=sys.executable, TCMR_NESTED_BLENDER_RUN="1")
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/blender"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=3000)
    output = done.stdout + done.stderr
    counts = _summary_counts(output)
    print(f"Blender {bpy_version} (Python {python_version[0]}.{python_version[1]}): {counts}")
    assert done.returncode == 0, f"the Blender {bpy_version} suite failed:\n{output[-6000:]}"
    assert counts.get("passed", 0) >= 30, f"too few tests ran on Blender {bpy_version}: {counts}\n{output[-3000:]}"
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors")
    # the end-to-end capture must really run there (not be skipped for lack of torch)
    skipped = re.findall(r"SKIPPED \[\d+\] (\S+)", output)
    assert not any("test_bl_headless" in s for s in skipped), f"headless tests were skipped: {skipped}"
    version = subprocess.run([str(python), "-c", "import bpy; print(bpy.app.version_string)"], capture_output=True,
                             text=True, timeout=300).stdout.strip()
    assert version.startswith(bpy_version), version
