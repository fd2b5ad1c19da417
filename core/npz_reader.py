"""Reading the members of an ``.npz`` archive from elsewhere without trusting it: the zip's directory (a name twice,
compressions other than stored/deflate), each member's ``.npy`` header before its data (an object dtype, i.e. a
pickle, is refused unread; the size the zip declares must be what the shape and dtype need), and a budget on what
the members read may expand to (:data:`MAX_EXPANSION` times the file, plus :data:`EXPANSION_SLACK_BYTES`), so a
decompression bomb is refused before it is decompressed. A problem with one member is :class:`Refused`.

The result validator (core/result_schema.py) reads result files through here; :func:`read_npz_members` reads the
members of any ``.npz`` (the add-on's AMASS reader). numpy and the standard library only.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Mapping, Optional

import numpy as np

from .errors import InvalidMotionFileError, one_line

MAX_EXPANSION = 20  # the members read may expand to at most this many times the file's size (plus the slack):
EXPANSION_SLACK_BYTES = 64 << 20  # our files are stored uncompressed (about 1x); zeros compress ~1000x


class Refused(Exception):
    """A problem with one member (None: the file as a whole)."""

    def __init__(self, member: Optional[str], problem: str):
        super().__init__(problem)
        self.member, self.problem = member, problem

    def text(self) -> str:
        return self.problem if self.member is None else f"{self.member} {self.problem}"


def read_npz_members(file, names, source: Optional[str] = None) -> dict[str, np.ndarray]:
    """The members ``names`` (those present) of any ``.npz``, within the same limits as a result file: duplicate
    names, object dtypes, headers that do not match their declared size and expansion past the budget are
    refused (InvalidMotionFileError) before any data is read. For the add-on's AMASS reader."""
    source = source or str(file)
    try:
        with open_zip(file, source) as zf:
            entries = npy_entries(zf)
            wanted = {k: entries[k] for k in names if k in entries}
            headers = {k: npy_header(zf, info, k) for k, info in wanted.items()}
            check_budget(headers, size_of(file))
            return {k: read_member(zf, info, k) for k, info in wanted.items()}
    except Refused as refused:
        raise InvalidMotionFileError(f"{source} cannot be read safely: {refused.text()}") from None


class Header:
    """What a member's .npy header and the zip's directory say about it."""

    def __init__(self, shape: tuple, dtype: np.dtype, nbytes: int):
        self.shape, self.dtype, self.nbytes = shape, dtype, nbytes


def open_zip(file, source: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except FileNotFoundError:
        raise InvalidMotionFileError(f"motion file not found: {source}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile raises many kinds for garbage (BadZipFile, OSError, ...)
        raise InvalidMotionFileError(f"not a readable .npz motion file: {source} ({one_line(exc, 160)})") from None


def size_of(file) -> int:
    if hasattr(file, "seek"):
        position = file.tell()
        size = file.seek(0, os.SEEK_END)
        file.seek(position)
        return size
    return os.path.getsize(file)


def npy_entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{key: ZipInfo} of the .npy members (key = the name without .npy); other members are ignored."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            continue
        key = info.filename[:-4]
        if key in entries:
            raise Refused(key, "appears twice in the archive")
        entries[key] = info
    return entries


def npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> Header:
    """Read only the .npy header of a member (a few kB decompressed at most: zipfile bounds what deflate yields
    per read; bzip2/lzma would not be bounded, so they are refused)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise Refused(key, f"is compressed with zip method {info.compress_type} (only stored and deflate are read)")
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise Refused(key, f"is a .npy file of version {version[0]}.{version[1]}, which is not supported")
            offset = fh.tell()
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - bad magic, bad header, bad local zip header, zlib errors ...
        raise Refused(key, f"has an unreadable .npy header ({one_line(exc, 100)})") from None
    if dtype.hasobject:
        raise Refused(key, "holds Python objects (pickled data): refused without reading it")
    if any(int(d) < 0 for d in shape):
        raise Refused(key, f"has a negative size in its shape {shape}")
    expected = offset + math.prod(int(d) for d in shape) * dtype.itemsize
    if info.file_size != expected:
        raise Refused(key, f"declares {info.file_size} bytes, but its header ({tuple(shape)} {dtype}) needs "
                            f"{expected}")
    return Header(tuple(int(d) for d in shape), dtype, expected)


def check_budget(headers: Mapping[str, Header], file_size: int) -> None:
    total = sum(h.nbytes for h in headers.values())
    limit = MAX_EXPANSION * file_size + EXPANSION_SLACK_BYTES
    if total > limit:
        key = max(headers, key=lambda k: headers[k].nbytes)
        raise Refused(key, f"would expand to {_mb(headers[key].nbytes)} ({_mb(total)} in all) from a file of "
                            f"{_mb(file_size)}: refused before decompressing (a decompression bomb?)")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    try:
        with zf.open(info) as fh:
            array = np.lib.format.read_array(fh, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - CRC mismatch, truncated data, zlib errors ...
        raise Refused(key, f"cannot be read ({one_line(exc, 100)})") from None
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
