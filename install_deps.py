#!/usr/bin/env python3
"""Set up TCMR Mocap: the Python environment with the pinned packages, and the model files.

Standard library only: it runs before anything is installed, with Python 3.11, 3.12 or 3.13, including the
one bundled with Blender (4.4/5.0: 3.11; 5.1/5.2: 3.13). The pins are in ``requirements.txt`` (runtime),
``requirements-test.txt``, ``requirements-ray.txt`` and ``requirements-dev.txt`` (all of them), plus
``requirements-nodeps.txt`` (runtime packages installed with ``--no-deps``, their real needs pinned in
``requirements.txt``); this script reads them. Typical use::

    python3 install_deps.py                          # environment at <repo>/.venv (a link, see below)
    python3 install_deps.py --dev                    # + pytest, bpy, ray; + a light env per other tested bpy
    python3 install_deps.py --models                 # + download the model files from their sources
    python3 install_deps.py --models-from ~/Downloads/tcmr-models   # + import them (offline)
    python3 install_deps.py --check                  # verify only, change nothing

Where the environment lives: the real environment is kept in a per-user cache keyed by a hash of the
requirement list and the options (``~/.cache/tcmr_mocap/envs/py3.11-<hash>``, honouring
``$XDG_CACHE_HOME``; ``--env-cache DIR`` overrides) and ``<repo>/.venv`` is a symbolic link to it, so a
second clone on the same machine is ready in seconds. ``--env DIR`` builds a real environment at DIR
instead (the Blender add-on does this in its user directory). A ``<repo>/.venv`` that is already a real
environment is used in place. ``--dev`` also builds, with each other Python that a tested ``bpy`` needs
(found on PATH, in pyenv, uv or the usual places; ``--blender-python X.Y=PATH``), a light environment of
numpy, bpy and pytest linked as ``<repo>/.venv-bpy<X.Y>``, so the Blender tests run on every tested Blender.

Idempotent: a stamp file inside the environment records the hash; when it matches and the import check
passes, pip is not run at all. While pip runs a marker file says the environment is being built: an
interrupted set-up is detected, rebuilt from scratch and never used. Every failure ends with one line saying
what to do and a non-zero exit (2; ``--check`` exits 1 when the environment is not ready, 3 when it is ready
but required model files are missing). ``--json`` writes progress as one JSON object per line on stdout:
``{"stage": ..., "fraction": 0.0-1.0 or null, "message": ...}``.

This file is the entry; its parts are the package ``installer/`` beside it (standard library only, like this
file): ``pins`` and ``markers`` (the requirement files, PEP 508), ``machine`` (torch build, Blender), ``envs`` (where an
environment lives, stamps), ``packages`` (pip, the import check), ``build`` (create or repair an environment),
``blender_envs`` and ``pythons`` (the light environments for the other Blender versions' tests), ``downloads`` and
``models`` (the model files), ``launcher``, ``report`` (progress, errors) and ``main`` (the options and the run)."""

import sys
from pathlib import Path

try:
    from installer.main import main  # run by path, Python puts this file's folder first on sys.path
except ModuleNotFoundError as err:
    if err.name != "installer":
        raise
    # started by a host that does not (``blender -b --python install_deps.py -- ARGS``): name the folder
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from installer.main import main

if __name__ == "__main__":
    sys.exit(main())
