"""One LySep iteration over one Adam step for each block step rule, as `lysep bench` measures
`am_iteration_over_adam_step` (circle N = 2000, tanh FNN, depth {3, 5, 10} x width {10, 20, 50}, 10 seeds
batched, median of 3 x 3 timed iterations after 2; geometric mean over the grid). Prints one line per
cell and a JSON object (results/PERFORMANCE.md, issue 18).

    python scripts/bench_step_rules.py      # about 7 minutes on 2 cores; run it alone on the machine
"""

import json

import torch

from lysep.core.model import ModelSpec
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.measure import bench
from lysep.measure.bench import BenchConfig, geomean, step_seconds

LIP = {"u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz"}
ARMIJO = {"u_solver": "gd", "w_solver": "gd", "out_solver": "gd"}
#: label -> (method, hyperparameters); the labels of configs/study_step_rule_ex1.toml
RULES = {"adam": ("adam", {"lr": 1e-2}), "armijo": ("lysep", ARMIJO),
         "armijo-batch3": ("lysep", {**ARMIJO, "armijo_batch": 3, "max_backtracks": 3}),
         "lipschitz-1.9": ("lysep", {**LIP, "lipschitz_step": 1.9, "lipschitz_growth": 1.0}),
         "lipschitz-adaptive": ("lysep", {**LIP, "lipschitz_growth": 1.25}),
         "lipschitz-adaptive-2": ("lysep", {**LIP, "lipschitz_growth": 2.0})}


def main() -> None:
    cfg = BenchConfig()
    ds = load_dataset("circle", n_train=cfg.n_train, n_test=100, seed=0)
    p = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes)
    seeds = list(range(cfg.seeds))
    out = {}
    for d in cfg.depths:
        for w in cfg.widths:
            model = ModelSpec.fnn(2, d, w, 2)
            for label, (name, hp) in RULES.items():
                bench.BENCH_METHODS[name] = hp
                out[(d, w, label)] = step_seconds(p, model, name, seeds, cfg)
            ratios = {k[2]: round(v / out[(d, w, "adam")], 2) for k, v in out.items() if k[:2] == (d, w)}
            print(d, w, ratios, flush=True)
    summary = {label: geomean([out[(d, w, label)] / out[(d, w, "adam")] for d in cfg.depths for w in cfg.widths])
               for label in RULES}
    print(json.dumps({"threads": torch.get_num_threads(), "am_over_adam_geomean": summary,
                      "ms": {f"{d},{w},{lab}": v * 1e3 for (d, w, lab), v in out.items()}}, indent=1))


if __name__ == "__main__":
    main()
