"""Recorded motion from other formats, retargeted onto the SMPL skeleton (numpy only, no bpy).

- :mod:`.bvh`: :func:`~.bvh.read_bvh` (Biovision hierarchy, e.g. the CMU motion-capture library);
- :mod:`.deepmimic`: :func:`~.deepmimic.read_deepmimic` (DeepMimic ``humanoid3d`` clips, as pybullet ships them);
- :mod:`.source`: :class:`~.source.SourceMotion`, what both readers return (the file's own skeleton);
- :mod:`.to_smpl`: :func:`~.to_smpl.to_smpl` / :func:`~.to_smpl.retarget_file` -> :class:`~.to_smpl.SmplMotion`
  (SMPL local rotations + translation, floor at y = 0) and ``SmplMotion.to_result()`` -> a ``MotionResult``.

Example::

    from core.formats.to_smpl import retarget_file
    motion = retarget_file("01_01.bvh", fps=30)     # SMPL motion, y up, floor at y = 0
    motion.to_result().save("01_01.npz")            # the result file: refine it, import it in Blender
"""
