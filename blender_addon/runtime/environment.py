"""The core's runtime environment, seen from the add-on: which Python runs it, and is it ready.

No bpy here: the operators and the panel pass in what the preferences say. The core runs as a subprocess
(``<env python> -m core capture ...``) with the extension root as working directory and on ``PYTHONPATH``,
the only place where ``core`` is a top-level name.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from ...core.assets.table import (MODEL_FILES, find_model_file, find_smpl_file, missing_message, models_dir_problem,
                                  resolve_models_dir)
from ...installer import envs, pins

EXTENSION_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = EXTENSION_ROOT / "install_deps.py"
REPO_ENV_DIR = EXTENSION_ROOT / ".venv"


def env_python(env_dir) -> Path:
    return envs.env_python(Path(env_dir))


def resolve_python(configured: str = "", env_dirs: Sequence = ()) -> Optional[Path]:
    """The Python that runs the core: the configured one, else the first environment found among
    ``<extension root>/.venv`` and ``env_dirs`` (e.g. the extension's user directory), else None.
    An environment whose set-up was interrupted (half-built) is never used.
    """
    if configured:
        return Path(os.path.expanduser(configured))
    for env_dir in (REPO_ENV_DIR, *env_dirs):
        python = env_python(env_dir)
        if python.is_file() and envs.env_state(Path(env_dir)) != "building":
            return python
    return None


def runtime_modules() -> list[str]:
    """Modules the core needs at run time (from requirements.txt, read by install_deps.py's ``installer.pins``)."""
    return list(dict.fromkeys(r.module for r in pins.load_requirements() if r.group == "runtime"))


_PROBE = ("import importlib.util, json, sys; "
          "print(json.dumps([m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]))")


@dataclass
class Readiness:
    """What the panel shows. ``problems`` are one-line messages saying what to do; empty = ready."""

    python: Optional[Path]
    models_dir: Path
    problems: list[str] = field(default_factory=list)
    smpl_file: Optional[Path] = None

    @property
    def ready(self) -> bool:
        return not self.problems


_PROBE_CACHE: dict[tuple, list[str]] = {}


def missing_modules(python: Path) -> list[str]:
    """Runtime modules the environment lacks (cached per interpreter and modification time; ~0.1 s)."""
    key = (str(python), python.stat().st_mtime if python.exists() else 0.0)
    if key not in _PROBE_CACHE:
        modules = runtime_modules()
        try:
            out = subprocess.run([str(python), "-c", _PROBE, *modules], capture_output=True, text=True, timeout=60,
                                 env=clean_env())
            _PROBE_CACHE[key] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else modules
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            _PROBE_CACHE[key] = modules
    return _PROBE_CACHE[key]


def forget_probes() -> None:
    _PROBE_CACHE.clear()


def check_readiness(python: Optional[Path], models_dir: str = "") -> Readiness:
    """Is the runtime there, with its packages and the required model files?"""
    folder = resolve_models_dir(models_dir or None)
    status = Readiness(python=python, models_dir=folder, smpl_file=find_smpl_file(folder))
    if python is None:
        status.problems.append("no runtime environment: click Install Dependencies in the add-on preferences "
                               "(or run `python3 install_deps.py`)")
    elif not python.is_file():
        status.problems.append(f"runtime Python not found: {python} (fix the path in the add-on preferences)")
    else:
        missing = missing_modules(python)
        if missing:
            status.problems.append(f"dependencies missing in {python}: {', '.join(missing)} "
                                   "(click Install Dependencies in the add-on preferences)")
    folder_problem = models_dir_problem(folder)
    if folder_problem is not None:  # one line for the folder, not one per file in it
        status.problems.append(folder_problem)
        return status
    for role, spec in MODEL_FILES.items():
        if spec.required and find_model_file(role, folder) is None:
            status.problems.append(missing_message(role, folder))
    return status


def clean_env(extra_pythonpath: Optional[Path] = None) -> dict:
    """Environment for a child Python: Blender's own Python settings removed, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    if extra_pythonpath is not None:
        env["PYTHONPATH"] = str(extra_pythonpath)
    return env
