"""Steady-state LySep iterations on one device, for scripts/gpu_check.sh (issue: cheaper LySep iterations).

Per case (the paper's Example 1 and 2 sizes, then N = 1e5 and 1e6 circle points; 10 seeds, float32):
milliseconds per iteration of LySep with each block step rule of ``RULES`` (the default sequential Armijo
rule, Armijo with its trials in one batched round, the trial-free Lipschitz steps) and of a full-batch Adam
step (eager, median of 5 x 5 iterations after warm-up), and on CUDA also: whether a steady-state LySep
iteration synchronises with the host (torch.cuda.set_sync_debug_mode("error") around two iterations), and,
for the rules that do not, the same iteration captured as a CUDA graph (lysep.measure.graphs.GraphedStep): its
milliseconds per replay and its largest difference from the eager iterations after 3 of them. On the CPU
(a smoke run) the CUDA-only columns say "n/a".

    python scripts/gpu_steady_state.py --device cuda --out DIR [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from lysep.core.model import ConvSpec, ModelSpec, init_params
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.measure.graphs import GraphedStep, state_tensors
from lysep.methods import make_method

SEEDS = list(range(10))
#: (name, dataset, n_train, model kind, depth, width)
CASES = [("ex1 d3 w20", "circle", 2000, "fnn", 3, 20), ("ex1 d10 w50", "circle", 2000, "fnn", 10, 50),
         ("ex2 d4 w8", "digits", 1200, "cnn", 4, 8), ("N=1e5 d5 w20", "circle", 100_000, "fnn", 5, 20),
         ("N=1e6 d5 w20", "circle", 1_000_000, "fnn", 5, 20)]
QUICK = [("ex1 d2 w4", "circle", 200, "fnn", 2, 4), ("ex2 d2 w2", "digits", 100, "cnn", 2, 2),
         ("N=2e3 d2 w4", "circle", 2000, "fnn", 2, 4)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def setup(case, device: str):
    _, dataset, n, kind, depth, width = case
    ds = load_dataset(dataset, n_train=n, n_test=100, images=kind == "cnn")
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                                  device=device)
    if kind == "cnn":
        return problem, ConvSpec.cnn(tuple(ds.x_train.shape[1:]), depth, width, ds.n_classes)
    return problem, ModelSpec.fnn(problem.in_dim, depth, width, ds.n_classes)


LIP = {"u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz"}
#: LySep block step rules: label -> hyperparameters (docs/method.md sections 4.1 and 4.7)
RULES = {"armijo (default)": {}, "armijo-batch3": {"armijo_batch": 3, "max_backtracks": 3},
         "lipschitz-1.9": {**LIP, "lipschitz_step": 1.9}, "lipschitz-adaptive": {**LIP, "lipschitz_growth": 1.25}}


def started(name: str, problem: Problem, model, warmup: int = 3, hp: dict | None = None):
    method = make_method(name, **(hp or {}))
    state = method.init(problem, init_params(model, SEEDS, problem.dtype, problem.device), SEEDS)
    state.record = False
    side = torch.cuda.Stream() if problem.device.type == "cuda" else None
    if side is not None:  # CUDA graphs want the warm-up on a side stream
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                method.step(problem, state)
        torch.cuda.current_stream().wait_stream(side)
    else:
        for _ in range(warmup):
            method.step(problem, state)
    return method, state


def ms_per_iteration(step, device: torch.device, reps: int = 5, n: int = 5) -> float:
    times = []
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        for _ in range(n):
            step()
        sync(device)
        times.append((time.perf_counter() - t) / n * 1e3)
    return statistics.median(times)


def host_syncs(method, problem: Problem, state) -> str:
    """'none' if two steady-state iterations never synchronise with the host, else the error."""
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            method.step(problem, state)
        torch.cuda.synchronize()
        return "none"
    except RuntimeError as e:
        return f"yes: {str(e).splitlines()[0][:120]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")


def run_case(case, device: str) -> list[dict]:
    problem, model = setup(case, device)
    dev = problem.device
    adam, astate = started("adam", problem, model)
    adam_ms = ms_per_iteration(lambda: adam.step(problem, astate), dev)
    rows = []
    for rule, hp in RULES.items():
        lysep, lstate = started("lysep", problem, model, hp=hp)
        row = {"case": case[0], "n_train": case[2], "rule": rule, "adam_ms": adam_ms,
               "lysep_ms": ms_per_iteration(lambda: lysep.step(problem, lstate), dev)}
        row["lysep_over_adam"] = row["lysep_ms"] / adam_ms
        row["host_syncs"], row["graph_ms"], row["graph_vs_eager"] = "n/a", float("nan"), float("nan")
        if dev.type == "cuda":
            row["host_syncs"] = host_syncs(lysep, problem, lstate)
            if row["host_syncs"] == "none":
                try:
                    row["graph_ms"], row["graph_vs_eager"] = graph_check(problem, model, hp)
                except Exception as e:  # noqa: BLE001 - report, do not stop the other cases
                    row["graph_ms"], row["graph_error"] = float("nan"), f"{type(e).__name__}: {e}"[:200]
        rows.append(row)
    return rows


def graph_check(problem: Problem, model, hp: dict) -> tuple[float, float]:
    """Capture a steady-state iteration, check 3 replays against 3 eager iterations from the same state,
    then time the replays."""
    method, state = started("lysep", problem, model, hp=hp)
    twin, twin_state = started("lysep", problem, model, hp=hp)  # the same theta_0, the same 3 iterations
    graphed = GraphedStep(method, problem, state)  # runs iteration 4
    for _ in range(2):
        graphed.replay()
    for _ in range(3):
        twin.step(problem, twin_state)
    diff = max(float((a - b).abs().max()) for a, b in zip(state_tensors(state), state_tensors(twin_state))
               if a.is_floating_point())
    return ms_per_iteration(graphed.replay, problem.device), diff


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    rows = []
    for case in QUICK if args.quick else CASES:
        for r in run_case(case, args.device):
            rows.append(r)
            print(f"  {r['case']:<14} {r['rule']:<18} lysep {r['lysep_ms']:9.2f} ms  adam {r['adam_ms']:8.2f} ms  "
                  f"ratio {r['lysep_over_adam']:5.2f}  host syncs: {r['host_syncs']}  graph {r['graph_ms']:8.2f} ms "
                  f"(|graph - eager| {r['graph_vs_eager']:.1e}){'  ' + r['graph_error'] if 'graph_error' in r else ''}",
                  flush=True)
    Path(args.out).write_text(json.dumps({"device": args.device, "torch": torch.__version__, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
