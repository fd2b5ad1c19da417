"""How the add-on runs the core: its environment (which Python, is it ready), the command lines and their progress
lines, subprocess jobs and the modal loop around them, the add-on preferences and the set-up operators.

``environment``, ``commands`` and ``job`` load without Blender.
"""
