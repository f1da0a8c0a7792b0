"""Run a sweep: each unit of the plan on an executor, every finished unit stored at once.

``run_unit`` is a pure function of plain data, so the same code runs in-process, in a spawned process
pool and on a Dask worker, and gives the same traces wherever it runs (it rebuilds the data and
theta_0 from the spec and the seeds). Planning and the checks before any work: ``lysep.harness.plan``;
executors: ``lysep.harness.executors``; provenance: ``lysep.harness.provenance``.

Faults: a step that overflows the run's dtype counts as divergence of the seeds still running; a lost
worker (process pool or Dask) costs only its unit, which is submitted again; a sweep holds its
results directory's lock and removes the leftovers of a killed one before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lysep.core.model import ConvSpec, ModelSpec, forward, init_params
from lysep.core.problem import Problem
from lysep.core.state import State
from lysep.harness import provenance
from lysep.harness.allocator import keep_freed_memory
from lysep.harness.cell import Budget, run_method
from lysep.harness.codeversions import Changed, changed_code
from lysep.harness.executors import connect_dask, execute_dask, execute_local, execute_processes, set_threads
from lysep.harness.plan import (
    Unit,
    add_properties,
    build_method,
    build_model,
    build_problem,
    config_hash,
    method_spec,
    plan,
)
from lysep.harness.progress import Progress
from lysep.harness.provenance import CODE_COLUMN
from lysep.harness.spec import ExperimentSpec, parse_spec
from lysep.harness.store import (
    ResultsStore,
    StoreError,
    fingerprint,
    read_json,
    read_parquet,
    save_arrays,
    save_npz,
    write_json,
)
from lysep.methods import Method, method_code

#: resolution of the decision-region grid saved for 2-D datasets
DECISION_GRID = 150


#: what torch raises when a Python number does not fit the run's dtype (e.g. ``eta0 * N`` in float32)
OVERFLOW_MESSAGE = "without overflow"


def is_overflow(e: BaseException) -> bool:
    """An exception that means the numbers left the dtype's range (a numerical fault, not a bug)."""
    return isinstance(e, (OverflowError, FloatingPointError)) or (
        isinstance(e, RuntimeError) and OVERFLOW_MESSAGE in str(e))


class Guarded:
    """A method whose overflow inside ``init`` or ``step`` makes every seed still running diverge.

    The parameters become NaN, so the next trace row records the divergence like any NaN loss
    (docs/method.md "Divergence"); ``fault`` keeps the message for the runs table.
    """

    def __init__(self, method: Method) -> None:
        self.method = method
        self.fault: str | None = None

    def __getattr__(self, name: str) -> Any:  # the declarations (name, METRICS, properties, ...) are the method's
        return getattr(self.method, name)

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
        if self.fault is not None:  # every scalar metric NaN: the row records the divergence
            nan = torch.full((state.grad_evals.shape[0],), float("nan"), dtype=torch.float64)
            return {name: nan for name, m in self.method.METRICS.items() if not m.per_layer}
        return self.method.metrics(problem, state)


def budget_of(spec: ExperimentSpec) -> Budget:
    b = spec.budget
    return Budget(iterations=b.iterations, seconds=b.seconds, grad_evals=b.grad_evals, eval_every=b.eval_every,
                  record_every=b.record_every, epochs=b.epochs)


def run_unit(spec_doc: dict, source: str, unit: Unit, device: str = "cpu",
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one unit; returns plain data: traces, runs, final parameters and decision grids per seed."""
    keep_freed_memory()  # in whichever process runs it (in-process, a spawned worker, a Dask worker)
    spec = parse_spec(spec_doc, source)
    problem = build_problem(spec, device)
    model = build_model(spec, problem, unit.depth, unit.width)
    method = Guarded(build_method(spec, unit.label))
    seeds = list(unit.seeds)
    params0 = init_params(model, seeds, problem.dtype, problem.device)
    started, load_start = provenance.now(), provenance.load_average()
    result = run_method(problem, model, unit.label, method, seeds, budget_of(spec), params0, progress=progress)
    traces = result.traces
    traces.insert(4, "config_hash", [config_hash(spec, unit.depth, unit.width, unit.label, int(s))
                                     for s in traces.seed])
    runs = summarize(traces, method.method).assign(
        **provenance.run_columns(device), started=started, finished=provenance.now(), cpu_time=result.cpu_time,
        load_start=load_start, load_end=provenance.load_average())
    runs[CODE_COLUMN] = method_code(method_spec(spec, unit.label).name)
    if method.fault is not None:
        runs.loc[runs.status == "diverged", "error"] = method.fault[-2000:]
    params = {int(s): {f"{kind}{i + 1}": t[j].detach().cpu().numpy()
                       for i, (w, b) in enumerate(result.params) for kind, t in (("W", w), ("b", b))}
              for j, s in enumerate(seeds)}
    runs["fingerprint"] = [fingerprint(traces[traces.seed == s], params[int(s)]) for s in runs.seed]
    planar = problem.x_train.dim() == 2 and problem.in_dim == 2
    decision = decision_grid(problem, model, result.params, unit) if planar else None
    return {"traces": traces, "runs": runs, "params": params, "decision": decision}


def summarize(traces: pd.DataFrame, method: Method) -> pd.DataFrame:
    """One row per seed: status, divergence, final metrics (the declared ones too), the method's properties."""
    rows = []
    finals = [n for n, m in method.METRICS.items() if not m.per_layer]
    for (label, seed), run in traces.groupby(["method", "seed"], sort=False):
        last = run.iloc[-1]
        tested = run[run.test_ce.notna()]
        diverged = bool(run.diverged.any())
        rows.append({
            "method": label, "algorithm": last.algorithm, "depth": int(last.depth), "width": int(last.width),
            "seed": int(seed), "config_hash": last.config_hash, "status": "diverged" if diverged else "completed",
            "diverged_at": float(last.iteration) if diverged else np.nan, "iterations": int(last.iteration),
            "wall_time": float(last.wall_time), "grad_evals": float(last.grad_evals),
            "flops": float(last.flops) if "flops" in run else np.nan,
            "final_F": float(last.F), "final_train_acc": float(last.train_acc),
            "final_test_ce": float(tested.test_ce.iloc[-1]) if len(tested) else np.nan,
            "final_test_acc": float(tested.test_acc.iloc[-1]) if len(tested) else np.nan,
            **{f"final_{n}": float(last[n]) for n in finals}, "error": "", **method.properties(),
        })
    return pd.DataFrame(rows)


def decision_grid(problem: Problem, model: ModelSpec | ConvSpec, params, unit: Unit) -> dict[str, np.ndarray]:
    """Predicted classes of the unit's first seed on a grid over the data's square, and on the test set,
    with the run's label, depth and width (what the report's panels are named by)."""
    x = problem.x_train.cpu().numpy()
    lo, hi = x.min(0) - 0.1, x.max(0) + 0.1
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], DECISION_GRID), np.linspace(lo[1], hi[1], DECISION_GRID))
    grid = torch.as_tensor(np.c_[xx.ravel(), yy.ravel()], dtype=problem.dtype, device=problem.device)
    first = [(w[:1], b[:1]) for w, b in params]
    with torch.no_grad():
        zz = forward(first, grid, model.activation)[1][0].argmax(1).cpu().numpy().reshape(xx.shape)
        pred = forward(first, problem.x_test, model.activation)[1][0].argmax(1).cpu().numpy()
    return {"xx": xx, "yy": yy, "zz": zz, "x_test": problem.x_test.cpu().numpy(),
            "y_test": problem.y_test.cpu().numpy(), "pred_test": pred, "seed": np.array(unit.seeds[0]),
            "method": np.array(unit.label), "depth": np.array(unit.depth), "width": np.array(unit.width)}


def failed_runs(spec: ExperimentSpec, unit: Unit, error: str) -> pd.DataFrame:
    """Runs rows of a unit that raised: status failed, the error, the method's properties."""
    props = build_method(spec, unit.label).properties()
    return pd.DataFrame([{
        "method": unit.label, "algorithm": method_spec(spec, unit.label).name, "depth": unit.depth,
        "width": unit.width, "seed": s, "config_hash": config_hash(spec, unit.depth, unit.width, unit.label, s),
        "status": "failed", "diverged_at": np.nan, "iterations": 0, "wall_time": np.nan, "grad_evals": np.nan,
        "flops": np.nan, "final_F": np.nan, "final_train_acc": np.nan, "final_test_ce": np.nan,
        "final_test_acc": np.nan,
        "error": error[-2000:], **props, CODE_COLUMN: method_code(method_spec(spec, unit.label).name)}
        for s in unit.seeds])


def store_unit(store: ResultsStore, unit: Unit, out: dict[str, Any]) -> None:
    """Parameters and decision grid first, then the part: a part on disk means the unit is complete."""
    for seed, arrays in out["params"].items():
        save_arrays(store.params_path(unit.label, unit.depth, unit.width, seed), arrays)
    if out.get("decision") is not None and out["decision"]["seed"] == 0:
        save_npz(store.decision_path(unit.label, unit.depth, unit.width), out["decision"])
    store.write_part(unit.name, out["traces"], out["runs"])


@dataclass
class SweepResult:
    root: Path
    traces: pd.DataFrame
    runs: pd.DataFrame
    ran: int
    skipped: int
    failed: int
    repaired: list[str] = field(default_factory=list)
    #: stored runs made by other code of their method (warned about; recomputed with ``recompute_changed``)
    changed: list[Changed] = field(default_factory=list)


def run_experiment(spec: ExperimentSpec, out: str | Path, *, device: str = "cpu", workers: int = 1,
                   scheduler: str | None = None, force: bool = False, quiet: bool = True,
                   repair: bool = False, threads: int | None = None, recompute_changed: bool = False,
                   warn: Callable[[str], None] | None = None) -> SweepResult:
    """Run every unit not stored yet, storing each as it finishes; then merge and write meta.json.

    Stored runs made by other code of their method (``lysep.harness.codeversions``) are passed to ``warn`` (one
    message per method and stored version) before any work, and recomputed when ``recompute_changed``.

    Holds the results directory's lock throughout (StoreError if another sweep holds it) and
    first removes what a killed sweep left half-written; ``repair`` also drops unreadable files
    and the runs they belong to. An unreachable ``scheduler`` raises ConnectionError before
    anything is written.
    """
    client = connect_dask(scheduler) if scheduler else None
    store = ResultsStore(out)
    try:
        with store.lock():
            return _sweep(spec, store, device, workers, scheduler, client, force, quiet, repair, threads,
                          (recompute_changed, warn))
    finally:
        if client is not None:
            client.close()


def _changed(spec: ExperimentSpec, store: ResultsStore, force: bool, recompute: bool,
             warn: Callable[[str], None] | None) -> list[Changed]:
    """The stored runs made by other code (none under ``force``: every run is recomputed); with ``recompute``, they
    are dropped from the store so that the sweep runs them again."""
    parts = store.parts.exists() and any(store.parts.glob("*.parquet"))
    if force or not parts and not (store.root / "runs.parquet").exists():
        return []
    runs = store.load()[1] if parts else read_parquet(store.root / "runs.parquet")  # the runs table alone: no traces
    changed = changed_code(spec, runs)
    for c in changed:
        if warn is not None:
            warn(c.message(recompute))
    if recompute and changed:
        store.drop_runs(set().union(*(c.hashes for c in changed)))
    return changed


def _sweep(spec: ExperimentSpec, store: ResultsStore, device: str, workers: int, scheduler: str | None,
           client: Any, force: bool, quiet: bool, repair: bool, threads: int | None = None,
           code: tuple[bool, Callable[[str], None] | None] = (False, None)) -> SweepResult:
    repaired = store.repair() if repair else store.clean_tmp()
    changed = _changed(spec, store, force, *code)
    if force:
        for name in ("traces.parquet", "runs.parquet"):
            (store.root / name).unlink(missing_ok=True)
        for part in store.parts.glob("*.parquet") if store.parts.exists() else []:
            part.unlink()
    started = provenance.now()
    done = store.completed_hashes()
    units = plan(spec, done)
    n_total = len(spec.grid.cells()) * len(spec.methods) * spec.grid.seeds
    skipped = n_total - sum(len(u.seeds) for u in units)
    progress = Progress(len(units), spec.budget.iterations, quiet)
    if client is not None:
        results = execute_dask(run_unit, spec, units, device, client)
    elif workers > 1:
        results = execute_processes(run_unit, spec, units, device, workers, threads=threads)
    else:
        if threads:
            set_threads(threads)
        results = execute_local(run_unit, spec, units, device, progress.iterations_of)
    failed = 0
    for unit, res in results:
        if isinstance(res, BaseException):
            failed += len(unit.seeds)
            error = f"{type(res).__name__}: {res}"
            store.write_part(unit.name + "_failed", pd.DataFrame(), failed_runs(spec, unit, error))
        else:
            store_unit(store, unit, res)
        progress.finished(unit, isinstance(res, BaseException))
    progress.close()
    traces, runs = store.consolidate()
    if add_properties(store.root):  # runs stored by an older lysep, resumed here
        traces, runs = store.load()
    executor = f"dask {scheduler}" if scheduler else (f"processes x{workers}" if workers > 1 else "local")
    counts = {"total": n_total, "ran": n_total - skipped, "skipped": skipped, "failed": failed}
    write_meta(store, spec, provenance.invocation(device, executor, started, counts))
    return SweepResult(store.root, traces, runs, n_total - skipped, skipped, failed, repaired if repair else [],
                       changed)


def write_meta(store: ResultsStore, spec: ExperimentSpec, entry: dict[str, Any]) -> None:
    """meta.json: the spec, and the list of invocations with this one appended (an older lysep's single record
    becomes the first entry; an unreadable meta.json is started afresh, as ``--repair`` does)."""
    path = store.root / "meta.json"
    try:
        old = read_json(path) if path.is_file() else {}
    except StoreError:
        old = {}
    previous = provenance.invocations(old if isinstance(old, dict) else {})
    write_json(path, {"spec": spec.to_dict(), "source": spec.source, "invocations": [*previous, entry]})
