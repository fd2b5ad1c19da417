"""The result validator (core/result_schema.py) case by case: what loads (every way format 1 has been written,
unknown members), what is refused and how the line reads, and the writers' own check."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import numpy as np
import pytest

import result_fuzz as F
from core import npz_reader, result_schema
from core.__main__ import main
from core.errors import InvalidMotionFileError, InvalidResultError
from core.result import MotionResult


@pytest.fixture(scope="module")
def arrays() -> dict:
    return F.valid_results()["refined"].to_arrays()


def npz(arrays: dict, writer=np.savez) -> io.BytesIO:
    buffer = io.BytesIO()
    writer(buffer, **arrays)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed], ids=["savez", "savez_compressed"])
@pytest.mark.parametrize("name", ["capture", "refined", "resampled"])
def test_every_way_format_1_was_written_loads(name, writer):
    """Our writers (np.savez until now, write_npz from now on) and a compressed copy made by another tool."""
    result = F.valid_results()[name]
    back = MotionResult.load(npz(result.to_arrays(), writer), source="r.npz")
    again = back.to_arrays()
    for key, value in result.to_arrays().items():
        assert again[key].dtype == value.dtype and again[key].tobytes() == value.tobytes(), key


def test_unknown_members_are_ignored_unless_pickled(arrays):
    extra = dict(arrays, **{"track_1/tail_pose_aa": np.zeros((48, 2, 15, 3), np.float32),
                            "track_99/rotmat": np.zeros(3), "notes": np.array("from another tool")})
    result = MotionResult.load(npz(extra), source="r.npz")
    assert [t.track_id for t in result.tracks] == [1, 4]
    members = F.members_of(npz(arrays).getvalue()) + [("notes.npy", F.evil_pickles.npy_object_member(b"."))]
    with pytest.raises(InvalidMotionFileError, match="notes holds Python objects"):
        MotionResult.load(io.BytesIO(F.zip_bytes(members)), source="r.npz")


def _set(key, value):
    return lambda a: {**a, key: np.asarray(value)}


def _drop(key):
    return lambda a: {k: v for k, v in a.items() if k != key}


def _nan_at(key, index):
    def edit(a):
        value = a[key].copy()
        value[index] = np.nan
        return {**a, key: value}
    return edit


REFUSED = [
    (_drop("fps"), "fps is missing"),
    (_set("fps", np.zeros((2, 2))), "fps has shape (2, 2), expected ()"),
    (_set("fps", 0.0), "fps is 0, outside the plausible 0.001 to 1000"),
    (_set("fps", 1e-300), "fps is 1e-300"),
    (_set("width", [1920, 1080, 3]), "width has shape (3,)"),
    (_set("width", 2**40), "width is 1099511627776, outside the plausible 1 to 65536"),
    (_set("num_frames", np.zeros(0, np.int64)), "num_frames has shape (0,)"),
    (_set("focal_length_px", np.inf), "focal_length_px is inf"),
    (_set("format_version", [1, 1]), "format_version has shape (2,)"),
    (_set("format_version", np.nan), "format_version has dtype float64, expected integer"),
    (_set("format_version", 0), "format_version is 0, not a known format"),
    (_set("format_version", 3), "was written by a newer TCMR Mocap (format 3); update the add-on"),
    (_set("track_ids", np.array([1, 4], "M8[s]")), "track_ids has dtype datetime64[s], expected integer"),
    (_set("track_ids", [1 + 0j, 4 + 0j]), "track_ids has dtype complex128"),
    (_set("track_ids", [4, 4]), "track_ids repeats 4"),
    (_set("meta_json", "not json"), "meta_json is not JSON"),
    (_set("meta_json", "[1, 2]"), "meta_json is JSON but not an object (a list)"),
    (_set("meta_json", '{"refine": {"floor": {"pitch_deg": null}}}'), "meta_json has a 'refine' entry"),
    (_set("timestamps_s", np.full(48, 1e38)), "timestamps_s holds values from 1e+38 to 1e+38"),
    (_set("timestamps_s", np.arange(48)[::-1] / 25.0), "timestamps_s goes back at entry 1"),
    (_set("video_path", "a\x00b.mp4"), "video_path holds a NUL character"),
    (_drop("track_1/raw_frame_ids"), "track_1/raw_frame_ids is missing (the track has track_1/raw_bbox_xyxy)"),
    (_drop("track_1/raw_betas"), None),  # the raw rows are the track's rows: raw_view takes the track's betas
    (_nan_at("track_1/raw_rotmat", (slice(None),)), "track_1/raw_rotmat holds NaN or inf"),
    (_nan_at("track_4/transl_cam", (3, 2)), "track_4/transl_cam holds NaN or inf"),
    (_nan_at("smpl_lbs_weights", (0, 0)), "smpl_lbs_weights holds NaN or inf"),
    (_nan_at("track_1/rest_joints", (0, 0)), "track_1/rest_joints holds NaN or inf"),
    (lambda a: {**a, "track_4/rest_joints": np.zeros((24, 3), np.float32)},
     "track_4/rest_joints has a bone shorter than 1 mm (joint 1 on its parent)"),
    (_set("cam_position_world", [0.0, 0.0, 1e300]), "cam_position_world holds values from 0 to 1e+300"),
    (_drop("cam_position_world"), "cam_position_world is missing (R_world_from_cam and cam_position_world come"),
    (_set("R_world_from_cam", np.eye(3) * [1, 1, -1]), "R_world_from_cam holds a matrix that is not a rotation"),
    (lambda a: {**a, "track_1/raw_rotmat": np.zeros_like(a["track_1/raw_rotmat"])},
     "track_1/raw_rotmat holds a matrix that is not a rotation at (0, 0)"),
    (lambda a: {**a, "track_1/betas": a["track_1/betas"][:-1]}, "track_1/betas has 47 rows, but its track has 48"),
    (lambda a: {**a, "track_1/rotmat": a["track_1/rotmat"].astype(np.float16).astype(">c8")},
     "track_1/rotmat has dtype >c8, expected float"),
    (lambda a: {**a, "track_4/frame_ids": a["track_4/frame_ids"] + 100}, "track_4/frame_ids reaches frame 139 of a "
     "video of 48 frames"),
    (lambda a: {**a, "track_1/raw_frame_ids": np.repeat(a["track_1/raw_frame_ids"][:1], 48)},
     "track_1/raw_frame_ids repeats a frame"),
    (lambda a: {**a, "track_4/frame_ids": a["track_4/frame_ids"][::-1].astype(np.uint64)},
     "track_4/frame_ids goes back at entry 1 (39 then 38)"),
    (_nan_at("track_1/hand_pose_aa", (0, 1, 4, 2)), "track_1/hand_pose_aa holds NaN or inf"),
    (lambda a: {**a, "track_1/face_blendshapes": a["track_1/face_blendshapes"] + 1.5},
     "track_1/face_blendshapes holds values from 1.5"),
    (lambda a: {**a, "hand_joint_names": a["hand_joint_names"][::-1]},
     "hand_joint_names are not the 15 names in our order"),
    (lambda a: {**a, "track_1/raw_hand_conf": a["track_1/raw_hand_conf"][:-1]},
     "track_1/raw_hand_conf has 47 rows, but its track has 48 (track_1/raw_frame_ids)"),
    (_set("motion_fps", 1000.0), None),  # fine on its own; with fps 0.01 the scene would be too long:
    (lambda a: {**a, "motion_fps": np.array(1000.0), "fps": np.array(0.01)}, "motion_fps 1000 over 48 frames at "
     "0.01 fps makes 4800000 frames, more than Blender's 1048574"),
]


@pytest.mark.parametrize("edit, message", REFUSED, ids=[m or "accepted" for _, m in REFUSED])
def test_refusals_name_the_member(arrays, edit, message):
    edited = edit(dict(arrays))
    if message is None:
        MotionResult.load(npz(edited), source="walk.npz")
        return
    with pytest.raises(InvalidMotionFileError) as caught:
        MotionResult.load(npz(edited), source="walk.npz")
    line = str(caught.value)
    assert "\n" not in line and line.startswith("walk.npz ") and message in line, line
    assert result_schema.problem(edited) is not None  # the arrays in memory: the same verdict


def test_raw_fields_needed_where_the_rows_were_resampled():
    arrays = F.valid_results()["resampled"].to_arrays()
    del arrays["track_4/raw_betas"]
    with pytest.raises(InvalidMotionFileError, match=r"track_4/raw_betas is missing \(the track has track_4/betas in 35 "
                       r"rows and keeps 30 raw rows\)"):
        MotionResult.load(npz(arrays), source="r.npz")


def test_zip_level_refusals(arrays):
    members = F.members_of(npz(arrays).getvalue())
    twice = members + [("fps.npy", F.npy(np.array(30.0)))]
    with pytest.raises(InvalidMotionFileError, match="fps appears twice in the archive"):
        MotionResult.load(io.BytesIO(F.zip_bytes(twice)), source="r.npz")
    lying = [(n, d[:-4] if n == "track_1/betas.npy" else d) for n, d in members]  # shorter than its header says
    with pytest.raises(InvalidMotionFileError, match=r"track_1/betas declares \d+ bytes, but its header"):
        MotionResult.load(io.BytesIO(F.zip_bytes(lying)), source="r.npz")
    bzip2 = io.BytesIO()
    with zipfile.ZipFile(bzip2, "w", compression=zipfile.ZIP_BZIP2) as zf:  # unbounded when decompressed by zipfile
        for name, data in members:
            zf.writestr(name, data)
    with pytest.raises(InvalidMotionFileError, match="is compressed with zip method 12 .only stored and deflate"):
        MotionResult.load(bzip2, source="r.npz")
    with pytest.raises(InvalidMotionFileError, match="track_1/rotmat has 2480000 rows, but its track has 48 "
                       r"\(track_1/frame_ids\): out of proportion, refused before reading"):
        MotionResult.load(io.BytesIO(F.bomb_case().data), source="r.npz")
    with pytest.raises(InvalidMotionFileError, match="would expand to 864.0 MB .* refused before decompressing"):
        MotionResult.load(io.BytesIO(F.bomb_case(consistent=True).data), source="r.npz")


def test_layout_problem_reads_no_data(tmp_path, arrays, monkeypatch):
    """The batch's resume check: headers only, and the two tiny members the layout depends on."""
    path = tmp_path / "r.npz"
    path.write_bytes(npz(arrays).getvalue())
    read, real = [], npz_reader.read_member
    monkeypatch.setattr(npz_reader, "read_member", lambda zf, info, key: read.append(key) or real(zf, info, key))
    assert result_schema.layout_problem(path) is None
    assert read == ["format_version", "track_ids"]
    path.write_bytes(path.read_bytes()[:-200])
    assert "not a readable .npz" in result_schema.layout_problem(path)
    assert result_schema.layout_problem(tmp_path / "absent.npz").startswith("motion file not found")


def test_save_refuses_nan_and_writes_nothing(tmp_path):
    result = F.valid_results()["capture"]
    track = dataclasses.replace(result.tracks[0], transl_cam=result.tracks[0].transl_cam.copy())
    track.transl_cam[5, 1] = np.inf
    bad = dataclasses.replace(result, tracks=[track, *result.tracks[1:]])
    with pytest.raises(InvalidResultError, match=r"nothing was written to .*out.npz: the result is not valid "
                       r"\(track_1/transl_cam holds NaN or inf\)"):
        bad.save(tmp_path / "out.npz")
    assert list(tmp_path.iterdir()) == []


def test_refine_that_makes_nan_writes_nothing(tmp_path, monkeypatch, capsys):
    """The refine command checks its output before saving (a NaN from a refine bug: exit 2, one line)."""
    import core.motion.refine as refine_module

    src = tmp_path / "walk.npz"
    F.valid_results()["capture"].save(src)
    monkeypatch.setattr(refine_module, "refine_result", F.broken_refine(refine_module.refine_result, "rotmat"))
    assert main(["refine", str(src), "-o", str(tmp_path / "out.npz")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error: nothing was written") and "track_1/rotmat holds NaN or inf" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npz"]


def test_looks_like_result_reads_the_directory_only(tmp_path, arrays):
    path = tmp_path / "r.npz"
    path.write_bytes(npz(arrays).getvalue())
    assert result_schema.looks_like_result(path)
    np.savez(tmp_path / "amass.npz", poses=np.zeros((2, 72)))
    assert not result_schema.looks_like_result(tmp_path / "amass.npz")
    (tmp_path / "text.npz").write_text("hello")
    assert not result_schema.looks_like_result(tmp_path / "text.npz")
    with zipfile.ZipFile(tmp_path / "r.npz") as zf:
        assert "format_version.npy" in zf.namelist()
