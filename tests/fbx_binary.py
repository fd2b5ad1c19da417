"""A minimal reader of binary FBX files (standard library only), for tests that check what an exporter wrote
(time mode, frame rate, key times) without importing the file back through another program's reader."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

KTIME_PER_SECOND = 46186158000  # FBX time units
_SCALARS = {"Y": "<h", "C": "<?", "I": "<i", "F": "<f", "D": "<d", "L": "<q"}
_ARRAYS = {"f": "f", "d": "d", "l": "q", "i": "i", "b": "?"}


def read_nodes(path) -> list:
    """The file's top-level nodes as (name, properties, children) tuples."""
    data = Path(path).read_bytes()
    if data[:21] != b"Kaydara FBX Binary  \x00":
        raise ValueError(f"{path} is not a binary FBX file")
    wide = struct.unpack_from("<I", data, 23)[0] >= 7500  # 64-bit node headers from FBX 7.5 on

    def node(off):
        if wide:
            end, count, _ = struct.unpack_from("<QQQ", data, off)
            off += 24
        else:
            end, count, _ = struct.unpack_from("<III", data, off)
            off += 12
        name = data[off + 1:off + 1 + data[off]].decode()
        off += 1 + data[off]
        if end == 0:
            return None, off
        props = []
        for _ in range(count):
            kind = chr(data[off])
            off += 1
            if kind in _SCALARS:
                props.append(struct.unpack_from(_SCALARS[kind], data, off)[0])
                off += struct.calcsize(_SCALARS[kind])
            elif kind in _ARRAYS:
                n, encoding, size = struct.unpack_from("<III", data, off)
                raw = data[off + 12:off + 12 + size]
                off += 12 + size
                props.append(list(struct.unpack(f"<{n}{_ARRAYS[kind]}", zlib.decompress(raw) if encoding else raw)))
            else:  # S (string), R (raw bytes)
                n = struct.unpack_from("<I", data, off)[0]
                props.append(data[off + 4:off + 4 + n])
                off += 4 + n
        children = []
        while off < end:
            child, off = node(off)
            if child is None:
                break
            children.append(child)
        return (name, props, children), end

    nodes, off = [], 27
    while off < len(data):
        found, off = node(off)
        if found is None:
            break
        nodes.append(found)
    return nodes


def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n[2])


def global_setting(nodes, name: str):
    """A GlobalSettings property's value (e.g. b"TimeMode", b"CustomFrameRate")."""
    for n in walk(nodes):
        if n[0] == "P" and n[1] and n[1][0] == name:
            return n[1][-1]
    return None


def key_times_s(nodes) -> list:
    """Every animation curve's key times, in seconds."""
    return [[t / KTIME_PER_SECOND for t in n[1][0]] for n in walk(nodes) if n[0] == "KeyTime"]
