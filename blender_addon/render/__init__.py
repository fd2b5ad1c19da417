"""Render: the captured (or retargeted) body over its footage through the matched camera, to a video or images
(the TCMR demo's overlay, in Blender; the headless command's ``--render``).
"""
