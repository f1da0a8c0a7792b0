"""Claim verdicts on constructed tables: clear wins, clear losses, violations, missing data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from synthetic import SyntheticMethod, runs_from_traces, synthetic_meta, synthetic_traces

from analysis import claims as cl
from analysis import comparisons as cmp
from analysis.metrics import metrics_table

SEEDS = 8  # smallest exact two-sided Wilcoxon p = 2/256, below 0.05 after Holm over 2 cells


def build(lysep: SyntheticMethod, baseline: SyntheticMethod, depths=(2,), widths=(4, 8), seeds=SEEDS,
          iterations=20, target=0.05, kind="fnn"):
    methods = [lysep, baseline]
    traces = synthetic_traces(methods, depths, widths, seeds, iterations)
    meta = synthetic_meta(methods, target_ce=target, kind=kind)
    return traces, table(traces, target), meta


def table(traces: pd.DataFrame, target=0.05, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-run metrics with the run properties the runner stores (family, decrease_guaranteed, ...)."""
    return metrics_table(traces, target, runs_from_traces(traces) if runs is None else runs)


def verdicts(traces, metrics, meta) -> dict[str, str]:
    """Verdicts by claim key: ``c1``, ..., ``c3@iterations``, ``c3@grad_evals``, ``c3@wall_time``, ..."""
    return {c.key: c.verdict for c in cl.evaluate_claims(traces, metrics, meta)}


BUDGETS = ("iterations", "grad_evals", "wall_time")


WIN = SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02, seconds_per_iter=0.01)
LOSE = SyntheticMethod("lysep", "lysep", rate=0.05, seed_sd=0.3, seconds_per_iter=0.01)
ADAM = SyntheticMethod("adam", "adam", rate=0.15, seed_sd=0.3, seconds_per_iter=0.01)
ADAM_STEADY = SyntheticMethod("adam", "adam", rate=0.4, seed_sd=0.02, seconds_per_iter=0.01)


def test_clearly_winning_lysep_is_supported():
    v = verdicts(*build(WIN, ADAM))
    assert v["c1"] == cl.SUPPORTED
    assert v["c1b"] == cl.SUPPORTED
    assert v["c2"] == cl.SUPPORTED
    for budget in BUDGETS:
        assert v[f"c3@{budget}"] == cl.SUPPORTED
    assert v["c6"] == cl.INCONCLUSIVE
    assert list(v) == ["c1", "c1b", "c2", *[f"{c}@{b}" for c in ("c3", "c4", "c5") for b in BUDGETS], "c6"]


def test_a_verdict_can_differ_between_budgets():
    """Ahead per iteration and per gradient evaluation, but each iteration costs 20x the baseline's time: c3 is
    supported at equal iterations and grad_evals, not supported at equal wall time."""
    slow = SyntheticMethod("lysep", "lysep", rate=0.4, seed_sd=0.02, seconds_per_iter=0.2)
    steady = SyntheticMethod("adam", "adam", rate=0.15, seed_sd=0.02, seconds_per_iter=0.01)
    traces, metrics, meta = build(slow, steady, iterations=40, target=None)
    v = verdicts(traces, metrics, meta)
    assert v["c3@iterations"] == cl.SUPPORTED and v["c3@grad_evals"] == cl.SUPPORTED
    assert v["c3@wall_time"] == cl.NOT_SUPPORTED
    c3 = {c.key: c for c in cl.evaluate_claims(traces, metrics, meta)}
    assert set(c3["c3@iterations"].details["test"]) == {"F_at_equal_iterations"}
    # at equal wall time LySep is read at the baseline's last time, 40 x 0.01 s: its iteration 2
    pairs = cl.budget_pairs(traces, metrics, "lysep", ["adam"], "wall_time")
    assert np.allclose(pairs["limit"], 40 * 0.01) and (pairs["a"] > pairs["b"]).all()


def test_smaller_seed_variance():
    traces, metrics, _ = build(WIN, ADAM, seeds=15)
    for budget in BUDGETS:
        c4 = cl.variance_claim(traces, metrics, budget=budget)
        assert c4.verdict == cl.SUPPORTED and c4.budget == budget
        assert (c4.details["std_method"] < c4.details["std_baseline"]).all()
    # at equal iterations (both ran 20) the values are the final train CEs: the same test as on the runs table
    c4 = cl.variance_claim(traces, metrics, budget="iterations")
    ref = cmp.variance_comparisons(metrics, "final_F", ["lysep"], ["adam"])
    assert np.allclose(c4.details["p_value"], ref["p_value"]) and np.allclose(c4.details["std_method"],
                                                                              ref["std_method"])
    traces, metrics, _ = build(LOSE, ADAM_STEADY, seeds=15)
    assert cl.variance_claim(traces, metrics).verdict == cl.NOT_SUPPORTED
    traces, metrics, _ = build(WIN, ADAM, seeds=1)
    assert cl.variance_claim(traces, metrics).verdict == cl.INCONCLUSIVE


def test_clearly_losing_lysep_is_not_supported():
    v = verdicts(*build(LOSE, ADAM_STEADY))
    for budget in BUDGETS:
        assert v[f"c3@{budget}"] == cl.NOT_SUPPORTED


def test_faster_claim_without_target_uses_equal_time_ce():
    traces, metrics, meta = build(WIN, ADAM, target=None)
    c3 = cl.faster_claim(traces, metrics, None)
    assert c3.verdict == cl.SUPPORTED
    assert set(c3.details["test"]) == {"F_at_equal_time"}


def test_too_few_seeds_is_inconclusive_not_a_loss():
    traces, metrics, meta = build(WIN, ADAM, seeds=2)
    c3 = cl.faster_claim(traces, metrics, 0.05)
    assert c3.verdict == cl.INCONCLUSIVE
    assert "inconclusive: not enough seeds (n = 2; this test needs >= 6)" in c3.numbers


def test_certificate_violation_is_not_supported():
    traces, metrics, meta = build(WIN, ADAM)
    row = traces.index[(traces["method"] == "lysep") & (traces["iteration"] == 5)][0]
    traces.loc[row, "bound_gap"] = -0.01
    c1 = cl.certificate_claim(table(traces, 0.05))
    assert c1.verdict == cl.NOT_SUPPORTED and "violations 1" in c1.numbers


def test_surrogate_violation_is_not_supported():
    traces, metrics, meta = build(WIN, ADAM)
    rows = traces.index[(traces["method"] == "lysep") & (traces["iteration"].isin([3, 4]))]
    traces.loc[rows, "surrogate_gap"] = -0.01
    c = cl.surrogate_claim(table(traces, 0.05))
    assert c.verdict == cl.NOT_SUPPORTED


def test_j_increase_is_not_supported_only_where_the_method_guarantees_the_decrease():
    traces, metrics, meta = build(WIN, ADAM)
    lys = (traces["method"] == "lysep") & (traces["seed"] == 0) & (traces["width"] == 4)
    bumped = traces.copy()
    bumped.loc[lys & (bumped["iteration"] == 7), "J"] += 0.5
    assert cl.monotone_claim(table(bumped)).verdict == cl.NOT_SUPPORTED
    # the same increase in a run whose method does not declare the guarantee is reported, not judged
    extra = SyntheticMethod("lysep-adamblk", "lysep", rate=0.3)
    two = pd.concat([bumped.assign(method=bumped["method"].replace("lysep", "lysep-adamblk")),
                     traces[traces["method"] == "lysep"]], ignore_index=True)
    runs = runs_from_traces(two, [extra])
    runs.loc[runs["method"] == "lysep-adamblk", "decrease_guaranteed"] = False
    c2 = cl.monotone_claim(table(two, runs=runs))
    assert c2.verdict == cl.SUPPORTED and "not judged (no guarantee declared)" in c2.numbers
    assert "1 violations" in c2.numbers
    # no run of a method with the guarantee: nothing to judge
    runs.loc[:, "decrease_guaranteed"] = False
    assert cl.monotone_claim(table(two, runs=runs)).verdict == cl.INCONCLUSIVE


def test_joint_lysep_is_not_judged_for_monotonicity():
    joint = SyntheticMethod("lysep-joint", "lysep-joint", rate=0.3)
    traces = synthetic_traces([joint, ADAM], seeds=2, iterations=8)
    traces.loc[(traces["method"] == "lysep-joint") & (traces["iteration"] == 4), "J"] += 1.0
    assert cl.monotone_claim(table(traces, None)).verdict == cl.INCONCLUSIVE


def test_advantage_growing_with_depth():
    grows = SyntheticMethod("lysep", "lysep", rate=0.1, seed_sd=0.02, depth_gain=0.5)
    steady = SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.02)
    traces, metrics, _ = build(grows, steady, depths=(1, 2, 3, 4), widths=(4, 8), seeds=3, iterations=15)
    c5 = cl.depth_claim(traces, metrics)
    assert c5.verdict == cl.SUPPORTED
    # at equal iterations the ratios are those of the final train CEs (the headline's ratio_by_cell)
    assert np.allclose(c5.details["ratio"], cl.ratio_by_cell(metrics, "lysep", ["adam"])["ratio"])
    assert len(c5.details) == 8
    by_depth = c5.details.groupby("depth")["ratio"].median()
    assert by_depth.is_monotonic_decreasing
    # the mirror image: the baseline gains with depth
    shrinking = SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.02, depth_gain=0.5)
    traces, metrics, _ = build(SyntheticMethod("lysep", "lysep", rate=0.1, seed_sd=0.02), shrinking,
                               depths=(1, 2, 3, 4), widths=(4, 8), seeds=3, iterations=15)
    for budget in BUDGETS:
        assert cl.depth_claim(traces, metrics, budget=budget).verdict == cl.NOT_SUPPORTED


def test_single_depth_is_inconclusive_for_depth_claim():
    traces, metrics, _ = build(WIN, ADAM, depths=(3,))
    c5 = cl.depth_claim(traces, metrics)
    assert c5.verdict == cl.INCONCLUSIVE and "only 1 depth" in c5.numbers


def test_cnn_claim_only_for_cnn_specs():
    traces, metrics, meta = build(WIN, ADAM, kind="cnn")
    assert cl.cnn_claim(traces, metrics, meta).verdict == cl.SUPPORTED
    fnn = cl.cnn_claim(traces, metrics, {"spec": {"model": {"kind": "fnn"}}})
    assert fnn.verdict == cl.INCONCLUSIVE and fnn.numbers == "inconclusive: no CNN experiment in this run"


def test_no_lysep_method_makes_every_claim_inconclusive():
    traces = synthetic_traces([ADAM, SyntheticMethod("sgd", "sgd")], seeds=3, iterations=6)
    metrics = table(traces, 0.05)
    claims = cl.claims_table(cl.evaluate_claims(traces, metrics, synthetic_meta([ADAM])))
    assert list(claims.columns) == cl.CLAIM_COLUMNS
    assert (claims["verdict"] == cl.INCONCLUSIVE).all()


def test_the_subject_of_the_comparative_claims_comes_from_the_declared_properties():
    def m(rows):
        return pd.DataFrame(rows, columns=["method", "family", "default_config"])
    am, joint, base = cl.ALTERNATING, cl.JOINT, cl.BASELINE
    runs = m([("lysep-fixed", am, False), ("am", am, True), ("adam", base, True)])
    assert cl.subject_method(runs) == "am"  # an alternating method with its built-in defaults first
    runs = m([("zz", am, False), ("aa", am, False), ("j", joint, True)])
    assert cl.subject_method(runs) == "aa"  # then the first alternating one (by label without a spec order)
    assert cl.subject_method(runs, order=["j", "zz", "aa"]) == "zz"  # the spec's order wins
    assert cl.subject_method(m([("j", joint, True), ("adam", base, True)])) == "j"
    assert cl.subject_method(m([("adam", base, True)])) is None
    # names mean nothing: a method called "lysep" that declares itself a baseline is a baseline
    runs = m([("lysep", base, True), ("mine", am, False)])
    assert cl.subject_method(runs) == "mine" and cl.baseline_methods(runs) == ["lysep"]


def test_majority_rule_on_a_hand_made_test_table():
    def table(diffs, ps):
        n = len(diffs)
        return pd.DataFrame({"depth": np.arange(n), "width": 1, "test": "t", "median_diff": diffs, "p_value": ps,
                             "p_holm": ps, "n_pairs": 10})
    assert cl.majority_verdict(table([-1, -1, -1], [0.01, 0.01, 0.01]))[0] == cl.SUPPORTED
    # issue 32: a majority for LySep with a cell significantly against it is not enough
    assert cl.majority_verdict(table([-1, -1, 1], [0.01, 0.01, 0.01]))[0] == cl.INCONCLUSIVE
    assert cl.majority_verdict(table([1, 1, -1], [0.01, 0.01, 0.01]))[0] == cl.NOT_SUPPORTED
    assert cl.majority_verdict(table([-1, 1, -1], [0.01, 0.01, 0.5]))[0] == cl.INCONCLUSIVE
    # issue 32: never ahead on a point estimate, but nothing significant: no evidence, inconclusive
    assert cl.majority_verdict(table([1, 1, 0], [0.5, 0.5, 0.5]))[0] == cl.INCONCLUSIVE
    assert cl.majority_verdict(table([-1, 1], [np.nan, np.nan]))[0] == cl.INCONCLUSIVE
