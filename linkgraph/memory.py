"""Giving freed memory back to the system between and inside the stages.

At a million accounts a stage frees hundreds of MB of arrays and Arrow buffers that
the C library keeps for its own reuse: glibc keeps each thread's freed pages in that
thread's arena, and a pool such as mimalloc keeps Arrow's. The next stage's arrays,
of other sizes, seldom fit them, so without this every stage's freed memory would
add to the next one's peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa


def release_freed_memory() -> None:
    """Hand the memory Arrow's pool and malloc keep after freeing back to the system.

    ``malloc_trim`` returns the free pages of every glibc arena, where the C library
    has it (not on macOS, musl or Windows, where this only releases Arrow's pool).

    >>> release_freed_memory()
    """
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, for ``malloc_trim``, found on first use (not at import); None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc
