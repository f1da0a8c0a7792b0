"""The family tables of docs/findings.md: every method of a results store side by side, from its committed results.

    python scripts/family_table.py results/family_tuned

Prints two Markdown tables (tests/test_family_results.py checks that docs/findings.md holds them verbatim):

1. **Train CE at each budget**: per method, the median over cells of the median over seeds of the final train CE
   (every run's own budget), and of the train CE every method reaches at the cell and seed's common budget (the
   smallest final iteration count, grad_evals, wall time or flops of the methods' runs that did not diverge:
   ``analysis.comparisons.budget_values``, read only where every method had completed an iteration there;
   the number of such cells in brackets), the seed spread (median over cells of the standard deviation over
   seeds of log10 final train CE) and the diverged runs.
2. **Certificate and monotonicity**: per method with auxiliary variables (a ``B`` column), the trace rows after
   iteration 0 where ``B < F`` beyond the dtype's tolerance (``analysis.metrics.gap_counts``), those below
   resolution, the median final ``B - F`` and ``(B - F) / F``; per method that declares the decrease, the rows
   where ``J`` rose over an iteration.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import comparisons as cmp  # noqa: E402
from analysis.metrics import metrics_table  # noqa: E402

CELL = ["depth", "width"]


def fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.3g}"


def load(results: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    missing = [f for f in ("traces.parquet", "runs.parquet", "meta.json") if not (results / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{results}: no {', '.join(missing)}: expected a results directory written by "
                                "`lysep run` (e.g. results/family_tuned)")
    traces = pd.read_parquet(results / "traces.parquet")
    runs = pd.read_parquet(results / "runs.parquet")
    meta = json.loads((results / "meta.json").read_text())
    dtype = ((meta.get("spec") or {}).get("model") or {}).get("dtype")
    target = ((meta.get("spec") or {}).get("budget") or {}).get("target_ce")
    return traces, runs, metrics_table(traces, target, runs, dtype=dtype), meta


def order_of(meta: dict, methods) -> list[str]:
    """The spec's method order (its labels), then any other label."""
    spec = [m.get("label") or m.get("name") for m in (meta.get("spec") or {}).get("method", [])]
    return [m for m in spec if m in set(methods)] + sorted(set(methods) - set(spec))


def ce_values(traces: pd.DataFrame, metrics: pd.DataFrame, anytime: bool = False) -> pd.DataFrame:
    """Per method: the final CE and the CE at each recorded budget (median over cells of the seed medians), the cells
    comparable at each budget, the seed spread of log10 final CE and the diverged runs.

    ``anytime``: every seed counted, a method still in its first iteration at the common budget read at its starting
    point (as ``analysis.comparisons.budget_costs`` with ``at_start``); the cells column then counts the cells where
    the method had completed an iteration there in every seed. Otherwise only the seeds where every method had (the
    reports' reading)."""
    ok = metrics[~metrics["diverged"].astype(bool)]
    out = pd.DataFrame({"final": ok.groupby(["method", *CELL])["final_F"].median().groupby("method").median()})
    for budget in cmp.budgets_of(traces):
        v = cmp.budget_values(traces, budget)
        if not anytime:
            v = v[v["comparable"].astype(bool)]
        per_cell = v.groupby(["method", *CELL])["F"].median()
        out[budget] = per_cell.groupby("method").median()
        if anytime:  # the cells where the method had completed an iteration in every seed
            started = v.assign(s=v["iteration"] > 0).groupby(["method", *CELL])["s"].all()
            out[f"{budget}_cells"] = started.groupby("method").sum()
        else:
            out[f"{budget}_cells"] = per_cell.groupby("method").size()
    spread = ok.assign(logf=np.log10(ok["final_F"].clip(lower=1e-300))).groupby(["method", *CELL])["logf"].std()
    out["spread"] = spread.groupby("method").median()
    out["diverged"] = metrics.groupby("method")["diverged"].sum()
    out["runs"] = metrics.groupby("method").size()
    return out


def ce_table(traces: pd.DataFrame, metrics: pd.DataFrame, meta: dict, anytime: bool = False) -> str:
    v = ce_values(traces, metrics, anytime)
    budgets = cmp.budgets_of(traces)
    head = " | ".join(f"at {cmp.budget_words(b)}" for b in budgets)
    rows = [f"| method | final train CE | {head} | seed spread (std of log10 CE) | diverged runs |",
            "|---|" + "---:|" * (len(budgets) + 3)]
    for m in order_of(meta, v.index):
        r = v.loc[m]
        at = " | ".join(f"{fmt(r[b])} ({int(r[f'{b}_cells']) if np.isfinite(r[f'{b}_cells']) else 0})"
                        for b in budgets)
        rows.append(f"| {m} | {fmt(r['final'])} | {at} | {fmt(r['spread'])} | {int(r['diverged'])} of "
                    f"{int(r['runs'])} |")
    return "\n".join(rows)


def certificate_values(traces: pd.DataFrame, metrics: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per method with a ``B`` in its traces: rows checked after iteration 0, violations (B < F beyond tolerance),
    rows below resolution, the median final B - F and (B - F) / F; and J's increases where the decrease is
    declared (NaN where not)."""
    has_b = traces.groupby("method")["B"].apply(lambda b: bool(b.notna().any())) if "B" in traces else pd.Series()
    declared = runs.groupby("method")["decrease_guaranteed"].all() if "decrease_guaranteed" in runs else pd.Series()
    rows = {}
    for m, g in metrics.groupby("method"):
        if not bool(has_b.get(m, False)):
            continue
        rel = g["bound_gap_final"] / g["final_F"]
        rows[m] = {"checked": int(g["certificate_checked"].sum()), "violations": int(g["certificate_violations"].sum()),
                   "unresolved": int(g["certificate_unresolved"].sum()),
                   "gap": float(g["bound_gap_final"].median()), "rel": float(rel.median()),
                   "declares": bool(declared.get(m, False)),
                   "j_violations": int(g["j_violations"].sum()), "j_checked": int(g["j_checked"].sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def certificate_table(traces: pd.DataFrame, metrics: pd.DataFrame, runs: pd.DataFrame, meta: dict) -> str:
    v = certificate_values(traces, metrics, runs)
    rows = ["| method | rows checked (after iteration 0) | B < F | below resolution | median final B - F | "
            "median final (B - F) / F | declares the decrease | J increases / rows checked |",
            "|---|---:|---:|---:|---:|---:|---|---:|"]
    for m in order_of(meta, v.index):
        r = v.loc[m]
        mono = f"{r['j_violations']} / {r['j_checked']}" if r["declares"] else "not declared"
        rows.append(f"| {m} | {r['checked']} | {r['violations']} | {r['unresolved']} | {fmt(r['gap'])} | "
                    f"{fmt(r['rel'])} | {'yes' if r['declares'] else 'no'} | {mono} |")
    return "\n".join(rows)


def tables(results: Path) -> list[str]:
    traces, runs, metrics, meta = load(results)
    return [ce_table(traces, metrics, meta), certificate_table(traces, metrics, runs, meta)]


def print_tables(argv: list[str], make: Callable[[Path], list[str]], doc: str, name: str) -> int:
    """A table script's command line: ``make(RESULTS_DIR)``'s tables printed, each followed by a blank line; exit 2
    with the usage line of ``doc`` for a wrong argument count, or ``name: error: ...`` for a missing results file."""
    if len(argv) != 1:
        print(doc.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        printed = make(Path(argv[0]))
    except FileNotFoundError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    for t in printed:
        print(t)
        print()
    return 0


def main(argv: list[str]) -> int:
    return print_tables(argv, tables, __doc__, "family_table")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
