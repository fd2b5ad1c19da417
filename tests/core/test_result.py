"""MotionResult: .npz round trip is bit-identical, writes are atomic, bad files are refused clearly."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import core.result
from core import rotations
from core.errors import InvalidMotionFileError, OutputNotWritableError
from core.result import FORMAT_VERSION, MotionResult, TrackMotion


def make_track(track_id: int, n: int, rng: np.random.Generator, full: bool = False) -> TrackMotion:
    """Random values of the right kinds (rotations are rotations, scores sum to one)."""
    f32 = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    pose_aa = rng.normal(scale=0.5, size=(n, 24, 3))
    scores = rng.random((n, 3))
    return TrackMotion(
        track_id=track_id,
        frame_ids=np.sort(rng.choice(1000, size=n, replace=False)).astype(np.int64),
        bbox_xyxy=f32(n, 4),
        bbox_cxcys=f32(n, 3),
        interpolated=rng.random(n) < 0.2,
        rotmat=rotations.axis_angle_to_rotmat(pose_aa).astype(np.float32),
        pose_aa=pose_aa.astype(np.float32),
        betas=f32(n, 10),
        cam=f32(n, 3),
        orig_cam=f32(n, 4),
        transl_cam=f32(n, 3),
        scores=(scores / scores.sum(axis=1, keepdims=True)).astype(np.float32),
        rest_joints=f32(24, 3) if full else None,
        v_shaped=f32(6890, 3) if full else None,
        verts=f32(n, 6890, 3) if full else None,
        joints49=f32(n, 49, 3) if full else None,
    )


def make_result(rng, full=False) -> MotionResult:
    return MotionResult(
        video_path="/videos/walk ünïcode.mp4",
        fps=29.97002997002997,
        width=1920,
        height=1080,
        num_frames=1000,
        focal_length_px=2202.9071700822983,
        timestamps_s=np.cumsum(rng.uniform(0.03, 0.04, size=1000)),
        tracks=[make_track(1, 30, rng, full), make_track(7, 45, rng, full)],
        smpl_faces=rng.integers(0, 6890, size=(13776, 3)) if full else None,
        smpl_lbs_weights=rng.random((6890, 24)).astype(np.float32) if full else None,
        meta={"windowing": "ours", "versions": {"torch": "2.15.0"}},
    )


def assert_same(a: MotionResult, b: MotionResult) -> None:
    for f in fields(MotionResult):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "tracks":
            assert [t.track_id for t in va] == [t.track_id for t in vb]
            for ta, tb in zip(va, vb):
                for tf in fields(TrackMotion):
                    xa, xb = getattr(ta, tf.name), getattr(tb, tf.name)
                    if xa is None:
                        assert xb is None, tf.name
                    elif isinstance(xa, np.ndarray):
                        assert xa.dtype == xb.dtype and xa.shape == xb.shape, tf.name
                        assert xa.tobytes() == xb.tobytes(), tf.name  # bit-identical
                    elif isinstance(xa, dict):  # raw: {field: array}
                        assert sorted(xa) == sorted(xb), tf.name
                        assert all(xa[k].tobytes() == xb[k].tobytes() for k in xa), tf.name
                    else:
                        assert xa == xb
        elif isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.tobytes() == vb.tobytes(), f.name
        else:
            assert va == vb, f.name


@pytest.mark.parametrize("full", [False, True])
def test_round_trip_is_bit_identical(tmp_path, full):
    rng = np.random.default_rng(0)
    res = make_result(rng, full)
    path = tmp_path / "out.npz"
    res.save(path)
    back = MotionResult.load(path)
    assert_same(res, back)
    # and the file is plain numpy: readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert int(z["format_version"]) == 1  # no fingers/face: what earlier versions wrote
        assert z["track_1/rotmat"].shape == (30, 24, 3, 3)


def test_save_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    res = make_result(np.random.default_rng(1))
    path = tmp_path / "out.npz"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(core.result, "write_npz", boom)
    with pytest.raises(KeyboardInterrupt):
        res.save(path)
    assert os.listdir(tmp_path) == []


def _fail_part_way(error):
    """A stand-in for core.result.write_npz that writes the first half of the real file, then fails (a full
    disk, a dropped network share, Ctrl-C, a bug)."""
    real = core.result.write_npz

    def writer(file, arrays):
        buffer = io.BytesIO()
        real(buffer, arrays)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        file.flush()
        raise error

    return writer


@pytest.mark.parametrize("error, raised", [
    (OSError(28, "No space left on device"), OutputNotWritableError),
    (KeyboardInterrupt(), KeyboardInterrupt),
    (RuntimeError("a bug while writing"), RuntimeError),
])
def test_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch, error, raised):
    """An OUT.npz from an earlier run survives a save that fails part-way: byte-identical, still loadable,
    and no temporary file is left next to it."""
    path = tmp_path / "out.npz"
    earlier = make_result(np.random.default_rng(5))
    earlier.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(core.result, "write_npz", _fail_part_way(error))
    with pytest.raises(raised):
        make_result(np.random.default_rng(6)).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["out.npz"]
    assert path.read_bytes() == before
    assert_same(MotionResult.load(path), earlier)


def test_failed_rename_keeps_the_earlier_file(tmp_path, monkeypatch):
    path = tmp_path / "out.npz"
    make_result(np.random.default_rng(7)).save(path)
    before = path.read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(OutputNotWritableError, match="permission denied"):
        make_result(np.random.default_rng(8)).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["out.npz"] and path.read_bytes() == before


def test_save_into_missing_folder_is_a_user_error(tmp_path):
    res = make_result(np.random.default_rng(2))
    with pytest.raises(OutputNotWritableError, match="does not exist"):
        res.save(tmp_path / "nope" / "out.npz")


def test_track_lookup_and_mean_betas():
    res = make_result(np.random.default_rng(3))
    t = res.track(7)
    assert len(t) == 45
    np.testing.assert_allclose(t.mean_betas, t.betas.mean(0), rtol=1e-6)
    with pytest.raises(KeyError):
        res.track(99)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not a readable"),
        (b"hello, not a zip", "not a readable"),
    ],
)
def test_garbage_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(InvalidMotionFileError, match=match):
        MotionResult.load(path)


def test_other_npz_is_refused(tmp_path):
    path = tmp_path / "amass.npz"
    np.savez(path, poses=np.zeros((3, 72)), trans=np.zeros((3, 3)))
    with pytest.raises(InvalidMotionFileError, match="not a TCMR Mocap result"):
        MotionResult.load(path)


def test_missing_track_field_is_named(tmp_path):
    res = make_result(np.random.default_rng(4))
    arrays = res.to_arrays()
    del arrays["track_7/betas"]
    path = tmp_path / "broken.npz"
    np.savez(path, **arrays)
    with pytest.raises(InvalidMotionFileError, match="track_7/betas is missing"):
        MotionResult.load(path)


def test_newer_format_is_refused_with_advice(tmp_path):
    res = make_result(np.random.default_rng(5))
    arrays = res.to_arrays()
    arrays["format_version"] = np.array(FORMAT_VERSION + 1)
    path = tmp_path / "future.npz"
    np.savez(path, **arrays)
    with pytest.raises(InvalidMotionFileError, match="newer"):
        MotionResult.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidMotionFileError, match="not found"):
        MotionResult.load(tmp_path / "absent.npz")


def test_npz_members_are_plain_npy(tmp_path):
    """No object arrays: every member must load with allow_pickle=False (checked member by member)."""
    res = make_result(np.random.default_rng(6), full=True)
    path = tmp_path / "r.npz"
    res.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "meta_json.npy" in names and "track_1/rotmat.npy" in names
    with np.load(path, allow_pickle=False) as z:
        for k in z.files:
            assert z[k].dtype != object, k


# ------------------------------------------------------------------------------ fingers and face (format 2)
def test_fingers_and_face_round_trip_as_format_2(tmp_path):
    from core.extremities.layout import ARKIT_BLENDSHAPE_NAMES, HAND_JOINT_NAMES, RESULT_ARRAYS

    rng = np.random.default_rng(3)
    res = make_result(rng)
    for t in res.tracks:
        n = len(t)
        t.hand_pose_aa = rng.uniform(-1.5, 1.5, size=(n, 2, 15, 3)).astype(np.float32)  # within ±pi (layout)
        t.hand_conf = rng.random((n, 2)).astype(np.float32)
        t.face_blendshapes = rng.random((n, 52)).astype(np.float32)
        t.face_conf = rng.random(n).astype(np.float32)
        t.head_rot_aa = rng.uniform(-1.0, 1.0, size=(n, 3)).astype(np.float32)
        t.raw = {"frame_ids": t.frame_ids, "hand_pose_aa": t.hand_pose_aa * 2, "rotmat": t.rotmat}
    path = tmp_path / "fingers.npz"
    res.save(path)
    back = MotionResult.load(path)
    assert_same(res, back)
    with np.load(path, allow_pickle=False) as z:
        assert int(z["format_version"]) == FORMAT_VERSION == 2
        assert tuple(z["hand_joint_names"].tolist()) == HAND_JOINT_NAMES
        assert tuple(z["blendshape_names"].tolist()) == ARKIT_BLENDSHAPE_NAMES and len(ARKIT_BLENDSHAPE_NAMES) == 52
        for spec in RESULT_ARRAYS:  # the declared shapes and dtypes are what is written
            value = z[f"track_7/{spec.name}"]
            assert value.dtype == np.dtype(spec.dtype)
            assert value.shape == tuple(45 if d == "N" else d for d in spec.shape)
    np.testing.assert_array_equal(back.track(1).raw["hand_pose_aa"], res.track(1).hand_pose_aa * 2)


def test_a_file_written_before_fingers_and_face_still_loads():
    """tests/data/result_format1.npz was written by the code before this change (format 1, refined, raw_*)."""
    path = Path(__file__).resolve().parents[1] / "data" / "result_format1.npz"
    res = MotionResult.load(path)
    t = res.track(3)
    assert len(t) == 4 and t.raw is not None and t.times_s is not None
    assert t.hand_pose_aa is None and t.face_blendshapes is None and t.raw_view().hand_conf is None
    assert res.meta["written_by"].startswith("TCMR Mocap before fingers")
    out = Path(os.environ.get("PYTEST_TMP", "/tmp")) / f"again_{os.getpid()}.npz"
    try:
        res.save(out)  # saved again by this version: still format 1, the same members
        with np.load(out) as again, np.load(path) as first:
            assert int(again["format_version"]) == 1 and sorted(again.files) == sorted(first.files)
    finally:
        out.unlink(missing_ok=True)
