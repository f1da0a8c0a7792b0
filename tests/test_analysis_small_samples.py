"""Every test knows its minimum sample: constructed samples of known answer on n = 1..10.

Below the smallest sample a test can reach its level on, it gives no p-value and says why
("not enough seeds (n = 2; this test needs >= 6)"); at and above it, the p-value is the known one,
checked against an independent computation (exact null distributions by enumeration, ANOVA by hand).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis import stats

NS = range(1, 11)


def test_the_minimum_samples_are_the_exact_nulls():
    assert stats.min_n_wilcoxon() == 6 and stats.min_n_wilcoxon(alternative=stats.LESS) == 5
    assert stats.min_n_spearman() == 5
    assert stats.min_n_brown_forsythe() == 4
    assert stats.min_n_bootstrap(statistic="median") == 6 and stats.min_n_bootstrap(statistic="mean") == 4
    assert stats.min_n_tost(on="median") == 5 and stats.min_n_tost(on="mean") == 2
    # the defining inequalities, one below and at each minimum
    assert 2 * 0.5**5 > stats.ALPHA >= 2 * 0.5**6
    assert 2 / math.factorial(4) > stats.ALPHA >= 2 / math.factorial(5)


@pytest.mark.parametrize("n", NS)
def test_wilcoxon_all_differences_of_one_sign(n: int):
    y = np.linspace(1.0, 2.0, n)
    x = y - np.arange(1, n + 1) / 10  # x better on every seed, distinct differences
    t = stats.wilcoxon(x, y)
    if n < 6:
        assert t.p is None and t.reason == f"not enough seeds (n = {n}; this test needs >= 6)"
    else:  # the exact null: each of the 2**n sign patterns equally likely, two-sided
        assert t.p == pytest.approx(2 * 0.5**n) and t.reason == ""


def test_wilcoxon_counts_only_non_zero_differences():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = x + np.array([0, 0, 0, 1, 2, 3, 4, 5.0])
    t = stats.wilcoxon(x, y)
    assert t.p is None and t.reason == "not enough seeds (n = 5 non-zero of 8 pairs; this test needs >= 6)"


def _bf_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Brown-Forsythe p from its definition: one-way ANOVA of |value - group median|."""
    z = [np.abs(x - np.median(x)), np.abs(y - np.median(y))]
    grand = np.concatenate(z).mean()
    between = sum(g.size * (g.mean() - grand) ** 2 for g in z)
    within = sum(((g - g.mean()) ** 2).sum() for g in z)
    df_w = x.size + y.size - 2
    return float(sps.f.sf(between / (within / df_w), 1, df_w))


@pytest.mark.parametrize("n", NS)
def test_brown_forsythe_on_n_values_per_group(n: int):
    x = np.arange(n) ** 1.5  # spread growing
    y = 0.1 * np.arange(n) + 0.01 * np.arange(n) ** 2
    t = stats.brown_forsythe(x, y)
    if n < 4:
        assert t.p is None and t.reason == f"not enough seeds (n = {n} in the smaller group; this test needs >= 4)"
    else:
        assert t.p == pytest.approx(_bf_by_hand(x, y), rel=1e-9)


def test_brown_forsythe_two_seeds_is_not_p_zero():
    """The report's case: with 2 values per group scipy says p ~ 3e-34; there is no within-group spread at all."""
    assert sps.levene([0.2, 0.3], [0.01, 0.011], center="median").pvalue < 1e-20
    t = stats.brown_forsythe(np.array([0.2, 0.3]), np.array([0.01, 0.011]))
    assert t.p is None and "n = 2" in t.reason and "needs >= 4" in t.reason


def test_brown_forsythe_smallest_p_with_three_values_is_attained_and_not_beaten():
    best = stats.brown_forsythe_smallest_p(3)
    assert best == pytest.approx(sps.f.sf(4, 1, 4)) and best > stats.ALPHA
    # attained by one constant group against a symmetric one
    assert sps.levene([5.0, 5, 5], [-1.0, 0, 1], center="median").pvalue == pytest.approx(best)
    rng = np.random.default_rng(0)
    for _ in range(3000):  # and no pair of 3-value samples does better
        x, y = rng.normal(size=3) * rng.exponential(), rng.normal(size=3)
        assert sps.levene(x, y, center="median").pvalue >= best - 1e-12
    assert stats.brown_forsythe(np.array([-1.0, -1, 1, 1]), np.zeros(4)).reason.startswith("degenerate")


def _exact_spearman_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided exact permutation p of Spearman's rho by brute force with scipy's statistic."""
    obs = abs(sps.spearmanr(x, y).statistic)
    rhos = [abs(sps.spearmanr(x, y[list(p)]).statistic) for p in itertools.permutations(range(len(x)))]
    return float(np.mean(np.array(rhos) >= obs - 1e-12))


@pytest.mark.parametrize("n", NS)
def test_spearman_perfect_ranking(n: int):
    x, y = np.arange(n, dtype=float), np.arange(n, dtype=float) ** 2
    t = stats.spearman(x, y)
    if n < 5:
        assert t.p is None and t.reason == f"not enough cells (n = {n}; this test needs >= 5)"
        assert n < 2 or t.statistic == pytest.approx(1.0)  # the correlation itself is still reported
    elif n <= stats.SPEARMAN_EXACT_MAX:
        assert t.p == pytest.approx(2 / math.factorial(n)) and t.statistic == pytest.approx(1.0)
    else:
        assert t.p == pytest.approx(sps.spearmanr(x, y).pvalue)


def test_spearman_exact_p_with_ties_is_the_brute_force_one():
    x = np.array([3.0, 3, 3, 5, 5, 5, 10])
    y = np.array([0.2, 0.5, 0.1, 0.4, 0.9, 0.7, 1.2])
    assert stats.spearman(x, y).p == pytest.approx(_exact_spearman_p(x, y))


def test_spearman_ties_that_keep_p_above_alpha_are_named():
    # two depths of three cells each: at best 2 of the 20 ways to split the ratios are as extreme
    depth, ratio = np.array([3.0, 3, 3, 5, 5, 5]), np.array([1.0, 2, 3, 4, 5, 6])
    assert sps.spearmanr(depth, ratio).pvalue < stats.ALPHA  # the asymptotic p would call it significant
    t = stats.spearman(depth, ratio)
    assert t.p is None and "smallest p this test can give is 0.1" in t.reason
    assert stats.spearman_smallest_p(depth, ratio) == pytest.approx(0.1)


def _extreme_mass_by_enumeration(n: int, statistic: str) -> float:
    values = np.arange(n, dtype=float)
    func = np.median if statistic == "median" else np.mean
    draws = np.array(list(itertools.product(range(n), repeat=n)))
    return float(np.mean(func(values[draws], axis=1) == 0.0))


@pytest.mark.parametrize("n", range(2, 7))
@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_bootstrap_extreme_mass_is_the_enumerated_one(n: int, statistic: str):
    assert stats.bootstrap_extreme_mass(n, statistic) == pytest.approx(_extreme_mass_by_enumeration(n, statistic))


@pytest.mark.parametrize("n", NS)
def test_median_difference_interval_on_n_pairs(n: int):
    y = np.linspace(1.0, 2.0, n)
    d = (np.arange(n) - n / 2) / 10
    iv = stats.median_difference(y + d, y)
    assert iv.estimate == pytest.approx(np.median(d))
    if n < 6:
        assert np.isnan(iv.low) and iv.reason == f"not enough seeds (n = {n}; this test needs >= 6)"
    else:
        assert d.min() <= iv.low <= iv.estimate <= iv.high <= d.max() and iv.low < iv.high


@pytest.mark.parametrize("n", NS)
def test_mean_interval_of_a_non_negative_quantity_stays_non_negative(n: int):
    ce = np.array([0.001, 0.002, 0.0015, 0.4, 0.003, 0.002, 0.5, 0.001, 0.0012, 0.6])[:n]  # skewed, like CE
    d = stats.describe(ce)
    if n < 4:
        assert np.isnan(d["ci_low"]) and "needs >= 4" in d["ci_note"]
    else:
        assert ce.min() <= d["ci_low"] <= d["mean"] <= d["ci_high"] <= ce.max()
    if n >= 4:  # the t-interval the report used to show leaves the domain on these samples
        half = sps.t.ppf(0.975, n - 1) * ce.std(ddof=1) / np.sqrt(n)
        assert ce.mean() - half < 0


@pytest.mark.parametrize("n", NS)
def test_tost_on_the_median_inside_the_margin(n: int):
    d = (np.arange(n) - (n - 1) / 2) / 100  # centred, all well inside +-0.1
    t = stats.tost_paired(d, np.zeros(n), margin=0.1)
    if n < 5:
        assert t.p is None and t.reason == f"not enough seeds (n = {n}; this test needs >= 5)"
    else:  # every d + 0.1 > 0 and every d - 0.1 < 0: each one-sided exact p is 2**-n
        assert t.p == pytest.approx(0.5**n) and t.p < stats.ALPHA


def test_tost_on_the_median_outside_the_margin_and_with_failures():
    shifted = np.full(8, 0.3) + np.arange(8) / 100
    assert stats.tost_paired(shifted, np.zeros(8), margin=0.1).p > 0.5
    # a failure (inf) is a difference beyond any margin
    x = np.array([0.01, -0.02, 0.015, np.inf, 0.003, 0.007, -0.01, 0.0])
    t = stats.tost_paired(x, np.zeros(8), margin=0.1)
    assert t.testable and t.p > stats.ALPHA
    with pytest.raises(ValueError, match="margin"):
        stats.tost_paired(x, np.zeros(8), margin=0.0)


@pytest.mark.parametrize("n", NS)
def test_tost_on_the_mean_is_two_one_sided_t_tests(n: int):
    d = np.linspace(-0.02, 0.05, n)
    t = stats.tost_paired(d, np.zeros(n), margin=0.1, on="mean")
    if n < 2:
        assert t.p is None and "needs >= 2" in t.reason
        return
    se = d.std(ddof=1) / np.sqrt(n)
    lower = sps.t.sf((d.mean() + 0.1) / se, n - 1)  # H0: mean <= -0.1
    upper = sps.t.cdf((d.mean() - 0.1) / se, n - 1)  # H0: mean >= +0.1
    assert t.p == pytest.approx(max(lower, upper)) and t.statistic == pytest.approx(d.mean())
