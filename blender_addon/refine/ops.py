"""``tcmr.refine``: refine a result again from the raw output stored in the .blend, and rebuild it.

The target is the result of the active object (its ``TCMR · …`` collection), else the most recent result in
the file. Refining happens in numpy before the scene is touched, and the rebuild is the scene builder's
all-or-nothing build: on any error the scene stays exactly as it was.
"""

from __future__ import annotations

import bpy
from bpy.types import Operator

from ...core.errors import MocapError
from ...core.motion.floor import FloorNotFoundError
from ..scene import builder, formats, raw_store
from ..ui import done, fail
from .settings import refine_config


def target_collection(context):
    """The TCMR collection to refine: the active object's, else the last one holding a raw result."""
    obj = context.view_layer.objects.active if context.view_layer else None
    if obj is not None:
        for coll in obj.users_collection:
            if coll.get(raw_store.RAW_KEY) is not None:
                return coll
    found = [c for c in bpy.data.collections if c.get(raw_store.RAW_KEY) is not None]
    return found[-1] if found else None


def _footage(collection) -> str:
    for obj in collection.all_objects:
        if obj.type == "CAMERA":
            for bg in obj.data.background_images:
                if bg.clip is not None:
                    return bpy.path.abspath(bg.clip.filepath)
    return ""


def refine_collection(context, collection, settings) -> builder.BuildResult:
    """Refine ``collection``'s stored raw result with ``settings`` (scene.tcmr_refine) and rebuild it.
    Raises MocapError (scene unchanged)."""
    raw = raw_store.stored(collection)
    if raw is None:
        raise MocapError(f"'{collection.name}' holds no raw capture to refine (import or capture it again)")
    refined = raw_store.refine(raw, refine_config(settings))
    motion = formats.from_motion_result(refined)
    motion.source_key = collection.get(builder.SOURCE_KEY, motion.source_key)  # it replaces this collection
    options = builder.BuildOptions(
        create_mesh=any(o.type == "MESH" and "· body" in o.name for o in collection.all_objects),
        set_scene=True, video_path=_footage(collection), show_ground=settings.show_ground,
        show_contacts=settings.show_contacts)
    frame = context.scene.frame_current
    result = builder.build_scene(context, motion, options)
    context.scene.frame_current = min(max(frame, context.scene.frame_start), context.scene.frame_end)
    raw_store.remember(result.collection, raw, refined.meta.get("refine"))
    result.warnings.extend(raw_store.warnings(result.collection))  # e.g. a floor of low confidence
    return result


def refine_target(context, quiet: bool = False):
    """Refine the target result (used by the operator and the panel's live update). Returns the BuildResult,
    or None when there is nothing to refine."""
    collection = target_collection(context)
    if collection is None:
        if quiet:
            return None
        raise MocapError("no captured result to refine: capture a video or import a TCMR Mocap .npz first")
    context.window_manager.tcmr_job.last_error = ""
    return refine_collection(context, collection, context.scene.tcmr_refine)


class TCMR_OT_refine(Operator):
    """Refine the selected capture again from its raw network output (foot lock, floor, smoothing, frame rate)"""

    bl_idname = "tcmr.refine"
    bl_label = "Refine Again"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return target_collection(context) is not None

    def execute(self, context):
        try:
            result = refine_target(context)
        except FloorNotFoundError as err:
            return fail(self, context, f"{err}; nothing was changed (to refine without a floor: untick Level Floor "
                                       "and set Foot Lock to Never)")
        except MocapError as err:
            return fail(self, context, str(err))
        return done(self, f"Refined '{result.collection.name}': {raw_store.floor_summary(result.collection)}",
                    result.warnings)


CLASSES = (TCMR_OT_refine,)
