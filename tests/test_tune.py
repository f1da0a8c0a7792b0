"""``lysep tune``: search spaces validated like every key, the same trials and budget for every method, tuning
seeds disjoint from the reporting seeds, a deterministic search, a known best learning rate found, an interrupted
tune resumed with no trial lost or run twice, a tuned spec that ``lysep run`` takes as it is, the Tuning report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lysep.commands.main import main
from lysep.harness.search import draw, on_border
from lysep.harness.spec import SpecError, load_spec, parse_spec
from lysep.harness.tune import TUNE_FILE, cell_scores, scores, trial_spec, trials, tune_of
from lysep.methods import METHODS
from lysep.methods.space import Choice, Range

TINY = """
name = "tiny"
[data]
dataset = "circle"
n_train = 120
n_test = 60
[model]
kind = "fnn"
activation = "tanh"
[grid]
depth = [1, 2]
width = [4]
seeds = 2
[budget]
iterations = {iterations}
eval_every = 5
[tune]
trials = {trials}
seeds = 2
first_seed = 50
qmc_seed = 7
{tune_more}
[[method]]
name = "lysep"
[[method]]
name = "adam"
[[method]]
label = "sgd-plain"
name = "sgd"
momentum = 0.0
[method.tune]
lr = {{low = 1e-3, high = 1.0, scale = "log"}}
"""


def write(folder: Path, iterations: int = 6, trials: int = 3, tune_more: str = "", text: str | None = None) -> Path:
    path = folder / "tiny.toml"
    path.write_text(text if text is not None else TINY.format(iterations=iterations, trials=trials,
                                                                tune_more=tune_more))
    return path


# ---------------------------------------------------------------------------- the search


def test_the_search_is_deterministic_given_its_seed_and_stays_in_its_space() -> None:
    schema = METHODS["lysep"].HPARAMS
    space = METHODS["lysep"].SEARCH
    a, b, c = draw(space, schema, 12, 3), draw(space, schema, 12, 3), draw(space, schema, 12, 4)
    assert a == b and a != c
    for trial in a:
        for key, dim in space.items():
            value = trial[key]
            if isinstance(dim, Range):
                assert dim.low <= value <= dim.high, (key, value)
            else:
                assert value in schema[key].choices  # Choice(): the schema's own choices
    lr = [t["lr"] for t in draw({"lr": Range(1e-4, 1.0, "log")}, METHODS["adam"].HPARAMS, 16, 0)]
    decades = np.floor(np.log10(lr))  # quasi-random: every decade of a log range gets its share (16 / 4)
    assert sorted(np.unique(decades, return_counts=True)[1]) == [4, 4, 4, 4]


def test_a_default_choice_space_lists_every_choice_of_the_schema_as_it_is_now(monkeypatch) -> None:
    """A solver added to the schema (as another branch may add one) is searched without touching SEARCH."""
    from lysep.methods.base import HParam

    schema = dict(METHODS["lysep"].HPARAMS)
    old = schema["w_solver"]
    schema["w_solver"] = HParam(str, "gd", choices=(*old.choices, "brand_new"))
    drawn = {t["w_solver"] for t in draw({"w_solver": Choice()}, schema, 32, 0)}
    assert drawn == {*old.choices, "brand_new"}


def test_every_method_gets_the_same_trials_budget_and_cells(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, trials=5))
    tspec = trial_spec(spec)
    per_method = pd.Series([t["method"] for t in trials(spec)]).value_counts()
    assert set(per_method.index) == {m.label for m in spec.methods} and set(per_method) == {5 + 1}  # + reference
    assert tspec.budget == spec.budget and tspec.grid.cells() == spec.grid.cells()
    assert tspec.grid.seed_list() == [50, 51]
    base = {m.label: m.hparams for m in spec.methods}
    for t, m in zip(trials(spec), tspec.methods):
        assert m.label == t["label"]
        assert m.hparams == ({**base[t["method"]], **t["values"]} if t["trial"] >= 0 else base[t["method"]])
    refs = [t for t in trials(spec) if t["trial"] < 0]
    assert [t["label"] for t in refs] == ["lysep+ref", "adam+ref", "sgd-plain+ref"]
    assert refs[0]["values"]["beta"] == METHODS["lysep"].HPARAMS["beta"].default
    declared = [t for t in trials(spec) if t["method"] == "sgd-plain"]
    assert all(set(t["values"]) == {"lr"} and t["hparams"]["momentum"] == 0.0 for t in declared)  # the rest is fixed
    adam = {frozenset(t["values"]) for t in trials(spec) if t["method"] == "adam"}
    assert adam == {frozenset(METHODS["adam"].SEARCH)}


# ---------------------------------------------------------------------------- selection


def test_a_diverged_seed_makes_its_trial_worst_and_the_grid_score_is_the_geometric_mean() -> None:
    runs = pd.DataFrame({
        "method": ["a+t00"] * 4 + ["a+t01"] * 4, "depth": [1, 1, 2, 2] * 2, "width": [4] * 8,
        "seed": [0, 1] * 4, "status": ["completed"] * 7 + ["diverged"],
        "final_F": [0.1, 0.3, 0.4, 0.4, 0.01, 0.01, 0.01, np.nan]})
    cells = cell_scores(runs, "final_F").set_index(["method", "depth"])
    assert cells.loc[("a+t00", 1), "median"] == pytest.approx(0.2) and math.isinf(cells.loc[("a+t01", 2), "median"])
    plan = [{"label": f"a+t0{i}", "method": "a", "trial": i} for i in (0, 1)]
    tune = parse_spec({**load_spec_doc(), "tune": {"scope": "grid"}}).tune
    grid = scores(runs, plan, tune).set_index("label")
    assert grid.loc["a+t00", "score"] == pytest.approx(math.sqrt(0.2 * 0.4)) and grid.loc["a+t00", "rank"] == 1
    assert math.isinf(grid.loc["a+t01", "score"])
    cell = scores(runs, plan, parse_spec({**load_spec_doc(), "tune": {"scope": "cell"}}).tune)
    winners = cell[cell["rank"] == 1].set_index("depth")["label"]
    assert winners[1] == "a+t01" and winners[2] == "a+t00"


def load_spec_doc() -> dict:
    return {"name": "x", "data": {"dataset": "circle"}, "model": {}, "grid": {"depth": [1, 2], "width": [4]},
            "budget": {"iterations": 1}, "method": [{"name": "gd"}]}


def test_a_winner_in_the_outer_five_percent_of_its_range_is_on_the_border() -> None:
    log = Range(1e-4, 1.0, "log")
    assert on_border(log, 1.5e-4) and on_border(log, 0.7) and not on_border(log, 1e-2)
    assert on_border(Range(0.0, 1.0, "linear"), 0.97) and not on_border(Range(0.0, 1.0, "linear"), 0.9)
    assert not on_border(Choice(("a", "b")), "a")


# ---------------------------------------------------------------------------- bad spaces exit 2


BAD = [
    ("nosuch = {low = 1.0, high = 2.0}", "method[2].tune.nosuch", "a hyperparameter of the method"),
    ("lr = {low = 0.1, high = 0.01}", "method[2].tune.lr.high", "a number > low"),
    ('lr = {low = 0.0, high = 1.0, scale = "log"}', "method[2].tune.lr", ""),
    ('lr = {low = 0.1, high = 1.0, scale = "cubic"}', "method[2].tune.lr.scale", "one of: log, linear"),
    ("momentum = {low = 0.5, high = 1.5, scale = \"linear\"}", "method[2].tune.momentum.high", "[0, 1)"),
    ('nesterov = {choices = [true, "yes"]}', "method[2].tune.nesterov.choices[1]", "a bool"),
    ('lr = {choices = []}', "method[2].tune.lr", "{choices = [one or more values]}"),
    ("lr = 0.1", "method[2].tune.lr", "{low = ..., high = ..."),
]


@pytest.mark.parametrize("line,key,expect", BAD)
def test_a_bad_search_space_exits_2_naming_file_key_and_expectation(tmp_path: Path, capsys, line: str, key: str,
                                                                    expect: str) -> None:
    text = TINY.format(iterations=2, trials=2, tune_more="").replace('lr = {low = 1e-3, high = 1.0, scale = "log"}',
                                                                      line)
    path = write(tmp_path, text=text)
    assert main(["tune", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and key in err and expect in err, err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SpecError):  # and `lysep run` refuses the same spec
        load_spec(path)


def test_a_choice_outside_the_schema_and_overlapping_seeds_exit_2(tmp_path: Path, capsys) -> None:
    text = TINY.format(iterations=2, trials=2, tune_more="").replace(
        '[[method]]\nname = "lysep"\n', '[[method]]\nname = "lysep"\ntune = {w_solver = {choices = ["gd", "lbfgs"]}}\n')
    assert main(["tune", str(write(tmp_path, text=text)), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    expected = "one of: 'gd', 'lipschitz', 'adam', 'gauss_newton'"
    assert "method[0].tune.w_solver.choices[1] = \"lbfgs\"" in err and expected in err, err
    path = write(tmp_path, tune_more="").parent / "tiny.toml"
    assert main(["tune", str(path), "--set", "tune.first_seed=1", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "tune.first_seed = 1: expected tuning seeds 1..2 disjoint from the reporting seeds 0..1" in err, err
    assert main(["tune", str(path), "--set", "tune.depth=[3]", "--out", str(tmp_path / "out")]) == 2
    assert "tune.depth = [3]: expected values of grid.depth = [1, 2]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- the whole tune


TRIALS_ROW = "trials per method | 3 drawn, and the spec's own setting"


def stored(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet")


def test_tune_stores_every_trial_on_tuning_seeds_and_writes_a_spec_lysep_run_takes(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, trials=3)
    out = tmp_path / "tuning"
    assert main(["check", str(path)]) == 0
    assert "tune     3 trials x 3 methods x 2 cells x 2 tuning seeds (50..51) = 48 runs" in capsys.readouterr().out
    assert main(["tune", str(path), "--out", str(out), "--quiet"]) == 0
    runs, record = stored(out), json.loads((out / TUNE_FILE).read_text())
    spec = load_spec(path)
    assert len(runs) == 3 * 4 * 2 * 2 and runs.config_hash.is_unique  # methods x (trials + ref) x cells x seeds
    assert set(runs.seed) == {50, 51} and not set(runs.seed) & set(spec.grid.seed_list())
    assert record["tuning_seeds"] == [50, 51] and record["reporting_seeds"] == [0, 1]
    base = runs.method.str.split("+t", regex=False).str[0].str.replace("+ref", "", regex=False)
    assert runs.groupby(base).method.nunique().eq(4).all() and runs.method.str.endswith("+ref").sum() == 3 * 2 * 2
    assert runs.groupby(base).iterations.max().eq(6).all()  # one budget for all
    tuned = load_spec(out / "tuned.toml")
    assert tuned.grid == spec.grid and tuned.budget == spec.budget and tuned.tune is None
    winners = {w["method"]: w for w in record["winners"]}
    table = scores(runs, trials(spec), tune_of(spec))
    for m, t in zip(spec.methods, tuned.methods):
        best = table[(table.method == m.label) & (table["rank"] == 1)].iloc[0]
        assert best.score == table[table.method == m.label].score.min()
        w = winners[m.label]
        assert t.label == m.label and t.hparams == ({**m.hparams, **w["values"]} if w["trial"] >= 0 else m.hparams)
        assert winners[m.label]["label"] == best.label
    report = (out / "report.md").read_text()
    assert "## Tuning" in report and "tuning_0.png" in report and TRIALS_ROW in report
    (out / "traces.parquet").unlink()  # not committed for a tuning store: its report reads tune.json only
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.md").read_text() == report
    capsys.readouterr()
    assert main(["run", str(out / "tuned.toml"), "--out", str(tmp_path / "reported"), "--quiet"]) == 0
    assert set(stored(tmp_path / "reported").seed) == {0, 1}
    report = (tmp_path / "reported" / "report.md").read_text()  # the run's report points back to its tuning
    assert "## Tuning" in report and TRIALS_ROW in report and "## Claims" in report


def test_the_same_tune_twice_draws_the_same_trials_and_picks_the_same_winners(tmp_path: Path) -> None:
    path = write(tmp_path, trials=2)
    for out in ("a", "b"):
        assert main(["tune", str(path), "--out", str(tmp_path / out), "--quiet", "--no-report"]) == 0
    a, b = (json.loads((tmp_path / o / TUNE_FILE).read_text()) for o in ("a", "b"))
    assert a["trials"] == b["trials"] and a["winners"] == b["winners"]
    assert (tmp_path / "a" / "tuned.toml").read_text() == (tmp_path / "b" / "tuned.toml").read_text()


def test_an_interrupted_tune_resumes_with_no_trial_lost_or_run_twice(tmp_path: Path, monkeypatch) -> None:
    """Interrupted (Ctrl-C) after its 4th stored unit, the rerun computes exactly the other units; every trial run is
    stored once. (A kill at any moment of a sweep: tests/test_reliability_crash.py; a tune is such a sweep.)"""
    import lysep.harness.runner as runner

    path, out = write(tmp_path, trials=3), tmp_path / "tuning"
    real_store, real_run, stored_units, computed = runner.store_unit, runner.run_unit, [], []

    def store_then_interrupt(store, unit, res):
        real_store(store, unit, res)
        stored_units.append((unit.label, unit.depth))
        if len(stored_units) == 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner, "store_unit", store_then_interrupt)
    assert main(["tune", str(path), "--out", str(out), "--quiet", "--no-report"]) == 130
    assert not (out / TUNE_FILE).exists() and not (out / "tuned.toml").exists()
    monkeypatch.setattr(runner, "store_unit", real_store)
    monkeypatch.setattr(runner, "run_unit",
                        lambda *a, **k: computed.append((a[2].label, a[2].depth)) or real_run(*a, **k))
    assert main(["tune", str(path), "--out", str(out), "--quiet", "--no-report"]) == 0
    units = 3 * 4 * 2  # methods x (trials + reference) x cells
    assert len(computed) == units - 4 and not set(computed) & set(stored_units)
    runs = stored(out)
    assert len(runs) == units * 2 and runs.config_hash.is_unique


# ---------------------------------------------------------------------------- a known answer


def test_the_protocol_finds_the_best_learning_rate_of_a_brute_force_sweep(tmp_path: Path) -> None:
    """GD on a small circle problem: too small a step stalls, too large diverges. A dense sweep of 33 step sizes
    run directly through ``run_cell`` (no tuning code) is the reference; 12 Sobol trials must pick a step within a
    factor 2 of its best and a score within 15% of its best."""
    import torch

    from lysep.harness.cell import Budget, run_cell
    from lysep.harness.plan import build_model, build_problem
    from lysep.methods import make_method

    text = """
name = "known"
[data]
dataset = "circle"
n_train = 200
n_test = 50
[model]
kind = "fnn"
activation = "tanh"
[grid]
depth = [1]
width = [8]
seeds = 1
[budget]
iterations = 40
eval_every = 40
[tune]
trials = 12
seeds = 3
first_seed = 10
[[method]]
name = "gd"
tune = {lr = {low = 0.01, high = 300.0, scale = "log"}}
"""
    path = write(tmp_path, text=text)
    spec = load_spec(path)
    torch.set_num_threads(1)
    problem = build_problem(spec, "cpu")
    lrs = np.logspace(-2, np.log10(300), 33)
    methods = {f"lr{i}": make_method("gd", lr=float(lr)) for i, lr in enumerate(lrs)}
    traces = run_cell(problem, build_model(spec, problem, 1, 8), methods, [10, 11, 12],
                      Budget(iterations=40, eval_every=40))
    last = traces.groupby(["method", "seed"]).last()
    bad = last.groupby("method").diverged.any() | ~np.isfinite(last.groupby("method").F.max())
    ref = last.groupby("method").F.median().where(~bad, np.inf)
    best_lr, best = lrs[int(ref.idxmin()[2:])], ref.min()
    assert 0.05 < best_lr < 200 and math.isfinite(best)  # an interior optimum: the test is not trivial
    assert main(["tune", str(path), "--out", str(tmp_path / "t"), "--quiet", "--no-report"]) == 0
    chosen = json.loads((tmp_path / "t" / TUNE_FILE).read_text())["winners"][0]
    assert best_lr / 2 <= chosen["values"]["lr"] <= best_lr * 2, (chosen, best_lr)
    assert chosen["score"] <= 1.15 * best, (chosen["score"], best)


def test_validating_a_tune_spec_and_drawing_its_trials_import_no_torch(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = ("import sys; from lysep.harness.spec import load_spec; from lysep.harness.tune import trial_spec, trials; "
            f"s = load_spec({str(write(tmp_path))!r}); trial_spec(s); print(len(trials(s)), 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.stdout.split() == ["12", "False"], proc.stderr


def test_a_default_space_drops_the_choices_the_spec_cannot_take(tmp_path: Path) -> None:
    """gauss_newton solves dense layers only: a CNN spec's default LySep space leaves it out, an FNN's keeps it;
    a declared space is taken as written (and refused before any work if the model cannot take it)."""
    from lysep.harness.plan import preflight
    from lysep.harness.tune import space_of

    cnn = load_spec(Path(__file__).resolve().parent.parent / "configs" / "paper_example2.toml")
    lysep = next(m for m in cnn.methods if m.name == "lysep")
    assert space_of(cnn, lysep)["w_solver"].values == ("gd", "lipschitz", "adam")
    preflight(trial_spec(cnn))  # every trial of every method can train the CNNs
    fnn = load_spec(write(tmp_path))
    assert "gauss_newton" in space_of(fnn, fnn.methods[0])["w_solver"].values


def test_scope_cell_writes_one_tuned_spec_per_cell_with_that_cells_winners(tmp_path: Path) -> None:
    path, out = write(tmp_path, trials=2, tune_more='scope = "cell"'), tmp_path / "cells"
    assert main(["tune", str(path), "--out", str(out), "--quiet", "--no-report"]) == 0
    record = json.loads((out / TUNE_FILE).read_text())
    assert sorted(p.name for p in out.glob("tuned*.toml")) == ["tuned_d1_w4.toml", "tuned_d2_w4.toml"]
    for depth in (1, 2):
        tuned = load_spec(out / f"tuned_d{depth}_w4.toml")
        assert tuned.grid.cells() == [(depth, 4)] and tuned.grid.seed_list() == [0, 1]
        for m in tuned.methods:
            w = next(w for w in record["winners"] if w["method"] == m.label and w["depth"] == depth)
            cell = [s for s in record["scores"] if s["method"] == m.label and s["depth"] == depth]
            assert w["score"] == min(s["score"] if s["score"] is not None else math.inf for s in cell)
            assert m.hparams == w["hparams"]
