"""Synthetic results stores with known structure, for the analysis tests (fixtures, not part of the package).

The tables follow the trace/run/meta contract the runner writes (method.md section 6); losses
decay exponentially at a per-method rate with seed noise, so effects are known in advance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lysep.harness.store import ResultsStore
from lysep.methods.base import ALTERNATING, BASELINE, JOINT

F_START = float(np.log(2.0))  # CE of a 2-class problem at a balanced initial point
F_FLOOR = 1e-3


@dataclass(frozen=True)
class SyntheticMethod:
    """How one synthetic method behaves.

    ``rate``: decay rate of (F - floor) per iteration; ``seed_sd``: lognormal spread of the rate
    over seeds; ``depth_gain``: rate factor ``(1 + depth_gain * (depth - 1))``; ``diverge_at``:
    iteration at which seed 0 diverges (None = never).
    """

    label: str
    algorithm: str
    family: str = ""  # the declared family; default: alternating for "lysep", joint for "lysep-joint", else baseline
    rate: float = 0.1
    seed_sd: float = 0.1
    seconds_per_iter: float = 0.01
    grad_evals_per_iter: float = 1.0
    depth_gain: float = 0.0
    diverge_at: int | None = None

    def __post_init__(self) -> None:
        if not self.family:
            guess = {"lysep": ALTERNATING, "lysep-joint": JOINT}.get(self.algorithm, BASELINE)
            object.__setattr__(self, "family", guess)

    @property
    def separated(self) -> bool:
        return self.family != BASELINE

    def properties(self) -> dict:
        """What the runner stores with each run (lysep.methods.base.Method.properties)."""
        return {"family": self.family, "decrease_guaranteed": self.family == ALTERNATING, "default_config": True,
                "metrics": "J,J_start,B,residual,beta" if self.separated else ""}


def _run_rows(m: SyntheticMethod, depth: int, width: int, seed: int, iterations: int, eval_every: int,
              rng: np.random.Generator) -> pd.DataFrame:
    """Trace rows of one synthetic run."""
    k = np.arange(iterations + 1)
    rate = m.rate * (1 + m.depth_gain * (depth - 1)) * np.exp(m.seed_sd * rng.standard_normal())
    f = F_FLOOR + (F_START - F_FLOOR) * np.exp(-rate * k) * np.exp(0.02 * rng.standard_normal(k.size))
    f[0] = F_START
    acc = np.clip(1.0 - 0.5 * f / F_START, 0.0, 1.0)
    evaluated = (k % eval_every == 0) | (k == iterations)
    rows = {"method": m.label, "algorithm": m.algorithm, "depth": depth, "width": width, "seed": seed,
            "iteration": k, "wall_time": k * m.seconds_per_iter, "grad_evals": k * m.grad_evals_per_iter,
            "F": f, "train_acc": acc, "test_ce": np.where(evaluated, 1.1 * f, np.nan),
            "test_acc": np.where(evaluated, acc - 0.02, np.nan)}
    lysep = m.separated
    gap = 0.05 * np.exp(-0.05 * k) * (k > 0)
    j = f + gap if lysep else np.full(k.size, np.nan)
    rows["J"] = j
    rows["J_start"] = np.maximum(j, np.concatenate([[j[0]], j[:-1]])) if lysep else j  # J never rises in-iteration
    rows["B"] = f + 2 * gap if lysep else np.full(k.size, np.nan)
    rows["bound_gap"] = rows["B"] - f
    rows["surrogate_gap"] = j - f
    for layer in range(1, depth + 1):
        rows[f"residual_{layer}"] = 0.1 * np.exp(-0.05 * k) * (k > 0) if lysep else np.full(k.size, np.nan)
        rows[f"beta_{layer}"] = np.full(k.size, 10.0 if lysep else np.nan)
    rows["diverged"] = np.zeros(k.size, dtype=bool)
    df = pd.DataFrame(rows)
    if m.diverge_at is not None and seed == 0 and m.diverge_at <= iterations:
        df = df.iloc[: m.diverge_at + 1].copy()
        df.loc[df.index[-1], ["F", "J", "B", "bound_gap", "surrogate_gap", "train_acc", "test_ce", "test_acc"]] = np.nan
        df.loc[df.index[-1], "diverged"] = True
    return df


def synthetic_traces(methods: Sequence[SyntheticMethod], depths: Sequence[int] = (2,), widths: Sequence[int] = (8,),
                     seeds: int = 3, iterations: int = 30, eval_every: int = 5, rng: int = 0) -> pd.DataFrame:
    """Long trace table for every method x depth x width x seed (residual/beta columns up to max depth)."""
    gen = np.random.default_rng(rng)
    parts = [_run_rows(m, d, w, s, iterations, eval_every, gen)
             for d in depths for w in widths for m in methods for s in range(seeds)]
    traces = pd.concat(parts, ignore_index=True)
    layers = max(depths)
    lead = [c for c in traces.columns if not c.startswith(("residual_", "beta_")) and c != "diverged"]
    extra = [f"{p}_{i}" for p in ("residual", "beta") for i in range(1, layers + 1)]
    return traces.reindex(columns=[*lead, *extra, "diverged"])


def runs_from_traces(traces: pd.DataFrame, methods: Sequence[SyntheticMethod] = ()) -> pd.DataFrame:
    """The runs table (one row per run) the runner writes next to the traces, with the properties of
    ``methods`` (by label; a label not given gets the properties its algorithm suggests)."""
    props = {m.label: m.properties() for m in methods}
    rows = []
    for (method, depth, width, seed), run in traces.groupby(["method", "depth", "width", "seed"], sort=True):
        run = run.sort_values("iteration")
        last = run.iloc[-1]
        div = bool(run["diverged"].any())
        rows.append({"method": method, "algorithm": last["algorithm"], "depth": depth, "width": width, "seed": seed,
                     "status": "diverged" if div else "completed",
                     "diverged_at": float(last["iteration"]) if div else np.nan,
                     "iterations": int(last["iteration"]), "wall_time": float(last["wall_time"]),
                     "grad_evals": float(last["grad_evals"]), "final_F": float(last["F"]),
                     "final_train_acc": float(last["train_acc"]), "final_test_ce": float(last["test_ce"]),
                     "final_test_acc": float(last["test_acc"]), "final_J": float(last["J"]),
                     "final_B": float(last["B"]),
                     **props.get(method, SyntheticMethod(method, str(last["algorithm"])).properties())})
    return pd.DataFrame(rows)


def synthetic_meta(methods: Sequence[SyntheticMethod], name: str = "synthetic", target_ce: float | None = 0.05,
                   kind: str = "fnn", dataset: str = "circle", iterations: int = 30, eval_every: int = 5,
                   depths: Sequence[int] = (2,), widths: Sequence[int] = (8,), seeds: int = 3) -> dict:
    """A meta.json dict with the spec fields the report reads."""
    return {"spec": {"name": name, "data": {"dataset": dataset, "n_train": 200, "n_test": 100},
                     "model": {"kind": kind, "activation": "tanh"},
                     "grid": {"depth": list(depths), "width": list(widths), "seeds": seeds},
                     "budget": {"iterations": iterations, "seconds": None, "grad_evals": None,
                                "target_ce": target_ce, "eval_every": eval_every},
                     "methods": [{"name": m.algorithm, "label": m.label, "hparams": {}} for m in methods]},
            "git_commit": "0123456789abcdef", "versions": {"python": "3.11", "numpy": np.__version__},
            "device": "cpu", "host": "synthetic", "started": "2026-01-01T00:00:00",
            "finished": "2026-01-01T00:01:00"}


def write_decision(directory: Path, methods: Sequence[str], depth: int, width: int, n_grid: int = 60,
                   n_test: int = 150, rng: int = 0) -> None:
    """Decision-region grids where the results store keeps them, for the circle task (radius differs per method)."""
    gen = np.random.default_rng(rng)
    out = Path(directory) / "decision"
    out.mkdir(parents=True, exist_ok=True)
    g = np.linspace(-1, 1, n_grid)
    xx, yy = np.meshgrid(g, g)
    x_test = gen.uniform(-1, 1, size=(n_test, 2))
    y_test = (np.sum(x_test**2, axis=1) < 0.5).astype(int)
    for i, method in enumerate(methods):
        r2 = 0.5 * (1 + 0.15 * (i + 1) * (-1) ** i)
        zz = (xx**2 + yy**2 < r2).astype(int)
        pred = (np.sum(x_test**2, axis=1) < r2).astype(int)
        np.savez(ResultsStore(directory).decision_path(method, depth, width), xx=xx, yy=yy, zz=zz, x_test=x_test,
                 y_test=y_test, pred_test=pred, method=np.array(method))


def write_results(directory: Path, traces: pd.DataFrame, meta: dict, runs: pd.DataFrame | None = None,
                  methods: Sequence[SyntheticMethod] = ()) -> Path:
    """Write ``traces.parquet``, ``runs.parquet`` and ``meta.json`` into ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    traces.to_parquet(directory / "traces.parquet", index=False)
    runs = runs if runs is not None else runs_from_traces(traces, methods)
    runs.to_parquet(directory / "runs.parquet", index=False)
    (directory / "meta.json").write_text(json.dumps(meta, indent=2))
    return directory


DEMO_METHODS = (
    SyntheticMethod("lysep", "lysep", rate=0.25, seed_sd=0.05, seconds_per_iter=0.02, depth_gain=0.3),
    SyntheticMethod("lysep-joint", "lysep-joint", rate=0.12, seed_sd=0.1, seconds_per_iter=0.008),
    SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.2, seconds_per_iter=0.01),
    SyntheticMethod("sgd", "sgd", rate=0.05, seed_sd=0.3, seconds_per_iter=0.01, diverge_at=12),
)


def demo_results(directory: Path, seeds: int = 8, iterations: int = 40, depths: Sequence[int] = (2, 4),
                 widths: Sequence[int] = (8, 16), name: str = "synthetic-demo") -> Path:
    """A small complete results store (with decision regions) for previewing the report."""
    traces = synthetic_traces(DEMO_METHODS, depths, widths, seeds, iterations)
    meta = synthetic_meta(DEMO_METHODS, name=name, iterations=iterations, depths=depths, widths=widths, seeds=seeds)
    write_results(directory, traces, meta, methods=DEMO_METHODS)
    for d in depths:
        for w in widths:
            write_decision(directory, [m.label for m in DEMO_METHODS], d, w)
    return Path(directory)
