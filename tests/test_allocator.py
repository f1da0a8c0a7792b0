"""The allocator setting (lysep.harness.allocator): freed blocks stay in the process, so a step that allocates
the same large tensors again does not page-fault them in again. Counted in minor page faults, which load does
not move."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")

#: allocate and free tensors of 36-256 MiB (above glibc's largest dynamic mmap threshold, 32 MiB), 10 times
#: each after a first one, and print the minor page faults of the repeats per page written
PROBE = """
import resource
import torch
from lysep.harness.allocator import keep_freed_memory
print(keep_freed_memory(), keep_freed_memory())
faults = pages = 0
for mib in (36, 48, 64, 128, 256):
    torch.empty(mib * 2**18).fill_(1.0)  # the first one faults in either way
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.empty(mib * 2**18).fill_(1.0)
    faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    pages += 10 * mib * 256
print(faults / pages)
"""


def _probe(setting: str) -> tuple[str, float]:
    env = {**os.environ, "LYSEP_MALLOC": setting, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    said, faults = out.stdout.split("\n")[:2]
    return said, float(faults)


def test_freed_blocks_stay_and_the_setting_can_be_turned_off() -> None:
    said_on, faults_on = _probe("")
    said_off, faults_off = _probe("default")
    assert said_on == "True True" and said_off == "False False"
    # glibc's default: each block is mmapped and unmapped, every page faulted in again (measured 1.0 per page);
    # kept: the heap serves them again (measured 0.0-0.1; a block that brk cannot place still goes to mmap)
    assert faults_off > 0.9, faults_off
    assert faults_on < 0.25, faults_on


def test_a_unit_sets_it_in_whatever_process_runs_it() -> None:
    from lysep.harness import runner
    from lysep.harness.allocator import keep_freed_memory

    assert "keep_freed_memory()" in open(runner.__file__).read().split("def run_unit", 1)[1].split("spec =", 1)[0]
    assert keep_freed_memory() is (os.environ.get("LYSEP_MALLOC", "").lower() != "default")
