"""services.common.heap: freed pages go back to the system (glibc), whatever came before them."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from services.common.heap import keep_big_blocks_apart

# 200 page-sized blocks, each followed by a small block that stays: freeing the pages must give
# their memory back. Before them, one 4 MiB block freed: glibc's dynamic threshold rises to it.
SCRIPT = """
import sys
from services.common.heap import keep_big_blocks_apart
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
if sys.argv[1] == "fixed":
    keep_big_blocks_apart()
big = bytearray(4 * 1024 * 1024)
del big
before = rss_mb()
keep, pages = [], []
for _ in range(200):
    pages.append(bytearray(300 * 1024))
    keep.append(bytearray(1024))
del pages
print(rss_mb() - before)
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc setting")


def _kept_mb(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


@glibc_only
def test_the_setting_is_taken() -> None:
    assert keep_big_blocks_apart() is True


@glibc_only
def test_freed_pages_leave_the_process() -> None:
    # 200 pages of 300 KiB = 59 MiB: without the setting they stay in the heap, behind the small blocks
    assert _kept_mb("dynamic") > 40
    assert _kept_mb("fixed") < 10
