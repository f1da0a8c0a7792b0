"""Statistics over per-run metrics: summaries, paired comparisons, variance tests, profiles.

Small pure functions over 1-D arrays (one value per seed) or over the per-run metrics table of
:mod:`analysis.metrics`; the tests themselves are scipy's. Conventions:

- *costs*: comparisons are written for "lower is better". A higher-is-better metric (accuracy)
  is compared through its negation, and reported differences keep the metric's own sign
  (``lysep - baseline``).
- *failures*: in paired comparisons a run that diverged, or that never reached the target
  (censored), has cost ``+inf``: it is worse than every run that finished, and two failures tie.
  Rank-based statistics (Wilcoxon, win rate, probability of improvement, medians) handle this
  exactly; a mean would not, so none is taken over costs.
- *reproducibility*: every bootstrap uses :data:`RANDOM_STATE`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.metrics import CELL_KEYS

CONFIDENCE = 0.95
ALPHA = 0.05
N_RESAMPLES = 2000
RANDOM_STATE = 0
SUMMARY_KEYS = ["depth", "width", "method"]


# ----------------------------------------------------------------------------------------------
# one sample


def describe(values: np.ndarray) -> dict[str, float]:
    """Summary of one sample (1-D, e.g. one value per seed); non-finite entries are dropped.

    Returns n (finite values used), mean, median, std (ddof=1), iqr, and a 95% t-interval for the
    mean (ci_low, ci_high; NaN when n < 2).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    out = {"n": n, "mean": np.nan, "median": np.nan, "std": np.nan, "iqr": np.nan,
           "ci_low": np.nan, "ci_high": np.nan}
    if n == 0:
        return out
    out.update(mean=float(x.mean()), median=float(np.median(x)), iqr=float(sps.iqr(x)))
    if n >= 2:
        sd = float(x.std(ddof=1))
        out["std"] = sd
        half = sps.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sd / np.sqrt(n)
        out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    return out


def summary_table(metrics: pd.DataFrame, columns: Sequence[str], by: Sequence[str] = SUMMARY_KEYS) -> pd.DataFrame:
    """Long table of :func:`describe` per group and metric.

    ``metrics``: per-run table; ``columns``: metric columns to summarise; ``by``: grouping keys.
    Returns columns ``*by, metric, n_runs, n, mean, median, std, iqr, ci_low, ci_high``.
    """
    rows = []
    for key, grp in metrics.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for col in columns:
            if col not in grp:
                continue
            row = {**dict(zip(by, key, strict=True)), "metric": col, "n_runs": len(grp)}
            rows.append({**row, **describe(grp[col].to_numpy())})
    cols = [*by, "metric", "n_runs", "n", "mean", "median", "std", "iqr", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------------------------
# multiple testing


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control); NaN entries stay NaN.

    ``pvalues``: 1-D. With the m finite p-values sorted ascending, ``adj_(i) = max_{j<=i}
    min(1, (m - j + 1) p_(j))``. Returns an array of the input's shape, original order.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


# ----------------------------------------------------------------------------------------------
# paired two-sample (x = LySep, y = baseline, matched by seed; lower is better)


def as_cost(values: np.ndarray, failed: np.ndarray | None = None, higher_is_better: bool = False) -> np.ndarray:
    """Turn metric values into costs (lower is better): negate if higher is better; NaN or failed -> +inf.

    ``values, failed``: 1-D arrays of equal length (``failed`` boolean, optional).
    """
    c = np.asarray(values, dtype=float).copy()
    if higher_is_better:
        c = -c
    bad = ~np.isfinite(c)
    if failed is not None:
        bad |= np.asarray(failed, dtype=bool)
    c[bad] = np.inf
    return c


def paired_differences(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x - y`` elementwise, with two equal infinities (two failures) counted as a tie (0)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    with np.errstate(invalid="ignore"):
        d = x - y
    d[np.isinf(x) & (x == y)] = 0.0
    return d


def median_difference(x: np.ndarray, y: np.ndarray, confidence: float = CONFIDENCE,
                      n_resamples: int = N_RESAMPLES, random_state: int = RANDOM_STATE) -> tuple[float, float, float]:
    """Median of the paired differences ``x - y`` and its bootstrap confidence interval.

    ``x, y``: 1-D, paired by position. The interval is ``scipy.stats.bootstrap`` (percentile method)
    on the differences, i.e. seeds are resampled as pairs. Returns (median, low, high); the interval
    is NaN when fewer than 2 pairs.
    """
    d = paired_differences(x, y)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return np.nan, np.nan, np.nan
    med = float(np.median(d))
    if d.size < 2:
        return med, np.nan, np.nan
    if np.all(d == d[0]):
        return med, float(d[0]), float(d[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.bootstrap((d,), np.median, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                            method="percentile", random_state=np.random.default_rng(random_state))
    ci = res.confidence_interval
    return med, float(ci.low), float(ci.high)


def wilcoxon_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired differences ``x - y``.

    Zero differences are dropped (``zero_method='wilcox'``); infinite differences keep their rank
    (largest). NaN when fewer than 2 non-zero differences remain.
    """
    d = paired_differences(x, y)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size < 2:
        return np.nan
    inf = np.isinf(d)
    if inf.any():  # ranks only: replace +-inf by values larger in magnitude than every finite one
        big = 2.0 * (np.abs(d[~inf]).max() if (~inf).any() else 1.0) + 1.0
        d = np.where(inf, np.sign(d) * big, d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.wilcoxon(d, zero_method="wilcox").pvalue)


def win_rate(x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of pairs where ``x`` is strictly better (lower) than ``y``; ties count one half."""
    d = paired_differences(x, y)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return np.nan
    return float(np.mean((d < 0) + 0.5 * (d == 0)))


def prob_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X < Y) + P(X = Y)/2 over all (not only paired) combinations of the two samples (lower is better).

    ``x, y``: 1-D samples; equals the Mann-Whitney U statistic divided by ``len(x) * len(y)``.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        return np.nan
    xx, yy = x[:, None], y[None, :]
    return float(np.mean((xx < yy) + 0.5 * (xx == yy)))


def spread(x: np.ndarray) -> float:
    """Mean absolute deviation from the median (the scale Brown-Forsythe compares); finite values only."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.mean(np.abs(x - np.median(x)))) if x.size else np.nan


def brown_forsythe(x: np.ndarray, y: np.ndarray) -> float:
    """p-value of the Brown-Forsythe test (``scipy.stats.levene(center='median')``) for equal spread.

    ``x, y``: 1-D samples (finite values used). NaN when either has fewer than 2 values or both are constant.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < 2 or y.size < 2:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(sps.levene(x, y, center="median").pvalue)
    return p if np.isfinite(p) else np.nan


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """Spearman rank correlation of finite pairs: (rho, two-sided p, n). NaN when n < 3 or x or y constant."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(ok.sum())
    if n < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return np.nan, np.nan, n
    res = sps.spearmanr(x, y)
    return float(res.statistic), float(res.pvalue), n


# ----------------------------------------------------------------------------------------------
# tables over the grid


def cost_column(metrics: pd.DataFrame, column: str, higher_is_better: bool = False) -> np.ndarray:
    """The costs of a metric column for every run: diverged runs and NaN (censored) values -> +inf."""
    failed = metrics["diverged"].to_numpy(dtype=bool) if "diverged" in metrics else None
    return as_cost(metrics[column].to_numpy(), failed, higher_is_better)


def _paired(cell: pd.DataFrame, a: str, b: str, cost: str) -> tuple[np.ndarray, np.ndarray]:
    """Costs of methods a and b in one cell, aligned on seed (seeds present for both only)."""
    xa = cell[cell["method"] == a].set_index("seed")[cost]
    xb = cell[cell["method"] == b].set_index("seed")[cost]
    seeds = xa.index.intersection(xb.index).sort_values()
    return xa.loc[seeds].to_numpy(dtype=float), xb.loc[seeds].to_numpy(dtype=float)


def paired_comparisons(metrics: pd.DataFrame, column: str, methods: Sequence[str], baselines: Sequence[str],
                       higher_is_better: bool = False) -> pd.DataFrame:
    """Paired comparison of each method in ``methods`` vs each of ``baselines`` in every cell, matched by seed.

    ``metrics``: per-run table. Per row (cell, method, baseline): n_pairs; median of each side and
    their ratio (method/baseline, on the metric's own scale); median difference ``method -
    baseline`` with its paired bootstrap 95% interval; Wilcoxon p; Holm-adjusted p over every row of
    the returned table (the family is this metric over the whole grid); win rate and probability
    of improvement of ``method`` (failures count as worst, see module docstring).
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
                x, y = _paired(cell, a, b, "_cost")
                med_a, med_b = (sign * np.median(x) if x.size else np.nan), (sign * np.median(y) if y.size else np.nan)
                md, lo, hi = median_difference(x, y)
                lo, hi = (lo, hi) if sign > 0 else (-hi, -lo)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = med_a / med_b
                rows.append({"depth": depth, "width": width, "method": a, "baseline": b, "metric": column,
                             "n_pairs": x.size, "method_median": med_a, "baseline_median": med_b, "ratio": ratio,
                             "median_diff": sign * md, "ci_low": lo, "ci_high": hi,
                             "p_value": wilcoxon_p(x, y), "win_rate": win_rate(x, y),
                             "prob_improvement": prob_improvement(x, y)})
    cols = ["depth", "width", "method", "baseline", "metric", "n_pairs", "method_median", "baseline_median", "ratio",
            "median_diff", "ci_low", "ci_high", "p_value", "p_holm", "win_rate", "prob_improvement"]
    table = pd.DataFrame(rows, columns=[c for c in cols if c != "p_holm"])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", holm_by(table, ["method", "baseline"]))
    return table


def holm_by(table: pd.DataFrame, family: Sequence[str]) -> np.ndarray:
    """Holm-adjusted ``p_value`` of a table, each group of rows sharing the ``family`` columns adjusted together."""
    out = np.full(len(table), np.nan)
    if table.empty:
        return out
    pos = np.arange(len(table))
    for _, idx in table.groupby(list(family), sort=False).indices.items():
        out[pos[idx]] = holm(table["p_value"].to_numpy(dtype=float)[idx])
    return out


def variance_comparisons(metrics: pd.DataFrame, column: str, methods: Sequence[str],
                         baselines: Sequence[str]) -> pd.DataFrame:
    """Brown-Forsythe test of seed spread, each method vs each baseline per cell (diverged runs excluded).

    Returns depth, width, method, baseline, n_method, n_baseline, std and :func:`spread` of each side,
    p_value and Holm-adjusted p over the grid (per (method, baseline) pair, as in :func:`paired_comparisons`).
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
                da, db = describe(x), describe(y)
                rows.append({"depth": depth, "width": width, "method": a, "baseline": b, "metric": column,
                             "n_method": da["n"], "n_baseline": db["n"], "std_method": da["std"],
                             "std_baseline": db["std"], "spread_method": spread(x), "spread_baseline": spread(y),
                             "p_value": brown_forsythe(x, y)})
    cols = ["depth", "width", "method", "baseline", "metric", "n_method", "n_baseline", "std_method", "std_baseline",
            "spread_method", "spread_baseline", "p_value"]
    table = pd.DataFrame(rows, columns=cols)
    table["p_holm"] = holm_by(table, ["method", "baseline"])
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


# ----------------------------------------------------------------------------------------------
# censored time to target and performance profiles


def fraction_reached(times: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Fraction of runs that reached the target within each budget value.

    ``times``: 1-D time-to-target per run, NaN/inf when censored (never reached; still counted in
    the denominator). ``budget``: 1-D budget axis. Returns a 1-D array like ``budget``.
    """
    t = np.asarray(times, dtype=float)
    b = np.asarray(budget, dtype=float)
    if t.size == 0:
        return np.full(b.shape, np.nan)
    t = np.where(np.isfinite(t), t, np.inf)
    return (t[None, :] <= b[:, None]).mean(axis=1)


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


# ----------------------------------------------------------------------------------------------
# curves over iterations


def curve_bands(traces: pd.DataFrame, y: str, x: str = "iteration",
                by: Sequence[str] = ("depth", "width", "method")) -> pd.DataFrame:
    """Mean and std over seeds of column ``y`` at each iteration, with the mean of axis column ``x``.

    ``traces``: the long trace table; rows with non-finite ``y`` are dropped first (test metrics
    exist only on evaluation rows, diverged rows have none). Returns ``*by, iteration, x_mean,
    mean, std, n`` (std is 0 for a single seed).
    """
    keys = [*by, "iteration"]
    cols = list(dict.fromkeys([*keys, x, y]))
    data = traces[cols]
    data = data[np.isfinite(data[y].to_numpy(dtype=float))]
    if data.empty:
        return pd.DataFrame(columns=[*keys, "x_mean", "mean", "std", "n"])
    g = data.groupby(keys, sort=True)
    out = g[y].agg(["mean", "std", "count"]).rename(columns={"count": "n"})
    out["std"] = out["std"].fillna(0.0)
    out["x_mean"] = g[x].mean() if x != "iteration" else out.index.get_level_values("iteration").to_numpy(dtype=float)
    return out.reset_index()[[*keys, "x_mean", "mean", "std", "n"]]
