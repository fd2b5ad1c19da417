"""Building an environment: what goes in (:class:`EnvPlan`), then create or repair it as needed, idempotently (a
matching stamp and a passing import check: pip does not run at all; an interrupted set-up is wiped and rebuilt)."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .envs import (BUILDING_MARKER, dev_key, env_key, env_lock, env_python, env_state, make_stamp, plan_env_layout,
                   point_link, read_stamp, stamp_satisfies, wipe_env, write_stamp)
from .machine import TorchChoice, choose_torch_build, has_nvidia_driver
from .packages import create_env, pip_commands, run_pip, verify_env
from .pins import select_requirements
from .report import Reporter, SetupError


@dataclass(frozen=True)
class EnvPlan:
    """What one environment is: its requirements, the torch build, the ``<repo>`` link name and a label."""

    requirements: list
    choice: TorchChoice
    link_name: str = ".venv"
    kind: str = "runtime"


def plan_runtime(args, reporter: Reporter) -> EnvPlan:
    requirements, skipped = select_requirements(args.dev, sys.version_info[:2], ray=args.ray)
    for name in dict.fromkeys(r.name for r in skipped):
        pins = [r for r in skipped if r.name == name]
        where = ", ".join(f"{r.version} needs {r.marker.replace('python_version == ', 'Python ').replace(chr(34), '')}"
                          for r in pins)
        reporter.warn(f"{name} has no release for Python {sys.version_info[0]}.{sys.version_info[1]} ({where}); "
                      f"skipping it, so its tests run only in the environments that have it")
    choice = choose_torch_build(platform.system(), has_nvidia_driver(), args.cpu)
    return EnvPlan(requirements, choice)


def setup_environment(args, reporter: Reporter, offline: bool, plan: EnvPlan) -> tuple[Path, dict]:
    """Create or update the environment as needed; return (its python, verification report)."""
    python_version = sys.version_info[:2]
    requirements, choice = plan.requirements, plan.choice
    key = env_key(requirements, choice, python_version)
    if plan.kind != "runtime":
        key = hashlib.sha256(f"{plan.kind}:{key}".encode()).hexdigest()
    layout = plan_env_layout(key, python_version, args.env, args.env_cache, link_name=plan.link_name,
                             tag="" if plan.kind == "runtime" else "-" + plan.kind)
    python = env_python(layout.env_dir)
    if args.check:  # check what <repo>/.venv points to now, even if it was built with other options
        env_dir = Path(os.path.realpath(layout.link)) if layout.link and layout.link.exists() else layout.env_dir
        python = env_python(env_dir)
        if env_state(env_dir) == "building":
            return python, {"problems": [f"the set-up of {env_dir} was interrupted (it is half-built)"],
                            "packages": {}}
        report = verify_env(python, requirements)
        stamp = read_stamp(env_dir)
        if not report["problems"] and not stamp_satisfies(stamp, key, dev_key(requirements)):
            reporter.stage("verify", None, "note: packages match, but the environment was not recorded for "
                           "these options (no matching stamp); running install_deps.py will record it")
        return python, report
    reporter.stage("env", 0.0, f"torch build: {choice.variant} ({choice.reason})")
    with env_lock(layout.env_dir, reporter):
        if layout.link is not None and not point_link(layout.link, layout.env_dir):
            raise SetupError(f"cannot make {layout.link} a link to {layout.env_dir}: move {layout.link} away, or "
                             "use --env DIR to build the environment elsewhere")
        if layout.link is not None:
            reporter.stage("env", 0.01, f"{layout.link} -> {layout.env_dir}")
        if env_state(layout.env_dir) == "building":
            reporter.warn(f"an earlier set-up of {layout.env_dir} did not finish; rebuilding it from scratch")
            wipe_env(layout.env_dir)
        stamp = read_stamp(layout.env_dir)
        if python.exists() and stamp_satisfies(stamp, key, dev_key(requirements)):
            reporter.stage("verify", 0.9, "environment recorded as complete; checking it")
            report = verify_env(python, requirements)
            if not report["problems"]:
                return python, report
            reporter.warn("environment check failed (" + "; ".join(report["problems"][:3]) + "); repairing it")
        (layout.env_dir / BUILDING_MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n", encoding="utf-8")
        if not python.exists():
            create_env(layout.env_dir, reporter)
        commands = pip_commands(python, requirements, choice, offline)
        for i, command in enumerate(commands):
            run_pip(command, reporter, 0.1 + 0.7 * i / len(commands), offline)
        reporter.stage("verify", 0.9, "checking the installed packages")
        report = verify_env(python, requirements)
        if report["problems"]:
            raise SetupError("the environment does not work: " + "; ".join(report["problems"][:3])
                             + f"; delete {layout.env_dir} and run install_deps.py again")
        write_stamp(layout.env_dir, make_stamp(key, requirements, choice))
        (layout.env_dir / BUILDING_MARKER).unlink()
        return python, report
