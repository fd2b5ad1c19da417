"""glTF animation times at the exact frame rate of the motion. No bpy: plain files in, plain files out.

A capture at 29.83 fps runs in a scene of ``fps = 30, fps_base = 1.0057``. Blender's glTF exporter turns frames
into seconds with a rate built from ``fps`` and ``fps_base`` the wrong way round (30 × 1.0057 = 30.17 instead of
30 / 1.0057 = 29.83), so a GLB of a fractional-rate capture played 1 % fast. :func:`set_frame_rate` rewrites the
animation samplers' time accessors of a written ``.glb`` or ``.gltf`` (with its ``.bin``) to ``frame / fps``:
it measures the step the exporter used on the channel with the most keys (one per frame: the exporter writes a
channel that does not move as just its first and last key) and rescales every sampler's times by the same
factor, so an exporter that gets it right is left as it is (factor 1).
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

_GLB_MAGIC, _JSON, _BIN = b"glTF", 0x4E4F534A, 0x004E4942
_FLOAT = 5126


def set_frame_rate(path: str, fps: float) -> float:
    """Make the animation times of the glTF file ``path`` those of ``fps`` frames per second. Returns the factor
    applied (1.0 when nothing needed changing)."""
    if path.lower().endswith(".glb"):
        doc, binary, head = _read_glb(path)
    else:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        binary = None
    inputs = sorted({s["input"] for a in doc.get("animations", []) for s in a.get("samplers", [])})
    if not inputs:
        return 1.0
    if binary is None:
        uri = doc["buffers"][0].get("uri", "")
        bin_path = os.path.join(os.path.dirname(path), uri)
        with open(bin_path, "rb") as fh:
            binary = bytearray(fh.read())
    times = {i: _floats(doc, binary, i) for i in inputs}
    probe = max(times.values(), key=lambda t: t.shape[0])  # a sampled channel, not a still one's two keys
    if probe.shape[0] < 2:
        return 1.0
    step = (float(probe[-1]) - float(probe[0])) / (probe.shape[0] - 1)
    factor = (1.0 / float(fps)) / step
    if abs(factor - 1.0) < 1e-7:
        return 1.0
    for index, t in times.items():
        scaled = (t.astype(np.float64) * factor).astype(np.float32)
        accessor = doc["accessors"][index]
        view = doc["bufferViews"][accessor["bufferView"]]
        start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
        binary[start:start + 4 * scaled.shape[0]] = scaled.tobytes()
        accessor["min"], accessor["max"] = [float(scaled.min())], [float(scaled.max())]
    if path.lower().endswith(".glb"):
        _write_glb(path, doc, binary, head)
    else:
        with open(bin_path, "wb") as fh:
            fh.write(binary)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
    return factor


def _floats(doc: dict, binary: bytearray, index: int) -> np.ndarray:
    accessor = doc["accessors"][index]
    if accessor.get("componentType") != _FLOAT or accessor.get("type") != "SCALAR":
        raise ValueError(f"animation input accessor {index} is not SCALAR float")
    view = doc["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    return np.frombuffer(bytes(binary[start:start + 4 * accessor["count"]]), dtype="<f4").copy()


def _read_glb(path: str):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, version, _ = struct.unpack_from("<4sII", data, 0)
    if magic != _GLB_MAGIC:
        raise ValueError(f"{path} is not a GLB file")
    length, kind = struct.unpack_from("<II", data, 12)
    if kind != _JSON:
        raise ValueError(f"{path}: the first GLB chunk is not JSON")
    doc = json.loads(data[20:20 + length])
    off = 20 + length
    binary = bytearray()
    if off + 8 <= len(data):
        blen, bkind = struct.unpack_from("<II", data, off)
        if bkind == _BIN:
            binary = bytearray(data[off + 8:off + 8 + blen])
    return doc, binary, version


def _write_glb(path: str, doc: dict, binary: bytearray, version: int) -> None:
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = bytes(binary) + b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(text), _JSON) + text
    if binary:
        body += struct.pack("<II", len(binary), _BIN) + binary
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<4sII", _GLB_MAGIC, version, 12 + len(body)) + body)
    os.replace(tmp, path)
