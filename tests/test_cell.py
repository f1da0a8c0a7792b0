"""The cell runner: trace schema, budgets, evaluation cadence, divergence recorded while the rest goes on."""

from __future__ import annotations

import numpy as np
import pytest

from lysep.core.model import ModelSpec
from lysep.harness.cell import HARNESS_COLUMNS, Budget, run_cell
from lysep.methods import make_method


def test_trace_schema_and_row_count(circle64) -> None:
    model = ModelSpec.fnn(2, 3, 5, 2)
    tr = run_cell(circle64, model, {"lysep": make_method("lysep"), "adam": make_method("adam")}, [0, 1],
                  Budget(iterations=7, eval_every=3))
    layered = [f"residual_{i}" for i in (1, 2, 3)] + [f"beta_{i}" for i in (1, 2, 3)]
    metrics = ["J", "J_start", "B", "surrogate_gap", "bound_gap"]
    assert list(tr.columns) == HARNESS_COLUMNS + metrics + ["diverged"] + layered
    assert len(tr) == 2 * 2 * 8
    assert set(tr.depth) == {3} and set(tr.width) == {5} and set(tr.algorithm) == {"lysep", "adam"}
    evaluated = sorted(tr.loc[tr.test_ce.notna(), "iteration"].unique())
    assert evaluated == [0, 3, 6, 7]  # every eval_every, and the last row
    adam = tr[tr.method == "adam"]
    assert adam[["J", "B", "bound_gap"] + layered].isna().all().all()
    lysep = tr[tr.method == "lysep"]
    assert lysep[["J", "B"] + layered].notna().all().all()
    np.testing.assert_allclose(lysep.bound_gap, lysep.B - lysep.F)
    np.testing.assert_allclose(lysep.surrogate_gap, lysep.J - lysep.F)
    assert (np.diff(adam[adam.seed == 0].wall_time) > 0).all()
    alone = run_cell(circle64, model, {"adam": make_method("adam")}, [0], Budget(iterations=2))
    assert list(alone.columns) == HARNESS_COLUMNS + ["diverged"]  # a baseline declares no metrics


def test_divergence_is_recorded_and_the_others_go_on(circle64) -> None:
    model = ModelSpec.fnn(2, 2, 8, 2, "relu")
    tr = run_cell(circle64, model, {"gd-huge": make_method("gd", activation="relu", lr=1e300),
                                    "adam": make_method("adam", activation="relu")}, [0, 1], Budget(iterations=20))
    bad = tr[tr.method == "gd-huge"]
    for _, run in bad.groupby("seed"):
        assert run.diverged.sum() == 1 and bool(run.diverged.iloc[-1])  # the divergence row is the last one
        assert not np.isfinite(run.F.iloc[-1]) and run.iteration.iloc[-1] < 20
    good = tr[tr.method == "adam"]
    assert not good.diverged.any() and good.groupby("seed").iteration.max().tolist() == [20, 20]


def test_grad_evals_budget_stops_each_seed_after_it_is_spent(circle64) -> None:
    model = ModelSpec.fnn(2, 2, 4, 2)
    tr = run_cell(circle64, model, {"sgd": make_method("sgd", batch_size=50)}, [0, 1],
                  Budget(iterations=None, grad_evals=2.0))
    for _, run in tr.groupby("seed"):
        assert run.grad_evals.max() == pytest.approx(2.0) and run.iteration.max() == 8
        assert np.isfinite(run.test_ce.iloc[-1])


def test_seconds_budget_stops_the_method(circle64) -> None:
    model = ModelSpec.fnn(2, 2, 4, 2)
    tr = run_cell(circle64, model, {"adam": make_method("adam")}, [0], Budget(iterations=None, seconds=0.05))
    assert tr.wall_time.iloc[-2] < 0.05 <= tr.wall_time.iloc[-1]


@pytest.mark.parametrize("kwargs,match", [
    ({"iterations": None}, "at least one of iterations, epochs, seconds, grad_evals"),
    ({"iterations": 0}, "iterations=0"),
    ({"iterations": 5, "eval_every": -1}, "eval_every=-1"),
    ({"iterations": None, "seconds": float("inf")}, "seconds=inf"),
])
def test_bad_budgets_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Budget(**kwargs)


def test_mismatched_model_and_data_are_rejected(circle64) -> None:
    with pytest.raises(ValueError, match="in_dim=3"):
        run_cell(circle64, ModelSpec.fnn(3, 2, 4, 2), {"gd": make_method("gd")}, [0], Budget(iterations=1))
    with pytest.raises(ValueError, match="seeds="):
        run_cell(circle64, ModelSpec.fnn(2, 2, 4, 2), {"gd": make_method("gd")}, [1, 1], Budget(iterations=1))


def test_record_every_thins_rows_but_keeps_first_last_and_the_same_values(circle64) -> None:
    model = ModelSpec.fnn(2, 2, 4, 2)
    methods = {"lysep": make_method("lysep", schedule="fixed", beta=3.0), "adam": make_method("adam")}
    full = run_cell(circle64, model, methods, [0, 1], Budget(iterations=12, eval_every=4))
    thin = run_cell(circle64, model, methods, [0, 1], Budget(iterations=12, eval_every=4, record_every=5))
    assert sorted(thin.iteration.unique()) == [0, 5, 10, 12]
    cols = ["method", "seed", "iteration", "F", "J", "J_start", "grad_evals", "test_ce"]
    merged = thin[cols].merge(full[cols], on=["method", "seed", "iteration"], suffixes=("", "_full"))
    assert len(merged) == len(thin)
    for c in ("F", "J", "grad_evals"):
        np.testing.assert_allclose(merged[c], merged[c + "_full"], rtol=0, atol=1e-12)
    lysep = merged[merged.method == "lysep"]
    np.testing.assert_allclose(lysep.J_start, lysep.J_start_full, rtol=0, atol=1e-12)  # foreseen rows
