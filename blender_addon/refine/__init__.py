"""The refine panel: its options (``scene.tcmr_refine``, saved with the .blend), read as the core's RefineConfig,
*Refine Again* and *Live Update* (the stored raw capture refined again and the scene rebuilt), the sub-panel.

``settings`` loads without Blender.
"""
