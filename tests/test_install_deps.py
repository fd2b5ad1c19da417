"""install_deps.py: the requirement list, the decisions (torch build, Blender, environment place, stamp),
downloads (fail fast offline, resume, progress) and model import. No network: servers are local."""

from __future__ import annotations

import ast
import dataclasses
import http.server
import io
import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import install_deps
from installer import blender_envs, build, downloads, envs, launcher, machine, markers, packages, pins, pythons, report
from installer import models as model_setup  # (tests name their models folders `models`)
from core.assets import table

REPO = Path(install_deps.__file__).resolve().parent
SETUP_FILES = [REPO / "install_deps.py", *sorted((REPO / "installer").glob("*.py"))]
PY311 = (3, 11)


def quiet() -> report.Reporter:
    return report.Reporter(json_mode=True, stream=io.StringIO())


def fake_checkpoint(path: Path, size: int = 1_200_000, seed: int = 0) -> Path:
    """A file that passes the cheap header check: a torch-like zip of more than 1 MB."""
    payload = bytes((i * 7 + seed) % 251 for i in range(size))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        zf.writestr("archive/data/0", payload)
    return path


# ------------------------------------------------------------------------------------ requirement list
RUNTIME = {"torch", "torchvision", "numpy", "opencv-python", "smplx", "ultralytics", "lap", "scipy", "absl-py",
           "flatbuffers", "matplotlib", "certifi", "mediapipe"}
NO_DEPS = {"mediapipe"}  # requirements-nodeps.txt: installed with pip --no-deps


def _pins(python, group=None):
    return {r.name: r.version for r in pins.load_requirements() if r.applies(python) and group in (None, r.group)}


def test_requirement_files_hold_exact_pins_in_groups():
    reqs = pins.load_requirements()
    for req in reqs:
        assert req.pin == f"{req.name}=={req.version}"
        assert re.fullmatch(r"\d+(\.\d+)*", req.version), req
        assert req.why, f"{req.name}: say why it is pinned (a comment after #)"
    assert {r.name for r in reqs if r.group == "runtime"} == RUNTIME
    assert {r.name for r in reqs if r.group == "test"} == {"bpy", "pytest"}
    assert {r.name for r in reqs if r.group == "ray"} == {"ray"}
    for python in pins.SUPPORTED_PYTHONS:  # exactly one pin per package and Python
        names = [r.name for r in reqs if r.applies(python) and r.group == "runtime"]
        assert sorted(names) == sorted(RUNTIME), (python, names)
    # install_deps.py and its package keep no list of their own: the files are the one list
    for path in SETUP_FILES:
        source = path.read_text()
        assert "REQUIREMENTS = (" not in source and "torch==" not in source, path
    dev = (REPO / "requirements-dev.txt").read_text()
    assert all(f"-r {name}" in dev for name in ("requirements.txt", "requirements-test.txt", "requirements-ray.txt"))


def test_pins_are_mutually_compatible():
    for python in pins.SUPPORTED_PYTHONS:
        pinned = _pins(python)
        assert pinned["torch"] == "2.14.1" and pinned["torchvision"] == "0.29.1"  # what capped fresh machines allow
        numpy = tuple(int(x) for x in pinned["numpy"].split("."))
        opencv = tuple(int(x) for x in pinned["opencv-python"].split("."))
        assert opencv[0] == 4  # 5.x changes warpAffine's bilinear result: the official crops are 4.x's
        assert (opencv >= (4, 12)) == (numpy >= (2,))  # opencv 4.12+ needs numpy 2, older needs numpy 1
        if "bpy" in pinned:
            bpy = tuple(int(x) for x in pinned["bpy"].split("."))
            assert (numpy < (2,)) if bpy < (5, 1) else ((2, 2) <= numpy < (3,))  # bpy 5.0: <2; 5.2: >=2.2,<3
        assert pinned["scipy"] == "1.17.1" and pinned["smplx"] == "0.1.28" and pinned["ultralytics"] == "8.4.190"
    assert _pins((3, 13))["numpy"].startswith("2.") and _pins((3, 11))["numpy"] == "1.26.4"
    assert pins.bpy_pythons() == {(3, 11): "5.0.1", (3, 13): "5.2.3"}


def test_pip_reads_the_requirement_files():
    """`pip install -r requirements-dev.txt` (includes, markers) resolves in the test environment without
    installing anything: pip reads the same files install_deps.py does."""
    if sys.version_info[:2] != PY311 or not (Path(sys.prefix) / envs.STAMP_NAME).exists():
        pytest.skip("needs the environment install_deps.py --dev built for Python 3.11")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-input", "--no-deps",
                           "-r", str(REPO / "requirements-dev.txt"), "-r", str(REPO / pins.NO_DEPS_FILE)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Would install" not in done.stdout, done.stdout[-2000:]


def test_no_deps_pins_install_last_in_a_call_of_their_own():
    """mediapipe's wheel asks for opencv-contrib-python (a second cv2): it is installed with --no-deps, after the
    rest, and its real needs are ordinary runtime pins."""
    reqs = pins.load_requirements()
    assert {r.name for r in reqs if r.no_deps} == NO_DEPS
    assert all(r.group == "runtime" for r in reqs if r.no_deps)
    assert not any("opencv-contrib" in r.name for r in reqs)
    runtime, _ = pins.select_requirements(dev=False, python=PY311)
    for choice in (machine.TorchChoice("default", None, ""), machine.TorchChoice("cpu", "https://x/cpu", "")):
        commands = packages.pip_commands(Path("/env/bin/python"), runtime, choice, offline=False)
        assert "--no-deps" in commands[-1] and [a for a in commands[-1] if "==" in a] == ["mediapipe==1.2.3"]
        assert all("--no-deps" not in c and not any(a.startswith("mediapipe") for a in c) for c in commands[:-1])
        assert {"absl-py==2.3.1", "flatbuffers==25.12.19", "matplotlib==3.11.2"} <= set(commands[-2])
    # a pin moved between the normal and the --no-deps list is another environment
    flipped = [dataclasses.replace(r, no_deps=not r.no_deps) if r.name == "mediapipe" else r for r in runtime]
    choice = machine.TorchChoice("default", None, "")
    assert envs.env_key(runtime, choice, PY311) != envs.env_key(flipped, choice, PY311)


def test_no_deps_file_parses_with_its_flag(tmp_path):
    (tmp_path / "requirements.txt").write_text("foo==1.0  # why foo\n")
    for name in ("requirements-test.txt", "requirements-ray.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / pins.NO_DEPS_FILE).write_text("# header\nbar==2.0  # why bar\n")
    reqs = pins.load_requirements(tmp_path)
    assert [(r.name, r.group, r.no_deps) for r in reqs] == [("foo", "runtime", False), ("bar", "runtime", True)]


def test_select_requirements_per_python():
    runtime, skipped = pins.select_requirements(dev=False, python=PY311)
    assert {r.group for r in runtime} == {"runtime"} and not skipped
    dev311, skipped = pins.select_requirements(dev=True, python=PY311)
    assert {"bpy", "pytest", "ray"} <= {r.name for r in dev311} and not skipped
    assert next(r for r in dev311 if r.name == "bpy").version == "5.0.1"
    dev313, skipped = pins.select_requirements(dev=True, python=(3, 13))
    assert next(r for r in dev313 if r.name == "bpy").version == "5.2.3" and not skipped
    dev312, skipped = pins.select_requirements(dev=True, python=(3, 12))
    assert "bpy" not in {r.name for r in dev312} and "pytest" in {r.name for r in dev312}
    assert {r.name for r in skipped} == {"bpy"}
    with_ray, _ = pins.select_requirements(dev=False, python=PY311, ray=True)
    assert {r.name for r in with_ray} == RUNTIME | {"ray"}


def test_light_env_is_numpy_bpy_pytest():
    light = pins.light_env_requirements((3, 13))
    assert {r.pin for r in light} == {"numpy==2.5.0", "bpy==5.2.3", "pytest==9.2.0"}
    assert blender_envs.blender_test_env_link("5.2.3", Path("/r")) == Path("/r/.venv-bpy5.2")


@pytest.mark.parametrize("marker, python, expected", [
    ("", (3, 11), True),
    ('python_version < "3.13"', (3, 12), True),
    ('python_version < "3.13"', (3, 13), False),
    ('python_version >= "3.13"', (3, 13), True),
    ('python_version == "3.11"', (3, 11), True),
    ('python_version > "3.9"', (3, 10), True),  # numeric, not string order ("3.10" < "3.9" as text)
    ('python_version == "3.11" and os_name == "nt"', (3, 11), False),
    ('(python_version == "3.11" or python_version == "3.13") and platform_system != "Plan9"', (3, 13), True),
    ("python_version in '3.11 3.12'", (3, 12), True),
    ("python_version not in '3.11 3.12'", (3, 12), False),
])
def test_evaluate_marker(marker, python, expected):
    assert markers.evaluate_marker(marker, markers.marker_environment(python, "Linux", "x86_64")) is expected


@pytest.mark.parametrize("bad", ['python_version <', 'colour == "red"', '(python_version == "3.11"',
                                 'python_version ~= "3.11"'])
def test_evaluate_marker_refuses_what_it_cannot_read(bad):
    with pytest.raises(ValueError):
        markers.evaluate_marker(bad, markers.marker_environment((3, 11)))


def test_parse_requirement_file_errors_name_the_line(tmp_path):
    good = tmp_path / "requirements.txt"
    good.write_text("# header\nfoo==1.2.3  # why foo\n\nbar==2.0 ; python_version < \"3.13\"  # why bar\n")
    reqs = pins.parse_requirement_file(good, "runtime")
    assert [(r.name, r.version, r.marker, r.why) for r in reqs] == [
        ("foo", "1.2.3", "", "why foo"), ("bar", "2.0", 'python_version < "3.13"', "why bar")]
    for text, fragment in (("foo>=1.2\n", "line 1"), ("ok==1\nbar==1 ; colour == 'red'\n", "line 2")):
        bad = tmp_path / "bad.txt"
        bad.write_text(text)
        with pytest.raises(report.SetupError, match=fragment):
            pins.parse_requirement_file(bad, "runtime")
    with pytest.raises(report.SetupError, match="cannot read"):
        pins.parse_requirement_file(tmp_path / "missing.txt", "runtime")


@pytest.mark.parametrize("how", ["path", "host"])
def test_the_script_finds_its_package_from_any_folder(tmp_path, how):
    """Run by path from another folder (what Install Dependencies does), or by a host that does not put the
    script's folder on sys.path (``blender -b --python install_deps.py -- ARGS``, here runpy): either way the
    package beside it is found."""
    script = str(REPO / "install_deps.py")
    command = ([sys.executable, script, "--help"] if how == "path" else
               [sys.executable, "-c", "import runpy, sys; sys.argv = ['install_deps.py', '--help']; "
                f"runpy.run_path({script!r}, run_name='__main__')"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: install_deps.py"), done.stderr


def test_install_deps_imports_only_the_standard_library():
    modules = set()
    for path in SETUP_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    # `installer` is the script's own package, `core` ours (core.assets' table and checks import only the standard
    # library); fcntl is POSIX-only stdlib
    assert modules - set(sys.stdlib_module_names) == {"core", "installer"}
    done = subprocess.run([sys.executable, "-c", "import core.assets.table, core.assets.checks, sys; "
                           "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "[]", done.stderr


# ------------------------------------------------------------------------------------ decisions
@pytest.mark.parametrize(
    "system, nvidia, cpu, variant, index",
    [
        ("Linux", True, False, "cuda", None),
        ("Linux", False, False, "default", None),
        ("Linux", True, True, "cpu", "https://download.pytorch.org/whl/cpu"),
        ("Linux", False, True, "cpu", "https://download.pytorch.org/whl/cpu"),
        ("Windows", True, False, "cuda", f"https://download.pytorch.org/whl/{machine.TORCH_CUDA_TAG}"),
        ("Windows", False, False, "default", None),
        ("Windows", True, True, "cpu", "https://download.pytorch.org/whl/cpu"),
        ("Darwin", False, False, "default", None),
        ("Darwin", False, True, "cpu", None),
    ],
)
def test_choose_torch_build(system, nvidia, cpu, variant, index):
    choice = machine.choose_torch_build(system, nvidia, cpu)
    assert (choice.variant, choice.index_url) == (variant, index)
    assert choice.reason


def test_cuda_tag_is_a_pytorch_index_name():
    assert re.fullmatch(r"cu\d{3}", machine.TORCH_CUDA_TAG)


@pytest.mark.parametrize(
    "executable, expected",
    [
        ("/opt/blender-5.0.1-linux-x64/5.0/python/bin/python3.11", True),
        (r"C:\Program Files\Blender Foundation\Blender 4.2\4.2\python\bin\python.exe", True),
        ("/Applications/Blender.app/Contents/Resources/4.4/python/bin/python3.11", True),
        ("/home/u/.steam/steamapps/common/Blender/5.0/python/bin/python3.11", True),
        ("/usr/bin/python3", False),
        ("/home/u/blender-projects/tcmr/.venv/bin/python", False),  # "blender" in path, but a venv
        ("/home/u/.cache/tcmr_mocap/envs/py3.11-abc/bin/python", False),
        ("/opt/python/3.11/python/bin/python3", False),  # the layout, but nothing about Blender
    ],
)
def test_is_blender_python_by_path(executable, expected):
    assert machine.is_blender_python(executable) is expected


def test_is_blender_python_by_bpy_module():
    inside = SimpleNamespace(app=SimpleNamespace(module=False, online_access=False))
    pip_module = SimpleNamespace(app=SimpleNamespace(module=True, online_access=False))
    assert machine.is_blender_python("/usr/bin/python3", inside) is True
    assert machine.is_blender_python("/usr/bin/python3", pip_module) is False  # the bpy wheel in a dev venv
    assert machine.blender_online_access(inside) is False
    assert machine.blender_online_access(pip_module) is None
    assert machine.blender_online_access(None) is None
    online = SimpleNamespace(app=SimpleNamespace(module=False, online_access=True))
    assert machine.blender_online_access(online) is True


def test_pip_commands_use_env_python_and_the_right_index():
    py = Path("/env/bin/python")
    reqs, _ = pins.select_requirements(dev=True, python=PY311)
    default = packages.pip_commands(py, reqs, machine.choose_torch_build("Linux", False, False), offline=False)
    assert len(default) == 2 and all(c[:3] == [str(py), "-m", "pip"] for c in default)  # (2: the --no-deps pins)
    assert set(r.pin for r in reqs if not r.no_deps) <= set(default[0]) and "--index-url" not in default[0]
    cpu = packages.pip_commands(py, reqs, machine.choose_torch_build("Linux", False, True), offline=False)
    assert len(cpu) == 3 and all(c[:3] == [str(py), "-m", "pip"] for c in cpu)
    first = cpu[0]
    assert first[first.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert [a for a in first if "==" in a] == ["torch==2.14.1", "torchvision==0.29.1"]
    offline = packages.pip_commands(py, reqs, machine.choose_torch_build("Windows", True, False), offline=True)
    assert len(offline) == 2 and all("--no-index" in c and "--index-url" not in c for c in offline)


def test_pip_failures_become_one_actionable_line():
    network = "WARNING: Retrying ... Failed to establish a new connection: [Errno -2] Name or service not known\n" \
              "ERROR: No matching distribution found for torch==2.14.1\n"
    assert "cannot reach the package index" in packages.explain_pip_failure(network)
    assert "cpu" in packages.explain_pip_failure(network, index_url="https://download.pytorch.org/whl/cpu")
    missing = "ERROR: No matching distribution found for bpy==5.0.1\n"
    assert "python3.11 install_deps.py" in packages.explain_pip_failure(missing, python_version=(3, 12))
    assert "please report" in packages.explain_pip_failure(missing, python_version=(3, 13))
    assert "please report" in packages.explain_pip_failure(missing, python_version=(3, 11))
    assert "offline" in packages.explain_pip_failure(missing, offline=True)
    assert "disk is full" in packages.explain_pip_failure("OSError: [Errno 28] No space left on device")
    other = packages.explain_pip_failure("Collecting x\nERROR: something odd happened\n")
    assert "something odd happened" in other
    for message in (other, packages.explain_pip_failure(network)):
        assert "\n" not in message


def test_default_env_cache_honours_xdg_and_windows():
    assert envs.default_env_cache({"XDG_CACHE_HOME": "/x/cache"}, "Linux") == Path("/x/cache/tcmr_mocap/envs")
    assert envs.default_env_cache({}, "Linux") == Path.home() / ".cache" / "tcmr_mocap" / "envs"
    assert envs.default_env_cache({"LOCALAPPDATA": "/w/local"}, "Windows") == Path("/w/local/tcmr_mocap/envs")


def test_plan_env_layout(tmp_path):
    key = "ab" * 32
    repo = tmp_path / "repo"
    repo.mkdir()
    shared = envs.plan_env_layout(key, PY311, None, str(tmp_path / "cache"), repo)
    assert shared.env_dir == tmp_path / "cache" / f"py3.11-{key[:12]}" and shared.link == repo / ".venv"
    explicit = envs.plan_env_layout(key, PY311, str(tmp_path / "addon-env"), None, repo)
    assert explicit == envs.EnvLayout(tmp_path / "addon-env", None)
    (repo / ".venv").mkdir()  # a real environment made by hand: used in place
    assert envs.plan_env_layout(key, PY311, None, None, repo) == envs.EnvLayout(repo / ".venv", None)


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_point_link_creates_repoints_and_spares_real_dirs(tmp_path):
    a, b, link = tmp_path / "a", tmp_path / "b", tmp_path / ".venv"
    a.mkdir(), b.mkdir()
    assert envs.point_link(link, a) and Path(os.readlink(link)) == a
    assert envs.point_link(link, b) and Path(os.readlink(link)) == b
    real = tmp_path / "real"
    real.mkdir()
    assert envs.point_link(real, a) is False and real.is_dir() and not real.is_symlink()


def test_env_key_covers_pins_and_options_but_not_dev_extras():
    runtime, _ = pins.select_requirements(False, PY311)
    dev, _ = pins.select_requirements(True, PY311)
    default = machine.choose_torch_build("Linux", False, False)
    key = envs.env_key(runtime, default, PY311)
    assert key == envs.env_key(dev, default, PY311)  # dev extras are added on top of the same environment
    assert key != envs.env_key(runtime, machine.choose_torch_build("Linux", False, True), PY311)
    assert key != envs.env_key(runtime, default, (3, 12))
    bumped = [dataclasses.replace(r, version="1.26.3") if r.name == "numpy" else r for r in runtime]
    assert key != envs.env_key(bumped, default, PY311)
    assert envs.dev_key(runtime) is None and envs.dev_key(dev)


def test_stamp_logic():
    runtime, _ = pins.select_requirements(False, PY311)
    dev, _ = pins.select_requirements(True, PY311)
    choice = machine.choose_torch_build("Linux", False, False)
    key = envs.env_key(runtime, choice, PY311)
    plain, full = envs.make_stamp(key, runtime, choice), envs.make_stamp(key, dev, choice)
    assert envs.stamp_satisfies(plain, key, None)
    assert not envs.stamp_satisfies(plain, key, envs.dev_key(dev))  # --dev on a plain env: install extras
    assert envs.stamp_satisfies(full, key, None) and envs.stamp_satisfies(full, key, envs.dev_key(dev))
    assert not envs.stamp_satisfies(full, "0" * 64, None)
    assert not envs.stamp_satisfies(None, key, None)
    assert not envs.stamp_satisfies(dict(full, format=0), key, None)
    assert json.loads(json.dumps(full)) == full


def test_check_python_refuses_unsupported_versions():
    for good in ((3, 11), (3, 12), (3, 13)):
        pins.check_python(good)
    for bad in ((3, 9), (3, 10), (3, 14)):
        with pytest.raises(report.SetupError) as err:
            pins.check_python(bad)
        message = str(err.value)
        assert f"Python {bad[0]}.{bad[1]} is not supported" in message and "3.11, 3.12 or 3.13" in message
        assert "\n" not in message


@pytest.mark.parametrize("version", ["3.9", "3.14"])
def test_unsupported_python_gets_one_line(version):
    python = pythons.find_python(tuple(int(x) for x in version.split(".")))
    if python is None:
        pytest.skip(f"no Python {version} on this machine")
    done = subprocess.run([python, str(REPO / "install_deps.py"), "--check"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: Python {version} is not supported"), done.stderr


# ------------------------------------------------------------------------------------ the environment
def _wrapped_env(tmp_path: Path) -> Path:
    """An "environment" whose python runs this test interpreter (which has every runtime package)."""
    env = tmp_path / "env"
    python = envs.env_python(env)
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return env


def _key_for(dev: bool = False) -> tuple[str, list]:
    reqs, _ = pins.select_requirements(dev, sys.version_info[:2])
    choice = machine.choose_torch_build(platform.system(), machine.has_nvidia_driver(), False)
    return envs.env_key(reqs, choice, sys.version_info[:2]), reqs, choice


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="uses a shell-script interpreter wrapper")
def test_second_run_skips_pip_and_changes_nothing(tmp_path, monkeypatch, capsys):
    env = _wrapped_env(tmp_path)
    key, reqs, choice = _key_for()
    envs.write_stamp(env, envs.make_stamp(key, reqs, choice))
    before = (env / envs.STAMP_NAME).read_bytes()

    def no_pip(*a, **k):
        raise AssertionError("pip must not run when the stamp matches")

    monkeypatch.setattr(build, "run_pip", no_pip)
    monkeypatch.setattr(build, "create_env", no_pip)
    start = time.monotonic()
    rc = install_deps.main(["--env", str(env), "--json", "--models-dir", str(tmp_path / "models")])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 0, out
    assert any("environment ready" in row["message"] for row in out)
    assert out[-1]["stage"] == "done"
    assert (env / envs.STAMP_NAME).read_bytes() == before
    assert time.monotonic() - start < 120


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="uses a shell-script interpreter wrapper")
def test_stale_stamp_runs_pip_then_records(tmp_path, monkeypatch, capsys):
    env = _wrapped_env(tmp_path)
    key, reqs, choice = _key_for()
    envs.write_stamp(env, dict(envs.make_stamp(key, reqs, choice), key="0" * 64))  # pins changed since
    ran = []
    monkeypatch.setattr(build, "run_pip", lambda command, *a, **k: ran.append(command))
    rc = install_deps.main(["--env", str(env), "--models-dir", str(tmp_path / "models")])
    capsys.readouterr()
    assert rc == 0 and ran and all(c[:3] == [str(envs.env_python(env)), "-m", "pip"] for c in ran)
    assert envs.stamp_satisfies(envs.read_stamp(env), key, None)


@pytest.mark.slow
def test_check_on_the_running_environment(tmp_path, models_dir):
    """`--check` against the environment running these tests: imports everything, reports versions; exit 0
    with every model file, 3 (not 0) and "model files missing" without them."""
    def check(folder):
        done = subprocess.run([sys.executable, str(REPO / "install_deps.py"), "--check", "--env", sys.prefix,
                               "--json", "--models-dir", str(folder)], capture_output=True, text=True, timeout=300)
        return done, [json.loads(line) for line in done.stdout.splitlines()]

    done, rows = check(models_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    ready = next(r["message"] for r in rows if "environment ready" in r["message"])
    from importlib.metadata import version

    assert f"torch {version('torch')}," in ready and f"numpy {version('numpy')}," in ready
    assert "CUDA works" in ready or "CPU only" in ready
    assert rows[-1]["message"] == "check passed"
    done, rows = check(tmp_path)
    assert done.returncode == model_setup.EXIT_MODELS_MISSING == 3, done.stdout + done.stderr
    assert rows[-1]["message"].startswith("environment ready; model files missing: tcmr_demo_model.pth.tar")
    assert not any(r["message"] == "check passed" for r in rows)


def test_check_without_environment_says_what_to_do(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "install_deps.py"), "--check", "--env", str(tmp_path / "none")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "environment not ready" in done.stdout + done.stderr and "install_deps.py" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_models_offline_is_refused_in_one_line():
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(REPO / "install_deps.py"), "--models", "--offline"],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 20
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--models-from" in lines[0]


# ------------------------------------------------------------------------------------ downloads
class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (path -> bytes) with optional Range support; records request headers."""

    files: dict = {}
    ranges = True
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).seen.append(dict(self.headers))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        html = body.lstrip()[:14].lower().startswith((b"<!doctype html", b"<html"))  # not random bytes that start "<"
        ctype = "text/html; charset=utf-8" if html else "application/octet-stream"
        start = 0
        match = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and self.ranges:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    handler = type("Handler", (_Handler,), {"files": {}, "ranges": True, "seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield handler
    httpd.shutdown()
    httpd.server_close()


def test_download_whole_file_with_progress(server, tmp_path):
    body = os.urandom(3_000_000)
    server.files["/f.bin"] = body
    calls = []
    size = downloads.download(server.base + "/f.bin", tmp_path / "f.part", lambda d, t: calls.append((d, t)),
                         chunk_size=256 * 1024)
    assert size == len(body) and (tmp_path / "f.part").read_bytes() == body
    assert len(calls) >= 10 and calls[-1] == (len(body), len(body))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_download_resumes_from_part_file(server, tmp_path):
    body = os.urandom(2_000_000)
    server.files["/f.bin"] = body
    part = tmp_path / "f.part"
    part.write_bytes(body[:700_000])
    calls = []
    downloads.download(server.base + "/f.bin", part, lambda d, t: calls.append(d))
    assert part.read_bytes() == body
    assert server.seen[-1].get("Range") == "bytes=700000-"
    assert calls[0] > 700_000  # counted from what was already there
    # complete already: the server answers 416 and nothing changes
    assert downloads.download(server.base + "/f.bin", part) == len(body) and part.read_bytes() == body


def test_download_restarts_when_server_ignores_range(server, tmp_path):
    body = os.urandom(500_000)
    server.files["/f.bin"] = body
    server.ranges = False
    part = tmp_path / "f.part"
    part.write_bytes(b"stale bytes from another file")
    downloads.download(server.base + "/f.bin", part)
    assert part.read_bytes() == body


def test_download_refuses_html_and_http_errors(server, tmp_path):
    server.files["/quota"] = b"<!DOCTYPE html><html>Google Drive - quota exceeded</html>"
    with pytest.raises(downloads.DownloadError, match="HTML page"):
        downloads.download(server.base + "/quota", tmp_path / "q.part")
    with pytest.raises(downloads.DownloadError, match="HTTP 404"):
        downloads.download(server.base + "/missing", tmp_path / "m.part")


def test_download_stall_ends_quickly(tmp_path):
    """A server that accepts the connection and then says nothing: stop after the timeout, not hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(downloads.DownloadError):
            downloads.download(f"http://127.0.0.1:{port}/x", tmp_path / "x.part", timeout=1.0)
        assert time.monotonic() - start < 10
    finally:
        listener.close()


def test_download_models_fails_fast_without_network(tmp_path):
    specs = [dataclasses.replace(s, url=f"http://127.0.0.1:9/{s.file_name}")
             for s in table.MODEL_FILES.values() if s.url]
    start = time.monotonic()
    with pytest.raises(report.SetupError) as err:
        model_setup.download_models(tmp_path / "models", model_setup.Validator(None, quiet()), quiet(), specs=specs)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert "\n" not in message and "cannot reach 127.0.0.1:9" in message
    assert "--models-from" in message and "models/README.md" in message
    for spec in specs:
        assert spec.file_name in message and spec.url in message
    assert "base_data.zip" in message  # the TCMR file comes inside the release archive
    assert not list((tmp_path / "models").glob("*.part"))


def test_download_models_archive_and_direct_file(server, tmp_path):
    tcmr_body = fake_checkpoint(tmp_path / "t.bin", seed=1).read_bytes()
    spin_body = fake_checkpoint(tmp_path / "s.bin", seed=2).read_bytes()
    det_body = fake_checkpoint(tmp_path / "d.bin", seed=3).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("base_data/tcmr_demo_model.pth.tar", tcmr_body)
        zf.writestr("base_data/spin_model_checkpoint.pth.tar", spin_body)
        zf.writestr("base_data/demo.mp4", b"video")
    server.files["/base_data.zip"] = buf.getvalue()
    server.files["/yolo11s.pt"] = det_body
    specs = [
        dataclasses.replace(table.MODEL_FILES["tcmr"], url=server.base + "/base_data.zip"),
        dataclasses.replace(table.MODEL_FILES["spin"], url="http://127.0.0.1:9/model_checkpoint.pt"),  # down
        dataclasses.replace(table.MODEL_FILES["detector"], url=server.base + "/yolo11s.pt"),
    ]
    models = tmp_path / "models"
    out = io.StringIO()
    model_setup.download_models(models, model_setup.Validator(None, quiet()), report.Reporter(True, out), specs=specs)
    assert (models / "tcmr_demo_model.pth.tar").read_bytes() == tcmr_body
    assert (models / "spin_model_checkpoint.pth.tar").read_bytes() == spin_body  # taken from the archive
    assert (models / "yolo11s.pt").read_bytes() == det_body
    assert sorted(p.name for p in models.iterdir()) == ["spin_model_checkpoint.pth.tar", "tcmr_demo_model.pth.tar",
                                                        "yolo11s.pt"]
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert any(r["stage"] == "download" and r["fraction"] == 1.0 for r in rows)
    # idempotent: a second run finds everything valid and downloads nothing
    server.seen.clear()
    model_setup.download_models(models, model_setup.Validator(None, quiet()), quiet(), specs=specs)
    assert server.seen == []


def test_download_models_refuses_a_bad_download(server, tmp_path):
    server.files["/yolo11s.pt"] = b"\x00" * 2_000_000  # neither zip nor pickle
    spec = dataclasses.replace(table.MODEL_FILES["detector"], url=server.base + "/yolo11s.pt")
    with pytest.raises(report.SetupError, match="refused"):
        model_setup.download_models(tmp_path / "m", model_setup.Validator(None, quiet()), quiet(), specs=[spec])
    assert not (tmp_path / "m" / "yolo11s.pt").exists() and not (tmp_path / "m" / "yolo11s.pt.part").exists()


# ------------------------------------------------------------------------------------ --models-from
def test_models_from_imports_official_names_aliases_and_zips(tmp_path):
    src = tmp_path / "Downloads"
    (src / "base_data").mkdir(parents=True)
    fake_checkpoint(src / "base_data" / "tcmr_demo_model.pth.tar", seed=1)
    fake_checkpoint(src / "model_checkpoint.pt", seed=2)  # SPIN's published name
    fake_checkpoint(src / "yolo11s.pt", seed=3)
    models = tmp_path / "models"
    model_setup.import_models(src, models, model_setup.Validator(None, quiet()), quiet())
    for name, origin in (("tcmr_demo_model.pth.tar", src / "base_data" / "tcmr_demo_model.pth.tar"),
                         ("spin_model_checkpoint.pth.tar", src / "model_checkpoint.pt"),
                         ("yolo11s.pt", src / "yolo11s.pt")):
        assert (models / name).read_bytes() == origin.read_bytes()
        assert os.path.samefile(models / name, origin)  # hard-linked: same disk
    model_setup.import_models(src, models, model_setup.Validator(None, quiet()), quiet())  # again: nothing to do

    zipped = tmp_path / "zipped"
    zipped.mkdir()
    with zipfile.ZipFile(zipped / "base_data.zip", "w") as zf:
        zf.write(src / "base_data" / "tcmr_demo_model.pth.tar", "base_data/tcmr_demo_model.pth.tar")
    models2 = tmp_path / "models2"
    model_setup.import_models(zipped, models2, model_setup.Validator(None, quiet()), quiet())
    assert sorted(p.name for p in models2.iterdir()) == ["tcmr_demo_model.pth.tar"]


def test_models_from_refuses_wrong_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "yolo11s.pt").write_text("<!DOCTYPE html><html><body>Not Found</body></html>")
    fake_checkpoint(src / "spin_model_checkpoint.pth.tar")
    models = tmp_path / "models"
    with pytest.raises(report.SetupError) as err:
        model_setup.import_models(src, models, model_setup.Validator(None, quiet()), quiet())
    assert "yolo11s.pt" in str(err.value) and "HTML" in str(err.value) and "\n" not in str(err.value)
    assert not (models / "yolo11s.pt").exists()
    assert (models / "spin_model_checkpoint.pth.tar").exists()  # the good one still came in


def test_models_from_empty_or_missing_folder(tmp_path):
    with pytest.raises(report.SetupError, match="no such folder"):
        model_setup.import_models(tmp_path / "nope", tmp_path / "m", model_setup.Validator(None, quiet()), quiet())
    (tmp_path / "empty").mkdir()
    with pytest.raises(report.SetupError, match="tcmr_demo_model.pth.tar"):
        model_setup.import_models(tmp_path / "empty", tmp_path / "m", model_setup.Validator(None, quiet()), quiet())


@pytest.mark.slow
def test_models_from_checks_content_with_the_environment(models_dir, tmp_path):
    """Full path: the environment's `python -m core.assets validate` checks keys and shapes."""
    src = tmp_path / "src"
    src.mkdir()
    os.link(models_dir / "spin_model_checkpoint.pth.tar", src / "model_checkpoint.pt")
    os.link(models_dir / "spin_model_checkpoint.pth.tar", src / "tcmr_demo_model.pth.tar")  # wrong content
    models = tmp_path / "models"
    validator = model_setup.Validator(Path(sys.executable), quiet())
    with pytest.raises(report.SetupError) as err:
        model_setup.import_models(src, models, validator, quiet())
    message = str(err.value)
    assert "not a valid tcmr_demo_model.pth.tar" in message and "SPIN" in message and "\n" not in message
    assert not (models / "tcmr_demo_model.pth.tar").exists()
    assert (models / "spin_model_checkpoint.pth.tar").exists()


# ------------------------------------------------------------------------------------ first hour
def test_models_from_missing_folder_fails_before_anything(tmp_path):
    env = tmp_path / "env"
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(REPO / "install_deps.py"), "--env", str(env), "--models-from",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 15
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: --models-from {tmp_path / 'nowhere'}: no such folder; give "
                                                "the folder holding the downloaded model files (see models/README.md)"]
    assert not env.exists() and "environment" not in done.stdout  # refused before the environment step


@pytest.mark.skipif(os.name == "nt", reason="uses a shell-script interpreter wrapper")
def test_half_built_environment_is_rebuilt_never_used(tmp_path, monkeypatch, capsys):
    env = _wrapped_env(tmp_path)
    (env / envs.BUILDING_MARKER).write_text("interrupted\n")
    (env / "lib-half-unpacked").mkdir()
    assert envs.env_state(env) == "building"  # the add-on's resolve_python skips it (tests/blender)
    ran = []

    def fake_create(env_dir, reporter):  # the wipe removed the old interpreter: make a new one
        ran.append("create")
        _wrapped_env(env_dir.parent)

    monkeypatch.setattr(build, "create_env", fake_create)
    monkeypatch.setattr(build, "run_pip", lambda command, *a, **k: ran.append("pip"))
    rc = install_deps.main(["--env", str(env), "--json", "--models-dir", str(tmp_path / "models")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "did not finish; rebuilding it from scratch" in out
    assert ran[:2] == ["create", "pip"] and not (env / "lib-half-unpacked").exists()
    assert envs.env_state(env) == "ready" and not (env / envs.BUILDING_MARKER).exists()


def test_check_reports_a_half_built_environment(tmp_path):
    env = _wrapped_env(tmp_path)
    (env / envs.BUILDING_MARKER).write_text("interrupted\n")
    done = subprocess.run([sys.executable, str(REPO / "install_deps.py"), "--check", "--env", str(env)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "interrupted" in done.stdout + done.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX launcher")
def test_launcher_runs_the_core_from_any_folder(tmp_path):
    env = _wrapped_env(tmp_path)
    script = launcher.write_launcher(env)
    assert script == env / "bin" / "tcmr-mocap" and os.access(script, os.X_OK)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "core").mkdir(parents=True)  # a folder named core where it runs must not shadow ours
    (elsewhere / "core" / "__init__.py").write_text("raise SystemExit('wrong core')\n")
    (elsewhere / "core" / "__main__.py").write_text("raise SystemExit('wrong core')\n")
    done = subprocess.run([str(script), "--help"], cwd=elsewhere, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "capture" in done.stdout and "wrong core" not in done.stdout + done.stderr
    done = subprocess.run([str(script), "info", str(tmp_path / "missing.mp4")], cwd=elsewhere,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().startswith("error:")


def _fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


@pytest.mark.skipif(os.name == "nt", reason="shell-script interpreters")
def test_find_python_looks_in_pyenv_and_skips_broken_shims(tmp_path, monkeypatch):
    shims = tmp_path / "shims"
    shim = shims / "python3.13"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    root = tmp_path / "pyenv"
    old = _fake_python(root / "versions" / "3.13.0" / "bin" / "python3.13", "3.13")
    new = _fake_python(root / "versions" / "3.13.10" / "bin" / "python3.13", "3.13")
    _fake_python(root / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    monkeypatch.setenv("PATH", str(shims))
    environ = {"PYENV_ROOT": str(root), "HOME": str(tmp_path / "home")}
    candidates = pythons.python_candidates((3, 13), environ, "Linux")
    assert candidates[:3] == [str(shim), str(new), str(old)]  # newest pyenv version first (numeric order)
    assert pythons.python_version_of(str(shim)) is None
    assert pythons.find_python((3, 13), environ) == str(new)
    assert pythons.find_python((3, 11), {"HOME": str(tmp_path / "home")}) in (None, "/usr/bin/python3.11",
                                                                        "/usr/local/bin/python3.11")


# ------------------------------------------------------------------------------------ README and CI
def _fenced_blocks(markdown: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.S)


def test_readme_has_the_two_commands_and_ci_runs_the_test_command():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b.strip() for b in _fenced_blocks(quick)]
    assert len(blocks) == 2 and all("\n" not in b for b in blocks)
    setup_run, tests = blocks
    assert setup_run.startswith("python3 install_deps.py") and "-m core capture" in setup_run
    assert tests.startswith("python3 install_deps.py --dev") and "pytest" in tests
    ci = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert any(line.strip() == tests for line in ci.splitlines()), "CI must run the README test command"
    for section in ("## Command line", "## Result format", "## Blender add-on"):
        assert section in readme


# ------------------------------------------------------------------------------------ hands and face bundles
def test_task_bundles_are_in_the_model_table():
    for role, name in (("hands", "hand_landmarker.task"), ("face", "face_landmarker.task")):
        spec = table.MODEL_FILES[role]
        assert spec.file_name == name and not spec.required and spec.licence.startswith("Apache-2.0")
        assert spec.url.startswith("https://storage.googleapis.com/mediapipe-models/") and spec.url.endswith(name)
        assert name in (REPO / "models" / "README.md").read_text() and spec.url in (REPO / "models" / "README.md").read_text()
    assert table.MODEL_FILES["face"].approx_size_bytes == 3_758_596  # Google's float16 v1 bundle


def test_download_models_fetches_and_checks_the_task_bundles(server, tmp_path, hand_landmarker_task,
                                                             face_landmarker_task):
    """--models up to the network: the bundles come from their URLs (a local server here), are checked by content
    with the standard library alone (no environment yet) and installed; a corrupt one is refused in one line."""
    server.files["/hand_landmarker.task"] = hand_landmarker_task.read_bytes()
    server.files["/face_landmarker.task"] = face_landmarker_task.read_bytes()
    specs = [dataclasses.replace(table.MODEL_FILES[r], url=f"{server.base}/{table.MODEL_FILES[r].file_name}")
             for r in ("hands", "face")]
    models = tmp_path / "models"
    model_setup.download_models(models, model_setup.Validator(None, quiet()), quiet(), specs=specs)
    assert (models / "face_landmarker.task").read_bytes() == face_landmarker_task.read_bytes()
    assert model_setup._digest(models / "face_landmarker.task") == \
        "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
    assert (models / "hand_landmarker.task").read_bytes() == hand_landmarker_task.read_bytes()

    body = bytearray(hand_landmarker_task.read_bytes())
    body[len(body) // 2] ^= 0xFF  # one flipped byte inside a model: the member's CRC fails
    server.files["/hand_landmarker.task"] = bytes(body)
    with pytest.raises(report.SetupError) as err:
        model_setup.download_models(tmp_path / "m2", model_setup.Validator(None, quiet()), quiet(), specs=specs[:1])
    message = str(err.value)
    assert "refused" in message and "fails its checksum" in message and "\n" not in message
    assert not (tmp_path / "m2" / "hand_landmarker.task").exists()


def test_models_from_imports_task_bundles_and_refuses_a_swapped_one(tmp_path, hand_landmarker_task,
                                                                     face_landmarker_task):
    src = tmp_path / "Downloads"
    src.mkdir()
    os.link(hand_landmarker_task, src / "hand_landmarker.task")
    os.link(face_landmarker_task, src / "face_landmarker.task")
    models = tmp_path / "models"
    model_setup.import_models(src, models, model_setup.Validator(None, quiet()), quiet())
    assert sorted(p.name for p in models.iterdir()) == ["face_landmarker.task", "hand_landmarker.task"]

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    os.link(face_landmarker_task, wrong / "hand_landmarker.task")  # the face bundle under the hand name
    with pytest.raises(report.SetupError) as err:
        model_setup.import_models(wrong, tmp_path / "m2", model_setup.Validator(None, quiet()), quiet())
    message = str(err.value)
    assert "not a valid hand_landmarker.task" in message and "looks like face_landmarker.task" in message
    assert "\n" not in message and not (tmp_path / "m2" / "hand_landmarker.task").exists()
