"""Timing ratios measured inside one process, interleaved: what a load on the machine moves alike.

Two workloads timed alternately over many rounds see the same machine state (load, frequency, cache
pressure), so the ratio of their median times holds on a busy machine where each absolute time does
not (docs/benchmarks.md). On the CPU the times are the thread's CPU time (one torch thread), which a
competing process cannot inflate by taking the core away. Per cell:

- ``lysep_over_adam``: one steady-state LySep outer iteration over one Adam step (same cell, seeds, data);
- ``<method>_over_reference``: one step of each method over a fixed pure-torch reference workload
  (a batched tanh MLP forward and backward of the cell's size), which no change to lysep can move.

Like ``lysep.measure.counters``, this module uses only the public API of ``lysep``, so ``lysep track`` can run
it against an older checkout.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

#: timed rounds per cell (each round times every workload once, in an order that alternates)
ROUNDS = 15
#: iterations from theta_0 before timing (the steady state)
WARMUP = 3


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> Callable[[], float]:
    """The clock of the timings: on the CPU the calling thread's CPU time (torch runs one thread here), which
    a process competing for the cores cannot inflate, as it does wall time; on a GPU the wall clock."""
    return time.thread_time if device.type == "cpu" else time.perf_counter


def interleaved(workloads: dict[str, Callable[[], None]], rounds: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each workload, timed alternately: round r runs them forwards, round r+1 backwards."""
    now = clock(device)
    times: dict[str, list[float]] = {name: [] for name in workloads}
    names = list(workloads)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            sync(device)
            t0 = now()
            workloads[name]()
            sync(device)
            times[name].append(now() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def reference_workload(problem: Any, depth: int, width: int, n_seeds: int) -> Callable[[], None]:
    """A fixed pure-torch workload of the cell's size: forward and backward of a seed-batched tanh MLP."""
    gen = torch.Generator().manual_seed(0)
    n, d = problem.x_train.shape[0], problem.x_train[0].numel()
    x = problem.x_train.reshape(n, d)
    dims = [d] + [width] * depth + [2]
    ws = [(torch.randn(n_seeds, b, a, generator=gen, dtype=x.dtype) / a**0.5).to(x.device).requires_grad_()
          for a, b in zip(dims[:-1], dims[1:])]

    def run() -> None:
        h = x.expand(n_seeds, n, d)
        for w in ws[:-1]:
            h = torch.tanh(torch.bmm(h, w.transpose(1, 2)))
        torch.autograd.grad(torch.bmm(h, ws[-1].transpose(1, 2)).square().mean(), ws)

    return run


def cell_ratios(methods: dict[str, tuple[str, dict]], problem: Any, model: Any, seeds: list[int],
                rounds: int = ROUNDS, warmup: int = WARMUP) -> dict[str, float]:
    """Interleaved timing ratios of one cell: every method over the reference, and lysep over adam."""
    from lysep import init_params, make_method

    params0 = init_params(model, seeds, problem.dtype, problem.device)
    workloads = {"reference": reference_workload(problem, model.depth, model.widths[0], len(seeds))}
    for label, (name, hparams) in methods.items():
        method = make_method(name, activation=model.activation, **hparams)
        state = method.init(problem, params0, seeds)
        state.record = False
        for _ in range(warmup):
            method.step(problem, state)
        workloads[label] = (lambda m, s: lambda: m.step(problem, s))(method, state)
    medians = interleaved(workloads, rounds, problem.device)
    out = {f"{label}_over_reference": medians[label] / medians["reference"] for label in methods}
    if "lysep" in medians and "adam" in medians:
        out["lysep_over_adam"] = medians["lysep"] / medians["adam"]
    return out


def main(argv: list[str] | None = None) -> int:
    """``python lysep/measure/ratios.py CONFIG_JSON``: the ratios of every cell of a config (as
    ``lysep.measure.counters``) as JSON."""
    from lysep import ConvSpec, ModelSpec, Problem, load_dataset

    cfg = json.loads((argv or sys.argv[1:])[0])
    cnn = cfg.get("kind") == "cnn"
    ds = load_dataset(**cfg["dataset"], images=cnn)
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes)
    methods = {label: (m["name"], {k: v for k, v in m.items() if k != "name"}) for label, m in cfg["methods"].items()}
    rows = []
    for depth, width in cfg["cells"]:
        model = (ConvSpec.cnn(tuple(problem.x_train.shape[1:]), depth, width, problem.n_classes) if cnn
                 else ModelSpec.fnn(problem.in_dim, depth, width, problem.n_classes))
        ratios = cell_ratios(methods, problem, model, list(cfg["seeds"]), cfg.get("rounds", ROUNDS),
                             cfg.get("warmup", WARMUP))
        rows.append({"depth": depth, "width": width, **ratios})
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(int(json.loads(sys.argv[1]).get("threads", 1)))
    sys.exit(main())
