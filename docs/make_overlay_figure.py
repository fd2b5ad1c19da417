"""Draws docs/blender_render_overlay.png: the headless render path on real footage with a phone-like frame rate.

The footage is the Sports2D demo clip (tests/realdata.py, ``sports2d_demo``: 1768×994, two people walking) given
a variable frame rate (a 50 ms gap every 7 frames; tests/mp4_timing.py) with the same pixels: Blender alone reads
it as 60 fps with 492 frames. The scene is built the way a capture result is imported (the capture's frame rate
and timestamps), so the background is the capture's own decode (blender_addon/scene/footage.py), and it is rendered
with blender_addon/render/overlay.py (Workbench, over the footage, through the matched camera).

The body is not a capture of these people: this repository ships no network weights (the tests use random ones,
which give a random body). It is a procedural walk, drawn as a stick mannequin (a Skin modifier on the posed
joints), placed in front of the camera; with the real TCMR weights the captured bodies stand over the people.

    .venv/bin/python docs/make_overlay_figure.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "blender")]
FRAMES = (61, 121, 181)  # scene frames shown (video frame = scene frame - 1)


def mannequin(bpy, armature, radius=0.05):
    """A stick body for ``armature``: a capped tube along every bone and a ball on every joint, each weighted to its
    bone (an Armature modifier poses it)."""
    import bmesh
    from mathutils import Matrix

    bm = bmesh.new()
    groups = []  # (bone name, first vertex, vertex count)
    for bone in armature.data.bones:
        start = len(bm.verts)
        head, tail = bone.head_local, bone.tail_local
        axis = tail - head
        turn = axis.normalized().to_track_quat("Z", "Y").to_matrix().to_4x4()
        width = radius * (1.6 if bone.name in ("pelvis", "spine1", "spine2", "spine3") else 1.0)
        bmesh.ops.create_cone(bm, cap_ends=True, segments=10, radius1=width, radius2=width * 0.8,
                              depth=axis.length, matrix=Matrix.Translation((head + tail) / 2) @ turn)
        bmesh.ops.create_uvsphere(bm, u_segments=10, v_segments=6, radius=width * 1.1,
                                  matrix=Matrix.Translation(head))
        if bone.name == "head":
            bmesh.ops.create_uvsphere(bm, u_segments=12, v_segments=8, radius=0.11,
                                      matrix=Matrix.Translation(tail))
        groups.append((bone.name, start, len(bm.verts) - start))
    mesh = bpy.data.meshes.new("mannequin")
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new("mannequin", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent = armature
    for name, start, count in groups:
        obj.vertex_groups.new(name=name).add(list(range(start, start + count)), 1.0, "REPLACE")
    obj.modifiers.new("Armature", "ARMATURE").object = armature
    return obj


def nearest_frame(video, rgb) -> int:
    """The decoded video frame (OpenCV, in order) closest to the image ``rgb`` (compared at a small size)."""
    import cv2
    import numpy as np

    small = cv2.resize(rgb.astype(np.float32), (160, 90), interpolation=cv2.INTER_AREA)
    cap, best = cv2.VideoCapture(str(video)), (np.inf, -1)
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        f = cv2.resize(frame[..., ::-1].astype(np.float32) / 255.0, (160, 90), interpolation=cv2.INTER_AREA)
        best = min(best, (float(np.abs(f - small).mean()), k))
        k += 1
    return best[1]


def main():
    spec = importlib.util.spec_from_file_location("bl_conftest", ROOT / "tests" / "blender" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    import bpy
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import blender_helpers as H
    import mp4_timing
    import realdata
    import synthetic
    from tcmr_mocap.blender_addon.render import overlay
    from tcmr_mocap.blender_addon.scene import builder

    work = Path(tempfile.mkdtemp(prefix="tcmr_fig_"))
    video = work / "sports2d_phone.mp4"
    mp4_timing.retime(realdata.require("sports2d_demo"), video, [768 if k % 7 == 6 else 512 for k in range(230)])
    fps, timestamps = H.video_timing(video)
    n = timestamps.shape[0]
    smpl_arrays = synthetic.make_smpl_arrays(seed=0)
    R, transl = H.procedural_motion(n)
    R_cam, t_cam = H.to_camera_frame(R, transl, depth=7.0)
    t_cam = t_cam + [-2.0, 0.85, 0.0]  # left, in front of the hut, feet on the grass
    result = H.make_result(smpl_arrays, {1: (R_cam, t_cam, np.arange(n), np.zeros(10))}, video_path=str(video),
                           fps=fps, width=1768, height=994, focal_length_px=1500.0, num_frames=n)
    result.timestamps_s = timestamps
    result.meta["timestamps_decoded_frames"] = n
    result.save(str(work / "capture.npz"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    conftest.enable_addon()
    built = builder.import_file(bpy.context, str(work / "capture.npz"), builder.BuildOptions(
        create_mesh=False, set_scene=True, footage_dir=str(work / "footage"), python=H.runtime_python()))
    scene = bpy.context.scene
    clip = overlay.footage_clip(scene)
    print(f"footage: {clip.source} ({'the capture’s own frames' if clip.source == 'SEQUENCE' else 'the movie'})")
    mannequin(bpy, built.armatures[0])
    images, titles = [], []
    for frame in FRAMES:
        overlay.setup_overlay(scene, str(work / f"f{frame}.png"), frames=(frame, frame), scale=40)
        (path,) = overlay.render(scene)
        images.append(H.png_rgb(path))
        titles.append(f"scene frame {frame} = video frame {frame - 1} ({timestamps[frame - 1]:.2f} s)")
    # what Blender alone shows on the middle frame: its own reading of the movie (60 fps, 492 frames)
    movie = bpy.data.movieclips.load(str(video))
    scene.camera.data.background_images[0].clip = movie
    frame = FRAMES[1]
    overlay.setup_overlay(scene, str(work / "movie.png"), frames=(frame, frame), scale=40)
    (path,) = overlay.render(scene)
    images.append(H.png_rgb(path))
    shown = nearest_frame(video, images[-1])
    titles.append(f"Blender alone, scene frame {frame}: video frame {shown} ({timestamps[shown]:.2f} s)")
    fig, axes = plt.subplots(1, len(images), figsize=(20, 3.3))
    for ax, title, rgb in zip(axes, titles, images):
        ax.imshow(np.clip(rgb, 0, 1))
        ax.set_title(title, fontsize=10, color="black" if not title.startswith("Blender") else "firebrick")
        ax.axis("off")
    fig.tight_layout()
    out = ROOT / "docs" / "blender_render_overlay.png"
    fig.savefig(out, dpi=72)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
