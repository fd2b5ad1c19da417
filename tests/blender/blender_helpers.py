"""Helpers for the Blender tests: procedural SMPL motion, files of every supported format, a fake core,
and reading the evaluated pose back from Blender. numpy only at import time (bpy where a helper needs it).

Everything uses the add-on's own package (``tcmr_mocap``, set up by conftest.py) so the MotionResult class
is the one the add-on reads.
"""

from __future__ import annotations

import json
import os
import pickle
import stat
import sys
from pathlib import Path

import numpy as np

from tcmr_mocap.core import rotations
from tcmr_mocap.core.result import MotionResult, TrackMotion
from tcmr_mocap.core.skeleton import SMPL_JOINT_NAMES

R_X180 = np.diag([1.0, -1.0, -1.0])  # SMPL's y-up body seen by a camera (OpenCV axes): 180° about x



def enable_addon():
    """Enable the add-on (package ``tcmr_mocap``) in the current Blender session; returns its module. Test files
    call this (never ``import conftest``: another folder's conftest.py may own that module name)."""
    import addon_utils

    module = addon_utils.enable("tcmr_mocap", default_set=True, handle_error=None)
    assert module is not None, "the add-on did not enable"
    return module


def runtime_python() -> str:
    """The core's Python for tests that run the core as a subprocess: this one, or, in a light environment
    without torch (another Blender's bpy, see tests/test_blender_versions.py), ``$TCMR_RUNTIME_PYTHON``."""
    return os.environ.get("TCMR_RUNTIME_PYTHON") or sys.executable


def _has_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def _in_runtime(code: str, *args) -> str:
    """Run ``code`` (sys.argv[1:] = args, ``synthetic`` importable) in the core's Python; its stdout."""
    import subprocess

    tests = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([runtime_python(), "-c", f"import sys; sys.path.insert(0, {tests!r}); {code}",
                           *map(str, args)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def write_video(path, **kwargs) -> Path:
    """synthetic.write_synthetic_video, also where OpenCV is missing (Blender's own Python, a light bpy
    environment): then the core's Python writes the same file."""
    import synthetic

    if _has_cv2():
        return synthetic.write_synthetic_video(path, **kwargs)
    _in_runtime("import json, synthetic; synthetic.write_synthetic_video(sys.argv[1], **json.loads(sys.argv[2]))",
                path, json.dumps(kwargs))
    return Path(path)


def write_counter_video(path, **kwargs) -> Path:
    """synthetic.write_counter_video (frames that tell which one they are), in the core's Python if need be."""
    import synthetic

    if _has_cv2():
        return synthetic.write_counter_video(path, **kwargs)
    _in_runtime("import json, synthetic; synthetic.write_counter_video(sys.argv[1], **json.loads(sys.argv[2]))",
                path, json.dumps(kwargs))
    return Path(path)


def video_timing(video) -> tuple[float, np.ndarray]:
    """(nominal fps, (N,) time of every frame) as a capture reads the video (core.capture.video.VideoReader)."""
    code = ("import json; from core.capture.video import VideoReader; r = VideoReader(sys.argv[1])\n"
            "for _ in r.scan(decode=False): pass\n"
            "print(json.dumps([r.nominal_fps(), r.timestamps_s.tolist()]))")
    if _has_cv2():
        from tcmr_mocap.core.capture.video import VideoReader

        reader = VideoReader(str(video))
        for _ in reader.scan(decode=False):
            pass
        return reader.nominal_fps(), reader.timestamps_s
    import subprocess

    repo = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([runtime_python(), "-c", f"import sys; sys.path.insert(0, {repo!r}); {code}", str(video)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    fps, ts = json.loads(done.stdout.strip().splitlines()[-1])
    return fps, np.asarray(ts, dtype=np.float64)


def png_rgb(path) -> np.ndarray:
    """(H, W, 3) float in [0, 1] of an image file read by Blender, row 0 at the top (Blender stores images
    bottom-up)."""
    import bpy

    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
        return px.reshape(h, w, 4)[::-1, :, :3].copy()
    finally:
        bpy.data.images.remove(img)


def video_frames_rgb(video) -> np.ndarray:
    """Every frame of a video as (T, H, W, 3) float32 RGB in [0, 1] (OpenCV here, or in the core's Python)."""
    if not _has_cv2():
        out = Path(str(video) + ".frames.npy")
        _in_runtime("import numpy as np, cv2; c = cv2.VideoCapture(sys.argv[1]); f = []\n"
                    "while True:\n ok, x = c.read()\n if not ok: break\n f.append(x)\n"
                    "np.save(sys.argv[2], np.stack(f))", video, out)
        frames = np.load(out)
        out.unlink()
    else:
        import cv2

        cap, frames = cv2.VideoCapture(str(video)), []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        frames = np.stack(frames)
    return frames[..., ::-1].astype(np.float32) / 255.0

def rot(axis: str, angle) -> np.ndarray:
    """(..., 3, 3) rotation about a principal axis."""
    a = np.asarray(angle, dtype=np.float64)
    aa = np.zeros(a.shape + (3,))
    aa[..., "xyz".index(axis)] = a
    return rotations.axis_angle_to_rotmat(aa)


def procedural_motion(n_frames: int = 90, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A realistic sequence in SMPL's y-up world: a walk cycle, both arms raising, elbows bending, and the
    root turning a full 360° while walking along its heading.

    Returns (rotmat (T, 24, 3, 3) local rotations, transl (T, 3) SMPL origin, y-up world, metres).
    """
    t = np.arange(n_frames) / fps
    phase = 2.0 * np.pi * 1.0 * t  # 1 Hz gait
    raise_ = np.clip(t / t[-1], 0.0, 1.0)
    R = np.tile(np.eye(3), (n_frames, 24, 1, 1))
    heading = 2.0 * np.pi * t / t[-1]  # a full turn over the clip
    R[:, 0] = rot("y", heading) @ rot("x", 0.05 * np.sin(2 * phase))
    R[:, 1] = rot("x", -0.5 * np.sin(phase))  # left hip swings
    R[:, 2] = rot("x", 0.5 * np.sin(phase))
    R[:, 4] = rot("x", 0.6 * (1 - np.cos(phase)) / 2)  # knees flex
    R[:, 5] = rot("x", 0.6 * (1 + np.cos(phase)) / 2)
    R[:, 7] = rot("x", 0.2 * np.sin(phase))
    R[:, 8] = rot("x", -0.2 * np.sin(phase))
    R[:, 3] = rot("y", 0.15 * np.sin(phase))  # spine counter-rotation
    R[:, 9] = rot("x", 0.1 * np.sin(2 * phase))
    R[:, 15] = rot("y", 0.3 * np.sin(0.5 * phase))  # head looks around
    R[:, 16] = rot("z", -1.3 * raise_) @ rot("x", 0.3 * np.sin(phase))  # left arm raises
    R[:, 17] = rot("z", 1.3 * raise_) @ rot("x", -0.3 * np.sin(phase))
    R[:, 18] = rot("y", -1.2 * raise_)  # elbows bend
    R[:, 19] = rot("y", 1.2 * raise_)
    R[:, 20] = rot("z", 0.4 * np.sin(phase))
    forward = np.stack([np.sin(heading), np.zeros_like(t), np.cos(heading)], axis=-1)
    transl = np.cumsum(forward, axis=0) * (1.0 / fps)
    transl[:, 1] = 0.03 * np.sin(2 * phase)
    return R, transl


def random_motion(n_frames: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly random rotations for every joint and random translations."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n_frames, 24, 4))
    R = rotations.quat_wxyz_to_rotmat(q)
    return R, rng.uniform(-2.0, 2.0, size=(n_frames, 3))


def to_camera_frame(rotmat: np.ndarray, transl_world: np.ndarray, depth: float = 5.0):
    """A y-up world motion as a camera would see it (OpenCV axes, person ``depth`` metres in front)."""
    R = np.array(rotmat, copy=True)
    R[:, 0] = R_X180 @ R[:, 0]
    return R, transl_world @ R_X180.T + np.array([0.0, 0.3, depth])


def make_result(smpl_arrays: dict, tracks: dict, video_path: str = "walk.mp4", fps: float = 30.0,
                width: int = 320, height: int = 240, num_frames: int | None = None,
                with_body: bool = True, focal_length_px: float = 400.0) -> MotionResult:
    """A MotionResult from {track_id: (rotmat (N,24,3,3) camera frame, transl_cam (N,3), frame_ids, betas)}."""
    from tcmr_mocap.core import smpl

    motion_tracks = []
    last = 0
    for tid, (R, transl, frame_ids, betas) in tracks.items():
        n = R.shape[0]
        frame_ids = np.asarray(frame_ids, dtype=np.int64)
        last = max(last, int(frame_ids.max()) + 1)
        betas_n = np.tile(np.asarray(betas, dtype=np.float32), (n, 1))
        motion_tracks.append(TrackMotion(
            track_id=tid, frame_ids=frame_ids,
            bbox_xyxy=np.zeros((n, 4), np.float32), bbox_cxcys=np.zeros((n, 3), np.float32),
            interpolated=np.zeros(n, bool), rotmat=R.astype(np.float32),
            pose_aa=rotations.rotmat_to_axis_angle(R).astype(np.float32), betas=betas_n,
            cam=np.zeros((n, 3), np.float32), orig_cam=np.zeros((n, 4), np.float32),
            transl_cam=np.asarray(transl, np.float32), scores=np.full((n, 3), 1 / 3, np.float32),
            rest_joints=smpl.rest_joints(smpl_arrays, betas).astype(np.float32) if with_body else None,
            v_shaped=smpl.shaped_vertices(smpl_arrays, betas).astype(np.float32) if with_body else None,
        ))
    num_frames = num_frames or last
    return MotionResult(
        video_path=str(video_path), fps=fps, width=width, height=height, num_frames=num_frames,
        focal_length_px=focal_length_px, timestamps_s=np.arange(num_frames) / fps, tracks=motion_tracks,
        smpl_faces=smpl_arrays["f"] if with_body else None,
        smpl_lbs_weights=smpl_arrays["weights"].astype(np.float32) if with_body else None,
    )


def write_amass(path, rotmat: np.ndarray, trans: np.ndarray, betas: np.ndarray, fps: float = 60.0,
                smplh: bool = True) -> Path:
    """An AMASS-style npz: poses (T, 156) SMPL-H (or (T, 72)), trans, betas (16), mocap_framerate, gender."""
    aa = rotations.rotmat_to_axis_angle(rotmat).reshape(rotmat.shape[0], -1)  # (T, 72)
    if smplh:
        poses = np.zeros((rotmat.shape[0], 156))
        poses[:, :66] = aa[:, :66]
        poses[:, 66:] = 0.01  # hand joints: ignored by the SMPL body
    else:
        poses = aa
    b = np.zeros(16)
    b[: len(betas)] = betas
    np.savez(path, poses=poses, trans=trans, betas=b, mocap_framerate=np.array(fps), gender=np.array("neutral"))
    return Path(path)


# ---------------------------------------------------------------------------------------------- TCMR pkl
class _JoblibWrapperStandIn:
    """Pickled under joblib's name, with joblib's attributes (joblib >= 1.2 layout)."""


_JoblibWrapperStandIn.__module__ = "joblib.numpy_pickle"
_JoblibWrapperStandIn.__qualname__ = "NumpyArrayWrapper"
_JoblibWrapperStandIn.__name__ = "NumpyArrayWrapper"


class _JoblibLikePickler(pickle._Pickler):
    """Writes files the way ``joblib.numpy_pickle.NumpyPickler`` does (used when joblib is not installed):
    each array becomes a NumpyArrayWrapper followed by a padding byte, padding and the raw bytes."""

    def __init__(self, fh, protocol):
        super().__init__(fh, protocol=protocol)
        self.file_handle = fh

    def save(self, obj, save_persistent_id=True):
        if type(obj) is np.ndarray:
            wrapper = _JoblibWrapperStandIn()
            wrapper.__dict__.update(subclass=np.ndarray, shape=obj.shape, order="C", dtype=obj.dtype,
                                    allow_mmap=True, numpy_array_alignment_bytes=16)
            super().save(wrapper)
            if self.proto >= 4:
                self.framer.commit_frame(force=True)
            pos = self.file_handle.tell() + 1
            pad = 16 - pos % 16
            self.file_handle.write(bytes([pad]) + b"\xff" * pad)
            self.file_handle.write(np.ascontiguousarray(obj).tobytes())
            return
        super().save(obj, save_persistent_id)


def write_tcmr_pkl(path, data: dict, mode: str = "joblib") -> Path:
    """``mode``: "joblib" (real joblib if installed, else the same layout by hand) or "pickle"."""
    path = Path(path)
    if mode == "pickle":
        path.write_bytes(pickle.dumps(data, protocol=3))
        return path
    try:
        import joblib
    except ImportError:
        joblib = None
    if joblib is not None:
        joblib.dump(data, path)
        return path
    import types

    fake_pkg, fake_mod = types.ModuleType("joblib"), types.ModuleType("joblib.numpy_pickle")
    fake_mod.NumpyArrayWrapper = _JoblibWrapperStandIn
    fake_pkg.numpy_pickle = fake_mod
    import synthetic

    with synthetic.fake_modules({"joblib": fake_pkg, "joblib.numpy_pickle": fake_mod}):
        with open(path, "wb") as fh:
            _JoblibLikePickler(fh, protocol=3).dump(data)
    return path


def tcmr_demo_output(rotmat_cam: np.ndarray, transl_cam: np.ndarray, betas, width=640, height=480,
                     focal=None, frame_ids=None) -> dict:
    """One track of the official demo output whose camera (pred_cam, bboxes, orig_cam) encodes transl_cam
    for the image size and a focal length of the image diagonal (the formula of spec §7, inverted)."""
    from tcmr_mocap.core.capture.camera import crop_cam_to_orig

    n = rotmat_cam.shape[0]
    f = focal or float(np.hypot(width, height))
    b = np.full(n, 200.0)  # crop box side (already × 1.2)
    s = 2.0 * f / (b * transl_cam[:, 2])
    cx = width / 2 + 0.25 * width * np.sin(np.linspace(0, 3, n))
    cy = height / 2 + np.zeros(n)
    tx = transl_cam[:, 0] - 2.0 * (cx - width / 2) / (s * b)
    ty = transl_cam[:, 1] - 2.0 * (cy - height / 2) / (s * b)
    pred_cam = np.stack([s, tx, ty], -1).astype(np.float32)
    bboxes = np.stack([cx, cy, b, b], -1)
    return {
        "pred_cam": pred_cam,
        "orig_cam": crop_cam_to_orig(pred_cam, bboxes[:, :3], width, height),
        "verts": np.zeros((n, 10, 3), np.float32),  # the real file has (N, 6890, 3); unused
        "pose": rotations.rotmat_to_axis_angle(rotmat_cam).reshape(n, 72).astype(np.float32),
        "betas": np.tile(np.asarray(betas, np.float32), (n, 1)),
        "joints3d": np.zeros((n, 49, 3), np.float32),
        "joints2d": None,
        "bboxes": bboxes,
        "frame_ids": np.arange(n) if frame_ids is None else np.asarray(frame_ids),
    }


# ---------------------------------------------------------------------------------------------- fake core
FAKE_CORE = r'''#!{python}
"""A stand-in for `python -m core capture`: behaviour from config.json beside it."""
import json, os, shutil, sys, time
here = os.path.dirname(os.path.abspath(__file__))
config = json.load(open(os.path.join(here, "config.json")))
json.dump(sys.argv[1:], open(os.path.join(here, "argv.json"), "w"))
out = sys.argv[sys.argv.index("-o") + 1]
def say(obj):
    sys.stderr.write(json.dumps(obj) + "\n"); sys.stderr.flush()
for i, stage in enumerate(("video", "tracking", "features", "network")):
    say({{"type": "progress", "stage": stage, "fraction": 0.2 * (i + 1), "message": stage + " ..."}})
    print("plain stdout noise"); sys.stdout.flush()
    time.sleep(config.get("step_s", 0.0))
mode = config["mode"]
if mode == "slow":
    open(os.path.join(here, "pid"), "w").write(str(os.getpid()))
    time.sleep(120)
if mode == "error":
    say({{"type": "error", "message": config["message"], "exit_code": 2}})
    sys.exit(2)
if mode == "crash":
    sys.stderr.write("Traceback (most recent call last):\n  File x\nZeroDivisionError: division by zero\n")
    sys.exit(1)
shutil.copyfile(config["result"], out)
say({{"type": "done", "output": out}})
'''


def write_fake_core(folder: Path, **config) -> Path:
    """An executable that behaves like `<python> -m core capture ...` (config: mode, result, message, step_s)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    script = folder / "fake_python"
    script.write_text(FAKE_CORE.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# ---------------------------------------------------------------------------------------------- Blender
def bone_heads_world(obj, frames) -> np.ndarray:
    """(len(frames), 24, 3): world position of every bone head after scene.frame_set(frame)."""
    import bpy

    scene = bpy.context.scene
    out = np.empty((len(frames), 24, 3))
    mw = np.array(obj.matrix_world)
    for i, frame in enumerate(frames):
        scene.frame_set(int(frame))
        heads = np.array([obj.pose.bones[name].head for name in SMPL_JOINT_NAMES])
        out[i] = heads @ mw[:3, :3].T + mw[:3, 3]
    return out


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Best rigid transform dst ≈ R src + t over all points (Kabsch). src, dst: (..., 3).
    Returns (R, t, max residual)."""
    a = src.reshape(-1, 3)
    b = dst.reshape(-1, 3)
    ca, cb = a.mean(0), b.mean(0)
    U, _, Vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    t = cb - R @ ca
    return R, t, float(np.abs(a @ R.T + t - b).max())


def fcurve_values(obj, data_path: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, values) of one F-curve read back through the object's channelbag."""
    from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of

    bag = channelbag_of(obj)
    fc = bag.fcurves.find(data_path, index=index)
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    co = co.reshape(-1, 2)
    return co[:, 0], co[:, 1]


def scene_snapshot() -> dict:
    import bpy

    s = bpy.context.scene
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "actions": sorted(a.name for a in bpy.data.actions),
        "cameras": sorted(c.name for c in bpy.data.cameras),
        "clips": sorted(c.name for c in bpy.data.movieclips),
        "images": sorted(i.name for i in bpy.data.images),
        "armatures": sorted(a.name for a in bpy.data.armatures),
        "meshes": sorted(m.name for m in bpy.data.meshes),
        "collections": sorted(c.name for c in bpy.data.collections),
        "render": (s.render.fps, s.render.fps_base, s.render.resolution_x, s.render.resolution_y),
        "range": (s.frame_start, s.frame_end, s.frame_current),
        "camera": s.camera.name if s.camera else None,
    }


def env_without(*names) -> dict:
    return {k: v for k, v in os.environ.items() if k not in names}
