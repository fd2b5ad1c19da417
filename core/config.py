"""Every tunable default, once. Frozen dataclasses; the CLI and the Blender properties read defaults from here.

Change a default here and it changes everywhere (CLI help, add-on UI, pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

Windowing = Literal["ours", "official"]
Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class TrackerConfig:
    """Person detection (ultralytics YOLO) and tracking (ByteTrack / BoT-SORT)."""

    detector_weights: str = "yolo11s.pt"  # file name inside the models directory
    tracker: Literal["bytetrack", "botsort"] = "bytetrack"
    image_size: int = 640  # YOLO inference size (longest side, pixels)
    detection_confidence: float = 0.25  # lowest score handed to the tracker (ByteTrack uses low-score boxes)
    min_track_frames: int = 25  # tracks with fewer frames are dropped (official MIN_NUM_FRAMES)
    max_gap_frames: int = 30  # detection gaps up to this many frames are filled by box interpolation;
    # a longer gap splits the track into two tracks
    batch_frames: int = 16  # frames handed to YOLO at once


@dataclass(frozen=True)
class CropConfig:
    bbox_scale: float = 1.2  # official: crop side = 1.2 × max(box w, box h)
    crop_size: int = 224


@dataclass(frozen=True)
class WindowConfig:
    seqlen: int = 16
    windowing: Windowing = "ours"  # "official" = edge frames from one frame repeated 16× (parity mode)
    batch_windows: int = 64  # windows per network call


@dataclass(frozen=True)
class CameraConfig:
    focal_length_px: Optional[float] = None  # None: estimate as the image diagonal sqrt(W² + H²)
    sensor_width_mm: float = 36.0  # Blender camera sensor used to express the focal length in mm


@dataclass(frozen=True)
class SmoothingConfig:
    """Temporal smoothing of the network output (a One-Euro filter on rotations and translation)."""

    enabled: bool = True
    min_cutoff_hz: float = 1.0  # lower = smoother when still
    beta: float = 0.5  # higher = less lag when moving fast
    translation_min_cutoff_hz: float = 0.5
    derivative_cutoff_hz: float = 1.0  # low-pass on the speed estimate that drives the adaptive cutoff
    zero_phase: bool = True  # run forwards and backwards and average (no lag; the whole track is known)


@dataclass(frozen=True)
class CaptureConfig:
    """Everything one capture needs besides the video path."""

    models_dir: Optional[str] = None  # None: $TCMR_MOCAP_MODELS, else <repo>/models
    device: Device = "auto"
    track: str = "all"  # "all" or a track id (as printed by the tracker)
    frame_start: int = 0  # first video frame to process (inclusive)
    frame_end: Optional[int] = None  # last video frame to process (inclusive); None = to the end
    target_fps: Optional[float] = None  # process frames at about this rate (None = every frame)
    smpl_path: Optional[str] = None  # explicit SMPL file; None: models dir, else the checkpoint's copy
    save_vertices: bool = False  # store per-frame SMPL vertices/joints49 in the result (large)
    feature_batch: int = 32  # crops per ResNet-50 call
    decode_chunk: int = 64  # frames decoded and processed together (memory does not grow with video length)
    detections_path: Optional[str] = None  # person boxes from a .json/.npz file instead of YOLO (see core.tracking)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
