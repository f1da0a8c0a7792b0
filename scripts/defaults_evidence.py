"""The evidence behind each method's built-in defaults (docs/tuning.md, "The built-in defaults").

    python scripts/defaults_evidence.py

Every row pairs, seed by seed (the same initial network), one setting against another on the reporting seeds
0..9 of a paper example: the committed runs of the spec's settings (results/paper_example1, results/paper_example2),
the tuned winners (results/paper_example1_tuned, `lysep run results/paper_example1/tuning/tuned.toml`) and the
runs of configs/defaults_ex1.toml and configs/defaults_ex2.toml (results/defaults/). Columns: the two medians of
the final train CE, their ratio, the seeds on which the setting's CE is lower and the Wilcoxon
signed-rank p (analysis.comparisons.paired_row). tests/test_tuning_results.py checks that the page holds it.

The second table (issue 27, item 7) pairs the MM-block variant of the default with the default itself, both run
in one invocation (configs/defaults_mm_ex1.toml, configs/defaults_mm_ex2.toml -> results/defaults/mm_ex1, mm_ex2),
at equal iterations, equal wall time and equal flops: per cell and seed, the train CE of each run at the smaller of
the two runs' final budget values (analysis.comparisons.equal_budget_pairs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.comparisons import BUDGETS, equal_budget_pairs, paired_row  # noqa: E402
from analysis.render import display  # noqa: E402

#: (method, setting, its store and label, compared with, that store and label, example); stores under results/
ROWS: list[tuple[str, str, str, str, str, str, str, str]] = [
    ("lysep", "adaptive, spectral, beta 0.02 (Armijo blocks)", "defaults/ex1", "lysep-new",
     "fixed, beta 100 (Armijo blocks)", "paper_example1", "lysep", "Example 1"),
    ("lysep", "adaptive, spectral, beta 0.02 (Armijo blocks)", "defaults/ex2", "lysep-new",
     "fixed, beta 100 (Armijo blocks)", "paper_example2", "lysep", "Example 2"),
    ("lysep", "the tuned winner (Adam output layer)", "paper_example1_tuned", "lysep",
     "fixed, beta 100 (Armijo blocks)", "paper_example1", "lysep", "Example 1"),
    ("lysep", "the tuned winner (Adam output layer)", "paper_example1_tuned", "lysep",
     "adaptive, spectral, beta 0.02 (Armijo blocks)", "defaults/ex1", "lysep-new", "Example 1"),
    ("adam", "the tuned winner (lr 0.004033)", "paper_example1_tuned", "adam",
     "default (lr 0.01)", "paper_example1", "adam", "Example 1"),
    ("sgd", "the tuned winner (lr 0.002309, momentum 0.973)", "paper_example1_tuned", "sgd",
     "default (lr 0.05, momentum 0.9)", "defaults/ex1", "sgd", "Example 1"),
    ("gd", "the tuned winner (lr 0.07033)", "paper_example1_tuned", "gd",
     "default (lr 0.1)", "defaults/ex1", "gd", "Example 1"),
    ("gd", "default (lr 0.1)", "defaults/ex2", "gd", "the spec's (lr 0.5)", "paper_example2", "gd", "Example 2"),
]

#: the cells of Example 1 that were tuned on (and rerun); Example 2: its whole grid
EX1_CELLS = [(5, 20), (10, 20)]


def runs(store: str) -> pd.DataFrame:
    return pd.read_parquet(ROOT / "results" / store / "runs.parquet")


def rows() -> pd.DataFrame:
    out = []
    for method, setting, store, label, other, ostore, olabel, example in ROWS:
        a, b = runs(store), runs(ostore)
        cells = EX1_CELLS if example == "Example 1" else sorted(set(zip(b.depth, b.width)))
        for depth, width in cells:
            x = a[(a.method == label) & (a.depth == depth) & (a.width == width)].set_index("seed").final_F
            y = b[(b.method == olabel) & (b.depth == depth) & (b.width == width)].set_index("seed").final_F
            seeds = x.index.intersection(y.index).sort_values()
            xs, ys = x.loc[seeds].to_numpy(float), y.loc[seeds].to_numpy(float)
            out.append({"method": method, "setting": setting, "against": other, "example": example,
                        "cell": f"{depth}, {width}",
                        **paired_columns(xs, ys, ("CE of the setting", "CE against", "setting lower in"))})
    return pd.DataFrame(out)


def paired_columns(xs, ys, names: tuple[str, str, str]) -> dict:
    """One row's comparison columns of the setting's CEs ``xs`` against ``ys``, paired by position: seeds, the two
    medians and the lower-in count (under ``names``), their ratio and Wilcoxon's p."""
    r = paired_row(xs, ys)
    setting, against, lower = names
    return {"seeds": r["n_pairs"], setting: r["method_median"], against: r["baseline_median"], "ratio": r["ratio"],
            lower: f"{int((xs < ys).sum())}/{r['n_pairs']}", "Wilcoxon p": r["p_value"]}


#: the MM question: (example, store under results/, the candidate's label, the default's label)
MM_STORES: list[tuple[str, str, str, str]] = [("Example 1", "defaults/mm_ex1", "lysep-mm", "lysep"),
                                               ("Example 2", "defaults/mm_ex2", "lysep-mm", "lysep")]
#: the budgets of the MM table (keys of analysis.comparisons.BUDGETS)
MM_BUDGETS = ("iterations", "wall_time", "flops")


def mm_rows() -> pd.DataFrame:
    """The MM-block variant against the default, paired per seed at each budget of ``MM_BUDGETS``."""
    out = []
    for example, store, label, default in MM_STORES:
        traces = pd.read_parquet(ROOT / "results" / store / "traces.parquet")
        for budget in MM_BUDGETS:
            pairs = equal_budget_pairs(traces, label, default, budget)
            for (depth, width), cell in pairs.groupby(["depth", "width"], sort=True):
                xs, ys = cell["a"].to_numpy(float), cell["b"].to_numpy(float)
                out.append({"example": example, "cell": f"{depth}, {width}", "budget": BUDGETS[budget][1],
                            **paired_columns(xs, ys, ("CE with MM blocks", "CE of the default", "MM lower in"))})
    return pd.DataFrame(out)


def mm_verdict(table: pd.DataFrame, budget: str) -> str:
    """The defaults rule of docs/tuning.md at one budget: "ahead" where the MM variant's median is lower in every
    cell of both examples with p < 0.05 in at least one, "behind" where the default's is lower in every cell with
    p < 0.05 in at least one, else "mixed"."""
    sub = table[table["budget"] == BUDGETS[budget][1]]
    significant = sub["Wilcoxon p"] < 0.05
    if (sub["ratio"] < 1).all() and (significant & (sub["ratio"] < 1)).any():
        return "ahead"
    if (sub["ratio"] > 1).all() and (significant & (sub["ratio"] > 1)).any():
        return "behind"
    return "mixed"


def markdown(frame: pd.DataFrame) -> str:
    text = display(frame).astype(str)
    lines = ["| " + " | ".join(text.columns) + " |", "|" + "---|" * len(text.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in text.itertuples(index=False)])


def main() -> int:
    print(markdown(rows()))
    print()
    mm = mm_rows()
    print(markdown(mm))
    print()
    print("The MM blocks against the default: " + "; ".join(f"{BUDGETS[b][1]}: {mm_verdict(mm, b)}"
                                                          for b in MM_BUDGETS) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
