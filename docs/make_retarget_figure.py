"""Draws docs/retarget.png: a capture (SMPL armature) and the same motion retargeted onto the hand-built
Mixamo-style rig (A-pose rest, FBX-like transform) and a generated Rigify rig, at four moments.

    .venv/bin/python docs/make_retarget_figure.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "blender")]


def chains(bm):
    b = bm.bones
    spine = [b["hips"]] + [b[s] for s in sorted((s for s in b if s.startswith(("spine.", "neck."))),
                                                key=lambda s: (s[0] != "s", int(s.split(".")[1])))] + [b["head"]]
    out = [spine]
    for s in "LR":
        arm = [b.get(f"shoulder.{s}")] + [b[f"{p}.{s}"] for p in ("upper_arm", "forearm", "hand")]
        out.append([x for x in arm if x])
        out.append([b["hips"]] + [b[f"{p}.{s}"] for p in ("thigh", "shin", "foot")] + ([b[f"toe.{s}"]] if f"toe.{s}" in b else []))
    return out


def main():
    spec = importlib.util.spec_from_file_location("bl_conftest", ROOT / "tests" / "blender" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    import bpy
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import rigs
    import synthetic
    from tcmr_mocap.blender_addon.retarget import bake

    bpy.ops.wm.read_factory_settings(use_empty=True)
    conftest.enable_addon()
    src = rigs.build_source(bpy.context, Path(tempfile.mkdtemp()), synthetic.make_smpl_arrays(seed=0), 120)
    mix = rigs.build_rig(bpy.context, "mixamo", name="Mixamo-style (A-pose)")
    rig = rigs.build_rigify_rig(bpy.context)[1]
    for t in (mix, rig):
        bake.retarget(bpy.context, src, t)
    moments = {"walk": 12, "arms up, turning": 40, "squat": 60, "full turn": 100}
    fig, axes = plt.subplots(1, len(moments), figsize=(13, 3.5))
    style = [(src, "capture (SMPL)", "0.35"), (mix, "Mixamo-style rig", "tab:orange"), (rig, "Rigify rig (DEF)", "tab:blue")]
    for ax, (title, frame) in zip(axes, moments.items()):
        for k, (obj, label, color) in enumerate(style):
            bm = bake.resolve_map(obj, "AUTO")
            names = sorted(set(bm.bones.values()))
            P = rigs.posed_heads(obj, names, [frame])[0]
            hips = P[names.index(bm.bones["hips"])]
            for chain in chains(bm):
                pts = np.array([P[names.index(n)] - hips for n in chain]) + np.array([0.9 * k, 0, hips[2] - P[:, 2].min()])
                ax.plot(pts[:, 0], pts[:, 2], "-o", color=color, ms=2.5, lw=2, label=label if chain is chains(bm)[0] else None)
        ax.set_title(f"frame {frame}: {title}")
        ax.set_aspect("equal")
        ax.set_xlim(-0.9, 2.7)
        ax.set_ylim(-0.05, 2.05)
        ax.set_xticks([])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("height above the lowest joint (m)")
    handles, labels = [], []
    for obj, label, color in style:
        handles.append(plt.Line2D([], [], color=color, lw=2))
        labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("One capture, three skeletons: every limb segment points the same way (front view)")
    fig.tight_layout(rect=(0, 0.08, 1, 0.93))
    out = ROOT / "docs" / "retarget.png"
    fig.savefig(out, dpi=90)
    print("wrote", out)


if __name__ == "__main__":
    main()
