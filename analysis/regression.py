"""Is the new code worse? Paired comparison of two results directories of the same spec (``lysep compare``).

Runs are paired by (method, depth, width, seed): same data, same theta_0, so the paired differences
``new - base`` carry only what the code changed. Per cell, method and metric a row gets one verdict:

- **identical**: every run of the cell and method has the same fingerprint on both sides (the same
  numbers bit for bit: ``lysep.harness.store.fingerprint``); no test is needed;
- **worse** / **better**: Wilcoxon signed-rank on the paired differences, Holm-adjusted over the rows
  of the metric, p < alpha, in that direction (for accuracy, higher is better);
- **equivalent**: the paired TOST (two one-sided Wilcoxon tests) shows the difference lies within the
  metric's declared margin (:data:`MARGINS`), p < alpha;
- **inconclusive**: neither; the reason says how many pairs there were and how many the tests need
  ("add seeds").

Wall time is compared only when both sides ran on the same host and device, and only for information:
absolute times move with the machine's load, so its rows never count as worse (``counts`` is False);
``lysep track`` judges speed with in-process ratios and counted work instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats
from analysis.comparisons import pair_by_seed
from analysis.metrics import RUN_KEYS, metrics_table
from lysep.harness.store import ResultsStore, fingerprint, load_arrays, read_json, read_parquet

IDENTICAL, WORSE, BETTER, EQUIVALENT, INCONCLUSIVE = "identical", "worse", "better", "equivalent", "inconclusive"
SLOWER, FASTER = "slower", "faster"  # wall-time rows: information, never a regression
VERDICTS = (WORSE, INCONCLUSIVE, SLOWER, EQUIVALENT, BETTER, FASTER, IDENTICAL)  # most to least alarming
#: spec keys that may differ between the two sides (everything else must match)
FREE_SPEC_KEYS = ("name",)


@dataclass(frozen=True)
class Margin:
    """A compared metric and its equivalence margin: ``size`` in the metric's units, or times the base
    median's magnitude when ``relative``. ``counts``: whether a worse row of it is a regression (False for
    load-sensitive wall time, which is shown for information only)."""

    column: str
    label: str
    higher_is_better: bool
    size: float
    relative: bool
    counts: bool = True


#: what is compared, and what difference counts as "no change" (docs/benchmarks.md, regression tracking)
MARGINS: tuple[Margin, ...] = (
    Margin("final_F", "final train CE", False, 0.10, True),
    Margin("final_test_acc", "final test accuracy", True, 0.005, False),
    Margin("iters_to_target", "iterations to target CE", False, 0.10, True),
    Margin("grad_evals_to_target", "grad_evals to target CE", False, 0.10, True),
    Margin("bound_gap_final", "final bound gap B - F", False, 0.20, True),
)
#: wall time (only when both sides ran on the same host and device)
WALL = Margin("wall_time", "wall time per run (same machine; load-sensitive, information only)", False, 0.20,
              True, counts=False)


@dataclass
class Side:
    """One results directory: per-run metrics (with method properties), fingerprints, provenance."""

    root: Path
    meta: dict
    metrics: pd.DataFrame


def load_side(root: str | Path, target_ce: float | None = None) -> Side:
    """Read a results directory; each run's fingerprint from its traces and final parameters (where stored)."""
    store = ResultsStore(root)
    traces, runs = read_parquet(store.root / "traces.parquet"), read_parquet(store.root / "runs.parquet")
    meta = read_json(store.root / "meta.json")
    if target_ce is None:
        target_ce = ((meta.get("spec") or {}).get("budget") or {}).get("target_ce")
    metrics = metrics_table(traces, target_ce, runs)
    prints = {}
    for key, rows in traces.groupby(RUN_KEYS, sort=False):
        path = store.params_path(*key)
        prints[key] = fingerprint(rows, load_arrays(path) if path.is_file() else None)
    metrics["fingerprint"] = [prints.get(tuple(k)) for k in metrics[RUN_KEYS].itertuples(index=False)]
    return Side(store.root, meta, metrics)


def incomparable(base: Side, new: Side, settings: bool = False) -> list[str]:
    """Why two sides cannot be compared (empty if they can): spec keys that differ, no common runs. With
    ``settings`` (``lysep compare --settings``) the methods' hyperparameters may differ
    (:func:`setting_differences`)."""
    b, n = dict(base.meta.get("spec") or {}), dict(new.meta.get("spec") or {})
    free = FREE_SPEC_KEYS + (("method",) if settings else ())
    problems = [f"spec key {key!r} differs: {b.get(key)!r} in {base.root} vs {n.get(key)!r} in {new.root}"
                for key in sorted(set(b) | set(n)) if key not in free and b.get(key) != n.get(key)]
    if settings:
        problems += setting_differences(base, new)[1]
    common = base.metrics.merge(new.metrics, on=RUN_KEYS)
    if not problems and common.empty:
        problems.append(f"no run (method, depth, width, seed) is in both {base.root} and {new.root}")
    return problems


def _settings(side: Side) -> dict[str, tuple[str, dict]]:
    """label -> (method name, hyperparameters with the method's defaults filled in) of a side's spec."""
    from lysep.methods import METHODS

    out = {}
    for entry in (side.meta.get("spec") or {}).get("method") or []:
        name = entry.get("name")
        given = {k: v for k, v in entry.items() if k not in ("name", "label", "tune")}
        defaults = {k: h.default for k, h in METHODS[name].HPARAMS.items()} if name in METHODS else {}
        out[entry.get("label", name)] = (name, {**defaults, **given})
    return out


def setting_differences(base: Side, new: Side) -> tuple[list[str], list[str]]:
    """(the hyperparameters that differ, one ``label: key = base value (base) vs new value (new)`` each; why the
    methods cannot be paired by label: a label on one side only, or another method under the same label)."""
    b, n = _settings(base), _settings(new)
    problems = [f"method label {label!r} is only in {(base if label in b else new).root} (--settings pairs the "
                "methods by label: both specs need the same labels)" for label in sorted(set(b) ^ set(n))]
    differences = []
    for label in [lab for lab in b if lab in n]:
        (b_name, b_hp), (n_name, n_hp) = b[label], n[label]
        if b_name != n_name:
            problems.append(f"method label {label!r} is method {b_name!r} in {base.root} but {n_name!r} in "
                            f"{new.root} (--settings compares settings of the same method)")
            continue
        differences += [f"{label}: {key} = {b_hp.get(key, 'default')!r} (base) vs {n_hp.get(key, 'default')!r} (new)"
                        for key in sorted(set(b_hp) | set(n_hp)) if b_hp.get(key) != n_hp.get(key)]
    return differences, problems


def same_machine(base: Side, new: Side) -> bool:
    """Whether wall times are comparable: the same host and device on both sides."""
    return all(base.meta.get(k) is not None and base.meta.get(k) == new.meta.get(k) for k in ("host", "device"))


def margin_of(m: Margin, base_values: np.ndarray) -> float:
    """The margin in the metric's units (relative margins: times the base median's magnitude)."""
    finite = base_values[np.isfinite(base_values)]
    if not m.relative:
        return m.size
    return m.size * float(np.abs(np.median(finite))) if finite.size else float("nan")


def row_verdict(p_holm: float, diff: float, tost_p: float, n: int, alpha: float) -> tuple[str, str]:
    """The verdict of one compared row, and why (costs: a positive difference is worse)."""
    if np.isfinite(p_holm) and p_holm < alpha and diff != 0:
        return (WORSE if diff > 0 else BETTER), f"Holm p {p_holm:.3g} < {alpha:g}"
    if np.isfinite(tost_p) and tost_p < alpha:
        return EQUIVALENT, f"TOST p {tost_p:.3g} < {alpha:g}: within the margin"
    need = stats.min_n_wilcoxon(alpha)
    if n < need:
        return INCONCLUSIVE, f"add seeds: {n} pairs, the tests need >= {need}"
    return INCONCLUSIVE, "neither a significant change nor shown within the margin: add seeds or widen the margin"


def compare_cell(pair: pd.DataFrame, m: Margin) -> dict:
    """Statistics of one (cell, method, metric): paired costs, median difference, Wilcoxon and TOST p."""
    sign = -1.0 if m.higher_is_better else 1.0
    cost = pair.assign(_c=stats.as_cost(pair[m.column].to_numpy(dtype=float), pair["diverged"].to_numpy(bool),
                                        m.higher_is_better))
    x, y, _ = pair_by_seed(cost, "base", "new", "_c")
    base_vals = sign * x
    margin = margin_of(m, base_vals)
    d = stats.paired_differences(y, x)
    finite = d[np.isfinite(d)]
    return {"metric": m.column, "label": m.label, "n_pairs": int(x.size),
            "base_median": float(np.median(base_vals)) if x.size else np.nan,
            "new_median": float(np.median(sign * y)) if y.size else np.nan,
            "median_diff": sign * float(np.median(d)) if d.size else np.nan, "margin": margin,
            "cost_diff": float(np.median(d)) if d.size else np.nan,
            "changed_pairs": int(np.count_nonzero(finite)) + int(np.isinf(d).sum()),
            "p_value": stats.wilcoxon(y, x).p_value, "tost_p": _tost_p(y, x, margin)}


def _tost_p(y: np.ndarray, x: np.ndarray, margin: float) -> float:
    """TOST p of ``y`` equivalent to ``x`` within ``margin``; NaN where no margin can be set (base median 0)."""
    if not (np.isfinite(margin) and margin > 0):
        return float("nan")
    return stats.tost_paired(y, x, margin).p_value


def compare(base: Side, new: Side, alpha: float = stats.ALPHA, margins: tuple[Margin, ...] = MARGINS) -> pd.DataFrame:
    """One row per (depth, width, method, metric) with the statistics and the verdict (module docstring)."""
    both = pd.concat([base.metrics.assign(method_side="base"), new.metrics.assign(method_side="new")],
                     ignore_index=True)
    compared = margins + ((WALL,) if same_machine(base, new) else ())
    rows = []
    for (depth, width, method), cell in both.groupby(["depth", "width", "method"], sort=True):
        pair = cell.assign(method=cell["method_side"])
        fb, fn = (pair.loc[pair.method == s].set_index("seed")["fingerprint"] for s in ("base", "new"))
        seeds = fb.index.intersection(fn.index)
        identical = len(seeds) > 0 and bool((fb.loc[seeds] == fn.loc[seeds]).all()) and fb.notna().all()
        for m in compared:
            if m.column not in pair or not np.isfinite(pair[m.column].to_numpy(dtype=float)).any():
                continue
            rows.append({"depth": depth, "width": width, "method": method, "identical": identical and m.counts,
                         "counts": m.counts, **compare_cell(pair, m)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = np.nan
    for _, idx in table[~table["identical"]].groupby("metric").groups.items():
        table.loc[idx, "p_holm"] = stats.holm(table.loc[idx, "p_value"].to_numpy(dtype=float))
    verdicts = [(IDENTICAL, "same fingerprints: the same numbers bit for bit") if r.identical
                else row_verdict(r.p_holm, r.cost_diff, r.tost_p, r.n_pairs, alpha) for r in table.itertuples()]
    table["verdict"], table["why"] = zip(*verdicts)
    info = {WORSE: SLOWER, BETTER: FASTER}
    table.loc[~table["counts"], "verdict"] = table.loc[~table["counts"], "verdict"].replace(info)
    table["regression"] = table["verdict"] == WORSE
    return table


def summary(table: pd.DataFrame) -> dict[str, int]:
    """How many rows got each verdict."""
    counts = table["verdict"].value_counts() if not table.empty else pd.Series(dtype=int)
    return {v: int(counts.get(v, 0)) for v in VERDICTS}
