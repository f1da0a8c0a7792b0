"""Latency of the ``lysep`` command where it must answer at once: help, checking a spec, refusing bad input.

Each benchmark runs the command in a fresh interpreter, as a user does: what is measured is the
imports plus the work (torch is never imported on these paths; target: under 1 s on 2 cores).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lysep(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "lysep", *args], cwd=ROOT, capture_output=True, check=False,
                   timeout=120)


class CliLatency:
    """Seconds from starting ``python -m lysep ...`` to its exit."""

    timeout = 300
    repeat = (3, 5, 30.0)
    number = 1

    def time_help(self) -> None:
        _lysep("--help")

    def time_check_default_spec(self) -> None:
        _lysep("check")

    def time_refuse_bad_seeds(self) -> None:
        _lysep("run", "--seeds", "0")
