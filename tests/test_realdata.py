"""tests/realdata.py: the pinned real test data unpacks what it promises and refuses what it must."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

import realdata


def test_every_named_file_belongs_to_a_source_and_matches_its_globs():
    import fnmatch

    for name, (source, member) in realdata.FILES.items():
        assert source in realdata.SOURCES, name
        assert any(fnmatch.fnmatch(member, g) for g in realdata.SOURCES[source].members), name


def test_named_files_exist_after_fetch(real_file):
    for name in ("cmu_example_bvh", "deepmimic_run", "makehuman_obj", "face_landmarker_task"):
        path = real_file(name)
        assert path.stat().st_size > 1000, name
    task = real_file("face_landmarker_task")
    digest = hashlib.sha256(task.read_bytes()).hexdigest()
    assert digest == "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"


def _ar(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


def test_deb_reader_finds_the_data_member(tmp_path):
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w:xz") as tar:
        info = tarfile.TarInfo("./usr/share/x.bvh")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    deb = tmp_path / "p.deb"
    deb.write_bytes(_ar({"debian-binary": b"2.0\n", "control.tar.xz": b"odd", "data.tar.xz": blob.getvalue()}))
    members = {name: read() for name, read in realdata._members(deb)}
    assert members == {"usr/share/x.bvh": b"abc"}


def test_wrong_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TCMR_TEST_DATA", str(tmp_path))
    src = realdata.Source("fake", "url", "file:///nonexistent", "fake.tgz", "0" * 64, ("*",), "none")
    monkeypatch.setitem(realdata.SOURCES, "fake", src)

    def fake_download(source, into):
        target = into / source.filename
        target.write_bytes(b"not the pinned bytes")
        return target

    monkeypatch.setattr(realdata, "_download", fake_download)
    with pytest.raises(realdata.RealDataUnavailable, match="sha256"):
        realdata.fetch("fake")
    assert not realdata.source_dir("fake").exists()
