"""A full disk: one error line, no traceback, no file handle left open (the result's save, refine, batch and its
manifest). On a real full file system (a 1 MiB tmpfs in a private mount namespace, ``unshare -rm``) where this
machine allows it; the write made to fail in process everywhere."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import result_fuzz as F
from core.errors import OutputNotWritableError

REPO = Path(__file__).resolve().parents[2]


def test_save_on_a_full_disk_closes_everything(tmp_path, monkeypatch):
    """ENOSPC in the middle of a member: OutputNotWritableError, no temporary file, and nothing left for the
    garbage collector to complain about (np.savez left its ZipFile open: "Exception ignored in ZipFile.__del__")."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    real, calls = np.lib.format.write_array, []

    def write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            fp.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)
    result = F.valid_results()["capture"]
    message = None
    try:
        result.save(tmp_path / "out.npz")
    except OutputNotWritableError as err:
        message = str(err)
    gc.collect()
    assert message is not None and "No space left on device" in message and "\n" not in message
    assert unraisable == [] and os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------- real tmpfs
def _tmpfs_available() -> bool:
    if shutil.which("unshare") is None or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs \"$TMPDIR\""], capture_output=True,
                           env={**os.environ, "TMPDIR": "/tmp"}, timeout=30)
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _tmpfs_available(), reason="no private tmpfs here (unshare -rm + mount)")


def on_full_tmpfs(mount: Path, *command, size: str = "1m") -> subprocess.CompletedProcess:
    """Run ``command`` with a tmpfs of ``size`` mounted on ``mount`` (a private mount namespace: nothing outside
    sees it); afterwards ``ls -A`` of the mount goes to stdout after a ``--- left:`` line."""
    mount.mkdir(exist_ok=True)
    script = ('mount -t tmpfs -o size="$SIZE" tmpfs "$MOUNT" || exit 99; "$@"; status=$?; '
              'echo "--- left:"; ls -A "$MOUNT"; exit $status')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *map(str, command)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MOUNT": str(mount), "SIZE": size, "PYTHONWARNINGS": "ignore"})


def assert_one_error_line(proc, match: str) -> None:
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and match in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr


@needs_tmpfs
def test_refine_onto_a_full_disk(tmp_path):
    src = tmp_path / "walk.npz"
    src.write_bytes(F.valid_files()["refined"])  # 1.4 MB: more than the 1 MiB file system holds
    mount = tmp_path / "full"
    proc = on_full_tmpfs(mount, sys.executable, "-m", "core", "refine", src, "-o", mount / "out.npz")
    assert proc.returncode == 2, proc.stderr
    assert_one_error_line(proc, "No space left on device")
    assert len(proc.stderr.splitlines()) == 1  # exactly one line on stderr, nothing else
    assert proc.stdout.split("--- left:")[1].split() == []  # no partial file left


# the batch with captures that take no time: core.pipeline faked in the subprocess (as tests/core/test_batch_inputs
# does in process); FILL_AFTER_SAVE fills the disk after each result, so the manifest's append is what fails
_FAKE_BATCH = """
import os, runpy, sys
sys.path[:0] = [sys.argv.pop(1), sys.argv.pop(1)]
import core.pipeline, core.result, result_fuzz
core.pipeline.load_models = lambda config, detector=True: object()
result = result_fuzz.valid_results()["capture"]
core.pipeline.run = lambda video, config, progress=None, cancel=None, models=None: result
save = core.result.MotionResult.save
def save_then_fill(self, path):
    save(self, path)
    if os.environ.get("FILL_AFTER_SAVE"):
        try:
            with open(os.path.join(os.path.dirname(path), "filler"), "wb") as fh:
                while True:
                    fh.write(bytes(4096))
                    fh.flush()
        except OSError:
            pass
core.result.MotionResult.save = save_then_fill
sys.argv = ["core"] + sys.argv[1:]
runpy.run_module("core", run_name="__main__", alter_sys=True)
"""


@needs_tmpfs
@pytest.mark.parametrize("what", ["result", "manifest"])
def test_batch_onto_a_full_disk(tmp_path, what):
    import synthetic

    clips = tmp_path / "clips"
    clips.mkdir()
    synthetic.write_synthetic_video(clips / "walk.mp4", n_frames=8)
    models = tmp_path / "models"
    models.mkdir()
    for name in ("tcmr_demo_model.pth.tar", "spin_model_checkpoint.pth.tar", "yolo11s.pt"):
        (models / name).write_bytes(b"x")
    mount = tmp_path / "full"
    wrapper = tmp_path / "fake_batch.py"
    wrapper.write_text(_FAKE_BATCH)
    size = "1m" if what == "result" else "3m"  # the 1.3 MB result does not fit / fits, then the disk is full
    os.environ["FILL_AFTER_SAVE"] = "1" if what == "manifest" else ""
    try:
        proc = on_full_tmpfs(mount, sys.executable, wrapper, REPO, REPO / "tests", "batch", clips, "-o", mount,
                             "--models", models, "--device", "cpu", size=size)
    finally:
        del os.environ["FILL_AFTER_SAVE"]
    assert proc.returncode == 2, proc.stderr
    assert_one_error_line(proc, "No space left on device")
    if what == "manifest":
        assert "cannot write the manifest" in proc.stderr
    left = proc.stdout.split("--- left:")[1].split()
    assert not [name for name in left if name.endswith(".partial")], left
