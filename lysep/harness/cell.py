"""Run one grid cell: every method on one model and dataset, all seeds batched, into trace rows.

This is the documented Python entry point below the experiment runner::

    from lysep.harness.cell import Budget, run_cell
    traces = run_cell(problem, ModelSpec.fnn(2, depth=3, width=10, n_classes=2),
                      {"lysep": make_method("lysep"), "adam": make_method("adam", lr=1e-2)},
                      seeds=[0, 1, 2], budget=Budget(iterations=100))

The trace has one row per (method, seed, iteration) with the columns of docs/method.md section 6.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lysep.core.batches import steps_per_epoch
from lysep.core.chunks import chunked_mean, eval_slices
from lysep.core.cost import pass_flops
from lysep.core.model import ConvSpec, ModelSpec, Params, forward, init_params, layer_work
from lysep.core.objectives import accuracy, cross_entropy
from lysep.core.problem import Problem
from lysep.methods.base import Method

#: the columns every trace has, in this order; then each method's declared metrics (scalar ones, then
#: their gap columns), ``diverged``, and the per-layer metrics ``<name>_1..<name>_D``
HARNESS_COLUMNS = ["method", "algorithm", "depth", "width", "seed", "iteration", "wall_time", "grad_evals", "flops",
                   "F", "train_acc", "test_ce", "test_acc"]


@dataclass(frozen=True)
class Budget:
    """Stop a method at whichever comes first.

    ``eval_every``: how often the test set is scored; ``record_every``: how often a trace row is
    written (the first and last iterations, and a seed's divergence or budget end, always are;
    a divergence between recorded rows is found at the next recorded row).
    """

    iterations: int | None = 100
    seconds: float | None = None
    grad_evals: float | None = None
    eval_every: int = 10
    record_every: int = 1
    #: passes over the training set: ceil(N / batch_size) iterations each for a minibatch method, 1 for a full-batch one
    epochs: float | None = None

    def __post_init__(self) -> None:
        if self.iterations is None and self.seconds is None and self.grad_evals is None and self.epochs is None:
            raise ValueError("budget needs at least one of iterations, epochs, seconds, grad_evals")
        for key in ("iterations", "seconds", "grad_evals", "eval_every", "record_every", "epochs"):
            v = getattr(self, key)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise ValueError(f"budget {key}={v!r} must be > 0")

    def iteration_limit(self, per_epoch: int) -> int | None:
        """The iterations a method may take: ``iterations`` and ``epochs`` (at ``per_epoch`` iterations an
        epoch), whichever is fewer; None if neither is set."""
        limits = [self.iterations] if self.iterations is not None else []
        if self.epochs is not None:
            limits.append(max(1, math.ceil(self.epochs * per_epoch - 1e-9)))
        return min(limits) if limits else None


@dataclass
class MethodRun:
    """What one method produced for all seeds of a cell."""

    traces: pd.DataFrame
    params: Params
    wall_time: float
    extra: dict = field(default_factory=dict)
    #: process CPU seconds over the same iterations as ``wall_time`` (all threads; contention shows as cpu < wall)
    cpu_time: float = float("nan")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _evaluate(params: Params, x: torch.Tensor, y: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """CE and accuracy per seed on all rows of ``x``, in row chunks of bounded memory (``lysep.core.chunks``)."""
    def score(rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        logits = forward(params, x[rows], activation)[1]
        return cross_entropy(logits, y[rows]), accuracy(logits, y[rows])

    with torch.no_grad():
        return chunked_mean(score, x.shape[0], eval_slices(params, x, activation))


def run_method(problem: Problem, model: ModelSpec, label: str, method: Method, seeds: list[int],
               budget: Budget, params0: Params | None = None,
               progress: Callable[[int], None] | None = None) -> MethodRun:
    """Train every seed with one method; rows of a seed stop at its divergence or its budget."""
    device = problem.device
    if params0 is None:
        params0 = init_params(model, seeds, problem.dtype, device)
    s = len(seeds)
    iterations = budget.iteration_limit(steps_per_epoch(problem.n_train, method.batch_size))
    state = method.init(problem, params0, seeds)
    per_pass = pass_flops(layer_work(params0, tuple(problem.x_train.shape[1:]), bias=False), problem.n_train)

    def flops() -> np.ndarray:
        """The seeds' cumulative flops: the method's own count, or grad_evals times one pass's (``State.flops``)."""
        if state.flops is None:
            return state.grad_evals.cpu().numpy() * per_pass
        return state.flops.cpu().numpy().copy()

    alive = np.ones(s, dtype=bool)  # still producing rows
    records: list[dict[str, np.ndarray]] = []
    wall, cpu, k = 0.0, 0.0, 0
    step_time, step_ge = 0.0, np.zeros(s)
    while True:
        last = (iterations is not None and k >= iterations) or \
               (budget.seconds is not None and wall >= budget.seconds)
        ge = state.grad_evals.cpu().numpy().copy()  # a method may count on its device: read between iterations
        over = np.zeros(s, dtype=bool) if budget.grad_evals is None else ge >= budget.grad_evals
        if k % budget.record_every == 0 or last or (over & alive).any():
            row = _record(problem, model, method, state, budget, k, wall, ge, flops(),
                          last or bool((over & alive).any()))
            row["_keep"] = alive.copy()
            records.append(row)
            alive &= ~row["diverged"]
        alive &= ~over
        if last or not alive.any():
            break
        # tell the method whether the coming iteration will be recorded (it may skip bookkeeping if not)
        state.record = ((k + 1) % budget.record_every == 0
                        or (iterations is not None and k + 1 >= iterations)
                        or (budget.seconds is not None and wall + step_time >= budget.seconds)
                        or (budget.grad_evals is not None and bool((ge + step_ge >= budget.grad_evals).any())))
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        method.step(problem, state)
        _sync(device)
        step_time = time.perf_counter() - t0
        wall += step_time
        cpu += time.process_time() - c0
        step_ge = state.grad_evals.cpu().numpy() - ge
        k += 1
        if progress is not None:
            progress(k)
    traces = _to_frame(records, label, method, model, seeds)
    return MethodRun(traces, state.params, wall, cpu_time=cpu)


def _record(problem: Problem, model: ModelSpec, method: Method, state, budget: Budget, k: int, wall: float,
            ge: np.ndarray, flops: np.ndarray, final: bool) -> dict[str, np.ndarray]:
    """One trace row per seed: losses, accuracies, the method's own metrics, divergence."""
    s = len(ge)
    F, acc = _evaluate(state.params, problem.x_train, problem.y_train, model.activation)
    extra = {key: v.detach().to("cpu", torch.float64).numpy() for key, v in method.metrics(problem, state).items()}
    row = {"iteration": np.full(s, k), "wall_time": np.full(s, wall), "grad_evals": ge, "flops": flops,
           "F": F.to("cpu", torch.float64).numpy(), "train_acc": acc.to("cpu", torch.float64).numpy()}
    if k % budget.eval_every == 0 or final:
        tce, tacc = _evaluate(state.params, problem.x_test, problem.y_test, model.activation)
        row["test_ce"] = tce.to("cpu", torch.float64).numpy()
        row["test_acc"] = tacc.to("cpu", torch.float64).numpy()
    else:
        row["test_ce"] = row["test_acc"] = np.full(s, np.nan)
    diverged = ~np.isfinite(row["F"])
    for name, metric in method.METRICS.items():
        value = extra.get(name, np.full((s, 0) if metric.per_layer else s, np.nan))
        if metric.per_layer:
            for i in range(value.shape[1]):
                row[f"{name}_{i + 1}"] = value[:, i]
        else:
            row[name] = value
            if metric.gap is not None:
                row[metric.gap] = value - row["F"]
            if metric.diverges:
                diverged |= ~np.isfinite(value)
    row["diverged"] = diverged
    return row


def _to_frame(records: list[dict[str, np.ndarray]], label: str, method: Method, model: ModelSpec,
              seeds: list[int]) -> pd.DataFrame:
    frames = []
    for row in records:
        keep = row.pop("_keep")
        df = pd.DataFrame(row)
        df.insert(0, "seed", np.asarray(seeds))
        frames.append(df[keep])
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "width", model.widths[0])
    df.insert(0, "depth", model.depth)
    df.insert(0, "algorithm", method.name)
    df.insert(0, "method", label)
    return df[trace_columns([method], df.columns)].sort_values(["seed", "iteration"], kind="stable").reset_index(
        drop=True)


def trace_columns(methods: list[Method], present) -> list[str]:
    """The column order of a trace of ``methods``: the harness's columns, the declared scalar metrics,
    their gap columns, ``diverged``, then the per-layer metrics (``<name>_1..<name>_D``) in ``present``."""
    declared = {n: m for method in methods for n, m in method.METRICS.items()}
    scalars = [n for n, m in declared.items() if not m.per_layer]
    gaps = [m.gap for m in declared.values() if not m.per_layer and m.gap is not None]
    layered = [c for n, m in declared.items() if m.per_layer
               for c in sorted((c for c in present if c.startswith(f"{n}_") and c[len(n) + 1:].isdigit()),
                               key=lambda c: int(c[len(n) + 1:]))]
    return HARNESS_COLUMNS + scalars + gaps + ["diverged"] + layered


def run_cell(problem: Problem, model: ModelSpec | ConvSpec, methods: dict[str, Method], seeds: list[int],
             budget: Budget) -> pd.DataFrame:
    """Every method of a cell from the same theta_0 per seed; the trace rows as one DataFrame."""
    if tuple(model.input_shape) != tuple(problem.x_train.shape[1:]):
        what = "in_dim" if len(model.input_shape) == 1 else "image_shape"
        value = model.in_dim if len(model.input_shape) == 1 else model.input_shape
        raise ValueError(f"model {what}={value} does not match the data's samples of shape "
                         f"{tuple(problem.x_train.shape[1:])}")
    if model.n_classes < problem.n_classes:
        raise ValueError(f"model n_classes={model.n_classes} is below the data's {problem.n_classes} classes")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={seeds!r} must be a non-empty list of distinct integers")
    params0 = init_params(model, seeds, problem.dtype, problem.device)
    runs = [run_method(problem, model, label, m, seeds, budget, params0).traces for label, m in methods.items()]
    traces = pd.concat(runs, ignore_index=True)
    return traces[trace_columns(list(methods.values()), traces.columns)]
