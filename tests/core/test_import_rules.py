"""One-way dependencies, checked with ``ast`` over every file in core/ (ARCHITECTURE.md, "One-way dependencies").

1. core/ never imports Blender (bpy, mathutils, bmesh, bpy_extras) nor the add-on.
2. Each heavy package has owners; nobody else imports it (lazily or not).
3. Modules the Blender add-on imports without torch keep torch (and smplx) inside functions.
"""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "core"

FORBIDDEN = {"bpy", "mathutils", "bmesh", "bpy_extras", "blender_addon"}

# heavy package -> the core files allowed to import it (glob patterns relative to the repo root)
HEAVY_OWNERS = {
    "cv2": ["core/capture/video.py", "core/capture/crop.py"],
    "ultralytics": ["core/capture/tracking.py"],
    "smplx": ["core/smpl.py"],
    "torch": ["core/tcmr/*", "core/smpl.py", "core/safe_load.py", "core/assets/checks.py", "core/pipeline.py",
              "core/__main__.py", "core/rotations.py", "core/capture/features.py",
              "core/capture/tracking.py",  # only to keep torch's thread count across the ultralytics import
              "core/batch/worker.py",  # only to split torch's threads between batch workers
              "core/capture/crop.py",  # only inside crop_people_torch: the official crop cut on the GPU
              "core/runtime/device.py",  # only inside its functions: which device, does it do bf16 fast?
              "core/runtime/lanes.py"],  # only to share torch's threads (and grad mode) between CPU lanes
    "ray": ["core/batch/ray_runner.py"],  # the one module that talks to Ray
    "torchvision": [],  # tests only: the backbone is our own ResNet-50
    "chumpy": [],  # SMPL .pkl files are read with a restricted unpickler instead
}

# files that must import these packages only inside functions (importable on a bare Blender Python)
LAZY_ONLY = {
    "core/__init__.py": {"torch", "smplx", "cv2", "ultralytics", "scipy"},
    "core/rotations.py": {"torch"},
    "core/smpl.py": {"torch", "smplx", "scipy"},
    "core/safe_load.py": {"torch", "scipy"},
    "core/result.py": {"torch", "smplx", "cv2", "scipy"},
    "core/skeleton.py": {"torch", "numpy"},
    "core/runtime/device.py": {"torch"},
}


def core_files():
    return sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def imports(path: Path):
    """Yield (top-level package, module-level?) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(REPO).with_suffix("").parts[:-1]  # e.g. ("core", "tcmr")
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        module_level = id(node) in top_level or _inside_toplevel_block(tree, node)
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], module_level
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                full = list(base) + (node.module.split(".") if node.module else [])
                if not full:  # "from .. import x" above the repo root
                    continue
                if node.module is None and len(full) == len(base):
                    for alias in node.names:  # from . import smpl -> core.smpl
                        yield (full + [alias.name])[0] if full else alias.name, module_level
                    continue
                yield full[0], module_level
            else:
                yield node.module.split(".")[0], module_level


def _inside_toplevel_block(tree, target) -> bool:
    """Imports under module-level if/try/with blocks still run at import time."""
    for node in tree.body:
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for sub in ast.walk(node):
                if sub is target:
                    return True
    return False


def test_scan_sees_the_files():
    names = {rel(p) for p in core_files()}
    assert {"core/tcmr/model.py", "core/smpl.py", "core/rotations.py"} <= names


@pytest.mark.parametrize("path", core_files(), ids=rel)
def test_core_never_imports_blender(path):
    bad = {mod for mod, _ in imports(path) if mod in FORBIDDEN}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"
    # relative imports must not climb out of core/ (that would reach the add-on package)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(CORE).parts)  # core/x.py -> 1, core/tcmr/x.py -> 2
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level <= depth, f"{rel(path)}:{node.lineno} relative import leaves core/"


@pytest.mark.parametrize("path", core_files(), ids=rel)
def test_heavy_packages_have_owners(path):
    name = rel(path)
    for mod, _ in imports(path):
        if mod in HEAVY_OWNERS:
            owners = HEAVY_OWNERS[mod]
            assert any(fnmatch.fnmatch(name, pat) for pat in owners), f"{name} imports {mod}; owners: {owners}"


@pytest.mark.parametrize("name", sorted(LAZY_ONLY))
def test_lazy_imports(name):
    path = REPO / name
    if not path.exists():
        pytest.skip(f"{name} does not exist")
    eager = {mod for mod, module_level in imports(path) if module_level and mod in LAZY_ONLY[name]}
    assert not eager, f"{name} imports {sorted(eager)} at module level"


def test_light_modules_import_without_torch():
    """What the Blender add-on imports must work on an interpreter without torch, smplx, cv2, scipy."""
    code = (
        "import sys\n"
        "for m in ('torch', 'smplx', 'cv2', 'ultralytics', 'scipy', 'chumpy'): sys.modules[m] = None\n"
        "import core, core.rotations, core.smpl, core.skeleton, core.safe_load, core.errors, core.config\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


ADDON = REPO / "blender_addon"
HEAVY = {"torch", "cv2", "ultralytics", "smplx", "scipy", "ray", "mediapipe", "torchvision"}
ENTRY_SCRIPT = "blender_addon/headless.py"  # run as a file: it makes the package importable, then hands over


def addon_files():
    return sorted(p for p in ADDON.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", addon_files(), ids=rel)
def test_addon_imports_are_light_and_visible(path):
    """The add-on registers on a bare Blender (nothing heavy at module level), and its modules, the headless
    command's included, name their dependencies as relative imports a reader (and this test) can see: only the
    entry script refers to the package by its installed name (``tcmr_mocap``)."""
    name = rel(path)
    found = list(imports(path))
    eager = {mod for mod, module_level in found if module_level and mod in HEAVY}
    assert not eager, f"{name} imports {sorted(eager)} at module level"
    by_name = {mod for mod, _ in found if mod == "tcmr_mocap"}
    assert name == ENTRY_SCRIPT or not by_name, f"{name} imports the add-on as tcmr_mocap (use relative imports)"
    if name == ENTRY_SCRIPT:
        stdlib = set(sys.stdlib_module_names) | {"__future__"}
        assert {mod for mod, _ in found} <= stdlib, f"{name} imports {sorted({m for m, _ in found} - stdlib)}"


def test_headless_command_uses_the_core_batch():
    """The headless command is a thin layer over core.batch: its batch takes the manifest, the resume plan and the
    options hash from there and declares the capture options through core.cli.options (issue 22/24)."""
    batch = {mod for mod in _modules(ADDON / "cli" / "batch.py")}
    assert {"core.batch.manifest", "core.batch.inputs", "core.cli_values"} <= batch, batch
    assert "core.cli.options" in set(_modules(ADDON / "cli" / "options.py"))


def _modules(path: Path):
    """Full dotted names of the relative imports of an add-on file, from the repository root."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - (node.level - 1)]  # the repository root is the package's root
            yield ".".join([*base, *(node.module.split(".") if node.module else [])])


def test_no_test_imports_a_conftest_by_name():
    """Several folders have a conftest.py; which one owns the module name ``conftest`` depends on collection
    order (a tests/core/conftest.py once broke a Blender test that did ``import conftest``). Shared helpers
    live in uniquely named modules instead."""
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[-1] == "conftest" for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"tests importing a conftest module by name: {offenders}"
