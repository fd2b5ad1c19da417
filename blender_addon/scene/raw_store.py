"""Where the add-on keeps the raw network output, so the panel can refine a result again without the file.

A capture's ``.npz`` lives in a temporary folder that is deleted after import, and an imported file may move;
so the raw result (``MotionResult`` with every track's ``raw_view()``, no per-frame vertices) is stored
**inside the .blend**, as a compressed ``.npz`` in a bytes custom property (``tcmr_raw_npz``) of the result's
collection. Moving or sharing the .blend keeps it. The scene's import reads our results through here (refined
with the options given, the raw output remembered on the new collection); the refine room's *Refine Again* and
*Live Update* refine the stored raw output again. numpy only (no bpy): collections are passed in.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Optional

from ...core.errors import InvalidResultError
from ...core.result import MotionResult, write_npz
from ...core.result_schema import looks_like_result, problem
from . import formats

RAW_KEY = "tcmr_raw_npz"  # bytes: the raw MotionResult (an uncompressed .npz; compressing cost 0.6 s per 10,000 frames)
INFO_KEY = "tcmr_refine_info"  # str: JSON of the last refine (options, floor, warnings)


def raw_result(result: MotionResult) -> MotionResult:
    """The unrefined result: every track's raw view, without the (large, re-computable) vertices."""
    tracks = [dataclasses.replace(t.raw_view(), verts=None, joints49=None) for t in result.tracks]
    meta = {k: v for k, v in result.meta.items() if k != "refine"}
    return dataclasses.replace(result, tracks=tracks, meta=meta, R_world_from_cam=None, cam_position_world=None,
                               motion_fps=None)


def to_bytes(result: MotionResult) -> bytes:
    buffer = io.BytesIO()
    write_npz(buffer, result.to_arrays())
    return buffer.getvalue()


def from_bytes(data: bytes) -> MotionResult:
    """The stored raw result, through the one validator (a .blend may come from anywhere)."""
    return MotionResult.load(io.BytesIO(bytes(data)), source="the raw capture stored in this .blend")


def refine(result: MotionResult, config, strict: bool = True) -> MotionResult:
    """Refine from the raw output. strict (the panel's Refine): a missing floor or a too short track raises
    MocapError; not strict (a capture's import): they become warnings and the camera frame stays. The refined
    result passes the same checks as a file before it reaches the scene (InvalidResultError: nothing changes)."""
    from ...core.motion.refine import refine_result

    refined = refine_result(result, config, strict=strict)[0]
    found = problem(refined.to_arrays())
    if found is not None:
        raise InvalidResultError(f"the refine produced an invalid result ({found}); the scene was not changed "
                                 "(this is a bug: please report it with the file)")
    return refined


def load_motion(filepath, refine_config=None) -> tuple[formats.SceneMotion, Optional[MotionResult]]:
    """Read a motion file for the scene. Our results come back with their raw output (to remember) and,
    when ``refine_config`` is given, refined from it; other formats as ``formats.load_motion`` reads them."""
    path = Path(filepath)
    if path.suffix.lower() == ".npz" and path.is_file() and looks_like_result(path):
        result = MotionResult.load(path)
        raw = raw_result(result)
        if refine_config is not None:  # a capture's import: never lose the capture over its floor
            result = refine(raw, refine_config, strict=False)
        motion = formats.from_motion_result(result, path)
        motion.refine_info = result.meta.get("refine")
        return motion, raw
    return formats.load_motion(path), None


def remember(collection, raw: MotionResult, info: Optional[dict] = None) -> None:
    """Store the raw result (and what the last refine did) on the collection."""
    collection[RAW_KEY] = to_bytes(raw)
    if info is not None:
        collection[INFO_KEY] = json.dumps(info, default=str)


def stored(collection) -> Optional[MotionResult]:
    data = collection.get(RAW_KEY) if collection is not None else None
    return None if data is None else from_bytes(data)


def info(collection) -> dict:
    try:
        return json.loads(collection.get(INFO_KEY, "{}"))
    except (TypeError, ValueError):
        return {}


def floor_summary(collection) -> str:
    """One line about the floor of the last refine and how sure it is, for the panel."""
    floor = info(collection).get("floor")
    if not floor:
        return "Camera frame (no floor estimated)"
    line = (f"Floor: camera pitch {floor['pitch_deg']:+.1f}°, roll {floor['roll_deg']:+.1f}°, "
            f"height {floor['camera_height_m']:.2f} m")
    if "confidence" in floor:  # refined by an earlier version: no confidence recorded
        line += (f"; confidence {floor['confidence']} (±{floor['tilt_error_deg']:.1f}°, {floor['num_points']} "
                 f"resting sole points on {floor['num_contacts']} contacts)")
    return line


def warnings(collection) -> list[str]:
    """The last refine's warnings (no floor found, a floor of low confidence)."""
    return [str(w) for w in info(collection).get("warnings", [])]
