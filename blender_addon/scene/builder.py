"""Motion -> scene, in one step that either fully succeeds or leaves the scene as it was.

Everything is built into fresh datablocks in a new collection ``TCMR · <name>``; only when all of it exists
is the previous result of the same source (same video / file) removed and the new datablocks renamed to
the plain names. On any error the new datablocks are removed and the scene settings restored, then the
error propagates (operators turn MocapError into a report).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import bpy
import numpy as np

from ...core.config import CameraConfig
from ...core.skeleton import SMPL_JOINT_NAMES
from ..runtime import preferences
from . import armature, body, camera, face, footage, formats, keyframes, mesh, pose_keys

SOURCE_KEY = "tcmr_source"  # custom property on our collections, objects and actions
TRACK_KEY = "tcmr_track"


@dataclass
class BuildOptions:
    create_mesh: bool = True  # the skinned SMPL body as the armature's child
    set_scene: bool = True  # camera + footage, scene fps, frame range and resolution from the source
    models_dir: str = ""  # where to find the SMPL file when the motion file lacks the body
    smpl_path: str = ""  # an SMPL model file to use instead of the models folder's (headless --smpl)
    sensor_width_mm: float = CameraConfig.sensor_width_mm
    video_path: str = ""  # footage for the camera background, overriding the file's
    refine: Optional[object] = None  # a core.config.RefineConfig: refine our results from their raw output first
    # (imports that ask for it; a capture's file comes refined by the core, with the refine panel's options)
    show_ground: bool = True  # a ground plane at Z = 0 when the result has an upright world frame
    show_contacts: bool = False  # an empty on the floor per foot contact, shown while it lasts
    footage_dir: str = ""  # where the capture's own frames go when Blender misreads the movie (footage.py)
    python: str = ""  # the core's Python that writes them (empty: the preferences')
    on_progress: Optional[Callable] = None  # on_progress(job) while they are written


@dataclass
class BuildResult:
    collection: object
    armatures: list = field(default_factory=list)
    meshes: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    camera: Optional[object] = None
    warnings: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # keyed frames of each armature (same order)
    video_path: str = ""  # the footage the motion names ("" when it names none: e.g. converted mocap)

    @property
    def longest(self):
        """The armature of the longest track (the first such by track id): the one exports take by default."""
        return self.armatures[max(range(len(self.armatures)), key=lambda k: (self.rows[k], -k))] \
            if self.armatures else None


def import_file(context, filepath: str, options: BuildOptions) -> BuildResult:
    """Read any supported motion file and build it into the scene (what ``tcmr.import_motion`` runs).
    Our results are first re-refined when ``options.refine`` is set, and their raw network output is stored
    in the new collection (raw_store), so the panel can refine them again without the file."""
    from . import raw_store

    motion, raw = raw_store.load_motion(filepath, options.refine)
    result = build_scene(context, motion, options)
    if raw is not None:
        refine_info = getattr(motion, "refine_info", None)
        raw_store.remember(result.collection, raw, refine_info)
        if refine_info:  # e.g. a floor found with low confidence, or none
            result.warnings.extend(refine_info.get("warnings", []))
    return result


def build_scene(context, motion: formats.SceneMotion, options: BuildOptions) -> BuildResult:
    if not motion.tracks:
        from ...core.errors import NoPersonFoundError

        raise NoPersonFoundError(f"{motion.name}: the file holds no person track")
    footage_root = options.footage_dir
    if options.video_path:
        motion.video_path, root = footage.source_video(options.video_path)
        footage_root = footage_root or root
    with_mesh = body.complete_bodies(motion, options.models_dir, with_mesh=options.create_mesh,
                                     smpl_path=options.smpl_path)
    warnings = []
    if options.create_mesh and not with_mesh:
        warnings.append(f"no SMPL mesh data, built the skeleton only ({body.no_body_message(options.models_dir)})")
    scene = context.scene
    saved = _SceneSettings(scene, context.view_layer)
    existing = _datablocks()
    names: dict = {}  # new datablock -> the name it gets once the previous result is gone
    try:
        result = _build(context, scene, motion, options, with_mesh, names, footage_root)
    except BaseException:
        bpy.data.batch_remove([idb for key, idb in _datablocks().items() if key not in existing])
        saved.restore(scene, context.view_layer)
        raise
    result.warnings[:0] = warnings
    remove_previous(motion.source_key, keep=result.collection)
    for idb, name in names.items():
        idb.name = name
    context.view_layer.update()  # the view layer's object list is synced lazily
    for obj in context.view_layer.objects:
        if obj.select_get():
            obj.select_set(False)
    for obj in result.armatures:
        obj.select_set(True)
    context.view_layer.objects.active = result.longest  # the main person: what the panel's export takes
    return result


def _build(context, scene, motion, options, with_mesh, names, footage_root: str = "") -> BuildResult:
    key = motion.source_key

    def made(idb, name):
        names[idb] = name
        idb[SOURCE_KEY] = key
        return idb

    collection = made(bpy.data.collections.new(f"TCMR · {motion.name}"), f"TCMR · {motion.name}")
    scene.collection.children.link(collection)
    result = BuildResult(collection=collection, video_path=motion.video_path or "")
    if options.set_scene:
        if motion.motion_fps:  # resampled rows: the scene runs at their rate over the same duration
            camera.set_scene_timing(scene, motion.motion_fps,
                                    max(1, int(round(motion.num_frames / motion.fps * motion.motion_fps))))
        else:
            camera.set_scene_timing(scene, motion.fps, motion.num_frames)
        if motion.width and motion.height and motion.focal_length_px:
            name = f"{motion.name} · camera"
            cam = camera.build_camera(name, motion.width, motion.focal_length_px, options.sensor_width_mm, collection,
                                      motion.R_world_from_cam, motion.world_offset)
            made(cam, name)
            made(cam.data, name)
            camera.set_scene_image(scene, motion.width, motion.height, cam)
            result.camera = cam
            if motion.video_path and os.path.isfile(motion.video_path):
                python = options.python or preferences.runtime_python(context)
                clip, warnings = footage.load_clip(motion, footage_root, python, options.on_progress)
                if clip is not None:
                    camera.attach_footage(cam, clip, motion.fps, camera.scene_fps(scene))
                result.warnings += warnings
            elif motion.video_path:
                result.warnings.append(f"footage not found: {motion.video_path} (the camera has no background and "
                                       "renders show no video; give the footage, e.g. the import's Footage option)")
    scene_fps = camera.scene_fps(scene)
    for track in motion.tracks:
        name = f"{motion.name} · track {track.track_id}"
        fingers = track.hand_pose_aa is not None
        obj, bone_rest = armature.build_armature(context, name, track.rest_joints, collection, fingers=fingers)
        made(obj, name)
        made(obj.data, name)
        obj[TRACK_KEY] = track.track_id
        # the world offset (camera height) moves the SMPL origin: M (J0 + t') = M (J0 + t) + c
        transl = track.transl + motion.world_offset @ motion.R_world_from_data
        quat, root_location = pose_keys.bone_keys(track.rotmat, transl, track.rest_joints, bone_rest,
                                                 motion.R_world_from_data)
        bones = SMPL_JOINT_NAMES
        if fingers:
            finger_rest = armature.bone_rest_rotations(obj, pose_keys.FINGER_BONE_NAMES)
            quat = np.concatenate([quat, pose_keys.finger_keys(track.hand_pose_aa, finger_rest)], axis=1)
            bones = SMPL_JOINT_NAMES + pose_keys.FINGER_BONE_NAMES
        frames, keep = pose_keys.scene_frames(track.times_s, track.frame_ids, motion.fps, scene_fps)
        action, channelbag = keyframes.write_pose_action(obj, name, frames, quat[keep], root_location[keep], bones)
        if track.face_blendshapes is not None:  # the 52 ARKit weights, keyed beside the bones
            face.add_properties(obj)
            face.key_properties(channelbag, frames, track.face_blendshapes[keep])
        made(action, name)
        result.armatures.append(obj)
        result.actions.append(action)
        result.rows.append(int(keep.shape[0]))
        shown = [obj]
        if with_mesh:
            mesh_name = f"{motion.name} · body {track.track_id}"
            body_obj = mesh.build_mesh(mesh_name, track.v_shaped, motion.smpl_faces, motion.smpl_lbs_weights, obj,
                                       collection)
            made(body_obj, mesh_name)
            made(body_obj.data, mesh_name)
            result.meshes.append(body_obj)
            shown.append(body_obj)
        first, last = int(frames[0]), int(frames[-1])
        if first > scene.frame_start or last < scene.frame_end:  # no ghost of a person not (or no longer) there
            for item in shown:
                visibility = keyframes.key_visibility(item, first, last, f"{item.name} · visibility")
                if visibility is not None:
                    made(visibility, f"{name} · visibility" if item is obj else f"{item.name} · visibility")
    if motion.R_world_from_cam is not None and (options.show_ground or options.show_contacts):
        from . import ground

        ground.build(motion, collection, made, scene_fps, options.show_ground, options.show_contacts)
    return result


def remove_previous(source_key: str, keep=None) -> None:
    """Remove an earlier result of the same source: its collection, objects, their data and actions."""
    doomed = []
    for coll in bpy.data.collections:
        if coll == keep or coll.get(SOURCE_KEY) != source_key:
            continue
        for obj in coll.all_objects:
            if obj.get(SOURCE_KEY) != source_key:
                continue
            doomed.append(obj)
            if obj.data is not None and obj.data.get(SOURCE_KEY) == source_key:
                doomed.append(obj.data)
        if all(o in doomed for o in coll.all_objects):
            doomed.append(coll)
    kept_actions = set()
    if keep is not None:
        kept_actions = {o.animation_data.action for o in keep.all_objects if o.animation_data}
    doomed += [a for a in bpy.data.actions if a.get(SOURCE_KEY) == source_key and a not in kept_actions]
    if doomed:
        bpy.data.batch_remove(doomed)


_KINDS = ("objects", "armatures", "meshes", "cameras", "actions", "collections", "movieclips", "images")


def _datablocks() -> dict:
    """Every datablock a build can create, by (kind, pointer): what to remove when it fails."""
    return {(kind, idb.as_pointer()): idb for kind in _KINDS for idb in getattr(bpy.data, kind)}


def alive(idb) -> bool:
    """False once the datablock behind ``idb`` has been removed."""
    try:
        return idb.name is not None
    except ReferenceError:
        return False


class _SceneSettings:
    """What building may change in the scene (restored when it fails)."""

    _RENDER = ("fps", "fps_base", "resolution_x", "resolution_y", "resolution_percentage", "pixel_aspect_x",
               "pixel_aspect_y")
    _SCENE = ("frame_start", "frame_end", "frame_current", "camera")

    def __init__(self, scene, view_layer):
        self.render = {k: getattr(scene.render, k) for k in self._RENDER}
        self.scene = {k: getattr(scene, k) for k in self._SCENE}
        self.active = view_layer.objects.active

    def restore(self, scene, view_layer) -> None:
        for k, v in self.render.items():
            setattr(scene.render, k, v)
        for k, v in self.scene.items():
            if k != "camera" or v is None or alive(v):
                setattr(scene, k, v)
        if self.active is None or alive(self.active):
            view_layer.objects.active = self.active
