"""TCMR Mocap core: video -> per-person SMPL motion. Pure Python + numpy/torch; never imports Blender.

The public functions are exported lazily (module-level ``__getattr__``) so ``import core`` stays cheap and
works without torch installed (the Blender add-on imports ``core.result``/``core.rotations`` only).

- ``load_tcmr(path, device="cpu", smpl=None)``: the TCMR network from the official checkpoint.
- ``load_backbone(path, device="cpu")``: the SPIN ResNet-50 feature extractor.
- ``crop_person(frame_rgb_u8, bbox_cxcys, scale=1.2)``: the official 224×224 crop.
- ``crop_cam_to_orig(cam, crop_bbox_cxcys, img_w, img_h)``: crop camera -> original-image camera.
- ``MotionResult``: the result dataclass (``.save`` / ``.load`` an ``.npz``).
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_tcmr": ("tcmr.checkpoint", "load_tcmr"),
    "load_backbone": ("tcmr.checkpoint", "load_backbone"),
    "crop_person": ("capture.crop", "crop_person"),
    "crop_cam_to_orig": ("capture.camera", "crop_cam_to_orig"),
    "MotionResult": ("result", "MotionResult"),
    "TrackMotion": ("result", "TrackMotion"),
    "CaptureConfig": ("config", "CaptureConfig"),
    "MocapError": ("errors", "MocapError"),
    "run_capture": ("pipeline", "run"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        module = importlib.import_module(f".{module_name}", __name__)
        value = getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
