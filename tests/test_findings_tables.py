"""scripts/findings_tables.py (issue 33), on constructed cases: the profile of a method that did not run on every
problem is over the problems it ran on, an example's stores may not hold one method twice, and the claims table
marks exactly the verdicts that moved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import load_script

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ft():
    return load_script(ROOT / "scripts" / "findings_tables.py")


def test_a_profile_runs_over_the_problems_a_method_ran_on(ft) -> None:
    """Three problems; method b ran on two of them (best on one, 4x the best on the other); c diverged on one."""
    ratios = pd.DataFrame({"a": [1.0, 2.0, 1.0], "b": [np.nan, 1.0, 4.0], "c": [3.0, np.inf, 1.5]})
    rho = ft.profile_curves(ratios, np.array([1.0, 2.0, 4.0, 100.0]))
    assert rho["a"].tolist() == pytest.approx([2 / 3, 1, 1, 1])
    assert rho["b"].tolist() == pytest.approx([1 / 2, 1 / 2, 1, 1])  # over its 2 problems, not 3
    assert rho["c"].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 2 / 3])  # the diverged problem is never solved


def test_an_example_refuses_a_method_in_two_of_its_stores(ft, monkeypatch, tmp_path) -> None:
    def fake_load(path):
        runs = pd.DataFrame({"method": ["lysep"], "status": ["completed"]})
        return pd.DataFrame(), runs, pd.DataFrame(), {"spec": {"method": [{"name": "lysep"}]}}

    monkeypatch.setattr(ft.family_table, "load", fake_load)
    example = ft.Example("x", "X", ("one", "two"), None, "")
    with pytest.raises(ValueError, match=r"method \['lysep'\] in two stores"):
        ft.load.__wrapped__(example)


def test_the_claims_table_marks_what_moved_and_the_list_names_it(ft, monkeypatch) -> None:
    rows = [{"id": "c5", "claim": "grows with depth", "budget": "equal iterations", "ex1": "supported",
             "ex1_v2": "inconclusive", "ex2": "not supported", "ex2_v2": "not supported", "mnist": "inconclusive",
             "fashion": "inconclusive"},
            {"id": "c1", "claim": "B >= F", "budget": "every recorded row", "ex1": "supported", "ex1_v2": "supported",
             "ex2": "supported", "ex2_v2": None, "mnist": "supported", "fashion": "supported"}]
    monkeypatch.setattr(ft, "claims_rows", lambda: rows)
    table = ft.claims_table().splitlines()
    assert table[2].endswith(f"| {ft.EXAMPLES[0].title.split(' (')[0]} |")  # c5 moved on Example 1 only
    assert table[3].endswith("| - |")  # c1: no move (Example 2 not judged in v2 there)
    assert "| inconclusive | **supported** |" in table[2]
    assert ft.changed_list() == f"- c5 at equal iterations on {ft.EXAMPLES[0].title}: inconclusive -> supported"


def test_a_method_still_in_its_first_iteration_is_read_at_its_start_not_dropped(ft) -> None:
    """Method a stops at 2 s; b's first iteration ends at 5 s. At equal wall time (2 s) b still has its starting
    point, F = 1.0: the profile's cost counts it there, where the reports' budget_costs drops the seed (and so the
    cell)."""
    rows = [("a", 0, 0.0, 1.0), ("a", 1, 1.0, 0.5), ("a", 2, 2.0, 0.25), ("b", 0, 0.0, 1.0), ("b", 1, 5.0, 0.01)]
    traces = pd.DataFrame([{"method": m, "depth": 2, "width": 4, "seed": 0, "iteration": i, "wall_time": w,
                            "grad_evals": float(i), "F": f} for m, i, w, f in rows])
    costs = ft.cmp.budget_costs(traces, "wall_time", at_start=True)
    assert costs.loc[(2, 4)].to_dict() == {"a": 0.25, "b": 1.0}
    assert ft.cmp.budget_costs(traces, "wall_time").empty


def test_the_family_table_reads_a_late_starter_at_its_start_and_says_so(ft) -> None:
    rows = [("a", 0, 0.0, 1.0), ("a", 1, 1.0, 0.5), ("a", 2, 2.0, 0.25), ("b", 0, 0.0, 1.0), ("b", 1, 5.0, 0.01)]
    traces = pd.DataFrame([{"method": m, "depth": 2, "width": 4, "seed": 0, "iteration": i, "wall_time": w,
                            "grad_evals": float(i), "F": f} for m, i, w, f in rows])
    metrics = pd.DataFrame({"method": ["a", "b"], "depth": 2, "width": 4, "seed": 0, "final_F": [0.25, 0.01],
                            "diverged": False})
    v = ft.family_table.ce_values(traces, metrics, anytime=True)
    assert v.loc["b", "wall_time"] == 1.0 and v.loc["b", "wall_time_cells"] == 0
    assert v.loc["a", "wall_time"] == 0.25 and v.loc["a", "wall_time_cells"] == 1
    assert ft.family_table.ce_values(traces, metrics)["wall_time"].isna().all()  # the reports' reading: no seed
