"""ganrun.host_memory: freed activations stay in the process instead of page-faulting back."""
from __future__ import annotations

import platform
import resource

import pytest
import torch

from ganrun.host_memory import keep_freed_memory

GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are glibc's")
def test_a_freed_large_block_is_reused_without_page_faults():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # once per process; asking again is harmless
    for _ in range(10):  # 16 MB, as a batch-256 activation; the heap settles in a few rounds
        torch.empty(4 << 20).fill_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.empty(4 << 20).fill_(1.0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # handed back to the kernel each time, 20 x 16 MB would be ~80,000 faults of 4 KiB pages
    assert faults < 2000
