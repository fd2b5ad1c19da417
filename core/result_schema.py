"""The one validator of result files (the ``.npz`` of :mod:`core.result`): every reader goes through it.

Result files travel (between the machines of a batch, from a colleague, from a download), so they are untrusted.
:func:`read_result_arrays` reads one in stages and refuses the first problem with one line
(:class:`~core.errors.InvalidMotionFileError`) that names the member:

1. the zip's central directory: member names (a name twice is refused), compression and declared sizes;
2. the ``.npy`` header of every member (a few bytes each, never the data; both stages by core/npz_reader.py): an
   object dtype (a pickle) is refused without being read, and the size the zip declares must be what the header's
   shape and dtype need; then each member of the table (``MEMBERS``, core/result_members.py) is held to its dtype
   kind and shape, with symbolic sizes bound by the file (``N`` = the rows of the track's ``frame_ids``), so a
   member out of proportion to its track (a decompression bomb) is refused before it is decompressed; and all the
   members read together may not expand past ``npz_reader.MAX_EXPANSION`` times the file (plus its slack);
3. the values: finite, within a plausible range, and the relations between members (frame ids inside the video,
   timestamps in order, the raw output complete, the scene within Blender's frame limit).

:func:`check_arrays` runs the checks of stages 2 and 3 on arrays in memory: :meth:`MotionResult.save
<core.result.MotionResult.save>` through :func:`problem` before writing (so no writer emits NaN/inf or a file this
module would refuse), :meth:`MotionResult.from_arrays <core.result.MotionResult.from_arrays>` for arrays from
elsewhere. :func:`looks_like_result` tells our files from other ``.npz`` archives (AMASS) without reading data.

Adding a member is one row of ``MEMBERS``. Members the table does not know are ignored (never read), unless
they are dangerous: an object dtype, a compression other than stored/deflate (zipfile does not bound what bzip2
or lzma yield), or a header that does not match the size the zip declares.
Format versions written so far: 1 (with or without the refine stage's members) and 2 (with fingers/face); all load.
numpy and the standard library only (the Blender add-on uses this module).
"""

from __future__ import annotations

import zipfile
from typing import Callable, Mapping, Optional

import numpy as np

from . import npz_reader
from .errors import InvalidMotionFileError
from .npz_reader import Refused
from .result_members import (FORMAT_VERSION, GLOBAL_MEMBERS, KNOWN_VERSIONS, MAX_FRAMES, MAX_TRACKS, RAW_MEMBERS,
                             TRACK_MEMBERS, Member)

_KIND_WORDS = {"f": "float", "i": "integer", "u": "integer", "b": "bool", "U": "text"}
_SUFFIX = "the file is damaged or was not written by TCMR Mocap"
_SIZE_CAPS = {"N": MAX_FRAMES, "R": MAX_FRAMES, "T": MAX_FRAMES, "K": MAX_TRACKS}
_SIZE_WORDS = {"N": "frame_ids", "R": "raw_frame_ids"}


def read_result_arrays(file, source: Optional[str] = None) -> dict[str, np.ndarray]:
    """Read and check a result file: a path or a binary file object. Returns {key: array} of the known members
    (native byte order). Raises InvalidMotionFileError, one line naming the member and the problem."""
    source = source or str(file)
    try:
        with npz_reader.open_zip(file, source) as zf:
            entries, known = _checked_layout(zf, npz_reader.size_of(file))
            arrays = {key: npz_reader.read_member(zf, entries[key], key) for key in known}
    except Refused as refused:
        raise _error(source, refused) from None
    check_arrays(arrays, source)
    return arrays


def layout_problem(path) -> Optional[str]:
    """Stages 1-2 only (the zip's directory and the members' headers, no data): the problem in one line, or None.
    Cheap enough to look at every output of a batch when it resumes."""
    try:
        with npz_reader.open_zip(path, str(path)) as zf:
            _checked_layout(zf, npz_reader.size_of(path))
    except InvalidMotionFileError as err:
        return str(err)
    except Refused as refused:
        return str(_error(str(path), refused))
    return None


def check_arrays(arrays: Mapping[str, np.ndarray], source: str = "<arrays>") -> None:
    """Check result arrays in memory (everything but the zip): raises InvalidMotionFileError."""
    try:
        _check(arrays)
    except Refused as refused:
        raise _error(source, refused) from None


def problem(arrays: Mapping[str, np.ndarray]) -> Optional[str]:
    """The first problem of result arrays in words ("track_1/rotmat holds NaN or inf"), or None."""
    try:
        _check(arrays)
    except Refused as refused:
        return refused.text()
    return None


def looks_like_result(path) -> bool:
    """True when ``path`` is a zip holding ``format_version.npy`` (one of ours, readable or not); reads only the
    zip's directory."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(name == "format_version.npy" for name in zf.namelist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


def _checked_layout(zf: zipfile.ZipFile, file_size: int) -> tuple[dict, list[str]]:
    """Stages 1-2 (nothing big decompressed): ({key: ZipInfo}, the known members' keys, within the budget)."""
    entries = npz_reader.npy_entries(zf)
    headers = {key: npz_reader.npy_header(zf, info, key) for key, info in entries.items()}
    read = lambda key: npz_reader.read_member(zf, entries[key], key)  # noqa: E731
    _check_version(headers, read)  # format_version and track_ids are read first (their layout checked: tiny)
    track_ids = _track_ids(headers, read)
    _layout(headers, track_ids)
    known = _known_keys(headers, track_ids)
    npz_reader.check_budget({key: headers[key] for key in known}, file_size)
    return entries, known


# ---------------------------------------------------------------------------------------------- checks
def _check(arrays: Mapping[str, np.ndarray]) -> None:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    _check_version(arrays, arrays.__getitem__)
    track_ids = _track_ids(arrays, arrays.__getitem__)
    _layout(arrays, track_ids)
    _values(arrays, track_ids)


def _check_version(found: Mapping, read: Callable[[str], np.ndarray]) -> None:
    if "format_version" not in found or "track_ids" not in found:
        raise Refused(None, "is not a TCMR Mocap result (no format_version/track_ids)")
    _match(GLOBAL_MEMBERS["format_version"], "format_version", found["format_version"], {})
    version = int(read("format_version"))
    if version > FORMAT_VERSION:
        raise Refused(None, f"was written by a newer TCMR Mocap (format {version}); update the add-on to "
                             "read it")
    if version not in KNOWN_VERSIONS:
        raise Refused("format_version", f"is {version}, not a known format ({', '.join(map(str, KNOWN_VERSIONS))})")


def _track_ids(found: Mapping, read: Callable[[str], np.ndarray]) -> list[int]:
    member = GLOBAL_MEMBERS["track_ids"]
    _match(member, "track_ids", found["track_ids"], {})
    ids = read("track_ids")
    _check_values(member, "track_ids", ids)
    return [int(t) for t in ids.tolist()]


def _known_keys(found: Mapping, track_ids: list[int]) -> list[str]:
    keys = [name for name in GLOBAL_MEMBERS if name in found]
    for tid in track_ids:
        keys += [f"track_{tid}/{name}" for name in (*TRACK_MEMBERS, *RAW_MEMBERS) if f"track_{tid}/{name}" in found]
    return keys


def _track_members():
    return [*TRACK_MEMBERS.values(), *RAW_MEMBERS.values()]


def _layout(found: Mapping, track_ids: list[int]) -> None:
    """Presence, dtype kind and shape of every known member (``found``: arrays or headers)."""
    sizes: dict[str, int] = {}
    for member in GLOBAL_MEMBERS.values():
        if member.name in found:
            _match(member, member.name, found[member.name], sizes)
        elif member.required:
            raise Refused(member.name, "is missing")
    for tid in track_ids:
        track_sizes = dict(sizes)
        prefix = f"track_{tid}/"
        raw_present = [m.name for m in RAW_MEMBERS.values() if prefix + m.name in found]
        for member in _track_members():
            key = prefix + member.name
            if key in found:
                _match(member, key, found[key], track_sizes)
            elif member.required and member.name in TRACK_MEMBERS:
                raise Refused(key, "is missing")
            elif member.name in RAW_MEMBERS and raw_present:
                field_key = prefix + member.name[len("raw_"):]
                if member.name == "raw_frame_ids":
                    raise Refused(key, f"is missing (the track has {prefix}{raw_present[0]})")
                # the raw view takes the track's own rows for a raw field left out: fine only where the raw rows
                # are the track's rows (earlier versions wrote such files), not after resampling
                if track_sizes["R"] != track_sizes["N"] and field_key in found:
                    raise Refused(key, f"is missing (the track has {field_key} in {track_sizes['N']} rows and keeps "
                                        f"{track_sizes['R']} raw rows)")


def _match(member: Member, key: str, found, sizes: dict) -> None:
    dtype, shape = found.dtype, tuple(found.shape)
    if dtype.hasobject:
        raise Refused(key, "holds Python objects (pickled data): refused")
    if dtype.kind not in member.kinds or dtype.fields is not None:
        wanted = " or ".join(dict.fromkeys(_KIND_WORDS[k] for k in member.kinds))
        raise Refused(key, f"has dtype {dtype}, expected {wanted}")
    if len(shape) != len(member.shape):
        raise Refused(key, f"has shape {shape}, expected {_pattern(member.shape, sizes)}")
    for axis, (got, want) in enumerate(zip(shape, member.shape)):
        if isinstance(want, str):
            if want not in sizes:
                if got > _SIZE_CAPS[want]:
                    raise Refused(key, f"has {got} entries, more than the {_SIZE_CAPS[want]} a result can hold")
                sizes[want] = got
                continue
            want_size = sizes[want]
            if got != want_size and axis == 0 and want in _SIZE_WORDS:
                rows_of = key.rsplit("/", 1)[0] + "/" + _SIZE_WORDS[want]
                raise Refused(key, f"has {got} rows, but its track has {want_size} ({rows_of}): out of "
                                    "proportion, refused before reading")
        else:
            want_size = want
        if got != want_size:
            raise Refused(key, f"has shape {shape}, expected {_pattern(member.shape, sizes)}")


def _pattern(shape: tuple, sizes: dict) -> str:
    parts = [str(sizes.get(s, s)) if isinstance(s, str) else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_values(member: Member, key: str, a: np.ndarray) -> None:
    if a.dtype.kind in "fiu" and a.size:
        low, high = a.min(), a.max()
        if not (low >= member.lo and high <= member.hi):  # NaN fails both
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise Refused(key, "holds NaN or inf" if a.ndim else f"is {a.item()}")
            values = f"is {_num(a.item())}" if a.ndim == 0 else f"holds values from {_num(low)} to {_num(high)}"
            raise Refused(key, f"{values}, outside the plausible {_num(member.lo)} to {_num(member.hi)}")
    if member.check is not None:
        found = member.check(a)
        if found:
            raise Refused(key, found)


def _values(arrays: Mapping[str, np.ndarray], track_ids: list[int]) -> None:
    """Stage 3: every known member's values, then the relations between members."""
    for member in GLOBAL_MEMBERS.values():
        if member.name in arrays:
            _check_values(member, member.name, arrays[member.name])
    num_frames, fps = int(arrays["num_frames"]), float(arrays["fps"])
    if arrays["timestamps_s"].shape[0] > num_frames:
        raise Refused("timestamps_s", f"has {arrays['timestamps_s'].shape[0]} entries for {num_frames} frames")
    if ("R_world_from_cam" in arrays) != ("cam_position_world" in arrays):
        missing = "cam_position_world" if "R_world_from_cam" in arrays else "R_world_from_cam"
        raise Refused(missing, "is missing (R_world_from_cam and cam_position_world come together)")
    if "motion_fps" in arrays:
        scene_frames = num_frames / fps * float(arrays["motion_fps"])
        if scene_frames > MAX_FRAMES:
            raise Refused("motion_fps", f"{float(arrays['motion_fps']):g} over {num_frames} frames at {fps:g} fps "
                                         f"makes {scene_frames:.0f} frames, more than Blender's {MAX_FRAMES}")
    for tid in track_ids:
        prefix = f"track_{tid}/"
        for member in _track_members():
            if prefix + member.name in arrays:
                _check_values(member, prefix + member.name, arrays[prefix + member.name])
        raw_ids = prefix + ("raw_frame_ids" if prefix + "raw_frame_ids" in arrays else "frame_ids")
        for key in (prefix + "frame_ids", raw_ids):
            ids = arrays[key]
            if ids.size and int(ids.max()) >= num_frames:
                raise Refused(key, f"reaches frame {int(ids.max())} of a video of {num_frames} frames")
        ids = arrays[raw_ids]
        if ids.size == 0:
            raise Refused(raw_ids, "is empty (a track needs at least one row)")
        if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
            raise Refused(raw_ids, "repeats a frame (the network's rows are distinct frames)")


def _error(source: str, refused: Refused) -> InvalidMotionFileError:
    if refused.member is None:  # a sentence about the whole file
        return InvalidMotionFileError(f"{source} {refused.problem}")
    return InvalidMotionFileError(f"{source} is not a valid TCMR Mocap result: {refused.text()} ({_SUFFIX})")


def _num(x) -> str:
    """A number for a message: integers whole, others in %g."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:g}"
