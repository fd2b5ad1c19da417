"""``--dev``: a light environment (numpy, bpy, pytest) for each tested Blender whose Python is not the one running
us, built by running ``install_deps.py --blender-test-env`` with that Python and linked as ``<repo>/.venv-bpy<X.Y>``."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

from .build import EnvPlan
from .machine import TorchChoice
from .pins import REPO_ROOT, bpy_pythons, light_env_requirements
from .pythons import find_python, python_version_of
from .report import Reporter, SetupError


def blender_test_env_link(bpy_version: str, repo: Path = REPO_ROOT) -> Path:
    """``<repo>/.venv-bpy5.2``: where the light environment for the bpy ``5.2.x`` tests is linked."""
    return repo / (".venv-bpy" + ".".join(bpy_version.split(".")[:2]))


def plan_blender_test_env() -> EnvPlan:
    python = sys.version_info[:2]
    requirements = light_env_requirements(python)
    bpy = next((r for r in requirements if r.name == "bpy"), None)
    if bpy is None:
        tested = ", ".join(f"{v[0]}.{v[1]} (bpy {b})" for v, b in bpy_pythons().items())
        raise SetupError(f"no bpy is tested on Python {python[0]}.{python[1]}: run --blender-test-env with one of "
                         f"Python {tested}")
    return EnvPlan(requirements, TorchChoice("none", None, "no torch in this environment"),
                   blender_test_env_link(bpy.version).name, "blender-tests")


def setup_blender_test_envs(args, reporter: Reporter, offline: bool) -> list[Path]:
    """``--dev``: a light environment (numpy, bpy, pytest) for each tested Blender whose Python is not the
    one running us, built by running install_deps.py with that Python. Returns the links made."""
    current = sys.version_info[:2]
    overrides = {}
    for item in args.blender_python or []:
        version, sep, path = item.partition("=")
        match = re.fullmatch(r"(\d+)\.(\d+)", version.strip())
        if not sep or not match or not path:
            raise SetupError(f"--blender-python {item}: expected X.Y=PATH, e.g. --blender-python 3.13=/usr/bin/python3.13")
        overrides[(int(match.group(1)), int(match.group(2)))] = path
    links = []
    for python_version, bpy_version in bpy_pythons().items():
        if python_version == current:
            continue
        label = f"Python {python_version[0]}.{python_version[1]}"
        interpreter = overrides.get(python_version) or find_python(python_version)
        if interpreter is None or python_version_of(interpreter) != python_version:
            reporter.warn(f"no {label} found: the tests on Blender {bpy_version} (bpy {bpy_version}) will be skipped; "
                          f"install {label} or name it with --blender-python {python_version[0]}.{python_version[1]}=PATH")
            continue
        reporter.stage("blender-env", None, f"Blender {bpy_version} test environment with {interpreter}")
        command = [interpreter, str(REPO_ROOT / "install_deps.py"), "--blender-test-env"]
        for flag, value in (("--env-cache", args.env_cache),):
            if value:
                command += [flag, value]
        command += ["--offline"] * offline + ["--json"] * args.json
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        assert proc.stdout is not None
        tail: collections.deque = collections.deque(maxlen=5)
        for line in proc.stdout:
            tail.append(line.strip())
            reporter.stream.write(line)
            reporter.stream.flush()
        if proc.wait() != 0:
            last = next((t for t in reversed(tail) if t), "no output")
            raise SetupError(f"the Blender {bpy_version} test environment failed ({last.removeprefix('error: ')[:300]}); "
                             f"fix that and run the same command again")
        links.append(blender_test_env_link(bpy_version))
    return links
