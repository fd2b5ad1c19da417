"""core/outputs.py: the write probe that every command and the add-on's exports run before any work."""

from __future__ import annotations

import errno
import os
import tempfile

import pytest

from core import outputs
from core.errors import OutputNotWritableError


def test_writable_places_pass_and_keep_nothing_of_the_probe(tmp_path):
    outputs.check_output_file(str(tmp_path / "x.npz"))
    outputs.check_output_folder(str(tmp_path / "new" / "deeper"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["new", "new/deeper"]


def test_each_problem_names_the_path_and_what_to_do(tmp_path):
    with pytest.raises(OutputNotWritableError, match=r"cannot write .*: it is a folder; give a file name such as "
                                                     r".*take\.fbx"):
        outputs.check_output_file(str(tmp_path), example="take.fbx")
    missing = tmp_path / "nope" / "x.fbx"
    with pytest.raises(OutputNotWritableError, match=r"the folder .*nope does not exist \(create it or pick "
                                                     r"another file\)"):
        outputs.check_output_file(str(missing), hint="pick another file")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputNotWritableError, match="is a file, not a folder"):
        outputs.check_output_folder(str(tmp_path / "a_file"))
    assert not missing.parent.exists()


def test_a_folder_that_refuses_files(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    with pytest.raises(OutputNotWritableError, match=r"No space left on device \(choose a writable -o path\)"):
        outputs.check_output_file(str(tmp_path / "x.npz"))
    with pytest.raises(OutputNotWritableError, match="No space left on device"):
        outputs.check_output_folder(str(tmp_path))


def test_writers_in_place_need_the_file_itself_writable(tmp_path, monkeypatch):
    existing = tmp_path / "take.fbx"
    existing.write_text("old")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: os.fspath(path) != str(existing) and real_access(path, mode))
    outputs.check_output_file(str(existing))  # our results replace the file by a rename: its own mode is no matter
    with pytest.raises(OutputNotWritableError, match="permission denied"):
        outputs.check_output_file(str(existing), in_place=True)
