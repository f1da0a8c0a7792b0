"""Statistics of samples: one sample's summary, paired two-sample tests, spread, correlation, Holm, equivalence.

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
- *minimum samples*: every test declares the smallest sample on which it can reach the
  significance level (``min_n_*``, computed from the test's null distribution, not guessed); below
  it, or where the sample is degenerate, a test returns an :class:`Outcome` without a p-value and
  with the reason ("not enough seeds (n = 2; this test needs >= 6)"). Intervals likewise
  (:class:`Interval`). Verdicts built on them say "inconclusive" and repeat the reason.
- *domains*: intervals are percentile bootstrap intervals, which lie inside the range of the
  data, so an interval of a non-negative quantity (CE, a gap, a time) is never negative.
- *reproducibility*: every bootstrap uses :data:`RANDOM_STATE`.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
ALPHA = 0.05
N_RESAMPLES = 2000
RANDOM_STATE = 0
#: Spearman p-values are exact (every permutation) up to this many pairs, asymptotic (scipy) above
SPEARMAN_EXACT_MAX = 9
#: two permuted correlations closer than this are equal (float rounding of equal rank sums)
RHO_TOL = 1e-12
TWO_SIDED, LESS, GREATER = "two-sided", "less", "greater"


# ----------------------------------------------------------------------------------------------
# results that may have no p-value


@dataclass(frozen=True)
class Outcome:
    """The outcome of one test: its p-value, or ``p = None`` and the reason there is none.

    ``n``: the sample size the test used (non-zero paired differences, the smaller group, or
    pairs); ``n_needed``: the smallest ``n`` at which the test can reach :data:`ALPHA`;
    ``statistic``: the test's statistic (NaN when not computed); ``reason``: empty iff ``p`` is set.
    """

    p: float | None
    n: int
    n_needed: int
    reason: str = ""
    statistic: float = float("nan")

    @property
    def testable(self) -> bool:
        return self.p is not None

    @property
    def p_value(self) -> float:
        """``p``, NaN when there is none (for tables; Holm skips NaN)."""
        return float("nan") if self.p is None else float(self.p)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval; ``low = high = NaN`` and a ``reason`` when there is none."""

    estimate: float
    low: float
    high: float
    n: int
    n_needed: int
    reason: str = ""


def not_enough(n: int, needed: int, unit: str = "seeds", detail: str = "") -> str:
    """The reason a test or interval was not computed: ``not enough seeds (n = 2; this test needs >= 6)``."""
    return f"not enough {unit} (n = {n}{detail}; this test needs >= {needed})"


def _untested(n: int, needed: int, unit: str, detail: str = "") -> Outcome:
    return Outcome(None, n, needed, not_enough(n, needed, unit, detail))


def _sides(alternative: str) -> int:
    if alternative not in (TWO_SIDED, LESS, GREATER):
        raise ValueError(f"alternative={alternative!r}: expected {TWO_SIDED!r}, {LESS!r} or {GREATER!r}")
    return 2 if alternative == TWO_SIDED else 1


# ----------------------------------------------------------------------------------------------
# the smallest samples: computed from each test's null distribution


def min_n_wilcoxon(alpha: float = ALPHA, alternative: str = TWO_SIDED) -> int:
    """Smallest number of non-zero paired differences at which the exact signed-rank test can give p <= alpha.

    Its most extreme outcome (every difference of one sign) has probability ``2**-n`` per side:
    two-sided at 0.05 that is n = 6 (p = 1/32; with 5 pairs the smallest p is 1/16).
    """
    sides, n = _sides(alternative), 1
    while sides * 0.5**n > alpha:
        n += 1
    return n


def min_n_spearman(alpha: float = ALPHA, alternative: str = TWO_SIDED) -> int:
    """Smallest number of untied pairs at which the exact permutation test of Spearman's rho can give p <= alpha.

    The most extreme ranking is one of ``n!`` equally likely ones: two-sided at 0.05 that is n = 5
    (p = 2/120; with 4 pairs the smallest p is 2/24). Ties make the smallest p larger
    (:func:`spearman_smallest_p`).
    """
    sides, n = _sides(alternative), 1
    while sides / math.factorial(n) > alpha:
        n += 1
    return n


def brown_forsythe_smallest_p(n: int) -> float:
    """The smallest p-value the Brown-Forsythe test of two groups of ``n`` values each can give; NaN if none.

    The test is a one-way ANOVA of the absolute deviations from each group's median. With n = 2
    both deviations of a group are equal: there is no within-group spread and any p is an
    artefact (NaN). With odd n one deviation is always 0; the largest F is reached with one group
    constant and the other's other deviations equal, F = (n - 1)**2 on (1, 2n - 2) degrees of
    freedom. With even n >= 4 F is unbounded (p can reach 0).
    """
    if n < 3:
        return float("nan")
    if n % 2 == 0:
        return 0.0
    return float(sps.f.sf((n - 1) ** 2, 1, 2 * n - 2))


def min_n_brown_forsythe(alpha: float = ALPHA) -> int:
    """Smallest group size at which the Brown-Forsythe test can give p <= alpha (:func:`brown_forsythe_smallest_p`): 4
    at 0.05 (with 3 values per group the smallest p is 0.116)."""
    return next(n for n in itertools.count(3) if brown_forsythe_smallest_p(n) <= alpha)


def bootstrap_extreme_mass(n: int, statistic: str = "median") -> float:
    """Probability that the median (or mean) of a bootstrap resample of ``n`` distinct values is their minimum.

    The median is the minimum when more than half of the n draws (with replacement, each 1/n) hit
    it; the mean only when all do.
    """
    if statistic == "mean":
        return float((1.0 / n) ** n)
    if statistic != "median":
        raise ValueError(f"statistic={statistic!r}: expected 'median' or 'mean'")
    k = n // 2 + 1  # draws of the minimum that make it the median (odd n: (n + 1) / 2; even n: n / 2 + 1)
    return float(sps.binom.sf(k - 1, n, 1.0 / n))


def min_n_bootstrap(alpha: float = 1 - CONFIDENCE, statistic: str = "median") -> int:
    """Smallest sample on which a percentile bootstrap interval at level ``1 - alpha`` can exclude the data's extremes.

    That needs the resampled statistic to land on the smallest value with probability below
    ``alpha / 2`` (:func:`bootstrap_extreme_mass`): 6 for the median at 95% (5 values give 0.058),
    4 for the mean (3 values give 1/27).
    """
    return next(n for n in itertools.count(2) if bootstrap_extreme_mass(n, statistic) < alpha / 2)


def min_n_tost(alpha: float = ALPHA, on: str = "median") -> int:
    """Smallest number of pairs at which :func:`tost_paired` can show equivalence: both one-sided tests must reach
    alpha (one-sided Wilcoxon: 5; one-sided t-test: 2)."""
    if on == "median":
        return min_n_wilcoxon(alpha, LESS)
    if on == "mean":
        return 2
    raise ValueError(f"on={on!r}: expected 'median' or 'mean'")


# ----------------------------------------------------------------------------------------------
# one sample


def bootstrap_interval(values: np.ndarray, statistic: str = "mean", confidence: float = CONFIDENCE,
                       n_resamples: int = N_RESAMPLES, random_state: int = RANDOM_STATE) -> Interval:
    """The mean (or median) of a 1-D sample with its percentile bootstrap interval; non-finite entries dropped.

    The interval lies within the range of the data, so it respects any bound the data respect
    (a CE interval is never negative). No interval below :func:`min_n_bootstrap` values.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    func = np.mean if statistic == "mean" else np.median
    needed = min_n_bootstrap(1 - confidence, statistic)
    est = float(func(x)) if x.size else np.nan
    if x.size < needed:
        return Interval(est, np.nan, np.nan, int(x.size), needed, not_enough(int(x.size), needed))
    if np.all(x == x[0]):
        return Interval(est, est, est, int(x.size), needed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.bootstrap((x,), func, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                            method="percentile", rng=np.random.default_rng(random_state))
    ci = res.confidence_interval
    return Interval(est, float(ci.low), float(ci.high), int(x.size), needed)


def describe(values: np.ndarray) -> dict[str, float]:
    """Summary of one sample (1-D, e.g. one value per seed); non-finite entries are dropped.

    Returns n (finite values used), mean, median, std (ddof=1), iqr, and a 95% percentile bootstrap
    interval of the mean (ci_low, ci_high; NaN with ``ci_note`` saying why below 4 values).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    out = {"n": n, "mean": np.nan, "median": np.nan, "std": np.nan, "iqr": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "ci_note": ""}
    if n == 0:
        return out
    out.update(mean=float(x.mean()), median=float(np.median(x)), iqr=float(sps.iqr(x)))
    if n >= 2:
        out["std"] = float(x.std(ddof=1))
    ci = bootstrap_interval(x, "mean")
    out.update(ci_low=ci.low, ci_high=ci.high, ci_note=ci.reason)
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
                      n_resamples: int = N_RESAMPLES, random_state: int = RANDOM_STATE) -> Interval:
    """Median of the paired differences ``x - y`` and its bootstrap confidence interval.

    ``x, y``: 1-D, paired by position. The interval is ``scipy.stats.bootstrap`` (percentile method)
    on the differences, i.e. seeds are resampled as pairs; none (NaN, with the reason) below
    :func:`min_n_bootstrap` pairs.
    """
    d = paired_differences(x, y)
    d = d[~np.isnan(d)]
    needed = min_n_bootstrap(1 - confidence, "median")
    if d.size == 0:
        return Interval(np.nan, np.nan, np.nan, 0, needed, not_enough(0, needed))
    med = float(np.median(d))
    if d.size < needed:
        return Interval(med, np.nan, np.nan, int(d.size), needed, not_enough(int(d.size), needed))
    if np.all(d == d[0]):
        return Interval(med, float(d[0]), float(d[0]), int(d.size), needed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.bootstrap((d,), np.median, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                            method="percentile", rng=np.random.default_rng(random_state))
    ci = res.confidence_interval
    return Interval(med, float(ci.low), float(ci.high), int(d.size), needed)


def _finite_ranks(d: np.ndarray) -> np.ndarray:
    """Infinite differences replaced by values larger in magnitude than every finite one (ranks only)."""
    inf = np.isinf(d)
    if not inf.any():
        return d
    big = 2.0 * (np.abs(d[~inf]).max() if (~inf).any() else 1.0) + 1.0
    return np.where(inf, np.sign(d) * big, d)


def signed_rank(d: np.ndarray, alternative: str = TWO_SIDED, unit: str = "seeds") -> Outcome:
    """Wilcoxon signed-rank test that the differences ``d`` (1-D) are centred on 0.

    Zero differences are dropped (``zero_method='wilcox'``); infinite ones keep their rank (largest).
    No p-value below :func:`min_n_wilcoxon` non-zero differences.
    """
    d = np.asarray(d, dtype=float)
    d = d[~np.isnan(d)]
    nonzero = d[d != 0]
    needed = min_n_wilcoxon(ALPHA, alternative)
    if nonzero.size < needed:
        ties = f" non-zero of {d.size} pairs" if nonzero.size < d.size else ""
        return _untested(int(nonzero.size), needed, unit, ties)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.wilcoxon(_finite_ranks(nonzero), zero_method="wilcox", alternative=alternative)
    return Outcome(float(res.pvalue), int(nonzero.size), needed, statistic=float(res.statistic))


def wilcoxon(x: np.ndarray, y: np.ndarray, alternative: str = TWO_SIDED) -> Outcome:
    """Wilcoxon signed-rank test of the paired differences ``x - y`` (two failures tie: see the module docstring)."""
    return signed_rank(paired_differences(x, y), alternative)


def tost_paired(x: np.ndarray, y: np.ndarray, margin: float, on: str = "median") -> Outcome:
    """Two one-sided tests (TOST) of equivalence of paired samples within ``+-margin``.

    H0: the location of ``d = x - y`` is <= -margin or >= +margin; H1: it lies inside. ``on="median"``:
    one-sided Wilcoxon signed-rank tests of ``d + margin > 0`` and ``d - margin < 0`` (rank-based,
    failures allowed); ``on="mean"``: one-sided paired t-tests (finite values only). The p-value is
    the larger of the two one-sided ones; equivalence is shown when it is <= alpha. ``statistic``: the
    median (or mean) difference.
    """
    if not (margin > 0 and np.isfinite(margin)):
        raise ValueError(f"margin={margin!r}: expected a finite number > 0")
    d = paired_differences(x, y)
    d = d[~np.isnan(d)]
    needed = min_n_tost(ALPHA, on)
    if on == "median":
        lower, upper = signed_rank(d + margin, GREATER), signed_rank(d - margin, LESS)
        if not (lower.testable and upper.testable):
            return Outcome(None, int(d.size), needed, lower.reason or upper.reason)
        centre = float(np.median(d))
    else:
        if not np.isfinite(d).all():
            return Outcome(None, int(d.size), needed, "a failed run in a pair: a mean difference is undefined")
        if d.size < needed:
            return _untested(int(d.size), needed, "seeds")
        if np.all(d == d[0]):
            inside = abs(float(d[0])) < margin
            return Outcome(0.0 if inside else 1.0, int(d.size), needed, statistic=float(d[0]))
        lower = Outcome(float(sps.ttest_1samp(d, -margin, alternative=GREATER).pvalue), int(d.size), needed)
        upper = Outcome(float(sps.ttest_1samp(d, margin, alternative=LESS).pvalue), int(d.size), needed)
        centre = float(np.mean(d))
    return Outcome(max(lower.p_value, upper.p_value), int(d.size), needed, statistic=centre)


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


# ----------------------------------------------------------------------------------------------
# spread and correlation


def spread(x: np.ndarray) -> float:
    """Mean absolute deviation from the median (the scale Brown-Forsythe compares); finite values only."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.mean(np.abs(x - np.median(x)))) if x.size else np.nan


def brown_forsythe(x: np.ndarray, y: np.ndarray) -> Outcome:
    """Brown-Forsythe test (``scipy.stats.levene(center='median')``) for equal spread of two samples.

    ``x, y``: 1-D samples (finite values used); ``n`` is the smaller group. No p-value below
    :func:`min_n_brown_forsythe` values per group, nor when neither group has any spread of its
    absolute deviations (the F statistic is then 0/0 or x/0, and scipy's p an artefact of rounding).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    n, needed = int(min(x.size, y.size)), min_n_brown_forsythe(ALPHA)
    if n < needed:
        return _untested(n, needed, "seeds", " in the smaller group")
    zx, zy = np.abs(x - np.median(x)), np.abs(y - np.median(y))
    if np.ptp(zx) == 0 and np.ptp(zy) == 0:
        return Outcome(None, n, needed, "degenerate: every absolute deviation from the median is equal within each "
                                         "group")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.levene(x, y, center="median")
    return Outcome(float(res.pvalue), n, needed, statistic=float(res.statistic))


def _average_ranks(v: np.ndarray) -> np.ndarray:
    return sps.rankdata(v).astype(float)


def _rho(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``rx`` (n,) with each row of ``ry`` (m, n) (Spearman's rho on ranks)."""
    cx = rx - rx.mean()
    cy = ry - ry.mean(axis=-1, keepdims=True)
    return (cy @ cx) / np.sqrt((cx @ cx) * (cy * cy).sum(axis=-1))


@functools.lru_cache(maxsize=4)
def _permutations(n: int) -> np.ndarray:
    """Every permutation of ``range(n)``, (n!, n) (n <= :data:`SPEARMAN_EXACT_MAX`: 362880 rows)."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8)


def _permutation_rhos(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(rho of x and y, |rho| under every permutation of y), on average ranks."""
    rx, ry = _average_ranks(x), _average_ranks(y)
    return float(_rho(rx, ry[None, :])[0]), np.abs(_rho(rx, ry[_permutations(rx.size)]))


def spearman_smallest_p(x: np.ndarray, y: np.ndarray) -> float:
    """The smallest two-sided p-value the exact permutation test of Spearman's rho can give with the ties of x and y
    (1-D, at most :data:`SPEARMAN_EXACT_MAX` values): the share of orderings at least as extreme as the most extreme."""
    _, rhos = _permutation_rhos(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return float(np.mean(rhos >= rhos.max() - RHO_TOL))


def spearman(x: np.ndarray, y: np.ndarray, unit: str = "cells") -> Outcome:
    """Spearman rank correlation of the finite pairs, two-sided; ``statistic`` is rho.

    Exact permutation p-value (every ordering of y against x, average ranks for ties) up to
    :data:`SPEARMAN_EXACT_MAX` pairs, scipy's asymptotic one above. No p-value below
    :func:`min_n_spearman` pairs, with x or y constant, or when the ties leave no ordering extreme
    enough to reach :data:`ALPHA` (the reason gives the smallest p they allow).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n, needed = int(ok.sum()), min_n_spearman(ALPHA)
    if n < 2:
        return _untested(n, needed, unit)
    if np.all(x == x[0]) or np.all(y == y[0]):
        return Outcome(None, n, needed, "degenerate: one of the two variables is constant")
    if n < needed:  # rho is still the sample's rank correlation; only its p-value cannot reach alpha
        return Outcome(None, n, needed, not_enough(n, needed, unit), float(sps.spearmanr(x, y).statistic))
    if n > SPEARMAN_EXACT_MAX:
        res = sps.spearmanr(x, y)
        return Outcome(float(res.pvalue), n, needed, statistic=float(res.statistic))
    rho, rhos = _permutation_rhos(x, y)
    best = float(np.mean(rhos >= rhos.max() - RHO_TOL))
    if best > ALPHA:
        return Outcome(None, n, needed, f"ties: with these {n} {unit} the smallest p this test can give is "
                                        f"{best:.3g} > {ALPHA:g}", rho)
    return Outcome(float(np.mean(rhos >= abs(rho) - RHO_TOL)), n, needed, statistic=rho)


# ----------------------------------------------------------------------------------------------
# censored time to target


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


# ----------------------------------------------------------------------------------------------
# censored cost to target, paired


def gehan_scores(x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Per pair, which of two runs reached a target first, with censoring: -1 ``x`` first, +1 ``y`` first, 0 unknown.

    ``x, y``: the cost to reach the target (NaN/inf when the run never reached it: censored); ``cx, cy``: what each run
    spent in all (its censoring point: the run's final budget; +inf for a run that diverged, which never reaches it).
    Gehan's pairwise rule, applied within each pair: two reached costs compare directly; a reached cost below the
    other run's censoring point is first (that run had spent more without reaching); a reached cost above it and
    two censored runs are unknown (0): nobody knows whether the censored run would have reached it sooner.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    cx, cy = np.asarray(cx, dtype=float), np.asarray(cy, dtype=float)
    rx, ry = np.isfinite(x), np.isfinite(y)
    s = np.zeros(x.shape)
    both = rx & ry
    s[both] = np.sign(x[both] - y[both])
    only_x, only_y = rx & ~ry, ~rx & ry
    s[only_x & (x <= cy)] = -1.0  # x reached within what y spent without reaching
    s[only_y & (y <= cx)] = 1.0
    return s


def censored_sign_test(x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray,
                       alternative: str = TWO_SIDED) -> Outcome:
    """Paired sign test of which run reached a target first, censoring-aware (:func:`gehan_scores`).

    The pairs with a known order are binomial(n, 1/2) under H0 (exact ``scipy.stats.binomtest``); ties and pairs whose
    order censoring hides are dropped, never ranked. ``statistic``: (pairs ``y`` first) - (pairs ``x`` first), so a
    negative value favours ``x``. No p-value below :func:`min_n_wilcoxon` known orders (the same extreme-outcome
    bound: every known order on one side has probability ``2 * 2**-n``).
    """
    s = gehan_scores(x, cx, y, cy)
    known = s[s != 0]
    needed = min_n_wilcoxon(ALPHA, alternative)
    stat = float((known > 0).sum() - (known < 0).sum())
    if known.size < needed:
        return Outcome(None, int(known.size), needed,
                       not_enough(int(known.size), needed, "seeds", f" with a known order of {s.size} pairs"), stat)
    # x first is a "success"; alternative LESS = x tends to be first (lower cost)
    alt = {TWO_SIDED: "two-sided", LESS: "greater", GREATER: "less"}[alternative]
    p = sps.binomtest(int((known < 0).sum()), int(known.size), 0.5, alternative=alt).pvalue
    return Outcome(float(p), int(known.size), needed, statistic=stat)


# ----------------------------------------------------------------------------------------------
# the smallest samples after Holm


def min_n_wilcoxon_holm(cells: int, alpha: float = ALPHA, alternative: str = TWO_SIDED) -> int:
    """Smallest number of non-zero paired differences per test at which a grid of ``cells`` tests, Holm-adjusted
    together, can give any adjusted p <= alpha: Holm multiplies the smallest p by ``cells``, so each test needs
    ``sides * 2**-n * cells <= alpha`` (9 cells: 9 seeds; 18 tests: 10). Also the sign test's (same extreme)."""
    return min_n_wilcoxon(alpha / max(1, int(cells)), alternative)


def min_n_brown_forsythe_holm(cells: int, alpha: float = ALPHA) -> int:
    """Smallest group size at which one of ``cells`` Brown-Forsythe tests, Holm-adjusted together, can reach alpha."""
    return min_n_brown_forsythe(alpha / max(1, int(cells)))


def log_values(values: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Natural log of positive values (a CE), clipped at ``floor`` (a CE of 0 would give -inf); non-finite stay
    non-finite. The scale on which a spread is multiplicative: a std of 0.1 is about +-10% whatever the level."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(v), np.log(np.maximum(v, floor)), v)
