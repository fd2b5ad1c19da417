"""A small MP4 box editor for tests (standard library only): give a video track new sample timing.

Phone videos come with variable frame rates and odd time bases, and players disagree about them (Blender's FFmpeg
reader numbers frames on the stream rate, OpenCV counts decoded frames). :func:`retime` makes such files out of
any MP4 with the same pixels: it rewrites the video track's sample durations (``stts``) and time scale
(``mdhd``), the durations in ``tkhd``/``mvhd``/``elst``, and, when the movie box comes before the media data,
shifts the chunk offsets (``stco``/``co64``) by the size change. Sample data, ``ctts`` and other tracks are
left as they are (give files without B-frame reordering, or durations that keep it valid).

    retime("cfr.mp4", "vfr.mp4", durations=[512] * 6 + [768], timescale=15360)   # a 50 ms gap every 7 frames
"""

from __future__ import annotations

import struct
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _parse(data: bytes) -> list:
    boxes, off = [], 0
    while off < len(data):
        size, kind = struct.unpack_from(">I4s", data, off)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, off + 8)[0], 16
        elif size == 0:
            size = len(data) - off
        if size < header or off + size > len(data):
            raise ValueError(f"bad box {kind!r} at {off}")
        body = data[off + header:off + size]
        boxes.append([kind, _parse(body) if kind in CONTAINERS else body])
        off += size
    return boxes


def _build(boxes: list) -> bytes:
    out = bytearray()
    for kind, body in boxes:
        payload = _build(body) if isinstance(body, list) else body
        if len(payload) + 8 > 0xFFFFFFFF:
            raise ValueError("box too large for this editor")
        out += struct.pack(">I4s", len(payload) + 8, kind) + payload
    return bytes(out)


def _find(boxes: list, kind: bytes) -> list:
    """Every box of ``kind`` under ``boxes`` (depth first)."""
    found = []
    for box in boxes:
        if box[0] == kind:
            found.append(box)
        if isinstance(box[1], list):
            found += _find(box[1], kind)
    return found


def _set_duration(box: list, offset_v0: int, offset_v1: int, value: int) -> None:
    """Write a version-dependent duration field (32 bit in version 0, 64 bit in version 1)."""
    body = bytearray(box[1])
    if body[0] == 1:
        struct.pack_into(">Q", body, offset_v1, value)
    else:
        struct.pack_into(">I", body, offset_v0, value)
    box[1] = bytes(body)


def retime(src, dst, durations, timescale: int | None = None) -> None:
    """Copy ``src`` to ``dst`` with the video track's samples lasting ``durations`` (one per frame, in units of
    ``timescale``, default the track's own)."""
    data = Path(src).read_bytes()
    top = _parse(data)
    kinds = [k for k, _ in top]
    moov = top[kinds.index(b"moov")]
    moov_size = len(_build([moov]))
    video = next(t for t in _find(moov[1], b"trak") if _find(t[1], b"hdlr")[0][1][8:12] == b"vide")
    stsz = _find(video[1], b"stsz")[0][1]
    samples = struct.unpack_from(">I", stsz, 8)[0]
    durations = [int(d) for d in durations]
    if len(durations) != samples:
        raise ValueError(f"{src} has {samples} video frames, {len(durations)} durations given")
    mdhd = _find(video[1], b"mdhd")[0]
    old_scale = struct.unpack_from(">I", mdhd[1], 20 if mdhd[1][0] == 1 else 12)[0]
    scale = int(timescale or old_scale)
    body = bytearray(mdhd[1])
    struct.pack_into(">I", body, 20 if body[0] == 1 else 12, scale)
    mdhd[1] = bytes(body)
    total = sum(durations)
    _set_duration(mdhd, 16, 24, total)
    runs: list[list[int]] = []
    for d in durations:
        if runs and runs[-1][1] == d:
            runs[-1][0] += 1
        else:
            runs.append([1, d])
    stts = _find(video[1], b"stts")[0]
    stts[1] = struct.pack(">II", 0, len(runs)) + b"".join(struct.pack(">II", c, d) for c, d in runs)
    mvhd = _find(moov[1], b"mvhd")[0]
    movie_scale = struct.unpack_from(">I", mvhd[1], 20 if mvhd[1][0] == 1 else 12)[0]
    in_movie = int(round(total / scale * movie_scale))
    _set_duration(_find(video[1], b"tkhd")[0], 20, 28, in_movie)
    old_movie = struct.unpack_from(">Q" if mvhd[1][0] == 1 else ">I", mvhd[1], 24 if mvhd[1][0] == 1 else 16)[0]
    _set_duration(mvhd, 16, 24, max(in_movie, old_movie))
    for elst in _find(video[1], b"elst"):
        body = bytearray(elst[1])
        version, count = body[0], struct.unpack_from(">I", body, 4)[0]
        step = 20 if version == 1 else 12
        for k in range(count):
            at = 8 + k * step
            if version == 1:
                media_time = struct.unpack_from(">q", body, at + 8)[0]
                struct.pack_into(">Qq", body, at, in_movie, media_time * scale // old_scale if media_time > 0
                                 else media_time)
            else:
                media_time = struct.unpack_from(">i", body, at + 4)[0]
                struct.pack_into(">Ii", body, at, in_movie, media_time * scale // old_scale if media_time > 0
                                 else media_time)
        elst[1] = bytes(body)
    if kinds.index(b"moov") < kinds.index(b"mdat"):  # the media data moves by the movie box's change in size
        shift = len(_build([moov])) - moov_size
        for stco in _find(moov[1], b"stco"):
            body = bytearray(stco[1])
            for k in range(struct.unpack_from(">I", body, 4)[0]):
                struct.pack_into(">I", body, 8 + 4 * k, struct.unpack_from(">I", body, 8 + 4 * k)[0] + shift)
            stco[1] = bytes(body)
        for co64 in _find(moov[1], b"co64"):
            body = bytearray(co64[1])
            for k in range(struct.unpack_from(">I", body, 4)[0]):
                struct.pack_into(">Q", body, 8 + 8 * k, struct.unpack_from(">Q", body, 8 + 8 * k)[0] + shift)
            co64[1] = bytes(body)
    Path(dst).write_bytes(_build(top))

