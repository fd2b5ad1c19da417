"""The headless command (``blender_addon/headless.py`` is its entry script): options, the Blender steps of one
clip, and the batch over ``core.batch``."""
