"""Statistics on synthetic samples with known effects, and exact values of the small helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import SyntheticMethod, synthetic_traces

from analysis import comparisons as cmp
from analysis import stats
from analysis.metrics import metrics_table


def three(interval: stats.Interval) -> tuple[float, float, float]:
    return interval.estimate, interval.low, interval.high


def test_holm_known_vector():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_nan():
    out = stats.holm(np.array([0.5, np.nan, 0.2, 0.9]))
    assert np.isnan(out[1])
    # m = 3: 0.2 x 3 = 0.6, 0.5 x 2 = 1.0, 0.9 x 1 -> running max 1.0
    np.testing.assert_allclose(out[[0, 2, 3]], [1.0, 0.6, 1.0])
    assert stats.holm(np.array([])).size == 0


def test_holm_by_adjusts_each_family_separately():
    t = pd.DataFrame({"fam": ["a", "a", "b"], "p_value": [0.01, 0.02, 0.03]})
    np.testing.assert_allclose(cmp.holm_by(t, ["fam"]), [0.02, 0.02, 0.03])


def test_large_shift_gives_small_p_and_interval_below_zero():
    rng = np.random.default_rng(1)
    y = rng.normal(1.0, 0.2, 15)
    x = y - 0.5 + rng.normal(0, 0.05, 15)
    med, lo, hi = three(stats.median_difference(x, y))
    assert stats.wilcoxon(x, y).p < 1e-3
    assert hi < 0 and lo < med < hi
    assert med == pytest.approx(-0.5, abs=0.1)
    assert stats.win_rate(x, y) == 1.0


def test_no_shift_interval_covers_zero_most_of_the_time():
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(100):
        y = rng.normal(0, 1, 25)
        x = rng.normal(0, 1, 25)
        _, lo, hi = three(stats.median_difference(x, y, n_resamples=1000))
        covered += lo <= 0 <= hi
    assert covered >= 85


def test_bootstrap_is_reproducible():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=10), rng.normal(size=10)
    assert stats.median_difference(x, y) == stats.median_difference(x, y)


def test_wilcoxon_degenerate_cases_give_no_p_value():
    assert stats.wilcoxon(np.ones(5), np.ones(5)).p is None  # all differences zero
    assert stats.wilcoxon(np.array([1.0]), np.array([2.0])).p is None  # one pair
    med, lo, hi = three(stats.median_difference(np.array([1.0]), np.array([2.0])))
    assert med == -1.0 and np.isnan(lo) and np.isnan(hi)


def test_failures_rank_worst():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([np.inf] * 6)  # baseline always failed
    assert stats.win_rate(x, y) == 1.0
    assert stats.wilcoxon(x, y).p == pytest.approx(2 / 64)
    assert stats.paired_differences(np.array([np.inf]), np.array([np.inf]))[0] == 0.0  # two failures tie
    np.testing.assert_array_equal(stats.as_cost(np.array([0.9, np.nan]), higher_is_better=True), [-0.9, np.inf])
    np.testing.assert_array_equal(stats.as_cost(np.array([0.1, 0.2]), np.array([False, True])), [0.1, np.inf])


def test_win_rate_and_probability_of_improvement_known_values():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 4.0])
    assert stats.win_rate(x, y) == pytest.approx((1 + 0.5 + 1) / 3)
    # pairs with x < y: (1,2),(1,2),(1,4),(2,4),(3,4) = 5, ties (2,2),(2,2) = 2 -> (5 + 1) / 9
    assert stats.prob_improvement(x, y) == pytest.approx(6 / 9)


def test_brown_forsythe_detects_spread_and_handles_degenerate():
    rng = np.random.default_rng(4)
    narrow, wide = rng.normal(0, 0.1, 40), rng.normal(0, 2.0, 40)
    assert stats.brown_forsythe(narrow, wide).p < 1e-3
    assert stats.brown_forsythe(rng.normal(0, 1, 40), rng.normal(0, 1, 40)).p > 0.01
    assert stats.brown_forsythe(np.ones(4), np.ones(4)).p is None
    assert stats.brown_forsythe(np.array([1.0]), wide).p is None


def test_describe_known_values():
    d = stats.describe(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    assert d["n"] == 4 and d["mean"] == 2.5 and d["median"] == 2.5 and d["iqr"] == pytest.approx(1.5)
    assert d["std"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert 1.0 <= d["ci_low"] < 2.5 < d["ci_high"] <= 4.0
    one = stats.describe(np.array([0.3]))
    assert one["n"] == 1 and one["median"] == 0.3 and np.isnan(one["std"]) and np.isnan(one["ci_low"])


def test_performance_profile_known_values():
    costs = pd.DataFrame([[1.0, 2.0, 4.0], [3.0, 3.0, np.inf]], columns=["a", "b", "c"])
    ratios = cmp.performance_ratios(costs)
    np.testing.assert_array_equal(ratios.to_numpy(), [[1, 2, 4], [1, 1, np.inf]])
    prof = cmp.performance_profile(ratios, np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(prof.to_numpy(), [[1, 0.5, 0], [1, 1, 0], [1, 1, 0.5]])
    taus = cmp.profile_taus(ratios)
    assert taus[0] == 1.0 and taus[-1] > 4.0


def test_fraction_reached_counts_censored_in_denominator():
    out = stats.fraction_reached(np.array([1.0, 2.0, np.nan, 4.0]), np.array([0.0, 1.0, 3.0, 5.0]))
    np.testing.assert_allclose(out, [0, 0.25, 0.5, 0.75])


def test_spearman_degenerate_and_known():
    t = stats.spearman(np.array([1, 2, 3, 4, 5.0]), np.array([5, 4, 3, 2, 1.0]))
    assert t.statistic == pytest.approx(-1.0) and t.n == 5 and t.p == pytest.approx(2 / 120)
    assert stats.spearman(np.array([1, 2.0]), np.array([1, 2.0])).p is None
    assert "constant" in stats.spearman(np.ones(6), np.arange(6.0)).reason


def _synthetic_metrics(seeds: int = 6) -> pd.DataFrame:
    methods = [SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.05),
               SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.3)]
    return metrics_table(synthetic_traces(methods, depths=(1, 2), widths=(4,), seeds=seeds, iterations=12), 0.05)


def test_paired_comparisons_and_variance_tables():
    m = _synthetic_metrics()
    t = cmp.paired_comparisons(m, "final_F", ["lysep"], ["adam"])
    assert len(t) == 2 and (t["n_pairs"] == 6).all()
    assert (t["median_diff"] < 0).all() and (t["ci_high"] < 0).all() and (t["ratio"] < 1).all()
    assert (t["p_holm"] >= t["p_value"]).all()
    acc = cmp.paired_comparisons(m, "final_test_acc", ["lysep"], ["adam"], higher_is_better=True)
    assert (acc["median_diff"] > 0).all() and (acc["ci_low"] <= acc["median_diff"]).all()
    v = cmp.variance_comparisons(m, "final_F", ["lysep"], ["adam"])
    # issue 32: the spread is tested on log CE (multiplicative), the raw-scale std beside
    assert (v["raw_std_method"] < v["raw_std_baseline"]).all()
    for r in v.itertuples(index=False):
        own = m[(m.depth == r.depth) & (m.method == "lysep")].final_F.to_numpy()
        assert r.std_method == pytest.approx(np.log(own).std(ddof=1)) and r.raw_std_method == pytest.approx(
            own.std(ddof=1))


def test_summary_and_curve_bands():
    m = _synthetic_metrics(seeds=3)
    s = cmp.summary_table(m, ["final_F", "seconds_to_target"])
    assert set(s["metric"]) == {"final_F", "seconds_to_target"} and len(s) == 2 * 2 * 2
    assert (s["n_runs"] == 3).all()
    methods = [SyntheticMethod("lysep", "lysep")]
    tr = synthetic_traces(methods, seeds=3, iterations=5)
    b = cmp.curve_bands(tr, "test_acc", "wall_time")
    assert set(b["iteration"]) == {0, 5}  # test metrics exist on evaluation rows only
    assert (b["n"] == 3).all()
