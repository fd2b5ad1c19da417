"""Export: one armature with one action to FBX (Unity / Unreal / Maya conventions), glTF/GLB (at the exact frame
rate, ``gltf_times``) or BVH, and the captured face as an ARKit CSV; the ``tcmr.export_action`` operator.
"""
