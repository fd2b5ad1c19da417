"""``MotionResult``: what a capture produces, as plain numpy, and its ``.npz`` file format.

File format (``format_version`` 2; every array is saved without pickling, so ``np.load(..., allow_pickle=False)``
reads it and a load gives back bit-identical arrays):

======================  ==================  ==========================================================
key                     shape / dtype       meaning
======================  ==================  ==========================================================
format_version          () int64            2 (1: files without fingers/face; they load unchanged)
video_path              () str              the captured video, as given
fps                     () float64          the video's nominal frame rate
width, height           () int64            frame size in pixels
num_frames              () int64            frames in the video
focal_length_px         () float64          focal length used for ``transl_cam`` (pixels)
timestamps_s            (num_frames,) f64   presentation time of every video frame (variable-fps safe)
track_ids               (K,) int64          the tracks, in order
smpl_faces              (13776, 3) int64    SMPL triangles (when an SMPL body was available)
smpl_lbs_weights        (6890, 24) float32  SMPL skinning weights (idem)
meta_json               () str              free-form JSON: versions, windowing, options; ``refine``: the
                                            refine stage's options, floor, warnings and timing
R_world_from_cam        (3, 3) float64      (refined with --upright) upright world frame:
                                            x_world = R x_cam + cam_position_world; Z up, floor at Z = 0
cam_position_world      (3,) float64        (idem) the camera centre = (0, 0, camera height)
motion_fps              () float64          (refined with --fps) the rows' rate; absent: video frames
hand_joint_names        (15,) str           (with fingers) the 15 finger joints of hand_pose_aa, SMPL-X order
blendshape_names        (52,) str           (with the face) the ARKit names of face_blendshapes
track_<id>/<field>      see TrackMotion     one group per track
======================  ==================  ==========================================================

Refined tracks (``core.motion.refine``) also hold ``times_s`` (N,) f64 (the time of each row: with ``--fps``
rows sit on k / motion_fps and ``frame_ids`` is the nearest video frame), ``contact`` (N, 4) bool (left heel,
right heel, left ball or toe, right ball or toe on the floor: ``core.motion.soles``) and the raw network output the refine started from as
``raw_<field>`` (N0 rows: frame_ids, bbox_xyxy, bbox_cxcys, interpolated, rotmat, pose_aa, betas, cam,
orig_cam, transl_cam, scores; verts/joints49 only when the rows were resampled). ``rotmat``/``pose_aa``/
``transl_cam`` stay in the camera frame after refining. Files without these keys (format 1 of earlier
versions) load unchanged and are their own raw output.

Fingers and face (``--hands``/``--face``, :mod:`core.extremities`): tracks may hold ``hand_pose_aa`` (N, 2, 15, 3),
``hand_conf`` (N, 2), ``face_blendshapes`` (N, 52), ``face_conf`` (N,) and ``head_rot_aa`` (N, 3) (refined, and
raw as ``raw_<name>``); their shapes, dtypes, ranges and meaning are defined once, in
``core.extremities.layout.RESULT_ARRAYS``. A file with them is format 2; one without them is written as format 1,
byte for byte what earlier versions wrote.

Every read goes through :mod:`core.result_schema` (the one validator: shapes, dtypes, sizes before decompressing,
finite plausible values); :meth:`MotionResult.save` runs the same checks before writing.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from typing import Optional

import numpy as np

from . import result_schema
from .errors import InvalidResultError, OutputNotWritableError
# the format's facts live in the member table: the version read, the fingers/face members, the per-row fields
from .result_members import EXTREMITY_FIELDS, FORMAT_VERSION, ROW_FIELDS  # noqa: F401


@dataclass
class TrackMotion:
    """One tracked person. N = number of frames in the track (not necessarily contiguous in the video).

    Every rotation is in the OpenCV camera frame (x right, y down, z forward): ``rotmat[:, 0]`` is the
    global orientation relative to the camera, ``rotmat[:, 1:]`` are SMPL's local joint rotations.
    """

    track_id: int
    frame_ids: np.ndarray  # (N,) int64   video frame index of each row
    bbox_xyxy: np.ndarray  # (N, 4) float32   tracker box, source pixels
    bbox_cxcys: np.ndarray  # (N, 3) float32   crop box: centre and side (already × bbox scale)
    interpolated: np.ndarray  # (N,) bool   True where the box was filled in over a detection gap
    rotmat: np.ndarray  # (N, 24, 3, 3) float32
    pose_aa: np.ndarray  # (N, 24, 3) float32   the same rotations as axis-angle (SMPL's 72-d pose)
    betas: np.ndarray  # (N, 10) float32
    cam: np.ndarray  # (N, 3) float32   weak-perspective (s, tx, ty) of the 224 crop
    orig_cam: np.ndarray  # (N, 4) float32   (sx, sy, tx, ty) of the original image
    transl_cam: np.ndarray  # (N, 3) float32   SMPL origin in the OpenCV camera frame, metres
    scores: np.ndarray  # (N, 3) float32   attention weights (past, current, future)
    rest_joints: Optional[np.ndarray] = None  # (24, 3) float32   rest joints for the mean betas, SMPL frame
    v_shaped: Optional[np.ndarray] = None  # (6890, 3) float32   rest mesh for the mean betas (optional)
    verts: Optional[np.ndarray] = None  # (N, 6890, 3) float32   posed vertices, no translation (optional)
    joints49: Optional[np.ndarray] = None  # (N, 49, 3) float32   official 49 joints (optional)
    # written by the refine stage (core.motion); absent in older files:
    times_s: Optional[np.ndarray] = None  # (N,) float64   time of each row (None: timestamps_s[frame_ids])
    contact: Optional[np.ndarray] = None  # (N, 4) bool   foot contacts: left/right ankle, left/right toe
    raw: Optional[dict] = None  # the network output the refine started from: {field: (N0, ...)}, saved as raw_<field>
    # fingers and face (core.extremities; shapes and meaning: core.extremities.layout.RESULT_ARRAYS):
    hand_pose_aa: Optional[np.ndarray] = None  # (N, 2, 15, 3) float32   left/right finger joints, axis-angle
    hand_conf: Optional[np.ndarray] = None  # (N, 2) float32   0 = that hand was not seen in the row
    face_blendshapes: Optional[np.ndarray] = None  # (N, 52) float32   ARKit weights (blendshape_names order)
    face_conf: Optional[np.ndarray] = None  # (N,) float32   0 = no face seen in the row
    head_rot_aa: Optional[np.ndarray] = None  # (N, 3) float32   head relative to the neck, from the face

    def raw_view(self) -> "TrackMotion":
        """The unrefined track (the raw network output): what refining starts from. A file without ``raw_*``
        keys (format 1 from an earlier version, or never refined) is its own raw view."""
        if not self.raw:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(TrackMotion)}
        values.update(times_s=None, contact=None, raw=None)
        values.update({k: v for k, v in self.raw.items() if k in ROW_FIELDS})
        return TrackMotion(**values)

    @property
    def mean_betas(self) -> np.ndarray:
        """(10,) float32: the person's shape, averaged over the track."""
        return self.betas.mean(axis=0).astype(np.float32)

    def __len__(self) -> int:
        return int(self.frame_ids.shape[0])


@dataclass
class MotionResult:
    video_path: str
    fps: float
    width: int
    height: int
    num_frames: int
    focal_length_px: float
    timestamps_s: np.ndarray  # (num_frames,) float64
    tracks: list[TrackMotion] = field(default_factory=list)
    smpl_faces: Optional[np.ndarray] = None  # (13776, 3) int64
    smpl_lbs_weights: Optional[np.ndarray] = None  # (6890, 24) float32
    meta: dict = field(default_factory=dict)
    # written by the refine stage with --upright (absent: the camera frame is the only frame):
    R_world_from_cam: Optional[np.ndarray] = None  # (3, 3) float64   x_world = R x_cam + cam_position_world
    cam_position_world: Optional[np.ndarray] = None  # (3,) float64   camera centre; world Z up, floor at Z = 0
    motion_fps: Optional[float] = None  # rows resampled to this rate (--fps); None: rows are video frames

    def track(self, track_id: int) -> TrackMotion:
        for t in self.tracks:
            if t.track_id == track_id:
                return t
        raise KeyError(track_id)

    # ------------------------------------------------------------------------------------------- saving
    @property
    def has_extremities(self) -> bool:
        """True when a track holds fingers or face (the file is then format 2)."""
        return any(getattr(t, name) is not None or (t.raw and name in t.raw)
                   for t in self.tracks for name in EXTREMITY_FIELDS)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION if self.has_extremities else 1, dtype=np.int64),
            "video_path": np.array(str(self.video_path)),
            "fps": np.array(self.fps, dtype=np.float64),
            "width": np.array(self.width, dtype=np.int64),
            "height": np.array(self.height, dtype=np.int64),
            "num_frames": np.array(self.num_frames, dtype=np.int64),
            "focal_length_px": np.array(self.focal_length_px, dtype=np.float64),
            "timestamps_s": np.asarray(self.timestamps_s, dtype=np.float64),
            "track_ids": np.array([t.track_id for t in self.tracks], dtype=np.int64),
            "meta_json": np.array(json.dumps(self.meta, sort_keys=True)),
        }
        if self.smpl_faces is not None:
            out["smpl_faces"] = np.asarray(self.smpl_faces)
        if self.smpl_lbs_weights is not None:
            out["smpl_lbs_weights"] = np.asarray(self.smpl_lbs_weights)
        if self.R_world_from_cam is not None:
            out["R_world_from_cam"] = np.asarray(self.R_world_from_cam, dtype=np.float64)
            out["cam_position_world"] = np.asarray(self.cam_position_world, dtype=np.float64)
        if self.motion_fps is not None:
            out["motion_fps"] = np.array(self.motion_fps, dtype=np.float64)
        if self.has_extremities:
            from .extremities.layout import ARKIT_BLENDSHAPE_NAMES, HAND_JOINT_NAMES

            if any(t.hand_pose_aa is not None for t in self.tracks):
                out["hand_joint_names"] = np.array(HAND_JOINT_NAMES)
            if any(t.face_blendshapes is not None for t in self.tracks):
                out["blendshape_names"] = np.array(ARKIT_BLENDSHAPE_NAMES)
        for t in self.tracks:
            for f in fields(TrackMotion):
                if f.name == "track_id":
                    continue
                value = getattr(t, f.name)
                if f.name == "raw":
                    for name, raw_value in (value or {}).items():
                        out[f"track_{t.track_id}/raw_{name}"] = np.asarray(raw_value)
                elif value is not None:
                    out[f"track_{t.track_id}/{f.name}"] = np.asarray(value)
        return out

    def save(self, path: str) -> None:
        """Write atomically: a temporary file next to ``path`` is renamed into place, so an interrupted
        save never leaves a half-written file under the final name. The arrays are checked first
        (:mod:`core.result_schema`): NaN/inf or anything a reader would refuse raises InvalidResultError and
        nothing is written."""
        path = os.fspath(path)
        arrays = self.to_arrays()
        found = result_schema.problem(arrays)
        if found is not None:
            raise InvalidResultError(f"nothing was written to {path}: the result is not valid ({found}); this is a "
                                     "bug or a broken model file, please report it with the input")
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise OutputNotWritableError(f"output folder does not exist: {folder} (create it or choose another -o path)")
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.partial")
        try:
            with open(tmp, "wb") as fh:
                write_npz(fh, arrays)
                fh.flush()
                os.fsync(fh.fileno())  # on disk before the rename: a power cut cannot leave an empty OUT.npz
            os.replace(tmp, path)
        except PermissionError as exc:
            raise OutputNotWritableError(f"cannot write {path}: permission denied (choose a writable -o path)") from exc
        except OSError as exc:
            raise OutputNotWritableError(f"cannot write {path}: {exc.strerror or exc} (choose a writable -o path)") from exc
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    @classmethod
    def load(cls, file, source: Optional[str] = None) -> "MotionResult":
        """Read a file written by :meth:`save` (a path or a binary file object), through the one validator
        (:func:`core.result_schema.read_result_arrays`). Raises InvalidMotionFileError (one line) for anything
        else."""
        source = source or str(file)
        return cls._from_checked(result_schema.read_result_arrays(file, source))

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray], source: str = "<arrays>") -> "MotionResult":
        """From arrays in memory, checked like a file (InvalidMotionFileError)."""
        result_schema.check_arrays(data, source)
        return cls._from_checked(data)

    @classmethod
    def _from_checked(cls, data: dict[str, np.ndarray]) -> "MotionResult":
        tracks = []
        for tid in data["track_ids"].tolist():
            kwargs = {"track_id": int(tid)}
            for f in fields(TrackMotion):
                if f.name == "track_id":
                    continue
                if f.name == "raw":
                    prefix = f"track_{tid}/raw_"
                    kwargs["raw"] = {k: data[prefix + k] for k in ROW_FIELDS if prefix + k in data} or None
                else:
                    kwargs[f.name] = data.get(f"track_{tid}/{f.name}")
            tracks.append(TrackMotion(**kwargs))
        return cls(
            video_path=str(data["video_path"]),
            fps=float(data["fps"]),
            width=int(data["width"]),
            height=int(data["height"]),
            num_frames=int(data["num_frames"]),
            focal_length_px=float(data["focal_length_px"]),
            timestamps_s=data["timestamps_s"],
            tracks=tracks,
            smpl_faces=data.get("smpl_faces"),
            smpl_lbs_weights=data.get("smpl_lbs_weights"),
            meta=json.loads(str(data.get("meta_json", "{}"))),
            R_world_from_cam=data.get("R_world_from_cam"),
            cam_position_world=data.get("cam_position_world"),
            motion_fps=float(data["motion_fps"]) if "motion_fps" in data else None,
        )


def write_npz(fh, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez(fh, **arrays)`` writes (stored, zip64 members, no pickles), but the zip is closed even
    when a write fails (a full disk): np.savez leaves its ZipFile open, and its ``__del__`` then prints a
    traceback ("seek of closed file") after our one-line error."""
    with zipfile.ZipFile(fh, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
