"""Motion files -> :class:`SceneMotion`, the one structure the scene builder consumes. numpy only (no bpy).

Readers:

- ours: the ``.npz`` of ``core.result.MotionResult`` (camera frame, with video size, focal length, timestamps);
- the official TCMR demo output ``.pkl`` (camera frame; ``transl`` from ``pred_cam`` + crop boxes, the image
  size from ``orig_cam``, 29.97 fps as the demo resamples every video to it);
- AMASS-style ``.npz`` (``poses`` (T, 72) SMPL or (T, 156) SMPL-H or (T, 165) SMPL-X, ``trans`` (T, 3),
  ``betas``, ``mocap_framerate``): Z-up world, no camera. SMPL-H/X bodies keep their 22 body joints; SMPL's
  hand joints 22/23 stay at identity, and the first 10 betas drive the SMPL body (an approximation: SMPL-H/X
  shape spaces are not SMPL's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ...core import rotations
from ...core.capture.camera import cam_to_transl, estimate_focal_length_px, image_size_from_orig_cam
from ...core.config import CameraConfig
from ...core.errors import InvalidMotionFileError
from ...core.result import MotionResult
from ...core.npz_reader import read_npz_members
from ...core.result_schema import looks_like_result
from ...core.skeleton import NUM_BETAS, NUM_SMPL_JOINTS, SMPLH_NUM_BODY_JOINTS

DATA_FRAME_OPENCV_CAMERA = "opencv_camera"  # x right, y down, z forward (TCMR, ours)
DATA_FRAME_Z_UP = "z_up"  # already Blender's world axes (AMASS)

TCMR_DEMO_FPS = 30000.0 / 1001.0  # the official demo resamples every video with ffmpeg -r 30000/1001
_TCMR_PKL_KEYS = ("pose", "betas", "pred_cam", "orig_cam", "bboxes", "frame_ids")
_AMASS_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps")
_AMASS_KEYS = ("poses", "trans", "betas", *_AMASS_FPS_KEYS)


@dataclass
class BodyTrack:
    """One person. N rows, not necessarily contiguous frames."""

    track_id: int
    frame_ids: np.ndarray  # (N,) int64   source frame index of each row
    times_s: np.ndarray  # (N,) float64   presentation time of each row
    rotmat: np.ndarray  # (N, 24, 3, 3) float64   SMPL local rotations; joint 0 relative to the data frame
    transl: np.ndarray  # (N, 3) float64   SMPL origin in the data frame, metres
    betas: np.ndarray  # (10,) float64   the person's shape
    rest_joints: Optional[np.ndarray] = None  # (24, 3) SMPL frame, for ``betas``; None: from the SMPL file
    v_shaped: Optional[np.ndarray] = None  # (6890, 3) SMPL frame rest mesh (optional)
    contact: Optional[np.ndarray] = None  # (N, 4) bool foot contacts (refined results: core.motion.contacts order)
    hand_pose_aa: Optional[np.ndarray] = None  # (N, 2, 15, 3) float64 finger joints (ours, with --hands)
    face_blendshapes: Optional[np.ndarray] = None  # (N, 52) float64 ARKit weights (ours, with --face)


@dataclass
class SceneMotion:
    """Everything the scene builder needs, whatever file it came from."""

    name: str  # names the actions/objects: "walk.mp4" -> action "walk.mp4 · track 1"
    source_key: str  # identifies the source: a re-import of the same key replaces the previous result
    data_frame: str  # DATA_FRAME_OPENCV_CAMERA or DATA_FRAME_Z_UP
    fps: float  # source frame rate (nominal)
    num_frames: int  # frames in the source (scene frame range)
    tracks: list[BodyTrack] = field(default_factory=list)
    video_path: Optional[str] = None  # footage for the camera background
    width: Optional[int] = None  # image size and focal length: present for camera-frame data
    height: Optional[int] = None
    focal_length_px: Optional[float] = None
    smpl_faces: Optional[np.ndarray] = None  # (13776, 3)
    smpl_lbs_weights: Optional[np.ndarray] = None  # (6890, 24)
    # refined results with an upright world frame (core.motion.floor): x_world = R x_cam + cam_position_world
    R_world_from_cam: Optional[np.ndarray] = None  # (3, 3)
    cam_position_world: Optional[np.ndarray] = None  # (3,) camera centre, floor at Z = 0
    motion_fps: Optional[float] = None  # rows resampled to this rate (the scene runs at it)
    timestamps_s: Optional[np.ndarray] = None  # (num_frames,) float64 time of every video frame (ours)
    decoded_frames: Optional[int] = None  # how many of them the capture decoded (the rest: nominal rate)

    @property
    def R_world_from_data(self) -> np.ndarray:
        """(3, 3): data frame -> Blender world (camera at the origin looking along +Y for camera data, or
        pitched/rolled above a level floor when the result carries an upright world frame)."""
        if self.data_frame == DATA_FRAME_OPENCV_CAMERA:
            if self.R_world_from_cam is not None:
                return np.asarray(self.R_world_from_cam, dtype=np.float64).copy()
            return rotations.R_BLENDER_FROM_OPENCV.copy()
        return np.eye(3)

    @property
    def world_offset(self) -> np.ndarray:
        """(3,): where the data frame's origin (the camera) sits in the world."""
        if self.data_frame == DATA_FRAME_OPENCV_CAMERA and self.cam_position_world is not None:
            return np.asarray(self.cam_position_world, dtype=np.float64).copy()
        return np.zeros(3)


# ------------------------------------------------------------------------------------------- dispatch
def load_motion(path) -> SceneMotion:
    """Read any supported motion file. Raises InvalidMotionFileError (one line) when it is none of them."""
    path = Path(path)
    if not path.is_file():
        raise InvalidMotionFileError(f"motion file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if looks_like_result(path):  # ours: through the one validator (core/result_schema.py)
            return from_motion_result(MotionResult.load(path), path)
        data = read_npz_members(path, _AMASS_KEYS)  # only these, within the same size limits
        if "poses" in data:
            return from_amass_arrays(data, path)
        raise InvalidMotionFileError(
            f"{path} is neither a TCMR Mocap result (format_version) nor an AMASS file (poses/trans/betas)"
        )
    if suffix in (".pkl", ".pickle", ".joblib"):
        from .tcmr_pickle import load_tcmr_pickle

        return from_tcmr_output(load_tcmr_pickle(path), path)
    raise InvalidMotionFileError(f"{path}: unknown motion file type {suffix!r} (expected .npz or .pkl)")


# ------------------------------------------------------------------------------------------- ours
def resolve_video_path(video: str, result_file=None) -> str:
    """The footage of a result: an absolute path as it is; a relative one against the result file's folder (where
    it travels with the result) when the video is there, else as the working directory sees it (older files)."""
    if not video or os.path.isabs(video) or result_file is None:
        return video
    beside = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(os.fspath(result_file))), video))
    return beside if os.path.exists(beside) or not os.path.exists(video) else os.path.abspath(video)


def _source_name(meta) -> str:
    """The file name a result without footage was made from (``meta["source"]["file"]``, e.g. a BVH turned into
    SMPL by core.formats), or ""."""
    source = meta.get("source") if isinstance(meta, dict) else None
    file = source.get("file") if isinstance(source, dict) else None
    return os.path.basename(str(file)) if file else ""


def from_motion_result(result: MotionResult, result_file=None) -> SceneMotion:
    """Our capture result (camera frame). ``result_file``: where it was read from (relative video paths are
    relative to its folder)."""
    timestamps = np.asarray(result.timestamps_s, dtype=np.float64)
    tracks = []
    for t in result.tracks:
        frame_ids = np.asarray(t.frame_ids, dtype=np.int64)
        if t.times_s is not None:  # refined rows (possibly resampled) carry their own times
            times = np.asarray(t.times_s, dtype=np.float64)
        elif timestamps.shape[0] > int(frame_ids.max(initial=-1)):
            times = timestamps[frame_ids]
        else:  # no per-frame timestamps: nominal rate
            times = frame_ids / result.fps
        tracks.append(BodyTrack(
            track_id=int(t.track_id),
            frame_ids=frame_ids,
            times_s=times,
            rotmat=np.asarray(t.rotmat, dtype=np.float64),
            transl=np.asarray(t.transl_cam, dtype=np.float64),
            betas=np.asarray(t.mean_betas, dtype=np.float64),
            rest_joints=None if t.rest_joints is None else np.asarray(t.rest_joints, dtype=np.float64),
            v_shaped=None if t.v_shaped is None else np.asarray(t.v_shaped, dtype=np.float64),
            contact=None if t.contact is None else np.asarray(t.contact, dtype=bool),
            hand_pose_aa=None if t.hand_pose_aa is None else np.asarray(t.hand_pose_aa, dtype=np.float64),
            face_blendshapes=None if t.face_blendshapes is None else np.asarray(t.face_blendshapes, dtype=np.float64),
        ))
    video = resolve_video_path(str(result.video_path), result_file)
    decoded = result.meta.get("timestamps_decoded_frames")
    return SceneMotion(
        name=os.path.basename(video) or _source_name(result.meta) or "capture",
        source_key=_key(video) if video else _key(result_file) if result_file is not None else f"motion:{id(result)}",
        data_frame=DATA_FRAME_OPENCV_CAMERA,
        fps=float(result.fps),
        num_frames=int(result.num_frames),
        tracks=tracks,
        video_path=video,
        width=int(result.width),
        height=int(result.height),
        focal_length_px=float(result.focal_length_px),
        smpl_faces=result.smpl_faces,
        smpl_lbs_weights=result.smpl_lbs_weights,
        R_world_from_cam=result.R_world_from_cam,
        cam_position_world=result.cam_position_world,
        motion_fps=result.motion_fps,
        timestamps_s=timestamps if timestamps.shape[0] == int(result.num_frames) else None,
        decoded_frames=int(decoded) if isinstance(decoded, (int, float)) else None,
    )


# ------------------------------------------------------------------------------------------- TCMR demo
def from_tcmr_output(data: dict, path) -> SceneMotion:
    """The official demo's ``{track_id: {pred_cam, orig_cam, pose, betas, bboxes, frame_ids, ...}}``."""
    path = Path(path)
    rows = []
    for index, tid in enumerate(sorted(data, key=_track_order)):
        d = data[tid]
        missing = [k for k in _TCMR_PKL_KEYS if d.get(k) is None]
        if missing:
            raise InvalidMotionFileError(f"{path}: track {tid} lacks {', '.join(missing)} (not a TCMR demo output?)")
        pose = np.asarray(d["pose"], dtype=np.float64).reshape(-1, NUM_SMPL_JOINTS, 3)  # (N, 24, 3)
        arrays = {
            "cam": np.asarray(d["pred_cam"], dtype=np.float64).reshape(-1, 3),
            "orig_cam": np.asarray(d["orig_cam"], dtype=np.float64).reshape(-1, 4),
            "boxes": np.asarray(d["bboxes"], dtype=np.float64).reshape(-1, 4),  # cx, cy, 1.2·side, 1.2·side
            "frame_ids": np.asarray(d["frame_ids"], dtype=np.int64).reshape(-1),
            "betas": np.asarray(d["betas"], dtype=np.float64).reshape(pose.shape[0], -1)[:, :NUM_BETAS],
        }
        if any(a.shape[0] != pose.shape[0] for a in arrays.values()):
            raise InvalidMotionFileError(f"{path}: track {tid} has arrays of different lengths")
        track_id = int(tid) if isinstance(tid, (int, np.integer)) else index + 1
        rows.append((track_id, pose, arrays))
    # the image size the demo ran on, which the file stores only inside orig_cam
    width, height = image_size_from_orig_cam(np.concatenate([a["cam"] for _, _, a in rows]),
                                             np.concatenate([a["boxes"][:, :3] for _, _, a in rows]),
                                             np.concatenate([a["orig_cam"] for _, _, a in rows]))
    focal = estimate_focal_length_px(width, height, CameraConfig().focal_length_px)
    tracks = [
        BodyTrack(
            track_id=track_id,
            frame_ids=a["frame_ids"],
            times_s=a["frame_ids"] / TCMR_DEMO_FPS,
            rotmat=rotations.axis_angle_to_rotmat(pose),
            transl=cam_to_transl(a["cam"], a["boxes"][:, :3], width, height, focal),
            betas=a["betas"].mean(axis=0),
        )
        for track_id, pose, a in rows
    ]
    name = path.parent.name if path.stem == "tcmr_output" and path.parent.name else path.stem
    return SceneMotion(
        name=name,
        source_key=_key(path),
        data_frame=DATA_FRAME_OPENCV_CAMERA,
        fps=TCMR_DEMO_FPS,
        num_frames=int(max(int(t.frame_ids.max(initial=0)) for t in tracks) + 1),
        tracks=tracks,
        width=width,
        height=height,
        focal_length_px=focal,
    )


# ------------------------------------------------------------------------------------------- AMASS
def from_amass_arrays(data: dict, path) -> SceneMotion:
    """AMASS-style arrays (Z-up world, no camera)."""
    path = Path(path)
    poses = np.asarray(data["poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] not in (72, 156, 165):
        raise InvalidMotionFileError(
            f"{path}: 'poses' has shape {poses.shape}; expected (T, 72) SMPL, (T, 156) SMPL-H or (T, 165) SMPL-X"
        )
    T = poses.shape[0]
    if T == 0:
        raise InvalidMotionFileError(f"{path}: 'poses' has no frames")
    pose_aa = np.zeros((T, NUM_SMPL_JOINTS, 3))
    if poses.shape[1] == 72:
        pose_aa[:] = poses.reshape(T, NUM_SMPL_JOINTS, 3)
    else:  # SMPL-H / SMPL-X: the 22 body joints; SMPL's hand joints 22/23 stay at identity
        pose_aa[:, :SMPLH_NUM_BODY_JOINTS] = poses[:, : 3 * SMPLH_NUM_BODY_JOINTS].reshape(T, -1, 3)
    trans = np.asarray(data["trans"], dtype=np.float64) if "trans" in data else np.zeros((T, 3))
    if trans.shape != (T, 3):
        raise InvalidMotionFileError(f"{path}: 'trans' has shape {trans.shape}, expected ({T}, 3)")
    betas = np.zeros(NUM_BETAS)
    if "betas" in data:
        b = np.asarray(data["betas"], dtype=np.float64).reshape(-1, np.shape(data["betas"])[-1])
        b = b.mean(axis=0)[:NUM_BETAS]
        betas[: b.shape[0]] = b
    fps_key = next((k for k in _AMASS_FPS_KEYS if k in data), None)
    fps = float(data[fps_key]) if fps_key else 30.0
    if not fps > 0:
        raise InvalidMotionFileError(f"{path}: frame rate {fps} is not positive")
    frame_ids = np.arange(T, dtype=np.int64)
    track = BodyTrack(
        track_id=1,
        frame_ids=frame_ids,
        times_s=frame_ids / fps,
        rotmat=rotations.axis_angle_to_rotmat(pose_aa),
        transl=trans,
        betas=betas,
    )
    return SceneMotion(
        name=path.name,
        source_key=_key(path),
        data_frame=DATA_FRAME_Z_UP,
        fps=fps,
        num_frames=T,
        tracks=[track],
    )


def _key(path) -> str:
    return os.path.normcase(os.path.abspath(os.fspath(path)))


def _track_order(key):
    """Integer track ids in numeric order, anything else after them by name."""
    return (0, int(key), "") if isinstance(key, (int, np.integer)) else (1, 0, str(key))
