"""CPU lanes: the pieces of one batch computed at the same time in separate threads, each thread with its share
of torch's intra-op threads (e.g. two lanes of one thread each on a 2-core machine instead of one two-thread
call).

Why: PyTorch splits every operator over its threads, and operators that are small or memory-bound (activations,
concatenations, pooling, small convolutions) scale poorly, so a 2-thread call is only ~1.5-1.7× a 1-thread one.
Two independent half-batches on one thread each keep both cores busy through those operators too
(bench/RESULTS.md: ResNet-50 ~7 %, the YOLO detector ~10 % faster on 2 cores). Each piece is computed exactly as
it would be alone: a batch split into lanes gives the same rows as the whole batch (to float32 rounding; in
practice bit-identical).

Only for CPU work: :func:`lane_count` is 1 on other devices, with one torch thread, inside a lane (no nesting),
or when ``TCMR_LANES=1``.
Threads get torch's grad / inference mode of the caller (those are per thread in torch).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from .interrupts import deferred_interrupts

T = TypeVar("T")

DEFAULT_LANES = 2
_POOL: "ThreadPoolExecutor | None" = None
_POOL_LOCK = threading.Lock()
_LOCAL = threading.local()  # .busy: this thread is running a lane's piece (no lanes inside a lane)


def default_lanes() -> int:
    """``TCMR_LANES`` (a whole number >= 1) if set, else 2."""
    text = os.environ.get("TCMR_LANES", "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    return DEFAULT_LANES


def lane_count(requested, device_type: str = "cpu", items: int = 1 << 30, min_items: int = 1) -> int:
    """How many lanes to use: ``requested`` (None = :func:`default_lanes`), at most one per torch thread and per
    ``min_items`` items; 1 off the CPU."""
    import torch

    if device_type != "cpu" or getattr(_LOCAL, "busy", False):
        return 1
    wanted = default_lanes() if requested is None else max(1, int(requested))
    return max(1, min(wanted, torch.get_num_threads(), int(items) // max(1, int(min_items))))


def split(n_items: int, lanes: int) -> list[slice]:
    """``n_items`` rows in ``lanes`` contiguous, near-equal slices (no empty ones)."""
    lanes = max(1, min(int(lanes), int(n_items)))
    bounds = [round(k * n_items / lanes) for k in range(lanes + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def run(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Call every task at the same time, task 0 in this thread and the others in lane threads; -> their results in
    order. The caller's torch threads are shared out between the tasks (at least one each) and restored after.
    An exception in any task is raised here once all of them have finished."""
    import torch

    tasks = list(tasks)
    if len(tasks) <= 1:
        return [t() for t in tasks]
    total = torch.get_num_threads()
    shares = [max(1, total // len(tasks) + (1 if k < total % len(tasks) else 0)) for k in range(len(tasks))]
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def in_lane(task, threads):
        def go():
            torch.set_num_threads(threads)
            _LOCAL.busy = True
            try:
                with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                    return task()
            finally:
                _LOCAL.busy = False
        return go

    first, error, futures = None, None, []
    try:
        with deferred_interrupts():  # a submit may start a worker thread: a Ctrl-C must not lose it
            pool = _pool(len(tasks) - 1)  # (core.runtime.interrupts); one held back is raised when the block ends
            futures = [pool.submit(in_lane(task, n)) for task, n in zip(tasks[1:], shares[1:])]
    except KeyboardInterrupt as exc:  # the submitted pieces are still waited for below
        error = exc
    if error is None:
        torch.set_num_threads(shares[0])
        was_busy, _LOCAL.busy = getattr(_LOCAL, "busy", False), True
        try:
            first = tasks[0]()
        except BaseException as exc:  # raised after the other lanes are done with their pieces
            error = exc
        finally:
            _LOCAL.busy = was_busy
            torch.set_num_threads(total)
    results = [first]
    for fut in futures:
        while True:  # every lane's piece is waited for, also after Ctrl-C (a piece is one batch: short)
            try:
                results.append(fut.result())
                break
            except KeyboardInterrupt as exc:  # (raised in this thread while waiting): wait on, then raise it
                error = error or exc
            except BaseException as exc:  # the piece's own error
                error = error or exc
                break
    if error is not None:
        raise error
    return results


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:  # noqa: SLF001 (grown once, rarely)
            old, _POOL = _POOL, ThreadPoolExecutor(max_workers=max(workers, DEFAULT_LANES - 1),
                                                   thread_name_prefix="tcmr-lane")
            if old is not None:
                old.shutdown(wait=False)
        return _POOL
