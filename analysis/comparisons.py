"""Comparisons over the grid: tables of per-run metrics in, one row per cell (and method pair) out.

Functions from the per-run metrics table of :mod:`analysis.metrics` to tables: summaries per cell and
method, seed-paired comparisons of methods, spread comparisons, the best method per cell,
performance profiles over cells, curves over iterations. The statistics themselves are
:mod:`analysis.stats`; the one way runs are paired is :func:`pair_by_seed`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.metrics import CELL_KEYS, f_at, first_crossing, iteration_at, value_at_target
from analysis.stats import (
    as_cost,
    brown_forsythe,
    censored_sign_test,
    describe,
    fraction_reached,
    gehan_scores,
    holm,
    log_values,
    median_difference,
    prob_improvement,
    spread,
    wilcoxon,
    win_rate,
)

SUMMARY_KEYS = ["depth", "width", "method"]


def pair_by_seed(table: pd.DataFrame, a: str, b: str, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values of ``column`` for methods ``a`` and ``b`` matched by seed (the seeds both have, ascending).

    ``table``: rows of one cell (one row per method and seed). Returns (x for a, y for b, seeds).
    Every paired comparison in the analysis pairs its runs here: same seed, same initial weights.
    """
    xa = table[table["method"] == a].set_index("seed")[column]
    xb = table[table["method"] == b].set_index("seed")[column]
    seeds = xa.index.intersection(xb.index).sort_values()
    return xa.loc[seeds].to_numpy(dtype=float), xb.loc[seeds].to_numpy(dtype=float), seeds.to_numpy()


def summary_table(metrics: pd.DataFrame, columns: Sequence[str], by: Sequence[str] = SUMMARY_KEYS) -> pd.DataFrame:
    """Long table of :func:`describe` per group and metric.

    ``metrics``: per-run table; ``columns``: metric columns to summarise; ``by``: grouping keys.
    Returns columns ``*by, metric, n_runs, n, mean, median, std, iqr, ci_low, ci_high, ci_note`` (the interval is
    the mean's percentile bootstrap interval, see :func:`analysis.stats.describe`).
    """
    rows = []
    for key, grp in metrics.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for col in columns:
            if col not in grp:
                continue
            row = {**dict(zip(by, key, strict=True)), "metric": col, "n_runs": len(grp)}
            rows.append({**row, **describe(grp[col].to_numpy())})
    cols = [*by, "metric", "n_runs", "n", "mean", "median", "std", "iqr", "ci_low", "ci_high", "ci_note"]
    return pd.DataFrame(rows, columns=cols)


def cost_column(metrics: pd.DataFrame, column: str, higher_is_better: bool = False) -> np.ndarray:
    """The costs of a metric column for every run: diverged runs and NaN (censored) values -> +inf."""
    failed = metrics["diverged"].to_numpy(dtype=bool) if "diverged" in metrics else None
    return as_cost(metrics[column].to_numpy(), failed, higher_is_better)


def paired_comparisons(metrics: pd.DataFrame, column: str, methods: Sequence[str], baselines: Sequence[str],
                       higher_is_better: bool = False) -> pd.DataFrame:
    """Paired comparison of each method in ``methods`` vs each of ``baselines`` in every cell, matched by seed.

    ``metrics``: per-run table. Per row (cell, method, baseline): n_pairs; median of each side and
    their ratio (method/baseline, on the metric's own scale); median difference ``method -
    baseline`` with its paired bootstrap 95% interval; Wilcoxon p; Holm-adjusted p over every row of
    the returned table (the family is this metric over the whole grid); win rate and probability
    of improvement of ``method`` (failures count as worst, see module docstring); ``note``: why a
    p-value or interval is missing (fewer seeds than the test needs).
    """
    sign = -1.0 if higher_is_better else 1.0
    data = metrics.assign(_cost=cost_column(metrics, column, higher_is_better))
    rows = []
    for (depth, width), cell in data.groupby(CELL_KEYS, sort=True):
        present = set(cell["method"])
        for a in methods:
            for b in baselines:
                if a == b or a not in present or b not in present:
                    continue
                x, y, _ = pair_by_seed(cell, a, b, "_cost")
                if column in CENSORED_AT:
                    cx, cy, _ = pair_by_seed(cell.assign(_censor=censor_points(cell, column)), a, b, "_censor")
                    row = censored_row(x, cx, y, cy)
                else:
                    row = paired_row(x, y, sign)
                rows.append({"depth": depth, "width": width, "method": a, "baseline": b, "metric": column, **row,
                             "prob_improvement": prob_improvement(x, y)})
    cols = ["depth", "width", "method", "baseline", "metric", *PAIRED_COLUMNS, "prob_improvement"]
    table = pd.DataFrame(rows, columns=[c for c in cols if c != "p_holm"])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", holm_by(table, ["method", "baseline"]))
    return table


#: the columns of one paired test (:func:`paired_row`), ``p_holm`` added over a table
PAIRED_COLUMNS = ["n_pairs", "method_median", "baseline_median", "ratio", "median_diff", "ci_low", "ci_high",
                  "p_value", "p_holm", "win_rate", "direction", "test_used", "note"]
#: the tests of :data:`PAIRED_COLUMNS` ``test_used``
WILCOXON, CENSORED_SIGN = "Wilcoxon signed-rank", "censored sign test"
#: the cost-to-target columns of the metrics table and the run total each is censored at (a run that never reached
#: the target had spent that much without reaching it)
CENSORED_AT = {"iters_to_target": "iterations", "grad_evals_to_target": "grad_evals",
               "seconds_to_target": "wall_time", "flops_to_target": "flops"}


def censor_points(metrics: pd.DataFrame, column: str) -> np.ndarray:
    """Per run, what it spent without reaching the target of a cost-to-target ``column`` (:data:`CENSORED_AT`): its
    final budget; +inf for a diverged run (it never reaches the target, so any run that did is first)."""
    c = metrics[CENSORED_AT[column]].to_numpy(dtype=float).copy()
    if "diverged" in metrics:
        c[metrics["diverged"].to_numpy(dtype=bool)] = np.inf
    return c


def censored_row(x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray) -> dict:
    """:func:`paired_row` for costs to a target with censoring (x, y NaN/inf = never reached, cx, cy: what each run
    spent): the p-value and the direction are :func:`analysis.stats.censored_sign_test`'s, which never ranks a
    censored run against a cost beyond its censoring point; medians and the median difference count a censored run
    as +inf (shown, not tested)."""
    x, y = np.where(np.isfinite(x), x, np.inf), np.where(np.isfinite(y), y, np.inf)
    row = paired_row(x, y)
    test = censored_sign_test(x, cx, y, cy)
    s = gehan_scores(x, cx, y, cy)
    row.update(p_value=test.p_value, direction=float(np.sign(test.statistic)) if np.isfinite(test.statistic) else 0.0,
               test_used=CENSORED_SIGN, note=test.reason,
               win_rate=float(np.mean((s < 0) + 0.5 * (s == 0))) if s.size else np.nan)
    return row


def paired_row(x: np.ndarray, y: np.ndarray, sign: float = 1.0) -> dict:
    """One paired test of costs ``x`` (method) vs ``y`` (baseline), matched by position: medians on the metric's own
    scale (``sign`` -1 for a negated higher-is-better metric) and their ratio, the median difference with its
    bootstrap interval, Wilcoxon p, win rate, ``direction`` (the sign of the median difference of the costs: -1 favours
    the method), ``test_used`` and ``note``: why p or the interval is missing (empty if neither is)."""
    med_a, med_b = (sign * np.median(x) if x.size else np.nan), (sign * np.median(y) if y.size else np.nan)
    diff, test = median_difference(x, y), wilcoxon(x, y)
    lo, hi = (diff.low, diff.high) if sign > 0 else (-diff.high, -diff.low)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.float64(med_a) / np.float64(med_b)
    note = "; ".join([test.reason] * bool(test.reason) + [f"interval: {diff.reason}"] * (
        bool(diff.reason) and diff.reason != test.reason))
    est = sign * diff.estimate
    return {"n_pairs": int(x.size), "method_median": med_a, "baseline_median": med_b, "ratio": float(ratio),
            "median_diff": est, "ci_low": lo, "ci_high": hi, "p_value": test.p_value,
            "win_rate": win_rate(x, y), "direction": 0.0 if np.isnan(diff.estimate) else float(np.sign(diff.estimate)),
            "test_used": WILCOXON, "note": note}


def holm_by(table: pd.DataFrame, family: Sequence[str]) -> np.ndarray:
    """Holm-adjusted ``p_value`` of a table, each group of rows sharing the ``family`` columns adjusted together."""
    out = np.full(len(table), np.nan)
    if table.empty:
        return out
    pos = np.arange(len(table))
    for _, idx in table.groupby(list(family), sort=False).indices.items():
        out[pos[idx]] = holm(table["p_value"].to_numpy(dtype=float)[idx])
    return out


def spread_row(x: np.ndarray, y: np.ndarray) -> dict:
    """Brown-Forsythe test of the multiplicative spread of ``x`` (method) vs ``y`` (baseline), positive values (a CE):
    the test, ``std_*`` and :func:`spread` of each side are on ``log`` of the values (:func:`analysis.stats.log_values`:
    a spread that does not grow with the level), ``raw_std_*`` the std on the values' own scale beside; ``p_value``
    and ``note`` (why a p-value is missing: too few values, degenerate samples)."""
    lx, ly = log_values(x), log_values(y)
    da, db, test = describe(lx), describe(ly), brown_forsythe(lx, ly)
    return {"n_method": da["n"], "n_baseline": db["n"], "std_method": da["std"], "std_baseline": db["std"],
            "spread_method": spread(lx), "spread_baseline": spread(ly), "raw_std_method": describe(x)["std"],
            "raw_std_baseline": describe(y)["std"], "p_value": test.p_value, "note": test.reason}


SPREAD_COLUMNS = ["n_method", "n_baseline", "std_method", "std_baseline", "spread_method", "spread_baseline",
                  "raw_std_method", "raw_std_baseline", "p_value", "note"]


def variance_comparisons(metrics: pd.DataFrame, column: str, methods: Sequence[str],
                         baselines: Sequence[str]) -> pd.DataFrame:
    """Brown-Forsythe test of seed spread (:func:`spread_row`), each method vs each baseline per cell (diverged runs
    excluded).

    Returns depth, width, method, baseline, n_method, n_baseline, std and :func:`spread` of each side,
    p_value, Holm-adjusted p over the grid (per (method, baseline) pair, as in :func:`paired_comparisons`)
    and ``note``: why a p-value is missing (too few seeds, degenerate samples).
    """
    ok = ~metrics["diverged"].astype(bool) if "diverged" in metrics else np.ones(len(metrics), bool)
    data = metrics[ok]
    rows = []
    for (depth, width), cell in data.groupby(CELL_KEYS, sort=True):
        for a in methods:
            for b in baselines:
                x = cell.loc[cell["method"] == a, column].to_numpy(dtype=float)
                y = cell.loc[cell["method"] == b, column].to_numpy(dtype=float)
                if a == b or x.size == 0 or y.size == 0:
                    continue
                rows.append({"depth": depth, "width": width, "method": a, "baseline": b, "metric": column,
                             **spread_row(x, y)})
    cols = ["depth", "width", "method", "baseline", "metric", *SPREAD_COLUMNS]
    table = pd.DataFrame(rows, columns=cols)
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", holm_by(table, ["method", "baseline"]))
    return table


def best_per_cell(metrics: pd.DataFrame, column: str, candidates: Sequence[str],
                  higher_is_better: bool = False) -> pd.DataFrame:
    """The candidate method with the best median cost of ``column`` in each cell (failures = +inf).

    Ties are broken by the median final train CE, then by name. Returns depth, width, method.
    """
    data = metrics[metrics["method"].isin(candidates)]
    data = data.assign(_cost=cost_column(data, column, higher_is_better), _ce=cost_column(data, "final_F"))
    rows = []
    for (depth, width), cell in data.groupby(CELL_KEYS, sort=True):
        med = cell.groupby("method")[["_cost", "_ce"]].median().reset_index()
        best = med.sort_values(["_cost", "_ce", "method"]).iloc[0]["method"]
        rows.append({"depth": depth, "width": width, "method": best})
    return pd.DataFrame(rows, columns=["depth", "width", "method"])


def fraction_reached_curves(metrics: pd.DataFrame, column: str, budget: np.ndarray,
                            by: Sequence[str] = ("method",)) -> pd.DataFrame:
    """:func:`fraction_reached` per group over a shared budget axis; long table ``*by, budget, fraction``."""
    rows = []
    for key, grp in metrics.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        frac = fraction_reached(grp[column].to_numpy(), budget)
        rows.append(pd.DataFrame({**dict(zip(by, key, strict=True)), "budget": budget, "fraction": frac}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*by, "budget", "fraction"])


def cell_costs(metrics: pd.DataFrame, column: str, higher_is_better: bool = False) -> pd.DataFrame:
    """Problems x methods table of median cost per cell (failures = +inf); index (depth, width)."""
    data = metrics.assign(_cost=cost_column(metrics, column, higher_is_better))
    return data.pivot_table(index=CELL_KEYS, columns="method", values="_cost", aggfunc="median")


def performance_ratios(costs: pd.DataFrame) -> pd.DataFrame:
    """Dolan-More ratios ``r[p, s] = cost[p, s] / min_s cost[p, s]`` for positive costs.

    ``costs``: problems x methods (NaN/inf = failure -> ratio inf). A method with the best cost has
    ratio 1; a problem where every method failed gives inf for all.
    """
    c = costs.astype(float).where(np.isfinite(costs.astype(float)), np.inf)
    best = c.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = c.div(best, axis=0)
    r = r.where(~c.eq(best, axis=0) | ~np.isfinite(c), 1.0)  # best (also a best of 0) -> 1
    return r.where(np.isfinite(r), np.inf)


def performance_profile(ratios: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """``rho_s(tau)``: the fraction of problems on which method s is within a factor tau of the best.

    ``ratios``: problems x methods from :func:`performance_ratios`; ``taus``: 1-D, >= 1.
    Returns a taus x methods table (index named ``tau``).
    """
    r = ratios.to_numpy(dtype=float)
    t = np.asarray(taus, dtype=float)
    rho = (r[None, :, :] <= t[:, None, None]).mean(axis=1)
    return pd.DataFrame(rho, index=pd.Index(t, name="tau"), columns=ratios.columns)


def profile_taus(ratios: pd.DataFrame, n: int = 200) -> np.ndarray:
    """A geometric tau grid from 1 to a little past the largest finite ratio."""
    r = ratios.to_numpy(dtype=float)
    finite = r[np.isfinite(r)]
    top = max(2.0, float(finite.max()) * 1.1) if finite.size else 2.0
    return np.geomspace(1.0, top, n)




#: the seed quantiles a figure band spans (the line is the median); named in every band's caption
BAND_QUANTILES = (0.25, 0.75)


def curve_bands(traces: pd.DataFrame, y: str, x: str = "iteration",
                by: Sequence[str] = ("depth", "width", "method")) -> pd.DataFrame:
    """Median and the :data:`BAND_QUANTILES` over seeds of column ``y`` at each iteration, with the mean of axis ``x``.

    ``traces``: the long trace table; rows with non-finite ``y`` are dropped first (test metrics
    exist only on evaluation rows, diverged rows have none). Returns ``*by, iteration, x_mean,
    median, low, high, n``. Quantiles of the seeds' values never leave their range: a band never
    crosses a bound (0 for a CE or a gap) that no seed crosses.
    """
    keys = [*by, "iteration"]
    cols = list(dict.fromkeys([*keys, x, y]))
    data = traces[cols]
    data = data[np.isfinite(data[y].to_numpy(dtype=float))]
    if data.empty:
        return pd.DataFrame(columns=[*keys, "x_mean", "median", "low", "high", "n"])
    g = data.groupby(keys, sort=True)
    out = g[y].agg(["median", "count"]).rename(columns={"count": "n"})
    out["low"], out["high"] = g[y].quantile(BAND_QUANTILES[0]), g[y].quantile(BAND_QUANTILES[1])
    out["x_mean"] = g[x].mean() if x != "iteration" else out.index.get_level_values("iteration").to_numpy(dtype=float)
    return out.reset_index()[[*keys, "x_mean", "median", "low", "high", "n"]]


#: the budgets at which the comparative claims (c3-c5) and the performance profiles compare methods:
#: name -> (the trace column that measures it, words for tables and reports)
BUDGETS: dict[str, tuple[str, str]] = {"iterations": ("iteration", "equal iterations"),
                                       "grad_evals": ("grad_evals", "equal grad_evals"),
                                       "wall_time": ("wall_time", "equal wall time"),
                                       "flops": ("flops", "equal flops")}


#: the unit a cost to a target is counted in, per budget
BUDGET_UNITS = {"iterations": "iterations", "grad_evals": "grad_evals", "wall_time": "seconds", "flops": "flops"}


def budgets_of(traces: pd.DataFrame) -> list[str]:
    """The keys of :data:`BUDGETS` these traces measure: every budget whose column is recorded on every row (flops
    are recorded by runs from the version that introduced them; older result sets are judged on the other three)."""
    return [b for b, (column, _) in BUDGETS.items()
            if column in traces.columns and len(traces) and bool(traces[column].notna().all())]


#: the metric name of a train CE read at an equal budget (tables of c4)
AT_BUDGET_COLUMN = "F_at_budget"


def budget_words(budget: str) -> str:
    """"equal iterations" etc. for a key of :data:`BUDGETS` (the key itself otherwise)."""
    return BUDGETS[budget][1] if budget in BUDGETS else budget


def equal_budget_pairs(traces: pd.DataFrame, method_a: str, method_b: str, budget: str = "wall_time") -> pd.DataFrame:
    """Train CE of two methods at an equal budget (a key of :data:`BUDGETS`), matched by cell and seed.

    For each depth/width/seed present for both methods, ``limit`` is the smaller of the two runs' final
    values of the budget's column (iteration, grad_evals or wall time) and ``a, b`` are
    :func:`analysis.metrics.f_at` of each run at ``limit`` (a run that diverged before it: +inf), read at iterations
    ``iter_a, iter_b`` (:func:`analysis.metrics.iteration_at`: 0 = no iteration completed within the budget).
    Returns columns depth, width, seed, limit, a, b, iter_a, iter_b.
    """
    column = BUDGETS[budget][0]
    sub = traces[traces["method"].isin([method_a, method_b])]
    rows = []
    for (depth, width), cell in sub.groupby(["depth", "width"], sort=True):
        ends = cell.groupby(["method", "seed"], as_index=False)[column].max()
        ta, tb, seeds = pair_by_seed(ends, method_a, method_b, column)
        for seed, t in zip(seeds, np.minimum(ta, tb)):
            runs = cell[cell["seed"] == seed]
            ra, rb = runs[runs["method"] == method_a], runs[runs["method"] == method_b]
            rows.append({"depth": depth, "width": width, "seed": seed, "limit": float(t),
                         "a": f_at(ra, column, t), "b": f_at(rb, column, t),
                         "iter_a": iteration_at(ra, column, t), "iter_b": iteration_at(rb, column, t)})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


#: the columns of :func:`equal_budget_pairs`
PAIR_COLUMNS = ["depth", "width", "seed", "limit", "a", "b", "iter_a", "iter_b"]


def equal_time_pairs(traces: pd.DataFrame, method_a: str, method_b: str) -> pd.DataFrame:
    """:func:`equal_budget_pairs` at equal wall time (column ``t``: the common time)."""
    return equal_budget_pairs(traces, method_a, method_b, "wall_time").rename(columns={"limit": "t"})


def budget_values(traces: pd.DataFrame, budget: str) -> pd.DataFrame:
    """Every method's train CE at the common budget of its cell and seed, for the performance profiles.

    Per cell and seed, the budget is the smallest final value of the budget's column (iteration,
    grad_evals or wall time) over the methods' runs that did not diverge (every method gets what the
    cheapest one used); each run's F there is :func:`analysis.metrics.f_at` (+inf for a run that
    diverged before it), read at its iteration ``iteration`` (:func:`analysis.metrics.iteration_at`), and
    ``comparable`` says whether every method of that cell and seed had completed an iteration there (else some
    method is read at its starting point). Returns depth, width, seed, method, limit, F, iteration, comparable.
    """
    column = BUDGETS[budget][0]
    rows = []
    for (depth, width, seed), runs in traces.groupby(["depth", "width", "seed"], sort=True):
        by_method = dict(tuple(runs.groupby("method", sort=True)))
        ends = [float(r[column].max()) for r in by_method.values()
                if np.isfinite(r.sort_values("iteration")["F"].to_numpy(dtype=float)[-1])]
        if not ends:
            continue
        limit = min(ends)
        part = [{"depth": depth, "width": width, "seed": seed, "method": method, "limit": limit,
                 "F": f_at(r, column, limit), "iteration": iteration_at(r, column, limit)}
                for method, r in by_method.items()]
        comparable = all(row["iteration"] > 0 for row in part)
        rows += [{**row, "comparable": comparable} for row in part]
    return pd.DataFrame(rows, columns=["depth", "width", "seed", "method", "limit", "F", "iteration", "comparable"])


def budget_costs(traces: pd.DataFrame, budget: str, at_start: bool = False) -> pd.DataFrame:
    """Problems (cells) x methods table of the median over seeds of :func:`budget_values` (failures = +inf), the
    costs :func:`performance_ratios` takes; only the seeds where every method completed an iteration within the
    common budget (``comparable``), and only the cells with such a seed. ``at_start``: every seed, a method still in
    its first iteration there read at its starting point (what it had to offer at that budget)."""
    values = budget_values(traces, budget)
    if not at_start:
        values = values[values["comparable"].astype(bool)]
    if values.empty:
        return pd.DataFrame()
    return values.pivot_table(index=CELL_KEYS, columns="method", values="F", aggfunc="median")


#: the targets of the cost-to-target performance profiles, as multiples of the spec's target_ce (an easier one first)
PROFILE_TARGETS: tuple[float, ...] = (10.0, 1.0)


def target_costs(traces: pd.DataFrame, target: float, budget: str) -> pd.DataFrame:
    """Problems (cells) x methods table of the median over seeds of the cost to reach train CE ``target`` in the
    budget's unit (iterations: the first recorded row with F <= target; grad_evals and wall time interpolated as
    :func:`analysis.metrics.value_at_target`); a run that never reached it (censored or diverged) costs +inf, the
    Dolan-More convention for an unsolved problem."""
    column = BUDGETS[budget][0]
    rows = []
    for (depth, width, method, _seed), run in traces.groupby([*CELL_KEYS, "method", "seed"], sort=True):
        run = run.sort_values("iteration")
        f = run["F"].to_numpy(dtype=float)
        ok = np.isfinite(f)
        k = first_crossing(f[ok], target)
        if k is None:
            cost = np.inf
        elif budget == "iterations":
            cost = float(run["iteration"].to_numpy(dtype=float)[ok][k])
        else:
            cost = value_at_target(run[column].to_numpy(dtype=float)[ok], f[ok], target)
        rows.append({"depth": depth, "width": width, "method": method, "cost": cost})
    table = pd.DataFrame(rows, columns=[*CELL_KEYS, "method", "cost"])
    return table.pivot_table(index=CELL_KEYS, columns="method", values="cost", aggfunc="median")


def target_words(budget: str, target: float) -> str:
    """"iterations to CE 0.1" etc.: the label of a cost-to-target profile."""
    unit = BUDGET_UNITS[budget]
    return f"{unit} to CE {target:g}"


#: the factors a profile summary reads rho(tau) at: best, within 2x, within 10x of the best method of a cell
PROFILE_TAUS: tuple[float, ...] = (1.0, 2.0, 10.0)


def profile_summary(ratios: pd.DataFrame, taus: Sequence[float] = PROFILE_TAUS) -> pd.DataFrame:
    """Per method: the share of cells within a factor tau of the best (rho(tau) of :func:`performance_profile` at
    each tau) and the median ratio to the best over cells. Columns method, cells, rho@<tau>..., median_ratio."""
    if ratios.empty:
        return pd.DataFrame(columns=["method", "cells", *[f"rho@{t:g}" for t in taus], "median_ratio"])
    prof = performance_profile(ratios, np.asarray(taus, dtype=float))
    rows = []
    for m in ratios.columns:
        r = ratios[m].to_numpy(dtype=float)
        rows.append({"method": m, "cells": int(r.size), **{f"rho@{t:g}": float(prof.loc[t, m]) for t in taus},
                     "median_ratio": float(np.median(r)) if r.size else np.nan})
    return pd.DataFrame(rows)
