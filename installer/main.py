"""``install_deps.py``'s command line: the options, and the run (environment, launcher, test environments, model
files) with its exit codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from .blender_envs import plan_blender_test_env, setup_blender_test_envs
from .build import plan_runtime, setup_environment
from .launcher import write_launcher
from .machine import blender_online_access, has_nvidia_driver, is_blender_python
from .models import (EXIT_MODELS_MISSING, Validator, check_models, core_assets, download_models, how_to_fill,
                     import_models, models_summary)
from .packages import describe_verify
from .pins import REPO_ROOT, check_python
from .report import Reporter, SetupError


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="install_deps.py", description="Set up the TCMR Mocap environment and model files.",
        epilog="Without --env, the environment lives in a per-user cache and <repo>/.venv links to it. "
               "Exit codes: 0 done/ready; 1 --check: environment not ready or a model file is wrong; "
               f"2 a problem (one error: line); {EXIT_MODELS_MISSING} --check: environment ready but required "
               "model files are missing; 130 interrupted.")
    parser.add_argument("--dev", action="store_true", help="also the test tools and ray (requirements-dev.txt), and "
                        "a light environment per other tested Blender (bpy) whose Python is found")
    parser.add_argument("--ray", action="store_true", help="also ray, for `python -m core batch --ray`")
    parser.add_argument("--cpu", action="store_true", help="CPU-only torch from the official PyTorch CPU index")
    parser.add_argument("--env", metavar="DIR", help="create a real environment at DIR (no shared cache)")
    parser.add_argument("--env-cache", metavar="DIR", help="folder of the shared environments "
                        "(default: $XDG_CACHE_HOME/tcmr_mocap/envs or ~/.cache/tcmr_mocap/envs)")
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--models", action="store_true", help="download the model files from their sources")
    models.add_argument("--models-from", metavar="DIR", help="import the model files from a folder (offline)")
    parser.add_argument("--models-dir", metavar="DIR", help="where model files go "
                        "(default: $TCMR_MOCAP_MODELS, else <repo>/models)")
    parser.add_argument("--offline", action="store_true", help="never use the network")
    parser.add_argument("--check", action="store_true", help="verify the environment and models; change nothing")
    parser.add_argument("--blender-python", action="append", metavar="X.Y=PATH",
                        help="with --dev: the Python X.Y for another Blender's tests (default: searched for)")
    parser.add_argument("--blender-test-env", action="store_true",
                        help="build only the light environment for the add-on tests on this Python's bpy "
                             "(what --dev runs with each other tested Python)")
    parser.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")
    parser.add_argument("--verbose", action="store_true", help="show a traceback on unexpected errors")
    if argv is None:
        argv = sys.argv[1:]
        if "--" in argv:  # blender -b --python install_deps.py -- ARGS
            argv = argv[argv.index("--") + 1:]
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    reporter = Reporter(json_mode=args.json)
    try:
        return _run(args, reporter)
    except SetupError as err:
        reporter.fail(str(err))
        return 2
    except KeyboardInterrupt:
        reporter.fail("interrupted; run the same command again to continue where it stopped")
        return 130
    except Exception as err:  # a bug of ours: still one line, the traceback only with --verbose
        if args.verbose:
            raise
        reporter.fail(f"unexpected {type(err).__name__}: {err}; run again with --verbose and report the traceback")
        return 2


def _run(args, reporter: Reporter) -> int:
    check_python(sys.version_info[:2])
    if args.models_from and not Path(args.models_from).expanduser().is_dir():  # cheap checks first
        raise SetupError(f"--models-from {args.models_from}: no such folder; give the folder holding the "
                         "downloaded model files (see models/README.md)")
    bpy_module = sys.modules.get("bpy")
    offline = args.offline
    if is_blender_python(sys.executable, bpy_module):
        reporter.stage("start", None, f"running on Blender's Python ({sys.executable})")
        if blender_online_access(bpy_module) is False and not offline:
            reporter.stage("start", None, "Blender's \"Allow Online Access\" is off: working offline")
            offline = True
    if args.models and offline and not args.check:
        raise SetupError("--models needs the network but this run is offline (--offline, or Blender's \"Allow "
                         "Online Access\" is off): download the files by hand and use --models-from DIR "
                         "(see models/README.md)")
    if args.blender_test_env:
        python, report = setup_environment(args, reporter, offline, plan_blender_test_env())
        if report["problems"]:
            reporter.stage("error", None, "Blender test environment not ready: " + "; ".join(report["problems"][:3]))
            return 1
        pk = report.get("packages", {})
        reporter.stage("done", 1.0, f"Blender test environment ready: Python {report.get('python')}, "
                       f"bpy {pk.get('bpy')}, numpy {pk.get('numpy')}, pytest {pk.get('pytest')} ({python})")
        return 0
    python, report = setup_environment(args, reporter, offline, plan_runtime(args, reporter))
    if report["problems"]:  # only in --check: setup_environment raises otherwise
        reporter.stage("error", None, "environment not ready: " + "; ".join(report["problems"][:3])
                       + " -- run `python3 install_deps.py" + (" --dev" if args.dev else "") + "`")
        return 1
    summary, warnings = describe_verify(report, has_nvidia_driver() and not args.cpu)
    reporter.stage("verify", 0.92, summary)
    for warning in warnings:
        reporter.warn(warning)
    table, _ = core_assets()
    models_dir = table.resolve_models_dir(args.models_dir)
    validator = Validator(python, reporter)
    if args.check:
        return check_models(models_dir, validator, reporter)
    launcher = write_launcher(python.parent.parent)
    reporter.stage("env", 0.93, f"launcher: {launcher} (runs `python -m core` of {REPO_ROOT} from any folder)")
    if args.dev:
        setup_blender_test_envs(args, reporter, offline)
    if args.models_from:
        import_models(Path(args.models_from), models_dir, validator, reporter)
    if args.models:
        download_models(models_dir, validator, reporter)
    missing, broken = models_summary(models_dir)
    for problem in broken:
        reporter.warn(f"model file {problem}")
    if missing:
        reporter.stage("models", None, f"models: {', '.join(missing)} missing in {models_dir}: "
                       + how_to_fill(models_dir, args.models_dir))
    else:
        reporter.stage("models", None, f"models: all required files present in {models_dir}")
    reporter.stage("done", 1.0, "done")
    return 0
