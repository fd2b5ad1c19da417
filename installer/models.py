"""The model files: checking them (by content with the environment's Python, else the standard-library check),
downloading them from their official sources, importing them from a folder (``--models-from``), and what is still
missing. What the files are and where they go is ``core.assets`` (its table and checks need only the standard
library)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path, PurePosixPath
from typing import Optional

from .downloads import (CONNECT_TIMEOUT_S, DOWNLOAD_TIMEOUT_S, DownloadError, download_with_progress,
                        reachability_problems)
from .pins import REPO_ROOT
from .report import Reporter, SetupError, last_line

EXIT_MODELS_MISSING = 3  # --check: the environment is ready but required model files are missing


def core_assets():
    """``core.assets``' model table and checks (standard library at import): the only place that knows the model
    files. Returns (table, checks)."""
    try:
        from core.assets import checks, table
    except ImportError as err:
        raise SetupError(f"cannot import core.assets from {REPO_ROOT} ({err}); run install_deps.py from the "
                         "repository folder it came with") from None
    return table, checks


class Validator:
    """Checks model files by content with the environment's Python (``-m core.assets validate``); before
    the environment exists it falls back to the cheap standard-library check."""

    def __init__(self, python: Optional[Path], reporter: Reporter):
        self.python = python if python is not None and python.exists() else None
        self.reporter = reporter

    def problems(self, files: list[tuple[str, Path]]) -> dict[Path, Optional[str]]:
        """Map each path to a one-line problem (None = valid)."""
        if not files:
            return {}
        table, checks = core_assets()
        results: dict[Path, Optional[str]] = {}
        rows = self._run_env_check(files) if self.python else None
        for role, path in files:
            row = (rows or {}).get(str(path))
            if row is not None and row["status"] in ("ok", "invalid", "missing"):
                results[path] = None if row["status"] == "ok" else row["message"]
                continue
            problem = checks.quick_check(role, path)
            name = table.MODEL_FILES[role].file_name
            results[path] = f"{path} is not a valid {name}: {problem}" if problem else None
        return results

    def _run_env_check(self, files: list[tuple[str, Path]]) -> Optional[dict[str, dict]]:
        command = [str(self.python), "-m", "core.assets", "validate", "--json"]
        for role, path in files:
            command += ["--file", f"{role}={path}"]
        done = subprocess.run(command, capture_output=True, text=True, cwd=str(REPO_ROOT), errors="replace")
        rows = {}
        for line in done.stdout.splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                rows[row["path"]] = row
        if not rows:
            self.reporter.warn("content check unavailable (" + last_line(done.stderr) + "); checked headers only")
            return None
        return rows


def _archive_name(member: str) -> str:
    """``base_data/tcmr_demo_model.pth.tar`` -> ``base_data.zip``."""
    return PurePosixPath(member).parts[0] + ".zip"


def _extract_member(archive: Path, file_name: str, target: Path) -> bool:
    """Copy the member whose base name is ``file_name`` out of ``archive`` into ``target``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if PurePosixPath(info.filename).name == file_name and not info.is_dir():
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    return True
    except (zipfile.BadZipFile, OSError):
        return False
    return False


def manual_instructions(specs) -> str:
    """Where to get each file by hand, and the --models-from alternative (part of one error line)."""
    items = []
    for spec in specs:
        if spec.archive_member:
            items.append(f"{spec.file_name} (in {_archive_name(spec.archive_member)} from {spec.url})")
        else:
            items.append(f"{spec.file_name} from {spec.url}")
    return ("download by hand " + "; ".join(items) + ", put them in one folder and run "
            "`python3 install_deps.py --models-from FOLDER` (see models/README.md)")


def download_models(models_dir: Path, validator: Validator, reporter: Reporter, specs=None,
                    connect_timeout: float = CONNECT_TIMEOUT_S, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch every downloadable model file that is missing or invalid, from its official source.

    Fails fast (TCP pre-check) with instructions when a source is unreachable. Downloads resume from
    ``.part`` files; each file is validated before it takes its final name.
    """
    table, _ = core_assets()
    if specs is None:
        specs = [s for s in table.MODEL_FILES.values() if s.url]
    models_dir.mkdir(parents=True, exist_ok=True)
    present = [(s.role, models_dir / s.file_name) for s in specs if (models_dir / s.file_name).is_file()]
    problems = validator.problems(present)
    todo = []
    for spec in specs:
        target = models_dir / spec.file_name
        if target.is_file() and problems.get(target) is None:
            reporter.stage("models", None, f"{spec.file_name}: present and valid")
            continue
        if target.is_file():
            reporter.warn(f"{problems[target]}; moving it to {target.name}.invalid and downloading it again")
            os.replace(target, target.with_name(target.name + ".invalid"))
        todo.append(spec)
    if not todo:
        return
    unreachable = reachability_problems([s.url for s in todo], connect_timeout)
    if len(unreachable) == len({s.url for s in todo}):  # no source reachable: fail at once
        raise SetupError(f"{next(iter(unreachable.values()))}: no internet? {manual_instructions(todo)}")
    staging = models_dir / ".downloads"
    failures = []
    for spec in sorted(todo, key=lambda s: s.archive_member is None):  # archives first: they may hold others
        try:
            _fetch_one(spec, models_dir, staging, validator, reporter, timeout, unreachable.get(spec.url))
        except DownloadError as err:
            failures.append(f"{spec.file_name}: {err}")
    if failures:
        raise SetupError("; ".join(failures) + ". Run the same command again to resume, or "
                         + manual_instructions([s for s in todo if not (models_dir / s.file_name).is_file()]))
    shutil.rmtree(staging, ignore_errors=True)


def _fetch_one(spec, models_dir: Path, staging: Path, validator: Validator, reporter: Reporter,
               timeout: float, unreachable: Optional[str] = None) -> None:
    """Get one file: out of an already downloaded archive, else from its source; validate; install."""
    target = models_dir / spec.file_name
    part = target.with_name(target.name + ".part")
    from_archive = False
    for archive in sorted(staging.glob("*.zip")) if staging.is_dir() else []:
        if _extract_member(archive, spec.file_name, part):
            reporter.stage("models", None, f"{spec.file_name}: taken from {archive.name}")
            from_archive = True
            break
    if not from_archive and unreachable:
        raise DownloadError(unreachable)
    if not from_archive and spec.archive_member:
        staging.mkdir(parents=True, exist_ok=True)
        archive = staging / _archive_name(spec.archive_member)
        if not archive.is_file():
            download_with_progress(spec.url, archive, archive.name, reporter, timeout)
        if not zipfile.is_zipfile(archive):
            archive.unlink()
            raise DownloadError(f"{archive.name} is not a zip (an error page?)")
        if not _extract_member(archive, spec.file_name, part):
            raise DownloadError(f"{archive.name} has no {spec.file_name}")
    elif not from_archive:
        download_with_progress(spec.url, target, spec.file_name, reporter, timeout, keep_part=True)
    problem = validator.problems([(spec.role, part)]).get(part)
    if problem:
        part.unlink()
        raise DownloadError(f"the downloaded file was refused: {problem}")
    os.replace(part, target)
    reporter.stage("models", None, f"{spec.file_name}: installed")


def find_model_sources(folder: Path) -> dict[str, tuple[Path, Optional[str]]]:
    """Model files in a folder given to ``--models-from``: role -> (path, zip member base name or None).

    Looks for the official names and aliases (e.g. SPIN's ``model_checkpoint.pt``) in ``folder`` and its
    direct subfolders (e.g. an unzipped ``base_data/``), then inside ``*.zip`` files there.
    """
    table, _ = core_assets()
    places = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    found: dict[str, tuple[Path, Optional[str]]] = {}
    for role, spec in table.MODEL_FILES.items():
        names = table.SMPL_FILE_NAMES if role == "smpl" else (spec.file_name,) + spec.aliases
        for place in places:
            hit = next((place / n for n in names if (place / n).is_file()), None)
            if hit is not None:
                found[role] = (hit, None)
                break
    for archive in sorted(folder.glob("*.zip")):
        try:
            with zipfile.ZipFile(archive) as zf:
                members = {PurePosixPath(n).name for n in zf.namelist()}
        except (zipfile.BadZipFile, OSError):
            continue
        for role, spec in table.MODEL_FILES.items():
            if role not in found and spec.file_name in members:
                found[role] = (archive, spec.file_name)
    return found


def import_models(source: Path, models_dir: Path, validator: Validator, reporter: Reporter) -> None:
    """Copy (hard-link when possible) the model files found in ``source`` into ``models_dir``.

    Every file is validated by content first; a wrong one is refused (and the run fails with the
    reasons) while the good ones are still imported.
    """
    source = source.expanduser()
    if not source.is_dir():
        raise SetupError(f"--models-from {source}: no such folder; give the folder holding the downloaded files")
    table, _ = core_assets()
    found = find_model_sources(source)
    if not found:
        names = ", ".join(s.file_name for s in table.MODEL_FILES.values())
        raise SetupError(f"no model files in {source}: expected some of {names} (see models/README.md)")
    models_dir.mkdir(parents=True, exist_ok=True)
    candidates: list[tuple[str, Path]] = []
    extracted: list[Path] = []
    for role, (path, member) in found.items():
        if member is not None:  # inside a zip: extract next to its target, then check
            part = models_dir / f"{member}.part"
            _extract_member(path, member, part)
            extracted.append(part)
            path = part
        candidates.append((role, path))
    problems = validator.problems(candidates)
    refused = []
    for role, path in candidates:
        spec = table.MODEL_FILES[role]
        name = path.name if role == "smpl" else spec.file_name
        if problems.get(path):
            refused.append(problems[path])
            continue
        target = models_dir / name
        if path in extracted:
            os.replace(path, target)
        elif target.exists() and _same_file(path, target):
            reporter.stage("models", None, f"{name}: already there")
            continue
        else:
            _link_or_copy(path, target)
        reporter.stage("models", None, f"{name}: imported from {source}")
    for part in extracted:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
    if refused:
        raise SetupError(f"refused {len(refused)} file(s): " + " | ".join(refused))


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        return a.stat().st_size == b.stat().st_size and _digest(a) == _digest(b)
    except OSError:
        return False


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _link_or_copy(src: Path, target: Path) -> None:
    """Hard-link ``src`` to ``target`` (same disk), else copy; atomic via a ``.part`` name."""
    part = target.with_name(target.name + ".part")
    with contextlib.suppress(FileNotFoundError):
        part.unlink()
    try:
        os.link(src, part)
    except OSError:
        shutil.copyfile(src, part)
    os.replace(part, target)


def models_summary(models_dir: Path) -> tuple[list[str], list[str]]:
    """(missing required file names, present files with a header problem): cheap, no content check."""
    table, checks = core_assets()
    missing, broken = [], []
    for role, spec in table.MODEL_FILES.items():
        path = table.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is None or not path.is_file():
            if spec.required:
                missing.append(spec.file_name)
        elif checks.quick_check(role, path):
            broken.append(f"{path.name}: {checks.quick_check(role, path)}")
    return missing, broken


def how_to_fill(models_dir: Path, given: Optional[str]) -> str:
    """The command that fills ``models_dir`` (names the folder when it is not the default one)."""
    where = f" --models-dir {given}" if given else ""
    return (f"run `python3 install_deps.py --models{where}` or `--models-from FOLDER{where}` "
            "(see models/README.md)")


def check_models(models_dir: Path, validator: Validator, reporter: Reporter) -> int:
    """``--check``: validate the model files present. Exit 0 all there and valid; 1 a file is invalid;
    EXIT_MODELS_MISSING (3) the environment is ready but required files are missing."""
    table, _ = core_assets()
    files, missing = [], []
    for role, spec in table.MODEL_FILES.items():
        path = table.find_smpl_file(models_dir) if role == "smpl" else models_dir / spec.file_name
        if path is not None and path.is_file():
            files.append((role, path))
        elif spec.required:
            missing.append(spec.file_name)
            reporter.stage("models", None, table.missing_message(role, models_dir))
    problems = validator.problems(files)
    for role, path in files:
        reporter.stage("models", None, f"{path.name}: {'ok' if not problems[path] else problems[path]}")
    if any(problems.values()):
        reporter.stage("done", 1.0, "check failed: invalid model files")
        return 1
    if missing:
        reporter.stage("done", 1.0, f"environment ready; model files missing: {', '.join(missing)} in {models_dir} "
                       f"(exit code {EXIT_MODELS_MISSING})")
        return EXIT_MODELS_MISSING
    reporter.stage("done", 1.0, "check passed")
    return 0
