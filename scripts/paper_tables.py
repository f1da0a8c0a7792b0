"""The tables of docs/findings.md, from the committed results of the paper's two examples.

    python scripts/paper_tables.py          # the tuned results (v2): results/paper_example{1,2}_tuned/, and v1 beside
    python scripts/paper_tables.py --v1     # the first version's tables alone: results/paper_example{1,2}/

docs/findings.md holds every table printed here verbatim (tests/test_paper_results.py checks it,
and that the README's headline numbers are these tables' numbers).

Every number is a median over the seeds of a run's final value (runs.parquet), a train CE read at an
equal budget from the traces (analysis.comparisons.equal_budget_pairs), a verdict of the report
(tables/claims.csv) or its performance-profile summary (tables/profiles.csv); nothing is typed in by
hand except the paper's stated numbers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import comparisons as cmp  # noqa: E402
from analysis.comparisons import budget_words, equal_budget_pairs  # noqa: E402

#: the budgets the v1 and v2 results record (they predate the flops column, docs/method.md 8.1)
BUDGETS = [b for b in cmp.BUDGETS if b != "flops"]

RESULTS = ROOT / "results"
#: the results of each version: v1 (the specs' own settings) and v2 (every method at its `lysep tune` setting)
VERSIONS = {"v1": {"ex1": "paper_example1", "ex2": "paper_example2"},
            "v2": {"ex1": "paper_example1_tuned", "ex2": "paper_example2_tuned"}}
TITLES = {"ex1": "Example 1 (FNN, circle)", "ex2": "Example 2 (CNN, digits)"}
#: the paper's stated Example 2 numbers at (L1, C) = (4, 4): CE training -> LySep
PAPER_EX2 = {"train_ce": (1.43e-1, 5.09e-2), "train_acc": (0.9597, 0.9968)}
ORDER = ["lysep", "lysep-adamblk", "lysep-joint", "adam", "sgd", "gd"]


def load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = RESULTS / name
    runs = pd.read_parquet(d / "runs.parquet")
    claims = pd.read_csv(d / "tables" / "claims.csv")
    return runs[runs.status != "failed"], claims


def fmt(v: float, kind: str = "g") -> str:
    if np.isinf(v):  # a median ratio of a profile where the method did not reach the target in most cells
        return "inf"
    if not np.isfinite(v):
        return "n/a"
    if kind == "pct":
        return f"{100 * v:.2f}%"
    return f"{v:.3g}"


def claims_table(claims: dict[tuple[str, str], pd.DataFrame]) -> str:
    """Every (claim, budget) row with its verdict for each example and version, and where it changed from v1."""
    cols = [(ex, v) for ex in ("ex1", "ex2") for v in ("v1", "v2")]
    names = {"v1": "v1", "v2": "tuned"}
    head = " | ".join(f"{TITLES[ex].split(' (')[0]}, {names[v]}" for ex, v in cols)
    rows = [f"| claim | budget | {head} | changed |", "|---|---|" + "---|" * len(cols) + "---|"]
    first = claims[cols[0]]
    for _, r in first.iterrows():
        verdict = {}
        for key in cols:
            t = claims[key]
            hit = t[(t["id"] == r["id"]) & (t["budget"] == r["budget"])]
            verdict[key] = hit["verdict"].iloc[0] if len(hit) else "n/a"
        changed = [TITLES[ex].split(" (")[0] for ex in ("ex1", "ex2") if verdict[(ex, "v1")] != verdict[(ex, "v2")]]
        cells = " | ".join(f"**{verdict[k]}**" if k[1] == "v2" else verdict[k] for k in cols)
        rows.append(f"| {r['id']}: {r['claim']} | {r['budget']} | {cells} | {', '.join(changed) or '-'} |")
    return "\n".join(rows)


def profiles_table(name: str) -> str:
    """The report's performance-profile summary (tables/profiles.csv) of one results directory: the cost to reach the
    spec's target CE in each unit (Dolan-More), then F at each budget where every method had completed an
    iteration ("not comparable" where no cell had)."""
    p = pd.read_csv(RESULTS / name / "tables" / "profiles.csv")
    meta = json.loads((RESULTS / name / "meta.json").read_text())
    target = float(meta["spec"]["budget"]["target_ce"])
    keep = [f"{u} to CE {target:g}" for u in ("iterations", "grad_evals", "seconds")]
    p = p[p["budget"].isin(keep) | p["budget"].str.startswith("F at ")]
    rows = ["| profile | method | cells | best in | within 2x of the best | within 10x | median ratio to the best |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in p.to_dict("records"):
        n = int(r["cells"])
        share = [f"{round(r[k] * n)}/{n}" if n else "not comparable" for k in ("rho@1", "rho@2", "rho@10")]
        rows.append(f"| {r['budget']} | {r['method']} | {n} | {' | '.join(share)} | {fmt(r['median_ratio'])} |")
    return "\n".join(rows)


def example1_table(runs: pd.DataFrame) -> str:
    rows = ["| depth | method | median final train CE | median seed std of final CE | median test acc | "
            "runs diverged | median s per run |", "|---|---|---:|---:|---:|---:|---:|"]
    for depth, g in runs.groupby("depth"):
        for m in [m for m in ORDER if m in set(g.method)]:
            r = g[g.method == m]
            spread = r.groupby("width").final_F.std().median()
            rows.append(f"| {depth} | {m} | {fmt(r.final_F.median())} | {fmt(spread)} | "
                        f"{fmt(r.final_test_acc.median(), 'pct')} | {int((r.status == 'diverged').sum())}/{len(r)} | "
                        f"{fmt(r.wall_time.median())} |")
    return "\n".join(rows)


def example2_table(runs: pd.DataFrame) -> str:
    rows = ["| (L1, C) | method | median final train CE | median train acc | median test acc | median s per run |",
            "|---|---|---:|---:|---:|---:|"]
    for (depth, width), g in runs.groupby(["depth", "width"]):
        for m in [m for m in ORDER if m in set(g.method)]:
            r = g[g.method == m]
            rows.append(f"| ({depth}, {width}) | {m} | {fmt(r.final_F.median())} | "
                        f"{fmt(r.final_train_acc.median(), 'pct')} | {fmt(r.final_test_acc.median(), 'pct')} | "
                        f"{fmt(r.wall_time.median())} |")
        if (depth, width) == (4, 4):
            ce, acc = PAPER_EX2["train_ce"], PAPER_EX2["train_acc"]
            rows.append(f"| (4, 4) | *paper: CE training* | *{ce[0]:.3g}* | *{100 * acc[0]:.2f}%* | | |")
            rows.append(f"| (4, 4) | *paper: LySep* | *{ce[1]:.3g}* | *{100 * acc[1]:.2f}%* | | |")
    return "\n".join(rows)


def equal_cost_values(name: str, lysep: str = "lysep", base: str = "adam") -> pd.DataFrame:
    """Per cell: the baseline's final train CE and LySep's at the baseline's iterations, grad_evals and wall time
    (medians over seeds; each seed pair read at the smaller of the two runs' final budget)."""
    tr = pd.read_parquet(RESULTS / name / "traces.parquet", columns=["method", "depth", "width", "seed", "iteration",
                                                                     "F", "grad_evals", "wall_time"])
    out = None
    for budget in BUDGETS:
        pairs = equal_budget_pairs(tr, lysep, base, budget)
        med = pairs.groupby(["depth", "width"])[["a", "b"]].median().rename(columns={"a": budget, "b": f"b_{budget}"})
        out = med if out is None else out.join(med)
    out = out.rename(columns={"b_iterations": "base"})
    return out[["base", *BUDGETS]].reset_index()


def equal_cost_table(name: str, lysep: str = "lysep", base: str = "adam") -> str:
    """LySep's train CE at Adam's iteration count, grad_evals and wall time (medians over seeds, per cell)."""
    v = equal_cost_values(name, lysep, base)
    words = " | ".join(f"{lysep} at {budget_words(b)}" for b in BUDGETS)
    rows = [f"| (depth, width) | {base}: final train CE | {words} |", "|---|---:|---:|---:|---:|"]
    for r in v.itertuples(index=False):
        rows.append(f"| ({r.depth}, {r.width}) | {fmt(r.base)} | {fmt(r.iterations)} | {fmt(r.grad_evals)} | "
                    f"{fmt(r.wall_time)} |")
    return "\n".join(rows)


def tuning_effect_table() -> str:
    """Per example and method: the median over cells of the median final train CE, v1 setting vs tuned, on the
    cells both versions ran."""
    rows = ["| example | method | v1 setting | tuned setting | tuned / v1 |", "|---|---|---:|---:|---:|"]
    for ex in ("ex1", "ex2"):
        r1, _ = load(VERSIONS["v1"][ex])
        r2, _ = load(VERSIONS["v2"][ex])
        cells = set(map(tuple, r2[["depth", "width"]].drop_duplicates().to_numpy()))
        r1 = r1[[c in cells for c in map(tuple, r1[["depth", "width"]].to_numpy())]]
        for m in [m for m in ORDER if m in set(r1.method) & set(r2.method)]:
            a = r1[r1.method == m].groupby(["depth", "width"]).final_F.median().median()
            b = r2[r2.method == m].groupby(["depth", "width"]).final_F.median().median()
            rows.append(f"| {TITLES[ex].split(' (')[0]} | {m} | {fmt(a)} | {fmt(b)} | {fmt(b / a)} |")
    return "\n".join(rows)


def spread_table() -> str:
    """c4 with its test: per example (tuned) and budget, the Brown-Forsythe tests of log CE of the report's
    claim_c4_<budget>.csv (LySep vs the best baseline of each cell, Holm over the tested cells), the raw-scale std
    ratio beside."""
    rows = ["| example | budget | cells tested | not comparable | LySep significantly less spread | "
            "baseline significantly less spread | median std ratio of log CE, LySep / baseline | "
            "median std ratio of raw CE | largest Holm p |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for ex in ("ex1", "ex2"):
        for budget in BUDGETS:
            t = pd.read_csv(RESULTS / VERSIONS["v2"][ex] / "tables" / f"claim_c4_{budget}.csv")
            tested = t[t["p_value"].notna()]
            sig = tested["p_holm"] < 0.05
            less = int((sig & (tested["spread_method"] < tested["spread_baseline"])).sum())
            more = int((sig & (tested["spread_method"] > tested["spread_baseline"])).sum())
            ratio = float(np.nanmedian(tested["std_method"] / tested["std_baseline"])) if len(tested) else np.nan
            raw = (float(np.nanmedian(tested["raw_std_method"] / tested["raw_std_baseline"])) if len(tested)
                   else np.nan)
            top = fmt(float(tested["p_holm"].max())) if len(tested) else "n/a"
            rows.append(f"| {TITLES[ex].split(' (')[0]} | {budget_words(budget)} | {len(tested)} | "
                        f"{len(t) - len(tested)} | {less} | {more} | {fmt(ratio)} | {fmt(raw)} | {top} |")
    return "\n".join(rows)


def missing(names: list[str]) -> list[str]:
    return [n for n in names if not (RESULTS / n / "runs.parquet").exists()]


def print_version(version: str) -> None:
    names = VERSIONS[version]
    r1, _ = load(names["ex1"])
    r2, _ = load(names["ex2"])
    print(f"### Example 1 ({version}): final values after the iteration budget (10 seeds per cell, medians over "
          "widths)\n")
    print(example1_table(r1))
    print(f"\n### Example 1 ({version}): LySep at Adam's cost (median over 10 seeds of train CE)\n")
    print(equal_cost_table(names["ex1"]))
    print(f"\n### Example 2 ({version}): final values after the iteration budget (10 seeds per cell)\n")
    print(example2_table(r2))
    print(f"\n### Example 2 ({version}): LySep at Adam's cost (median over 10 seeds of train CE)\n")
    print(equal_cost_table(names["ex2"]))


def main(argv: list[str]) -> int:
    versions = ["v1"] if "--v1" in argv else ["v1", "v2"]
    absent = missing([n for v in versions for n in VERSIONS[v].values()])
    if absent:
        print(f"missing results: {', '.join(absent)} (run `lysep run configs/<name>.toml`, resp. the tuned spec, "
              "first)", file=sys.stderr)
        return 2
    if versions == ["v1"]:
        print_version("v1")
        return 0
    claims = {(ex, v): load(VERSIONS[v][ex])[1] for ex in ("ex1", "ex2") for v in ("v1", "v2")}
    print("### Claims, v1 and tuned, at each budget\n")
    print(claims_table(claims))
    for ex in ("ex1", "ex2"):
        print(f"\n### {TITLES[ex]}, tuned: performance profiles over the cells\n")
        print(profiles_table(VERSIONS["v2"][ex]))
    print("\n### What tuning changed: median over cells of each method's median final train CE\n")
    print(tuning_effect_table())
    print()
    print_version("v2")
    print("\n### Seed spread (c4) at each budget, tuned: Brown-Forsythe of log CE per cell\n")
    print(spread_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
