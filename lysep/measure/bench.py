"""``lysep bench``: the performance targets of the suite, measured as ratios within one run.

- ``batched_speedup[method]``: ten single-seed runs one after another over the same ten seeds
  run as one batch, time per iteration (geometric mean over the depth x width grid);
- ``am_iteration_over_adam_step``: one LySep outer iteration (default configuration: one inner
  step per block) over one full-batch Adam step, same cell and seeds (geometric mean over the grid);
- ``default_run_seconds``: wall time of the built-in default ``lysep run``, in a subprocess;
- ``grid_seconds``: one batched iteration of every method in every cell, summed (to compare devices).

Every time is the median over ``repeats`` timings of ``steps`` iterations, after ``warmup``
iterations. Ratios taken within one run are robust to a machine's speed; absolute times are not.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from lysep.core.model import ModelSpec, init_params
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.harness.allocator import keep_freed_memory
from lysep.harness.spec import default_spec_path
from lysep.methods import make_method

#: the methods of the batched-speedup table, with the hyperparameters of the default experiment
BENCH_METHODS: dict[str, dict] = {
    "lysep": {},
    "adam": {"lr": 1e-2},
    "sgd": {"lr": 0.05, "momentum": 0.9, "batch_size": 128},
    "gd": {"lr": 0.1},
}

#: further LySep configurations whose iteration is timed batched beside the default's (``am_iteration_over_adam_step``
#: per configuration): the exact-curvature MM steps with trial-free hidden blocks (docs/method.md 4.8)
BENCH_CONFIGS: dict[str, tuple[str, dict]] = {
    "lysep-mm": ("lysep", {"u_solver": "mm", "w_solver": "lipschitz", "out_solver": "mm"}),
}

#: the issue's targets on 2 CPU cores
TARGETS = {"batched_speedup": 4.0, "am_iteration_over_adam_step": 2.0, "default_run_seconds": 120.0}


@dataclass
class BenchConfig:
    depths: tuple[int, ...] = (3, 5, 10)
    widths: tuple[int, ...] = (10, 20, 50)
    seeds: int = 10
    n_train: int = 2000
    steps: int = 3
    repeats: int = 3
    warmup: int = 2
    methods: tuple[str, ...] = tuple(BENCH_METHODS)
    default_run: bool = True
    quick: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def tiny(cls) -> BenchConfig:
        """A smoke run in seconds: every key is measured, on sizes too small to mean much."""
        return cls(depths=(2,), widths=(4,), seeds=3, n_train=100, steps=1, repeats=1, warmup=1, quick=True)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(problem: Problem, model: ModelSpec, name: str, seeds: list[int], cfg: BenchConfig,
                 hparams: dict | None = None) -> float:
    """Median seconds of one iteration of ``name`` (with ``hparams``, else its ``BENCH_METHODS`` setting) on
    ``seeds`` (batched as one computation)."""
    hp = BENCH_METHODS.get(name, {}) if hparams is None else hparams
    method = make_method(name, activation=model.activation, **hp)
    state = method.init(problem, init_params(model, seeds, problem.dtype, problem.device), seeds)
    state.record = False  # the runner's bookkeeping for recorded rows is not part of an iteration
    for _ in range(cfg.warmup):
        method.step(problem, state)
    _sync(problem.device)
    times = []
    for _ in range(cfg.repeats):
        t = time.perf_counter()
        for _ in range(cfg.steps):
            method.step(problem, state)
        _sync(problem.device)
        times.append((time.perf_counter() - t) / cfg.steps)
    return statistics.median(times)


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def bench_cells(cfg: BenchConfig, device: str, log=print) -> tuple[list[dict], list[dict]]:
    """Per cell and method: batched and sequential seconds per iteration; per cell and further LySep
    configuration (``BENCH_CONFIGS``): batched seconds per iteration."""
    ds = load_dataset("circle", n_train=cfg.n_train, n_test=100, seed=0)
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                                  device=device)
    seeds = list(range(cfg.seeds))
    rows, configs = [], []
    for depth in cfg.depths:
        for width in cfg.widths:
            model = ModelSpec.fnn(problem.in_dim, depth, width, problem.n_classes)
            for name in cfg.methods:
                batched = step_seconds(problem, model, name, seeds, cfg)
                sequential = sum(step_seconds(problem, model, name, [s], cfg) for s in seeds)
                rows.append({"depth": depth, "width": width, "method": name, "batched_s": batched,
                             "sequential_s": sequential, "speedup": sequential / batched})
                log(f"  depth {depth:>2} width {width:>2} {name:<6} batched {batched * 1e3:8.2f} ms  "
                    f"sequential {sequential * 1e3:8.2f} ms  speedup {sequential / batched:5.2f}")
            if "lysep" in cfg.methods:
                for label, (name, hp) in BENCH_CONFIGS.items():
                    batched = step_seconds(problem, model, name, seeds, cfg, hp)
                    configs.append({"depth": depth, "width": width, "method": label, "batched_s": batched})
                    log(f"  depth {depth:>2} width {width:>2} {label:<6} batched {batched * 1e3:8.2f} ms")
    return rows, configs


def default_run_seconds(cfg: BenchConfig, device: str) -> float:
    """Wall time of ``lysep run`` on the built-in default spec (a subprocess, as a user runs it)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "lysep", "run", "--out", str(Path(tmp) / "out"), "--quiet",
               "--device", device]
        if cfg.quick:  # the default spec cut to one seed and five iterations
            text = default_spec_path().read_text().replace("iterations = 300", "iterations = 5")
            spec = Path(tmp) / "quick.toml"
            spec.write_text(text)
            cmd[4:4] = [str(spec)]
            cmd += ["--seeds", "1"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"the default lysep run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def run_bench(cfg: BenchConfig, device: str = "cpu", log=print) -> dict:
    """All measurements as one JSON-ready dict."""
    dev = torch.device(device)
    rows, configs = bench_cells(cfg, device, log)
    speedup = {m: geomean([r["speedup"] for r in rows if r["method"] == m]) for m in cfg.methods}
    am = []
    if "lysep" in cfg.methods and "adam" in cfg.methods:
        for d in cfg.depths:
            for w in cfg.widths:
                cell = {r["method"]: r for r in rows + configs if r["depth"] == d and r["width"] == w}
                adam = cell["adam"]["batched_s"]
                am.append({"depth": d, "width": w, "ratio": cell["lysep"]["batched_s"] / adam,
                           **{label: cell[label]["batched_s"] / adam for label in BENCH_CONFIGS}})
    out = {
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
        "batched_speedup": speedup,
        "am_iteration_over_adam_step": geomean([a["ratio"] for a in am]) if am else None,
        # the same ratio for each further LySep configuration (BENCH_CONFIGS)
        "am_iteration_over_adam_step_by_config": {label: geomean([a[label] for a in am]) for label in BENCH_CONFIGS}
        if am else {},
        # one batched iteration of every method in every cell: what the grid costs per iteration
        "grid_seconds": sum(r["batched_s"] for r in rows),
        "default_run_seconds": default_run_seconds(cfg, device) if cfg.default_run else None,
        "cells": rows,
        "am_cells": am,
        "config_cells": configs,
        # a quick run is a smoke test at tiny sizes (and a cut-down default run): nothing to hold to the targets
        "targets": {} if cfg.quick else TARGETS,
    }
    return out


def table(result: dict) -> str:
    """The short human-readable summary printed last; a quick run's numbers are not compared with the targets."""
    quick = " [quick: tiny sizes, a 5-iteration default run; no target comparison]" if result["config"]["quick"] else ""
    lines = [f"lysep bench on {result['device']} ({result['device_name']}, {result['threads']} torch threads, "
             f"torch {result['torch']}){quick}"]
    t = result["targets"]
    for m, v in result["batched_speedup"].items():
        goal = f"(target >= {t['batched_speedup']:g})" if t and m in ("lysep", "adam") else ""
        lines.append(f"  batched_speedup[{m}]{'':<{8 - len(m)}} {v:7.2f}  {goal}")
    if result["am_iteration_over_adam_step"] is not None:
        lines.append(f"  am_iteration_over_adam_step {result['am_iteration_over_adam_step']:7.2f}  "
                     + (f"(target <= {t['am_iteration_over_adam_step']:g})" if t else ""))
    for label, v in result.get("am_iteration_over_adam_step_by_config", {}).items():
        lines.append(f"  am_iteration_over_adam_step[{label}] {v:7.2f}  (beside the default's)")
    if result["default_run_seconds"] is not None:
        lines.append(f"  default_run_seconds         {result['default_run_seconds']:7.1f}  "
                     + (f"(target <= {t['default_run_seconds']:g})" if t else ""))
    return "\n".join(lines)


def main(args) -> int:
    cfg = BenchConfig.tiny() if args.quick else BenchConfig()
    if args.no_default_run:
        cfg.default_run = False
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the runner does in every process that runs a unit (lysep.harness.allocator)
    log = (lambda *a, **k: print(*a, **k, file=sys.stderr)) if args.json else print
    result = run_bench(cfg, args.device, log)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(table(result))
    return 0
