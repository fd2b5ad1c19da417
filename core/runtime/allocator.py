"""How the C allocator treats large blocks: keep freed memory for reuse instead of handing it back to the OS.

With glibc's defaults every block above the mmap threshold (at most 32 MB) gets its own ``mmap`` and is
unmapped when freed. A batch of ResNet-50 or detector activations is such a block (16 crops at 56×56×256
float32 are 51 MB), so every layer of every batch touched fresh pages: ~12,500 page faults, each a kernel
entry and a zeroed 4 KB page, for one 1×1 convolution, which then ran at a quarter of its arithmetic speed
(bench/RESULTS.md, "Third round").

:func:`keep_freed_memory` tells glibc to serve large blocks from its heap as well and to keep freed memory
(up to ~2 GB free at the top of the heap) for the next batch. Nothing is computed differently; the process
keeps its peak memory instead of shrinking between batches. The loaders of the networks call it
(``core.load_backbone``, ``core.load_tcmr``, the capture's models); ``TCMR_KEEP_FREED_MEMORY=0`` turns it off.
On other C libraries (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

ENV = "TCMR_KEEP_FREED_MEMORY"

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4

_KEEP_TRIM = 2**31 - 1  # mallopt takes an int: free memory at the top of the heap beyond ~2 GB is still returned
# glibc's own values once its dynamic thresholds have grown (what a long-running process has by default)
_DEFAULT_MMAP_MAX = 65536
_DEFAULT_MMAP_THRESHOLD = 32 * 1024 * 1024
_DEFAULT_TRIM = 64 * 1024 * 1024

_lock = threading.Lock()
_state: "bool | None" = None  # what was last set (None: glibc's defaults, untouched)


def _mallopt():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def wanted() -> bool:
    """Whether the loaders should keep freed memory: yes unless ``$TCMR_KEEP_FREED_MEMORY`` is 0/false/no/off."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def keep_freed_memory(enabled: "bool | None" = None) -> bool:
    """Keep (``enabled``; None: :func:`wanted`) or hand back freed large blocks, process-wide.

    ``enabled=False`` restores glibc's behaviour as it is after its dynamic thresholds have grown (large blocks
    mmapped from 32 MB up and unmapped when freed). Returns whether freed memory is now kept; False where the C
    library is not glibc (nothing changed)."""
    global _state
    keep = wanted() if enabled is None else bool(enabled)
    mallopt = _mallopt()
    if mallopt is None:
        return False
    with _lock:
        if _state is keep:
            return keep
        if keep:
            ok = mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM)
        else:
            ok = (mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX) and mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
                  and mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM))
        if not ok:
            return False
        _state = keep
    return keep


def keeping() -> bool:
    """Whether :func:`keep_freed_memory` is in effect in this process."""
    return _state is True
