"""The allocator settings of `sentineld run` and `replay` give freed memory back to the system
(measured in a fresh interpreter: glibc's state depends on everything allocated before)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError, AttributeError):
        return False


glibc_only = pytest.mark.skipif(not (sys.platform.startswith("linux") and _glibc()), reason="glibc malloc only")

#: Frees 16 MiB that sit below a live block and prints how many MiB of RSS that gave back,
#: then how many more `release_free_memory` gave back.
FREE_BELOW_A_LIVE_BLOCK = """
import sys
from pathlib import Path
from sentineld.allocator import release_free_memory, tune_allocator

def rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

if sys.argv[1] == "tuned":
    assert tune_allocator()
first = b"x" * (16 << 20)
del first                    # a mapping freed: untuned, glibc now serves 16 MiB from its heap
block = b"y" * (16 << 20)
pinned = b"z" * (64 << 10)   # above it in the heap, so the heap cannot shrink past it
before = rss_mib()
del block
freed = before - rss_mib()
released = release_free_memory()
print(round(freed), round(before - freed - rss_mib()), released)
"""


def run(mode: str) -> tuple[int, int, str]:
    out = subprocess.run([sys.executable, "-c", FREE_BELOW_A_LIVE_BLOCK, mode],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    return int(out[0]), int(out[1]), out[2]


@glibc_only
def test_untuned_a_freed_block_stays_resident_until_trimmed() -> None:
    freed, trimmed, released = run("untuned")
    assert freed < 4, "glibc returned the block by itself: the test no longer shows the problem"
    assert trimmed >= 12 and released == "True"


@glibc_only
def test_tuned_a_large_block_is_returned_when_freed() -> None:
    freed, trimmed, _ = run("tuned")
    assert freed >= 12 and trimmed < 4

