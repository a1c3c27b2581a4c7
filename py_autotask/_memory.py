"""Handing freed memory back to the operating system after a bulk phase.

glibc keeps the pages of freed blocks in the process (its heap only shrinks from the top), so a
phase that builds and drops many mid-sized objects (seeding a simulator, decoding an export's
pages) leaves the process's RSS at that phase's peak. ``malloc_trim(0)`` returns every whole free
page; it takes milliseconds and changes nothing else.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__ = ["trim_heap"]

_libc: Any = None


def trim_heap() -> None:
    """Return the C heap's free pages to the OS (glibc ``malloc_trim``; a no-op elsewhere)."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        if _libc is None:
            import ctypes
            import ctypes.util

            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim(0)
