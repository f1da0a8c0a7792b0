"""Issue 32 item 9: tuning budgets that scale with the space, compute recorded per method, and border flags only on
the hyperparameters that act in the winner (code only: no tuning is re-run here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from analysis.tuning import acting_border, border_warnings, compute_table
from lysep.harness.search import draw
from lysep.harness.spec import load_spec
from lysep.harness.tune import REFERENCE, compute_by_method, space_of, trials, winners
from lysep.methods import METHODS
from lysep.methods.base import active_keys
from lysep.methods.space import Range

sys.path.insert(0, str(Path(__file__).parent))
from test_tune import write  # noqa: E402


def test_active_keys_follow_the_configuration() -> None:
    schema = METHODS["lysep"].HPARAMS
    gd_adaptive = active_keys(schema, {"u_solver": "gd", "w_solver": "gd", "out_solver": "gd",
                                       "schedule": "adaptive"})
    assert {"lr_u", "lr_w", "rho", "beta_max"}.isdisjoint(gd_adaptive) and {"norm", "beta"} <= gd_adaptive
    adam_out = active_keys(schema, {"out_solver": "adam", "schedule": "continuation"})
    assert {"lr_w", "rho", "beta_max"} <= adam_out and "lr_u" not in adam_out and "norm" not in adam_out
    assert active_keys(METHODS["adam"].HPARAMS, {}) == set(METHODS["adam"].HPARAMS)  # no condition: all act


def test_a_border_value_of_an_inactive_hyperparameter_is_not_flagged() -> None:
    """Example 1's case: the LySep winner uses gd U blocks and adaptive weights, so lr_u and beta_max on the border of
    their ranges say nothing about the space. The old rule flagged every tuned value on the border."""
    space = {"lr_u": Range(1e-3, 0.3, "log"), "beta_max": Range(1e2, 1e6, "log"), "beta": Range(1e-3, 1e3, "log")}
    values = {"lr_u": 0.29, "beta_max": 1.1e2, "beta": 1.05e-3}  # all three in the outer 5% of their range
    hparams = {"u_solver": "gd", "schedule": "adaptive", **values}
    plan = [{"label": "lysep+t00", "method": "lysep", "algorithm": "lysep", "trial": 0, "values": values,
             "hparams": hparams}]
    table = pd.DataFrame({"label": ["lysep+t00"], "method": ["lysep"], "trial": [0], "depth": [-1], "width": [-1],
                          "score": [0.1], "rank": [1]})
    (w,) = winners(table, plan, {"lysep": space})
    assert w["border"] == ["beta"]
    # a record written by the old rule keeps its flags; the report drops the inactive ones
    old = {**w, "border": ["beta", "beta_max", "lr_u"]}
    assert acting_border(old) == ["beta"]
    record = {"winners": [old], "spaces": {"lysep": {k: d.to_dict() for k, d in space.items()}}}
    assert len(border_warnings(record)) == 1 and "beta = " in border_warnings(record)[0]
    assert REFERENCE < 0


def test_trials_per_dimension_gives_each_method_trials_in_proportion_to_its_space(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, trials=3, tune_more="trials_per_dimension = 2"))
    per_method = pd.Series([t["method"] for t in trials(spec)]).value_counts()
    for m in spec.methods:
        dims = len(space_of(spec, m))
        assert per_method[m.label] == 2 * dims + 1  # + the reference
    assert per_method["lysep"] > per_method["adam"]  # a 10-dimensional space gets more points than a 1-dimensional
    # the same spec without the key: the same trials for all (the old protocol)
    spec = load_spec(write(tmp_path, trials=3))
    assert set(pd.Series([t["method"] for t in trials(spec)]).value_counts()) == {4}
    # the drawn points are the Sobol sequence's first ones: a larger count extends a smaller one
    space = space_of(spec, spec.methods[1])
    schema = METHODS["adam"].HPARAMS
    assert draw(space, schema, 4, 0)[:2] == draw(space, schema, 2, 0)


def test_the_compute_of_each_method_is_recorded_and_reported() -> None:
    plan = [{"label": "a+ref", "method": "a", "trial": -1}, {"label": "a+t00", "method": "a", "trial": 0},
            {"label": "b+t00", "method": "b", "trial": 0}]
    runs = pd.DataFrame({"method": ["a+ref", "a+ref", "a+t00", "b+t00"], "grad_evals": [10.0, 10.0, 5.0, 100.0],
                         "wall_time": [1.0, 1.0, 0.5, 8.0]})
    compute = compute_by_method(runs, plan)
    assert compute == {"a": {"trials": 2, "runs": 3, "grad_evals": 25.0, "wall_time": 2.5},
                       "b": {"trials": 1, "runs": 1, "grad_evals": 100.0, "wall_time": 8.0}}
    table = compute_table({"compute": compute, "spaces": {"a": {"lr": {}}, "b": {"lr": {}, "beta": {}}}})
    assert table["dimensions"].tolist() == [1, 2] and table["grad_evals"].tolist() == [25.0, 100.0]


def test_the_tuned_specs_header_states_the_trial_rule(tmp_path: Path) -> None:
    from lysep.harness.tune import header

    spec = load_spec(write(tmp_path, trials=3, tune_more="trials_per_dimension = 2"))
    assert "2 quasi-random trials per hyperparameter of each method's space" in header(spec, "lysep tune x")
    assert "3 quasi-random trials per method" in header(load_spec(write(tmp_path, trials=3)), "lysep tune x")
