"""Executors on this machine: :class:`InlineExecutor` (one worker, in this process) and :class:`ProcessExecutor`
(N processes, multiprocessing 'spawn': torch and fork do not mix).

Both run a task list (sorted longest first by the driver) against a *driver* that receives
``on_start(key, worker)``, ``on_progress(key, fraction)`` and ``on_result(key, record)``; they stop starting clips
when ``stop`` is set (Ctrl-C, a full output folder) and return once every started clip has ended.

Balancing: one shared queue, every worker takes the next clip when it finishes one, so long clips (first in
the queue) spread over the workers and short ones fill the gaps at the end. Threads: each process gets
``cpu_count // workers`` torch threads (at least 1); with ``--device cuda`` one process per GPU, each seeing
only its own GPU (``CUDA_VISIBLE_DEVICES``). A worker process that dies (killed, out of memory) is replaced and
its clip is tried once more; a second death records the clip as failed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from typing import Optional

from .worker import CaptureWorker, process_main

MAX_ATTEMPTS = 2  # a clip whose worker process dies is given to a fresh worker once more


def default_threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class InlineExecutor:
    """One worker in the driver's own process (``--workers 1``): no start-up cost, Ctrl-C checked between chunks."""

    name = "inline"

    def __init__(self, threads: Optional[int] = None):
        self.worker = CaptureWorker(name=f"local pid {os.getpid()}", threads=threads)

    def run(self, tasks: list, driver, stop) -> None:
        from ..errors import CancelledError

        for task in tasks:
            if stop.is_set():
                return
            driver.on_start(task["key"], self.worker.name)
            try:
                record = self.worker.capture(task, progress=lambda f, m, k=task["key"]: driver.on_progress(k, f),
                                             cancel=stop.is_set)
            except CancelledError:
                return
            driver.on_result(task["key"], record)


class ProcessExecutor:
    """N worker processes. Each has its own task and event queues (multiprocessing queues hold a lock while
    they are used, and a process killed while holding one would block the others): the driver keeps the one
    shared list, longest clips first, and hands the next clip to whichever worker is idle."""

    def __init__(self, workers: int, threads: Optional[int] = None, gpus: Optional[list] = None):
        self.workers = max(1, int(workers))
        self.threads = threads or default_threads(self.workers)
        self.gpus = gpus  # one GPU index per worker, or None (CPU)
        self.name = f"{self.workers} processes" + (f" on GPUs {gpus}" if gpus else f", {self.threads} thread(s) each")

    def run(self, tasks: list, driver, stop) -> None:
        ctx = mp.get_context("spawn")
        stop_flag = ctx.RawValue("b", 0)  # lock-free: see process_main
        by_key = {t["key"]: t for t in tasks}
        attempts = {k: 0 for k in by_key}
        pending = list(tasks)  # longest first (the driver sorted them)
        workers: dict[int, dict] = {}  # index -> {"proc", "tasks", "events", "key", "gpu", "exited"}
        next_index = [0]

        def spawn(gpu=None):
            i = next_index[0]
            next_index[0] += 1
            w = {"tasks": ctx.Queue(), "events": ctx.Queue(), "key": None, "gpu": gpu, "exited": False}
            w["proc"] = ctx.Process(target=process_main, args=(i, w["tasks"], w["events"], stop_flag, self.threads,
                                                               gpu), name=f"tcmr-batch-{i}", daemon=True)
            w["proc"].start()
            workers[i] = w

        for w in range(min(self.workers, max(1, len(tasks)))):
            spawn(None if not self.gpus else self.gpus[w % len(self.gpus)])
        try:
            while True:
                if stop.is_set() and not stop_flag.value:
                    stop_flag.value = 1
                    pending.clear()  # clips not started stay undone (no record): the next run does them
                for i, w in workers.items():  # hand out work
                    if not w["exited"] and w["key"] is None and w.get("sent") is None and pending:
                        task = pending.pop(0)
                        w["sent"] = task["key"]
                        w["tasks"].put(task)
                got = False
                for i, w in list(workers.items()):
                    while True:
                        try:
                            kind, index, key, payload = w["events"].get_nowait()
                        except (queue.Empty, OSError, ValueError):
                            break
                        got = True
                        if kind == "start":
                            w["key"] = key
                            attempts[key] += 1
                            driver.on_start(key, f"local-{index} pid {payload}")
                        elif kind == "progress":
                            driver.on_progress(key, payload)
                        elif kind == "result":
                            w["key"] = w["sent"] = None
                            payload["attempt"] = attempts[key]
                            driver.on_result(key, payload)
                        elif kind == "cancelled":
                            w["key"] = w["sent"] = None
                        elif kind == "exit":
                            w["exited"] = True
                for i, w in list(workers.items()):  # workers that died (killed, out of memory)
                    if w["exited"] or w["proc"].is_alive():
                        continue
                    if not w["events"].empty():
                        continue  # read what it said before it went
                    w["exited"] = True
                    lost = w["key"] or w.get("sent")
                    if lost is not None and not stop.is_set():
                        if attempts[lost] < MAX_ATTEMPTS:
                            pending.insert(0, by_key[lost])
                        else:
                            driver.on_result(lost, {
                                "status": "failed", "worker": f"local-{i}", "attempt": attempts[lost],
                                "error": f"the worker process died twice on this clip (exit code "
                                         f"{w['proc'].exitcode}; out of memory? try fewer --workers)", "seconds": None})
                    w["key"] = w["sent"] = None
                    if pending and not stop.is_set():
                        spawn(w["gpu"])
                alive = [w for w in workers.values() if not w["exited"]]
                busy = [w for w in alive if w["key"] is not None or w.get("sent") is not None]
                if not busy and (not pending or stop.is_set() or not alive):
                    break
                if not got:
                    time.sleep(0.05)
        finally:
            stop_flag.value = 1 if stop.is_set() else stop_flag.value
            for w in workers.values():
                if not w["exited"]:
                    try:
                        w["tasks"].put(None)
                    except (OSError, ValueError):
                        pass
            for w in workers.values():
                w["proc"].join(timeout=10.0)
                if w["proc"].is_alive():
                    w["proc"].terminate()
                    w["proc"].join(timeout=5.0)
                for q in (w["tasks"], w["events"]):
                    q.close()
