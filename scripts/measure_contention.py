"""CPU time / wall time of a batched unit alone and beside a second torch process (docs/reliability.md, Timings).

    flock /tmp/lysep-cpu.lock python scripts/measure_contention.py     # about a minute; run it on a quiet machine

Times ``ITERS`` iterations of one method on one cell (circle N = 2000, depth 5, width 20, 5 seeds
batched, as in a grid cell) with 1 and 2 torch threads, first alone, then while a second process
multiplies 400 x 400 matrices with 1 or 2 threads. Prints one Markdown row per case: the unit's
CPU time per thread over its wall time, which the report compares with
``analysis.metrics.CONTENTION_BELOW``, and the 1-minute load average before the case (with nothing
else running it is the script's own: about 1 after the first cases, 2-3 beside the second process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

from lysep.core.model import ModelSpec, init_params
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.methods import make_method

COMPETITOR = ("import torch, time\ntorch.set_num_threads({threads})\na = torch.randn(400, 400)\nt = time.time()\n"
              "while time.time() - t < 600:\n    a = (a @ a).tanh()\n")
#: (method, hyperparameters, iterations): about a second each, alone
CASES = (("lysep", {}, 15), ("adam", {"lr": 1e-2}, 150))


def unit_times(name: str, hparams: dict, iterations: int, threads: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``iterations`` steps after one warm-up step."""
    torch.set_num_threads(threads)
    ds = load_dataset("circle", n_train=2000, n_test=100)
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    model = ModelSpec.fnn(2, 5, 20, 2)
    method = make_method(name, **hparams)
    seeds = list(range(5))
    state = method.init(problem, init_params(model, seeds), seeds)
    state.record = False
    method.step(problem, state)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        method.step(problem, state)
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    print(f"{os.cpu_count()} cores, torch {torch.__version__}\n")
    print("| second process (threads) | unit threads | method | load before | wall s | CPU s | CPU / (wall x threads) "
          "|")
    print("|---|---:|---|---:|---:|---:|---:|")
    for competitor in (0, 1, 2):
        proc = (subprocess.Popen([sys.executable, "-c", COMPETITOR.format(threads=competitor)])
                if competitor else None)
        try:
            time.sleep(1.0)
            for threads in (1, 2):
                for name, hparams, iterations in CASES:
                    load = os.getloadavg()[0]
                    cpu, wall = unit_times(name, hparams, iterations, threads)
                    print(f"| {'none' if not competitor else competitor} | {threads} | {name} | {load:.2f} | "
                          f"{wall:.2f} | {cpu:.2f} | {cpu / (wall * threads):.2f} |", flush=True)
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
