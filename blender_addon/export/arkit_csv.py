"""The captured face as an ARKit CSV in the layout of Epic's Live Link Face app, which Unreal's LiveLinkFace
importer, MetaHuman tools and most face-capture pipelines read:

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft, … ,TongueOut,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,…
    00:00:00:00.000,61,0.0123,0.0000, …

- one row per exported frame; ``Timecode`` = ``HH:MM:SS:FF.mmm`` from the first exported frame (FF: the frame within
  the second at the file's rate, rounded to whole frames per second; ``.mmm``: the fraction of a frame, 0 at
  whole-number rates); ``BlendShapeCount`` = 61 as the app writes (52 weights + 9 head and eye angles);
- the 52 weights in the app's column order (:data:`LIVE_LINK_NAMES`, PascalCase; ``TongueOut`` always 0: the
  landmark model has no tongue), six decimals, 0..1;
- the 9 head and eye angles are written as 0: the head's turn is part of the body's motion (the head bone), and
  the capture does not measure the eyes' own rotations.

Where the weights come from (:func:`face_weights`): the armature's own ARKit properties (a capture), else those of
the capture a retargeted action was baked from, else the ARKit-named shape keys of the armature's meshes.
"""

from __future__ import annotations

import os

import numpy as np

from ...core.extremities.layout import ARKIT_BLENDSHAPE_NAMES

# Live Link Face's 52 columns, in its order (after Timecode, BlendShapeCount); then its 9 angle columns
LIVE_LINK_NAMES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight", "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
    "MouthPucker", "MouthRight", "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft",
    "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft", "MouthPressRight",
    "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft",
    "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight", "TongueOut",
)
ANGLE_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                                  "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
BLENDSHAPE_COUNT = len(LIVE_LINK_NAMES) + len(ANGLE_COLUMNS)  # 61, as the app writes
_ORDER = [ARKIT_BLENDSHAPE_NAMES.index(n[0].lower() + n[1:]) for n in LIVE_LINK_NAMES]  # ours -> its columns


def header() -> str:
    return ",".join(("Timecode", "BlendShapeCount", *LIVE_LINK_NAMES, *ANGLE_COLUMNS))


def timecode(seconds: float, fps: float) -> str:
    """``HH:MM:SS:FF.mmm`` of a time in seconds at ``fps`` frames per second."""
    whole = int(np.floor(seconds + 1e-9))
    per_second = max(1, int(round(fps)))
    frames = (seconds - whole) * per_second
    ff = min(int(np.floor(frames + 1e-6)), per_second - 1)
    sub = int(round((frames - ff) * 1000)) if frames - ff > 1e-6 else 0
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}:{ff:02d}.{min(sub, 999):03d}"


def write(path: str, weights: np.ndarray, fps: float) -> str:
    """Write ``weights`` (T, 52) in ARKIT_BLENDSHAPE_NAMES order, one row per frame at ``fps``, atomically."""
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, 1.0)[:, _ORDER]
    lines = [header()]
    zeros = ",".join(["0"] * len(ANGLE_COLUMNS))
    for k, row in enumerate(w):
        values = ",".join(f"{v:.6f}" for v in row)
        lines.append(f"{timecode(k / fps, fps)},{BLENDSHAPE_COUNT},{values},{zeros}")
    tmp = f"{path}.partial"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def face_weights(obj, frames) -> np.ndarray | None:
    """(T, 52) ARKit weights for ``obj`` at scene ``frames`` (fractional allowed), from the first source that has
    them (module docstring), or None."""
    import bpy

    from ..retarget.bake import RESULT_SOURCE
    from ..scene import face

    weights = face.read_properties(obj, frames)
    if weights is None and obj.animation_data is not None and obj.animation_data.action is not None:
        source = bpy.data.objects.get(str(obj.animation_data.action.get(RESULT_SOURCE, "")))
        weights = face.read_properties(source, frames) if source is not None else None
    if weights is None:
        for mesh in face.meshes_of(obj):
            weights = face.read_shape_keys(mesh, frames)
            if weights is not None:
                break
    return weights
