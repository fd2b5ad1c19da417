"""The ``tcmr-mocap`` launcher in the environment: ``python -m core`` of this checkout from any folder."""

from __future__ import annotations

import os
from pathlib import Path

from .envs import env_python
from .pins import REPO_ROOT

LAUNCHER_NAME = "tcmr-mocap"


def write_launcher(env_dir: Path, repo: Path = REPO_ROOT) -> Path:
    """``<env>/bin/tcmr-mocap`` (Windows: ``Scripts\\tcmr-mocap.cmd``): ``python -m core`` of ``repo`` from
    any folder. The repository goes first on sys.path, so a folder named ``core`` where it runs cannot
    shadow ours. Written by every successful set-up: it runs the checkout that set the environment up last."""
    python = env_python(env_dir)
    code = (f"import runpy, sys; sys.path.insert(0, {str(repo)!r}); sys.argv[0] = {LAUNCHER_NAME!r}; "
            "runpy.run_module('core', run_name='__main__')")
    if os.name == "nt":
        path = python.parent / f"{LAUNCHER_NAME}.cmd"
        text = f'@echo off\r\n"{python}" -c "{code}" %*\r\n'
    else:
        path = python.parent / LAUNCHER_NAME
        quoted = code.replace("'", "'\"'\"'")
        text = f"#!/bin/sh\n# TCMR Mocap, written by install_deps.py: runs {repo}\nexec '{python}' -c '{quoted}' \"$@\"\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if os.name != "nt":
        tmp.chmod(0o755)
    os.replace(tmp, path)
    return path
