"""core.runtime.allocator: freed large blocks kept for reuse (no fresh page faults per batch), the opt-out, the
loaders."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from core.runtime import allocator

REPO = Path(__file__).resolve().parents[2]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# mallocs and touches a 64 MB block, frees it, and does it again (glibc itself, as torch's CPU allocator uses it;
# numpy would madvise huge pages): the page faults of the later rounds
PROBE = r"""
import ctypes, json, resource, sys
sys.path.insert(0, sys.argv[1])
from core.runtime import allocator
state = allocator.keep_freed_memory(None if sys.argv[2] == "env" else sys.argv[2] == "keep")
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 64 * 1024 * 1024
def block():  # malloc, touch every page, free (what a batch's activations do)
    p = libc.malloc(SIZE)
    ctypes.memset(p, 1, SIZE)
    libc.free(p)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
block()
before = faults()
for _ in range(3):
    block()
print(json.dumps({"keeping": state, "faults_per_round": (faults() - before) / 3}))
"""

PAGES = 64 * 1024 * 1024 // 4096


def probe(mode: str, env=None) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(REPO), mode], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="glibc only (elsewhere keep_freed_memory does nothing)")
def test_kept_memory_is_reused_without_page_faults():
    kept = probe("keep")
    handed_back = probe("default")
    assert kept["keeping"] is True and handed_back["keeping"] is False
    assert handed_back["faults_per_round"] > 0.9 * PAGES  # glibc's default: a fresh mapping every time
    assert kept["faults_per_round"] < 0.05 * PAGES  # the freed block is served again


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_environment_turns_it_off():
    off = probe("env", {allocator.ENV: "0"})
    assert off["keeping"] is False and off["faults_per_round"] > 0.9 * PAGES
    assert probe("env", {allocator.ENV: ""})["keeping"] is True  # unset or empty: on


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    state = allocator._state
    assert allocator.keep_freed_memory(True) is False
    assert allocator._state is state  # nothing was set


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_the_loaders_keep_freed_memory(spin_checkpoint, tcmr_checkpoint, monkeypatch):
    import core

    monkeypatch.delenv(allocator.ENV, raising=False)
    allocator.keep_freed_memory(False)
    core.load_backbone(spin_checkpoint)
    assert allocator.keeping()
    allocator.keep_freed_memory(False)
    core.load_tcmr(tcmr_checkpoint, smpl=False)
    assert allocator.keeping()
