"""Provenance: which code, versions, machine and device produced a result, and how loaded the machine was.

Each run's row in runs.parquet carries :func:`run_columns` (the worker's commit, versions, device,
host and threads) plus its start, end, CPU time and load averages; ``meta.json`` keeps one entry
per invocation of ``lysep run`` (:func:`invocation`). Nothing here imports torch at import time.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

#: the per-run provenance columns of runs.parquet (``runner.run_unit`` adds them; older stores lack them)
RUN_COLUMNS: tuple[str, ...] = ("git_commit", "git_dirty", "versions", "device", "host", "threads", "started",
                                "finished", "cpu_time", "load_start", "load_end")
#: the runs.parquet columns that measure one execution (time, load): they differ between two executions of the same
#: computation, whose every other column is equal (docs/reliability.md, Determinism)
MEASURED_COLUMNS: tuple[str, ...] = ("wall_time", "started", "finished", "cpu_time", "load_start", "load_end")
UNKNOWN = "unknown"
#: the runs.parquet column with the version of the method's code that made the run (``lysep.methods.method_code``;
#: stores written before it existed lack it: their code versions are unknown)
CODE_COLUMN = "method_code"


def _git(*args: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
                              timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str, bool | None]:
    """(commit of the checkout this lysep is imported from, whether tracked files differ from it); ("unknown", None)
    outside a git checkout. Read once per process: the code a process runs is the code it imported."""
    head = _git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return UNKNOWN, None
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return head.stdout.strip(), dirty


def describe_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("lysep", "torch", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def versions_text(v: dict[str, str] | None = None) -> str:
    """``python 3.11.7, torch 2.13.0, ...``: the versions as one string (a runs.parquet cell)."""
    return ", ".join(f"{k} {x}" for k, x in (versions() if v is None else v).items())


def host() -> str:
    return socket.gethostname()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_average() -> float:
    """The 1-minute load average of the machine (NaN where the OS has none)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return float("nan")


def run_columns(device: str) -> dict[str, object]:
    """What produced a run, as runs.parquet columns: commit and dirty flag, versions, device, host, torch threads."""
    import torch

    sha, dirty = git_state()
    return {"git_commit": sha, "git_dirty": dirty, "versions": versions_text(), "device": describe_device(device),
            "host": host(), "threads": int(torch.get_num_threads())}


def invocation(device: str, executor: str, started: str, runs: dict[str, int]) -> dict[str, object]:
    """One ``meta.json`` invocation entry: when, which code and machine, and what it computed."""
    sha, dirty = git_state()
    return {"started": started, "finished": now(), "git_commit": sha, "git_dirty": dirty, "versions": versions(),
            "device": describe_device(device), "host": host(), "executor": executor, "runs": runs}


#: the keys an older lysep wrote at the top of meta.json for its (last) invocation
LEGACY_KEYS: tuple[str, ...] = ("started", "finished", "git_commit", "versions", "device", "host", "executor", "runs")


def invocations(meta: dict) -> list[dict]:
    """The invocations a meta.json records: its ``invocations`` list, or the one an older lysep kept at the top
    (marked ``"legacy": True``: it is the last invocation only, earlier ones were overwritten)."""
    if isinstance(meta.get("invocations"), list):
        return list(meta["invocations"])
    legacy = {k: meta[k] for k in LEGACY_KEYS if k in meta}
    return [{**legacy, "legacy": True}] if legacy else []
