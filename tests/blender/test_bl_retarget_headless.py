"""The headless command with --retarget-to RIG: a motion file -> the character rig from .fbx/.glb/.blend with
the motion baked on -> .blend + FBX/BVH of that rig (export presets, frame range); and its error exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

import blender_helpers as H  # noqa: E402
import rigs  # noqa: E402
from tcmr_mocap.blender_addon.scene.keyframes import channelbag_of  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADLESS = REPO_ROOT / "blender_addon" / "headless.py"
N_FRAMES = 40


def run_headless(*args, timeout=300):
    return subprocess.run([sys.executable, str(HEADLESS), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture
def motion_file(tmp_path, smpl_arrays):
    R, transl = H.to_camera_frame(*rigs.every_limb_motion(N_FRAMES))
    result = H.make_result(smpl_arrays, {1: (R, transl, np.arange(N_FRAMES), np.zeros(10))},
                           video_path=str(tmp_path / "walk.mp4"))
    path = tmp_path / "walk.npz"
    result.save(path)
    return path


def write_rig(tmp_path, kind):
    """The Mixamo-style test rig saved as .fbx / .glb / .blend (no animation), from a fresh scene."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    H.enable_addon()
    rig = rigs.build_rig(bpy.context, "mixamo", name="hero")
    path = tmp_path / f"hero.{kind}"
    rig.select_set(True)
    bpy.context.view_layer.objects.active = rig
    if kind == "fbx":
        bpy.ops.export_scene.fbx(filepath=str(path), use_selection=True, add_leaf_bones=False, bake_anim=False)
    elif kind == "glb":
        bpy.ops.export_scene.gltf(filepath=str(path), use_selection=True, export_format="GLB")
    else:
        bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path, sorted(b.name for b in rig.data.bones)


@pytest.mark.parametrize("kind", ["fbx", "blend", "glb"])
def test_retarget_to_rig_file_and_export(scene, tmp_path, motion_file, kind):
    rig_path, bone_names = write_rig(tmp_path, kind)
    out = tmp_path / "out.blend"
    fbx, bvh = tmp_path / "hero_anim.fbx", tmp_path / "hero_anim.bvh"
    proc = run_headless("--import", motion_file, "-o", out, "--no-mesh", "--retarget-to", rig_path,
                        "--fbx", fbx, "--bvh", bvh, "--fbx-preset", "unreal", "--export-frames", "5:24")
    assert proc.returncode == 0, proc.stderr
    assert fbx.is_file() and bvh.is_file() and out.is_file()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(fbx), anim_offset=0.0)
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert sorted(b.name for b in arm.data.bones) == bone_names  # the character, not our SMPL armature
    start, end = arm.animation_data.action.frame_range
    assert (round(start), round(end)) == (5, 24)
    hips = rigs.posed_heads(arm, ["Hips"], [5, 24])[:, 0]
    assert np.linalg.norm(hips[1] - hips[0]) > 0.2  # it walked
    # the .blend holds the rig with the retargeted action
    bpy.ops.wm.open_mainfile(filepath=str(out))
    rigs_in_blend = [o for o in bpy.data.objects if o.type == "ARMATURE" and "Hips" in o.data.bones]
    assert len(rigs_in_blend) == 1
    action = rigs_in_blend[0].animation_data.action
    assert action.name.startswith("walk.mp4 · track 1 · ")
    assert {len(fc.keyframe_points) for fc in channelbag_of(rigs_in_blend[0]).fcurves} == {N_FRAMES}


def test_a_gltf_rig_brings_only_the_character(scene, tmp_path):
    """Issue 24 (15): the glTF importer's bone display shape (an Icosphere in a hidden collection) stays out."""
    from tcmr_mocap.blender_addon.cli import steps

    rig_path, _ = write_rig(tmp_path, "glb")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    H.enable_addon()
    rig = steps.import_rig(bpy.context, str(rig_path))
    assert {o.name for o in bpy.data.objects} == {rig.name, *(c.name for c in rig.children_recursive)}
    assert not bpy.data.collections and "Icosphere" not in bpy.data.meshes


def test_retarget_to_errors(scene, tmp_path, motion_file):
    out = tmp_path / "out.blend"
    proc = run_headless("--import", motion_file, "-o", out, "--retarget-to", tmp_path / "missing.fbx")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --retarget-to: no such file")
    (tmp_path / "notes.txt").write_text("x")
    proc = run_headless("--import", motion_file, "-o", out, "--retarget-to", tmp_path / "notes.txt")
    assert proc.returncode == 2 and "cannot read '.txt'" in proc.stderr
    bpy.ops.mesh.primitive_cube_add()
    cube_file = tmp_path / "cube.glb"
    bpy.ops.export_scene.gltf(filepath=str(cube_file), export_format="GLB")
    proc = run_headless("--import", motion_file, "-o", out, "--retarget-to", cube_file)
    assert proc.returncode == 2 and "holds no armature" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing half-done left behind
