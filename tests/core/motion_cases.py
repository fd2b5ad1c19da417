"""Shared set-up for the refine tests: procedural clips (tests/motion_synth.py) as MotionResults."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent))
import motion_synth as ms  # noqa: E402

from core import rotations  # noqa: E402
from core.result import MotionResult, TrackMotion  # noqa: E402
from core.smpl import forward_kinematics  # noqa: E402


def track_of(rotmat, transl, track_id=1, frame_ids=None, rest=ms.REST_JOINTS):
    n = rotmat.shape[0]
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    frame_ids = np.arange(n) if frame_ids is None else np.asarray(frame_ids)
    return TrackMotion(track_id=track_id, frame_ids=frame_ids.astype(np.int64), bbox_xyxy=np.tile(
        np.arange(4, dtype=np.float32), (n, 1)) + np.arange(n, dtype=np.float32)[:, None], bbox_cxcys=z(n, 3),
        interpolated=np.arange(n) % 7 == 3, rotmat=rotmat.astype(np.float32),
        pose_aa=rotations.rotmat_to_axis_angle(rotmat).astype(np.float32), betas=z(n, 10), cam=z(n, 3),
        orig_cam=z(n, 4), transl_cam=transl.astype(np.float32), scores=z(n, 3),
        rest_joints=np.asarray(rest, np.float32))


def result_of(tracks, n_frames, fps=30.0):
    return MotionResult(video_path="clip.mp4", fps=fps, width=640, height=480, num_frames=n_frames,
                        focal_length_px=800.0, timestamps_s=np.arange(n_frames) / fps, tracks=list(tracks))


def camera_clip(kind, pitch=15.0, roll=-5.0, seconds=6.0, noisy=True, seed=1):
    """(clip dict, R_cam_from_world, centre, MotionResult of the (degraded) camera-frame motion)."""
    c = ms.make_clip(kind, seconds=seconds)
    R, C = ms.camera_pose(pitch, roll)
    rc, tc = ms.to_camera(c["rotmat"], c["transl"], R, C)
    if noisy:
        rc, tc = ms.degrade(rc, tc, seed=seed, R_cam_from_world=R)
    return c, R, C, result_of([track_of(rc, tc)], rc.shape[0]), (rc, tc)


def onto_a_box(height_m=0.4, walk_s=4.0, stand_s=4.0, seed=0, pitch=15.0, roll=3.0):
    """:func:`motion_synth.onto_a_box_clip` seen by a pitched, rolled camera, degraded like a network output
    (0.5° jitter). -> (camera-frame rotmat, transl, times (T,), R_cam_from_world, centre, frame of the step)."""
    rotmat, transl, step = ms.onto_a_box_clip(height_m, walk_s, stand_s)
    R, C = ms.camera_pose(pitch, roll)
    rc, tc = ms.to_camera(rotmat, transl, R, C)
    rc, tc = ms.degrade(rc, tc, seed=seed, jitter_deg=0.5, R_cam_from_world=R)
    return rc, tc, np.arange(rc.shape[0]) / 30.0, R, C, step


def joints(rotmat, transl, rest=ms.REST_JOINTS):
    P, _ = forward_kinematics(rest, np.asarray(rotmat, np.float64))
    return P + np.asarray(transl, np.float64)[:, None]


def tilt_deg(normal_cam, R_cam_from_world):
    true = R_cam_from_world @ np.array([0.0, 1.0, 0.0])
    return float(np.degrees(np.arccos(np.clip(np.asarray(normal_cam) @ true, -1, 1))))


def real_sequence(name, seed=0):
    """A real clip (tests/real_motion.py) in bench_refine's camera (15° pitch, 3° roll, 1.4 m up), degraded
    like a network output: (clean dict, R_cam_from_world, centre, MotionResult)."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    import bench_refine

    return bench_refine.real_sequence(name, seed)


# real clips' noise draws (0-2) whose floor is 2° or more off without a low-confidence warning, with the most
# each may reach before a test fails (bench/RESULTS.md, eighth and ninth rounds): weighing the resting points by
# their reach from the hip brought such draws, over ten draws of 18 clips, from 15 to 10, and one shared height
# offset per leg to 6; boxing draw 0 (1.42 -> 2.19° in the eighth round, its two lines of stance footprints
# level with its flat feet) is still estimated under 2°
TILT_MISSES = {("boxing", 0): 2.3}

