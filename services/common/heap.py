"""Keep big short-lived blocks (pages, Kafka batches) out of the C heap, so that freeing them gives
the memory back to the system.

glibc's ``malloc`` serves a block of 128 KiB or more with its own ``mmap`` and unmaps it when it is
freed. But by default the threshold is *dynamic*: each time such a block is freed, glibc raises the
threshold to that block's size (up to 32 MiB). After the first few pages of 300 KiB, every later page,
Kafka batch and libxml2 buffer comes from the heap instead, where what is freed stays in the process
(fragmented between live small objects) and counts in its memory for good. Setting the threshold
explicitly (``mallopt(M_MMAP_THRESHOLD, ...)``) turns the dynamic raise off.

Measured 2026-11-29 (``.venv/bin/python bench/memory.py --pages 40 --workers 1``, the same setting
given through ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072``, 2 runs each): the extractor
tree 328-333 -> 296-300 MB PSS (its main process 65-67 -> 43); standalone ``analyse`` over 80 real
pages max RSS 418 -> 332 MB at the same CPU per page (46.9-49.9 ms with, 48.3-49.1 without).

Called once, before any page is handled, in every process that handles pages: the ``newsflow``
command (every service and the supervisor; after the sub-command's imports, before it runs), the
extractor's forkserver (after its imports, before the tagger's data loads; its workers are forks of
it and inherit the setting) and the fetcher's parse processes. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, now fixed


def keep_big_blocks_apart(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
