"""The batch on Ray (``python -m core batch ... --ray auto|local|ADDRESS``): the only module that imports ``ray``.

One **actor per worker** (per GPU with ``--device cuda``: ``num_gpus=1`` each) wraps a
:class:`core.batch.worker.CaptureWorker`, so its models are loaded once and reused for every clip it gets. The
driver (this process) keeps the queue, longest clips first, and hands the next clip to whichever actor is
idle; it alone writes the manifest. Actors write the result files themselves, atomically, so **inputs,
outputs and the models folder must be paths every node sees** (a shared file system mounted at the same path),
and every node needs the same Python environment (``install_deps.py``); the ``core`` package itself is shipped
to the workers with the job (``runtime_env`` ``py_modules``).

Lost workers: actors are created with ``max_restarts`` and ``max_task_retries`` (:data:`MAX_RESTARTS`,
:data:`MAX_TASK_RETRIES`): when an actor's process or node dies mid-clip, Ray starts it again (the models are
loaded again) and re-runs the clip; the result file is written once, under its final name, by the run that
completes, and the driver records each clip once.

Addresses: ``auto`` joins the cluster this machine belongs to (``$RAY_ADDRESS``, or the one ``ray start``
started here); ``local`` starts a private Ray on this machine for the batch (bound to 127.0.0.1, no dashboard)
and stops it at the end; ``HOST:PORT`` or ``ray://HOST:PORT`` joins that cluster. An address that cannot be
reached fails at once with one line (a TCP check before Ray tries for minutes).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Optional

from ..errors import CancelledError, DependencyMissingError, MocapError, one_line

MAX_RESTARTS = 3  # an actor whose process dies is started again up to this many times
MAX_TASK_RETRIES = 3  # and the clip it was running is retried on it
CONNECT_TIMEOUT_S = 3.0
STATUS_EVERY_S = 1.0


class RayUnavailableError(MocapError):
    """The Ray cluster cannot be reached or started."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise DependencyMissingError("--ray needs the ray package: install it into this environment with "
                                     "`python -m pip install ray==2.58.0` (on every node)") from None
    return ray


def loopback_only() -> None:
    """Make a Ray started here bind to 127.0.0.1 only (its single-machine mode): Ray's switch for that is the
    environment variable below (read when ray is imported, and inherited by the processes Ray starts)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import sys

    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # ray imported already: the same switch, read at call time
        constants.ENABLE_RAY_CLUSTER = False


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """HOST:PORT (or ray://HOST:PORT) accepts TCP connections, else RayUnavailableError with one line."""
    target = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailableError(f"--ray {address}: expected auto, local, HOST:PORT or ray://HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RayUnavailableError(f"cannot reach the Ray cluster at {address} ({reason}); start it with "
                                  "`ray start --head` on that machine, check the address and port, or use "
                                  "--ray local to run on this machine") from None


def _worker_class(ray):
    from .worker import CaptureWorker

    @ray.remote(max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES, max_concurrency=2)
    class CaptureActor:
        """Keeps one CaptureWorker (models loaded once); ``status`` runs beside ``capture`` (2 threads)."""

        def __init__(self, index: int, threads: Optional[int]):
            os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
            import warnings

            warnings.filterwarnings("ignore")
            self.index = index
            self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
            self.worker = CaptureWorker(name=f"ray-{index} pid {os.getpid()} on {socket.gethostname()}",
                                        threads=threads)
            self.key, self.fraction = None, 0.0
            self.stop = threading.Event()

        def capture(self, task: dict) -> dict:
            self.key, self.fraction = task["key"], 0.0
            try:
                record = self.worker.capture(task, progress=self._progress, cancel=self.stop.is_set)
            except CancelledError:
                record = {"status": "cancelled"}
            finally:
                self.key = None
            record["restarted"] = self.restarted
            return record

        def _progress(self, fraction: float, message: str) -> None:
            self.fraction = float(fraction)

        def status(self) -> dict:
            return {"key": self.key, "fraction": self.fraction, "pid": os.getpid(), "worker": self.worker.name}

        def cancel(self) -> None:
            self.stop.set()

    return CaptureActor


class RayExecutor:
    """Runs the driver's task list on Ray actors (see the module docstring)."""

    def __init__(self, address: str, workers: Optional[int] = None, device: str = "auto",
                 threads: Optional[int] = None, num_cpus: Optional[int] = None):
        self.address = str(address).strip()
        self.workers, self.device, self.threads, self.num_cpus = workers, device, threads, num_cpus
        self.name = f"Ray ({self.address})"
        self._started_here = False

    # ------------------------------------------------------------------------------------------ connect
    def check(self) -> None:
        """Fail at once (before any clip is looked at) when Ray is missing or the address cannot be reached."""
        if self.address not in ("auto", "local"):
            check_reachable(self.address)
        _import_ray()
        if self.address == "auto":
            self.connect()

    def connect(self):
        if self.address == "local":
            loopback_only()
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        import logging

        core_dir = str(Path(__file__).resolve().parents[1])
        runtime_env = {"py_modules": [core_dir], "env_vars": {"OPENCV_FFMPEG_LOGLEVEL": "-8"}}
        kwargs = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                      runtime_env=runtime_env)
        try:
            if self.address == "local":
                ray.init(address="local", num_cpus=self.num_cpus or os.cpu_count(), **kwargs)
                self._started_here = True
            elif self.address == "auto":
                ray.init(address="auto", **kwargs)
            else:
                check_reachable(self.address)
                ray.init(address=self.address, **kwargs)
        except MocapError:
            raise
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError ... from ray.init
            text = one_line(exc, 300)
            hint = ("no running Ray cluster found on this machine: start one with `ray start --head`, or use "
                    "--ray local" if self.address == "auto" else "check the address, or use --ray local")
            raise RayUnavailableError(f"cannot connect to Ray at {self.address}: {text} ({hint})") from None
        return ray

    def _actor_count(self, ray) -> tuple[int, float, float]:
        """(actors, CPUs per actor, GPUs per actor) from --workers and the cluster's resources."""
        res = ray.cluster_resources()
        cpus, gpus = float(res.get("CPU", 1.0)), float(res.get("GPU", 0.0))
        if self.device.startswith("cuda"):
            if gpus < 1:
                raise RayUnavailableError("--device cuda on Ray, but the cluster has no GPU "
                                          "(use --device cpu, or add GPU nodes)")
            count = self.workers or int(gpus)
            return count, 1.0, 1.0
        count = self.workers or max(1, int(cpus // 2))
        per = self.threads or max(1, int(cpus // count))
        return count, min(float(per), max(cpus / count, 0.01)), 0.0

    # ------------------------------------------------------------------------------------------ run
    def run(self, tasks: list, driver, stop) -> None:
        ray = self.connect()
        try:
            self._run(ray, tasks, driver, stop)
        finally:
            if self._started_here:
                ray.shutdown()

    def _run(self, ray, tasks: list, driver, stop) -> None:
        from ray.exceptions import GetTimeoutError, RayError

        count, cpus, gpus = self._actor_count(ray)
        count = max(1, min(count, len(tasks)))
        threads = self.threads or max(1, int(cpus))
        Actor = _worker_class(ray)
        actors = [Actor.options(num_cpus=cpus, num_gpus=gpus).remote(i, threads) for i in range(count)]
        queue_ = list(tasks)
        busy: dict = {}  # capture ObjectRef -> (actor index, task)
        idle = list(range(count))
        started: dict[str, str] = {}
        status_refs: dict = {}
        last_status = 0.0
        try:
            while queue_ or busy:
                if stop.is_set():
                    queue_.clear()
                    for i in {i for i, _ in busy.values()}:
                        try:
                            actors[i].cancel.remote()
                        except RayError:
                            pass
                while queue_ and idle and not stop.is_set():
                    i, task = idle.pop(0), queue_.pop(0)
                    busy[actors[i].capture.remote(task)] = (i, task)
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=0.2)
                for ref in ready:
                    i, task = busy.pop(ref)
                    idle.append(i)
                    key = task["key"]
                    try:
                        record = ray.get(ref)
                    except RayError as exc:  # the actor died more often than it may restart, or its node is gone
                        record = {"status": "failed", "worker": f"ray-{i}",
                                  "error": f"the Ray worker was lost ({type(exc).__name__}; retried "
                                           f"{MAX_TASK_RETRIES} times)", "seconds": None}
                    if record.get("status") == "cancelled":
                        continue
                    if key not in started:
                        driver.on_start(key, record.get("worker", f"ray-{i}"))
                    driver.on_result(key, record)
                now = time.monotonic()
                if busy and now - last_status > STATUS_EVERY_S and not status_refs:
                    last_status = now
                    status_refs = {actors[i].status.options(max_task_retries=0).remote(): i
                                   for i, _ in busy.values()}
                if status_refs:
                    done, _ = ray.wait(list(status_refs), num_returns=len(status_refs), timeout=0)
                    for ref in done:
                        status_refs.pop(ref)
                        try:
                            st = ray.get(ref, timeout=1.0)
                        except (RayError, GetTimeoutError):
                            continue  # a restarting actor: its clip is retried, nothing to show
                        key = st.get("key")
                        if key and key in driver.tasks and key not in driver.records:
                            if started.get(key) != st["worker"]:
                                started[key] = st["worker"]
                                driver.on_start(key, st["worker"])
                            driver.on_progress(key, st["fraction"])
                    if status_refs and time.monotonic() - last_status > 10 * STATUS_EVERY_S:
                        status_refs = {}  # a reply lost with its actor: ask again
        finally:
            for actor in actors:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:
                    pass
