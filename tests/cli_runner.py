"""``python -m core ...`` as a subprocess from the repository root, the way a user runs it: one helper for the CLI
tests (the models folder comes only from the options, never from the caller's ``$TCMR_MOCAP_MODELS``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_core(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TCMR_MOCAP_MODELS"}
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
