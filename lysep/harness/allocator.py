"""Keep freed memory in the process: glibc's allocator returns every block above its mmap threshold to the
system when it is freed, so a solver that allocates the same large activations every step pays page faults
for them every time. Measured on a CNN (Fashion-MNIST, 10 seeds of 1,000 images, one torch thread): 2.1-2.6x
faster with the threshold raised, the system time from 11.7 s to 0.9 s (results/PERFORMANCE.md).

``keep_freed_memory()`` raises glibc's mmap and trim thresholds to their largest value (2 GiB): blocks below
that come from the heap and stay there after ``free``. The process's resident memory then stays near its
peak instead of falling back between steps; the peak itself is what the solver allocates. Set
``LYSEP_MALLOC=default`` to keep glibc's own behaviour (to compare, or where memory must be given back).
Elsewhere than Linux with glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: mallopt takes an int: the largest threshold it can set
LARGEST = 2**31 - 1
#: the environment variable that turns it off (``default``)
ENV = "LYSEP_MALLOC"

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True where they were set."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get(ENV, "").strip().lower() == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, LARGEST)) and bool(mallopt(M_TRIM_THRESHOLD, LARGEST))
    return _done
