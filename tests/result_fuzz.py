"""Seeded hostile result files for the fuzz tests of the one result validator (core/result_schema.py).

:func:`valid_files` makes three small valid results, written by ``MotionResult.save``: a capture (two people,
an SMPL body, fingers and face on one), its refine (upright world frame, contacts, the raw output kept as ``raw_*``) and a refine resampled
to 30 fps. :func:`cases` mutates them, case ``i`` from ``default_rng(seed + i)``: bit flips, truncation, a member
dropped, members of the wrong shape, length or dtype, NaN/inf/huge values, absurd scalars, a pickled member (whose
unpickling would create ``marker``), a bad ``format_version``, a member twice, bad ``meta_json``, a decompression
bomb, and a few changes a reader must accept (an unknown member, big-endian arrays).
Used by tests/core/test_result_fuzz.py (refine) and tests/blender/test_bl_result_fuzz.py (the Blender import).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import evil_pickles
import motion_synth
import synthetic
from core import rotations, smpl
from core.config import RefineConfig
from core.motion.refine import refine_result
from core.result import MotionResult, TrackMotion, write_npz

BOMB_ROWS = 2_480_000  # the bomb: track_1/rotmat of 2.48 million rows (2.1 GB) against 48 frame ids


@dataclass
class Case:
    kind: str  # the mutation
    what: str  # what exactly, for the failure message
    data: bytes
    must_refuse: bool = True  # False: a change a reader accepts (or refuses: bit flips may land anywhere)


# ---------------------------------------------------------------------------------------------- valid files
def _track(track_id, rotmat_world, transl_world, frame_ids, arrays, rng) -> TrackMotion:
    R_cam, centre = motion_synth.camera_pose(12.0, -3.0)
    rotmat, transl = motion_synth.to_camera(rotmat_world, transl_world, R_cam, centre)
    rotmat, transl = motion_synth.degrade(rotmat, transl, seed=track_id, R_cam_from_world=R_cam)
    n = rotmat.shape[0]
    betas = np.zeros(10)
    centre_px = np.array([320.0, 240.0]) + rng.normal(scale=5.0, size=(n, 2))
    scores = rng.random((n, 3))
    return TrackMotion(
        track_id=track_id, frame_ids=np.asarray(frame_ids, np.int64),
        bbox_xyxy=np.concatenate([centre_px - [60, 150], centre_px + [60, 150]], axis=1).astype(np.float32),
        bbox_cxcys=np.concatenate([centre_px, np.full((n, 1), 360.0)], axis=1).astype(np.float32),
        interpolated=np.arange(n) % 9 == 4, rotmat=rotmat.astype(np.float32),
        pose_aa=rotations.rotmat_to_axis_angle(rotmat).astype(np.float32),
        betas=np.tile(betas, (n, 1)).astype(np.float32), cam=np.tile([0.9, 0.01, 0.2], (n, 1)).astype(np.float32),
        orig_cam=np.tile([0.5, 0.7, 0.0, 0.1], (n, 1)).astype(np.float32),
        transl_cam=transl.astype(np.float32), scores=(scores / scores.sum(axis=1, keepdims=True)).astype(np.float32),
        rest_joints=smpl.rest_joints(arrays, betas).astype(np.float32),
        v_shaped=smpl.shaped_vertices(arrays, betas).astype(np.float32),
        joints49=rng.normal(scale=0.5, size=(n, 49, 3)).astype(np.float32))


def _with_fingers_and_face(track: TrackMotion, rng) -> TrackMotion:
    """Format 2: plausible fingers and face (core.extremities.layout.RESULT_ARRAYS) on a track."""
    n = len(track)
    return dataclasses.replace(
        track, hand_pose_aa=rng.uniform(-0.5, 0.5, (n, 2, 15, 3)).astype(np.float32),
        hand_conf=rng.random((n, 2)).astype(np.float32), face_blendshapes=rng.random((n, 52)).astype(np.float32),
        face_conf=rng.random(n).astype(np.float32), head_rot_aa=rng.uniform(-0.3, 0.3, (n, 3)).astype(np.float32))


@functools.lru_cache(maxsize=None)
def valid_results(video_path: str = "fuzz.mp4") -> dict[str, MotionResult]:
    """{"capture", "refined", "resampled"}: small valid results (48 video frames at 25 fps, two tracks, fingers and
    face on track 1: format 2). Cached: copy before changing them."""
    rng = np.random.default_rng(20)
    arrays = synthetic.make_smpl_arrays(0)
    walk = motion_synth.make_clip("walk", fps=25.0, seconds=1.92)
    turn = motion_synth.make_clip("turn", fps=25.0, seconds=1.2)
    capture = MotionResult(
        video_path=video_path, fps=25.0, width=640, height=480, num_frames=48, focal_length_px=800.0,
        timestamps_s=np.arange(48) / 25.0,
        tracks=[_with_fingers_and_face(_track(1, walk["rotmat"], walk["transl"], np.arange(48), arrays, rng), rng),
                _track(4, turn["rotmat"], turn["transl"] + [1.0, 0.0, 0.0], np.arange(10, 40), arrays, rng)],
        smpl_faces=arrays["f"], smpl_lbs_weights=arrays["weights"].astype(np.float32),
        meta={"windowing": "ours", "fuzz": True})
    refined, _ = refine_result(capture, strict=False)
    resampled, _ = refine_result(capture, dataclasses.replace(RefineConfig(), fps=30.0), strict=False)
    return {"capture": capture, "refined": refined, "resampled": resampled}


@functools.lru_cache(maxsize=None)
def valid_files() -> dict[str, bytes]:
    """The bytes of :func:`valid_results` as ``MotionResult.save`` writes them."""
    out = {}
    for name, result in valid_results().items():
        buffer = io.BytesIO()
        write_npz(buffer, result.to_arrays())
        out[name] = buffer.getvalue()
    return out


# ---------------------------------------------------------------------------------------------- zip writing
@dataclass
class Deflated:
    """A member given as a raw deflate stream (for the bomb: its 2 GB are never held in memory)."""

    stream: bytes
    crc: int
    size: int


def zip_bytes(members: list[tuple[str, object]]) -> bytes:
    """A zip of (name, bytes | Deflated) in order, a name repeated where given (no zip64: members < 4 GB)."""
    out, central = io.BytesIO(), []
    for name, data in members:
        method, comp, crc, size = (8, data.stream, data.crc, data.size) if isinstance(data, Deflated) else \
            (0, data, zlib.crc32(data), len(data))
        offset, raw_name = out.tell(), name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(comp), size,
                              len(raw_name), 0) + raw_name + comp)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(comp), size,
                                   len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name)
    start, directory = out.tell(), b"".join(central)
    out.write(directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory),
                                      start, 0))
    return out.getvalue()


def members_of(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def load(member: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(member), allow_pickle=False)


@functools.lru_cache(maxsize=None)
def zeros_member(shape: tuple, descr: str) -> Deflated:
    """An ``.npy`` of zeros of ``shape``/``descr`` as a deflate stream a thousand times smaller (2.1 GB of
    rotmat -> 2 MB) built without the zeros in memory: each MiB of zeros compresses, after a full flush, to the
    same bytes, so the stream is made by repetition."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    header = buffer.getvalue()
    chunk = 1 << 20
    total = len(header) + int(np.prod(shape)) * np.dtype(descr).itemsize
    zeros = bytes(chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    if total <= chunk:
        data = header + zeros[: total - len(header)]
        return Deflated(c.compress(data) + c.flush(), zlib.crc32(data), total)
    first = c.compress(header + zeros[: chunk - len(header)]) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(total - chunk, chunk)
    tail = c.compress(zeros[:rest]) + c.flush()
    crc = zlib.crc32(header + zeros[: chunk - len(header)])
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    return Deflated(first + middle * count + tail, zlib.crc32(zeros[:rest], crc), total)


# ---------------------------------------------------------------------------------------------- mutations
_NUMBERS = (np.nan, np.inf, -np.inf, 1e38, -1e300, 1e300, 1e-300, 0.0, -1.0)
_SCALARS = {
    "fps": (0.0, -25.0, 1e-300, 1e9, np.nan, np.inf, np.zeros((2, 2)), np.array([25.0, 25.0])),
    "width": (0, -640, 2**40, 70000, np.array([640, 480, 3]), np.array(640.0), np.array("640")),
    "height": (0, -1, 2**31, np.array([480])),
    "num_frames": (0, -48, 2**31, 2**62, np.zeros(0, np.int64), np.array(48.5)),
    "focal_length_px": (0.0, -800.0, np.inf, np.nan, 1e300, np.array([800.0, 800.0])),
    "motion_fps": (0.0, 1e-300, 1e6, np.nan, 0.001),
    "format_version": (np.array([1, 1]), np.nan, np.inf, 0, 3, -1, np.array(1.0), np.array("1"), 2**40),
    "video_path": (np.array("a\x00b.mp4"), np.array(5), np.array(["a.mp4", "b.mp4"])),
    "meta_json": (np.array("not json {"), np.array("[1, 2]"), np.array('{"refine": 5}'),
                  np.array('{"refine": {"floor": {"pitch_deg": "x"}}}'), np.array("[" * 50000 + "]" * 50000),
                  np.array(3.0)),
    "track_ids": (np.array([1, 1]), np.array([1 + 0j, 4 + 0j]), np.array([1, 4], "M8[s]"), np.array([-1, 4]),
                  np.array([1, 4, 9]), np.array([[1, 4]]), np.array([1.0, 4.0]), np.array([2**40, 4])),
}


# what the README's format tables mark as always there (the raw_* ones are the "raw" case's)
_REQUIRED = {"format_version", "video_path", "fps", "width", "height", "num_frames", "focal_length_px", "timestamps_s",
             "track_ids", "frame_ids", "bbox_xyxy", "bbox_cxcys", "interpolated", "rotmat", "pose_aa", "betas", "cam",
             "orig_cam", "transl_cam", "scores"}


def _pick_member(rng, names, pattern=None) -> str:
    names = [n for n in names if pattern is None or pattern(n)]
    return names[rng.integers(len(names))]


def mutate(rng: np.random.Generator, base: bytes, marker: Path) -> Case:
    members = members_of(base)
    names = [n for n, _ in members]
    kind = ("bitflip", "bitflip", "truncate", "missing", "shape", "shape", "dtype", "nonfinite", "nonfinite",
            "scalar", "scalar", "pickle", "duplicate", "rows", "raw", "accept", "accept", "accept")[rng.integers(18)]
    edit = dict(members)

    def rebuilt(kind, what, order=None, must_refuse=True):
        return Case(kind, what, zip_bytes(order if order is not None else [(n, edit[n]) for n in names]),
                    must_refuse)

    if kind == "bitflip":
        data = bytearray(base)
        flips = int(rng.integers(1, 17))
        for _ in range(flips):
            bit = int(rng.integers(len(data) * 8))
            data[bit // 8] ^= 1 << (bit % 8)
        return Case(kind, f"{flips} bits", bytes(data), must_refuse=False)
    if kind == "truncate":
        cut = int(rng.integers(0, len(base)))
        return Case(kind, f"at {cut} of {len(base)} bytes", base[:cut])
    if kind == "missing":
        name = _pick_member(rng, names, lambda n: n.split("/")[-1][:-4] in _REQUIRED)
        return rebuilt(kind, name, [(n, d) for n, d in members if n != name])
    if kind in ("shape", "rows"):
        name = _pick_member(rng, names, lambda n: "/" in n if kind == "rows" else True)
        a = load(edit[name])
        if kind == "rows" or a.ndim and rng.random() < 0.5:  # a row more or less than the track has
            a = np.concatenate([a, a[-1:]]) if rng.random() < 0.5 or len(a) < 2 else a[:-1]
        else:
            a = np.stack([a, a]) if rng.random() < 0.5 else (a.reshape(-1) if a.ndim != 1 else a[None])
            if a.ndim == 1 and name[:-4].endswith(("fps", "width", "num_frames", "format_version")):
                a = a[:0]
        fewer_tracks = name == "track_ids.npy" and a.shape == (1,)  # one track dropped: still a valid file
        edit[name] = npy(a)
        return rebuilt(kind, f"{name} -> {a.shape}", must_refuse=not fewer_tracks)
    if kind == "dtype":
        name = _pick_member(rng, names)
        a = load(edit[name])
        target = ("c16", "M8[s]", "i8", "f8", "U8", "?", "f2", "V8")[rng.integers(8)]
        try:
            b = a.astype(target) if target != "M8[s]" else a.astype("i8").astype("M8[s]")
        except (TypeError, ValueError):
            b = np.zeros(a.shape, "c16")
        if b.dtype.kind == a.dtype.kind:  # the same kind: not the change this case is about
            b = np.zeros(a.shape, "c16")
        edit[name] = npy(b)
        return rebuilt(kind, f"{name} {a.dtype} -> {b.dtype}")
    if kind == "nonfinite":
        name = _pick_member(rng, names, lambda n: load(edit[n]).dtype.kind == "f" and load(edit[n]).size > 0)
        a = load(edit[name]).astype(np.float64 if name.count("/") == 0 else load(edit[name]).dtype)
        value = _NUMBERS[rng.integers(3)] if rng.random() < 0.6 else _NUMBERS[rng.integers(3, 6)]
        flat = a.reshape(-1).copy()
        with np.errstate(over="ignore"):  # 1e300 into float32: inf
            if rng.random() < 0.2:
                flat[:] = value  # all of it (all-NaN raw_rotmat: the LinAlgError of the issue)
            else:
                flat[rng.integers(flat.size)] = value
        edit[name] = npy(flat.reshape(a.shape).astype(a.dtype))
        return rebuilt(kind, f"{name} <- {value}")
    if kind == "scalar":
        key = list(_SCALARS)[rng.integers(len(_SCALARS))]
        if f"{key}.npy" not in edit:
            key = "fps"
        choices = _SCALARS[key]
        value = np.asarray(choices[rng.integers(len(choices))])
        edit[f"{key}.npy"] = npy(value)
        return rebuilt(kind, f"{key} = {value!r}"[:80], must_refuse=not (key == "motion_fps" and value == 0.001))
    if kind == "pickle":
        name = _pick_member(rng, names)
        payload = evil_pickles.payload("os", "system", marker, top_level=True)
        edit[name] = evil_pickles.npy_object_member(payload)
        return rebuilt(kind, name)
    if kind == "duplicate":
        name = _pick_member(rng, names)
        a = load(edit[name])
        other = npy(a[::-1].copy() if a.ndim else a)
        order = [(n, edit[n]) for n in names] + [(name, other)]
        return rebuilt(kind, name, order)
    if kind == "raw":  # the raw output incomplete or out of step with itself
        raws = [n for n in names if "/raw_" in n]
        if not raws:
            name = _pick_member(rng, names, lambda n: "/frame_ids" in n)
            a = load(edit[name])
            edit[name] = npy(a[::-1].copy() if rng.random() < 0.5 else np.repeat(a[:1], len(a)))
            return rebuilt(kind, f"{name} out of order")
        name = raws[rng.integers(len(raws))]
        track = name.split("/")[0]
        rows, raw_rows = (load(edit[f"{track}/{m}.npy"]).shape[0] for m in ("frame_ids", "raw_frame_ids"))
        # a raw field may be missing where the raw rows are the track's (the track's own stand in for it), or
        # where the track does not have that field either
        needed = name.endswith("/raw_frame_ids.npy") or (raw_rows != rows and name.replace("/raw_", "/") in edit)
        return rebuilt(kind, f"without {name}", [(n, d) for n, d in members if n != name], must_refuse=needed)
    # "accept": changes a reader takes: an unknown member, a member in big-endian order
    if rng.random() < 0.5:
        extra = ("track_1/tail_pose_aa.npy", np.zeros((48, 2, 15, 3), np.float32)) if rng.random() < 0.5 else \
            ("notes.npy", np.array("a note from another tool"))
        return rebuilt("accept", f"unknown {extra[0]}", [(n, d) for n, d in members] + [(extra[0], npy(extra[1]))],
                       must_refuse=False)
    name = _pick_member(rng, names, lambda n: load(edit[n]).dtype.kind == "f")
    a = load(edit[name])
    edit[name] = npy(a.astype(a.dtype.newbyteorder(">")))
    return rebuilt("accept", f"{name} big-endian", must_refuse=False)


def bomb_case(consistent: bool = False) -> Case:
    """The issue's bomb: track_1/rotmat of 2.48 M rows of zeros (2.1 GB) against 48 frame ids, in a 3.4 MB file.
    ``consistent``: every row member of track_1 made 1 M rows of zeros (within the row limit, in proportion to
    each other), so only the size budget stops it."""
    members = members_of(valid_files()["capture"])
    rows = 1_000_000 if consistent else BOMB_ROWS

    def swap(name, data):
        if not name.startswith("track_1/") or (name != "track_1/rotmat.npy" and not consistent):
            return data
        a = load(data)
        if a.shape[:1] != (48,):
            return data
        return zeros_member((rows,) + a.shape[1:], a.dtype.str)

    return Case("bomb", "consistent" if consistent else "rotmat rows", zip_bytes([(n, swap(n, d)) for n, d in members]))


def cases(count: int, seed: int, marker: Path) -> list[Case]:
    """The valid files, ``count`` mutated ones (case i from default_rng(seed + i)), then the two bombs."""
    files = valid_files()
    bases = list(files.values())
    out = [Case("valid", name, data, must_refuse=False) for name, data in files.items()]
    for i in range(count):
        rng = np.random.default_rng(seed + i)
        out.append(mutate(rng, bases[i % len(bases)], marker))
    return out + [bomb_case(), bomb_case(consistent=True)]


def summarise(title: str, counts: dict, problems: list, marker: Path, seconds: float, peaks: list) -> None:
    """Print a fuzz run's numbers (shown with ``pytest -s``) and fail on any problem or a payload that ran."""
    print(f"\n{title}: {counts['accepted'] + counts['refused']} cases, {counts['accepted']} accepted, "
          f"{counts['refused']} refused, {seconds:.1f} s, peak traced memory {max(peaks):.0f} MB; {dict(counts)}")
    assert not problems, "\n".join(problems[:20])
    assert not marker.exists(), "a pickled member was unpickled (the payload ran)"


def broken_refine(real, name: str):
    """``real`` (a refine_result) with an inf put into row 3 of track 1's ``name``: a refine bug, for the checks
    the writers run on their own output."""
    def broken(result, config, strict=True):
        refined, report = real(result, config, strict)
        getattr(refined.tracks[0], name)[3] = np.inf
        return refined, report

    return broken
