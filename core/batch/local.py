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
    def __init__(self, workers: int, threads: Optional[int] = None, gpus: Optional[list] = None):
        self.workers = max(1, int(workers))
        self.threads = threads or default_threads(self.workers)
        self.gpus = gpus  # one GPU index per worker, or None (CPU)
        self.name = f"{self.workers} processes" + (f" on GPUs {gpus}" if gpus else f", {self.threads} thread(s) each")

    def run(self, tasks: list, driver, stop) -> None:
        ctx = mp.get_context("spawn")
        task_q, event_q, stop_ev = ctx.Queue(), ctx.Queue(), ctx.Event()
        by_key = {t["key"]: t for t in tasks}
        attempts = {k: 0 for k in by_key}
        for t in tasks:
            task_q.put(t)
        procs: dict[int, object] = {}
        current: dict[int, Optional[str]] = {}
        next_index = [0]

        def spawn(gpu=None):
            i = next_index[0]
            next_index[0] += 1
            p = ctx.Process(target=process_main, args=(i, task_q, event_q, stop_ev, self.threads, gpu),
                            name=f"tcmr-batch-{i}", daemon=True)
            p.start()
            procs[i], current[i] = p, None
            p.gpu = gpu
            return p

        for w in range(min(self.workers, max(1, len(tasks)))):
            spawn(None if not self.gpus else self.gpus[w % len(self.gpus)])
        outstanding = set(by_key)
        sentinels_sent = False
        exited: set[int] = set()
        try:
            while True:
                if stop.is_set() and not stop_ev.is_set():
                    stop_ev.set()
                    _drain(task_q)  # clips not started yet stay undone (no record): the next run does them
                if not outstanding and not sentinels_sent:
                    for _ in procs:
                        task_q.put(None)
                    sentinels_sent = True
                try:
                    kind, index, key, payload = event_q.get(timeout=0.2)
                except queue.Empty:
                    kind = None
                if kind == "start":
                    current[index] = key
                    attempts[key] += 1
                    driver.on_start(key, f"local-{index} pid {payload}")
                elif kind == "progress":
                    driver.on_progress(key, payload)
                elif kind == "result":
                    current[index] = None
                    outstanding.discard(key)
                    payload["attempt"] = attempts[key]
                    driver.on_result(key, payload)
                elif kind == "cancelled":
                    current[index] = None
                    outstanding.discard(key)
                elif kind == "exit":
                    exited.add(index)
                if kind is None:
                    for i, p in list(procs.items()):
                        if i in exited or p.is_alive():
                            continue
                        exited.add(i)
                        lost = current.pop(i, None)
                        if lost is not None and not stop.is_set():
                            if attempts[lost] < MAX_ATTEMPTS:
                                task_q.put(by_key[lost])
                            else:
                                outstanding.discard(lost)
                                driver.on_result(lost, {
                                    "status": "failed", "worker": f"local-{i}", "attempt": attempts[lost],
                                    "error": f"the worker process died twice on this clip (exit code {p.exitcode}; "
                                             "out of memory? try fewer --workers)", "seconds": None})
                        elif lost is not None:
                            outstanding.discard(lost)
                        if outstanding and not stop.is_set():
                            spawn(getattr(p, "gpu", None))
                    alive = [i for i in procs if i not in exited]
                    if not alive and (not outstanding or stop.is_set()):
                        break
                    if stop.is_set() and not any(current.get(i) for i in alive):
                        # nothing running any more: let idle workers see the stop and leave
                        for _ in alive:
                            task_q.put(None)
                        if _join_all(procs, 10.0):
                            break
        finally:
            stop_ev.set()
            for p in procs.values():
                p.join(timeout=10.0)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=5.0)
            task_q.close()
            event_q.close()


def _drain(q) -> None:
    try:
        while True:
            q.get_nowait()
    except (queue.Empty, OSError, ValueError):
        pass


def _join_all(procs: dict, timeout: float) -> bool:
    end = time.monotonic() + timeout
    for p in procs.values():
        p.join(timeout=max(0.0, end - time.monotonic()))
    return not any(p.is_alive() for p in procs.values())
