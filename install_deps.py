#!/usr/bin/env python3
"""Set up TCMR Mocap: the Python environment with the pinned packages, and the model files.

Standard library only: it runs before anything is installed, with any Python 3.10-3.12, including the
one bundled with Blender. Typical use::

    python3 install_deps.py                          # environment at <repo>/.venv (a link, see below)
    python3 install_deps.py --dev                    # + bpy and pytest, to run the tests
    python3 install_deps.py --models                 # + download the model files from their sources
    python3 install_deps.py --models-from ~/Downloads/tcmr-models   # + import them (offline)
    python3 install_deps.py --check                  # verify only, change nothing

Where the environment lives: the real environment is kept in a per-user cache keyed by a hash of the
requirement list and the options (``~/.cache/tcmr_mocap/envs/py3.11-<hash>``, honouring
``$XDG_CACHE_HOME``; ``--env-cache DIR`` overrides) and ``<repo>/.venv`` is a symbolic link to it, so a
second clone on the same machine is ready in seconds. ``--env DIR`` builds a real environment at DIR
instead (the Blender add-on does this in its user directory). A ``<repo>/.venv`` that is already a real
environment is used in place.

Idempotent: a stamp file inside the environment records the hash; when it matches and the import check
passes, pip is not run at all. Every failure ends with one line saying what to do and a non-zero exit
(2; ``--check`` exits 1 when the environment is not ready). ``--json`` writes progress as one JSON object
per line on stdout: ``{"stage": ..., "fraction": 0.0-1.0 or null, "message": ...}``.
"""

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
SUPPORTED_PYTHON = ((3, 10), (3, 12))  # numpy 1.26.4 (pinned for bpy) has wheels for 3.9-3.12
STAMP_NAME = "tcmr_mocap_setup.json"
STAMP_FORMAT = 1
PYTORCH_INDEX = "https://download.pytorch.org/whl"
TORCH_CUDA_TAG = "cu132"  # the CUDA the pinned torch is built for on PyPI (torch.version.cuda == "13.2")
CONNECT_TIMEOUT_S = 10.0  # reachability pre-check before any download
DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation: a stalled transfer stops, the .part file is kept
VERIFY_TIMEOUT_S = 600


# ============================================================================ the requirement list
@dataclass(frozen=True)
class Requirement:
    """One pinned package. ``version`` is exact or a ``X.Y.*`` series; ``module`` is what we import to
    check it; ``group`` is ``runtime`` or ``dev``; ``python`` limits it to one Python version."""

    name: str
    version: str
    module: str
    group: str = "runtime"
    python: Optional[tuple[int, int]] = None
    why: str = ""

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


# THE list of requirements (one place; the tests check its sanity).
REQUIREMENTS = (
    Requirement("torch", "2.15.*", "torch", why="network; torchvision must be the matching 0.29.x"),
    Requirement("torchvision", "0.29.*", "torchvision", why="ultralytics needs it, matched to torch"),
    Requirement("numpy", "1.26.4", "numpy", why="<2: bpy 5.0.1 (and Blender) are built against numpy 1.x"),
    Requirement("opencv-python", "4.11.0.86", "cv2", why="video decoding; 4.12+ needs numpy 2"),
    Requirement("smplx", "0.1.28", "smplx", why="SMPL body (0.1.13 breaks on torch 2)"),
    Requirement("ultralytics", "8.4.190", "ultralytics", why="YOLO person detector + ByteTrack"),
    Requirement("lap", "0.5.13", "lap", why="ultralytics' trackers use it for assignment"),
    Requirement("scipy", "1.17.1", "scipy", why="ultralytics/smplx helpers; supports numpy 1.26.4"),
    Requirement("bpy", "5.0.1", "bpy", group="dev", python=(3, 11), why="Blender as a module, for tests"),
    Requirement("pytest", "9.2.0", "pytest", group="dev", why="test runner"),
)


def select_requirements(dev: bool, python: tuple[int, int]) -> tuple[list[Requirement], list[Requirement]]:
    """(requirements to install, dev requirements skipped on this Python)."""
    chosen, skipped = [], []
    for req in REQUIREMENTS:
        if req.group == "dev" and not dev:
            continue
        (chosen if req.python in (None, python) else skipped).append(req)
    return chosen, skipped


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
        "pins": sorted(r.pin for r in requirements if r.group == "runtime"),
        "torch": [choice.variant, choice.index_url],
        "python": list(python),
        "platform": [platform.system(), platform.machine()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def dev_key(requirements: list[Requirement]) -> Optional[str]:
    """Hash of the dev extras installed on top (None when there are none)."""
    pins = sorted(r.pin for r in requirements if r.group == "dev")
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
                    repo: Path = REPO_ROOT) -> EnvLayout:
    """Where the environment goes (see the module docstring). Creates nothing."""
    if env:
        return EnvLayout(Path(env).expanduser().absolute(), None)
    link = repo / ".venv"
    if link.is_dir() and not is_link(link):
        return EnvLayout(link, None)  # a real environment already there: use it in place
    cache = Path(env_cache).expanduser().absolute() if env_cache else default_env_cache()
    return EnvLayout(cache / f"py{python[0]}.{python[1]}-{key[:12]}", link)


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
                         "run this script with another Python 3.10-3.12, e.g. `python3.11 install_deps.py`")
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
    installed (``2.15.0+cpu`` satisfies ``==2.15.*``) and takes everything else from PyPI.
    """
    base = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    if offline:
        base.append("--no-index")
    commands = []
    if choice.index_url and not offline:
        torch_pins = [r.pin for r in requirements if r.name in ("torch", "torchvision")]
        commands.append(base + ["--index-url", choice.index_url] + torch_pins)
    commands.append(base + [r.pin for r in requirements])
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
        if python != "3.11":
            return (f"a pinned package has no build for Python {python} on this system (see the pip output "
                    "above): use Python 3.11, e.g. `python3.11 install_deps.py`")
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
    names = ("torch", "torchvision", "numpy", "opencv-python", "ultralytics", "smplx", "bpy")
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
    """``core.assets`` (standard library at import); the only place that knows the model files."""
    try:
        from core import assets
    except ImportError as err:
        raise SetupError(f"cannot import core.assets from {REPO_ROOT} ({err}); run install_deps.py from the "
                         "repository folder it came with") from None
    return assets


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
        assets = _assets()
        results: dict[Path, Optional[str]] = {}
        rows = self._run_env_check(files) if self.python else None
        for role, path in files:
            row = (rows or {}).get(str(path))
            if row is not None and row["status"] in ("ok", "invalid", "missing"):
                results[path] = None if row["status"] == "ok" else row["message"]
                continue
            problem = assets.quick_check(role, path)
            name = assets.MODEL_FILES[role].file_name
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
    assets = _assets()
    if specs is None:
        specs = [s for s in assets.MODEL_FILES.values() if s.url]
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
    assets = _assets()
    places = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    found: dict[str, tuple[Path, Optional[str]]] = {}
    for role, spec in assets.MODEL_FILES.items():
        names = assets.SMPL_FILE_NAMES if role == "smpl" else (spec.file_name,) + spec.aliases
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
        for role, spec in assets.MODEL_FILES.items():
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
    assets = _assets()
    found = find_model_sources(source)
    if not found:
        names = ", ".join(s.file_name for s in assets.MODEL_FILES.values())
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
        spec = assets.MODEL_FILES[role]
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
    assets = _assets()
    missing, broken = [], []
    for role, spec in assets.MODEL_FILES.items():
        path = assets.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is None or not path.is_file():
            if spec.required:
                missing.append(spec.file_name)
        elif assets.quick_check(role, path):
            broken.append(f"{path.name}: {assets.quick_check(role, path)}")
    return missing, broken


# ============================================================================ main
def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="install_deps.py", description="Set up the TCMR Mocap environment and model files.",
        epilog="Without --env, the environment lives in a per-user cache and <repo>/.venv links to it.")
    parser.add_argument("--dev", action="store_true", help="also install bpy (Python 3.11 only) and pytest")
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
    parser.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")
    parser.add_argument("--verbose", action="store_true", help="show a traceback on unexpected errors")
    if argv is None:
        argv = sys.argv[1:]
        if "--" in argv:  # blender -b --python install_deps.py -- ARGS
            argv = argv[argv.index("--") + 1:]
    return parser.parse_args(argv)


def check_python(version: tuple[int, int]) -> None:
    low, high = SUPPORTED_PYTHON
    if not (low <= version <= high):
        raise SetupError(f"Python {version[0]}.{version[1]} is not supported (the pinned numpy 1.26.4 needs "
                         f"{low[0]}.{low[1]}-{high[0]}.{high[1]}): run this script with Python 3.11, e.g. "
                         "`python3.11 install_deps.py`")


def setup_environment(args, reporter: Reporter, offline: bool) -> tuple[Path, dict]:
    """Create or update the environment as needed; return (its python, verification report)."""
    python_version = sys.version_info[:2]
    requirements, skipped = select_requirements(args.dev, python_version)
    for req in skipped:
        reporter.warn(f"{req.name}=={req.version} exists only for Python {req.python[0]}.{req.python[1]}; "
                      f"skipping it, so the Blender tests will be skipped")
    nvidia = has_nvidia_driver()
    choice = choose_torch_build(platform.system(), nvidia, args.cpu)
    key = env_key(requirements, choice, python_version)
    layout = plan_env_layout(key, python_version, args.env, args.env_cache)
    python = env_python(layout.env_dir)
    if args.check:  # check what <repo>/.venv points to now, even if it was built with other options
        env_dir = Path(os.path.realpath(layout.link)) if layout.link and layout.link.exists() else layout.env_dir
        python = env_python(env_dir)
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
        stamp = read_stamp(layout.env_dir)
        if python.exists() and stamp_satisfies(stamp, key, dev_key(requirements)):
            reporter.stage("verify", 0.9, "environment recorded as complete; checking it")
            report = verify_env(python, requirements)
            if not report["problems"]:
                return python, report
            reporter.warn("environment check failed (" + "; ".join(report["problems"][:3]) + "); repairing it")
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
    python, report = setup_environment(args, reporter, offline)
    if report["problems"]:  # only in --check: setup_environment raises otherwise
        reporter.stage("error", None, "environment not ready: " + "; ".join(report["problems"][:3])
                       + " -- run `python3 install_deps.py" + (" --dev" if args.dev else "") + "`")
        return 1
    summary, warnings = describe_verify(report, has_nvidia_driver() and not args.cpu)
    reporter.stage("verify", 0.92, summary)
    for warning in warnings:
        reporter.warn(warning)
    assets = _assets()
    models_dir = assets.resolve_models_dir(args.models_dir)
    validator = Validator(python, reporter)
    if args.check:
        return _check_models(models_dir, validator, reporter)
    if args.models_from:
        import_models(Path(args.models_from), models_dir, validator, reporter)
    if args.models:
        download_models(models_dir, validator, reporter)
    missing, broken = models_summary(models_dir)
    for problem in broken:
        reporter.warn(f"model file {problem}")
    if missing:
        reporter.stage("models", None, f"models: {', '.join(missing)} missing in {models_dir}: run "
                       "`python3 install_deps.py --models` or --models-from DIR (see models/README.md)")
    else:
        reporter.stage("models", None, f"models: all required files present in {models_dir}")
    reporter.stage("done", 1.0, "done")
    return 0


def _check_models(models_dir: Path, validator: Validator, reporter: Reporter) -> int:
    """``--check``: validate the model files present; missing ones are reported but do not fail."""
    assets = _assets()
    files = []
    for role, spec in assets.MODEL_FILES.items():
        path = assets.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is not None and path.is_file():
            files.append((role, path))
        elif spec.required:
            reporter.stage("models", None, assets.missing_message(role, models_dir))
    problems = validator.problems(files)
    for role, path in files:
        reporter.stage("models", None, f"{path.name}: {'ok' if not problems[path] else problems[path]}")
    invalid = [p for p in problems.values() if p]
    reporter.stage("done", 1.0, "check failed: invalid model files" if invalid else "check passed")
    return 1 if invalid else 0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


if __name__ == "__main__":
    sys.exit(main())
