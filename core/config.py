"""Every tunable default, once. Frozen dataclasses; the CLI and the Blender properties read defaults from here.

Change a default here and it changes everywhere (CLI help, add-on UI, pipeline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

Windowing = Literal["ours", "official"]
Device = Literal["auto", "cpu", "cuda", "mps"]  # core.runtime.device.DEVICE_CHOICES


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
    batch_windows: int = 256  # windows per TCMR call on the CPU (fewer, larger ops: ~1.3-1.6× faster than 64;
    # results equal to float32 rounding); a GPU takes at least 1024


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


# ---------------------------------------------------------------------- refine stage (core/motion)
FootLockMode = Literal["auto", "always", "never", "ground"]
FaceCalibration = Literal["standard", "auto", "none"]  # core.extremities.calibration.FACE_CALIBRATIONS
SmoothingMethod = Literal["adaptive", "one-euro", "slerp-average", "none"]


@dataclass(frozen=True)
class ContactConfig:
    """Foot contacts: a sole point (heel, ball or toe) is on the floor when it is low and slow (with hysteresis)."""

    height_on_m: float = 0.04  # a sole point enters contact below this height above the floor (and slow enough)
    height_off_m: float = 0.07  # leave contact above this height
    speed_on_mps: float = 0.75  # enter contact below this speed (m/s, along the floor, over ±2 frames)
    speed_off_mps: float = 1.0  # leave contact above this speed
    min_contact_s: float = 0.1  # shorter contacts are dropped
    max_gap_s: float = 0.07  # shorter breaks inside a contact are bridged
    # a foot resting on something above the floor (a step, a box, a stage, a climbing frame; no sole on the floor
    # then, the pelvis 35 cm above: contacts.detect_raised_rests), held at its own height by the foot lock:
    raised_min_s: float = 0.3  # ... still for this long (longer than a jump's apex); 0: off
    raised_speed_on_mps: float = 0.5  # ... enters below this 3-D speed ...
    raised_speed_off_mps: float = 0.7  # ... and leaves above this one
    raised_lowest_m: float = 0.3  # ... within this of the body's lowest sole point (two rungs of a frame: stay 2x)
    raised_level_m: float = 0.04  # ... its heights within this over the rest (10th to 90th percentile)


@dataclass(frozen=True)
class FootLockConfig:
    """auto: pin feet during detected contacts; always: whenever a foot is near the floor (no speed test);
    ground: keep feet on the floor (no pinning); never: leave the feet alone."""

    mode: FootLockMode = "auto"
    blend_s: float = 0.12  # pins fade in after landing / out before lift-off over this time (no pops)
    blend_outside: float = 0.9  # share of the fade-in before the landing frame
    release_s: float = 0.1  # pins fade out over this time before lift-off ...
    release_outside: float = 0.9  # ... this share of it after the contact's last frame (0: released by then)
    slide_ok_m: float = 0.08  # a contact whose sole point strayed this far (rms) in the input is pinned fully ...
    slide_max_m: float = 0.2  # ... and not at all beyond this (a pivot, a shuffle, a false contact)
    stray_ok_m: float = 0.08  # a pin holds fully while the captured point stays this near the spot it rests at ...
    stray_max_m: float = 0.2  # ... and lets go beyond this, frame by frame (a foot sliding or pivoting over the floor)
    root_share: float = 0.5  # part of the correction along the floor taken by moving the root (the rest by leg IK), 0..1
    root_smoothing_s: float = 0.1  # the root's correction along the floor is averaged over this window (leg IK takes the rest)
    root_height_smoothing_s: float = 1.0  # ... and its height over this one (only a slow trend lifts the body)
    soft_reach: float = 0.15  # leg IK: changes of reach within this share of the leg's length from straight are eased
    max_carry_s: float = 0.15  # the root's correction bridges breaks between contacts up to this long; longer
    # flights fade to no correction (nothing from one landing is carried through a jump)
    contact: ContactConfig = field(default_factory=ContactConfig)


@dataclass(frozen=True)
class FloorConfig:
    """The floor plane, fitted robustly to the resting sole points (heel, ball, toe) of every track."""

    upright: bool = True  # store a world frame with Z up and the floor at Z = 0 (camera pitch/roll/height)
    still_speed_mps: float = 0.7  # a sole point rests while slower than this (3-frame averaged path, ±2 frames)
    min_still_s: float = 0.08  # ... for at least this long
    inlier_m: float = 0.02  # robust fit: points farther than this from the plane are outliers
    min_span_m: float = 0.08  # a trial plane's three points must span at least this (no thin slivers)
    lowest_tol_m: float = 0.015  # at each frame only the points of a foot within this of its lowest one count
    prior_weight: float = 0.003  # light ridge (m²) towards the prior while the fit picks its points (a straight line)
    footprint_m: float = 0.08  # resting contacts whose centres lie this close are one footprint (one height error)
    footprint_error_m: float = 0.006  # least height error of a footprint (a recording's feet differ by a centimetre)
    leg_offset_error_m: float = 0.008  # each leg's footprints share one height offset of this (σ): the recorded
    # clips' left and right feet rest 11.7 mm apart (rms over 18 clips: √2 · 8.3 mm), so two lines of footprints
    # settle little of the tilt across them
    leg_angle_error_deg: float = 3.0  # a leg's angle error at the hip: a resting point's height error grows by this
    # times its reach from the hip along the floor, and the plane's fit weighs it by that (2-6° alike on the bench)
    feet_prior_error_deg: float = 2.0  # least error of the flat feet's mean up (its scatter over contacts adds)
    torso_prior_error_deg: float = 10.0  # error of the torso's up, or of a lying body's first plane, as a prior
    min_contact_frames: int = 8  # fewer frames with a resting sole than this: the floor cannot be estimated
    max_tilt_from_body_deg: float = 35.0  # plane normals farther than this from the prior (flat feet, else torso) are rejected
    search_from_body_deg: float = 80.0  # first planes are searched this far from the torso's up (a body lying down)
    high_confidence_deg: float = 0.75  # estimated tilt error up to this (and 4+ contacts): confidence high
    low_confidence_deg: float = 2.0  # estimated tilt error beyond this: confidence low (a warning)
    max_unsettled_error_deg: float = 5.0  # no flat foot and an estimated tilt error beyond this: no floor at all


@dataclass(frozen=True)
class ExtremityRefineConfig:
    """Fingers and face in the refine stage (core/motion/extremities.py): gaps, and the head from the face."""

    min_hand_conf: float = 0.3  # a hand counts as seen in a row from this confidence on
    hold_s: float = 0.3  # an unseen hand (face) keeps its last seen pose (weights) this long ...
    fade_s: float = 0.7  # ... then blends to the relaxed hand (the neutral face) over this time
    min_face_conf: float = 0.5  # the face turns the head bone in rows with at least this confidence
    head_weight: float = 1.0  # how far (0..1) the head bone follows the face there
    face_calibration: FaceCalibration = "standard"  # MediaPipe's scores -> ARKit weights (--face-calibration;
    # core/extremities/calibration.py): standard = fixed per-channel response maps (jawOpen, eyeBlink), auto = the
    # performer's resting face subtracted, then the maps, none = MediaPipe's raw scores
    neutral_share: float = 0.1  # auto: the share of a track's face rows, the calmest, that make its resting face
    neutral_min_rows: int = 30  # auto: tracks with fewer face rows get the standard maps alone


@dataclass(frozen=True)
class RefineConfig:
    """The refine stage after the network (``python -m core refine``, also run by captures)."""

    smoothing: SmoothingMethod = "adaptive"  # bench/RESULTS.md: the only one that never costs MPJPE on fast motion
    adaptive_max_half_s: float = 0.15  # adaptive: the widest fit reaches this far either side of a frame
    adaptive_gamma: float = 2.0  # adaptive: confidence width (in noise σ) of the window choice; lower = less smoothing
    adaptive_kappa: float = 2.0  # adaptive, rotations: Lepski's test (σ of two fits' difference); lower = less smoothing
    adaptive_level_frames: float = 1.0  # adaptive, rotations: Lepski's window choice averaged over this many frames
    one_euro: SmoothingConfig = field(default_factory=SmoothingConfig)  # its ``enabled`` is ignored here
    average_window: int = 5  # slerp-average: frames per window (odd; the paper's Table 5 average filter)
    fps: Optional[float] = None  # resample the motion to this rate (None: keep the rows as captured)
    foot_lock: FootLockConfig = field(default_factory=FootLockConfig)
    floor: FloorConfig = field(default_factory=FloorConfig)
    min_track_frames: int = 8  # contact detection and the floor need at least this many rows per track
    extremities: ExtremityRefineConfig = field(default_factory=ExtremityRefineConfig)  # fingers and face

    @property
    def adaptive(self) -> tuple[float, float, float, float]:
        """(max_half_s, gamma, kappa, level_frames): the adaptive smoothing's settings, as
        :func:`core.motion.smoothing.smooth_motion` takes them."""
        return self.adaptive_max_half_s, self.adaptive_gamma, self.adaptive_kappa, self.adaptive_level_frames


@dataclass(frozen=True)
class ExtremitiesConfig:
    """Fingers and face (core/extremities, MediaPipe): which parts to capture and how they are cropped."""

    hands: Optional[bool] = None  # None: when models/hand_landmarker.task is there; True: required; False: off
    face: Optional[bool] = None  # None: when models/face_landmarker.task is there; True: required; False: off
    hand_crop_m: float = 0.32  # side of the square crop around the body's hand joint, metres at its depth
    face_crop_m: float = 0.40  # side of the square crop around the body's head joint, metres at its depth
    crop_px: int = 256  # crops are resampled to this many pixels a side
    hands_per_crop: int = 1  # hands the landmarker may find in one crop; the one at the body's wrist is taken
    min_detection_confidence: float = 0.3  # MediaPipe's detection/presence/tracking thresholds
    fit_good_deg: float = 8.0  # a hand whose fitted pose misses the landmarks' bones by this mean angle or less
    fit_bad_deg: float = 30.0  # ... counts as fully seen; from this on as not seen (linear in between)


Precision = Literal["fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class SpeedConfig:
    """How fast versus how exact (``--fast``, ``--precision``, ``--detect-every``; README "Speed").

    The defaults are exact: the released networks' float32 numbers, the detector on every processed frame.
    """

    precision: Precision = "fp32"  # ResNet-50 features: fp32 (exact), bf16 (CPUs with avx512_bf16/AMX, GPUs),
    # fp16 (GPUs only); TCMR itself always runs in float32
    detect_every: int = 1  # run the detector on every k-th processed frame; boxes in between are interpolated
    overlap: bool = True  # decode (and detect) the next chunk in a second thread while the current one computes
    gpu_crops: bool = True  # on CUDA: cut and normalise the crops on the GPU (bilinear, like the CPU crop)
    stream_features: bool = True  # compute each row's features in pass 1, while its frame is decoded for
    # detection (pass 2 then decodes only frames of filled-in rows); same crops, same numbers
    lanes: Optional[int] = None  # CPU: split each detector / ResNet-50 batch over this many threads at once
    # (core.runtime.lanes; None = TCMR_LANES or 2, 1 = off); the numbers do not change


# what --fast sets (explicit --precision / --detect-every / --detector-size override it)
FAST_PRECISION: Precision = "bf16"
FAST_DETECT_EVERY = 3
FAST_DETECTOR_SIZE = 416


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
    detections_path: Optional[str] = None  # person boxes from a .json/.npz file instead of YOLO (core.capture.tracking)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    extremities: ExtremitiesConfig = field(default_factory=ExtremitiesConfig)  # fingers and face
    refine: RefineConfig = field(default_factory=RefineConfig)  # after the network; smoothing.enabled = False
    # (--no-smoothing) keeps the network output bit-exact: no smoothing and no foot lock
