"""The capture camera and its footage: a scene camera at the world origin looking along +Y with the focal
length and sensor the core used, the video as a MovieClip background, and the scene's fps/size/range."""

from __future__ import annotations

import os
import bpy
import numpy as np
from mathutils import Matrix

from ...core import rotations
from . import pose_keys

# Camera object axes (x right, y up, looking down -z) -> world: OpenCV camera -> world, after camera -> OpenCV.
R_WORLD_FROM_CAMERA_OBJECT = rotations.R_BLENDER_FROM_OPENCV @ rotations.R_BLENDER_CAM_FROM_OPENCV_CAM.T


def lens_mm(focal_length_px: float, width_px: int, sensor_width_mm: float) -> float:
    """Focal length in mm on a sensor ``sensor_width_mm`` wide whose width spans the image width."""
    return float(focal_length_px) * float(sensor_width_mm) / float(width_px)


def build_camera(name: str, width: int, focal_length_px: float, sensor_width_mm: float, collection,
                 R_world_from_cam=None, location=None):
    """A camera object (linked to ``collection``) matching the capture's pinhole camera: at the origin looking
    along +Y, or (refined results) at ``location`` turned by ``R_world_from_cam`` (OpenCV camera -> world),
    i.e. with the capture camera's pitch, roll and height above the level floor."""
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = sensor_width_mm
    data.lens = lens_mm(focal_length_px, width, sensor_width_mm)
    data.clip_start = 0.05
    data.clip_end = 1000.0
    obj = bpy.data.objects.new(name, data)
    matrix = np.eye(4)
    matrix[:3, :3] = R_WORLD_FROM_CAMERA_OBJECT
    if R_world_from_cam is not None:
        matrix[:3, :3] = np.asarray(R_world_from_cam, dtype=np.float64) @ rotations.R_BLENDER_CAM_FROM_OPENCV_CAM.T
    if location is not None:
        matrix[:3, 3] = np.asarray(location, dtype=np.float64)
    obj.matrix_world = Matrix(matrix.tolist())
    collection.objects.link(obj)
    return obj


def find_clip(video_path: str):
    """An already loaded MovieClip of this file, or None."""
    target = os.path.normcase(os.path.abspath(video_path))
    for clip in bpy.data.movieclips:
        if os.path.normcase(os.path.abspath(bpy.path.abspath(clip.filepath))) == target:
            return clip
    return None


def attach_footage(camera_obj, clip, video_fps: float = 0.0, scene_fps: float = 0.0):
    """Show the MovieClip ``clip`` (``footage.load_clip``: the movie, or the capture's own frames) behind the
    camera view. Returns the clip.

    Blender plays a clip one clip frame per scene frame. When the scene runs at another rate than the video
    (a motion resampled to ``scene_fps``), a driver on the clip's ``frame_offset`` makes scene frame k show the
    video frame at the same time, ``round((k - 1) · video_fps / scene_fps)``, as the keys are placed
    (:func:`pose_keys.scene_frames`); a simple expression, so it runs without Python scripts enabled.
    """
    retime_footage(clip, video_fps, scene_fps)
    background = camera_obj.data.background_images.new()
    background.source = "MOVIE_CLIP"
    background.clip = clip
    background.alpha = 1.0
    background.frame_method = "FIT"
    camera_obj.data.show_background_images = True
    return clip


def footage_offset_expression(video_fps: float, scene_fps: float) -> str:
    """The driver of ``frame_offset``: scene frame k -> the clip frame of video frame ``round((k - 1) · ratio)``
    (a clip's frame_start puts video frame N on scene frame N + 1)."""
    return f"floor((frame - 1) * {float(video_fps) / float(scene_fps)!r} + 0.5) + 1 - frame"


def retime_footage(clip, video_fps: float, scene_fps: float) -> None:
    """Drive ``clip.frame_offset`` so the footage keeps the video's time on a scene of another rate; at the same
    rate (or rates unknown) any such driver is removed and the offset is 0."""
    if clip.animation_data is not None:
        for fcurve in list(clip.animation_data.drivers):
            if fcurve.data_path == "frame_offset":
                clip.animation_data.drivers.remove(fcurve)
    clip.frame_offset = 0
    if not (video_fps > 0 and scene_fps > 0) or abs(video_fps - scene_fps) <= 1e-5 * video_fps:
        return
    driver = clip.driver_add("frame_offset").driver
    driver.type = "SCRIPTED"
    driver.expression = footage_offset_expression(video_fps, scene_fps)


def set_scene_timing(scene, fps: float, num_source_frames: int) -> None:
    """Scene frame rate (29.97 -> 30 / 1.001) and range 1..N covering the source."""
    scene.render.fps, scene.render.fps_base = pose_keys.fps_to_blender(fps)
    scene.frame_start = 1
    scene.frame_end = pose_keys.scene_frame_count(num_source_frames, fps, scene_fps(scene))


def set_scene_image(scene, width: int, height: int, camera_obj) -> None:
    scene.render.resolution_x = int(width)
    scene.render.resolution_y = int(height)
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = 1.0
    scene.render.pixel_aspect_y = 1.0
    scene.camera = camera_obj


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base
