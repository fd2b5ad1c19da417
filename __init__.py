"""TCMR Mocap: the repository root is the Blender extension package (see blender_manifest.toml).

Kept tiny on purpose: importing the package loads nothing but this file, so the numpy-only parts
(``blender_addon.scene.formats``, ``core``) import without Blender; ``register`` pulls in the add-on.
"""


def register():
    from .blender_addon import register as _register

    _register()


def unregister():
    from .blender_addon import unregister as _unregister

    _unregister()
