"""The result file's members, one row each (:data:`MEMBERS`): dtype kinds, shape (with symbolic sizes), where it
lives (top level or per track), whether the refine stage keeps a raw copy, the plausible range and any further check
of the values. This table is the file format: core/result_schema.py holds every file to it, core/result.py writes
it. Adding a member is one row here. numpy and the standard library only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .errors import one_line
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
MAX_TEXT_CHARS = 1 << 22  # video_path, meta_json


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
