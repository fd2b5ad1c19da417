"""The refine stage (capture -> **refine** -> scene): numpy only, so Blender's own Python runs it too.

- :mod:`.smoothing`: adaptive (:mod:`.adaptive`: local quadratic fits, window per frame and joint), One-Euro and
  slerp-average filters (rotations as rotations, translations apart);
- :mod:`.resample`: any frame rate (slerp for rotations, a cubic Hermite for translation);
- :mod:`.soles`: the sole points that touch the floor (heel, ball, toe of each foot, fixed to the foot's bones);
- :mod:`.floor`: the floor plane from resting sole points (with its confidence), the upright world frame;
- :mod:`.contacts`: contacts of each sole point from height and speed (hysteresis, minimum duration);
- :mod:`.footlock`: pinning the soles by moving the root and a two-bone IK on each leg;
- :mod:`.refine`: :func:`~.refine.refine_result`, the stage's one entry; :mod:`.cli`: ``python -m core refine`` (its
  options, shared with capture, are declared in ``core/cli/refine_options.py``).

Nothing here imports torch or scipy (a test checks it): importing any module needs numpy alone.
"""
