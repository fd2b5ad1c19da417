"""Can a result go where it was asked to? Checked with a real write before any work is done, by every command
(capture, refine, footage, export-smpl, batch, the headless Blender command) and the add-on's exports; a problem
is OutputNotWritableError with one line that names the path and says what to do (``hint``).
"""

from __future__ import annotations

import os
import tempfile

from .errors import OutputNotWritableError


def _probe(folder: str, hint: str) -> None:
    try:  # a real write: catches permissions, read-only file systems and the like
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tcmr_write_test_"):
            pass
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write to the output folder {folder}: {exc.strerror or exc} "
                                     f"({hint})") from None


def check_output_file(path: str, hint: str = "choose a writable -o path", example: str = "motion.npz",
                      in_place: bool = False) -> None:
    """The file ``path`` can be written: its folder exists and takes a file, and it is not a folder itself
    (``example``: a file name to suggest then). ``in_place``: the writer overwrites an existing file where it is
    (Blender's exporters) rather than replacing it (our results), so that file must be writable too."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OutputNotWritableError(f"cannot write {path}: it is a folder; give a file name such as "
                                     f"{os.path.join(path, example)}")
    if not os.path.isdir(folder):
        raise OutputNotWritableError(f"cannot write {path}: the folder {folder} does not exist (create it or "
                                     f"{hint})")
    if in_place and os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputNotWritableError(f"cannot write {path}: permission denied ({hint})")
    _probe(folder, hint)


def check_output_folder(folder: str, hint: str = "choose a writable -o folder") -> None:
    """Create the folder ``folder`` if needed and prove it takes files."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputNotWritableError(f"the output {folder} is a file, not a folder (give a folder with -o)")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write to the output folder {folder}: {exc.strerror or exc} "
                                     f"({hint})") from None
    _probe(folder, hint)
