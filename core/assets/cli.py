"""``python -m core.assets validate|list``: check the model files (``install_deps.py`` runs it with the
environment's Python).

    python -m core.assets validate [--models-dir DIR] [--file ROLE=PATH ...] [--json]
    python -m core.assets list

``validate`` exits 0 when every file it looked at is valid and no required file is missing, else 1;
with ``--json`` it writes one object per file: ``{"role", "file", "path", "status", "required",
"message"}`` with status ``ok`` / ``missing`` / ``invalid``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from ..errors import InvalidModelFileError, MissingModelFileError
from .checks import validate_model_file
from .table import (MODEL_FILES, MODELS_DIR_ENV, ROLES, absent_message, find_model_file, missing_message,
                    resolve_models_dir)


def _validate_entries(models_dir: Optional[str], files: list[str]) -> list[dict]:
    """Check ``--file ROLE=PATH`` entries, or every role in the models directory when none are given."""
    entries: list[tuple[str, Optional[Path]]] = []
    if files:
        for item in files:
            role, sep, path = item.partition("=")
            if not sep or role not in MODEL_FILES:
                raise ValueError(f"--file expects ROLE=PATH with ROLE one of {', '.join(ROLES)}, got {item!r}")
            entries.append((role, Path(path)))
    else:
        folder = resolve_models_dir(models_dir)
        entries += [(role, find_model_file(role, folder)) for role in ROLES]
    results = []
    for role, path in entries:
        spec = MODEL_FILES[role]
        row = {"role": role, "file": spec.file_name, "path": str(path) if path else None, "required": spec.required}
        if path is None:
            folder = resolve_models_dir(models_dir)
            row.update(status="missing", message=missing_message(role, folder) if spec.required
                       else absent_message(role, folder))
        else:
            try:
                validate_model_file(role, path)
                row.update(status="ok", message="")
            except (InvalidModelFileError, MissingModelFileError) as err:
                row.update(status="invalid" if path.exists() else "missing", message=str(err))
            except ImportError as err:  # the content check itself is unavailable (broken install)
                row.update(status="unchecked", message=f"content check unavailable: {err}")
        results.append(row)
    return results


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.assets", description="Check the model files.")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="check the files of a models directory, or given files")
    val.add_argument("--models-dir", help=f"default: ${MODELS_DIR_ENV}, else <repo>/models")
    val.add_argument("--file", action="append", default=[], metavar="ROLE=PATH", help="check one file")
    val.add_argument("--json", action="store_true", help="one JSON object per file")
    sub.add_parser("list", help="the model files and their sources")
    args = parser.parse_args(argv)
    out = sys.stdout
    if args.command == "list":
        for spec in MODEL_FILES.values():
            out.write(f"{spec.role:9s} {spec.file_name:32s} {'required' if spec.required else 'optional'}  "
                      f"{spec.url or spec.source_page}\n")
        return 0
    try:
        results = _validate_entries(args.models_dir, args.file)
    except ValueError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    for row in results:
        if args.json:
            out.write(json.dumps(row) + "\n")
        elif row["status"] == "ok":
            out.write(f"ok       {row['role']:9s} {row['path']}\n")
        else:
            label = row["status"] if row["required"] or row["status"] == "invalid" else "absent"
            out.write(f"{label:8s} {row['role']:9s} {row['message']}\n")
    bad = any(r["status"] == "invalid" or (r["status"] == "missing" and r["required"]) for r in results)
    return 1 if bad else 0
