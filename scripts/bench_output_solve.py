"""The output block's solve, Newton (dense Hessian, Cholesky), Newton by conjugate gradients (no Hessian) and the
exact-curvature MM step, on Example 2's
cells (digits as 1x8x8 images, CNN depth {2, 4} x width {4, 8}, 10 seeds batched, N = 1200): per cell the thread CPU
time of the output block's solve inside a real LySep iteration (median over the timed iterations after 2 warm-up
iterations), the whole iteration's, and the counted flops of one iteration (torch's flop counter, exact).

The LySep setting is Example 2's tuned winner (results/paper_example2/tuning/tuned.toml: adaptive weights, Frobenius
norms, Armijo U/W blocks) with ``out_solver`` = ``newton`` (the winner), ``newton_cg`` (20 CG steps) or ``mm``. One
torch thread; the clock is
the thread's CPU time, which another process on the machine cannot inflate (lysep.measure.ratios.clock).

    python scripts/bench_output_solve.py [--iters 5]     # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lysep import ConvSpec, Problem, init_params, load_dataset, make_method
from lysep.core import inner
from lysep.core.blocks import OutputWeightBlock
from lysep.measure.counters import count_step, steady_state

TUNED = {"schedule": "adaptive", "norm": "frobenius", "beta": 29.8, "beta_max": 177900.0, "lr_u": 0.002233,
         "lr_w": 0.05736, "rho": 1.085, "u_solver": "gd", "w_solver": "gd"}
CELLS = [(2, 4), (2, 8), (4, 4), (4, 8)]
SOLVERS = ("newton", "newton_cg", "mm")
SEEDS = list(range(10))


def timed_output_solves(record: list[float]) -> dict:
    """Wrap the inner solvers so that every solve of an output block adds its thread CPU time to ``record``."""
    original = dict(inner.SOLVERS)

    def wrap(solve):
        def timed(block, *args, **kwargs):
            t0 = time.thread_time()
            res = solve(block, *args, **kwargs)
            if isinstance(block, OutputWeightBlock):
                record.append(time.thread_time() - t0)
            return res
        return timed
    inner.SOLVERS.update({name: wrap(solve) for name, solve in original.items()})
    return original


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=5, help="timed iterations per cell and solver")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset("digits", n_train=1200, n_test=597, seed=0, n_classes=3, images=True)
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes)
    rows = []
    for depth, width in CELLS:
        model = ConvSpec.cnn(tuple(ds.x_train.shape[1:]), depth, width, ds.n_classes, pool=(), activation="tanh")
        params0 = init_params(model, SEEDS, problem.dtype, problem.device)
        for solver in SOLVERS:
            method = make_method("lysep", activation="tanh", **TUNED, out_solver=solver)
            state = steady_state(method, problem, params0, SEEDS, warmup=2)
            counts = count_step(method, problem, state)
            solves: list[float] = []
            original = timed_output_solves(solves)
            try:
                iters = []
                for _ in range(args.iters):
                    t0 = time.thread_time()
                    method.step(problem, state)
                    iters.append(time.thread_time() - t0)
            finally:
                inner.SOLVERS.update(original)
            row = {"depth": depth, "width": width, "out_solver": solver,
                   "output_solve_ms": 1e3 * statistics.median(solves) * len(solves) / args.iters,
                   "iteration_ms": 1e3 * statistics.median(iters), "flops_per_iteration": counts["flops"],
                   "grad_evals_per_iteration": counts["grad_evals"]}
            rows.append(row)
            print(f"d{depth} w{width} {solver:9s}: output solve {row['output_solve_ms']:9.1f} ms, iteration "
                  f"{row['iteration_ms']:9.1f} ms, {row['flops_per_iteration']:.4g} flops, "
                  f"{row['grad_evals_per_iteration']:.4g} grad_evals", flush=True)
    for depth, width in CELLS:
        nt, cg, mm = (next(r for r in rows if (r["depth"], r["width"], r["out_solver"]) == (depth, width, s))
                      for s in SOLVERS)
        for name, other in (("newton_cg", cg), ("mm", mm)):
            solve = nt["output_solve_ms"] / other["output_solve_ms"]
            print(f"d{depth} w{width}: output solve newton/{name} {solve:.1f}x, "
                  f"iteration {nt['iteration_ms'] / other['iteration_ms']:.2f}x, flops "
                  f"{nt['flops_per_iteration'] / other['flops_per_iteration']:.2f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
