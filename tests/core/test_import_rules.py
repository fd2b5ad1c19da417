"""The house rules, checked with ``ast`` over core/, blender_addon/ and installer/ (ARCHITECTURE.md, "Rules").

1. core/ never imports Blender (bpy, mathutils, bmesh, bpy_extras) nor the add-on.
2. Each heavy package has owners; nobody else imports it (lazily or not).
3. Modules the Blender add-on imports without torch keep torch (and smplx) inside functions.
4. No import loops: between modules (imports inside functions count too) and between rooms (the sub-folders of
   the packages; a package's top-level modules are its shared hall, checked module by module).
5. No folder holds more than MAX_MODULES modules; every package says in its first line what lives there.
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


def test_rule_tables_name_existing_files():
    """A moved module must take its rules along: every owner pattern and lazy-only file names a real file."""
    names = [rel(p) for p in core_files()]
    for package, owners in HEAVY_OWNERS.items():
        for pattern in owners:
            assert fnmatch.filter(names, pattern), f"HEAVY_OWNERS[{package!r}]: {pattern} matches no file"
    for name in LAZY_ONLY:
        assert (REPO / name).is_file(), f"LAZY_ONLY names {name}, which does not exist"


@pytest.mark.parametrize("name", sorted(LAZY_ONLY))
def test_lazy_imports(name):
    path = REPO / name
    eager = {mod for mod, module_level in imports(path) if module_level and mod in LAZY_ONLY[name]}
    assert not eager, f"{name} imports {sorted(eager)} at module level"


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
    assert {"core.batch.manifest", "core.batch.inputs", "core.outputs"} <= batch, batch
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


# ------------------------------------------------------------------------------------ loops and rooms
PACKAGES = ("core", "blender_addon", "installer")
MAX_MODULES = 15  # modules per folder (not counting __init__.py / __main__.py)
# Known exceptions, each with its way out; the tests below fail when one is fixed, so the list only shrinks.
KNOWN_MODULE_LOOPS: set = set()
KNOWN_FOLDER_LOOPS: set = set()
KNOWN_CROWDED: dict = {}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(paths) -> dict[str, set[str]]:
    """{module: modules it imports} among ``paths`` (relative imports resolved; a name imported from a package
    is the module of that name when there is one; imports inside functions count)."""
    known = {module_name(p): p for p in paths}
    graph = {}
    for name, path in known.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                candidates = [[alias.name] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + (node.module.split(".") if node.module else []))
                candidates = [[f"{module}.{alias.name}", module] for alias in node.names]
            else:
                continue
            for options in candidates:
                found = next((m for m in options if m in known), None)
                if found is not None and found != name:
                    targets.add(found)
        graph[name] = targets
    return graph


def loops(graph: dict) -> list[frozenset]:
    """The strongly connected components with more than one member (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def folder_of(module: str, graph: dict) -> str:
    """The folder a module lives in (a package's __init__ lives in the package's folder)."""
    is_package = any(other.startswith(module + ".") for other in graph)
    return module if is_package else module.rpartition(".")[0]


def room_graph(graph: dict) -> dict[str, set[str]]:
    """{room: rooms it imports}; rooms are the sub-folders of the packages (their top-level modules, the hall, are
    left out: loops through them are module loops)."""
    rooms: dict[str, set[str]] = {}
    for module, targets in graph.items():
        here = folder_of(module, graph)
        if here in PACKAGES:
            continue
        rooms.setdefault(here, set())
        for target in targets:
            there = folder_of(target, graph)
            if there != here and there not in PACKAGES:
                rooms[here].add(there)
    return rooms


def all_files():
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py") if "__pycache__" not in p.parts)


def test_loop_finder_finds_loops():
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}, "b": set()}
    assert loops(graph) == [frozenset({"a.x", "a.y", "a.z"})]
    # a room loop (core.r1 -> core.r2 -> core.r1) is found; one through the hall (core.hall) is a module loop
    rooms = room_graph({"core.r1.a": {"core.r2.b"}, "core.r2.b": {"core.hall"}, "core.hall": {"core.r1.a"},
                        "core.r2.c": {"core.r1.a"}})
    assert rooms == {"core.r1": {"core.r2"}, "core.r2": {"core.r1"}}
    assert loops(rooms) == [frozenset({"core.r1", "core.r2"})]


def test_graph_resolves_relative_and_package_imports():
    graph = module_graph(all_files())
    assert "core.errors" in graph["core.capture.video"]  # from ..errors import ...
    assert "core.capture.crop" in graph["core.extremities.capture"]  # from ..capture.crop import (in a function)
    assert "core.rotations" in graph["blender_addon.scene.camera"]  # from ..core import rotations


def test_no_import_loops_between_modules():
    found = set(loops(module_graph(all_files())))
    assert not found - KNOWN_MODULE_LOOPS, f"import loops: {[sorted(c) for c in found - KNOWN_MODULE_LOOPS]}"
    assert not KNOWN_MODULE_LOOPS - found, f"fixed, remove from KNOWN_MODULE_LOOPS: {KNOWN_MODULE_LOOPS - found}"


def test_no_import_loops_between_rooms():
    found = set(loops(room_graph(module_graph(all_files()))))
    assert not found - KNOWN_FOLDER_LOOPS, f"rooms importing each other: {[sorted(c) for c in found]}"
    assert not KNOWN_FOLDER_LOOPS - found, f"fixed, remove from KNOWN_FOLDER_LOOPS: {KNOWN_FOLDER_LOOPS - found}"


def test_no_crowded_folder():
    counts = {}
    for path in all_files():
        if path.name not in ("__init__.py", "__main__.py"):
            folder = ".".join(path.relative_to(REPO).parts[:-1])
            counts[folder] = counts.get(folder, 0) + 1
    crowded = {f: n for f, n in counts.items() if n > KNOWN_CROWDED.get(f, MAX_MODULES)}
    assert not crowded, f"folders past {MAX_MODULES} modules (split them into rooms): {crowded}"
    done = {f for f in KNOWN_CROWDED if counts.get(f, 0) <= MAX_MODULES}
    assert not done, f"no longer crowded, remove from KNOWN_CROWDED: {done}"


def test_every_package_says_what_lives_there():
    for init in [p for package in PACKAGES for p in sorted((REPO / package).rglob("__init__.py"))]:
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert doc.strip(), f"{rel(init)}: start with one line saying what lives in this package"


def test_light_modules_import_without_torch():
    """What the Blender add-on imports must work on an interpreter without torch, smplx, cv2, scipy: ``core``
    itself, the modules below, and every core module an add-on file imports at module level."""
    wanted = {"core", "core.rotations", "core.smpl", "core.skeleton", "core.safe_load", "core.errors", "core.config"}
    for path in addon_files():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level >= 2 and (node.module or "").startswith("core"):
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    wanted.add(name if (REPO / (name.replace(".", "/") + ".py")).exists() else node.module)
    assert {"core.assets.table", "core.capture.camera", "core.result"} <= wanted
    code = ("import importlib, sys\n"
            "for m in ('torch', 'smplx', 'cv2', 'ultralytics', 'scipy', 'chumpy'): sys.modules[m] = None\n"
            f"for name in {sorted(wanted)!r}: importlib.import_module(name)\n"
            "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_the_map_names_every_room():
    """ARCHITECTURE.md (the contributor map) names every room of the packages, so a new room gets its line."""
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rooms = sorted({rel(p.parent) for package in PACKAGES for p in (REPO / package).rglob("__init__.py")})
    missing = [room for room in rooms if f"`{room}/" not in text]
    assert not missing, f"ARCHITECTURE.md does not name these folders: {missing}"
