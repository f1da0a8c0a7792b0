"""Per-run metrics on hand-made traces with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from synthetic import SyntheticMethod, synthetic_traces

from analysis import comparisons as cmp
from analysis import metrics as me


def make_run(f, **cols) -> pd.DataFrame:
    """One LySep run with F given; other columns default to consistent values."""
    f = np.asarray(f, dtype=float)
    n = f.size
    base = {"method": "lysep", "algorithm": "lysep", "depth": 2, "width": 4, "seed": 0,
            "iteration": np.arange(n), "wall_time": np.arange(n, dtype=float),
            "grad_evals": 2.0 * np.arange(n), "F": f, "train_acc": np.linspace(0.5, 1, n),
            "test_ce": f, "test_acc": np.linspace(0.5, 1, n), "J": f + 0.1, "J_start": f + 0.2,
            "B": f + 0.3, "bound_gap": np.full(n, 0.3), "surrogate_gap": np.full(n, 0.1),
            "residual_1": np.full(n, 0.2), "residual_2": np.full(n, 0.4), "beta_1": np.full(n, 10.0),
            "beta_2": np.full(n, 10.0), "diverged": np.zeros(n, dtype=bool)}
    base.update(cols)
    return pd.DataFrame(base)


def test_three_j_increases_give_three_violations():
    j_start = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    j = j_start - 0.01
    j[[1, 3, 4]] = j_start[[1, 3, 4]] + 1e-3  # three real increases
    j[5] = j_start[5] + 1e-9  # within float32's tolerance (8 ulps, 9.5e-7): not a violation, below resolution
    run = make_run(np.linspace(1, 0.5, 6), J=j, J_start=j_start)
    out = me.run_metrics(run)
    assert out["j_violations"] == 3
    assert out["j_checked"] == 5  # iterations 1..5; iteration 0 (J_start = J by construction) counted apart
    assert (out["j_start_checked"], out["j_start_violations"], out["j_unresolved"]) == (1, 0, 1)
    assert me.run_metrics(run, dtype="float64")["j_violations"] == 4  # 1e-9 is 5e6 float64 ulps


def test_j_tolerance_is_relative_for_large_j():
    def counted(j: list[float], dtype: str | None = None) -> tuple[int, int]:  # iterations 1, 2: both judged
        c = me.decrease_counts(np.array(j), np.array([1e6, 1e6]), np.array([1, 2]), me.resolution(dtype))
        return c["violations"], c["checked"]

    # |J_start| = 1e6, float32: tolerance 8 * 2**-23 * 1e6 = 0.95, so an increase of 0.5 is rounding, 2 a violation
    assert counted([1e6 + 0.5, 1e6 + 2.0]) == (1, 2)
    # float64: tolerance 1.8e-9, so 1e-8 is a violation
    assert counted([1e6 + 1e-10, 1e6 + 1e-8], "float64") == (1, 2)


def test_f_increases_counted_between_consecutive_finite_rows():
    f = [1.0, 0.8, 0.9, 0.7, np.nan, 0.75, 0.6]
    assert me.f_violations(np.array(f)) == (2, 5)


def test_time_to_target_interpolates_linearly():
    run = make_run([1.0, 0.5, 0.2, 0.05, 0.01])
    out = me.run_metrics(run, target_ce=0.1)
    # first crossing at iteration 3; between F=0.2 (t=2) and F=0.05 (t=3): t = 2 + (0.2-0.1)/(0.2-0.05)
    assert out["reached"]
    assert out["iters_to_target"] == 3
    assert out["seconds_to_target"] == pytest.approx(2 + 2 / 3)
    assert out["grad_evals_to_target"] == pytest.approx(2 * (2 + 2 / 3))
    assert out["bound_gap_at_target"] == pytest.approx(0.3)


def test_time_to_target_at_initial_point_and_exact_hit():
    run = make_run([0.05, 0.04])
    out = me.run_metrics(run, target_ce=0.1)
    assert out["iters_to_target"] == 0 and out["seconds_to_target"] == 0.0
    assert me.value_at_target(np.array([0.0, 1.0, 2.0]), np.array([1.0, 0.5, 0.1]), 0.5) == 1.0


def test_never_reached_is_censored():
    out = me.run_metrics(make_run([1.0, 0.9, 0.8]), target_ce=0.1)
    assert out["reached"] is False
    assert np.isnan(out["iters_to_target"]) and np.isnan(out["seconds_to_target"])
    assert np.isnan(out["grad_evals_to_target"]) and np.isnan(out["bound_gap_at_target"])


def test_no_target_means_nothing_reached():
    out = me.run_metrics(make_run([1.0, 0.01]), target_ce=None)
    assert out["reached"] is False and np.isnan(out["seconds_to_target"])


def test_surrogate_violations_count_and_fraction():
    gap = np.array([0.1, -0.2, -1e-9, -0.05, 0.0])  # -1e-9 is inside the tolerance
    out = me.run_metrics(make_run(np.full(5, 0.5), surrogate_gap=gap))
    assert out["surrogate_violations"] == 2
    # issue 32: iteration 0 (J = F by construction) is counted apart, so 4 rows are judged
    assert out["surrogate_fraction"] == pytest.approx(2 / 4)
    assert out["surrogate_start_checked"] == 1 and out["surrogate_checked"] == 4


def test_certificate_violations_and_gaps():
    gap = np.array([0.5, -1e-3, -1e-9, 0.2, 0.1])
    f = np.array([1.0, 0.8, 0.6, 0.4, 0.2])
    out = me.run_metrics(make_run(f, bound_gap=gap), target_ce=0.5)
    assert out["certificate_violations"] == 1
    assert out["min_bound_gap"] == pytest.approx(-1e-3)
    assert out["bound_gap_final"] == pytest.approx(0.1)
    assert out["bound_gap_at_target"] == pytest.approx(0.2)  # first row with F <= 0.5 is F=0.4


def test_certificate_tolerance_scales_with_f():
    # |F| = 1e3: tolerance 1e-3, so -5e-4 is rounding and -2e-3 a violation
    assert me.certificate_violations(np.array([-5e-4, -2e-3]), np.array([1e3, 1e3])) == (1, 2)


def test_diverged_run_keeps_last_finite_values():
    f = np.array([1.0, 0.5, 0.4, np.nan])
    run = make_run(f, diverged=np.array([False, False, False, True]), test_acc=np.array([0.5, np.nan, 0.8, np.nan]))
    out = me.run_metrics(run, target_ce=0.1)
    assert out["diverged"] is True
    assert out["final_F"] == pytest.approx(0.4)
    assert out["final_test_acc"] == pytest.approx(0.8)
    assert out["f_violations"] == 0 and out["f_checked"] == 2
    assert out["iterations"] == 3


def test_final_residual_is_mean_over_layers_and_nan_for_baselines():
    out = me.run_metrics(make_run([1.0, 0.5]))
    assert out["final_residual"] == pytest.approx(0.3)
    nan = np.full(2, np.nan)
    base = make_run([1.0, 0.5], algorithm="adam", J=nan, J_start=nan, B=nan, bound_gap=nan, surrogate_gap=nan,
                    residual_1=nan, residual_2=nan, beta_1=nan, beta_2=nan)
    out = me.run_metrics(base)
    assert np.isnan(out["final_residual"]) and out["j_checked"] == 0 and out["certificate_checked"] == 0
    assert out["betas_constant"] is False


def test_betas_constant():
    assert me.betas_constant(make_run([1.0, 0.5, 0.2]))
    assert not me.betas_constant(make_run([1.0, 0.5, 0.2], beta_2=np.array([1.0, 1.0, 2.0])))
    # a missing layer (NaN column) does not count as a change
    assert me.betas_constant(make_run([1.0, 0.5], beta_2=np.full(2, np.nan)))


def test_area_under_log_ce_is_mean_log10():
    assert me.area_under_log_ce(np.arange(5), np.full(5, 0.1)) == pytest.approx(-1.0)
    # log10 F linear from 0 to -2 over 10 iterations: average -1
    assert me.area_under_log_ce(np.arange(11), 10 ** np.linspace(0, -2, 11)) == pytest.approx(-1.0)
    assert me.area_under_log_ce(np.array([0]), np.array([0.01])) == pytest.approx(-2.0)


def test_f_at_time_and_equal_time_pairs():
    a = make_run([1.0, 0.5, 0.25, 0.125], wall_time=np.array([0.0, 1.0, 2.0, 3.0]))
    b = make_run([1.0, 0.6, 0.3], method="adam", algorithm="adam", wall_time=np.array([0.0, 0.8, 1.6]))
    assert me.f_at_time(a, 1.6) == pytest.approx(0.5)
    pairs = cmp.equal_time_pairs(pd.concat([a, b]), "lysep", "adam")
    assert len(pairs) == 1
    assert pairs.loc[0, "t"] == pytest.approx(1.6)
    assert pairs.loc[0, "a"] == pytest.approx(0.5) and pairs.loc[0, "b"] == pytest.approx(0.3)


def test_f_at_time_of_a_diverged_row_is_inf():
    run = make_run([1.0, 0.5, np.nan], diverged=np.array([False, False, True]))
    assert me.f_at_time(run, 10.0) == np.inf


def test_metrics_table_one_row_per_run():
    methods = [SyntheticMethod("lysep", "lysep", rate=0.3), SyntheticMethod("adam", "adam", rate=0.1)]
    traces = synthetic_traces(methods, depths=(1, 2), widths=(4,), seeds=3, iterations=10)
    table = me.metrics_table(traces, target_ce=0.3)
    assert len(table) == 2 * 2 * 3
    assert set(table["algorithm"]) == {"lysep", "adam"}
    assert table.loc[table["algorithm"] == "lysep", "j_checked"].gt(0).all()
    assert table.loc[table["algorithm"] == "adam", "j_checked"].eq(0).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 10.0), min_size=2, max_size=30), st.floats(0.02, 5.0))
def test_monotone_f_has_no_violations_and_interpolation_stays_in_bracket(steps, target):
    f = np.sort(np.asarray(steps))[::-1]  # non-increasing
    axis = np.cumsum(np.ones(f.size))
    assert me.f_violations(f)[0] == 0
    k = me.first_crossing(f, target)
    t = me.value_at_target(axis, f, target)
    if k is None:
        assert np.isnan(t)
    elif k == 0:
        assert t == axis[0]
    else:
        assert axis[k - 1] <= t <= axis[k]
