"""Fuzz: a few hundred hostile result files (tests/result_fuzz.py, seeded) through ``python -m core refine``.

Each is either refused (exit 2, exactly one ``error:`` line, nothing written) or accepted cleanly (exit 0, an
output whose every number is finite, read back by plain numpy); never a traceback; no pickle runs; memory stays
bounded (tracemalloc in process, peak RSS of real subprocesses for the decompression bombs).
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import result_fuzz as F
from core.__main__ import main

REPO = Path(__file__).resolve().parents[2]
CASES, SEED = 300, 2020
MAX_PEAK_MB = 200  # the refine of a valid 1.4 MB file peaks near 60 MB; a bomb read would take GBs


@pytest.fixture(scope="module")
def marker(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("marker") / "pickle_ran"


@pytest.fixture(scope="module")
def fuzz_cases(marker):
    return F.cases(CASES, SEED, marker)


def all_finite(path: Path) -> str | None:
    """The first member of ``path`` holding NaN/inf, read by plain numpy (not by the validator under test)."""
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            a = z[key]
            if a.dtype.kind in "fc" and not np.isfinite(a).all():
                return key
    return None


def refine_in_process(src: Path, out: Path) -> tuple[int, str, float]:
    """(exit code, stderr, peak traced MB) of ``python -m core refine src -o out`` run in this process."""
    err = io.StringIO()
    tracemalloc.start()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["refine", str(src), "-o", str(out)])
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return code, err.getvalue(), peak


@pytest.mark.slow
def test_refine_fuzz(tmp_path, fuzz_cases, marker):
    counts, problems, peaks = collections.Counter(), [], []
    t0 = time.perf_counter()
    for i, case in enumerate(fuzz_cases):
        src, out = tmp_path / f"case{i}.npz", tmp_path / f"out{i}.npz"
        src.write_bytes(case.data)
        label = f"case {i} ({case.kind}: {case.what})"
        try:
            code, err, peak = refine_in_process(src, out)
        except Exception as exc:  # noqa: BLE001 - a traceback: the finding this test exists for
            problems.append(f"{label}: traceback {type(exc).__name__}: {exc}")
            continue
        peaks.append(peak)
        lines = err.strip().splitlines()
        if peak > MAX_PEAK_MB:
            problems.append(f"{label}: peak memory {peak:.0f} MB")
        if code == 0:
            counts["accepted"] += 1
            bad = all_finite(out)
            if bad:
                problems.append(f"{label}: accepted, and the output's {bad} holds NaN/inf")
            if case.must_refuse:
                problems.append(f"{label}: accepted")
        elif code == 2:
            counts["refused"] += 1
            counts[f"refused {case.kind}"] += 1
            if len(lines) != 1 or not lines[0].startswith("error: "):
                problems.append(f"{label}: stderr is not one error line: {err!r}")
            if out.exists() or [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]:
                problems.append(f"{label}: refused but wrote {out.name}")
        else:
            problems.append(f"{label}: exit {code}: {err!r}")
        src.unlink()
        if out.exists():
            out.unlink()
    F.summarise("refine fuzz", counts, problems, marker, time.perf_counter() - t0, peaks)
    assert counts["accepted"] >= 30 and counts["refused"] >= 200  # both paths really exercised
    assert counts["refused bomb"] == 2


def run_refine_measured(src: Path, out: Path, rss_file: Path) -> subprocess.CompletedProcess:
    """``python -m core refine`` as a real subprocess that writes its peak RSS (KB) to ``rss_file`` at exit."""
    code = ("import os, resource, runpy, sys\n"
            "sys.argv = ['core'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('core', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as e:\n    status = e.code\n"
            "with open(os.environ['RSS_FILE'], 'w') as fh:\n"
            "    fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
            "sys.exit(status)\n")
    return subprocess.run([sys.executable, "-c", code, "refine", str(src), "-o", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "RSS_FILE": str(rss_file)})


def test_real_refine_subprocesses(tmp_path, fuzz_cases):
    """A few cases as the user runs them: exit 2, exactly one error line, no traceback, nothing written; the
    bombs' peak RSS no higher than refining the valid file they came from (+ 50 MB)."""
    valid = tmp_path / "valid.npz"
    valid.write_bytes(F.valid_files()["capture"])
    proc = run_refine_measured(valid, tmp_path / "valid_out.npz", tmp_path / "rss_valid")
    assert proc.returncode == 0, proc.stderr
    baseline_kb = int((tmp_path / "rss_valid").read_text())
    picks = [c for c in fuzz_cases if c.kind == "bomb"]
    for kind in ("nonfinite", "pickle", "truncate", "scalar"):
        picks.append(next(c for c in fuzz_cases if c.kind == kind))
    for i, case in enumerate(picks):
        src, out = tmp_path / f"bad{i}.npz", tmp_path / f"out{i}.npz"
        src.write_bytes(case.data)
        proc = run_refine_measured(src, out, tmp_path / f"rss{i}")
        lines = proc.stderr.splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (case.kind, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr and not out.exists()
        rss_kb = int((tmp_path / f"rss{i}").read_text())
        assert rss_kb < baseline_kb + 50_000, (case.kind, rss_kb, baseline_kb)
        if case.kind == "bomb":
            with zipfile.ZipFile(src) as zf:
                expands_to = sum(info.file_size for info in zf.infolist())
            assert expands_to > 1.8e9 and expands_to > 500 * len(case.data)  # a real bomb
