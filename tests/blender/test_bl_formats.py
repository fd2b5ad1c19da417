"""Motion file readers (blender_addon/formats.py, tcmr_pickle.py): numpy only, no Blender needed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import blender_helpers as H
from tcmr_mocap.blender_addon import formats
from tcmr_mocap.blender_addon.tcmr_pickle import load_tcmr_pickle
from tcmr_mocap.core import rotations
from tcmr_mocap.core.errors import InvalidMotionFileError

BETAS = np.array([0.4, -0.2, 0.1, 0, 0, 0, 0, 0, 0, 0.05])


def test_our_npz_round_trip(tmp_path, smpl_arrays):
    R, tr = H.to_camera_frame(*H.procedural_motion(20))
    result = H.make_result(smpl_arrays, {3: (R, tr, np.arange(5, 25), BETAS)}, video_path=str(tmp_path / "a.mp4"),
                           num_frames=30, fps=25.0)
    result.save(tmp_path / "a.npz")
    motion = formats.load_motion(tmp_path / "a.npz")
    assert motion.data_frame == formats.DATA_FRAME_OPENCV_CAMERA
    assert motion.name == "a.mp4" and motion.fps == 25.0 and motion.num_frames == 30
    assert (motion.width, motion.height, motion.focal_length_px) == (320, 240, 400.0)
    (track,) = motion.tracks
    assert track.track_id == 3
    np.testing.assert_array_equal(track.frame_ids, np.arange(5, 25))
    np.testing.assert_allclose(track.times_s, np.arange(5, 25) / 25.0)
    np.testing.assert_allclose(track.rotmat, R, atol=1e-6)
    np.testing.assert_allclose(track.transl, tr, atol=1e-5)
    assert track.rest_joints.shape == (24, 3) and track.v_shaped.shape == (6890, 3)
    np.testing.assert_allclose(motion.R_world_from_data, rotations.R_BLENDER_FROM_OPENCV)


@pytest.mark.parametrize("mode", ["joblib", "pickle"])
def test_tcmr_demo_pickle(tmp_path, mode):
    R, tr = H.to_camera_frame(*H.procedural_motion(30))
    data = {1: H.tcmr_demo_output(R, tr, BETAS, width=640, height=480),
            4: H.tcmr_demo_output(R[:10], tr[:10] + 1.0, BETAS, width=640, height=480, frame_ids=np.arange(40, 50))}
    folder = tmp_path / "dance"
    folder.mkdir()
    path = H.write_tcmr_pkl(folder / "tcmr_output.pkl", data, mode=mode)
    if mode == "joblib":  # the file is joblib's layout, which plain pickle cannot read
        with pytest.raises(Exception):
            pickle.loads(path.read_bytes())
    motion = formats.load_motion(path)
    assert motion.name == "dance"
    assert (motion.width, motion.height) == (640, 480)
    assert motion.focal_length_px == pytest.approx(800.0)
    assert motion.fps == pytest.approx(29.97, abs=1e-3)
    assert [t.track_id for t in motion.tracks] == [1, 4]
    assert motion.num_frames == 50
    np.testing.assert_allclose(motion.tracks[0].rotmat, R, atol=1e-5)
    np.testing.assert_allclose(motion.tracks[0].transl, tr, atol=1e-4)  # spec §7 camera -> translation
    np.testing.assert_allclose(motion.tracks[1].transl, tr[:10] + 1.0, atol=1e-4)
    np.testing.assert_allclose(motion.tracks[1].times_s, np.arange(40, 50) * 1001 / 30000)
    np.testing.assert_allclose(motion.tracks[0].betas, BETAS, atol=1e-6)
    assert motion.tracks[0].rest_joints is None  # comes from the SMPL file


def test_tcmr_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({1: {"pose": Evil()}}))
    with pytest.raises(InvalidMotionFileError, match="refusing to load"):
        load_tcmr_pickle(path)


def test_tcmr_pickle_errors(tmp_path):
    (tmp_path / "z.pkl").write_bytes(b"\x78\x9c" + b"\x00" * 20)
    with pytest.raises(InvalidMotionFileError, match="compressed"):
        load_tcmr_pickle(tmp_path / "z.pkl")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x03garbage")
    with pytest.raises(InvalidMotionFileError):
        load_tcmr_pickle(tmp_path / "bad.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InvalidMotionFileError, match="not a TCMR output"):
        load_tcmr_pickle(tmp_path / "list.pkl")
    (tmp_path / "nokeys.pkl").write_bytes(pickle.dumps({1: {"pose": np.zeros((2, 72))}}))
    with pytest.raises(InvalidMotionFileError, match="lacks"):
        formats.load_motion(tmp_path / "nokeys.pkl")


@pytest.mark.parametrize("smplh", [True, False])
def test_amass(tmp_path, smplh):
    R, tr = H.procedural_motion(40)
    R[:, 22:] = np.eye(3)  # SMPL-H has no SMPL hand joints: they come back as identity
    path = H.write_amass(tmp_path / "walk_poses.npz", R, tr, BETAS, fps=120.0, smplh=smplh)
    motion = formats.load_motion(path)
    assert motion.data_frame == formats.DATA_FRAME_Z_UP and motion.fps == 120.0 and motion.num_frames == 40
    assert motion.width is None and motion.video_path is None
    (track,) = motion.tracks
    np.testing.assert_allclose(track.rotmat, R, atol=1e-9)
    np.testing.assert_allclose(track.transl, tr)
    np.testing.assert_allclose(track.betas, BETAS)
    np.testing.assert_allclose(motion.R_world_from_data, np.eye(3))


def test_unknown_files(tmp_path):
    with pytest.raises(InvalidMotionFileError, match="not found"):
        formats.load_motion(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(InvalidMotionFileError, match="neither"):
        formats.load_motion(tmp_path / "other.npz")
    (tmp_path / "a.bvh").write_text("HIERARCHY")
    with pytest.raises(InvalidMotionFileError, match="unknown motion file type"):
        formats.load_motion(tmp_path / "a.bvh")
    np.savez(tmp_path / "badpose.npz", poses=np.zeros((3, 10)), trans=np.zeros((3, 3)))
    with pytest.raises(InvalidMotionFileError, match="poses"):
        formats.load_motion(tmp_path / "badpose.npz")
