"""Executors: where the units of a sweep run (in-process, a local process pool, a Dask cluster).

Each yields ``(unit, result or exception)`` as units finish; ``run_unit`` is a pure function of plain
data, so the same code runs in all three and gives the same traces. A lost worker costs only its
unit, which is submitted again.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from lysep.harness.plan import Unit
from lysep.harness.spec import ExperimentSpec

#: what an executor runs for each unit: ``run(spec_doc, source, unit, device[, progress])`` -> result
RunUnit = Callable[..., dict[str, Any]]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def default_threads(workers: int) -> int:
    """Torch threads per worker process by default: ``OMP_NUM_THREADS`` where the user set it, else the
    machine's cores divided among the workers (two torch processes that each use every core were
    measured many times slower: results/PERFORMANCE.md)."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) >= 1:
        return int(given)
    return max(1, available_cores() // max(1, workers))


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def execute_local(run: RunUnit, spec: ExperimentSpec, units: list[Unit], device: str,
                  iter_progress: Callable[[Unit], Callable[[int], None] | None]) -> Iterator[tuple[Unit, Any]]:
    doc = spec.to_dict()
    for unit in units:
        try:
            yield unit, run(doc, spec.source, unit, device, iter_progress(unit))
        except Exception as e:  # noqa: BLE001 - one unit's crash must not stop the sweep
            yield unit, e


def execute_processes(run: RunUnit, spec: ExperimentSpec, units: list[Unit], device: str, workers: int,
                      retries: int = 2, threads: int | None = None) -> Iterator[tuple[Unit, Any]]:
    """A spawned process pool; a worker that dies breaks the pool: a new one runs the unfinished units again.

    Every unit unfinished when the pool broke is counted as one attempt (the pool does not say
    which unit killed its worker); a unit is given up as failed after ``retries`` such losses.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = threads or default_threads(workers)
    doc = spec.to_dict()
    losses = dict.fromkeys(units, 0)
    pending = list(units)
    while pending:
        lost: list[Unit] = []
        broken = False
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=set_threads,
                                   initargs=(threads,))
        try:
            futures = {pool.submit(run, doc, spec.source, u, device): u for u in pending}
            for fut in as_completed(futures):
                unit = futures[fut]
                try:
                    res = fut.result()
                except BrokenProcessPool as e:
                    broken = True
                    losses[unit] += 1
                    if losses[unit] <= retries:
                        lost.append(unit)
                        continue
                    res = e
                except Exception as e:  # noqa: BLE001
                    res = e
                yield unit, res
        finally:
            _close_pool(pool, broken)
        pending = lost


def _close_pool(pool: Any, broken: bool) -> None:
    """Shut a pool down; a broken one without waiting (joining it can hang), its processes terminated."""
    if not broken:
        pool.shutdown(wait=True, cancel_futures=True)
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(5)


def probe_scheduler(address: str, timeout: float) -> None:
    """ConnectionError at once if nothing listens at a tcp/tls ``address`` (Dask's Client would retry until
    its timeout); other schemes are left to the Client. Name resolution is bounded by ``timeout`` too."""
    import threading

    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(loc)
    except (ValueError, TypeError) as e:
        raise ConnectionError(f"--scheduler {address}: not a scheduler address such as tcp://host:8786 ({e})") from e
    error: list[BaseException] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as e:
            error.append(e)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        error.append(TimeoutError(f"no answer within {timeout:.0f} s"))
    if error:
        e = error[0]
        raise ConnectionError(f"--scheduler {address}: cannot reach the Dask scheduler "
                              f"({type(e).__name__}: {e})") from e


def connect_dask(address: str, connect_timeout: float = 8.0) -> Any:
    """A Dask client of the scheduler at ``address``; ConnectionError within ``connect_timeout`` seconds."""
    from dask.distributed import Client

    deadline = time.monotonic() + connect_timeout
    probe_scheduler(address, min(5.0, connect_timeout))
    try:
        return Client(address, timeout=max(1.0, deadline - time.monotonic()))
    except Exception as e:  # noqa: BLE001
        raise ConnectionError(f"--scheduler {address}: cannot reach the Dask scheduler within "
                              f"{connect_timeout:.0f} s ({type(e).__name__}: {e})") from e


def execute_dask(run: RunUnit, spec: ExperimentSpec, units: list[Unit], device: str, client: Any,
                 retries: int = 2) -> Iterator[tuple[Unit, Any]]:
    """Units as Dask tasks. A task whose worker dies is run again by the scheduler (up to its
    ``distributed.scheduler.allowed-failures``); one that raises is retried ``retries`` times."""
    from dask.distributed import as_completed

    doc = spec.to_dict()
    futures = {client.submit(run, doc, spec.source, u, device, retries=retries, pure=False,
                             key=f"lysep-{u.name}-{time.time_ns()}"): u for u in units}
    for fut in as_completed(futures):
        try:
            yield futures[fut], fut.result()
        except Exception as e:  # noqa: BLE001
            yield futures[fut], e


