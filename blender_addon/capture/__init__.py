"""Video → scene from the Mocap tab: the capture options (``scene.tcmr``, saved with the .blend), the capture session
(the core as a subprocess, then the scene's import) and its operator ``tcmr.capture``, and the tab's main panel.
"""
