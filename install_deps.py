#!/usr/bin/env python3
"""Set up TCMR Mocap: the Python environment with the pinned packages, and the model files.

Standard library only: it runs before anything is installed, with Python 3.11, 3.12 or 3.13, including the
one bundled with Blender (4.4/5.0: 3.11; 5.1/5.2: 3.13). The pins are in ``requirements.txt`` (runtime),
``requirements-test.txt``, ``requirements-ray.txt`` and ``requirements-dev.txt`` (all of them), plus
``requirements-nodeps.txt`` (runtime packages installed with ``--no-deps``, their real needs pinned in
``requirements.txt``); this script reads them. Typical use::

    python3 install_deps.py                          # environment at <repo>/.venv (a link, see below)
    python3 install_deps.py --dev                    # + pytest, bpy, ray; + a light env per other tested bpy
    python3 install_deps.py --models                 # + download the model files from their sources
    python3 install_deps.py --models-from ~/Downloads/tcmr-models   # + import them (offline)
    python3 install_deps.py --check                  # verify only, change nothing

Where the environment lives: the real environment is kept in a per-user cache keyed by a hash of the
requirement list and the options (``~/.cache/tcmr_mocap/envs/py3.11-<hash>``, honouring
``$XDG_CACHE_HOME``; ``--env-cache DIR`` overrides) and ``<repo>/.venv`` is a symbolic link to it, so a
second clone on the same machine is ready in seconds. ``--env DIR`` builds a real environment at DIR
instead (the Blender add-on does this in its user directory). A ``<repo>/.venv`` that is already a real
environment is used in place. ``--dev`` also builds, with each other Python that a tested ``bpy`` needs
(found on PATH, in pyenv, uv or the usual places; ``--blender-python X.Y=PATH``), a light environment of
numpy, bpy and pytest linked as ``<repo>/.venv-bpy<X.Y>``, so the Blender tests run on every tested Blender.

Idempotent: a stamp file inside the environment records the hash; when it matches and the import check
passes, pip is not run at all. While pip runs a marker file says the environment is being built: an
interrupted set-up is detected, rebuilt from scratch and never used. Every failure ends with one line saying
what to do and a non-zero exit (2; ``--check`` exits 1 when the environment is not ready, 3 when it is ready
but required model files are missing). ``--json`` writes progress as one JSON object per line on stdout:
``{"stage": ..., "fraction": 0.0-1.0 or null, "message": ...}``."""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parent
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))  # every pin in requirements.txt has releases for these
STAMP_NAME = "tcmr_mocap_setup.json"
STAMP_FORMAT = 1
PYTORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_CUDA_TAG = "cu130"  # the CUDA the pinned torch is built for on PyPI (torch.version.cuda == "13.0")
CONNECT_TIMEOUT_S = 10.0  # reachability pre-check before any download
DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation: a stalled transfer stops, the .part file is kept
VERIFY_TIMEOUT_S = 600


# ============================================================================ the requirement list
REQUIREMENT_FILES = {  # group -> file beside this script (pip's format: `name==version ; marker  # why`)
    "runtime": "requirements.txt",
    "test": "requirements-test.txt",
    "ray": "requirements-ray.txt",
}
# runtime pins installed without their declared dependencies (pip --no-deps), after the others: a package whose
# metadata asks for something we must not have (mediapipe -> opencv-contrib-python, a second cv2)
NO_DEPS_FILE = "requirements-nodeps.txt"
IMPORT_NAMES = {"opencv-python": "cv2", "absl-py": "absl"}  # distribution -> module to import when checking (default: name)
LIGHT_ENV_RUNTIME_PINS = ("numpy",)  # what the Blender-tests environment takes from requirements.txt


@dataclass(frozen=True)
class Requirement:
    """One pinned package from a requirement file. ``version`` is exact or a ``X.Y.*`` series; ``module`` is
    what we import to check it; ``group`` names its file (runtime/test/ray); ``marker`` is the PEP 508
    environment marker after ``;`` (empty: everywhere); ``why`` the comment; ``no_deps``: installed without its
    declared dependencies (``requirements-nodeps.txt``)."""

    name: str
    version: str
    module: str
    group: str = "runtime"
    marker: str = ""
    why: str = ""
    no_deps: bool = False

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def is_extra(self) -> bool:
        """Installed on top of the runtime (does not change which environment is used)."""
        return self.group != "runtime"

    def applies(self, python: tuple[int, int], system: Optional[str] = None, machine: Optional[str] = None) -> bool:
        return evaluate_marker(self.marker, marker_environment(python, system, machine))


def marker_environment(python: tuple[int, int], system: Optional[str] = None,
                       machine: Optional[str] = None) -> dict[str, str]:
    """The PEP 508 marker variables for ``python`` on this (or the given) system."""
    system = system or platform.system()
    return {
        "python_version": f"{python[0]}.{python[1]}",
        "python_full_version": f"{python[0]}.{python[1]}.0",
        "platform_system": system,
        "sys_platform": {"Windows": "win32", "Darwin": "darwin"}.get(system, system.lower()),
        "os_name": "nt" if system == "Windows" else "posix",
        "platform_machine": machine or platform.machine(),
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


_MARKER_TOKEN = re.compile(r"\s*(\(|\)|==|!=|<=|>=|<|>|\band\b|\bor\b|\bnot in\b|\bin\b|\"[^\"]*\"|'[^']*'|[A-Za-z_]+)")


def evaluate_marker(marker: str, environment: dict[str, str]) -> bool:
    """Evaluate a PEP 508 environment marker (``python_version < "3.13" and sys_platform == "linux"``).

    Supports the comparison operators, ``in``/``not in``, ``and``/``or`` and parentheses; versions compare
    numerically. Empty marker: True. Raises ValueError for anything else (a broken requirement file).
    """
    tokens, pos, text = [], 0, marker.strip()
    while pos < len(text):
        match = _MARKER_TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot read the marker {marker!r} at {text[pos:]!r}")
        tokens.append(match.group(1))
        pos = match.end()
    if not tokens:
        return True

    def value(tok: str) -> str:
        if tok[0] in "\"'":
            return tok[1:-1]
        if tok not in environment:
            raise ValueError(f"unknown marker variable {tok!r} in {marker!r}")
        return environment[tok]

    def compare(left: str, op: str, right: str, versions: bool) -> bool:
        if op in ("in", "not in"):
            return (left in right) == (op == "in")
        if versions and all(re.fullmatch(r"\d+(\.\d+)*", v) for v in (left, right)):
            a, b = [tuple(int(x) for x in v.split(".")) for v in (left, right)]
            width = max(len(a), len(b))
            a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
        else:
            a, b = left, right
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def atom(i: int) -> tuple[bool, int]:
        if tokens[i] == "(":
            result, i = disjunction(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise ValueError(f"unbalanced parentheses in {marker!r}")
            return result, i + 1
        if i + 2 >= len(tokens):
            raise ValueError(f"incomplete marker {marker!r}")
        left, op, right = tokens[i], tokens[i + 1], tokens[i + 2]
        if op not in ("==", "!=", "<", "<=", ">", ">=", "in", "not in"):
            raise ValueError(f"unknown operator {op!r} in {marker!r}")
        versions = "version" in left or "version" in right
        return compare(value(left), op, value(right), versions), i + 3

    def conjunction(i: int) -> tuple[bool, int]:
        result, i = atom(i)
        while i < len(tokens) and tokens[i] == "and":
            other, i = atom(i + 1)
            result = result and other
        return result, i

    def disjunction(i: int) -> tuple[bool, int]:
        result, i = conjunction(i)
        while i < len(tokens) and tokens[i] == "or":
            other, i = conjunction(i + 1)
            result = result or other
        return result, i

    try:
        result, end = disjunction(0)
    except IndexError:
        raise ValueError(f"incomplete marker {marker!r}") from None
    if end != len(tokens):
        raise ValueError(f"cannot read the marker {marker!r}")
    return result


_PIN_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([0-9][0-9A-Za-z.*+!-]*)\s*(?:;\s*(.*?))?\s*$")


def parse_requirement_file(path: Path, group: str, _seen: Optional[set] = None,
                           no_deps: bool = False) -> list[Requirement]:
    """The pins of one requirement file (``-r other.txt`` includes are followed; their lines keep the
    group of the file they are in). Only exact pins are accepted: a reproducible environment. ``no_deps``
    marks every pin of the file as installed without its dependencies."""
    seen = set() if _seen is None else _seen
    path = Path(path)
    if path.resolve() in seen:
        return []
    seen.add(path.resolve())
    groups = {name: g for g, name in REQUIREMENT_FILES.items()}
    out: list[Requirement] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SetupError(f"cannot read {path} ({err.strerror or err}): run install_deps.py from a complete "
                         "checkout or extension") from None
    for number, raw in enumerate(lines, 1):
        line, _, why = raw.partition(" #") if not raw.lstrip().startswith("#") else ("", "", raw)
        line = line.strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            include = path.parent / line.split(None, 1)[1].strip()
            out += parse_requirement_file(include, groups.get(include.name, group), seen)
            continue
        match = _PIN_LINE.match(line)
        if not match:
            raise SetupError(f"{path.name} line {number}: expected `name==version [; marker]`, got {line!r}")
        name, version, marker = match.group(1), match.group(2), match.group(3) or ""
        try:
            evaluate_marker(marker, marker_environment((3, 11)))
        except ValueError as err:
            raise SetupError(f"{path.name} line {number}: {err}") from None
        out.append(Requirement(name, version, IMPORT_NAMES.get(name, name.replace("-", "_")), group, marker,
                               why.strip().lstrip("#").strip(), no_deps))
    return out


def load_requirements(repo: Path = REPO_ROOT) -> tuple[Requirement, ...]:
    """Every pin of every group, in file order (runtime first, its ``--no-deps`` pins right after it)."""
    reqs: list[Requirement] = []
    for group, name in REQUIREMENT_FILES.items():
        reqs += [r for r in parse_requirement_file(repo / name, group) if r.group == group]
        if group == "runtime":
            reqs += parse_requirement_file(repo / NO_DEPS_FILE, group, no_deps=True)
    return tuple(reqs)


def select_requirements(dev: bool, python: tuple[int, int], ray: bool = False,
                        requirements: Optional[tuple[Requirement, ...]] = None
                        ) -> tuple[list[Requirement], list[Requirement]]:
    """(requirements to install for ``python``, extra requirements that have no release for it).

    ``dev`` adds the test and ray groups; ``ray`` the ray group alone.
    """
    requirements = load_requirements() if requirements is None else requirements
    groups = {"runtime"} | ({"test", "ray"} if dev else set()) | ({"ray"} if ray else set())
    chosen, skipped = [], []
    for req in requirements:
        if req.group not in groups:
            continue
        if req.applies(python):
            chosen.append(req)
        elif req.is_extra and not any(r.name == req.name and r.applies(python) for r in requirements):
            skipped.append(req)
    return chosen, skipped


def light_env_requirements(python: tuple[int, int],
                           requirements: Optional[tuple[Requirement, ...]] = None) -> list[Requirement]:
    """The Blender-tests environment for ``python``: numpy from the runtime list plus the test group."""
    requirements = load_requirements() if requirements is None else requirements
    return [r for r in requirements if r.applies(python)
            and (r.group == "test" or (r.group == "runtime" and r.name in LIGHT_ENV_RUNTIME_PINS))]


def bpy_pythons(requirements: Optional[tuple[Requirement, ...]] = None) -> dict[tuple[int, int], str]:
    """{Python version: bpy version} for every bpy pin in the test group (the Blender versions tested)."""
    requirements = load_requirements() if requirements is None else requirements
    out = {}
    for python in SUPPORTED_PYTHONS:
        for req in requirements:
            if req.name == "bpy" and req.applies(python):
                out[python] = req.version
    return out


# ============================================================================ machine detection
@dataclass(frozen=True)
class TorchChoice:
    """Which torch build to install: ``variant`` (cuda/cpu/default), the index (None = PyPI), and why."""

    variant: str
    index_url: Optional[str]
    reason: str


def choose_torch_build(system: str, has_nvidia: bool, force_cpu: bool) -> TorchChoice:
    """Pick the torch build for ``system`` (``platform.system()``). A pure function.

    Linux: PyPI's default wheel is the CUDA build (it also runs on CPU). Windows: PyPI's default is CPU
    only, so an NVIDIA machine gets the official PyTorch CUDA index. macOS: PyPI (CPU + MPS).
    ``force_cpu`` picks the official PyTorch CPU index on Linux/Windows (much smaller download).
    """
    if force_cpu:
        if system in ("Linux", "Windows"):
            return TorchChoice("cpu", f"{PYTORCH_INDEX}/cpu", "--cpu: CPU-only build from the PyTorch index")
        return TorchChoice("cpu", None, "--cpu: PyPI's build for this system is CPU-only already")
    if system == "Linux":
        if has_nvidia:
            return TorchChoice("cuda", None, "NVIDIA driver found: PyPI's Linux build includes CUDA")
        return TorchChoice("default", None, "no NVIDIA driver: PyPI's default build (use --cpu for a smaller one)")
    if system == "Windows" and has_nvidia:
        return TorchChoice("cuda", f"{PYTORCH_INDEX}/{TORCH_CUDA_TAG}", "NVIDIA driver found: PyTorch CUDA index")
    return TorchChoice("default", None, "PyPI's default build for this system")


def has_nvidia_driver(system: Optional[str] = None) -> bool:
    """True if an NVIDIA driver is installed (Linux: /proc/driver/nvidia; Windows/Linux: nvidia-smi)."""
    system = system or platform.system()
    if system == "Linux" and Path("/proc/driver/nvidia/version").exists():
        return True
    if system in ("Linux", "Windows") and shutil.which("nvidia-smi"):
        return True
    if system == "Windows":
        root = os.environ.get("SystemRoot", r"C:\Windows")
        return Path(root, "System32", "nvidia-smi.exe").exists()
    return False


def is_blender_python(executable: str, bpy_module=None) -> bool:
    """True when running on Blender's own Python. A pure function.

    Either we are inside Blender (``bpy`` loaded and not the pip ``bpy`` module, whose ``bpy.app.module``
    is True), or ``executable`` is Blender's bundled interpreter: ``.../<blender>/<X.Y>/python/bin/python*``.
    """
    if bpy_module is not None and not getattr(getattr(bpy_module, "app", None), "module", True):
        return True
    path = PureWindowsPath(executable) if "\\" in executable else PurePosixPath(executable)
    parts = path.parts
    if len(parts) < 5 or not parts[-1].lower().startswith("python"):
        return False
    layout = parts[-2].lower() == "bin" and parts[-3].lower() == "python" and re.fullmatch(r"\d+\.\d+", parts[-4])
    return bool(layout) and any("blender" in p.lower() for p in parts[:-4])


def blender_online_access(bpy_module) -> Optional[bool]:
    """Blender's "Allow Online Access" preference, or None when not inside Blender."""
    if bpy_module is None or getattr(bpy_module.app, "module", True):
        return None
    return bool(getattr(bpy_module.app, "online_access", True))


# ============================================================================ where the environment lives
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


# ============================================================================ stamp (idempotency)
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


# ============================================================================ progress and errors
class SetupError(Exception):
    """A failure the user can act on: ``str(err)`` is the one line saying what to do."""


class Reporter:
    """Progress for people (plain lines) or for the add-on (``--json``: one JSON object per line)."""

    def __init__(self, json_mode: bool = False, stream=None):
        self.json_mode = json_mode
        self.stream = stream or sys.stdout
        self._last_progress = 0.0
        self._open_line = False  # a "\r" progress line waits for its newline

    def stage(self, stage: str, fraction: Optional[float], message: str) -> None:
        if self.json_mode:
            line = json.dumps({"stage": stage, "fraction": fraction, "message": message})
        else:
            line = message if stage not in ("warning", "error") else f"{stage}: {message}"
        self._close_line()
        self.stream.write(line + "\n")
        self.stream.flush()

    def _close_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def warn(self, message: str) -> None:
        self.stage("warning", None, message)

    def fail(self, message: str) -> None:
        """The final one-line error: a JSON ``error`` stage, or ``error: ...`` on stderr."""
        if self.json_mode:
            self.stage("error", None, message)
        else:
            self._close_line()
            self.stream.flush()
            sys.stderr.write(f"error: {message}\n")

    def progress(self, stage: str, fraction: Optional[float], message: str) -> None:
        """A frequent update (downloads): throttled to about two per second."""
        now = time.monotonic()
        if now - self._last_progress < 0.5 and fraction not in (None, 1.0):
            return
        self._last_progress = now
        if self.json_mode or not self.stream.isatty():
            self.stage(stage, fraction, message)
        else:
            self.stream.write("\r" + message.ljust(70))
            self._open_line = True
            if fraction == 1.0:
                self._close_line()
            self.stream.flush()

    def passthrough(self, line: str) -> None:
        """Output of a tool we run (pip): to stdout for people, to stderr in JSON mode."""
        (sys.stderr if self.json_mode else self.stream).write(line)


# ============================================================================ creating and filling the env
def create_env(env_dir: Path, reporter: Reporter) -> None:
    """``python -m venv env_dir``; if this Python has no ensurepip, bootstrap pip from the host's pip."""
    reporter.stage("env", 0.02, f"creating the Python environment in {env_dir}")
    done = subprocess.run([sys.executable, "-m", "venv", str(env_dir)], capture_output=True, text=True)
    if done.returncode == 0 and env_python(env_dir).exists():
        return
    output = (done.stdout + done.stderr).strip()
    if "ensurepip" not in output:
        raise SetupError(f"could not create a virtual environment with {sys.executable} ({_last_line(output)}); "
                         "run this script with another Python 3.11-3.13, e.g. `python3.11 install_deps.py`")
    reporter.warn("this Python has no ensurepip; creating the environment without pip and bootstrapping it")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], capture_output=True)
    wheel_dir = env_dir / "pip-bootstrap"
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                          "-d", str(wheel_dir), "pip"], capture_output=True, text=True)
    wheels = sorted(wheel_dir.glob("pip-*.whl"))
    if got.returncode != 0 or not wheels:
        raise SetupError(f"{sys.executable} has neither ensurepip nor pip: on Debian/Ubuntu run "
                         "`sudo apt-get install python3-venv`, in Blender use a system Python 3.11 instead")
    boot = subprocess.run([str(env_python(env_dir)), str(wheels[-1] / "pip"), "install", "--no-index",
                           str(wheels[-1])], capture_output=True, text=True)
    shutil.rmtree(wheel_dir, ignore_errors=True)
    if boot.returncode != 0:
        raise SetupError(f"could not install pip into {env_dir} ({_last_line(boot.stdout + boot.stderr)}); "
                         f"delete {env_dir} and run again")


def pip_commands(python: Path, requirements: list[Requirement], choice: TorchChoice, offline: bool) -> list[list[str]]:
    """The pip invocations that install ``requirements`` (pure; ``<env python> -m pip`` always).

    With a PyTorch index, torch/torchvision come from it first; the second call then finds them
    installed (``2.15.0+cpu`` satisfies ``==2.15.*``) and takes everything else from PyPI. The ``no_deps``
    pins come last, in a call of their own with ``--no-deps`` (their real needs are among the others).
    """
    base = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if offline:
        base.append("--no-index")
    commands = []
    if choice.index_url and not offline:
        torch_pins = [r.pin for r in requirements if r.name in ("torch", "torchvision")]
        commands.append(base + ["--index-url", choice.index_url] + torch_pins)
    commands.append(base + [r.pin for r in requirements if not r.no_deps])
    no_deps = [r.pin for r in requirements if r.no_deps]
    if no_deps:
        commands.append(base + ["--no-deps"] + no_deps)
    return commands


def run_pip(command: list[str], reporter: Reporter, fraction: float, offline: bool = False) -> None:
    """Run one pip command, streaming its output; a failure becomes one line saying what to do."""
    reporter.stage("pip", fraction, "pip install " + " ".join(a for a in command[4:] if not a.startswith("--")))
    env = dict(os.environ, PIP_NO_INPUT="1")
    tail: collections.deque = collections.deque(maxlen=60)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            errors="replace")
    assert proc.stdout is not None
    for line in proc.stdout:
        tail.append(line)
        reporter.passthrough(line)
        if reporter.json_mode and line.startswith(("Collecting ", "Installing collected")):
            reporter.stage("pip", fraction, line.strip()[:200])
    if proc.wait() != 0:
        index = command[command.index("--index-url") + 1] if "--index-url" in command else None
        raise SetupError(explain_pip_failure("".join(tail), offline, index))


_NETWORK_ERRORS = ("failed to establish", "name or service not known", "name resolution", "connection refused",
                   "timed out", "network is unreachable", "proxyerror", "connectionerror", "sslerror",
                   "certificate verify failed")


def explain_pip_failure(output: str, offline: bool = False, index_url: Optional[str] = None,
                        python_version: Optional[tuple[int, int]] = None) -> str:
    """One line for a failed pip run, from the end of its output (a pure function)."""
    text = output.lower()
    major, minor = python_version or sys.version_info[:2]
    python = f"{major}.{minor}"
    if offline:
        return ("offline, and the pinned packages are not all available locally: run install_deps.py once with "
                "internet access (in Blender: allow online access)")
    if any(s in text for s in _NETWORK_ERRORS):
        if index_url:
            return (f"pip cannot reach {index_url} (the official PyTorch index): allow access to it, or drop "
                    "--cpu to take torch from PyPI")
        return ("pip cannot reach the package index (no internet, or a proxy is needed: set HTTPS_PROXY); "
                "fix the connection and run the same command again")
    if "no space left" in text:
        return "the disk is full (the environment needs up to ~7 GB): free space or use --env-cache DIR elsewhere"
    if any(s in text for s in ("no matching distribution", "could not find a version")):
        if python not in ("3.11", "3.13"):
            return (f"a pinned package has no build for Python {python} on this system (see the pip output "
                    "above): use Python 3.11 or 3.13, e.g. `python3.11 install_deps.py`")
        return (f"a pinned package has no build for {platform.system()} {platform.machine()} on the package "
                "index (see the pip output above); please report it")
    return (f"pip failed ({_last_line(output)}); see the pip output above, fix the cause and run the same "
            "command again")


# ============================================================================ verification
VERIFY_SCRIPT = r"""
import importlib, importlib.metadata as md, json, sys
spec = json.loads(sys.argv[1])
out = {"python": sys.version.split()[0], "executable": sys.executable, "packages": {}, "problems": []}
for req in spec:
    try:
        version = md.version(req["name"])
    except md.PackageNotFoundError:
        out["problems"].append(req["name"] + " is not installed")
        continue
    out["packages"][req["name"]] = version
    public, want = version.split("+")[0], req["version"]
    ok = public.startswith(want[:-1]) if want.endswith(".*") else public == want
    if not ok:
        out["problems"].append("%s %s is installed but %s is pinned" % (req["name"], version, want))
    try:
        importlib.import_module(req["module"])
    except Exception as err:
        out["problems"].append("import %s failed: %s: %s" % (req["module"], type(err).__name__, str(err).strip()[:200]))
torch = sys.modules.get("torch")
if torch is not None:
    cuda = {"built_with": torch.version.cuda, "available": bool(torch.cuda.is_available())}
    if cuda["available"]:
        cuda["device"] = torch.cuda.get_device_name(0)
    out["cuda"] = cuda
print("TCMR_VERIFY " + json.dumps(out))
"""


def verify_env(python: Path, requirements: list[Requirement]) -> dict:
    """Import every requirement with the environment's Python; versions, problems and CUDA state.

    Returns the report dict (``problems`` empty when all is well).
    """
    if not python.exists():
        return {"problems": [f"no Python at {python}"], "packages": {}}
    spec = json.dumps([{"name": r.name, "version": r.version, "module": r.module} for r in requirements])
    env = dict(os.environ, YOLO_OFFLINE="1", PYTHONNOUSERSITE="1")
    try:
        done = subprocess.run([str(python), "-c", VERIFY_SCRIPT, spec], capture_output=True, text=True,
                              timeout=VERIFY_TIMEOUT_S, env=env, cwd=str(REPO_ROOT), errors="replace")
    except subprocess.TimeoutExpired:
        return {"problems": [f"importing the packages took over {VERIFY_TIMEOUT_S} s"], "packages": {}}
    for line in done.stdout.splitlines():
        if line.startswith("TCMR_VERIFY "):
            return json.loads(line[len("TCMR_VERIFY "):])
    return {"problems": [f"the environment's Python failed: {_last_line(done.stderr or done.stdout)}"],
            "packages": {}}


def describe_verify(report: dict, want_cuda: bool) -> tuple[str, list[str]]:
    """(summary line, warnings) for a successful verification report."""
    pk = report.get("packages", {})
    names = ("torch", "torchvision", "numpy", "opencv-python", "ultralytics", "smplx", "mediapipe", "bpy")
    versions = ", ".join(f"{n} {pk[n]}" for n in names if n in pk)
    cuda = report.get("cuda") or {}
    warnings = []
    if cuda.get("available"):
        device = f"CUDA works ({cuda.get('device')})"
    else:
        device = "CPU only"
        if want_cuda:
            warnings.append("an NVIDIA driver is installed but torch cannot use CUDA "
                            f"(torch built for CUDA {cuda.get('built_with')}); update the NVIDIA driver, "
                            "or run on the CPU (slower)")
    return f"environment ready: Python {report.get('python')}, {versions}; {device}", warnings


# ============================================================================ downloads
class DownloadError(Exception):
    """A download did not complete; the message says why (the ``.part`` file is kept for resuming)."""


def reachability_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> Optional[str]:
    """Why ``url``'s host (or the configured proxy) cannot be reached, or None if a TCP connect works."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or host, proxy_parts.port or 80
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.timeout:
        return f"cannot reach {host}:{port} (no answer within {timeout:.0f} s)"
    except OSError as err:
        return f"cannot reach {host}:{port} ({err.strerror or err})"


def reachability_problems(urls: list[str], timeout: float = CONNECT_TIMEOUT_S) -> dict[str, str]:
    """{url: problem} for the URLs that cannot be reached, all checked at once in at most ~``timeout`` s
    (threads, because a hanging DNS lookup is not bounded by the socket timeout)."""
    results: dict[str, Optional[str]] = {}

    def probe(url: str) -> None:
        results[url] = reachability_problem(url, timeout)

    threads = [threading.Thread(target=probe, args=(u,), daemon=True) for u in dict.fromkeys(urls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {u: results.get(u) or f"cannot reach {urllib.parse.urlsplit(u).hostname} (no answer within "
            f"{timeout:.0f} s)" for u in dict.fromkeys(urls) if results.get(u, "pending") is not None}


def download(url: str, part: Path, progress: Optional[Callable[[int, Optional[int]], None]] = None,
             timeout: float = DOWNLOAD_TIMEOUT_S, chunk_size: int = 1 << 20) -> int:
    """Download ``url`` into ``part``, resuming from what ``part`` already holds (HTTP Range).

    Returns the number of bytes in the complete file. Raises :class:`DownloadError` (``part`` kept, so
    running again resumes) on network errors, stalls, HTML pages instead of files, or short transfers.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "tcmr-mocap-install_deps/1", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: complete if the sizes agree
            total = _content_range_total(err.headers.get("Content-Range", ""))
            if total == have:
                return have
            part.unlink()
            return download(url, part, progress, timeout, chunk_size)
        raise DownloadError(f"the server answered HTTP {err.code} ({err.reason})") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or repr(err)
        raise DownloadError(f"cannot connect ({reason})") from None
    with response:
        if response.headers.get("Content-Type", "").startswith("text/html"):
            raise DownloadError("the server sent an HTML page instead of the file (download quota exceeded, "
                                "or a sign-in/confirmation page)")
        length = response.headers.get("Content-Length")
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise DownloadError(f"the server resumed at byte {start}, not {have}; delete {part} and retry")
            total = _content_range_total(response.headers.get("Content-Range", ""))
            mode = "ab"
        else:  # 200: the server sends everything (it ignored or does not support Range)
            have, mode = 0, "wb"
            total = int(length) if length and length.isdigit() else None
        done = have
        try:
            with open(part, mode) as fh:
                while True:
                    data = response.read(chunk_size)
                    if not data:
                        break
                    fh.write(data)
                    done += len(data)
                    if progress:
                        progress(done, total)
        except (socket.timeout, TimeoutError):
            raise DownloadError(f"the transfer stalled (no data for {timeout:.0f} s)") from None
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"the transfer broke off ({getattr(err, 'strerror', None) or err!r})") from None
    if total is not None and done != total:
        raise DownloadError(f"got {done} of {total} bytes")
    return done


def _content_range_start(value: str) -> Optional[int]:
    match = re.match(r"bytes (\d+)-", value)
    return int(match.group(1)) if match else None


def _content_range_total(value: str) -> Optional[int]:
    match = re.search(r"/(\d+)\s*$", value)
    return int(match.group(1)) if match else None


# ============================================================================ model files
def _assets():
    """``core.assets``' model table and checks (standard library at import): the only place that knows the model
    files. Returns (table, checks)."""
    try:
        from core.assets import checks, table
    except ImportError as err:
        raise SetupError(f"cannot import core.assets from {REPO_ROOT} ({err}); run install_deps.py from the "
                         "repository folder it came with") from None
    return table, checks


class Validator:
    """Checks model files by content with the environment's Python (``-m core.assets validate``); before
    the environment exists it falls back to the cheap standard-library check."""

    def __init__(self, python: Optional[Path], reporter: Reporter):
        self.python = python if python is not None and python.exists() else None
        self.reporter = reporter

    def problems(self, files: list[tuple[str, Path]]) -> dict[Path, Optional[str]]:
        """Map each path to a one-line problem (None = valid)."""
        if not files:
            return {}
        table, checks = _assets()
        results: dict[Path, Optional[str]] = {}
        rows = self._run_env_check(files) if self.python else None
        for role, path in files:
            row = (rows or {}).get(str(path))
            if row is not None and row["status"] in ("ok", "invalid", "missing"):
                results[path] = None if row["status"] == "ok" else row["message"]
                continue
            problem = checks.quick_check(role, path)
            name = table.MODEL_FILES[role].file_name
            results[path] = f"{path} is not a valid {name}: {problem}" if problem else None
        return results

    def _run_env_check(self, files: list[tuple[str, Path]]) -> Optional[dict[str, dict]]:
        command = [str(self.python), "-m", "core.assets", "validate", "--json"]
        for role, path in files:
            command += ["--file", f"{role}={path}"]
        done = subprocess.run(command, capture_output=True, text=True, cwd=str(REPO_ROOT), errors="replace")
        rows = {}
        for line in done.stdout.splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                rows[row["path"]] = row
        if not rows:
            self.reporter.warn("content check unavailable (" + _last_line(done.stderr) + "); checked headers only")
            return None
        return rows


def _archive_name(member: str) -> str:
    """``base_data/tcmr_demo_model.pth.tar`` -> ``base_data.zip``."""
    return PurePosixPath(member).parts[0] + ".zip"


def _extract_member(archive: Path, file_name: str, target: Path) -> bool:
    """Copy the member whose base name is ``file_name`` out of ``archive`` into ``target``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if PurePosixPath(info.filename).name == file_name and not info.is_dir():
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    return True
    except (zipfile.BadZipFile, OSError):
        return False
    return False


def manual_instructions(specs) -> str:
    """Where to get each file by hand, and the --models-from alternative (part of one error line)."""
    items = []
    for spec in specs:
        if spec.archive_member:
            items.append(f"{spec.file_name} (in {_archive_name(spec.archive_member)} from {spec.url})")
        else:
            items.append(f"{spec.file_name} from {spec.url}")
    return ("download by hand " + "; ".join(items) + ", put them in one folder and run "
            "`python3 install_deps.py --models-from FOLDER` (see models/README.md)")


def download_models(models_dir: Path, validator: Validator, reporter: Reporter, specs=None,
                    connect_timeout: float = CONNECT_TIMEOUT_S, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch every downloadable model file that is missing or invalid, from its official source.

    Fails fast (TCP pre-check) with instructions when a source is unreachable. Downloads resume from
    ``.part`` files; each file is validated before it takes its final name.
    """
    table, _ = _assets()
    if specs is None:
        specs = [s for s in table.MODEL_FILES.values() if s.url]
    models_dir.mkdir(parents=True, exist_ok=True)
    present = [(s.role, models_dir / s.file_name) for s in specs if (models_dir / s.file_name).is_file()]
    problems = validator.problems(present)
    todo = []
    for spec in specs:
        target = models_dir / spec.file_name
        if target.is_file() and problems.get(target) is None:
            reporter.stage("models", None, f"{spec.file_name}: present and valid")
            continue
        if target.is_file():
            reporter.warn(f"{problems[target]}; moving it to {target.name}.invalid and downloading it again")
            os.replace(target, target.with_name(target.name + ".invalid"))
        todo.append(spec)
    if not todo:
        return
    unreachable = reachability_problems([s.url for s in todo], connect_timeout)
    if len(unreachable) == len({s.url for s in todo}):  # no source reachable: fail at once
        raise SetupError(f"{next(iter(unreachable.values()))}: no internet? {manual_instructions(todo)}")
    staging = models_dir / ".downloads"
    failures = []
    for spec in sorted(todo, key=lambda s: s.archive_member is None):  # archives first: they may hold others
        try:
            _fetch_one(spec, models_dir, staging, validator, reporter, timeout, unreachable.get(spec.url))
        except DownloadError as err:
            failures.append(f"{spec.file_name}: {err}")
    if failures:
        raise SetupError("; ".join(failures) + ". Run the same command again to resume, or "
                         + manual_instructions([s for s in todo if not (models_dir / s.file_name).is_file()]))
    shutil.rmtree(staging, ignore_errors=True)


def _fetch_one(spec, models_dir: Path, staging: Path, validator: Validator, reporter: Reporter,
               timeout: float, unreachable: Optional[str] = None) -> None:
    """Get one file: out of an already downloaded archive, else from its source; validate; install."""
    target = models_dir / spec.file_name
    part = target.with_name(target.name + ".part")
    from_archive = False
    for archive in sorted(staging.glob("*.zip")) if staging.is_dir() else []:
        if _extract_member(archive, spec.file_name, part):
            reporter.stage("models", None, f"{spec.file_name}: taken from {archive.name}")
            from_archive = True
            break
    if not from_archive and unreachable:
        raise DownloadError(unreachable)
    if not from_archive and spec.archive_member:
        staging.mkdir(parents=True, exist_ok=True)
        archive = staging / _archive_name(spec.archive_member)
        if not archive.is_file():
            _download_with_progress(spec.url, archive, archive.name, reporter, timeout)
        if not zipfile.is_zipfile(archive):
            archive.unlink()
            raise DownloadError(f"{archive.name} is not a zip (an error page?)")
        if not _extract_member(archive, spec.file_name, part):
            raise DownloadError(f"{archive.name} has no {spec.file_name}")
    elif not from_archive:
        _download_with_progress(spec.url, target, spec.file_name, reporter, timeout, keep_part=True)
    problem = validator.problems([(spec.role, part)]).get(part)
    if problem:
        part.unlink()
        raise DownloadError(f"the downloaded file was refused: {problem}")
    os.replace(part, target)
    reporter.stage("models", None, f"{spec.file_name}: installed")


def _download_with_progress(url: str, target: Path, label: str, reporter: Reporter, timeout: float,
                            keep_part: bool = False) -> None:
    """Download to ``target.part``; rename to ``target`` unless ``keep_part`` (caller validates first)."""
    part = target.with_name(target.name + ".part")
    reporter.stage("download", 0.0, f"downloading {label} from {url}")

    def show(done: int, total: Optional[int]) -> None:
        fraction = done / total if total else None
        amount = f"{done / 1e6:.0f} MB" + (f" of {total / 1e6:.0f} MB" if total else "")
        reporter.progress("download", fraction, f"  {label}: {amount}")

    size = download(url, part, show, timeout=timeout)
    reporter.progress("download", 1.0, f"  {label}: {size / 1e6:.1f} MB done")
    if not keep_part:
        os.replace(part, target)


def find_model_sources(folder: Path) -> dict[str, tuple[Path, Optional[str]]]:
    """Model files in a folder given to ``--models-from``: role -> (path, zip member base name or None).

    Looks for the official names and aliases (e.g. SPIN's ``model_checkpoint.pt``) in ``folder`` and its
    direct subfolders (e.g. an unzipped ``base_data/``), then inside ``*.zip`` files there.
    """
    table, _ = _assets()
    places = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    found: dict[str, tuple[Path, Optional[str]]] = {}
    for role, spec in table.MODEL_FILES.items():
        names = table.SMPL_FILE_NAMES if role == "smpl" else (spec.file_name,) + spec.aliases
        for place in places:
            hit = next((place / n for n in names if (place / n).is_file()), None)
            if hit is not None:
                found[role] = (hit, None)
                break
    for archive in sorted(folder.glob("*.zip")):
        try:
            with zipfile.ZipFile(archive) as zf:
                members = {PurePosixPath(n).name for n in zf.namelist()}
        except (zipfile.BadZipFile, OSError):
            continue
        for role, spec in table.MODEL_FILES.items():
            if role not in found and spec.file_name in members:
                found[role] = (archive, spec.file_name)
    return found


def import_models(source: Path, models_dir: Path, validator: Validator, reporter: Reporter) -> None:
    """Copy (hard-link when possible) the model files found in ``source`` into ``models_dir``.

    Every file is validated by content first; a wrong one is refused (and the run fails with the
    reasons) while the good ones are still imported.
    """
    source = source.expanduser()
    if not source.is_dir():
        raise SetupError(f"--models-from {source}: no such folder; give the folder holding the downloaded files")
    table, _ = _assets()
    found = find_model_sources(source)
    if not found:
        names = ", ".join(s.file_name for s in table.MODEL_FILES.values())
        raise SetupError(f"no model files in {source}: expected some of {names} (see models/README.md)")
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates: list[tuple[str, Path]] = []
    extracted: list[Path] = []
    for role, (path, member) in found.items():
        if member is not None:  # inside a zip: extract next to its target, then check
            part = models_dir / f"{member}.part"
            _extract_member(path, member, part)
            extracted.append(part)
            path = part
        candidates.append((role, path))
    problems = validator.problems(candidates)
    refused = []
    for role, path in candidates:
        spec = table.MODEL_FILES[role]
        name = path.name if role == "smpl" else spec.file_name
        if problems.get(path):
            refused.append(problems[path])
            continue
        target = models_dir / name
        if path in extracted:
            os.replace(path, target)
        elif target.exists() and _same_file(path, target):
            reporter.stage("models", None, f"{name}: already there")
            continue
        else:
            _link_or_copy(path, target)
        reporter.stage("models", None, f"{name}: imported from {source}")
    for part in extracted:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    if refused:
        raise SetupError(f"refused {len(refused)} file(s): " + " | ".join(refused))


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        return a.stat().st_size == b.stat().st_size and _digest(a) == _digest(b)
    except OSError:
        return False


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _link_or_copy(src: Path, target: Path) -> None:
    """Hard-link ``src`` to ``target`` (same disk), else copy; atomic via a ``.part`` name."""
    part = target.with_name(target.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    try:
        os.link(src, part)
    except OSError:
        shutil.copyfile(src, part)
    os.replace(part, target)


def models_summary(models_dir: Path) -> tuple[list[str], list[str]]:
    """(missing required file names, present files with a header problem): cheap, no content check."""
    table, checks = _assets()
    missing, broken = [], []
    for role, spec in table.MODEL_FILES.items():
        path = table.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is None or not path.is_file():
            if spec.required:
                missing.append(spec.file_name)
        elif checks.quick_check(role, path):
            broken.append(f"{path.name}: {checks.quick_check(role, path)}")
    return missing, broken


# ============================================================================ other Pythons
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


def blender_test_env_link(bpy_version: str, repo: Path = REPO_ROOT) -> Path:
    """``<repo>/.venv-bpy5.2``: where the light environment for the bpy ``5.2.x`` tests is linked."""
    return repo / (".venv-bpy" + ".".join(bpy_version.split(".")[:2]))


def setup_blender_test_envs(args, reporter: Reporter, offline: bool) -> list[Path]:
    """``--dev``: a light environment (numpy, bpy, pytest) for each tested Blender whose Python is not the
    one running us, built by running this script with that Python. Returns the links made."""
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
        command = [interpreter, str(Path(__file__).resolve()), "--blender-test-env"]
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


# ============================================================================ launcher
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


# ============================================================================ main
def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="install_deps.py", description="Set up the TCMR Mocap environment and model files.",
        epilog="Without --env, the environment lives in a per-user cache and <repo>/.venv links to it. "
               "Exit codes: 0 done/ready; 1 --check: environment not ready or a model file is wrong; "
               f"2 a problem (one error: line); {EXIT_MODELS_MISSING} --check: environment ready but required "
               "model files are missing; 130 interrupted.")
    parser.add_argument("--dev", action="store_true", help="also the test tools and ray (requirements-dev.txt), and "
                        "a light environment per other tested Blender (bpy) whose Python is found")
    parser.add_argument("--ray", action="store_true", help="also ray, for `python -m core batch --ray`")
    parser.add_argument("--cpu", action="store_true", help="CPU-only torch from the official PyTorch CPU index")
    parser.add_argument("--env", metavar="DIR", help="create a real environment at DIR (no shared cache)")
    parser.add_argument("--env-cache", metavar="DIR", help="folder of the shared environments "
                        "(default: $XDG_CACHE_HOME/tcmr_mocap/envs or ~/.cache/tcmr_mocap/envs)")
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--models", action="store_true", help="download the model files from their sources")
    models.add_argument("--models-from", metavar="DIR", help="import the model files from a folder (offline)")
    parser.add_argument("--models-dir", metavar="DIR", help="where model files go "
                        "(default: $TCMR_MOCAP_MODELS, else <repo>/models)")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--check", action="store_true", help="verify the environment and models; change nothing")
    parser.add_argument("--blender-python", action="append", metavar="X.Y=PATH",
                        help="with --dev: the Python X.Y for another Blender's tests (default: searched for)")
    parser.add_argument("--blender-test-env", action="store_true",
                        help="build only the light environment for the add-on tests on this Python's bpy "
                             "(what --dev runs with each other tested Python)")
    parser.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")
    parser.add_argument("--verbose", action="store_true", help="show a traceback on unexpected errors")
    if argv is None:
        argv = sys.argv[1:]
        if "--" in argv:  # blender -b --python install_deps.py -- ARGS
            argv = argv[argv.index("--") + 1:]
    return parser.parse_args(argv)


EXIT_MODELS_MISSING = 3
BUILDING_MARKER = "tcmr_mocap_building"  # present while pip runs: a half-built environment is never used


def check_python(version: tuple[int, int]) -> None:
    if version not in SUPPORTED_PYTHONS:
        names = ", ".join(f"{v[0]}.{v[1]}" for v in SUPPORTED_PYTHONS[:-1]) + f" or {SUPPORTED_PYTHONS[-1][0]}." \
            f"{SUPPORTED_PYTHONS[-1][1]}"
        raise SetupError(f"Python {version[0]}.{version[1]} is not supported: run this script with Python {names} "
                         "(3.11 for Blender 4.4/5.0, 3.13 for Blender 5.1/5.2), e.g. `python3.11 install_deps.py`")


def env_state(env_dir: Path) -> str:
    """``ready`` (a stamp, no build in progress), ``building`` (an install started and did not finish),
    ``unrecorded`` (a Python but no stamp: made by hand or by an older set-up) or ``missing``."""
    env_dir = Path(env_dir)
    if (env_dir / BUILDING_MARKER).exists():
        return "building"
    if not env_python(env_dir).exists():
        return "missing"
    return "ready" if read_stamp(env_dir) is not None else "unrecorded"


def _wipe_env(env_dir: Path) -> None:
    """Empty an interrupted environment (the lock file we hold stays)."""
    for child in env_dir.iterdir():
        if child.name == "tcmr_mocap_setup.lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


@dataclass(frozen=True)
class EnvPlan:
    """What one environment is: its requirements, the torch build, the ``<repo>`` link name and a label."""

    requirements: list
    choice: TorchChoice
    link_name: str = ".venv"
    kind: str = "runtime"


def plan_runtime(args, reporter: Reporter) -> EnvPlan:
    requirements, skipped = select_requirements(args.dev, sys.version_info[:2], ray=args.ray)
    for name in dict.fromkeys(r.name for r in skipped):
        pins = [r for r in skipped if r.name == name]
        where = ", ".join(f"{r.version} needs {r.marker.replace('python_version == ', 'Python ').replace(chr(34), '')}"
                          for r in pins)
        reporter.warn(f"{name} has no release for Python {sys.version_info[0]}.{sys.version_info[1]} ({where}); "
                      f"skipping it, so its tests run only in the environments that have it")
    choice = choose_torch_build(platform.system(), has_nvidia_driver(), args.cpu)
    return EnvPlan(requirements, choice)


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


def setup_environment(args, reporter: Reporter, offline: bool, plan: EnvPlan) -> tuple[Path, dict]:
    """Create or update the environment as needed; return (its python, verification report)."""
    python_version = sys.version_info[:2]
    requirements, choice = plan.requirements, plan.choice
    key = env_key(requirements, choice, python_version)
    if plan.kind != "runtime":
        key = hashlib.sha256(f"{plan.kind}:{key}".encode()).hexdigest()
    layout = plan_env_layout(key, python_version, args.env, args.env_cache, link_name=plan.link_name,
                             tag="" if plan.kind == "runtime" else "-" + plan.kind)
    python = env_python(layout.env_dir)
    if args.check:  # check what <repo>/.venv points to now, even if it was built with other options
        env_dir = Path(os.path.realpath(layout.link)) if layout.link and layout.link.exists() else layout.env_dir
        python = env_python(env_dir)
        if env_state(env_dir) == "building":
            return python, {"problems": [f"the set-up of {env_dir} was interrupted (it is half-built)"],
                            "packages": {}}
        report = verify_env(python, requirements)
        stamp = read_stamp(env_dir)
        if not report["problems"] and not stamp_satisfies(stamp, key, dev_key(requirements)):
            reporter.stage("verify", None, "note: packages match, but the environment was not recorded for "
                           "these options (no matching stamp); running install_deps.py will record it")
        return python, report
    reporter.stage("env", 0.0, f"torch build: {choice.variant} ({choice.reason})")
    with env_lock(layout.env_dir, reporter):
        if layout.link is not None and not point_link(layout.link, layout.env_dir):
            raise SetupError(f"cannot make {layout.link} a link to {layout.env_dir}: move {layout.link} away, or "
                             "use --env DIR to build the environment elsewhere")
        if layout.link is not None:
            reporter.stage("env", 0.01, f"{layout.link} -> {layout.env_dir}")
        if env_state(layout.env_dir) == "building":
            reporter.warn(f"an earlier set-up of {layout.env_dir} did not finish; rebuilding it from scratch")
            _wipe_env(layout.env_dir)
        stamp = read_stamp(layout.env_dir)
        if python.exists() and stamp_satisfies(stamp, key, dev_key(requirements)):
            reporter.stage("verify", 0.9, "environment recorded as complete; checking it")
            report = verify_env(python, requirements)
            if not report["problems"]:
                return python, report
            reporter.warn("environment check failed (" + "; ".join(report["problems"][:3]) + "); repairing it")
        (layout.env_dir / BUILDING_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n", encoding="utf-8")
        if not python.exists():
            create_env(layout.env_dir, reporter)
        commands = pip_commands(python, requirements, choice, offline)
        for i, command in enumerate(commands):
            run_pip(command, reporter, 0.1 + 0.7 * i / len(commands), offline)
        reporter.stage("verify", 0.9, "checking the installed packages")
        report = verify_env(python, requirements)
        if report["problems"]:
            raise SetupError("the environment does not work: " + "; ".join(report["problems"][:3])
                             + f"; delete {layout.env_dir} and run install_deps.py again")
        write_stamp(layout.env_dir, make_stamp(key, requirements, choice))
        (layout.env_dir / BUILDING_MARKER).unlink()
        return python, report


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    reporter = Reporter(json_mode=args.json)
    try:
        return _run(args, reporter)
    except SetupError as err:
        reporter.fail(str(err))
        return 2
    except KeyboardInterrupt:
        reporter.fail("interrupted; run the same command again to continue where it stopped")
        return 130
    except Exception as err:  # a bug of ours: still one line, the traceback only with --verbose
        if args.verbose:
            raise
        reporter.fail(f"unexpected {type(err).__name__}: {err}; run again with --verbose and report the traceback")
        return 2


def _run(args, reporter: Reporter) -> int:
    check_python(sys.version_info[:2])
    if args.models_from and not Path(args.models_from).expanduser().is_dir():  # cheap checks first
        raise SetupError(f"--models-from {args.models_from}: no such folder; give the folder holding the "
                         "downloaded model files (see models/README.md)")
    bpy_module = sys.modules.get("bpy")
    offline = args.offline
    if is_blender_python(sys.executable, bpy_module):
        reporter.stage("start", None, f"running on Blender's Python ({sys.executable})")
        if blender_online_access(bpy_module) is False and not offline:
            reporter.stage("start", None, "Blender's \"Allow Online Access\" is off: working offline")
            offline = True
    if args.models and offline and not args.check:
        raise SetupError("--models needs the network but this run is offline (--offline, or Blender's \"Allow "
                         "Online Access\" is off): download the files by hand and use --models-from DIR "
                         "(see models/README.md)")
    if args.blender_test_env:
        python, report = setup_environment(args, reporter, offline, plan_blender_test_env())
        if report["problems"]:
            reporter.stage("error", None, "Blender test environment not ready: " + "; ".join(report["problems"][:3]))
            return 1
        pk = report.get("packages", {})
        reporter.stage("done", 1.0, f"Blender test environment ready: Python {report.get('python')}, "
                       f"bpy {pk.get('bpy')}, numpy {pk.get('numpy')}, pytest {pk.get('pytest')} ({python})")
        return 0
    python, report = setup_environment(args, reporter, offline, plan_runtime(args, reporter))
    if report["problems"]:  # only in --check: setup_environment raises otherwise
        reporter.stage("error", None, "environment not ready: " + "; ".join(report["problems"][:3])
                       + " -- run `python3 install_deps.py" + (" --dev" if args.dev else "") + "`")
        return 1
    summary, warnings = describe_verify(report, has_nvidia_driver() and not args.cpu)
    reporter.stage("verify", 0.92, summary)
    for warning in warnings:
        reporter.warn(warning)
    table, _ = _assets()
    models_dir = table.resolve_models_dir(args.models_dir)
    validator = Validator(python, reporter)
    if args.check:
        return _check_models(models_dir, validator, reporter)
    launcher = write_launcher(python.parent.parent)
    reporter.stage("env", 0.93, f"launcher: {launcher} (runs `python -m core` of {REPO_ROOT} from any folder)")
    if args.dev:
        setup_blender_test_envs(args, reporter, offline)
    if args.models_from:
        import_models(Path(args.models_from), models_dir, validator, reporter)
    if args.models:
        download_models(models_dir, validator, reporter)
    missing, broken = models_summary(models_dir)
    for problem in broken:
        reporter.warn(f"model file {problem}")
    if missing:
        reporter.stage("models", None, f"models: {', '.join(missing)} missing in {models_dir}: "
                       + _how_to_fill(models_dir, args.models_dir))
    else:
        reporter.stage("models", None, f"models: all required files present in {models_dir}")
    reporter.stage("done", 1.0, "done")
    return 0


def _how_to_fill(models_dir: Path, given: Optional[str]) -> str:
    """The command that fills ``models_dir`` (names the folder when it is not the default one)."""
    where = f" --models-dir {given}" if given else ""
    return (f"run `python3 install_deps.py --models{where}` or `--models-from FOLDER{where}` "
            "(see models/README.md)")


def _check_models(models_dir: Path, validator: Validator, reporter: Reporter) -> int:
    """``--check``: validate the model files present. Exit 0 all there and valid; 1 a file is invalid;
    EXIT_MODELS_MISSING (3) the environment is ready but required files are missing."""
    table, _ = _assets()
    files, missing = [], []
    for role, spec in table.MODEL_FILES.items():
        path = table.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is not None and path.is_file():
            files.append((role, path))
        elif spec.required:
            missing.append(spec.file_name)
            reporter.stage("models", None, table.missing_message(role, models_dir))
    problems = validator.problems(files)
    for role, path in files:
        reporter.stage("models", None, f"{path.name}: {'ok' if not problems[path] else problems[path]}")
    if any(problems.values()):
        reporter.stage("done", 1.0, "check failed: invalid model files")
        return 1
    if missing:
        reporter.stage("done", 1.0, f"environment ready; model files missing: {', '.join(missing)} in {models_dir} "
                       f"(exit code {EXIT_MODELS_MISSING})")
        return EXIT_MODELS_MISSING
    reporter.stage("done", 1.0, "check passed")
    return 0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


if __name__ == "__main__":
    sys.exit(main())
