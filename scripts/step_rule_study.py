"""Summary of the step-rule study (configs/study_step_rule_ex1.toml, configs/study_step_rule_ex2.toml): the
LySep block step rules per iteration and per second, as the Markdown tables of results/PERFORMANCE.md.

    lysep run configs/study_step_rule_ex1.toml --no-report       # -> results/study_step_rule_ex1
    lysep run configs/study_step_rule_ex2.toml --no-report       # -> results/study_step_rule_ex2
    python scripts/step_rule_study.py results/study_step_rule_ex1 results/study_step_rule_ex2

Per cell and rule, medians over seeds of: milliseconds per iteration, J and F (the training CE) after
a quarter, half and all of the iterations, and J and F at equal wall time: at a quarter, half and all
of the shortest run's time in that cell (each seed's last recorded row at or before that time).
The verdict compares each rule with ``armijo`` on the geometric mean over cells of F at the cell's
common time: "not worse per second" means a ratio <= 1 on every example.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BASE = "armijo"
FRACTIONS = (0.25, 0.5, 1.0)


def at_time(run: pd.DataFrame, t: float) -> pd.Series:
    """The last recorded row of one seed's run at or before wall time ``t``."""
    rows = run[run.wall_time <= t + 1e-12]
    return rows.iloc[-1] if len(rows) else run.iloc[0]


def cell_table(tr: pd.DataFrame) -> pd.DataFrame:
    """One row per (depth, width, method): ms/iteration and the medians of J and F per iteration and per second."""
    rows = []
    for (depth, width), cell in tr.groupby(["depth", "width"]):
        last_it = int(cell.iteration.max())
        horizon = cell.groupby(["method", "seed"]).wall_time.max().min()  # every run got this far
        for method, runs in cell.groupby("method", sort=False):
            row = {"depth": depth, "width": width, "method": method,
                   "ms_per_iteration": 1e3 * runs.groupby("seed").apply(
                       lambda r: r.wall_time.max() / r.iteration.max(), include_groups=False).median()}
            for f in FRACTIONS:
                k = int(round(f * last_it))
                at_k = runs[runs.iteration == k]
                row[f"J_it{k}"], row[f"F_it{k}"] = at_k.J.median(), at_k.F.median()
                picked = pd.DataFrame([at_time(r, f * horizon) for _, r in runs.groupby("seed")])
                row[f"J_t{f:g}"], row[f"F_t{f:g}"] = picked.J.median(), picked.F.median()
            row["seconds"] = horizon
            rows.append(row)
    return pd.DataFrame(rows)


def geomean(values) -> float:
    v = np.asarray(list(values), dtype=float)
    return float(np.exp(np.log(v).mean()))


def verdicts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per example and rule: geometric mean over cells of F and J, relative to ``armijo``, at equal iterations
    and at equal time (the end of the common horizon)."""
    rows = []
    for example, t in tables.items():
        last_f = [c for c in t.columns if c.startswith("F_it")][-1]
        base = t[t.method == BASE].set_index(["depth", "width"])
        for method, part in t.groupby("method", sort=False):
            part = part.set_index(["depth", "width"])
            rows.append({"example": example, "method": method,
                         "ms_per_iteration / armijo": geomean(part.ms_per_iteration / base.ms_per_iteration),
                         "F per iteration / armijo": geomean(part[last_f] / base[last_f]),
                         "F per second / armijo": geomean(part["F_t1"] / base["F_t1"]),
                         "J per second / armijo": geomean(part["J_t1"] / base["J_t1"])})
    return pd.DataFrame(rows)


def markdown(df: pd.DataFrame, digits: int = 4) -> str:
    cols = list(df.columns)
    rule = "|".join("---" if df[c].dtype == object else "---:" for c in cols)
    out = ["| " + " | ".join(cols) + " |", f"|{rule}|"]
    for _, r in df.iterrows():
        out.append("| " + " | ".join(("-" if not math.isfinite(v) else f"{v:.{digits}g}") if isinstance(v, float)
                                     else str(v) for v in r) + " |")
    return "\n".join(out)


def compact(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per example and cell, one column per rule: "F at the common time (ms per iteration)"."""
    rows = []
    for example, t in tables.items():
        for (depth, width), cell in t.groupby(["depth", "width"]):
            row = {"example": example, "cell": f"{depth}, {width}"}
            for _, r in cell.iterrows():
                row[r["method"]] = f"{r['F_t1']:.3g} ({r['ms_per_iteration']:.0f})"
            rows.append(row)
    return pd.DataFrame(rows)


def main(dirs: list[str]) -> int:
    tables = {}
    for d in dirs:
        tr = pd.read_parquet(Path(d) / "traces.parquet")
        tables[Path(d).name] = t = cell_table(tr)
        print(f"\n### {Path(d).name}\n")
        print(markdown(t))
    print("\n### F at the common time (ms per iteration), per cell\n")
    print(markdown(compact(tables)))
    v = verdicts(tables)
    print("\n### Geometric means over cells, relative to armijo (below 1: better)\n")
    print(markdown(v, 3))
    print()
    for method, part in v.groupby("method", sort=False):
        if method == BASE:
            continue
        ok = bool((part["F per second / armijo"] <= 1.0).all())
        verdict = "not worse per second than armijo on every example" if ok else \
            "worse per second than armijo on at least one example"
        print(f"- {method}: {verdict} (F at equal time / armijo's: "
              f"{', '.join(f'{e}: {x:.3g}' for e, x in zip(part['example'], part['F per second / armijo']))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
