"""The refine stage runs in Blender's Python: core.motion and core.metrics import with numpy alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BLOCK = """
import builtins, sys
real = builtins.__import__
def guarded(name, *a, **k):
    if name.split('.')[0] in ('torch', 'scipy', 'cv2', 'ultralytics', 'smplx', 'bpy'):
        raise ImportError('blocked: ' + name)
    return real(name, *a, **k)
builtins.__import__ = guarded
import core.motion.refine, core.motion.cli, core.motion.smoothing, core.metrics
heavy = [m for m in ('torch', 'scipy', 'cv2') if m in sys.modules]
assert not heavy, heavy
print('ok')
"""


def test_numpy_only():
    proc = subprocess.run([sys.executable, "-c", BLOCK], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
