"""Issue 32: each verdict rule on constructed data where the rule before it gave the wrong answer.

Every test builds a case with a known answer, shows what the old rule said (computed here, the old way), and checks
that the new rule says the right thing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from synthetic import SyntheticMethod, runs_from_traces, synthetic_meta, synthetic_traces

from analysis import claims as cl
from analysis import comparisons as cmp
from analysis import metrics as me
from analysis import stats
from analysis.metrics import metrics_table

LYSEP = SyntheticMethod("lysep", "lysep", rate=0.3, seed_sd=0.05)
ADAM = SyntheticMethod("adam", "adam", rate=0.3, seed_sd=0.05)


def _metrics(traces: pd.DataFrame, target: float | None = None, dtype: str | None = None) -> pd.DataFrame:
    return metrics_table(traces, target, runs_from_traces(traces), dtype)


# ----------------------------------------------------------------------------------------------
# 1. c4: spread on the log scale, and cells read before a run's first iteration


def _final_values(traces: pd.DataFrame, method: str, values: np.ndarray) -> pd.DataFrame:
    """``traces`` with the last row's F of each seed of ``method`` set to ``values`` (seed order)."""
    out = traces.copy()
    last = out["iteration"] == out["iteration"].max()
    for seed, v in enumerate(values):
        out.loc[last & (out["method"] == method) & (out["seed"] == seed), "F"] = v
    return out


def test_c4_tests_the_multiplicative_spread_not_the_level():
    """LySep at CE ~0.2 varying +-5%, the baseline at ~1e-3 varying by a factor ~1.6: on the raw scale the baseline's
    spread is 20x smaller (old rule: the baseline significantly less spread), in proportion LySep's is 10x smaller."""
    z = np.random.default_rng(0).standard_normal((2, 10))
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4,), seeds=10, iterations=6)
    lysep_f, adam_f = 0.2 * np.exp(0.05 * z[0]), 1e-3 * np.exp(0.5 * z[1])
    traces = _final_values(_final_values(traces, "lysep", lysep_f), "adam", adam_f)
    old = sps.levene(lysep_f, adam_f, center="median")  # the old test, on raw CE
    assert old.pvalue < 0.05 and lysep_f.std() > adam_f.std()  # old: the baseline is less spread
    c4 = cl.variance_claim(traces, _metrics(traces), budget="iterations")
    assert c4.verdict == cl.SUPPORTED  # new: LySep is less spread, in proportion
    row = c4.details.iloc[0]
    assert row["std_method"] == pytest.approx(np.log(lysep_f).std(ddof=1))
    assert row["raw_std_method"] == pytest.approx(lysep_f.std(ddof=1))  # the raw scale shown beside
    assert row["p_value"] == pytest.approx(sps.levene(np.log(lysep_f), np.log(adam_f), center="median").pvalue)


def test_c4_is_not_comparable_where_a_run_has_not_completed_an_iteration():
    """One LySep iteration costs 100 grad_evals, the baseline's whole run 20: at equal grad_evals LySep is read at its
    starting point. The old rule tested that spread (the initialisation's); the new one gives the cell no verdict."""
    slow = SyntheticMethod("lysep", "lysep", rate=0.3, seed_sd=0.05, grad_evals_per_iter=100.0)
    traces = synthetic_traces([slow, ADAM], depths=(2,), widths=(4, 8), seeds=10, iterations=20)
    metrics = _metrics(traces)
    pairs = cl.budget_pairs(traces, metrics, "lysep", ["adam"], "grad_evals")
    assert (pairs["iter_a"] == 0).all() and (pairs["iter_b"] == 20).all()
    c4 = cl.variance_claim(traces, metrics, budget="grad_evals")
    assert c4.verdict == cl.INCONCLUSIVE and cl.NOT_COMPARABLE in c4.numbers
    assert c4.details["p_value"].isna().all()
    # at equal iterations both ran 20: comparable
    c4 = cl.variance_claim(traces, metrics, budget="iterations")
    assert c4.details["p_value"].notna().all()


# ----------------------------------------------------------------------------------------------
# 2. bound checks: dtype-scaled tolerance, iteration 0 apart, gaps below resolution


def _bound_run(gap: np.ndarray, f: float = 2.3, seed: int = 0) -> pd.DataFrame:
    n = gap.size
    nan = np.full(n, np.nan)
    return pd.DataFrame({"method": "lysep", "algorithm": "lysep", "depth": 2, "width": 4, "seed": seed,
                         "iteration": np.arange(n), "wall_time": np.arange(n, dtype=float),
                         "grad_evals": np.arange(n, dtype=float), "F": np.full(n, f), "J": f + gap, "J_start": f + gap,
                         "B": f + gap, "bound_gap": gap, "surrogate_gap": gap, "train_acc": nan, "test_ce": nan,
                         "test_acc": nan, "diverged": np.zeros(n, dtype=bool)})


def test_one_float32_ulp_at_iteration_0_is_not_a_violation():
    """Example 2's case: J - F = -2.38e-7 at iteration 0 (J = F by construction; one float32 ulp at F = 2.3), every
    later gap clearly positive. The old 1e-7 * max(1, |F|) tolerance called it a violation (not supported)."""
    gap = np.array([-2.38e-7, 0.01, 0.02, 0.03])
    old_violations, _ = me.gap_violations(gap, np.full(4, 2.3), me.MONOTONE_TOL)
    assert old_violations == 1
    c1b = cl.surrogate_claim(_metrics(_bound_run(gap)))
    assert c1b.verdict == cl.SUPPORTED
    assert "violations/rows after iteration 0 0/3" in c1b.numbers and "0 of 1 rows past the tolerance" in c1b.numbers


def test_gaps_below_resolution_are_evidence_neither_way():
    """B - F = 3e-7 on every row after iteration 0, under float32's resolution at F = 2.3 (8 ulps: 2.2e-6): the old
    rule counted those rows as confirming the bound (supported); they cannot tell B >= F from B < F."""
    gap = np.array([0.0, 3e-7, 3e-7, 3e-7])
    assert me.gap_violations(gap, np.full(4, 2.3), me.CERTIFICATE_TOL)[0] == 0  # old: no violation -> supported
    c1 = cl.certificate_claim(_metrics(_bound_run(gap)))
    assert c1.verdict == cl.INCONCLUSIVE and "every gap below resolution" in c1.numbers


def test_the_tolerance_scales_with_the_dtype():
    """A float64 run whose J is 1e-10 below F is below it: far above float64's resolution (1.8e-15), far below the old
    fixed 1e-7. The same gap in float32 is below resolution."""
    assert me.resolution("float32") == pytest.approx(8 * np.finfo(np.float32).eps)
    assert me.resolution("float64") == pytest.approx(8 * np.finfo(np.float64).eps)
    gap = np.array([0.0, -1e-10, 0.01, 0.01])
    assert me.gap_violations(gap, np.ones(4), me.MONOTONE_TOL)[0] == 0  # old: not a violation
    assert cl.surrogate_claim(_metrics(_bound_run(gap, f=1.0), dtype="float64")).verdict == cl.NOT_SUPPORTED
    m32 = _metrics(_bound_run(gap, f=1.0), dtype="float32")
    assert cl.surrogate_claim(m32).verdict == cl.SUPPORTED and int(m32["surrogate_unresolved"].sum()) == 1
    with pytest.raises(ValueError, match="float dtype"):
        me.resolution("float33")


def _decrease_run(j: np.ndarray, j_start: np.ndarray) -> pd.DataFrame:
    """A LySep run whose J at the end and J_start at the start of each iteration are given (its bounds hold)."""
    return _bound_run(np.full(j.size, 0.5), f=0.5).assign(J=j, J_start=j_start)


def test_c2_tolerance_scales_with_the_dtype_float64():
    """A float64 run whose J rises by 5e-10 relative within one iteration (J_start = 2: by 1e-9, about 4.5e6 float64
    ulps): a real increase. The old fixed tolerance 1e-7 * max(1, |J_start|) = 2e-7 missed it (supported); with 8
    ulps of float64 (3.6e-15 at J_start = 2) it is a violation."""
    j_start = np.array([2.5, 2.5, 2.2, 2.0])
    j = np.array([2.5, 2.2, 2.0, 2.0 * (1 + 5e-10)])
    old = me.count_exceedances(j, j_start, me.MONOTONE_TOL)
    assert old == (0, 4)  # old: no violation
    m = _metrics(_decrease_run(j, j_start), dtype="float64")
    assert int(m["j_violations"].sum()) == 1 and int(m["j_checked"].sum()) == 3  # iteration 0 apart
    c2 = cl.monotone_claim(m)
    assert c2.verdict == cl.NOT_SUPPORTED and "violations/iterations after iteration 0 1/3" in c2.numbers


def test_c2_one_float32_ulp_wobble_is_not_a_violation():
    """A float32 run whose J ends one float32 ulp above J_start = 2.3 (2.4e-7: the rounding of the recomputation) and
    otherwise decreases. The old tolerance (1e-7 * 2.3 = 2.3e-7, under one ulp) called it a violation (not supported);
    8 float32 ulps (2.2e-6) count it below resolution, and the other iterations support the claim."""
    top = float(np.float32(2.3))
    wobble = float(np.nextafter(np.float32(top), np.float32(3.0)))
    j_start = np.array([3.0, 3.0, 2.5, top])
    j = np.array([3.0, 2.5, top, wobble])
    assert me.count_exceedances(j, j_start, me.MONOTONE_TOL)[0] == 1  # old: a violation
    m = _metrics(_decrease_run(j, j_start), dtype="float32")
    assert int(m["j_violations"].sum()) == 0 and int(m["j_unresolved"].sum()) == 1
    c2 = cl.monotone_claim(m)
    assert c2.verdict == cl.SUPPORTED and "below resolution" in c2.numbers and "in 1 of 3 iterations" in c2.numbers
    # the same wobble in float64 is 2e8 ulps: a violation
    assert cl.monotone_claim(_metrics(_decrease_run(j, j_start), dtype="float64")).verdict == cl.NOT_SUPPORTED


def test_c2_every_change_below_resolution_is_inconclusive():
    """J_start and J equal on every iteration (nothing moved): no evidence that J decreases. The old rule: supported."""
    j = np.full(4, 1.7)
    c2 = cl.monotone_claim(_metrics(_decrease_run(j, j.copy())))
    assert c2.verdict == cl.INCONCLUSIVE and "every change below resolution" in c2.numbers


# ----------------------------------------------------------------------------------------------
# 5. cost to target with censoring


def test_censored_runs_do_not_take_the_top_ranks():
    """Example 1 (3, 50) at equal grad_evals: LySep reaches the target at ~1020 grad_evals in all 10 seeds, SGD at ~24
    in 7 and never within its whole run of 25 in 3. Old: censored = +inf, Wilcoxon ranks the 3 SGD failures above
    every LySep loss (p = 0.85). New: LySep's 1020 is beyond what the censored SGD runs spent, so those 3 orders are
    unknown; SGD is first in the 7 known ones (exact sign test p = 2 / 2**7)."""
    lysep = 1020.0 + np.arange(10)
    sgd = np.array([24.0, 23.5, 24.5, 23.8, 24.2, 24.1, 23.9, np.nan, np.nan, np.nan])
    old = stats.wilcoxon(lysep, np.where(np.isfinite(sgd), sgd, np.inf))
    assert old.p_value > 0.5
    new = stats.censored_sign_test(lysep, np.full(10, 2000.0), sgd, np.full(10, 25.0))
    assert new.p == pytest.approx(2 * 0.5**7) and new.n == 7 and new.statistic == 7  # positive: SGD first
    row = cmp.censored_row(lysep, np.full(10, 2000.0), sgd, np.full(10, 25.0))
    assert row["direction"] == 1.0 and row["test_used"] == cmp.CENSORED_SIGN


def test_gehan_scores_on_every_kind_of_pair():
    inf, nan = np.inf, np.nan
    x = np.array([5.0, 5.0, 5.0, nan, nan, 5.0, nan])
    cx = np.array([10, 10, 10, 10, 10, 10, inf])  # the last x run diverged: it never reaches the target
    y = np.array([7.0, nan, nan, 3.0, nan, 5.0, 4.0])
    cy = np.array([10, 8, 4, 10, 10, 10, 10])
    # x first; x within what censored y spent; x beyond it (unknown); y within x's; both censored; tie; x diverged
    assert stats.gehan_scores(x, cx, y, cy).tolist() == [-1, -1, 0, 1, 0, 0, 1]


def test_c3_tests_the_cost_to_target_with_censoring():
    traces = synthetic_traces([SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02), ADAM], seeds=8,
                              iterations=20)
    metrics = _metrics(traces, 0.05)
    c3 = cl.faster_claim(traces, metrics, 0.05, budget="iterations")
    to_target = c3.details[c3.details["test"] == "iters_to_target"]
    assert (to_target["test_used"] == cmp.CENSORED_SIGN).all()


# ----------------------------------------------------------------------------------------------
# 6. verdict rules


def _hand_table(diffs, ps) -> pd.DataFrame:
    n = len(diffs)
    return pd.DataFrame({"depth": np.arange(n), "width": 1, "test": "t", "median_diff": diffs, "p_value": ps,
                         "p_holm": ps, "n_pairs": 10})


def test_no_significant_cell_is_no_verdict():
    """The old rule: "not supported if LySep is never ahead on a median difference", with no significant cell."""
    verdict, text = cl.majority_verdict(_hand_table([1.0, 1.0, 2.0], [0.4, 0.6, 0.3]))
    assert verdict == cl.INCONCLUSIVE and "baseline in 0" in text


def test_a_majority_with_a_cell_significantly_against_is_not_support():
    verdict, text = cl.majority_verdict(_hand_table([-1.0, -1.0, 1.0], [0.01, 0.01, 0.01]))
    assert verdict == cl.INCONCLUSIVE and "significant against LySep in 1 cells" in text


def test_the_tests_of_a_cell_are_corrected_together():
    """c3 counts a cell for LySep when either of its two tests is significant: Holm now runs over every test of the
    table, not over the cells of each test separately."""
    traces = synthetic_traces([SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02), ADAM], widths=(4, 8),
                              seeds=8, iterations=20)
    metrics = _metrics(traces, 0.05)
    t = cl.speed_tests(traces, metrics, "lysep", ["adam"], 0.05, budget="iterations")
    assert t["test"].nunique() == 2 and len(t) == 4
    assert np.allclose(t["p_holm"], stats.holm(t["p_value"].to_numpy()), equal_nan=True)
    per_test = cmp.holm_by(t, ["test"])  # the old family: each test over the cells
    assert (t["p_holm"].to_numpy() >= per_test - 1e-15).all() and (t["p_holm"].to_numpy() > per_test).any()
    # a cell whose two tests give 0.03 and 0.04: significant alone, not after correcting for both
    assert (stats.holm(np.array([0.03, 0.04])) >= 0.05).all()


def test_the_minimum_sample_after_holm():
    """With 9 cells, 6 seed pairs (the Wilcoxon minimum) can never reach significance after Holm: the smallest p,
    2 / 2**6 = 0.031, times 9 is 0.28. The grid needs 9 (2 * 9 / 2**9 = 0.035); 18 tests need 10."""
    assert stats.min_n_wilcoxon_holm(1) == 6
    assert stats.min_n_wilcoxon_holm(9) == 9 and 9 * 2 * 0.5**8 > 0.05 >= 9 * 2 * 0.5**9
    assert stats.min_n_wilcoxon_holm(18) == 10
    _, text = cl.majority_verdict(_hand_table([-1.0] * 9, [0.01] * 9))
    assert "Holm over 9 tests: each needs >= 9 seed pairs" in text
    assert stats.min_n_brown_forsythe_holm(9) == 4


# ----------------------------------------------------------------------------------------------
# 6b. the equivalence route to "not supported" (TOST within a declared margin)

#: symmetric multiplicative wobbles, one per seed: a Wilcoxon test of them is exactly balanced (p = 1)
WOBBLE = np.array([1, -1, 2, -2, 3, -3, 4, -4, 5, -5]) * 1e-3


def _shadow(traces: pd.DataFrame, factor: dict) -> pd.DataFrame:
    """``traces`` with LySep's F in each (width, seed) set to Adam's F there times ``factor[width][seed]``."""
    keys = ["depth", "width", "seed", "iteration"]
    adam = traces[traces["method"] == "adam"].set_index(keys)["F"]
    out = traces.copy()
    lys = out["method"] == "lysep"
    idx = pd.MultiIndex.from_frame(out.loc[lys, keys])
    scale = [factor[w][s] for w, s in zip(out.loc[lys, "width"], out.loc[lys, "seed"], strict=True)]
    out.loc[lys, "F"] = adam.loc[idx].to_numpy() * np.asarray(scale)
    return out


def _old_rule(tests: pd.DataFrame) -> str:
    """The verdict before the equivalence route: the same tests without their TOSTs."""
    return cl.majority_verdict(tests.drop(columns=cl.TOST_COLUMNS))[0]


def test_equal_within_a_tiny_margin_in_every_cell_is_not_supported():
    """LySep's CE at equal iterations is Adam's within +-0.5% in every seed of all 3 cells (symmetric wobble): no
    Wilcoxon test can be significant, so the old rule said "inconclusive" for ever, however many seeds. The paired
    TOST shows the median log ratio inside +-log 1.1 in every cell (p = 2**-10 per side, Holm x3): not supported."""
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4, 8, 16), seeds=10, iterations=6)
    traces = _shadow(traces, {w: 1 + WOBBLE for w in (4, 8, 16)})
    c3 = cl.faster_claim(traces, _metrics(traces), None, budget="iterations")
    t = c3.details
    assert (t["p_value"] > 0.5).all() and _old_rule(t) == cl.INCONCLUSIVE
    # the TOST by hand: two one-sided Wilcoxon tests of the log ratios shifted by the margin
    d = np.log1p(WOBBLE)
    ref = max(sps.wilcoxon(d + np.log(1.1), alternative="greater").pvalue,
              sps.wilcoxon(d - np.log(1.1), alternative="less").pvalue)
    assert np.allclose(t["tost_p"], ref) and ref == pytest.approx(0.5**10)
    assert np.allclose(t["tost_holm"], 3 * ref) and (t["margin"] == np.log(1.1)).all()
    assert c3.verdict == cl.NOT_SUPPORTED
    assert "equivalent (TOST within the margin, no test significant) in 3" in c3.numbers
    assert "|median log ratio| < log 1.1" in c3.numbers and "Holm over 3 TOSTs" in c3.numbers


def test_one_cell_against_and_the_rest_equivalent_is_not_supported():
    """Cell width 4: LySep's CE is 1.5x Adam's in every seed (significant against: Holm p = 3 * 2 / 2**10); widths 8
    and 16: equal within 0.5%. The old rule: the baseline wins 1 of 3 cells, not a majority: inconclusive. New: 1
    against + 2 equivalent of 3 cells: not supported."""
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4, 8, 16), seeds=10, iterations=6)
    traces = _shadow(traces, {4: 1.5 * (1 + WOBBLE), 8: 1 + WOBBLE, 16: 1 + WOBBLE})
    c3 = cl.faster_claim(traces, _metrics(traces), None, budget="iterations")
    out = cl.cell_outcomes(c3.details).set_index("width")["outcome"]
    assert out.to_dict() == {4: "baseline", 8: "equivalent", 16: "equivalent"}
    assert _old_rule(c3.details) == cl.INCONCLUSIVE
    assert c3.verdict == cl.NOT_SUPPORTED and "baseline better or equivalent in 3 of 3 cells" in c3.numbers


def test_a_cell_significant_either_way_is_not_equivalent():
    """LySep's CE 2% below Adam's in every seed: within the margin (TOST significant) but also significantly lower
    (Wilcoxon): the cell counts for LySep, not as equivalent."""
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4,), seeds=10, iterations=6)
    traces = _shadow(traces, {4: 0.98 * (1 + WOBBLE / 10)})
    t = cl.faster_claim(traces, _metrics(traces), None, budget="iterations").details
    assert (t["tost_holm"] < 0.05).all() and (t["p_holm"] < 0.05).all()
    assert cl.cell_outcomes(t)["outcome"].tolist() == ["method"]


def test_too_few_pairs_cannot_show_equivalence():
    """4 seeds: the one-sided Wilcoxon tests of a TOST need >= 5 pairs (2**-4 > 0.05); equal runs stay inconclusive."""
    assert stats.min_n_tost() == 5
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4, 8), seeds=4, iterations=6)
    traces = _shadow(traces, {w: 1 + WOBBLE[:4] for w in (4, 8)})
    c3 = cl.faster_claim(traces, _metrics(traces), None, budget="iterations")
    assert c3.details["tost_p"].isna().all() and c3.details["tost_note"].str.contains("not enough").all()
    assert c3.verdict == cl.INCONCLUSIVE


def test_censored_costs_to_target_get_no_tost():
    """With a target, each cell also tests the cost to reach it (censoring-aware sign test): no TOST there (a censored
    difference is only bounded), so the cell's equivalence rests on its CE at the budget alone."""
    traces = synthetic_traces([LYSEP, ADAM], depths=(2,), widths=(4, 8, 16), seeds=10, iterations=20)
    traces = _shadow(traces, {w: 1 + WOBBLE for w in (4, 8, 16)})
    c3 = cl.faster_claim(traces, _metrics(traces, 0.05), 0.05, budget="iterations")
    to_target = c3.details[c3.details["test"] == "iters_to_target"]
    assert len(to_target) == 3 and to_target["tost_p"].isna().all() and to_target["margin"].isna().all()
    assert (to_target["tost_note"] == cl.NO_TOST).all()
    at_budget = c3.details[c3.details["test"] == "F_at_equal_iterations"]
    assert (at_budget["tost_holm"] < 0.05).all() and "Holm over 3 TOSTs" in c3.numbers


def test_the_equivalence_margins_are_declared_once():
    """One margin per tested quantity: CE at every budget on the log scale, test accuracy absolute; none for the
    censored costs to target."""
    assert {cl.AT_BUDGET[b] for b in cmp.BUDGETS} | {"final_test_acc"} == set(cl.EQUIVALENCE)
    assert not set(cl.TO_TARGET.values()) & set(cl.EQUIVALENCE)
    assert cl.EQUIVALENCE["F_at_equal_time"].log and not cl.EQUIVALENCE["final_test_acc"].log


def test_c6_equal_test_accuracy_is_not_supported():
    """LySep-CNN's test accuracy equals SGD's within +-0.0005 in every seed of both cells: the old rule could only say
    inconclusive; the TOST within +-0.01 shows equivalence in both cells: not supported."""
    sgd = SyntheticMethod("sgd", "sgd", rate=0.1, seed_sd=0.05)
    traces = synthetic_traces([LYSEP, sgd], depths=(2,), widths=(4, 8), seeds=10, iterations=6)
    metrics = _metrics(traces)
    base = 0.95 + 0.01 * np.random.default_rng(2).standard_normal((2, 10))
    acc = {(w, s): base[i, s] for i, w in enumerate((4, 8)) for s in range(10)}
    metrics["final_test_acc"] = [acc[(w, s)] + (WOBBLE[s] / 2 if m == "lysep" else 0.0)
                                 for m, w, s in zip(metrics["method"], metrics["width"], metrics["seed"], strict=True)]
    c6 = cl.cnn_claim(traces, metrics, synthetic_meta([LYSEP, sgd], kind="cnn"))
    assert _old_rule(c6.details) == cl.INCONCLUSIVE and (c6.details["p_value"] > 0.5).all()
    assert (c6.details["margin"] == 0.01).all() and (c6.details["tost_holm"] < 0.05).all()
    assert c6.verdict == cl.NOT_SUPPORTED and "equivalent in 2 of 2 cells" in c6.numbers


def test_equivalent_cells_with_a_cell_for_lysep():
    """Hand-made outcomes: 1 cell for LySep, 3 equivalent, 1 neither of 5: a majority is evidence against the claim
    (not supported, a cell in favour notwithstanding, as the old rule with a majority won by the baseline); 1
    equivalent and 1 for the baseline of 5 is not a majority (inconclusive), 2 and 1 is."""
    def table(diffs, ps, tost):
        return _hand_table(diffs, ps).assign(margin=0.1, tost_p=tost, tost_holm=tost, tost_note="")

    verdict, text = cl.majority_verdict(table([-1, 0.1, 0.1, 0.1, 0.1], [0.01, 0.5, 0.5, 0.5, 0.5],
                                              [0.5, 0.01, 0.01, 0.01, 0.5]))
    assert verdict == cl.NOT_SUPPORTED and "better in 1" in text and "equivalent (TOST" in text and ") in 3" in text
    two = table([1, 0.1, 0.1, 0.1, 0.1], [0.01, 0.5, 0.5, 0.5, 0.5], [0.5, 0.01, 0.5, 0.5, np.nan])
    assert cl.majority_verdict(two)[0] == cl.INCONCLUSIVE
    assert cl.majority_verdict(two.assign(tost_holm=[0.5, 0.01, 0.01, 0.5, np.nan]))[0] == cl.NOT_SUPPORTED


# ----------------------------------------------------------------------------------------------
# 4. timing replicates


def test_seconds_to_target_of_one_timed_batch_is_not_tested_per_seed():
    """The seeds of a cell share one clock (batched): their seconds to target are one measurement. The old rule tested
    them as 8 replicates; now the per-seed test has no p-value and the cells are the replicates."""
    traces = synthetic_traces([SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02), ADAM], widths=(4, 8),
                              seeds=8, iterations=20)
    assert cl.shared_clock(traces, "lysep")
    metrics = _metrics(traces, 0.05)
    t = cl.speed_tests(traces, metrics, "lysep", ["adam"], 0.05, budget="wall_time")
    secs = t[t["test"] == "seconds_to_target"]
    assert secs["p_value"].isna().all() and (secs["note"] == cl.ONE_CLOCK).all()
    clock = cl.clock_test(metrics, t)
    assert clock is not None and clock.n == 2 and not clock.testable  # two cells: too few replicates
    # each seed timed on its own clock: tested per seed
    jitter = 1 + 0.01 * traces["seed"].to_numpy()
    own = traces.assign(wall_time=traces["wall_time"] * jitter)
    assert not cl.shared_clock(own, "lysep")
    t = cl.speed_tests(own, _metrics(own, 0.05), "lysep", ["adam"], 0.05, budget="wall_time")
    assert t[t["test"] == "seconds_to_target"]["p_value"].notna().all()


def test_the_claims_still_run_end_to_end():
    traces = synthetic_traces([SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02), ADAM], seeds=8,
                              iterations=20)
    claims = cl.evaluate_claims(traces, _metrics(traces, 0.05), synthetic_meta([LYSEP, ADAM]))
    assert len(claims) == 13


# ----------------------------------------------------------------------------------------------
# 3. performance profiles


def test_f_at_budget_profiles_leave_out_cells_where_a_method_has_not_started():
    """SGD's whole run (20 grad_evals) is shorter than one LySep iteration (100): the old profile read LySep at its
    starting point F(theta_0) and gave it a ratio of initial loss over SGD's final loss; now such a cell is left out
    (not comparable), while at equal iterations it stays."""
    slow = SyntheticMethod("lysep", "lysep", rate=0.3, seed_sd=0.05, grad_evals_per_iter=100.0)
    traces = synthetic_traces([slow, ADAM], depths=(2,), widths=(4, 8), seeds=4, iterations=20)
    values = cmp.budget_values(traces, "grad_evals")
    lys = values[values["method"] == "lysep"]
    assert (lys["iteration"] == 0).all() and not values["comparable"].any()
    assert np.allclose(lys["F"], traces[(traces.method == "lysep") & (traces.iteration == 0)]["F"].iloc[0])
    assert cmp.budget_costs(traces, "grad_evals").empty
    assert len(cmp.budget_costs(traces, "iterations")) == 2


def test_cost_to_target_profiles_are_dolan_more():
    """Per cell the median over seeds of the cost to reach the target, unsolved = inf, ratio to the best."""
    fast = SyntheticMethod("lysep", "lysep", rate=0.5, seed_sd=0.0)
    slow = SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.0, grad_evals_per_iter=0.5)
    traces = synthetic_traces([fast, slow], depths=(2,), widths=(4,), seeds=3, iterations=30)
    costs = cmp.target_costs(traces, 0.05, "iterations")
    for method in ("lysep", "adam"):  # the first iteration with F <= 0.05, by hand
        firsts = [int(r.sort_values("iteration").query("F <= 0.05")["iteration"].iloc[0])
                  for _, r in traces[traces.method == method].groupby("seed")]
        assert costs.loc[(2, 4), method] == np.median(firsts)
    assert np.isinf(cmp.target_costs(traces, 1e-9, "iterations").to_numpy()).all()  # nobody reaches it
    r = cmp.performance_ratios(costs)
    assert r.loc[(2, 4), "lysep"] == 1.0 and r.loc[(2, 4), "adam"] > 1.0


# ----------------------------------------------------------------------------------------------
# 8. c6 against every baseline on test accuracy


def test_c6_judges_test_accuracy_against_the_most_accurate_baseline():
    """Adam fits the training set best and overfits (test accuracy 0.90); SGD fits it less and generalises best
    (0.97); LySep sits between (0.95). The old c6 compared LySep with the best baseline in train CE, Adam: ahead in
    test accuracy, so never "not supported". Against the most accurate baseline, SGD, LySep is significantly less
    accurate in every cell."""
    sgd = SyntheticMethod("sgd", "sgd", rate=0.1, seed_sd=0.05)
    fast = SyntheticMethod("adam", "adam", rate=0.6, seed_sd=0.05)
    methods = [LYSEP, fast, sgd]
    traces = synthetic_traces(methods, depths=(2,), widths=(4, 8), seeds=10, iterations=20)
    metrics = _metrics(traces)
    noise = np.random.default_rng(1).uniform(0, 0.005, len(metrics))
    level = metrics["method"].map({"lysep": 0.95, "adam": 0.90, "sgd": 0.97}).to_numpy()
    metrics["final_test_acc"] = level + noise
    meta = synthetic_meta(methods, kind="cnn")
    old = cl.speed_tests(traces, metrics, "lysep", ["adam", "sgd"], None, (("final_test_acc", True),), "wall_time")
    acc = old[old["test"] == "final_test_acc"]
    assert set(acc["baseline"]) == {"adam"} and (acc["median_diff"] < 0).all()  # old: LySep "more accurate"
    c6 = cl.cnn_claim(traces, metrics, meta)
    assert c6.verdict == cl.NOT_SUPPORTED
    assert "(sgd in 2)" in c6.numbers and "adam: LySep significantly more accurate in 2" in c6.numbers
    assert set(c6.details["baseline"]) == {"adam", "sgd"}


def test_the_reports_paired_seconds_to_target_are_not_tested_per_seed_of_one_clock():
    """The report's paired comparisons of seconds to target (every LySep method vs every baseline) tested the seeds of
    one timed batch as replicates; now those rows carry no p-value and say why, while final CE stays tested."""
    from analysis.analyse import analyse

    methods = [SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02), ADAM]
    traces = synthetic_traces(methods, widths=(4, 8), seeds=8, iterations=20)
    a = analyse(traces, runs_from_traces(traces), synthetic_meta(methods, target_ce=0.05))
    secs = a.comparisons[a.comparisons["metric"] == "seconds_to_target"]
    assert len(secs) == 2 and secs["p_value"].isna().all() and (secs["note"] == cl.ONE_CLOCK).all()
    assert a.comparisons[a.comparisons["metric"] == "final_F"]["p_value"].notna().all()
