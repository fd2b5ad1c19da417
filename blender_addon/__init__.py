"""The Blender side of TCMR Mocap: properties, preferences, operators, the "Mocap" sidebar panel, and the
scene building (armature, keyframes, camera + footage, mesh) from motion files.

Nothing is imported at package level, so the numpy-only modules (``formats``, ``pose_keys``, ``runtime``,
``job``) load without Blender; :func:`register` pulls in the bpy parts. Heavy packages (torch, cv2, ...) are
never imported here: the core runs in its own environment as a subprocess.
"""

from __future__ import annotations

_classes: list = []


def register():
    import bpy

    from . import retarget
    from .capture import ops as ops_capture, panel, props as properties
    from .scene import ops as ops_import
    from .runtime import modal, ops as ops_runtime, preferences
    from .refine import ops, panel as refine_panel, props as refine_props
    from .retarget import props as retarget_props

    _classes[:] = [*properties.CLASSES, *preferences.CLASSES, *modal.CLASSES, *ops_capture.CLASSES,
                   *ops_import.CLASSES, *ops_runtime.CLASSES, *panel.CLASSES, *retarget.classes(),
                   *refine_props.CLASSES, *ops.CLASSES, *refine_panel.CLASSES]
    for cls in _classes:
        bpy.utils.register_class(cls)
    properties.register_properties()
    retarget_props.register_properties()
    refine_props.register_properties()
    bpy.types.TOPBAR_MT_file_import.append(ops_import.menu_import)


def unregister():
    import bpy

    from .capture import props as properties
    from .refine import props as refine_props
    from .scene import ops as ops_import
    from .retarget import props as retarget_props

    bpy.types.TOPBAR_MT_file_import.remove(ops_import.menu_import)
    refine_props.unregister_properties()
    retarget_props.unregister_properties()
    properties.unregister_properties()
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
    _classes.clear()
