"""glibc malloc settings for the streaming commands, and handing freed memory back to the system.

A streaming daemon allocates and frees without pause: decoded mentions, score rows, numpy
arrays per batch, and every few seconds checkpoints of several megabytes. Two habits of glibc's
malloc then keep freed memory resident (decision 0014):

- Its *dynamic mmap threshold*: a block of 128 KiB or more gets a mapping of its own, which is
  unmapped when freed, but each such free raises the threshold to the block's size (up to
  32 MiB). After the first checkpoint, blocks of megabytes come from the heap, and a heap only
  shrinks from its top: a block freed below a live one stays resident.
- Free memory inside the heaps is returned to the system only at the top of a heap, unless
  ``malloc_trim`` is asked to give back every free page.

`tune_allocator` fixes the threshold (which stops it moving); `release_free_memory`, called
after each checkpoint, trims.
Both do nothing where the C library is not glibc (macOS, musl): they return False.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Final

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "release_free_memory", "tune_allocator"]

#: Blocks from this size up are mapped on their own and unmapped when freed. 1 MiB: small
#: enough for checkpoints, the registry's flushes and growing tables, large enough that the
#: per-batch arrays and lists of the stages stay in the heap (a mapping costs a system call and
#: a page fault per page touched).
MMAP_THRESHOLD: Final = 1 << 20
#: Free memory at the top of the heap that `free` leaves in place. Fixing the mmap threshold
#: leaves this at glibc's 128 KiB, and the heap's top then shrinks and grows back many times a
#: second (system time); `release_free_memory` after each checkpoint gives it back instead.
TRIM_THRESHOLD: Final = 16 << 20

_M_TRIM_THRESHOLD: Final = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD: Final = -3


@functools.cache
def _glibc() -> Any:
    """The process's C library when it is glibc, else None."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError, AttributeError):  # not a glibc system, or no confstr at all
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the symbols the process already has: its own C library
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` and its trim threshold at
    `TRIM_THRESHOLD` for this process. True when applied."""
    libc = _glibc()
    if libc is None:
        return False
    return libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


def release_free_memory() -> bool:
    """Give the free pages inside glibc's heaps back to the system (``malloc_trim(0)``; the GIL
    is released meanwhile). True when glibc released any."""
    libc = _glibc()
    return libc is not None and libc.malloc_trim(0) == 1
