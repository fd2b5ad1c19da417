"""Where an environment lives and what state it is in.

The real environment is kept in a per-user cache keyed by a hash of the requirement list and the options
(``~/.cache/tcmr_mocap/envs/py3.11-<hash>``) and ``<repo>/.venv`` links to it; ``--env DIR`` builds a real one at
DIR. A stamp file inside records the hash of a finished set-up; a marker file says pip is (or was, when a set-up
was interrupted) still filling it. A lock keeps two set-ups of one shared environment apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .machine import TorchChoice
from .pins import REPO_ROOT, Requirement
from .report import Reporter

STAMP_NAME = "tcmr_mocap_setup.json"
STAMP_FORMAT = 1
BUILDING_MARKER = "tcmr_mocap_building"  # present while pip runs: a half-built environment is never used


def env_key(requirements: list[Requirement], choice: TorchChoice, python: tuple[int, int]) -> str:
    """Hash of the runtime requirement list + options: names the shared environment."""
    payload = {
        "pins": sorted(r.pin + (" --no-deps" if r.no_deps else "") for r in requirements if r.group == "runtime"),
        "torch": [choice.variant, choice.index_url],
        "python": list(python),
        "platform": [platform.system(), platform.machine()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def dev_key(requirements: list[Requirement]) -> Optional[str]:
    """Hash of the dev extras installed on top (None when there are none)."""
    pins = sorted(r.pin for r in requirements if r.is_extra)
    return hashlib.sha256(json.dumps(pins).encode()).hexdigest() if pins else None


def default_env_cache(environ=None, system: Optional[str] = None) -> Path:
    """``$XDG_CACHE_HOME/tcmr_mocap/envs`` (default ``~/.cache``); ``%LOCALAPPDATA%`` on Windows."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    if system == "Windows":
        base = environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    else:
        base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tcmr_mocap" / "envs"


@dataclass(frozen=True)
class EnvLayout:
    """``env_dir`` is the real environment; ``link`` (if any) is the ``<repo>/.venv`` link pointing to it."""

    env_dir: Path
    link: Optional[Path]


def plan_env_layout(key: str, python: tuple[int, int], env: Optional[str], env_cache: Optional[str],
                    repo: Path = REPO_ROOT, link_name: str = ".venv", tag: str = "") -> EnvLayout:
    """Where the environment goes (see the module docstring). Creates nothing. ``link_name``/``tag``: the
    ``<repo>`` link and the cache folder's tag of a second kind of environment (the Blender-tests one)."""
    if env:
        return EnvLayout(Path(env).expanduser().absolute(), None)
    link = repo / link_name
    if link.is_dir() and not is_link(link):
        return EnvLayout(link, None)  # a real environment already there: use it in place
    cache = Path(env_cache).expanduser().absolute() if env_cache else default_env_cache()
    return EnvLayout(cache / f"py{python[0]}.{python[1]}{tag}-{key[:12]}", link)


def env_python(env_dir: Path) -> Path:
    """The environment's interpreter."""
    if os.name == "nt":
        return env_dir / "Scripts" / "python.exe"
    return env_dir / "bin" / "python"


def is_link(path: Path) -> bool:
    """A symbolic link, or (Windows) a directory junction."""
    if path.is_symlink():
        return True
    return os.name == "nt" and path.exists() and os.path.realpath(path) != os.path.abspath(path)


def point_link(link: Path, target: Path) -> bool:
    """Make ``link`` a symbolic link (Windows: a junction if links are not allowed) to ``target``.

    Replaces an existing link atomically; never touches a real directory. False if impossible.
    """
    if is_link(link) and link.exists() and os.path.realpath(link) == os.path.realpath(target):
        return True
    if link.exists() and not is_link(link):
        return False
    tmp = link.with_name(f"{link.name}.tmp-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(target, tmp, target_is_directory=True)
        os.replace(tmp, link)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
    if os.name == "nt":  # junctions need no privilege
        with contextlib.suppress(OSError):
            if link.is_symlink() or link.exists():
                os.rmdir(link)
        done = subprocess.run(["cmd", "/c", "mklink", "/J", str(link), str(target)], capture_output=True)
        return done.returncode == 0
    return False


@contextlib.contextmanager
def env_lock(env_dir: Path, reporter: "Reporter"):
    """Hold an exclusive lock on ``env_dir`` (two clones setting up the same shared environment)."""
    env_dir.mkdir(parents=True, exist_ok=True)
    fh = open(env_dir / "tcmr_mocap_setup.lock", "a+b")
    try:
        try:
            import fcntl
        except ImportError:  # Windows
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                reporter.stage("env", None, f"waiting for another install_deps.py using {env_dir} ...")
                fcntl.flock(fh, fcntl.LOCK_EX)
        yield
    finally:
        fh.close()


def make_stamp(key: str, requirements: list[Requirement], choice: TorchChoice) -> dict:
    """What the stamp file records about a finished installation."""
    return {
        "format": STAMP_FORMAT,
        "key": key,
        "dev_key": dev_key(requirements),
        "requirements": [r.pin for r in requirements],
        "torch": {"variant": choice.variant, "index_url": choice.index_url},
        "python": platform.python_version(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def stamp_satisfies(stamp: Optional[dict], key: str, want_dev_key: Optional[str]) -> bool:
    """True if an environment with ``stamp`` needs no pip run for this request (dev extras are additive)."""
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT or stamp.get("key") != key:
        return False
    return want_dev_key is None or stamp.get("dev_key") == want_dev_key


def read_stamp(env_dir: Path) -> Optional[dict]:
    try:
        return json.loads((env_dir / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_stamp(env_dir: Path, stamp: dict) -> None:
    tmp = env_dir / f"{STAMP_NAME}.tmp"
    tmp.write_text(json.dumps(stamp, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, env_dir / STAMP_NAME)


def env_state(env_dir: Path) -> str:
    """``ready`` (a stamp, no build in progress), ``building`` (an install started and did not finish),
    ``unrecorded`` (a Python but no stamp: made by hand or by an older set-up) or ``missing``."""
    env_dir = Path(env_dir)
    if (env_dir / BUILDING_MARKER).exists():
        return "building"
    if not env_python(env_dir).exists():
        return "missing"
    return "ready" if read_stamp(env_dir) is not None else "unrecorded"


def wipe_env(env_dir: Path) -> None:
    """Empty an interrupted environment (the lock file we hold stays)."""
    for child in env_dir.iterdir():
        if child.name == "tcmr_mocap_setup.lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
