"""Reading BVH (Biovision hierarchy) motion files into a :class:`~.source.SourceMotion`.

A BVH file has a ``HIERARCHY`` (nested ``ROOT``/``JOINT`` blocks with an ``OFFSET`` and ``CHANNELS``, ``End Site``
leaves) and a ``MOTION`` section (``Frames:``, ``Frame Time:``, then one line of channel values per frame).
Rotation channels are in degrees and compose in the listed order: ``Zrotation Yrotation Xrotation`` means
R = R_z · R_y · R_x (column vectors). A joint with position channels takes them as its local translation (the
root's ``OFFSET`` is added, as it is zero in practice); End Sites are not joints. Units are the file's.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InvalidMotionFileError
from ..rotations import axis_angle_to_rotmat
from .source import SourceMotion, check_source

MAX_BYTES = 512 * 1024 * 1024  # a larger "BVH" is not one we read (files are untrusted)
_AXES = {"xrotation": 0, "yrotation": 1, "zrotation": 2}
_POS = {"xposition": 0, "yposition": 1, "zposition": 2}


def _parse_hierarchy(tokens: list[str], where: str):
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    i = 0
    pending_end = 0  # depth of open End Site blocks
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise InvalidMotionFileError(f"{where} is not a BVH file (it does not start with HIERARCHY)")
    i = 1
    try:
        while i < len(tokens):
            tok = tokens[i]
            up = tok.upper()
            if up in ("ROOT", "JOINT"):
                if (up == "ROOT") != (not stack) or (up == "ROOT" and names):
                    raise InvalidMotionFileError(f"{where}: a BVH file has exactly one ROOT, and JOINTs inside it")
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                offsets.append(np.zeros(3))
                channels.append([])
                if tokens[i + 2] != "{":
                    raise InvalidMotionFileError(f"{where}: expected '{{' after {tok} {tokens[i + 1]}")
                stack.append(len(names) - 1)
                i += 3
            elif up == "END":
                if tokens[i + 2] != "{":
                    raise InvalidMotionFileError(f"{where}: expected '{{' after End Site")
                pending_end += 1
                i += 3
            elif up == "OFFSET":
                value = np.array([float(v) for v in tokens[i + 1:i + 4]])
                if not pending_end:
                    offsets[stack[-1]] = value
                i += 4
            elif up == "CHANNELS":
                n = int(tokens[i + 1])
                if not 0 <= n <= 6:
                    raise InvalidMotionFileError(f"{where}: {n} channels on one joint (at most 6)")
                names_c = [c.lower() for c in tokens[i + 2:i + 2 + n]]
                if any(c not in _AXES and c not in _POS for c in names_c):
                    raise InvalidMotionFileError(f"{where}: unknown channel in {' '.join(tokens[i + 2:i + 2 + n])}")
                channels[stack[-1]] = names_c
                i += 2 + n
            elif tok == "}":
                if pending_end:
                    pending_end -= 1
                elif stack:
                    stack.pop()
                else:
                    raise InvalidMotionFileError(f"{where}: unbalanced braces in the hierarchy")
                i += 1
            elif up == "MOTION":
                if stack or pending_end:
                    raise InvalidMotionFileError(f"{where}: the hierarchy is not closed before MOTION")
                return names, parents, offsets, channels, i + 1
            else:
                raise InvalidMotionFileError(f"{where}: unexpected '{tok}' in the hierarchy")
    except (IndexError, ValueError):
        raise InvalidMotionFileError(f"{where}: the BVH hierarchy is cut short or has a bad number") from None
    raise InvalidMotionFileError(f"{where}: no MOTION section")


def read_bvh(path) -> SourceMotion:
    """Read a BVH file. Raises InvalidMotionFileError (one line) for anything that is not a readable BVH."""
    where = os.fspath(path)
    try:
        if os.path.getsize(where) > MAX_BYTES:
            raise InvalidMotionFileError(f"{where} is larger than {MAX_BYTES >> 20} MiB; not read as BVH")
        with open(where, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        raise InvalidMotionFileError(f"cannot read {where}: {exc.strerror or exc}") from exc
    head, sep, body = text.partition("MOTION")
    if not sep:
        head, sep, body = text.partition("motion")
    names, parents, offsets, channels, _ = _parse_hierarchy(head.split() + ["MOTION"], where)
    lines = body.strip().splitlines()
    try:
        frames = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
        values = np.array(" ".join(lines[2:2 + frames]).split(), dtype=np.float64)
    except (IndexError, ValueError):
        raise InvalidMotionFileError(f"{where}: the MOTION section needs 'Frames:', 'Frame Time:' and numbers") \
            from None
    width = sum(len(c) for c in channels)
    if frames <= 0 or not frame_time > 0 or values.size != frames * width:
        raise InvalidMotionFileError(f"{where}: expected {frames} frames of {width} values, found {values.size} "
                                     "values (or a frame time that is not positive)")
    values = values.reshape(frames, width)
    J = len(names)
    local = np.tile(np.eye(3), (frames, J, 1, 1))
    root_position = np.tile(offsets[0], (frames, 1))
    col = 0
    offsets = np.array(offsets)
    for j, chans in enumerate(channels):
        R = None
        for c in chans:
            v = values[:, col]
            col += 1
            if c in _POS:
                if j == 0:
                    root_position[:, _POS[c]] = offsets[0, _POS[c]] + v
                # position channels on other joints are ignored: their OFFSET is the bone (bones keep length)
                continue
            aa = np.zeros((frames, 3))
            aa[:, _AXES[c]] = np.radians(v)
            Rc = axis_angle_to_rotmat(aa)
            R = Rc if R is None else R @ Rc
        if R is not None:
            local[:, j] = R
    motion = SourceMotion(names=tuple(names), parents=np.array(parents, dtype=np.int64), offsets=offsets,
                          local_rotmat=local, root_position=root_position,
                          times_s=np.arange(frames) * frame_time, source=where)
    return check_source(motion)
