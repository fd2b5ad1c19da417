"""The refine stage (capture -> **refine** -> scene): numpy only, so Blender's own Python runs it too.

- :mod:`.smoothing`: One-Euro and slerp-average filters (rotations as rotations, translations apart);
- :mod:`.resample`: any frame rate (slerp for rotations, a cubic Hermite for translation);
- :mod:`.floor`: the floor plane from foot contacts, the upright world frame (Z up, floor at Z = 0);
- :mod:`.contacts`: foot contacts from height and speed (hysteresis, minimum duration);
- :mod:`.footlock`: pinning the feet by moving the root and a two-bone IK on each leg;
- :mod:`.refine`: :func:`~.refine.refine_result`, the stage's one entry; :mod:`.cli`: ``python -m core refine``.

Nothing here imports torch or scipy (a test checks it): importing any module needs numpy alone.
"""
