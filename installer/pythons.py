"""Finding another Python (for the tests on another Blender's bpy): on PATH, in pyenv, uv or the usual places;
one that really runs and has ``venv``."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional


def python_version_of(executable: str, timeout: float = 30.0) -> Optional[tuple[int, int]]:
    """(major, minor) of an interpreter that really runs and has venv, else None (e.g. a pyenv shim that
    answers "command not found")."""
    try:
        done = subprocess.run([executable, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)", done.stdout.strip()) if done.returncode == 0 else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def python_candidates(version: tuple[int, int], environ=None, system: Optional[str] = None) -> list[str]:
    """Places a Python ``version`` usually lives, most likely first (nothing is run here)."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    name = f"python{version[0]}.{version[1]}"
    found = [shutil.which(name)] if shutil.which(name) else []
    home = Path(environ.get("HOME") or Path.home())
    roots = [Path(environ["PYENV_ROOT"])] if environ.get("PYENV_ROOT") else []
    roots.append(home / ".pyenv")
    for root in roots:  # pyenv keeps every version, whichever is active
        hits = sorted(root.glob(f"versions/{version[0]}.{version[1]}.*/bin/{name}"),
                      key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")], reverse=True)
        found += [str(h) for h in hits]
    found += [str(h) for h in sorted(home.glob(f".local/share/uv/python/cpython-{version[0]}.{version[1]}.*/bin/{name}"),
                                     reverse=True)]
    if system == "Windows":
        local = Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        found.append(str(local / "Programs" / "Python" / f"Python{version[0]}{version[1]}" / "python.exe"))
    else:
        found += [f"/usr/bin/{name}", f"/usr/local/bin/{name}", f"/opt/homebrew/bin/{name}",
                  f"/Library/Frameworks/Python.framework/Versions/{version[0]}.{version[1]}/bin/{name}"]
    return list(dict.fromkeys(found))


def find_python(version: tuple[int, int], environ=None) -> Optional[str]:
    """The first interpreter of ``version`` that really runs (see :func:`python_candidates`), or None."""
    for candidate in python_candidates(version, environ):
        if (os.path.isfile(candidate) or shutil.which(candidate)) and python_version_of(candidate) == version:
            return candidate
    return None
