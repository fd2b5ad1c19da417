"""What a result file and the batch manifest promise beyond their shape: a refined file keeps the whole raw
network output (refining again needs it), and the result and each manifest line are on disk (fsync) before they
count (before the rename; before the line is taken as written)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import result_fuzz as F
from core.batch.manifest import Manifest
from core.config import RefineConfig
from core.motion.refine import refine_result
from core.result import ROW_FIELDS, MotionResult


@pytest.mark.parametrize("fps", [None, 30.0])
def test_refined_file_keeps_every_raw_field(tmp_path, fps):
    """Refine, save, load: every row field of the capture (betas, boxes, cameras, scores, ids, joints49 ...)
    comes back bit-identical as the raw output, in the file as ``raw_<field>``."""
    capture = F.valid_results()["capture"]
    refined, _ = refine_result(capture, dataclasses.replace(RefineConfig(), fps=fps), strict=False)
    refined.save(tmp_path / "refined.npz")
    with np.load(tmp_path / "refined.npz", allow_pickle=False) as z:
        members = set(z.files)
    back = MotionResult.load(tmp_path / "refined.npz")
    for original, track in zip(capture.tracks, back.tracks):
        raw = track.raw_view()
        for name in ROW_FIELDS:
            value = getattr(original, name)
            if value is None:
                continue
            kept_as_raw = fps is not None or name not in ("verts", "joints49")  # unresampled rows keep their own
            assert not kept_as_raw or f"track_{track.track_id}/raw_{name}" in members, name
            got = getattr(raw, name)
            assert got.dtype == value.dtype and got.tobytes() == value.tobytes(), name


def test_manifest_line_is_fsynced_before_it_counts(tmp_path, monkeypatch):
    calls = []
    real_write, real_fsync, real_close = os.write, os.fsync, os.close
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append(("write", fd)) or real_write(fd, data))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync", fd)) or real_fsync(fd))
    monkeypatch.setattr(os, "close", lambda fd: calls.append(("close", fd)) or real_close(fd))
    m = Manifest(tmp_path / "manifest.jsonl")
    m.append({"key": "a1", "status": "done"})
    fd = calls[0][1]
    assert calls == [("write", fd), ("fsync", fd), ("close", fd)]
    assert Manifest(m.path).latest["a1"]["status"] == "done"


def test_result_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    """The temporary file's own data reach the disk before it is renamed over OUT.npz (else a power cut can
    leave an empty OUT.npz that a resumed batch takes as done)."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync", os.fstat(fd).st_ino)) or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda src, dst: calls.append(("replace", os.stat(src).st_ino, str(dst)))
                        or real_replace(src, dst))
    path = tmp_path / "out.npz"
    F.valid_results()["capture"].save(path)
    inode = os.stat(path).st_ino
    assert calls == [("fsync", inode), ("replace", inode, str(path))]
