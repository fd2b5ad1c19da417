"""Refine options in the panel (per scene, saved with the .blend). Defaults come from core/config.py (the display
options' from the scene's BuildOptions).

The one set of refine options: a capture passes them to the core (which refines once), *Refine Again* and
*Live Update* refine the stored raw output with them (``settings.refine_config`` makes them the core's
``RefineConfig``).

With *Live Update* on, changing an option re-refines the selected result from its stored raw output a moment
later (changes within 0.3 s are combined into one rebuild)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty
from bpy.types import PropertyGroup

from ...core.config import FloorConfig, FootLockConfig, RefineConfig, SmoothingConfig
from ...core.errors import one_line
from ..scene.builder import BuildOptions

_D, _DL, _DF, _DS = RefineConfig(), FootLockConfig(), FloorConfig(), SmoothingConfig()
FOOT_LOCK_ITEMS = (
    ("auto", "Auto", "Pin the feet while they rest on the floor (detected from height and speed)"),
    ("always", "Always", "Pin the feet whenever they are near the floor"),
    ("ground", "Ground", "Keep the feet on the floor without pinning them"),
    ("never", "Never", "Leave the feet as captured"),
)
SMOOTHING_ITEMS = (
    ("adaptive", "Adaptive", "Local quadratic fits whose window follows the motion: removes jitter without lag "
                             "or flattening fast moves"),
    ("one-euro", "One-Euro", "Adaptive low-pass filter: smooth when still, little lag when fast"),
    ("slerp-average", "Slerp Average", "Mean rotation over a window of frames (the TCMR paper's average filter)"),
    ("none", "None", "The network output as it is"),
)
FACE_CALIBRATION_ITEMS = (  # core.extremities.calibration.FACE_CALIBRATIONS (README, "Fingers and face")
    ("standard", "Standard", "MediaPipe's face scores on the ARKit scale: open jaws and closed eyes, which it reads "
                             "low, lifted by a fixed map per channel"),
    ("auto", "Auto", "Standard, after subtracting the performer's resting face (from the clip's calmest frames)"),
    ("none", "None", "MediaPipe's face scores as they are"),
)
_pending = {"scheduled": False}


def _changed(self, context):
    if not self.live_update or _pending["scheduled"]:
        return
    _pending["scheduled"] = True
    bpy.app.timers.register(_deferred_refine, first_interval=0.3)


def _deferred_refine():
    """Timer callback: run ``tcmr.refine`` in a 3D viewport's context (one undo step, like the button); without a
    window (background) refine directly. Errors end up in the panel, never in the timer."""
    _pending["scheduled"] = False
    from . import ops

    context = bpy.context
    try:
        if ops.target_collection(context) is None:
            return None
        for window in context.window_manager.windows:
            for area in window.screen.areas:
                if area.type == "VIEW_3D":
                    with context.temp_override(window=window, area=area):
                        bpy.ops.tcmr.refine()
                    return None
        ops.refine_target(context, quiet=True)
    except Exception as err:  # a timer must not raise; the panel shows the message
        context.window_manager.tcmr_job.last_error = one_line(err)
    return None


class TCMR_RefineSettings(PropertyGroup):
    foot_lock: EnumProperty(name="Foot Lock", items=FOOT_LOCK_ITEMS, default=_DL.mode, update=_changed)
    upright: BoolProperty(name="Level Floor", default=_DF.upright, update=_changed,
                          description="Put the floor at Z = 0 and give the camera the capture's pitch, roll and "
                                      "height (looking through the camera still matches the footage)")
    smoothing: EnumProperty(name="Smoothing", items=SMOOTHING_ITEMS, default=_D.smoothing, update=_changed)
    min_cutoff: FloatProperty(name="Min Cutoff", description="One-Euro cutoff when still (Hz); lower = smoother",
                              default=_DS.min_cutoff_hz, min=0.01, soft_max=10.0, update=_changed)
    beta: FloatProperty(name="Beta", description="One-Euro speed coefficient; higher = less lag",
                        default=_DS.beta, min=0.0, soft_max=5.0, update=_changed)
    translation_min_cutoff: FloatProperty(name="Translation Cutoff", description="One-Euro cutoff of the "
                                          "translation (Hz)", default=_DS.translation_min_cutoff_hz, min=0.01,
                                          soft_max=10.0, update=_changed)
    window: IntProperty(name="Window", description="Slerp average: frames per window (odd)",
                        default=_D.average_window, min=1, max=61, update=_changed)
    use_fps: BoolProperty(name="Resample", description="Resample the motion to another frame rate",
                          default=False, update=_changed)
    fps: FloatProperty(name="FPS", default=24.0, min=1.0, soft_max=120.0, update=_changed)
    face_calibration: EnumProperty(name="Face Calibration", items=FACE_CALIBRATION_ITEMS,
                                   default=_D.extremities.face_calibration, update=_changed,
                                   description="How the face's ARKit weights are made from MediaPipe's scores")
    show_ground: BoolProperty(name="Ground Plane", default=BuildOptions.show_ground, update=_changed,
                              description="A plane at the floor (Z = 0)")
    show_contacts: BoolProperty(name="Contact Markers", default=BuildOptions.show_contacts, update=_changed,
                                description="An empty on the floor for every foot contact, shown while it lasts")
    live_update: BoolProperty(name="Live Update", default=True,
                              description="Re-refine the selected result as soon as an option changes")



CLASSES = (TCMR_RefineSettings,)


def register_properties() -> None:
    bpy.types.Scene.tcmr_refine = bpy.props.PointerProperty(type=TCMR_RefineSettings)


def unregister_properties() -> None:
    del bpy.types.Scene.tcmr_refine
