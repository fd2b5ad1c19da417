"""The one validator of result files (the ``.npz`` of :mod:`core.result`): every reader goes through it.

Result files travel (between the machines of a batch, from a colleague, from a download), so they are untrusted.
:func:`read_result_arrays` reads one in stages and refuses the first problem with one line
(:class:`~core.errors.InvalidMotionFileError`) that names the member:

1. the zip's central directory: member names (a name twice is refused), compression and declared sizes;
2. the ``.npy`` header of every member (a few bytes each, never the data): an object dtype (a pickle) is refused
   without being read, and the size the zip declares must be what the header's shape and dtype need; then each
   member of :data:`MEMBERS` is held to its dtype kind and shape, with symbolic sizes bound by the file (``N`` =
   the rows of the track's ``frame_ids``), so a member out of proportion to its track (a decompression bomb) is
   refused before it is decompressed; and all the members read together may not expand past
   :data:`MAX_EXPANSION` times the file (plus :data:`EXPANSION_SLACK_BYTES`);
3. the values: finite, within a plausible range, and the relations between members (frame ids inside the video,
   timestamps in order, the raw output complete, the scene within Blender's frame limit).

:func:`check_arrays` runs the checks of stages 2 and 3 on arrays in memory: :meth:`MotionResult.save
<core.result.MotionResult.save>` through :func:`problem` before writing (so no writer emits NaN/inf or a file this
module would refuse), :meth:`MotionResult.from_arrays <core.result.MotionResult.from_arrays>` for arrays from
elsewhere. :func:`looks_like_result` tells our files from other ``.npz`` archives (AMASS) without reading data.

Adding a member is one line of :data:`MEMBERS`. Members the table does not know are ignored (never read), unless
they are dangerous: an object dtype, a compression other than stored/deflate (zipfile does not bound what bzip2
or lzma yield), or a header that does not match the size the zip declares.
Format versions written so far: 1 (with or without the refine stage's members) and 2 (with fingers/face); all load.
numpy and the standard library only (the Blender add-on uses this module).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import numpy as np

from .errors import InvalidMotionFileError, one_line
from .extremities.layout import ARKIT_BLENDSHAPE_NAMES, HAND_JOINT_NAMES, RESULT_ARRAYS
from .skeleton import NUM_BETAS, NUM_FACES, NUM_SMPL_JOINTS, NUM_VERTICES, SMPL_PARENTS

FORMAT_VERSION = 2  # the newest this version reads; core.result writes 1 unless a track holds fingers/face
KNOWN_VERSIONS = (1, 2)  # every version written so far: all of them load

MAX_FRAMES = 1_048_574  # Blender's last frame (MAXFRAME): videos, rows and scenes stay within it
MAX_TRACKS = 100_000
MAX_SIZE_PX = 65_536  # Blender's largest render resolution
MAX_FPS = 1000.0
MIN_FPS = 1e-3  # a frame every 1000 s; Blender's fps_base would overflow far below
MAX_TIME_S = 1e7  # timestamps (about 116 days)
BIG = 1e9  # "finite and not absurd" for coordinates, pixels and network outputs (float32 squares stay finite)
ROTATION_TOLERANCE = 1e-3  # max |R^T R - I| of a rotation matrix
MAX_EXPANSION = 20  # the members read may expand to at most this many times the file's size (plus the slack):
EXPANSION_SLACK_BYTES = 64 << 20  # our files are stored uncompressed (about 1x); zeros compress ~1000x
MAX_TEXT_CHARS = 1 << 22  # video_path, meta_json

_KIND_WORDS = {"f": "float", "i": "integer", "u": "integer", "b": "bool", "U": "text"}
_SUFFIX = "the file is damaged or was not written by TCMR Mocap"


# ---------------------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Member:
    """One member of a result file.

    ``kinds``: the numpy dtype kinds accepted ("f" float, "iu" integer, "b" bool, "U" text). ``shape``: ints and
    symbols: ``N`` rows of the track (its ``frame_ids``), ``R`` raw rows (its ``raw_frame_ids``), ``K`` tracks
    (``track_ids``), ``T`` entries of ``timestamps_s``; a symbol is bound where it first appears. ``track``: stored
    per track as ``track_<id>/<name>``; ``raw``: the refine stage also keeps it as ``raw_<name>`` with R rows.
    ``lo``/``hi``: the plausible range (inclusive; numbers only; floats must also be finite). ``check``: a further
    test of the values, returning the problem in words or None.
    """

    name: str
    kinds: str
    shape: tuple
    track: bool = False
    required: bool = False
    raw: bool = False
    lo: float = -BIG
    hi: float = BIG
    check: Optional[Callable[[np.ndarray], Optional[str]]] = None


def _non_decreasing(a: np.ndarray) -> Optional[str]:
    bad = np.flatnonzero(a[1:] < a[:-1])  # (not np.diff: unsigned integers would wrap)
    return None if bad.size == 0 else f"goes back at entry {int(bad[0]) + 1} ({a[bad[0]]} then {a[bad[0] + 1]})"


def _unique(a: np.ndarray) -> Optional[str]:
    values, counts = np.unique(a, return_counts=True)
    return None if not (counts > 1).any() else f"repeats {values[counts > 1][0]}"


def _rotations(a: np.ndarray) -> Optional[str]:
    """(..., 3, 3) rotation matrices: orthonormal and right-handed (in chunks: no big temporaries)."""
    flat = a.reshape(-1, 3, 3)
    for start in range(0, flat.shape[0], 1 << 16):
        R = flat[start:start + (1 << 16)].astype(np.float64)
        gram = np.matmul(R.transpose(0, 2, 1), R)  # R^T R
        gram[:, [0, 1, 2], [0, 1, 2]] -= 1.0
        error = np.abs(gram).max(axis=(1, 2))
        det = np.einsum("ni,ni->n", np.cross(R[:, :, 0], R[:, :, 1]), R[:, :, 2])
        bad = np.flatnonzero((error > ROTATION_TOLERANCE) | (det <= 0))
        if bad.size:
            index = np.unravel_index(start + int(bad[0]), a.shape[:-2])
            return f"holds a matrix that is not a rotation at {tuple(int(i) for i in index)}"
    return None


def _names(expected: tuple) -> Callable[[np.ndarray], Optional[str]]:
    """The names of an axis (hand joints, blendshapes): exactly ours, in our order (readers go by index)."""
    return lambda a: None if tuple(a.tolist()) == expected else f"are not the {len(expected)} names in our order"


def _skeleton(a: np.ndarray) -> Optional[str]:
    """rest_joints (24, 3): every bone at least 1 mm long (zero-length bones break foot lock and Blender's bones)."""
    parents = np.asarray(SMPL_PARENTS[1:])
    lengths = np.linalg.norm(a[1:].astype(np.float64) - a[parents], axis=-1)
    short = np.flatnonzero(lengths < 1e-3)
    return None if short.size == 0 else f"has a bone shorter than 1 mm (joint {int(short[0]) + 1} on its parent)"


def _meta(a: np.ndarray) -> Optional[str]:
    """meta_json: a JSON object; its ``refine`` block (shown by the add-on's panel), when present, in shape."""
    try:
        meta = json.loads(str(a))
    except (ValueError, RecursionError) as exc:
        return f"is not JSON ({one_line(exc, 80)})"
    if not isinstance(meta, dict):
        return f"is JSON but not an object (a {type(meta).__name__})"
    refine = meta.get("refine", {})
    floor = refine.get("floor") if isinstance(refine, dict) else None
    if not isinstance(refine, dict) or not isinstance(refine.get("warnings", []), list) or \
            not all(isinstance(w, str) for w in refine.get("warnings", [])) or \
            not (floor is None or isinstance(floor, dict) and all(
                isinstance(floor.get(k), (int, float)) and math.isfinite(floor[k])
                for k in ("pitch_deg", "roll_deg", "camera_height_m"))):
        return "has a 'refine' entry that is not what the refine stage writes"
    return None


def _text(a: np.ndarray) -> Optional[str]:
    try:
        text = str(a)
    except (ValueError, UnicodeError):
        return "is not valid text"
    if len(text) > MAX_TEXT_CHARS:
        return f"is {len(text)} characters long"
    return "holds a NUL character" if "\x00" in text else None


_V, _J = NUM_VERTICES, NUM_SMPL_JOINTS
MEMBERS: tuple[Member, ...] = (
    # top level
    Member("format_version", "iu", (), required=True, lo=0, hi=2**31 - 1),
    Member("video_path", "U", (), required=True, check=_text),
    Member("fps", "fiu", (), required=True, lo=MIN_FPS, hi=MAX_FPS),
    Member("width", "iu", (), required=True, lo=1, hi=MAX_SIZE_PX),
    Member("height", "iu", (), required=True, lo=1, hi=MAX_SIZE_PX),
    Member("num_frames", "iu", (), required=True, lo=1, hi=MAX_FRAMES),
    Member("focal_length_px", "fiu", (), required=True, lo=1e-3, hi=1e6),
    Member("timestamps_s", "f", ("T",), required=True, lo=-MAX_TIME_S, hi=MAX_TIME_S, check=_non_decreasing),
    Member("track_ids", "iu", ("K",), required=True, lo=0, hi=2**31 - 1, check=_unique),
    Member("meta_json", "U", (), check=lambda a: _text(a) or _meta(a)),
    Member("smpl_faces", "iu", (NUM_FACES, 3), lo=0, hi=_V - 1),
    Member("smpl_lbs_weights", "f", (_V, _J), lo=-0.01, hi=1.01),
    Member("R_world_from_cam", "f", (3, 3), lo=-1.01, hi=1.01, check=_rotations),
    Member("cam_position_world", "f", (3,), lo=-1e6, hi=1e6),
    Member("motion_fps", "fiu", (), lo=MIN_FPS, hi=MAX_FPS),
    Member("hand_joint_names", "U", (len(HAND_JOINT_NAMES),), check=_names(HAND_JOINT_NAMES)),
    Member("blendshape_names", "U", (len(ARKIT_BLENDSHAPE_NAMES),), check=_names(ARKIT_BLENDSHAPE_NAMES)),
    # per track (track_<id>/<name>); frame_ids first: it binds N
    Member("frame_ids", "iu", ("N",), track=True, required=True, raw=True, lo=0, hi=MAX_FRAMES - 1,
           check=_non_decreasing),
    Member("bbox_xyxy", "f", ("N", 4), track=True, required=True, raw=True),
    Member("bbox_cxcys", "f", ("N", 3), track=True, required=True, raw=True),
    Member("interpolated", "b", ("N",), track=True, required=True, raw=True),
    Member("rotmat", "f", ("N", _J, 3, 3), track=True, required=True, raw=True, lo=-1.01, hi=1.01, check=_rotations),
    Member("pose_aa", "f", ("N", _J, 3), track=True, required=True, raw=True, lo=-100.0, hi=100.0),
    Member("betas", "f", ("N", NUM_BETAS), track=True, required=True, raw=True, lo=-100.0, hi=100.0),
    Member("cam", "f", ("N", 3), track=True, required=True, raw=True),
    Member("orig_cam", "f", ("N", 4), track=True, required=True, raw=True),
    Member("transl_cam", "f", ("N", 3), track=True, required=True, raw=True),
    Member("scores", "f", ("N", 3), track=True, required=True, raw=True, lo=-0.01, hi=1.01),
    Member("verts", "f", ("N", _V, 3), track=True, raw=True, lo=-1e3, hi=1e3),
    Member("joints49", "f", ("N", 49, 3), track=True, raw=True, lo=-1e3, hi=1e3),
    Member("rest_joints", "f", (_J, 3), track=True, lo=-100.0, hi=100.0, check=_skeleton),
    Member("v_shaped", "f", (_V, 3), track=True, lo=-100.0, hi=100.0),
    Member("times_s", "f", ("N",), track=True, lo=-MAX_TIME_S, hi=MAX_TIME_S, check=_non_decreasing),
    Member("contact", "b", ("N", 4), track=True),
    # fingers and face (format 2), declared once in core.extremities.layout.RESULT_ARRAYS
    *(Member(a.name, np.dtype(a.dtype).kind, a.shape, track=True, raw=True,
             lo=a.range[0] if a.range else -BIG, hi=a.range[1] if a.range else BIG) for a in RESULT_ARRAYS),
)

GLOBAL_MEMBERS = {m.name: m for m in MEMBERS if not m.track}
TRACK_MEMBERS = {m.name: m for m in MEMBERS if m.track}
# the raw network output a refined track keeps (R rows, the raw_frame_ids): the row members under raw_<name>
RAW_MEMBERS = {f"raw_{m.name}": Member(f"raw_{m.name}", m.kinds, ("R",) + m.shape[1:], True, m.required, False,
                                       m.lo, m.hi, m.check) for m in MEMBERS if m.raw}
ROW_FIELDS = tuple(m.name for m in MEMBERS if m.raw)  # per-row fields of a track, in table order
EXTREMITY_FIELDS = tuple(a.name for a in RESULT_ARRAYS)  # the fingers/face ones among them (format 2)
_SIZE_CAPS = {"N": MAX_FRAMES, "R": MAX_FRAMES, "T": MAX_FRAMES, "K": MAX_TRACKS}
_SIZE_WORDS = {"N": "frame_ids", "R": "raw_frame_ids"}


class _Refused(Exception):
    """A problem with one member (None: the file as a whole)."""

    def __init__(self, member: Optional[str], problem: str):
        super().__init__(problem)
        self.member, self.problem = member, problem

    def text(self) -> str:
        return self.problem if self.member is None else f"{self.member} {self.problem}"


# ---------------------------------------------------------------------------------------------- public
def read_result_arrays(file, source: Optional[str] = None) -> dict[str, np.ndarray]:
    """Read and check a result file: a path or a binary file object. Returns {key: array} of the known members
    (native byte order). Raises InvalidMotionFileError, one line naming the member and the problem."""
    source = source or str(file)
    try:
        with _open_zip(file, source) as zf:
            entries, known = _checked_layout(zf, _size_of(file))
            arrays = {key: _read_member(zf, entries[key], key) for key in known}
    except _Refused as refused:
        raise _error(source, refused) from None
    check_arrays(arrays, source)
    return arrays


def layout_problem(path) -> Optional[str]:
    """Stages 1-2 only (the zip's directory and the members' headers, no data): the problem in one line, or None.
    Cheap enough to look at every output of a batch when it resumes."""
    try:
        with _open_zip(path, str(path)) as zf:
            _checked_layout(zf, _size_of(path))
    except InvalidMotionFileError as err:
        return str(err)
    except _Refused as refused:
        return str(_error(str(path), refused))
    return None


def check_arrays(arrays: Mapping[str, np.ndarray], source: str = "<arrays>") -> None:
    """Check result arrays in memory (everything but the zip): raises InvalidMotionFileError."""
    try:
        _check(arrays)
    except _Refused as refused:
        raise _error(source, refused) from None


def problem(arrays: Mapping[str, np.ndarray]) -> Optional[str]:
    """The first problem of result arrays in words ("track_1/rotmat holds NaN or inf"), or None."""
    try:
        _check(arrays)
    except _Refused as refused:
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


def read_npz_members(file, names, source: Optional[str] = None) -> dict[str, np.ndarray]:
    """The members ``names`` (those present) of any ``.npz``, within the same limits as a result file: duplicate
    names, object dtypes, headers that do not match their declared size and expansion past the budget are
    refused (InvalidMotionFileError) before any data is read. For the add-on's AMASS reader."""
    source = source or str(file)
    try:
        with _open_zip(file, source) as zf:
            entries = _entries(zf)
            wanted = {k: entries[k] for k in names if k in entries}
            headers = {k: _header(zf, info, k) for k, info in wanted.items()}
            _budget(headers, _size_of(file))
            return {k: _read_member(zf, info, k) for k, info in wanted.items()}
    except _Refused as refused:
        raise InvalidMotionFileError(f"{source} cannot be read safely: {refused.text()}") from None


# ---------------------------------------------------------------------------------------------- the zip
class _Header:
    """What a member's .npy header and the zip's directory say about it."""

    def __init__(self, shape: tuple, dtype: np.dtype, nbytes: int):
        self.shape, self.dtype, self.nbytes = shape, dtype, nbytes


def _open_zip(file, source: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except FileNotFoundError:
        raise InvalidMotionFileError(f"motion file not found: {source}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile raises many kinds for garbage (BadZipFile, OSError, ...)
        raise InvalidMotionFileError(f"not a readable .npz motion file: {source} ({one_line(exc, 160)})") from None


def _size_of(file) -> int:
    if hasattr(file, "seek"):
        position = file.tell()
        size = file.seek(0, os.SEEK_END)
        file.seek(position)
        return size
    return os.path.getsize(file)


def _entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{key: ZipInfo} of the .npy members (key = the name without .npy); other members are ignored."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            continue
        key = info.filename[:-4]
        if key in entries:
            raise _Refused(key, "appears twice in the archive")
        entries[key] = info
    return entries


def _header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> _Header:
    """Read only the .npy header of a member (a few kB decompressed at most: zipfile bounds what deflate yields
    per read; bzip2/lzma would not be bounded, so they are refused)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Refused(key, f"is compressed with zip method {info.compress_type} (only stored and deflate are read)")
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise _Refused(key, f"is a .npy file of version {version[0]}.{version[1]}, which is not supported")
            offset = fh.tell()
    except _Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - bad magic, bad header, bad local zip header, zlib errors ...
        raise _Refused(key, f"has an unreadable .npy header ({one_line(exc, 100)})") from None
    if dtype.hasobject:
        raise _Refused(key, "holds Python objects (pickled data): refused without reading it")
    if any(int(d) < 0 for d in shape):
        raise _Refused(key, f"has a negative size in its shape {shape}")
    expected = offset + math.prod(int(d) for d in shape) * dtype.itemsize
    if info.file_size != expected:
        raise _Refused(key, f"declares {info.file_size} bytes, but its header ({tuple(shape)} {dtype}) needs "
                            f"{expected}")
    return _Header(tuple(int(d) for d in shape), dtype, expected)


def _budget(headers: Mapping[str, _Header], file_size: int) -> None:
    total = sum(h.nbytes for h in headers.values())
    limit = MAX_EXPANSION * file_size + EXPANSION_SLACK_BYTES
    if total > limit:
        key = max(headers, key=lambda k: headers[k].nbytes)
        raise _Refused(key, f"would expand to {_mb(headers[key].nbytes)} ({_mb(total)} in all) from a file of "
                            f"{_mb(file_size)}: refused before decompressing (a decompression bomb?)")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    try:
        with zf.open(info) as fh:
            array = np.lib.format.read_array(fh, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - CRC mismatch, truncated data, zlib errors ...
        raise _Refused(key, f"cannot be read ({one_line(exc, 100)})") from None
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def _checked_layout(zf: zipfile.ZipFile, file_size: int) -> tuple[dict, list[str]]:
    """Stages 1-2 (nothing big decompressed): ({key: ZipInfo}, the known members' keys, within the budget)."""
    entries = _entries(zf)
    headers = {key: _header(zf, info, key) for key, info in entries.items()}
    read = lambda key: _read_member(zf, entries[key], key)  # noqa: E731
    _check_version(headers, read)  # format_version and track_ids are read first (their layout checked: tiny)
    track_ids = _track_ids(headers, read)
    _layout(headers, track_ids)
    known = _known_keys(headers, track_ids)
    _budget({key: headers[key] for key in known}, file_size)
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
        raise _Refused(None, "is not a TCMR Mocap result (no format_version/track_ids)")
    _match(GLOBAL_MEMBERS["format_version"], "format_version", found["format_version"], {})
    version = int(read("format_version"))
    if version > FORMAT_VERSION:
        raise _Refused(None, f"was written by a newer TCMR Mocap (format {version}); update the add-on to "
                             "read it")
    if version not in KNOWN_VERSIONS:
        raise _Refused("format_version", f"is {version}, not a known format ({', '.join(map(str, KNOWN_VERSIONS))})")


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
            raise _Refused(member.name, "is missing")
    for tid in track_ids:
        track_sizes = dict(sizes)
        prefix = f"track_{tid}/"
        raw_present = [m.name for m in RAW_MEMBERS.values() if prefix + m.name in found]
        for member in _track_members():
            key = prefix + member.name
            if key in found:
                _match(member, key, found[key], track_sizes)
            elif member.required and member.name in TRACK_MEMBERS:
                raise _Refused(key, "is missing")
            elif member.name in RAW_MEMBERS and raw_present:
                field_key = prefix + member.name[len("raw_"):]
                if member.name == "raw_frame_ids":
                    raise _Refused(key, f"is missing (the track has {prefix}{raw_present[0]})")
                # the raw view takes the track's own rows for a raw field left out: fine only where the raw rows
                # are the track's rows (earlier versions wrote such files), not after resampling
                if track_sizes["R"] != track_sizes["N"] and field_key in found:
                    raise _Refused(key, f"is missing (the track has {field_key} in {track_sizes['N']} rows and keeps "
                                        f"{track_sizes['R']} raw rows)")


def _match(member: Member, key: str, found, sizes: dict) -> None:
    dtype, shape = found.dtype, tuple(found.shape)
    if dtype.hasobject:
        raise _Refused(key, "holds Python objects (pickled data): refused")
    if dtype.kind not in member.kinds or dtype.fields is not None:
        wanted = " or ".join(dict.fromkeys(_KIND_WORDS[k] for k in member.kinds))
        raise _Refused(key, f"has dtype {dtype}, expected {wanted}")
    if len(shape) != len(member.shape):
        raise _Refused(key, f"has shape {shape}, expected {_pattern(member.shape, sizes)}")
    for axis, (got, want) in enumerate(zip(shape, member.shape)):
        if isinstance(want, str):
            if want not in sizes:
                if got > _SIZE_CAPS[want]:
                    raise _Refused(key, f"has {got} entries, more than the {_SIZE_CAPS[want]} a result can hold")
                sizes[want] = got
                continue
            want_size = sizes[want]
            if got != want_size and axis == 0 and want in _SIZE_WORDS:
                rows_of = key.rsplit("/", 1)[0] + "/" + _SIZE_WORDS[want]
                raise _Refused(key, f"has {got} rows, but its track has {want_size} ({rows_of}): out of "
                                    "proportion, refused before reading")
        else:
            want_size = want
        if got != want_size:
            raise _Refused(key, f"has shape {shape}, expected {_pattern(member.shape, sizes)}")


def _pattern(shape: tuple, sizes: dict) -> str:
    parts = [str(sizes.get(s, s)) if isinstance(s, str) else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_values(member: Member, key: str, a: np.ndarray) -> None:
    if a.dtype.kind in "fiu" and a.size:
        low, high = a.min(), a.max()
        if not (low >= member.lo and high <= member.hi):  # NaN fails both
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise _Refused(key, "holds NaN or inf" if a.ndim else f"is {a.item()}")
            values = f"is {_num(a.item())}" if a.ndim == 0 else f"holds values from {_num(low)} to {_num(high)}"
            raise _Refused(key, f"{values}, outside the plausible {_num(member.lo)} to {_num(member.hi)}")
    if member.check is not None:
        found = member.check(a)
        if found:
            raise _Refused(key, found)


def _values(arrays: Mapping[str, np.ndarray], track_ids: list[int]) -> None:
    """Stage 3: every known member's values, then the relations between members."""
    for member in GLOBAL_MEMBERS.values():
        if member.name in arrays:
            _check_values(member, member.name, arrays[member.name])
    num_frames, fps = int(arrays["num_frames"]), float(arrays["fps"])
    if arrays["timestamps_s"].shape[0] > num_frames:
        raise _Refused("timestamps_s", f"has {arrays['timestamps_s'].shape[0]} entries for {num_frames} frames")
    if ("R_world_from_cam" in arrays) != ("cam_position_world" in arrays):
        missing = "cam_position_world" if "R_world_from_cam" in arrays else "R_world_from_cam"
        raise _Refused(missing, "is missing (R_world_from_cam and cam_position_world come together)")
    if "motion_fps" in arrays:
        scene_frames = num_frames / fps * float(arrays["motion_fps"])
        if scene_frames > MAX_FRAMES:
            raise _Refused("motion_fps", f"{float(arrays['motion_fps']):g} over {num_frames} frames at {fps:g} fps "
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
                raise _Refused(key, f"reaches frame {int(ids.max())} of a video of {num_frames} frames")
        ids = arrays[raw_ids]
        if ids.size == 0:
            raise _Refused(raw_ids, "is empty (a track needs at least one row)")
        if ids.size > 1 and not (ids[1:] > ids[:-1]).all():
            raise _Refused(raw_ids, "repeats a frame (the network's rows are distinct frames)")


def _error(source: str, refused: _Refused) -> InvalidMotionFileError:
    if refused.member is None:  # a sentence about the whole file
        return InvalidMotionFileError(f"{source} {refused.problem}")
    return InvalidMotionFileError(f"{source} is not a valid TCMR Mocap result: {refused.text()} ({_SUFFIX})")


def _num(x) -> str:
    """A number for a message: integers whole, others in %g."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else f"{x:g}"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
