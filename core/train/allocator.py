"""The C allocator's behaviour for long CPU training runs."""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of returning it to the kernel.

    By default glibc serves every allocation above its mmap threshold (at most 32 MiB) with a
    fresh ``mmap`` and unmaps it on free, so each training step faults in, and the kernel
    zero-fills, every page of its large activations again. Turning off ``mmap`` for malloc and
    raising the trim threshold lets later steps reuse the pages — the same effect as starting
    Python with ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=<large>``. Returns False where
    the C library is not glibc (nothing is changed there).
    """
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
