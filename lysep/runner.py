"""Expand a spec into units of work, run them on an executor, and store every finished unit.

A unit is one grid cell (depth, width) and one method, with the seeds still to run, all
batched in one computation. ``run_unit`` is a pure function of plain data, so the same
code runs in-process, in a spawned process pool and on a Dask worker, and gives the same
traces wherever it runs (it rebuilds the data and theta_0 from the spec and the seeds).

Faults: ``preflight`` loads the data and builds every model before any work starts (bad input
is an error there, not a failed run); a step that overflows the run's dtype counts as divergence
of the seeds still running; a lost worker (process pool or Dask) costs only its unit, which is
submitted again; a sweep holds its results directory's lock and removes the leftovers of a
killed one before it starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lysep.cell import Budget, run_method
from lysep.methods import METHODS, make_method
from lysep.methods.base import State
from lysep.model import ConvSpec, ModelSpec, forward, init_params
from lysep.problem import Problem
from lysep.spec import ExperimentSpec, parse_spec
from lysep.store import ResultsStore, safe_name, save_arrays, save_npz, write_json

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: resolution of the decision-region grid saved for 2-D datasets
DECISION_GRID = 150


@dataclass(frozen=True)
class Unit:
    """One method on one cell, for the seeds that are not stored yet."""

    depth: int
    width: int
    label: str
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        seeds = f"{self.seeds[0]}-{self.seeds[-1]}" if len(self.seeds) > 1 else f"{self.seeds[0]}"
        return f"d{self.depth}_w{self.width}_{safe(self.label)}_s{seeds}"


safe = safe_name  # file-name form of a label


def config_hash(spec: ExperimentSpec, depth: int, width: int, label: str, seed: int) -> str:
    """What makes a run what it is: data, model, cell, method and its full hyperparameters, budget, seed."""
    m = next(m for m in spec.methods if m.label == label)
    full = METHODS[m.name](activation=spec.model.activation, **m.hparams).hp
    doc = {"data": spec.to_dict()["data"], "model": spec.to_dict()["model"], "depth": depth, "width": width,
           "method": m.name, "hparams": full, "budget": spec.to_dict()["budget"], "seed": seed}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan(spec: ExperimentSpec, done: set[str]) -> list[Unit]:
    """Every (cell, method) with the seeds whose config hash is not in ``done``."""
    units = []
    for depth, width in spec.grid.cells():
        for m in spec.methods:
            todo = tuple(s for s in spec.grid.seed_list() if config_hash(spec, depth, width, m.label, s) not in done)
            if todo:
                units.append(Unit(depth, width, m.label, todo))
    return units


def build_problem(spec: ExperimentSpec, device: str) -> Problem:
    ds = spec.data.load(images=spec.model.kind == "cnn")
    return Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                               dtype=DTYPES[spec.model.dtype], device=device)


def build_model(spec: ExperimentSpec, problem: Problem, depth: int, width: int) -> ModelSpec | ConvSpec:
    """The cell's network: an FNN of ``depth`` hidden layers of ``width`` units, or a CNN of ``depth``
    conv layers of ``width`` channels (method.md section 5)."""
    if spec.model.kind == "cnn":
        shape = tuple(problem.x_train.shape[1:])
        if len(shape) != 3:
            raise ValueError(f"model.kind = \"cnn\" needs images (N, C, H, W), but the data's samples "
                             f"have shape {shape}")
        try:
            return ConvSpec.cnn(shape, depth, width, problem.n_classes, spec.model.activation, spec.model.pool)
        except ValueError as e:
            raise ValueError(f"model.kind = \"cnn\" with depth = {depth}, width = {width}, "
                             f"pool = {spec.model.pool!r}: {e}") from e
    return ModelSpec.fnn(problem.in_dim, depth, width, problem.n_classes, spec.model.activation)


def preflight(spec: ExperimentSpec) -> None:
    """Load and validate the dataset and build the model of every cell, before any work starts.

    A ValueError starting with ``data:`` or ``model:`` names what is wrong (the file, key and
    row of a bad .npz); the CLI turns it into exit code 2 with nothing written, instead of one
    failed run per unit.
    """
    sizes = f"data.n_train = {spec.data.n_train}, data.n_test = {spec.data.n_test}"
    try:
        ds = spec.data.load(images=spec.model.kind == "cnn")
    except ValueError as e:
        raise ValueError(f"data: {e}" if spec.data.path else f"data: {spec.data.dataset} with {sizes}: {e}") from e
    except MemoryError as e:
        raise ValueError(f"data: the dataset does not fit in memory ({sizes}; {e})") from e
    if spec.model.kind == "fnn" and ds.x_train.ndim != 2:
        raise ValueError(f"data: {spec.data.path or spec.data.dataset}: x_train has shape {ds.x_train.shape}, "
                         "but model.kind = \"fnn\" needs (N, d) features")
    try:
        problem = Problem.from_arrays(ds.x_train[:1], ds.y_train[:1], ds.x_test[:1], ds.y_test[:1],
                                      n_classes=ds.n_classes, dtype=DTYPES[spec.model.dtype])
    except ValueError as e:
        raise ValueError(f"data: {e}") from e
    for depth, width in spec.grid.cells():
        try:
            build_model(spec, problem, depth, width)
        except ValueError as e:
            raise ValueError(f"model: {e}") from e
    if spec.model.kind == "cnn":
        for m in spec.methods:
            if m.hparams.get("w_solver") == "gauss_newton":
                raise ValueError(f"model: method {m.label!r} has w_solver = 'gauss_newton', which solves dense "
                                 "layers only; with model.kind = \"cnn\" use w_solver = 'gd' or 'adam'")


#: what torch raises when a Python number does not fit the run's dtype (e.g. ``eta0 * N`` in float32)
OVERFLOW_MESSAGE = "without overflow"


def is_overflow(e: BaseException) -> bool:
    """An exception that means the numbers left the dtype's range (a numerical fault, not a bug)."""
    return isinstance(e, (OverflowError, FloatingPointError)) or (
        isinstance(e, RuntimeError) and OVERFLOW_MESSAGE in str(e))


class Guarded:
    """A method whose overflow inside ``init`` or ``step`` makes every seed still running diverge.

    The parameters become NaN, so the next trace row records the divergence like any NaN loss
    (method.md "Divergence"); ``fault`` keeps the message for the runs table.
    """

    def __init__(self, method: Any) -> None:
        self.method = method
        self.name = method.name
        self.HPARAMS = method.HPARAMS
        self.fault: str | None = None

    def _fail(self, e: BaseException, state: State) -> None:
        self.fault = f"{type(e).__name__}: {e}"
        state.params = [(torch.full_like(w, float("nan")), torch.full_like(b, float("nan"))) for w, b in state.params]

    def init(self, problem: Problem, params, seeds: list[int]) -> State:
        try:
            return self.method.init(problem, params, seeds)
        except Exception as e:
            if not is_overflow(e):
                raise
            state = State([(w.clone(), b.clone()) for w, b in params],
                          torch.zeros(len(seeds), dtype=torch.float64))
            self._fail(e, state)
            return state

    def step(self, problem: Problem, state: State) -> None:
        if self.fault is not None:
            return
        try:
            self.method.step(problem, state)
        except Exception as e:
            if not is_overflow(e):
                raise
            self._fail(e, state)

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        if self.fault is not None:
            return {"J": torch.full((state.grad_evals.shape[0],), float("nan"), dtype=torch.float64)}
        return self.method.metrics(problem, state)


def budget_of(spec: ExperimentSpec) -> Budget:
    b = spec.budget
    return Budget(iterations=b.iterations, seconds=b.seconds, grad_evals=b.grad_evals, eval_every=b.eval_every,
                  record_every=b.record_every)


def run_unit(spec_doc: dict, source: str, unit: Unit, device: str = "cpu",
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one unit; returns plain data: traces, runs, final parameters and decision grids per seed."""
    spec = parse_spec(spec_doc, source)
    problem = build_problem(spec, device)
    model = build_model(spec, problem, unit.depth, unit.width)
    m = next(m for m in spec.methods if m.label == unit.label)
    method = Guarded(make_method(m.name, activation=spec.model.activation, **m.hparams))
    seeds = list(unit.seeds)
    params0 = init_params(model, seeds, problem.dtype, problem.device)
    result = run_method(problem, model, unit.label, method, seeds, budget_of(spec), params0, progress=progress)
    traces = result.traces
    traces.insert(4, "config_hash", [config_hash(spec, unit.depth, unit.width, unit.label, int(s))
                                     for s in traces.seed])
    runs = summarize(traces, result.wall_time)
    if method.fault is not None:
        runs.loc[runs.status == "diverged", "error"] = method.fault[-2000:]
    params = {int(s): {f"{kind}{i + 1}": t[j].detach().cpu().numpy()
                       for i, (w, b) in enumerate(result.params) for kind, t in (("W", w), ("b", b))}
              for j, s in enumerate(seeds)}
    planar = problem.x_train.dim() == 2 and problem.in_dim == 2
    decision = decision_grid(problem, model, result.params, seeds) if planar else None
    return {"traces": traces, "runs": runs, "params": params, "decision": decision}


def summarize(traces: pd.DataFrame, wall_time: float) -> pd.DataFrame:
    """One row per seed: status, divergence, final metrics."""
    rows = []
    for (label, seed), run in traces.groupby(["method", "seed"], sort=False):
        last = run.iloc[-1]
        tested = run[run.test_ce.notna()]
        diverged = bool(run.diverged.any())
        rows.append({
            "method": label, "algorithm": last.algorithm, "depth": int(last.depth), "width": int(last.width),
            "seed": int(seed), "config_hash": last.config_hash, "status": "diverged" if diverged else "completed",
            "diverged_at": float(last.iteration) if diverged else np.nan, "iterations": int(last.iteration),
            "wall_time": float(last.wall_time), "grad_evals": float(last.grad_evals),
            "final_F": float(last.F), "final_train_acc": float(last.train_acc),
            "final_test_ce": float(tested.test_ce.iloc[-1]) if len(tested) else np.nan,
            "final_test_acc": float(tested.test_acc.iloc[-1]) if len(tested) else np.nan,
            "final_J": float(last.J), "final_B": float(last.B), "error": "",
        })
    return pd.DataFrame(rows)


def decision_grid(problem: Problem, model: ModelSpec | ConvSpec, params, seeds: list[int]) -> dict[str, np.ndarray]:
    """Predicted classes of the first seed on a grid over the data's square, and on the test set."""
    x = problem.x_train.cpu().numpy()
    lo, hi = x.min(0) - 0.1, x.max(0) + 0.1
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], DECISION_GRID), np.linspace(lo[1], hi[1], DECISION_GRID))
    grid = torch.as_tensor(np.c_[xx.ravel(), yy.ravel()], dtype=problem.dtype, device=problem.device)
    first = [(w[:1], b[:1]) for w, b in params]
    with torch.no_grad():
        zz = forward(first, grid, model.activation)[1][0].argmax(1).cpu().numpy().reshape(xx.shape)
        pred = forward(first, problem.x_test, model.activation)[1][0].argmax(1).cpu().numpy()
    return {"xx": xx, "yy": yy, "zz": zz, "x_test": problem.x_test.cpu().numpy(),
            "y_test": problem.y_test.cpu().numpy(), "pred_test": pred, "seed": np.array(seeds[0])}


def failed_runs(spec: ExperimentSpec, unit: Unit, error: str) -> pd.DataFrame:
    m = next(m for m in spec.methods if m.label == unit.label)
    return pd.DataFrame([{
        "method": unit.label, "algorithm": m.name, "depth": unit.depth, "width": unit.width, "seed": s,
        "config_hash": config_hash(spec, unit.depth, unit.width, unit.label, s), "status": "failed",
        "diverged_at": np.nan, "iterations": 0, "wall_time": np.nan, "grad_evals": np.nan, "final_F": np.nan,
        "final_train_acc": np.nan, "final_test_ce": np.nan, "final_test_acc": np.nan, "final_J": np.nan,
        "final_B": np.nan, "error": error[-2000:]} for s in unit.seeds])


def store_unit(store: ResultsStore, unit: Unit, out: dict[str, Any]) -> None:
    """Parameters and decision grid first, then the part: a part on disk means the unit is complete."""
    for seed, arrays in out["params"].items():
        save_arrays(store.params_path(unit.label, unit.depth, unit.width, seed), arrays)
    if out.get("decision") is not None and out["decision"]["seed"] == 0:
        save_npz(store.decision_path(unit.label, unit.depth, unit.width), out["decision"])
    store.write_part(unit.name, out["traces"], out["runs"])


# -- executors ----------------------------------------------------------------------------------
def _set_threads(n: int) -> None:
    torch.set_num_threads(max(1, n))


def execute_local(spec: ExperimentSpec, units: list[Unit], device: str,
                  iter_progress: Callable[[Unit], Callable[[int], None] | None]) -> Iterator[tuple[Unit, Any]]:
    doc = spec.to_dict()
    for unit in units:
        try:
            yield unit, run_unit(doc, spec.source, unit, device, iter_progress(unit))
        except Exception as e:  # noqa: BLE001 - one unit's crash must not stop the sweep
            yield unit, e


def execute_processes(spec: ExperimentSpec, units: list[Unit], device: str, workers: int,
                      retries: int = 2) -> Iterator[tuple[Unit, Any]]:
    """A spawned process pool; a worker that dies breaks the pool: a new one runs the unfinished units again.

    Every unit unfinished when the pool broke is counted as one attempt (the pool does not say
    which unit killed its worker); a unit is given up as failed after ``retries`` such losses.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    doc = spec.to_dict()
    losses = dict.fromkeys(units, 0)
    pending = list(units)
    while pending:
        lost: list[Unit] = []
        broken = False
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_set_threads,
                                   initargs=(threads,))
        try:
            futures = {pool.submit(run_unit, doc, spec.source, u, device): u for u in pending}
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


def execute_dask(spec: ExperimentSpec, units: list[Unit], device: str, client: Any,
                 retries: int = 2) -> Iterator[tuple[Unit, Any]]:
    """Units as Dask tasks. A task whose worker dies is run again by the scheduler (up to its
    ``distributed.scheduler.allowed-failures``); one that raises is retried ``retries`` times."""
    from dask.distributed import as_completed

    doc = spec.to_dict()
    futures = {client.submit(run_unit, doc, spec.source, u, device, retries=retries, pure=False,
                             key=f"lysep-{u.name}-{time.time_ns()}"): u for u in units}
    for fut in as_completed(futures):
        try:
            yield futures[fut], fut.result()
        except Exception as e:  # noqa: BLE001
            yield futures[fut], e


# -- metadata -----------------------------------------------------------------------------------
def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def describe_device(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("lysep", "torch", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class SweepResult:
    root: Path
    traces: pd.DataFrame
    runs: pd.DataFrame
    ran: int
    skipped: int
    failed: int
    repaired: list[str] = field(default_factory=list)


def run_experiment(spec: ExperimentSpec, out: str | Path, *, device: str = "cpu", workers: int = 1,
                   scheduler: str | None = None, force: bool = False, quiet: bool = True,
                   repair: bool = False) -> SweepResult:
    """Run every unit not stored yet, storing each as it finishes; then merge and write meta.json.

    Holds the results directory's lock throughout (StoreError if another sweep holds it) and
    first removes what a killed sweep left half-written; ``repair`` also drops unreadable files
    and the runs they belong to. An unreachable ``scheduler`` raises ConnectionError before
    anything is written.
    """
    client = connect_dask(scheduler) if scheduler else None
    store = ResultsStore(out)
    try:
        with store.lock():
            return _sweep(spec, store, device, workers, scheduler, client, force, quiet, repair)
    finally:
        if client is not None:
            client.close()


def _sweep(spec: ExperimentSpec, store: ResultsStore, device: str, workers: int, scheduler: str | None,
           client: Any, force: bool, quiet: bool, repair: bool) -> SweepResult:
    repaired = store.repair() if repair else store.clean_tmp()
    if force:
        for name in ("traces.parquet", "runs.parquet"):
            (store.root / name).unlink(missing_ok=True)
        for part in store.parts.glob("*.parquet") if store.parts.exists() else []:
            part.unlink()
    started = now()
    done = store.completed_hashes()
    units = plan(spec, done)
    n_total = len(spec.grid.cells()) * len(spec.methods) * spec.grid.seeds
    skipped = n_total - sum(len(u.seeds) for u in units)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(units), desc="cells x methods", unit="unit", disable=quiet, position=0)
    iters = spec.budget.iterations

    def iter_progress(unit: Unit) -> Callable[[int], None] | None:
        if quiet:
            return None
        inner = tqdm(total=iters, desc=f"  {unit.label} d={unit.depth} w={unit.width}", leave=False, position=1)

        def tick(k: int) -> None:
            inner.update(k - inner.n)
            if iters is not None and k >= iters:
                inner.close()
        return tick

    if client is not None:
        results = execute_dask(spec, units, device, client)
    elif workers > 1:
        results = execute_processes(spec, units, device, workers)
    else:
        results = execute_local(spec, units, device, iter_progress)
    failed = 0
    for unit, res in results:
        if isinstance(res, BaseException):
            failed += len(unit.seeds)
            error = f"{type(res).__name__}: {res}"
            store.write_part(unit.name + "_failed", pd.DataFrame(), failed_runs(spec, unit, error))
        else:
            store_unit(store, unit, res)
        bar.update(1)
    bar.close()
    traces, runs = store.consolidate()
    write_json(store.root / "meta.json", {
        "spec": spec.to_dict(), "source": spec.source, "git_commit": git_commit(), "versions": versions(),
        "device": describe_device(device), "host": socket.gethostname(), "started": started, "finished": now(),
        "executor": f"dask {scheduler}" if scheduler else (f"processes x{workers}" if workers > 1 else "local"),
        "runs": {"total": n_total, "ran": n_total - skipped, "skipped": skipped, "failed": failed},
    })
    return SweepResult(store.root, traces, runs, n_total - skipped, skipped, failed, repaired if repair else [])
