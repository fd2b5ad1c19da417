"""The prepared run for the lent GPU machine (bench/device_wheels.sh fetches what its image lacks,
bench/device_check.sh runs the CUDA tests and the GPU benchmark): both parse, the wheels are the runtime's pins,
and the check script runs here with no steps, writing the machine's description."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = [REPO / "bench" / "device_wheels.sh", REPO / "bench" / "device_check.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse(script):
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0


def test_wheels_are_the_runtime_pins():
    listed = subprocess.run(["bash", str(SCRIPTS[0]), "--list"], capture_output=True, text=True, check=True)
    wanted = dict(line.split("==") for line in listed.stdout.split())
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", (REPO / "requirements.txt").read_text(), re.M))
    for name in ("smplx", "ultralytics", "lap"):
        assert wanted[name] == pins[name]
    for helper in ("ultralytics-thop", "ultralytics-platform"):  # not pinned: what this environment resolved
        try:
            assert wanted[helper] == importlib.metadata.version(helper)
        except importlib.metadata.PackageNotFoundError:
            assert helper in wanted


def test_check_script_runs_here_without_steps(tmp_path):
    pytest.importorskip("ultralytics")
    pytest.importorskip("smplx")
    (tmp_path / "no_wheels").mkdir()
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable, STEPS="none", WHEELS=str(tmp_path / "no_wheels"))
    done = subprocess.run(["bash", str(SCRIPTS[1])], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "machine.txt").read_text()
    assert "torch " in text and "ultralytics" in text and "CPU cores:" in text
