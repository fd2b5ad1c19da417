"""Filling an environment with pip and checking it: creating the venv, the pip commands (PyTorch's index first
when one is needed, the ``--no-deps`` pins last), a failed pip run as one line, and importing every pinned package
with the environment's own Python."""

from __future__ import annotations

import collections
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from .envs import env_python
from .machine import TorchChoice
from .pins import REPO_ROOT, Requirement
from .report import Reporter, SetupError, last_line

VERIFY_TIMEOUT_S = 600


def create_env(env_dir: Path, reporter: Reporter) -> None:
    """``python -m venv env_dir``; if this Python has no ensurepip, bootstrap pip from the host's pip."""
    reporter.stage("env", 0.02, f"creating the Python environment in {env_dir}")
    done = subprocess.run([sys.executable, "-m", "venv", str(env_dir)], capture_output=True, text=True)
    if done.returncode == 0 and env_python(env_dir).exists():
        return
    output = (done.stdout + done.stderr).strip()
    if "ensurepip" not in output:
        raise SetupError(f"could not create a virtual environment with {sys.executable} ({last_line(output)}); "
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
        raise SetupError(f"could not install pip into {env_dir} ({last_line(boot.stdout + boot.stderr)}); "
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
    return (f"pip failed ({last_line(output)}); see the pip output above, fix the cause and run the same "
            "command again")


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
    return {"problems": [f"the environment's Python failed: {last_line(done.stderr or done.stdout)}"],
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
