"""Regression tracking: `lysep compare` verdicts, counted work and timing ratios, on constructed cases."""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from synthetic import SyntheticMethod, runs_from_traces, synthetic_meta, synthetic_traces, write_results

from analysis import regression as rg
from analysis import stats
from lysep.commands import track as track_cmd
from lysep.commands.main import main
from lysep.core.model import ModelSpec
from lysep.measure import counters, ratios, track
from lysep.methods import make_method

from helpers import fake_measure, git_repo, random_problem

LYSEP = SyntheticMethod("lysep", "lysep", rate=0.3, seed_sd=0.1)
ADAM = SyntheticMethod("adam", "adam", rate=0.15, seed_sd=0.1)


def store(path, traces, methods=(LYSEP, ADAM), **meta):
    write_results(path, traces, synthetic_meta(methods, **meta), runs_from_traces(traces, methods))
    return path


@pytest.fixture
def base(tmp_path):
    traces = synthetic_traces((LYSEP, ADAM), depths=(2,), widths=(4, 8), seeds=10, iterations=20)
    return store(tmp_path / "base", traces), traces


def verdicts(table: pd.DataFrame, method: str, metric: str = "final_F") -> set[str]:
    return set(table[(table.method == method) & (table.metric == metric)].verdict)


def test_the_same_results_are_identical_and_exit_zero(tmp_path, base, capsys) -> None:
    root, traces = base
    store(tmp_path / "new", traces.copy())
    assert main(["compare", str(root), str(tmp_path / "new")]) == 0
    table = pd.read_csv(tmp_path / "new" / "compare" / "compare.csv")
    assert set(table[table.counts].verdict) == {"identical"} and len(table) > 0
    assert set(table[~table.counts].metric) == {"wall_time"}  # same host and device: shown, not judged
    assert "No row got worse" in capsys.readouterr().out
    assert (tmp_path / "new" / "compare" / "compare.html").read_text().count("data:image/png;base64,") == 1


def test_a_method_that_got_worse_is_named_and_exit_one(tmp_path, base, capsys) -> None:
    root, traces = base
    worse = traces.copy()
    lys = worse.method == "lysep"
    worse.loc[lys, "F"] = 3 * worse.loc[lys, "F"]  # every seed's CE three times the base's
    store(tmp_path / "new", worse)
    assert main(["compare", str(root), str(tmp_path / "new")]) == 1
    table = pd.read_csv(tmp_path / "new" / "compare" / "compare.csv")
    assert verdicts(table, "lysep") == {"worse"}
    assert verdicts(table, "adam") == {"identical"}
    out = capsys.readouterr().out
    assert "final train CE" in out and "WORSE: 6 of 22 rows" in out  # CE, iterations, grad_evals x 2 cells


def test_noise_within_the_margin_is_equivalent_and_a_real_gain_is_better(tmp_path, base) -> None:
    root, traces = base
    rng = np.random.default_rng(1)
    new = traces.copy()
    lys, ada = new.method == "lysep", new.method == "adam"
    new.loc[lys, "F"] *= 1 + 0.002 * rng.standard_normal(int(lys.sum()))  # 0.2% noise, margin 10%
    new.loc[ada, "F"] *= 0.5
    store(tmp_path / "new", new)
    table = rg.compare(rg.load_side(root), rg.load_side(tmp_path / "new"))
    assert verdicts(table, "lysep") == {"equivalent"}
    assert verdicts(table, "adam") == {"better"}
    assert not table.regression.any()


def test_too_few_seeds_is_inconclusive_and_says_add_seeds(tmp_path) -> None:
    traces = synthetic_traces((LYSEP, ADAM), depths=(2,), widths=(4,), seeds=3, iterations=10)
    root = store(tmp_path / "base", traces)
    worse = traces.assign(F=traces.F * 3)
    store(tmp_path / "new", worse)
    table = rg.compare(rg.load_side(root), rg.load_side(tmp_path / "new"))
    ce = table[table.metric == "final_F"]
    assert set(ce.verdict) == {"inconclusive"}
    assert ce.why.str.contains(f"add seeds: 3 pairs, the tests need >= {stats.min_n_wilcoxon()}").all()


def test_different_specs_and_no_common_seeds_are_bad_input(tmp_path, base, capsys) -> None:
    root, traces = base
    store(tmp_path / "other", traces, iterations=99)
    assert main(["compare", str(root), str(tmp_path / "other")]) == 2
    assert "spec key 'budget' differs" in capsys.readouterr().err
    store(tmp_path / "shifted", traces.assign(seed=traces.seed + 100))
    assert main(["compare", str(root), str(tmp_path / "shifted")]) == 2
    assert "no run (method, depth, width, seed) is in both" in capsys.readouterr().err
    assert main(["compare", str(root), str(tmp_path / "missing")]) == 2
    assert "missing/traces.parquet: not found" in capsys.readouterr().err


def test_tost_and_the_minimum_sample() -> None:
    from analysis.regression import _tost_p

    assert stats.min_n_wilcoxon() == 6 and stats.min_n_wilcoxon(alternative="less") == 5
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    assert _tost_p(x + 0.001 * rng.normal(size=12), x, 0.1) < 0.01  # tiny differences: equivalent
    assert _tost_p(x + 0.5, x, 0.1) > 0.5  # a shift beyond the margin: not equivalent
    assert np.isnan(_tost_p(x[:4] + 0.001, x[:4], 0.1))  # 4 pairs cannot reach 0.05: no p-value
    assert np.isnan(_tost_p(x, x, 0.0)) and np.isnan(_tost_p(x, x, float("nan")))  # no margin: no test
    assert _tost_p(np.r_[x, np.inf, np.inf, np.inf, np.inf, np.inf, np.inf, np.inf], np.r_[x, np.ones(7)], 1.0) > 0.05


# ---------------------------------------------------------------------------------- counted work


class TwiceLySep:
    """The deliberate regression of the issue: a second, discarded sweep per LySep iteration."""

    def __init__(self) -> None:
        self.inner = make_method("lysep")

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def step(self, problem, state) -> None:
        self.inner.step(problem, copy.deepcopy(state))
        self.inner.step(problem, state)


def test_a_second_discarded_sweep_doubles_every_counted_quantity() -> None:
    prob = random_problem(n=80, d=3, k=3, dtype=torch.float32)
    model = ModelSpec.fnn(3, 3, 6, 3)
    from lysep.core.model import init_params

    p0 = init_params(model, [0, 1], prob.dtype)
    plain, twice = make_method("lysep"), TwiceLySep()
    once = counters.count_step(plain, prob, counters.steady_state(plain, prob, p0, [0, 1], 2))
    two = counters.count_step(twice, prob, counters.steady_state(make_method("lysep"), prob, p0, [0, 1], 2))
    for key in ("flops", "activation_evals"):
        assert two[key] == pytest.approx(2 * once[key], rel=0.02), key
    assert once["flops"] > 0 and once["activation_evals"] > 0
    judged = track.judge_counters([{"method": "lysep", "depth": 3, "width": 6, **once}],
                                  [{"method": "lysep", "depth": 3, "width": 6, **two}])
    assert set(judged[judged["count"].isin(["flops", "activation_evals", "aten_ops"])].verdict) == {"worse"}


def test_syncs_are_counted() -> None:
    class Syncing:
        def step(self, problem, state) -> None:
            t = state.grad_evals
            float(t.sum()), bool((t > 0).any()), t.tolist()  # noqa: B018 - three host syncs
            state.grad_evals += 1

    state = type("S", (), {"grad_evals": torch.zeros(2, dtype=torch.float64)})()
    counts = counters.count_step(Syncing(), None, state)
    assert counts["syncs"] >= 2 and counts["grad_evals"] == 2.0


def test_unchanged_counts_are_the_same_and_a_ratio_that_doubles_is_worse() -> None:
    rows = [{"method": "adam", "depth": 3, "width": 10, **dict.fromkeys(counters.COUNTS, 5.0)}]
    assert set(track.judge_counters(rows, rows).verdict) == {"same"}
    base = [{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 5.0, "adam_over_reference": 1.1}]
    new = [{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 10.0, "adam_over_reference": 1.25}]
    judged = track.judge_ratios(base, new).set_index("ratio")
    assert judged.loc["lysep_over_adam", "verdict"] == "worse"
    assert judged.loc["adam_over_reference", "verdict"] == "same"


def test_the_measuring_scripts_run_as_track_runs_them(tmp_path) -> None:
    cfg = {"dataset": {"name": "circle", "n_train": 60, "n_test": 20}, "cells": [[2, 4]], "seeds": [0, 1],
           "methods": {"lysep": {"name": "lysep"}, "adam": {"name": "adam"}}, "warmup": 1, "rounds": 2, "threads": 1}
    rows = track.probe(track.ROOT, "counters.py", cfg, lambda *_: None)
    assert {r["method"] for r in rows} == {"lysep", "adam"} and all(r["flops"] > 0 for r in rows)
    (ratio,) = track.probe(track.ROOT, "ratios.py", cfg, lambda *_: None)
    assert ratio["lysep_over_adam"] > 0 and ratio["adam_over_reference"] > 0
    assert json.dumps(ratios.interleaved({"a": lambda: None}, 3, torch.device("cpu")))


# ---------------------------------------------------------------------------------- lysep track

TINY_SPEC = """
name = "tiny-track"
[data]
dataset = "circle"
n_train = 80
n_test = 40
[model]
[grid]
depth = [2]
width = [4]
seeds = 6
[budget]
iterations = 8
target_ce = 0.5
[[method]]
name = "lysep"
[[method]]
name = "adam"
"""
TINY_PROBE = {"dataset": {"name": "circle", "n_train": 60, "n_test": 20}, "cells": [[2, 4]], "seeds": [0, 1],
              "methods": {"lysep": {"name": "lysep"}, "adam": {"name": "adam"}}, "warmup": 1, "rounds": 3}


@pytest.fixture
def tiny_track(tmp_path, monkeypatch):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    monkeypatch.setattr(track, "TRACK_SPEC", str(spec))
    monkeypatch.setattr(track, "COUNT_PROBES", (TINY_PROBE,))
    monkeypatch.setattr(track, "RATIO_PROBES", (TINY_PROBE,))
    monkeypatch.setenv("LYSEP_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_the_same_tree_measured_twice_is_the_same_in_counts_and_identical_in_quality(tiny_track) -> None:
    a = track.measure(track.ROOT, tiny_track / "a", lambda *_: None)
    b = track.measure(track.ROOT, tiny_track / "b", lambda *_: None)
    assert set(track.judge_counters(a["counters"], b["counters"]).verdict) == {"same"}
    table, html = track.compare_dirs(tiny_track / "a" / "quality", tiny_track / "b" / "quality",
                                     tiny_track / "cmp", 0.05)
    assert set(table[table.counts].verdict) == {"identical"} and html.is_file()
    assert {r["method"] for r in a["counters"]} == {"lysep", "adam"} and a["ratios"][0]["lysep_over_adam"] > 0


def test_track_measures_the_base_once_in_a_worktree_and_exits_one_on_more_work(tiny_track, monkeypatch, capsys):
    """On a git repository of its own (``$LYSEP_TRACK_REPO``): the project's repository gets no worktree."""
    repo, calls = git_repo(tiny_track / "repo"), []
    monkeypatch.setenv("LYSEP_TRACK_REPO", str(repo))
    monkeypatch.setattr(track, "measure", fake_measure(calls, lambda tree, calls: 2.0 if tree == repo and
                                                       len(calls) > 2 else 1.0))
    monkeypatch.setattr(track, "compare_dirs", lambda *a: (pd.DataFrame({"verdict": [], "regression": []}), None))
    args = argparse.Namespace(base="HEAD", out=str(tiny_track / "out"), alpha=0.05, fresh=False)
    assert track_cmd.track_command(args) == 0
    head = track.resolve("HEAD")
    assert head == subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    assert calls[0] == track.cache_root() / "worktrees" / head[:12] and (calls[0] / "lysep").is_dir()
    assert track_cmd.track_command(args) == 1  # the working tree now does twice the work: every count is worse
    assert len(calls) == 3 and calls[1:] == [repo, repo]  # the base came from the cache
    assert "counted work: 6 worse" in capsys.readouterr().out  # the six counts of the one (method, cell)
    args.base = "no-such-ref-anywhere"
    assert track_cmd.track_command(args) == 2
    assert "--base no-such-ref-anywhere: not a commit" in capsys.readouterr().err


def test_a_ratio_beyond_the_tolerance_is_measured_again_and_judged_on_medians(monkeypatch) -> None:
    """One noisy measurement does not make a regression: the flagged cell is measured twice more per side."""
    probes = []

    def fake_probe(tree, script, cfg, log):
        probes.append((tree, cfg["cells"]))
        return [{"depth": d, "width": w, "lysep_over_adam": 5.0} for d, w in cfg["cells"]]

    monkeypatch.setattr(track, "probe", fake_probe)
    monkeypatch.setattr(track, "base_tree", lambda commit: Path("/base"))
    base = [{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 5.0},
            {"kind": "fnn", "depth": 5, "width": 20, "lysep_over_adam": 5.0}]
    noisy = [{**base[0], "lysep_over_adam": 9.0}, base[1]]  # one outlier in cell (3, 10)
    b, n = track.confirm_ratios(base, noisy, "abc", lambda *_: None)
    assert set(track.judge_ratios(b, n).verdict) == {"same"}  # median of (9, 5, 5)
    assert [cells for _, cells in probes] == [[[3, 10]]] * (2 * track.CONFIRM_RUNS)  # only the flagged cell
    probes.clear()
    assert track.confirm_ratios(base, base, "abc", lambda *_: None) == (base, base) and not probes


def settings_store(path: Path, traces: pd.DataFrame, adam: dict, **meta) -> Path:
    """A store whose spec lists its methods as `lysep run` writes them (``method``: name, label, hyperparameters)."""
    doc = synthetic_meta((LYSEP, ADAM), **meta)
    doc["spec"]["method"] = [{"name": "lysep", "label": "lysep"}, {"name": "adam", "label": "adam", **adam}]
    write_results(path, traces, doc, runs_from_traces(traces, (LYSEP, ADAM)))
    return path


def test_compare_settings_pairs_two_settings_of_a_method_and_names_what_differs(tmp_path, base, capsys) -> None:
    _, traces = base
    root = settings_store(tmp_path / "base", traces, {"lr": 0.01})
    faster = traces.copy()
    faster.loc[faster.method == "adam", "F"] *= 0.5
    settings_store(tmp_path / "new", faster, {"lr": 0.003, "beta2": 0.999})  # beta2 at its default: no difference
    assert main(["compare", str(root), str(tmp_path / "new")]) == 2  # by default a changed spec is refused
    assert "spec key 'method' differs" in capsys.readouterr().err
    assert main(["compare", str(root), str(tmp_path / "new"), "--settings"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("settings: the specs differ in adam: lr = 0.01 (base) vs 0.003 (new)\n")
    table = pd.read_csv(tmp_path / "new" / "compare" / "compare.csv")
    assert verdicts(table, "adam") == {"better"} and verdicts(table, "lysep") == {"identical"}
    md = (tmp_path / "new" / "compare" / "compare.md").read_text()
    assert "Settings compared: the two specs differ in these hyperparameters (new vs base): adam: lr = 0.01 (base) " \
           "vs 0.003 (new)." in md


def test_compare_settings_still_refuses_other_differences(tmp_path, base, capsys) -> None:
    _, traces = base
    root = settings_store(tmp_path / "base", traces, {"lr": 0.01})
    settings_store(tmp_path / "budget", traces, {"lr": 0.02}, iterations=99)
    assert main(["compare", str(root), str(tmp_path / "budget"), "--settings"]) == 2
    err = capsys.readouterr().err
    assert "spec key 'budget' differs" in err and "'method'" not in err
    other = settings_store(tmp_path / "other", traces, {})
    meta = json.loads((other / "meta.json").read_text())
    meta["spec"]["method"][1] = {"name": "sgd", "label": "adam"}
    meta["spec"]["method"].append({"name": "gd", "label": "gd"})
    (other / "meta.json").write_text(json.dumps(meta))
    assert main(["compare", str(root), str(other), "--settings"]) == 2
    err = capsys.readouterr().err
    assert "method label 'adam' is method 'adam' in" in err and "but 'sgd' in" in err
    assert "method label 'gd' is only in" in err
