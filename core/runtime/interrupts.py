"""Ctrl-C and the core's threads: starting a thread is one step a KeyboardInterrupt must not cut in two.

``threading.Thread.start()`` waits until the new thread runs; a KeyboardInterrupt raised in that wait leaves a
thread running that its owner never recorded. A ``ThreadPoolExecutor`` worker lost that way is never told to
stop, so Python hangs at exit joining it; a daemon thread lost that way is still inside OpenCV or torch when
Python finalises and ends in ``pthread_exit`` through C++ code, which aborts the process ("terminate called
without an active exception"). Both were seen in interrupted captures on a loaded machine (1 in 20 to 40).

:func:`deferred_interrupts` holds Ctrl-C back while a thread is started and recorded: a SIGINT in that time is
remembered and handed to the previous handler right after the block (so the KeyboardInterrupt is raised
there, once everything is in order). Python runs signal handlers in the main thread only, so only the main
thread can be interrupted this way; elsewhere the block runs as is.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT back for the ``with`` block (main thread); afterwards a held one goes to the previous
    handler (Python's default raises KeyboardInterrupt; an ignored one stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list = []
    try:
        if signal.getsignal(signal.SIGINT) is None:  # a handler set outside Python: it could not be put back
            raise ValueError
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    except (ValueError, OSError):  # that, another interpreter, or no signal support: nothing to hold
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                signal.raise_signal(signal.SIGINT)
