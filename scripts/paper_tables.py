"""The tables of docs/findings.md, from the committed results of the paper's two examples.

    python scripts/paper_tables.py            # reads results/paper_example1/ and results/paper_example2/

docs/findings.md holds every table printed here verbatim (tests/test_paper_results.py checks it,
and that the README's headline numbers are these tables' extremes).

Every number is a median over the seeds of a run's final value (runs.parquet) or a verdict of
the report (tables/claims.csv); nothing is typed in by hand except the paper's stated numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent / "results"
#: the paper's stated Example 2 numbers at (L1, C) = (4, 4): CE training -> LySep
PAPER_EX2 = {"train_ce": (1.43e-1, 5.09e-2), "train_acc": (0.9597, 0.9968)}


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = ROOT / name
    runs = pd.read_parquet(d / "runs.parquet")
    claims = pd.read_csv(d / "tables" / "claims.csv")
    return runs[runs.status != "failed"], claims


def fmt(v: float, kind: str = "g") -> str:
    if not np.isfinite(v):
        return "n/a"
    if kind == "pct":
        return f"{100 * v:.2f}%"
    return f"{v:.3g}"


def claims_table(c1: pd.DataFrame, c2: pd.DataFrame) -> str:
    rows = ["| claim | Example 1 (FNN, circle) | Example 2 (CNN, digits) |", "|---|---|---|"]
    both = c1.merge(c2, on="id", suffixes=("_1", "_2"))
    for _, r in both.iterrows():
        rows.append(f"| {r.id}: {r.claim_1} | **{r.verdict_1}** | **{r.verdict_2}** |")
    return "\n".join(rows)


def example1_table(runs: pd.DataFrame) -> str:
    order = ["lysep", "lysep-adamblk", "lysep-joint", "adam", "sgd", "gd"]
    rows = ["| depth | method | median final train CE | median seed std of final CE | median test acc | "
            "runs diverged | median s per run |", "|---|---|---:|---:|---:|---:|---:|"]
    for depth, g in runs.groupby("depth"):
        for m in [m for m in order if m in set(g.method)]:
            r = g[g.method == m]
            spread = r.groupby("width").final_F.std().median()
            rows.append(f"| {depth} | {m} | {fmt(r.final_F.median())} | {fmt(spread)} | "
                        f"{fmt(r.final_test_acc.median(), 'pct')} | {int((r.status == 'diverged').sum())}/{len(r)} | "
                        f"{fmt(r.wall_time.median())} |")
    return "\n".join(rows)


def example2_table(runs: pd.DataFrame) -> str:
    order = ["lysep", "lysep-joint", "adam", "sgd", "gd"]
    rows = ["| (L1, C) | method | median final train CE | median train acc | median test acc | median s per run |",
            "|---|---|---:|---:|---:|---:|"]
    for (depth, width), g in runs.groupby(["depth", "width"]):
        for m in [m for m in order if m in set(g.method)]:
            r = g[g.method == m]
            rows.append(f"| ({depth}, {width}) | {m} | {fmt(r.final_F.median())} | "
                        f"{fmt(r.final_train_acc.median(), 'pct')} | {fmt(r.final_test_acc.median(), 'pct')} | "
                        f"{fmt(r.wall_time.median())} |")
        if (depth, width) == (4, 4):
            ce, acc = PAPER_EX2["train_ce"], PAPER_EX2["train_acc"]
            rows.append(f"| (4, 4) | *paper: CE training* | *{ce[0]:.3g}* | *{100 * acc[0]:.2f}%* | | |")
            rows.append(f"| (4, 4) | *paper: LySep* | *{ce[1]:.3g}* | *{100 * acc[1]:.2f}%* | | |")
    return "\n".join(rows)


def _at(run: pd.DataFrame, column: str, limit: float) -> float:
    """F at the last recorded row with ``column <= limit`` (the run's state when that budget ran out)."""
    within = run[run[column] <= limit * (1 + 1e-9)]
    return float(within.F.iloc[-1]) if len(within) else float("nan")


def equal_cost_table(name: str, lysep: str = "lysep", base: str = "adam") -> str:
    """LySep's train CE at Adam's iteration count, grad_evals and wall time (medians over seeds, per cell)."""
    tr = pd.read_parquet(ROOT / name / "traces.parquet", columns=["method", "depth", "width", "seed", "iteration",
                                                                    "F", "grad_evals", "wall_time"])
    tr = tr[tr.method.isin([lysep, base])].sort_values("iteration")
    rows = [f"| (depth, width) | {base}: final train CE | {lysep} at equal iterations | {lysep} at equal grad_evals | "
            f"{lysep} at equal wall time |", "|---|---:|---:|---:|---:|"]
    for (depth, width), cell in tr.groupby(["depth", "width"]):
        vals = {"base": [], "it": [], "ge": [], "t": []}
        for _seed, g in cell.groupby("seed"):
            b, m = g[g.method == base], g[g.method == lysep]
            if b.empty or m.empty:
                continue
            last = b.iloc[-1]
            vals["base"].append(float(last.F))
            vals["it"].append(_at(m, "iteration", last.iteration))
            vals["ge"].append(_at(m, "grad_evals", last.grad_evals))
            vals["t"].append(_at(m, "wall_time", last.wall_time))
        med = {k: float(np.nanmedian(v)) if v else float("nan") for k, v in vals.items()}
        rows.append(f"| ({depth}, {width}) | {fmt(med['base'])} | {fmt(med['it'])} | {fmt(med['ge'])} | "
                    f"{fmt(med['t'])} |")
    return "\n".join(rows)


def main() -> int:
    missing = [n for n in ("paper_example1", "paper_example2") if not (ROOT / n / "runs.parquet").exists()]
    if missing:
        print(f"missing results: {', '.join(missing)} (run `lysep run configs/<name>.toml` first)", file=sys.stderr)
        return 2
    r1, c1 = load("paper_example1")
    r2, c2 = load("paper_example2")
    print("### Claims\n")
    print(claims_table(c1, c2))
    print("\n### Example 1: final values after the iteration budget (10 seeds per cell, medians over widths)\n")
    print(example1_table(r1))
    print("\n### Example 1: LySep at Adam's cost (median over 10 seeds of train CE)\n")
    print(equal_cost_table("paper_example1"))
    print("\n### Example 2: final values after the iteration budget (10 seeds per cell)\n")
    print(example2_table(r2))
    print("\n### Example 2: LySep at Adam's cost (median over 10 seeds of train CE)\n")
    print(equal_cost_table("paper_example2"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
