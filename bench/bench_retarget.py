"""Retargeting and export speed: a synthetic capture (every-limb motion) baked onto the hand-built
Mixamo/UE5 rigs and onto a generated Rigify rig (evaluated through its constraints), then exported.

    .venv/bin/python bench/bench_retarget.py [--frames 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "blender")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    import importlib.util

    spec = importlib.util.spec_from_file_location("bl_conftest", ROOT / "tests" / "blender" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    import bpy
    import numpy as np

    import rigs
    import synthetic
    from tcmr_mocap.blender_addon import export
    from tcmr_mocap.blender_addon.retarget import bake

    bpy.ops.wm.read_factory_settings(use_empty=True)
    conftest.enable_addon()
    tmp = Path(tempfile.mkdtemp())
    src = rigs.build_source(bpy.context, tmp, synthetic.make_smpl_arrays(seed=0), args.frames)
    targets = {"mixamo": rigs.build_rig(bpy.context, "mixamo"), "ue5": rigs.build_rig(bpy.context, "ue5"),
               "rigify": rigs.build_rigify_rig(bpy.context)[1]}
    for name, target in targets.items():
        t0 = time.perf_counter()
        _, info = bake.retarget(bpy.context, src, target)
        dt = time.perf_counter() - t0
        errors, path, _ = rigs.limb_errors(src, target, bake.frame_range(src.animation_data.action))
        every = np.concatenate(list(errors.values()))
        t1 = time.perf_counter()
        export.export_action(bpy.context, target, str(tmp / f"{name}.fbx"), "FBX")
        t2 = time.perf_counter()
        print(f"{name:7s} {len(target.data.bones):4d} bones, {args.frames} frames: retarget {dt:.2f} s "
              f"({1000 * dt / args.frames:.1f} ms/frame, {info['passes']} evaluation passes), FBX export "
              f"{t2 - t1:.2f} s; limb angle mean {every.mean():.3f}° max {every.max():.3f}°, "
              f"hips path max {100 * path.max():.4f} cm")


if __name__ == "__main__":
    main()
