"""Motion → scene: the motion files read (ours, TCMR .pkl, AMASS; the raw capture kept in the .blend), then the
armature, keys (body, fingers, face), mesh, camera and footage, ground, built in one all-or-nothing step; the
File > Import operator.

``formats``, ``tcmr_pickle``, ``raw_store`` and ``pose_keys`` load without Blender.
"""
