"""Statistics of samples: one sample's summary, paired two-sample tests, spread, correlation, Holm.

Small pure functions over 1-D arrays (one value per seed, or one value per cell); the tests
themselves are scipy's. Table-level comparisons over the grid are :mod:`analysis.comparisons`.
Conventions:

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

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
ALPHA = 0.05
N_RESAMPLES = 2000
RANDOM_STATE = 0


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


def wilcoxon_min_pairs(alpha: float = ALPHA, two_sided: bool = True) -> int:
    """The fewest non-zero pairs with which the exact signed-rank test can reach p < ``alpha``: with n pairs
    all of one sign its p is 2 / 2^n (two-sided) or 1 / 2^n (one-sided)."""
    n = 1
    while (2.0 if two_sided else 1.0) / 2.0**n >= alpha:
        n += 1
    return n


def _one_sided_wilcoxon(d: np.ndarray, alternative: str) -> float:
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(sps.wilcoxon(d, zero_method="wilcox", alternative=alternative).pvalue)


def tost_paired(x: np.ndarray, y: np.ndarray, margin: float) -> float:
    """p-value of equivalence (two one-sided Wilcoxon signed-rank tests) of the paired differences ``x - y``:
    small when they lie within ``(-margin, margin)``. H0: the median difference is <= -margin or >=
    margin; the p-value is the larger of the two one-sided tests'. NaN for a margin that is not a positive
    number or with no pairs; 1 when a difference is infinite (a failure on one side only)."""
    d = paired_differences(x, y)
    d = d[~np.isnan(d)]
    if not (np.isfinite(margin) and margin > 0) or d.size == 0:
        return np.nan
    if np.isinf(d).any():
        return 1.0
    return max(_one_sided_wilcoxon(d + margin, "greater"), _one_sided_wilcoxon(d - margin, "less"))


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
