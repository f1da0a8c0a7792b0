"""Peak memory and time per epoch at MNIST/CIFAR-10 scale, on data of the same shape (no download needed).

    python scripts/measure_epoch.py            # every case below, each in a fresh process -> a Markdown table
    python scripts/measure_epoch.py --json     # the same as JSON lines
    python scripts/measure_epoch.py --from FILE  # the tables again from the JSON lines of a run

The data are standardized Gaussian features of the real data sets' shapes (60000 x 784 like MNIST and
Fashion-MNIST, 50000 x 3x32x32 like CIFAR-10) with random labels in 10 classes: the cost of an
iteration does not depend on the pixel values. Each case runs one method on one grid cell with its
seeds batched, in a process of its own with 2 torch threads, through ``lysep.harness.cell.run_method``: ``wall
s/epoch`` is the training time of the iterations run (``iterations``) scaled to one epoch, ``peak RSS`` the
process's maximum resident memory (``ru_maxrss``) and ``estimate`` what ``lysep check`` estimates for
that unit (``lysep.harness.memory``). docs/benchmarks.md quotes the table; configs/README.md the expected times.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREADS = 2
BATCH = 128
#: (case, data shape per sample, N of the data, N of an epoch, kind, depth, width, pool, method, seeds, iterations
#: timed (None: one whole epoch)). The CNN cases time part of an epoch on 6000 samples (an iteration's cost does
#: not depend on N; scoring 60000 images for the trace would take longer than the iterations).
CASES = [
    ("mnist-shape FNN 10x256", (784,), 60000, 60000, "fnn", 10, 256, (), "lysep-minibatch", 1, None),
    ("mnist-shape FNN 10x256", (784,), 60000, 60000, "fnn", 10, 256, (), "lysep-minibatch", 3, None),
    ("mnist-shape FNN 10x256", (784,), 60000, 60000, "fnn", 10, 256, (), "adam", 3, None),
    ("mnist-shape FNN 10x256", (784,), 60000, 60000, "fnn", 10, 256, (), "sgd", 3, None),
    ("fashion-shape CNN 4x16", (1, 28, 28), 6000, 60000, "cnn", 4, 16, (1, 2), "lysep-minibatch", 3, 30),
    ("fashion-shape CNN 4x16", (1, 28, 28), 6000, 60000, "cnn", 4, 16, (1, 2), "adam", 3, 30),
    ("fashion-shape CNN 4x16", (1, 28, 28), 6000, 60000, "cnn", 4, 16, (1, 2), "sgd", 3, 30),
    ("cifar-shape CNN 4x32", (3, 32, 32), 6000, 50000, "cnn", 4, 32, (1, 2), "lysep-minibatch", 3, 15),
    ("cifar-shape CNN 4x32", (3, 32, 32), 6000, 50000, "cnn", 4, 32, (1, 2), "adam", 3, 15),
    ("cifar-shape CNN 4x32", (3, 32, 32), 6000, 50000, "cnn", 4, 32, (1, 2), "sgd", 3, 15),
]


def measure(case: list) -> dict:
    """Run one case in this process and return its numbers."""
    import numpy as np
    import torch

    from lysep.core.batches import steps_per_epoch
    from lysep.core.model import ConvSpec, ModelSpec
    from lysep.core.problem import Problem
    from lysep.harness.cell import Budget, run_method
    from lysep.harness.memory import largest_unit
    from lysep.methods import make_method

    name, shape, n, n_epoch, kind, depth, width, pool, method_name, seeds, iterations = case
    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    x, xt = rng.standard_normal((n, *shape), np.float32), rng.standard_normal((1000, *shape), np.float32)
    y, yt = rng.integers(0, 10, n), rng.integers(0, 10, 1000)
    problem = Problem.from_arrays(x, y, xt, yt, n_classes=10)
    model = (ConvSpec.cnn(tuple(shape), depth, width, 10, "relu", tuple(pool)) if kind == "cnn"
             else ModelSpec.fnn(shape[0], depth, width, 10, "relu"))
    method = make_method(method_name, activation="relu", batch_size=BATCH)
    per_epoch = steps_per_epoch(n_epoch, BATCH)
    steps = iterations or per_epoch
    run_method(problem, model, method_name, method, list(range(seeds)), Budget(iterations=2))  # first-call costs
    t0 = time.perf_counter()
    run = run_method(problem, model, method_name, method, list(range(seeds)), Budget(iterations=steps,
                                                                                    record_every=steps))
    total = time.perf_counter() - t0
    estimate = largest_unit({method_name: method}, {(depth, width): model}, (x, y, xt, yt), n, seeds, "float32")
    return {"case": name, "method": method_name, "seeds": seeds, "N": n, "N_epoch": n_epoch, "iterations": steps,
            "s_per_epoch": run.wall_time * per_epoch / steps, "total_s": total,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "estimate_gib": estimate.total / 2**30}


def table(rows: list[dict]) -> str:
    out = ["| case | method | seeds | N of the data | iterations timed | s per epoch (N of an epoch) | "
           "peak RSS (GiB) | estimate (GiB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['method']} | {r['seeds']} | {r['N']} | {r['iterations']} | "
                   f"{r['s_per_epoch']:.3g} ({r['N_epoch']}) | {r['peak_rss_gib']:.2f} | {r['estimate_gib']:.2f} |")
    return "\n".join(out)


#: the configs whose expected times the measured cases bound: (config, case measured at its largest cell, cells,
#: epochs, the subset's n_train, the full n_train)
CONFIGS = [("mnist_mlp.toml", "mnist-shape FNN 10x256", 6, 5, 6000, 60000),
           ("fashion_mnist_cnn.toml", "fashion-shape CNN 4x16", 4, 5, 6000, 60000),
           ("cifar10_cnn.toml", "cifar-shape CNN 4x32", 4, 5, 5000, 50000)]


def expected(rows: list[dict]) -> str:
    """Upper bounds of each config's training time on 2 cores: every cell as slow as its largest, 3 seeds."""
    out = ["| config | per epoch, largest cell, all methods (s) | full size (h) | "
           "the subset of the config's comment (min) |", "|---|---:|---:|---:|"]
    for config, case, cells, epochs, subset, full in CONFIGS:
        per_epoch = sum(r["s_per_epoch"] for r in rows if r["case"] == case and r["seeds"] == 3)
        hours = cells * epochs * per_epoch / 3600
        out.append(f"| {config} | {per_epoch:.3g} | {hours:.2g} | {60 * hours * subset / full:.2g} |")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--case"]:
        print(json.dumps(measure(json.loads(argv[1]))))
        return 0
    if argv[:1] == ["--from"]:
        rows = [json.loads(line) for line in Path(argv[1]).read_text().splitlines() if line.strip()]
        print(table(rows) + "\n\n" + expected(rows))
        return 0
    rows = []
    for case in CASES:
        proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                              cwd=ROOT, env={"OMP_NUM_THREADS": str(THREADS), "PATH": "/usr/bin:/bin"})
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]) if "--json" in argv else f"{case[0]} {case[8]} S={case[9]}: done",
              file=sys.stdout if "--json" in argv else sys.stderr, flush=True)
    if "--json" not in argv:
        print(table(rows))
        print()
        print(expected(rows))
    return 0 if all(math.isfinite(r["s_per_epoch"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
