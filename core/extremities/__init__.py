"""Fingers and face: a capture stage of its own, the one owner of MediaPipe (as core.capture.tracking owns ultralytics).

capture -> **extremities** -> refine: after the body is regressed, every track's hands and face are looked for in
crops around the body's own joints, and stored per row beside the body (``layout.RESULT_ARRAYS``).

- :mod:`.layout` — names and orders (SMPL-X/MANO finger joints, MediaPipe landmarks, ARKit blendshapes) and the
  result members (shapes, dtypes, ranges): pure data;
- :mod:`.handpose` — the hand model: rest and relaxed hands, joint limits, landmarks -> 15 finger rotations;
- :mod:`.face` — the head's rotation from MediaPipe's facial transformation matrix;
- :mod:`.calibration` — MediaPipe's blendshape scores -> ARKit weights (response maps, the performer's neutral),
  applied by the refine stage;
- :mod:`.crops` — where to look: the body's wrists, hands and head projected into the frame;
- :mod:`.landmarkers` — MediaPipe's hand and face landmarkers (the only module importing mediapipe);
- :mod:`.capture` — the stage: which parts run (:func:`~.capture.resolve_parts`), the pass over the frames
  (:func:`~.capture.capture_extremities`);
- :mod:`.cli` — ``--hands``/``--face`` for ``capture`` and ``batch``.

The refine side (gaps, smoothing, resampling, the head bone from the face) is ``core.motion.extremities``.
Importing this package imports nothing heavy.
"""
