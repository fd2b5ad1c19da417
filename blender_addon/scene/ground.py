"""The floor in the scene: a ground plane at Z = 0 and an empty on the floor for every foot contact (shown
while the contact lasts; at its own height where the foot rests above the floor, on a step or a box), for results
with an upright world frame (``core.motion.floor``)."""

from __future__ import annotations

import bpy
import numpy as np

from ...core.motion.contacts import FOOT_OF_COLUMN, runs
from ...core.motion.soles import FOOT_JOINT_IDS, foot_rest_heights
from ...core.smpl import forward_kinematics
from . import keyframes, pose_keys

GROUND_MARGIN_M = 1.0  # the plane reaches this far beyond every foot position
MARKER_SIZE_M = 0.05
RAISED_MARKER_M = 0.07  # a contact whose soles rest higher than this above the floor is marked where they rest


def world_joints(track, motion) -> np.ndarray:
    """(N, 24, 3) posed joints of a track in the Blender world."""
    P, _ = forward_kinematics(track.rest_joints, track.rotmat)
    return (P + track.transl[:, None]) @ motion.R_world_from_data.T + motion.world_offset


def row_frames(track, motion, scene_fps: float) -> np.ndarray:
    """Scene frame of every row (the keyframes' rule, rows that share a frame included)."""
    frames, keep = pose_keys.scene_frames(track.times_s, track.frame_ids, motion.fps, scene_fps)
    if keep.shape[0] == track.times_s.shape[0]:
        out = np.empty(keep.shape[0])
        out[keep] = frames
        return out
    return np.interp(track.times_s, track.times_s[keep], frames)


def build(motion, collection, made, scene_fps: float, show_ground: bool, show_contacts: bool) -> list:
    """Create the plane and/or the contact markers in ``collection``; ``made(idb, name)`` registers each new
    datablock with the scene builder (so a failed build removes them). Returns the new objects."""
    objects = []
    feet = [world_joints(t, motion)[:, list(FOOT_JOINT_IDS)] for t in motion.tracks]
    if show_ground and feet:
        xy = np.concatenate([f.reshape(-1, 3)[:, :2] for f in feet])
        lo, hi = xy.min(axis=0) - GROUND_MARGIN_M, xy.max(axis=0) + GROUND_MARGIN_M
        name = f"{motion.name} · ground"
        data = bpy.data.meshes.new(name)
        data.from_pydata([(lo[0], lo[1], 0.0), (hi[0], lo[1], 0.0), (hi[0], hi[1], 0.0), (lo[0], hi[1], 0.0)], [],
                         [(0, 1, 2, 3)])
        data.update()
        obj = bpy.data.objects.new(name, data)
        obj.display_type = "WIRE"  # a guide in the viewport, see-through over the camera's footage
        obj.hide_render = True  # never drawn over the footage in a render (Workbench ignores holdout materials)
        collection.objects.link(obj)
        made(data, name)
        made(obj, name)
        objects.append(obj)
    if show_contacts:
        for track, foot in zip(motion.tracks, feet):
            if track.contact is None:
                continue
            frames = row_frames(track, motion, scene_fps)
            for side, label in ((0, "L"), (1, "R")):
                cols = [k for k in range(4) if FOOT_OF_COLUMN[k] == side]
                planted = track.contact[:, cols].any(axis=1)
                for n, (a, b) in enumerate(runs(planted)):
                    down = track.contact[a:b][:, cols]  # (n, 2) which joints are down
                    points = foot[a:b][:, cols][down]
                    sole_z = foot[a:b][:, cols, 2] - foot_rest_heights(track.rest_joints)[cols]  # (n, 2)
                    level = float(np.median(sole_z[down]))  # where the soles rest: a step, a box, or ~0 (the floor)
                    name = f"{motion.name} · contact {track.track_id} {label}{n + 1}"
                    obj = bpy.data.objects.new(name, None)
                    obj.empty_display_type = "SPHERE"
                    obj.empty_display_size = MARKER_SIZE_M
                    obj.location = (float(points[:, 0].mean()), float(points[:, 1].mean()),
                                    level if level > RAISED_MARKER_M else 0.0)
                    obj["tcmr_contact_frames"] = [int(frames[a]), int(frames[b - 1])]
                    collection.objects.link(obj)
                    made(obj, name)
                    action, bag = keyframes.new_action(obj, name)
                    made(action, name)
                    group = bag.groups.new("Object Transforms")
                    key_frames = np.array([frames[a] - 1, frames[a], frames[b - 1], frames[b - 1] + 1])
                    for axis in range(3):
                        keyframes.fill_fcurve(bag, "scale", axis, group, key_frames, np.array([0.0, 1.0, 1.0, 0.0]))
                    objects.append(obj)
    return objects
