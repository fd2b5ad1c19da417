"""The Blender side of TCMR Mocap, in rooms by stage: runtime (the core's environment, jobs, preferences) →
capture (the Mocap tab) → scene (motion files → armature, keys, camera, footage) → refine → retarget →
export / render; cli/ is the headless command (headless.py its entry script). ARCHITECTURE.md maps them.

Nothing is imported at package level, so the numpy-only modules (``scene.formats``, ``scene.pose_keys``,
``runtime.environment``, ``runtime.job``, ...) load without Blender; :func:`register` pulls in the bpy parts. Heavy
packages (torch, cv2, ...) are never imported here: the core runs in its own environment as a subprocess.
"""

from __future__ import annotations

_classes: list = []


def register():
    import bpy

    from .capture import ops as capture_ops, panel as capture_panel, props as capture_props
    from .export import ops as export_ops
    from .refine import ops as refine_ops, panel as refine_panel, props as refine_props
    from .retarget import ops as retarget_ops, panel as retarget_panel, props as retarget_props
    from .runtime import modal, ops as runtime_ops, preferences
    from .scene import ops as scene_ops

    # (the main panel before its sub-panels; sub-panels show in this order)
    _classes[:] = [*capture_props.CLASSES, *preferences.CLASSES, *modal.CLASSES, *capture_ops.CLASSES,
                   *scene_ops.CLASSES, *runtime_ops.CLASSES, *capture_panel.CLASSES,
                   *retarget_props.CLASSES, *retarget_ops.CLASSES, *export_ops.CLASSES, *retarget_panel.CLASSES,
                   *refine_props.CLASSES, *refine_ops.CLASSES, *refine_panel.CLASSES]
    for cls in _classes:
        bpy.utils.register_class(cls)
    capture_props.register_properties()
    retarget_props.register_properties()
    refine_props.register_properties()
    bpy.types.TOPBAR_MT_file_import.append(scene_ops.menu_import)


def unregister():
    import bpy

    from .capture import props as capture_props
    from .refine import props as refine_props
    from .retarget import props as retarget_props
    from .scene import ops as scene_ops

    bpy.types.TOPBAR_MT_file_import.remove(scene_ops.menu_import)
    refine_props.unregister_properties()
    retarget_props.unregister_properties()
    capture_props.unregister_properties()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
    _classes.clear()
