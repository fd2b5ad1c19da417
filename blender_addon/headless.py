"""Captures (or imports) into .blend files without a UI: one clip, or a whole batch, resumably; exports and renders.

    blender -b --factory-startup --python-exit-code 2 --python blender_addon/headless.py -- \\
        VIDEO -o OUT.blend [--fbx OUT.fbx] [--gltf OUT.glb] [--render OUT.mp4] [--models DIR] [--detections FILE]
    .venv/bin/python blender_addon/headless.py VIDEO -o OUT.blend ...      (the ``bpy`` module from PyPI)
    ... --import FILE -o OUT.blend                                        (no capture: our .npz, TCMR .pkl, AMASS)
    ... INPUT... -o OUT_DIR [--export fbx,glb,bvh] [--render 'OUT_DIR/{name}.mp4'] [--workers N]   (a batch)

**One clip** (one input and ``-o`` ending in ``.blend``): the video is captured by the core (a subprocess, with the
capture options as given), or the motion file imported; exports (``--fbx``/``--gltf``/``--bvh``/``--export``)
hold ``--track ID``'s armature, else the longest track's; ``--render`` renders the body over the footage.

**A batch** (several inputs, folders, globs, ``.txt``/``.csv`` lists as ``python -m core batch`` reads them, or
``-o`` a folder): a thin layer over ``core.batch`` (blender_addon/cli/batch.py): the core captures the videos
into ``OUT_DIR/captures`` (models loaded once, ``--workers``, its manifest and resume), motion files are
imported as they are, and each clip becomes ``OUT_DIR/<name>.blend`` (+ ``<name>.<format>`` per ``--export``
format, + the render when ``--render`` has ``{name}``), recorded in ``OUT_DIR/blender_manifest.jsonl``; a re-run
skips what is done and unchanged, and one bad clip never stops the batch.

This entry script only makes the repository root importable as the package ``tcmr_mocap`` (the way Blender loads
an extension); the command itself is ``blender_addon/cli/`` (its imports are the add-on's own, relative ones).
Exit codes: 0 done; 2 a user error (one ``error: ...`` line on stderr); 3 a batch where some clips failed (see
the manifest); 130 interrupted.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "tcmr_mocap"


def load_package():
    """Import the repository root as ``tcmr_mocap`` (a package with the root as its search location)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(PACKAGE, REPO_ROOT / "__init__.py",
                                                  submodule_search_locations=[str(REPO_ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    module.__time__ = os.path.getmtime(module.__file__)  # addon_utils reloads a module without it (and fails)
    return module


def main(argv=None) -> int:
    load_package()
    command = importlib.import_module(f"{PACKAGE}.blender_addon.cli.main")
    return command.main(argv)


if __name__ == "__main__":
    code = main()
    if code:
        sys.exit(code)
