"""The committed tunings of Examples 1 and 2 (results/paper_example{1,2}/tuning/, `lysep tune
configs/paper_example{1,2}.toml`): every method got the same trials, budget and tuning seeds, the tuned spec holds
the winners, and docs/tuning.md's tables are scripts/tuning_table.py's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lysep.harness.spec import load_spec
from lysep.harness.tune import REFERENCE, trial_spec, trials

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["paper_example1", "paper_example2", "paper_example2_whole"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_method_got_the_same_trials_budget_and_tuning_seeds(example: str) -> None:
    spec, tuning = load_spec(ROOT / "configs" / f"{example}.toml"), ROOT / "results" / example / "tuning"
    runs, record = pd.read_parquet(tuning / "runs.parquet"), json.loads((tuning / "tune.json").read_text())
    tspec, plan = trial_spec(spec), trials(spec)
    assert record["trials"] == [{k: t[k] for k in ("label", "method", "algorithm", "trial", "values")} for t in plan]
    by_label = {t["label"]: t["method"] for t in plan}
    runs = runs[runs.method.isin(by_label)]
    assert runs.config_hash.is_unique and not (runs.status == "failed").any()
    per_method = runs.groupby(runs.method.map(by_label))
    n = (spec.tune.trials + 1) * len(tspec.grid.cells()) * spec.tune.seeds  # + the reference, per cell and seed
    assert per_method.size().eq(n).all() and len(per_method) == len(spec.methods)
    assert set(runs.seed) == set(record["tuning_seeds"]) == set(tspec.grid.seed_list())
    assert not set(runs.seed) & set(spec.grid.seed_list()) and record["reporting_seeds"] == spec.grid.seed_list()
    finished = runs[runs.status == "completed"]
    assert finished.iterations.eq(spec.budget.iterations).all()  # the same budget, run out by every finished trial


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_tuned_spec_holds_each_methods_winner_on_the_reporting_seeds(example: str) -> None:
    spec, tuning = load_spec(ROOT / "configs" / f"{example}.toml"), ROOT / "results" / example / "tuning"
    tuned = load_spec(tuning / "tuned.toml")
    record = json.loads((tuning / "tune.json").read_text())
    assert tuned.grid == spec.grid and tuned.budget == spec.budget and tuned.data == spec.data
    winners = {w["method"]: w for w in record["winners"]}
    scores = pd.DataFrame(record["scores"]).fillna(float("inf"))
    for before, after in zip(spec.methods, tuned.methods):
        w = winners[before.label]
        assert w["score"] == scores[scores.method == before.label].score.min()
        expected = before.hparams if w["trial"] == REFERENCE else {**before.hparams, **w["values"]}
        assert after.label == before.label and after.hparams == expected


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_tuning_page_holds_the_scripts_tables(example: str) -> None:
    proc = subprocess.run([sys.executable, "scripts/tuning_table.py", f"results/{example}/tuning"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = (ROOT / "docs" / "tuning.md").read_text()
    tables = [t.strip() for t in proc.stdout.split("\n\n")]
    assert len(tables) == 3 and all(t in page for t in tables)


def test_the_defaults_evidence_on_the_page_is_the_scripts() -> None:
    """docs/tuning.md's table behind the built-in defaults is scripts/defaults_evidence.py's, and the decisions it
    states hold for it: the new LySep default ahead of the former one in every cell of both examples."""
    proc = subprocess.run([sys.executable, "scripts/defaults_evidence.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() in (ROOT / "docs" / "tuning.md").read_text()
    sys.path.insert(0, str(ROOT / "scripts"))
    from defaults_evidence import rows

    table = rows()
    assert (table.seeds == 10).all()
    new = table[(table.method == "lysep") & table.setting.str.startswith("adaptive")]
    assert set(new.example) == {"Example 1", "Example 2"} and len(new) == 6
    assert (new.ratio < 1).all() and (new["Wilcoxon p"] < 0.05).any()
    from lysep.methods import make_method

    default = make_method("lysep").hp
    assert (default["schedule"], default["norm"], default["beta"], default["out_solver"]) == (
        "adaptive", "spectral", 0.02, "gd")
    # issue 27: the MM-block variant, run beside the default on the reporting seeds, is behind it at every budget in
    # every cell of both examples, which is why the default keeps its Armijo blocks
    from defaults_evidence import MM_BUDGETS, mm_rows, mm_verdict

    mm = mm_rows()
    assert (mm.seeds == 10).all() and set(mm.example) == {"Example 1", "Example 2"} and len(mm) == 3 * 6
    assert (mm.ratio > 1).all() and all(mm_verdict(mm, b) == "behind" for b in MM_BUDGETS)
    assert (default["u_solver"], default["w_solver"]) == ("gd", "gd")
