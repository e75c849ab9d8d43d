"""Keep freed host memory in the process: the C allocator's thresholds for training.

glibc's malloc serves large blocks straight from ``mmap`` and hands them back to the kernel
on ``free`` (its threshold adapts, but only up to the largest block freed so far). A training
step allocates and frees the same large activations every step, so each one is page-faulted
in, and zeroed by the kernel, again: the DCGAN tutorial's step at batch 256 took ~40,000 page
faults (160 MB of fresh pages) a step, a quarter or more of its time on 2 cores. On a GPU,
PyTorch's caching allocator does the keeping; on the CPU it is the C allocator's job.
:func:`keep_freed_memory` raises the mmap threshold to glibc's maximum (32 MiB) and the trim
threshold to 1 GiB, so freed blocks are reused; the process keeps its peak working set.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 1 << 30

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above, once per process; False where there is no glibc."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if hasattr(libc, "gnu_get_libc_version"):  # not musl: mallopt means glibc's
                    _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                        bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):
                pass
    return _done
