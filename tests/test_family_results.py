"""The committed family run (configs/family.toml, tuned; issue 29): complete, its certificate holds on every row, and
the family tables of docs/findings.md are what scripts/family_table.py prints from it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.metrics import resolution, tolerance

from helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "family_tuned"
FINDINGS = ROOT / "docs" / "findings.md"
#: the methods of configs/family.toml, and those with auxiliary variables (a certificate B)
METHODS = ["lysep", "mac", "bcd", "dladmm", "altmin-online", "lbfgs", "adam", "sgd"]
AUXILIARY = ["lysep", "mac", "bcd", "dladmm"]


def _script():
    return load_script(ROOT / "scripts" / "family_table.py")


@pytest.fixture(scope="module")
def stored() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    traces = pd.read_parquet(RESULTS / "traces.parquet")
    runs = pd.read_parquet(RESULTS / "runs.parquet")
    return traces, runs, json.loads((RESULTS / "meta.json").read_text())


def test_the_family_run_is_complete_tuned_and_recorded_flops(stored) -> None:
    traces, runs, meta = stored
    assert sorted(runs["method"].unique()) == sorted(METHODS)
    assert (runs["status"] != "failed").all()
    per = runs.groupby(["method", "depth", "width"])["seed"].nunique()
    assert (per == 10).all() and len(per) == len(METHODS) * 3
    assert traces["flops"].notna().all()
    assert (RESULTS / "report.md").is_file() and (ROOT / "results" / "family" / "tuning" / "tuned.toml").is_file()
    assert meta["spec"]["budget"]["grad_evals"] == 600.0


def test_the_certificate_b_is_above_f_on_every_row_of_every_method_with_auxiliary_variables(stored) -> None:
    """B >= F on every trace row, iteration 0 included, to the float32 tolerance of the bound checks."""
    traces, _, _ = stored
    for method in AUXILIARY:
        rows = traces[traces["method"] == method]
        ok = rows["B"].notna() & rows["F"].notna()
        assert ok.sum() > 0.9 * len(rows), method
        gap = (rows["B"] - rows["F"])[ok].to_numpy()
        assert (gap >= -tolerance(rows["F"][ok].to_numpy(), resolution("float32"))).all(), method
    assert traces[~traces["method"].isin(AUXILIARY)]["B"].isna().all()


def test_the_family_tables_of_the_findings_page_are_the_scripts() -> None:
    page = FINDINGS.read_text()
    for table in _script().tables(RESULTS):
        assert table in page, table.splitlines()[0]


def test_the_family_table_refuses_a_directory_without_results(tmp_path: Path, capsys) -> None:
    assert _script().main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and "traces.parquet" in err and "lysep run" in err


def test_the_block_methods_get_more_iterations_per_flop_than_per_grad_eval(stored) -> None:
    """What the fourth budget changes: a block gradient books 2 layer forwards of flops against 3 in grad_evals, so
    for the block methods flops per grad_eval stay below one pass's; for the whole-pass methods they equal it."""
    traces, _, _ = stored
    last = traces.sort_values("iteration").groupby(["method", "depth", "seed"]).tail(1)
    per = (last["flops"] / last["grad_evals"]).groupby([last["method"], last["depth"]]).median().unstack()
    whole = per.loc[["lbfgs", "adam", "sgd"]]
    assert np.allclose(whole.to_numpy(), whole.iloc[0].to_numpy()[None, :], rtol=1e-9)
    assert (per.loc[["lysep", "mac"]] < whole.iloc[0]).all().all()
