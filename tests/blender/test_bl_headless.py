"""The headless command (blender_addon/headless.py) as a subprocess with the bpy module, the way CI runs
`blender -b --python blender_addon/headless.py -- ...`: import mode, error exit, and a real capture end to end."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADLESS = REPO_ROOT / "blender_addon" / "headless.py"


def run_headless(*args, timeout=300):
    return subprocess.run([sys.executable, str(HEADLESS), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


def glb_json(path: Path) -> dict:
    data = path.read_bytes()
    magic, _, _ = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF"
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20:20 + length])


def test_headless_import_to_blend_fbx_gltf(scene, tmp_path, smpl_arrays, models_with_smpl):
    R, transl = H.procedural_motion(30)
    R[:, 22:] = np.eye(3)
    amass = H.write_amass(tmp_path / "jump_poses.npz", R, transl, np.zeros(10), fps=30.0)
    out = tmp_path / "out.blend"
    proc = run_headless("--import", amass, "-o", out, "--models", models_with_smpl, "--fbx", tmp_path / "out.fbx",
                        "--gltf", tmp_path / "out.glb")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "out.fbx").stat().st_size > 10_000
    gltf = glb_json(tmp_path / "out.glb")
    assert len(gltf["animations"]) == 1 and len(gltf["animations"][0]["channels"]) >= 24  # the active action
    bpy.ops.wm.open_mainfile(filepath=str(out))
    arm = bpy.data.objects["jump_poses.npz · track 1"]
    assert arm.animation_data.action.name == "jump_poses.npz · track 1"
    assert bpy.context.scene.render.fps == 30 and bpy.context.scene.frame_end == 30


def bvh_frames(path: Path) -> int:
    return int(next(line for line in path.read_text().splitlines() if line.startswith("Frames:")).split()[1])


def test_headless_exports_the_main_track_in_every_format(tmp_path, smpl_arrays):
    """Issue 24 (10, 12, 9): exports took the first track by id (a bystander); `--export fbx,glb,gltf,bvh` wrote only
    one of .glb/.gltf; a missing video left the footage out silently. Now: the longest track (or --track ID), each
    format its own file, and a warning naming the missing footage."""
    R, transl = H.to_camera_frame(*H.procedural_motion(40))
    rows = {1: np.arange(25, 40), 2: np.arange(40), 3: np.arange(10)}  # track 2 is the main person
    tracks = {tid: (R[ids], transl[ids], ids, np.zeros(10)) for tid, ids in rows.items()}
    H.make_result(smpl_arrays, tracks, video_path=str(tmp_path / "gone.mp4")).save(tmp_path / "street.npz")
    out = tmp_path / "street.blend"
    proc = run_headless("--import", tmp_path / "street.npz", "-o", out, "--export", "fbx,glb,gltf,bvh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for ext in ("fbx", "glb", "gltf", "bvh"):
        assert (tmp_path / f"street.{ext}").stat().st_size > 1000, ext
    assert bvh_frames(tmp_path / "street.bvh") == 40
    assert glb_json(tmp_path / "street.glb")["accessors"][0]  # a real GLB
    assert f"warning: footage not found: {tmp_path / 'gone.mp4'}" in proc.stderr
    proc = run_headless("--import", tmp_path / "street.npz", "-o", out)  # again: no street.blend1 beside it (15)
    assert proc.returncode == 0 and not (tmp_path / "street.blend1").exists()
    proc = run_headless("--import", tmp_path / "street.npz", "-o", tmp_path / "one.blend", "--track", "1", "--bvh",
                        tmp_path / "one.bvh")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert bvh_frames(tmp_path / "one.bvh") == 15
    proc = run_headless("--import", tmp_path / "street.npz", "-o", tmp_path / "x.blend", "--track", "7", "--bvh",
                        tmp_path / "x.bvh")
    assert proc.returncode == 2 and "--track 7: there is no such track (tracks: 1, 2, 3)" in proc.stderr
    assert not (tmp_path / "x.blend").exists() and not (tmp_path / "x.bvh").exists()


def test_a_failing_clip_is_one_manifest_record(scene, tmp_path, smpl_arrays, monkeypatch):
    """Issue 24 (2): a Blender error (here any exception from a step) ended the batch with a traceback and no
    manifest; now it fails that clip alone, with one line and the traceback in its record."""
    import types

    from tcmr_mocap.blender_addon.cli import batch, steps

    R, transl = H.to_camera_frame(*H.procedural_motion(10))
    H.make_result(smpl_arrays, {1: (R, transl, np.arange(10), np.zeros(10))}).save(tmp_path / "a.npz")
    clip = batch.StageClip("k1", str(tmp_path / "a.npz"), "a.blend", str(tmp_path / "a.npz"), "a")
    args = types.SimpleNamespace(export_formats=[], render=None, no_mesh=True, models=None, smpl=None, python=None,
                                 track=None)

    def broken(*a, **k):
        raise RuntimeError("Error: width not divisible by 2 (203x180)")

    monkeypatch.setattr(steps, "finish", broken)
    record = batch.run_clip(args, clip, str(tmp_path), print, lambda: None)
    assert record["status"] == "failed" and record["outputs"] == []
    assert record["error"] == "internal error: RuntimeError: Error: width not divisible by 2 (203x180)"
    assert "Traceback" in record["traceback"]


def test_relative_video_path_is_found_beside_the_result(scene, tmp_path, smpl_arrays, synthetic_video):
    """Issue 24 (9): a result storing a relative video path lost its footage when imported from another folder."""
    from tcmr_mocap.blender_addon.scene import builder

    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "walk.mp4").symlink_to(synthetic_video)
    R, transl = H.to_camera_frame(*H.procedural_motion(40))
    H.make_result(smpl_arrays, {1: (R, transl, np.arange(40), np.zeros(10))}, video_path="walk.mp4").save(
        folder / "walk.npz")
    result = builder.import_file(bpy.context, str(folder / "walk.npz"),
                                 builder.BuildOptions(create_mesh=False, set_scene=True))
    assert not result.warnings, result.warnings
    clip = scene.camera.data.background_images[0].clip
    assert Path(bpy.path.abspath(clip.filepath)) == folder / "walk.mp4"


def test_headless_error_exit(tmp_path):
    proc = run_headless("--import", tmp_path / "missing.npz", "-o", tmp_path / "x.blend")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: motion file not found")
    assert not (tmp_path / "x.blend").exists()
    proc = run_headless("-o", tmp_path / "x.blend")
    assert proc.returncode == 2 and "either a VIDEO" in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (REPO_ROOT / "core" / "pipeline.py").is_file(), reason="core/pipeline.py not there yet")
def test_headless_capture_end_to_end(scene, tmp_path, models_dir, extremity_models_dir, synthetic_video):
    """Video -> core subprocess (synthetic networks, the real hand and face models, boxes from a file) ->
    armature with fingers and face, camera, footage -> .blend, and the face as an ARKit CSV."""
    import synthetic

    boxes = tmp_path / "boxes.json"
    frames = [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t).tolist()], "scores": [0.9]} for t in range(40)]
    boxes.write_text(json.dumps({"frames": frames}))
    models = tmp_path / "models"
    models.mkdir()
    for folder in (models_dir, extremity_models_dir):
        for item in folder.iterdir():
            (models / item.name).symlink_to(item.resolve())
    out = tmp_path / "walk.blend"
    proc = run_headless(synthetic_video, "-o", out, "--models", models, "--detections", boxes, "--device", "cpu",
                        "--python", H.runtime_python(), "--gltf", tmp_path / "walk.glb", "--hands", "--face",
                        "--export", "csv", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[tcmr]" in proc.stdout  # progress lines from the core
    progress = [line for line in proc.stdout.splitlines() if line.startswith("[tcmr]")]
    assert progress[-1].startswith("[tcmr] 100.0%") and len(progress) == len(set(progress))  # each line once
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    arm = bpy.data.objects["walk.mp4 · track 1"]
    action = arm.animation_data.action
    assert action.name == "walk.mp4 · track 1" and len(bpy.data.actions) == 1
    keys = H.fcurve_values(arm, 'pose.bones["pelvis"].rotation_quaternion', 0)[0]
    np.testing.assert_array_equal(keys, np.arange(1, 41))
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (30, 1, 40)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (320, 240)
    cam = scene.camera
    assert Path(bpy.path.abspath(cam.data.background_images[0].clip.filepath)).resolve() == synthetic_video.resolve()
    assert "walk.mp4 · body 1" in bpy.data.objects
    # the body stands in front of the camera, upright
    scene.frame_set(20)
    head = np.array(arm.matrix_world @ arm.pose.bones["head"].head)
    pelvis = np.array(arm.matrix_world @ arm.pose.bones["pelvis"].head)
    assert pelvis[1] > 0.5 and head[2] > pelvis[2]
    assert len(glb_json(tmp_path / "walk.glb")["animations"]) == 1
    # fingers and face: a stick figure shows neither, so relaxed hands and a neutral face, keyed on every frame
    assert "left_index1" in arm.data.bones and "right_thumb3" in arm.data.bones and "jawOpen" in arm
    keys = H.fcurve_values(arm, 'pose.bones["left_index2"].rotation_quaternion', 0)[0]
    np.testing.assert_array_equal(keys, np.arange(1, 41))
    rows = (tmp_path / "walk.csv").read_text().splitlines()
    assert rows[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft,") and len(rows) == 41


@pytest.mark.slow
@pytest.mark.skipif(not (REPO_ROOT / "core" / "__main__.py").is_file(), reason="the core CLI is not there yet")
def test_export_smpl_button_makes_amass_importable(scene, tmp_path, models_dir, smpl_arrays):
    """No SMPL file: the panel's Export SMPL Body runs `python -m core export-smpl` on the checkpoint's copy."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tcmr_demo_model.pth.tar").symlink_to(models_dir / "tcmr_demo_model.pth.tar")
    prefs = bpy.context.preferences.addons["tcmr_mocap"].preferences
    prefs.models_dir, prefs.python_path = str(folder), H.runtime_python()
    R, transl = H.procedural_motion(10)
    amass = H.write_amass(tmp_path / "a_poses.npz", R, transl, np.zeros(10))
    with pytest.raises(RuntimeError, match="export-smpl"):
        bpy.ops.tcmr.import_motion(filepath=str(amass))
    assert bpy.ops.tcmr.export_smpl() == {"FINISHED"}
    assert (folder / "SMPL_NEUTRAL.npz").is_file()
    assert bpy.ops.tcmr.import_motion(filepath=str(amass)) == {"FINISHED"}
    from tcmr_mocap.core import rotations, smpl

    arm = bpy.data.objects["a_poses.npz · track 1"]
    rest = np.array([arm.data.bones[n].head_local for n in ("pelvis", "head")])
    # the SMPL body of the checkpoint, standing up in Blender
    expected = smpl.rest_joints(smpl_arrays, np.zeros(10))[[0, 15]] @ rotations.R_BLENDER_FROM_SMPL.T
    np.testing.assert_allclose(rest, expected, atol=1e-5)


def test_progress_printer_prints_each_line_once():
    """Issue 11: the final progress line came out twice (the job reports the same state at its last progress
    event, at "done" and when it ends). Each distinct line is printed once."""
    import io
    import types

    from tcmr_mocap.blender_addon.runtime.job import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out)
    for fraction, message in ((0.5, "detect: 10 frames"), (1.0, "save: saved"), (1.0, "save: saved"),
                              (1.0, "save: saved"), (0.5, "detect: 10 frames")):
        printer(types.SimpleNamespace(fraction=fraction, message=message))
    assert out.getvalue().splitlines() == ["[tcmr]  50.0% detect: 10 frames", "[tcmr] 100.0% save: saved",
                                           "[tcmr]  50.0% detect: 10 frames"]


@pytest.mark.slow
def test_headless_batch_resumable_with_exports_and_renders(tmp_path, models_dir, smpl_arrays, models_with_smpl):
    """Many inputs -> one .blend (+ BVH, + rendered frame) per clip, a manifest; a bad clip does not stop the
    batch; a re-run skips what is done; the capture step goes through `python -m core batch` (its manifest)."""
    import synthetic

    rows = []
    for name, n in (("walk", 30), ("jog", 26)):
        video = H.write_video(tmp_path / f"{name}.mp4", n_frames=n)
        boxes = tmp_path / f"{name}.json"
        boxes.write_text(json.dumps({"frames": [{"frame": t, "bbox_xyxy": [synthetic.figure_box_xyxy(t, n_frames=n)
                                                                          .tolist()]} for t in range(n)]}))
        rows.append(f"{video} --detections {boxes}")
    (tmp_path / "broken.mp4").write_text("not a video")
    rows.append(str(tmp_path / "broken.mp4"))
    listing = tmp_path / "clips.txt"
    listing.write_text("\n".join(rows) + "\n")
    R, transl = H.procedural_motion(20)
    amass = H.write_amass(tmp_path / "dance_poses.npz", R, transl, np.zeros(10), fps=30.0)
    models = tmp_path / "models"  # the synthetic networks + an SMPL file (AMASS needs one)
    models.mkdir()
    for f in [*models_dir.iterdir(), *models_with_smpl.iterdir()]:
        (models / f.name).symlink_to(f)
    out = tmp_path / "out"
    # issue 24 (2, 12): a video at an odd scaled size (105 x 79) stopped the batch; every export format its own file
    args = (listing, amass, "-o", out, "--models", models, "--device", "cpu", "--python", H.runtime_python(),
            "--export", "bvh,glb,gltf", "--render", f"{out}/{{name}}.mp4", "--render-frames", "0:2",
            "--render-scale", "33")
    proc = run_headless(*args, timeout=900)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]  # some failed
    assert "Traceback" not in proc.stderr and "EGL Error" not in proc.stderr  # (15: Blender's GPU probing chatter)
    assert "[render] frame 3/3" in proc.stdout  # a video render shows its own progress (15)
    records = [json.loads(line) for line in (out / "blender_manifest.jsonl").read_text().splitlines()]
    by_input = {Path(r["input"]).name: r for r in records}
    assert set(by_input) == {"walk.mp4", "jog.mp4", "broken.mp4", "dance_poses.npz"}
    assert by_input["broken.mp4"]["status"] == "failed" and "as a video" in by_input["broken.mp4"]["error"]
    for name in ("walk.mp4", "jog.mp4"):
        rec = by_input[name]
        assert rec["status"] == "done" and rec["motion"].startswith(str(out / "captures"))
    done = [r for r in records if r["status"] == "done"]
    assert len(done) == 3 and by_input["dance_poses.npz"]["motion"] == str(amass)  # imported as it is
    assert by_input["dance_poses.npz"]["warnings"] == ["not rendered: the motion file has no camera or footage"]
    for rec in (by_input["walk.mp4"], by_input["jog.mp4"]):
        stem = out / rec["name"]
        blend, bvh, movie = stem.with_suffix(".blend"), stem.with_suffix(".bvh"), stem.with_suffix(".mp4")
        assert blend.is_file() and bvh.read_text().startswith("HIERARCHY")
        assert H.video_frames_rgb(movie).shape[:3] == (3, 78, 104)  # even size, video frames 0-2
        glb, gltf = stem.with_suffix(".glb"), stem.with_suffix(".gltf")
        assert glb.read_bytes()[:4] == b"glTF" and "animations" in json.loads(gltf.read_text())
        assert {str(blend), str(bvh), str(movie), str(glb), str(gltf)} <= set(rec["outputs"])
    walk = by_input["walk.mp4"]
    bpy.ops.wm.open_mainfile(filepath=str(out / f"{walk['name']}.blend"))
    scene = bpy.context.scene
    assert "walk.mp4 · track 1" in bpy.data.objects
    assert scene.render.engine == "BLENDER_WORKBENCH" and scene.render.film_transparent  # a farm renders the same
    # again: nothing redone (no capture, no import), same exit code for the failed clip
    before = (out / f"{walk['name']}.blend").stat().st_mtime_ns
    proc = run_headless(*args, timeout=300)
    assert proc.returncode == 3 and f"{len(done)} already done" in proc.stdout, proc.stdout[-2000:]
    assert (out / f"{walk['name']}.blend").stat().st_mtime_ns == before
    assert len((out / "blender_manifest.jsonl").read_text().splitlines()) == len(records)


@pytest.mark.parametrize("batch", [False, True], ids=["one-clip", "batch"])
def test_headless_fast_reaches_the_core(tmp_path, synthetic_video, batch):
    """--fast, --hands/--no-hands and --face/--no-face are passed to `core capture` (one clip) and to `core batch`
    as given; without them neither gets them."""
    for k, extra in enumerate((["--fast", "--hands", "--no-face"], [], ["--no-hands", "--face"])):
        folder = tmp_path / f"run-{k}"
        python = H.write_fake_core(folder / "fake", mode="error", message="stopped by the test")
        out = folder / "out" if batch else folder / "walk.blend"
        proc = run_headless(synthetic_video, "-o", out, "--python", python, "--models", folder, *extra)
        assert proc.returncode == 2 and "stopped by the test" in proc.stderr, proc.stderr[-2000:]
        argv = json.loads((python.parent / "argv.json").read_text())
        assert argv[2] == ("batch" if batch else "capture")
        for option in ("--fast", "--hands", "--no-hands", "--face", "--no-face"):
            assert (option in argv) == (option in extra), (option, argv)


def test_headless_import_with_fingers_and_face_onto_a_character(tmp_path, smpl_arrays, arkit_character):
    """A result with fingers and a face -> --retarget-to the MakeHuman character (ARKit shape keys) -> its FBX
    holds the character's fingers and shape-key animation, and the CSV the captured weights."""
    from extremity_motion import write_capture

    path, result = write_capture(tmp_path, smpl_arrays, 16, "talk", still=True)
    out = tmp_path / "talk.blend"
    proc = run_headless("--import", path, "-o", out, "--no-mesh", "--retarget-to", arkit_character,
                        "--export", "fbx,csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split(",") for line in (tmp_path / "talk.csv").read_text().splitlines()]
    jaw = rows[0].index("JawOpen")
    np.testing.assert_allclose([float(r[jaw]) for r in rows[1:]],
                               result.tracks[0].face_blendshapes[:, 24], atol=1e-6)  # (24: jawOpen)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(tmp_path / "talk.fbx"), anim_offset=0.0)
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert "index_02_l" in arm.data.bones and "left_index2" not in arm.data.bones  # the character's own
    body = next(o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys)
    key = body.data.shape_keys
    bpy.context.scene.frame_set(9)
    assert key.key_blocks["jawOpen"].value == pytest.approx(result.tracks[0].face_blendshapes[8, 24], abs=2e-3)


def test_headless_import_takes_the_smpl_file_given_with_smpl(tmp_path, smpl_arrays, real_file):
    """--import of recorded mocap (core.formats: no footage) with --smpl FILE and no SMPL in the models folder:
    the body mesh is built from that file, nothing is said about footage; a --smpl that names no file, or an
    -o folder that does not exist, is one error line before any work."""
    import synthetic

    from tcmr_mocap.core.formats.to_smpl import retarget_file

    motion = tmp_path / "walk.npz"
    retarget_file(real_file("cmu_01_01"), fps=30.0).to_result().save(motion)
    smpl_file = synthetic.write_smpl_npz(tmp_path / "my_smpl.npz", smpl_arrays)
    empty = tmp_path / "no_models"
    empty.mkdir()
    out = tmp_path / "walk.blend"
    proc = run_headless("--import", motion, "-o", out, "--models", empty, "--smpl", smpl_file)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 0, said[-3000:]
    assert "no SMPL mesh data" not in said and "footage" not in said
    bpy.ops.wm.open_mainfile(filepath=str(out))
    body = bpy.data.objects["01_01.bvh · body 1"]
    assert body.type == "MESH" and len(body.data.vertices) == 6890
    assert not bpy.data.movieclips
    for args, name in (((tmp_path / "b.blend", "--smpl", tmp_path / "missing.npz"), "missing.npz"),
                       ((tmp_path / "nowhere" / "b.blend", "--smpl", smpl_file), "nowhere")):
        proc = run_headless("--import", motion, "-o", *args, "--models", empty)
        assert proc.returncode == 2 and not (tmp_path / "b.blend").exists()
        (line,) = [s for s in proc.stderr.splitlines() if s.startswith("error")]
        assert name in line and "Traceback" not in proc.stderr


def test_a_result_naming_a_file_that_is_no_video_imports_without_footage(tmp_path, smpl_arrays, real_file):
    """Files of an earlier version named the mocap source as their video: the import says once that there is
    no footage (the file is not a video) and loads no clip; the render says it has none."""
    from tcmr_mocap.core.formats.to_smpl import retarget_file

    result = retarget_file(real_file("cmu_01_01"), fps=30.0).to_result()
    result.video_path = real_file("cmu_01_01")
    result.save(tmp_path / "old.npz")
    out = tmp_path / "old.blend"
    proc = run_headless("--import", tmp_path / "old.npz", "-o", out, "--no-mesh", "--render",
                        tmp_path / "f_####.png", "--render-frames", "3:3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [s for s in proc.stderr.splitlines() if s.startswith("warning")]
    assert any(s.startswith("warning: no footage behind the camera: cannot read") for s in warnings), warnings
    assert not any("out of sync" in s for s in warnings)
    bpy.ops.wm.open_mainfile(filepath=str(out))
    assert not bpy.data.movieclips
