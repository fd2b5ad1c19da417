"""Blender properties: capture options (per scene, saved with the .blend) and the running job's status
(per window manager, never saved). Defaults come from core/config.py (the mesh switch from the scene's
BuildOptions)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup

from ...core.config import CaptureConfig, ExtremitiesConfig
from ..scene.builder import BuildOptions


class TCMR_CaptureSettings(PropertyGroup):
    video_path: StringProperty(name="Video", description="The video to capture", subtype="FILE_PATH")
    detections_path: StringProperty(
        name="Detections", subtype="FILE_PATH",
        description="Person boxes from a .json/.npz file instead of the detector (empty: the YOLO detector; "
                    "format: `python -m core capture --help`)")
    person: EnumProperty(
        name="Person",
        items=(("ALL", "Everyone", "One armature per tracked person"),
               ("ONE", "One Track", "Only the track with the given id")),
        default="ALL" if CaptureConfig.track == "all" else "ONE",
    )
    track_id: IntProperty(name="Track", description="Track id as the tracker numbers them", default=1, min=0)
    quality: EnumProperty(
        name="Quality",
        items=(("EXACT", "Exact", "The released networks' float32 numbers, the person detector on every frame"),
               ("FAST", "Fast", "Faster, slightly less exact: bfloat16 features where the "
                "machine computes them natively, the detector on every 3rd frame at a smaller size "
                "(README, \"Speed\")")),
        default="EXACT",
    )
    use_frame_range: BoolProperty(name="Frame Range", description="Capture only part of the video", default=False)
    frame_start: IntProperty(name="Start", description="First video frame (0-based, inclusive)",
                             default=CaptureConfig.frame_start, min=0)
    frame_end: IntProperty(name="End", description="Last video frame (0-based, inclusive)", default=250, min=0)
    use_target_fps: BoolProperty(name="Target FPS", description="Process the video at about this frame rate",
                                 default=False)
    target_fps: FloatProperty(name="FPS", default=30.0, min=1.0, soft_max=120.0)
    use_focal_length: BoolProperty(name="Focal Length", description="Override the estimated focal length",
                                   default=False)
    focal_length_px: FloatProperty(name="Pixels", description="Focal length in pixels of the video",
                                   default=1000.0, min=1.0)
    create_mesh: BoolProperty(name="Create Mesh", description="Add the skinned SMPL body to each armature",
                              default=BuildOptions.create_mesh)
    hands: BoolProperty(name="Hands", default=ExtremitiesConfig.hands is not False,
                        description="Capture every person's fingers (15 joints per hand) when hand_landmarker.task "
                                    "is in the models folder (README, \"Fingers and face\")")
    face: BoolProperty(name="Face", default=ExtremitiesConfig.face is not False,
                       description="Capture every person's face (52 ARKit weights on the armature, the head's "
                                   "turn) when face_landmarker.task is in the models folder")


class TCMR_JobStatus(PropertyGroup):
    running: BoolProperty(default=False)
    label: StringProperty(default="")  # what runs: "Capture", "Install"
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(default="")
    cancel_requested: BoolProperty(default=False)
    last_error: StringProperty(default="")


CLASSES = (TCMR_CaptureSettings, TCMR_JobStatus)


def register_properties() -> None:
    bpy.types.Scene.tcmr = PointerProperty(type=TCMR_CaptureSettings)
    bpy.types.WindowManager.tcmr_job = PointerProperty(type=TCMR_JobStatus)


def unregister_properties() -> None:
    del bpy.types.WindowManager.tcmr_job
    del bpy.types.Scene.tcmr
