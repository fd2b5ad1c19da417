"""Motion file readers (blender_addon/scene/formats.py, tcmr_pickle.py): numpy only, no Blender needed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import blender_helpers as H
import evil_pickles as E  # tests/evil_pickles.py (tests/ is on sys.path: tests/conftest.py)
from tcmr_mocap.blender_addon.scene import formats
from tcmr_mocap.blender_addon.scene.tcmr_pickle import load_tcmr_pickle
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


targets = pytest.mark.parametrize("module, name", E.TARGETS, ids=E.target_ids())


@pytest.fixture
def every_target_live(monkeypatch):
    E.make_all_targets_live(monkeypatch)  # e.g. a stand-in `nt` on Linux: refusing it must not depend on luck


@targets
@pytest.mark.usefixtures("every_target_live")
def test_tcmr_pickle_refuses_command_globals(module, name, tmp_path):
    """os/posix/nt/subprocess/builtins globals are refused before anything runs (the marker stays absent),
    in a plain pickle and in a joblib-style one, nested or at the top."""
    marker = E.marker_for(tmp_path, module, name)
    for top_level in (False, True):
        path = tmp_path / "tcmr_output.pkl"
        path.write_bytes(E.payload(module, name, marker, top_level=top_level))
        for load in (load_tcmr_pickle, formats.load_motion):
            with pytest.raises(InvalidMotionFileError, match=f"refusing to load {module}.{name}") as info:
                load(path)
            assert "\n" not in str(info.value) and str(path) in str(info.value)
            assert not E.ran(marker), "the payload ran"


@targets
@pytest.mark.parametrize("kind", ["ours", "amass"])
@pytest.mark.usefixtures("every_target_live")
def test_npz_reader_refuses_pickled_members(kind, module, name, tmp_path):
    """An .npz member that is a pickled object array is never unpickled (allow_pickle=False): clean error,
    no marker. Both kinds of .npz the add-on reads (our result, AMASS) are tried."""
    marker = E.marker_for(tmp_path, module, name)
    evil = E.payload(module, name, marker, top_level=True)
    if kind == "ours":
        plain, member = {"format_version": np.array(1), "track_ids": np.array([1])}, "track_1/rotmat"
    else:
        plain, member = {"trans": np.zeros((3, 3)), "betas": np.zeros(10)}, "poses"
    path = E.write_npz(tmp_path / f"{kind}.npz", plain, {member: evil})
    with pytest.raises(InvalidMotionFileError) as info:
        formats.load_motion(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert not E.ran(marker), "the payload ran"


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
