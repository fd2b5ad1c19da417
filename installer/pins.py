"""The one list of pinned packages: the requirement files at the repository root, read into :class:`Requirement`
rows, and which of them a given Python and set of options installs.

``requirements.txt`` (runtime), ``requirements-test.txt``, ``requirements-ray.txt``, ``requirements-dev.txt`` (all
of them) and ``requirements-nodeps.txt`` (runtime pins installed with ``--no-deps``); pip's own format,
``name==version ; marker  # why``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .markers import evaluate_marker, marker_environment
from .report import SetupError

REPO_ROOT = Path(__file__).resolve().parent.parent  # where install_deps.py and the requirement files are
SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))  # every pin in requirements.txt has releases for these


REQUIREMENT_FILES = {  # group -> file beside install_deps.py (pip's format: `name==version ; marker  # why`)
    "runtime": "requirements.txt",
    "test": "requirements-test.txt",
    "ray": "requirements-ray.txt",
}
# runtime pins installed without their declared dependencies (pip --no-deps), after the others: a package whose
# metadata asks for something we must not have (mediapipe -> opencv-contrib-python, a second cv2)
NO_DEPS_FILE = "requirements-nodeps.txt"
IMPORT_NAMES = {"opencv-python": "cv2", "absl-py": "absl"}  # distribution -> module to import when checking (default: name)
LIGHT_ENV_RUNTIME_PINS = ("numpy",)  # what the Blender-tests environment takes from requirements.txt


@dataclass(frozen=True)
class Requirement:
    """One pinned package from a requirement file. ``version`` is exact or a ``X.Y.*`` series; ``module`` is
    what we import to check it; ``group`` names its file (runtime/test/ray); ``marker`` is the PEP 508
    environment marker after ``;`` (empty: everywhere); ``why`` the comment; ``no_deps``: installed without its
    declared dependencies (``requirements-nodeps.txt``)."""

    name: str
    version: str
    module: str
    group: str = "runtime"
    marker: str = ""
    why: str = ""
    no_deps: bool = False

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def is_extra(self) -> bool:
        """Installed on top of the runtime (does not change which environment is used)."""
        return self.group != "runtime"

    def applies(self, python: tuple[int, int], system: Optional[str] = None, machine: Optional[str] = None) -> bool:
        return evaluate_marker(self.marker, marker_environment(python, system, machine))


_PIN_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([0-9][0-9A-Za-z.*+!-]*)\s*(?:;\s*(.*?))?\s*$")


def parse_requirement_file(path: Path, group: str, _seen: Optional[set] = None,
                           no_deps: bool = False) -> list[Requirement]:
    """The pins of one requirement file (``-r other.txt`` includes are followed; their lines keep the
    group of the file they are in). Only exact pins are accepted: a reproducible environment. ``no_deps``
    marks every pin of the file as installed without its dependencies."""
    seen = set() if _seen is None else _seen
    path = Path(path)
    if path.resolve() in seen:
        return []
    seen.add(path.resolve())
    groups = {name: g for g, name in REQUIREMENT_FILES.items()}
    out: list[Requirement] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SetupError(f"cannot read {path} ({err.strerror or err}): run install_deps.py from a complete "
                         "checkout or extension") from None
    for number, raw in enumerate(lines, 1):
        line, _, why = raw.partition(" #") if not raw.lstrip().startswith("#") else ("", "", raw)
        line = line.strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            include = path.parent / line.split(None, 1)[1].strip()
            out += parse_requirement_file(include, groups.get(include.name, group), seen)
            continue
        match = _PIN_LINE.match(line)
        if not match:
            raise SetupError(f"{path.name} line {number}: expected `name==version [; marker]`, got {line!r}")
        name, version, marker = match.group(1), match.group(2), match.group(3) or ""
        try:
            evaluate_marker(marker, marker_environment((3, 11)))
        except ValueError as err:
            raise SetupError(f"{path.name} line {number}: {err}") from None
        out.append(Requirement(name, version, IMPORT_NAMES.get(name, name.replace("-", "_")), group, marker,
                               why.strip().lstrip("#").strip(), no_deps))
    return out


def load_requirements(repo: Path = REPO_ROOT) -> tuple[Requirement, ...]:
    """Every pin of every group, in file order (runtime first, its ``--no-deps`` pins right after it)."""
    reqs: list[Requirement] = []
    for group, name in REQUIREMENT_FILES.items():
        reqs += [r for r in parse_requirement_file(repo / name, group) if r.group == group]
        if group == "runtime":
            reqs += parse_requirement_file(repo / NO_DEPS_FILE, group, no_deps=True)
    return tuple(reqs)


def select_requirements(dev: bool, python: tuple[int, int], ray: bool = False,
                        requirements: Optional[tuple[Requirement, ...]] = None
                        ) -> tuple[list[Requirement], list[Requirement]]:
    """(requirements to install for ``python``, extra requirements that have no release for it).

    ``dev`` adds the test and ray groups; ``ray`` the ray group alone.
    """
    requirements = load_requirements() if requirements is None else requirements
    groups = {"runtime"} | ({"test", "ray"} if dev else set()) | ({"ray"} if ray else set())
    chosen, skipped = [], []
    for req in requirements:
        if req.group not in groups:
            continue
        if req.applies(python):
            chosen.append(req)
        elif req.is_extra and not any(r.name == req.name and r.applies(python) for r in requirements):
            skipped.append(req)
    return chosen, skipped


def light_env_requirements(python: tuple[int, int],
                           requirements: Optional[tuple[Requirement, ...]] = None) -> list[Requirement]:
    """The Blender-tests environment for ``python``: numpy from the runtime list plus the test group."""
    requirements = load_requirements() if requirements is None else requirements
    return [r for r in requirements if r.applies(python)
            and (r.group == "test" or (r.group == "runtime" and r.name in LIGHT_ENV_RUNTIME_PINS))]


def bpy_pythons(requirements: Optional[tuple[Requirement, ...]] = None) -> dict[tuple[int, int], str]:
    """{Python version: bpy version} for every bpy pin in the test group (the Blender versions tested)."""
    requirements = load_requirements() if requirements is None else requirements
    out = {}
    for python in SUPPORTED_PYTHONS:
        for req in requirements:
            if req.name == "bpy" and req.applies(python):
                out[python] = req.version
    return out


def check_python(version: tuple[int, int]) -> None:
    if version not in SUPPORTED_PYTHONS:
        names = ", ".join(f"{v[0]}.{v[1]}" for v in SUPPORTED_PYTHONS[:-1]) + f" or {SUPPORTED_PYTHONS[-1][0]}." \
            f"{SUPPORTED_PYTHONS[-1][1]}"
        raise SetupError(f"Python {version[0]}.{version[1]} is not supported: run this script with Python {names} "
                         "(3.11 for Blender 4.4/5.0, 3.13 for Blender 5.1/5.2), e.g. `python3.11 install_deps.py`")
