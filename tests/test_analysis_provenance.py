"""The report says where, when and with which code the runs were made, and whether their wall times can be trusted."""

from __future__ import annotations

import numpy as np
import pandas as pd
from synthetic import SyntheticMethod, runs_from_traces, synthetic_meta, synthetic_traces, write_results

from analysis import claims as cl
from analysis.metrics import CONTENTION_BELOW, timing_table
from analysis.provenance import invocations_table, run_provenance_rows, wall_time_caveat
from analysis.report import make_report

LYSEP = SyntheticMethod("lysep", "lysep", rate=0.35, seed_sd=0.05, seconds_per_iter=0.2)
ADAM = SyntheticMethod("adam", "adam", rate=0.15, seed_sd=0.2, seconds_per_iter=0.1)
SHA_A, SHA_B = "a" * 40, "b" * 40


def with_provenance(runs: pd.DataFrame, utilisation: float = 1.0, threads: int = 2) -> pd.DataFrame:
    """The runs table as the runner writes it: per-run provenance, CPU time = utilisation x wall x threads."""
    return runs.assign(git_commit=SHA_A, git_dirty=False, versions="python 3.11, torch 2.13", device="cpu (x86_64)",
                       host="h1", threads=threads, started="2026-01-01T10:00:00+00:00",
                       finished="2026-01-01T10:05:00+00:00", cpu_time=utilisation * runs["wall_time"] * threads,
                       load_start=0.5, load_end=0.7)


def build(tmp_path, runs_edit=None, seeds: int = 6, meta_edit=None):
    traces = synthetic_traces((LYSEP, ADAM), depths=(2,), widths=(4, 8), seeds=seeds, iterations=20)
    runs = with_provenance(runs_from_traces(traces))
    runs = runs_edit(runs) if runs_edit else runs
    meta = synthetic_meta((LYSEP, ADAM), iterations=20, widths=(4, 8), seeds=seeds)
    if meta_edit:
        meta = meta_edit(meta)
    write_results(tmp_path, traces, meta, runs)
    make_report(tmp_path, dpi=30)
    return (tmp_path / "report.md").read_text(), runs


def resumed_elsewhere(runs: pd.DataFrame) -> pd.DataFrame:
    later = runs["width"] == 8
    runs = runs.copy()
    runs.loc[later, ["git_commit", "git_dirty", "host"]] = [SHA_B, True, "h2"]
    runs.loc[later, "started"] = "2026-01-02T09:00:00+00:00"
    runs.loc[later, "finished"] = "2026-01-02T09:30:00+00:00"
    return runs


def test_experiment_section_summarises_the_runs_of_a_sweep_resumed_elsewhere(tmp_path):
    md, runs = build(tmp_path, resumed_elsewhere)
    n = len(runs) // 2
    assert ("| runs computed | first start 2026-01-01T10:00:00+00:00, last end 2026-01-02T09:30:00+00:00 "
            f"({len(runs)} runs) |") in md
    assert f"{SHA_A[:12]} ({n} runs); {SHA_B[:12]} (dirty: uncommitted changes) ({n} runs)" in md
    assert f"| host | h1 ({n} runs); h2 ({n} runs) |" in md or f"| host | h2 ({n} runs); h1 ({n} runs) |" in md
    rows = dict(run_provenance_rows(runs))
    assert rows["torch threads"] == "2" and rows["versions"] == "python 3.11, torch 2.13"


def test_runs_of_an_older_lysep_say_not_recorded_and_keep_meta_json_invocation(tmp_path):
    md, _ = build(tmp_path, lambda r: r.drop(columns=["git_commit", "git_dirty", "versions", "device", "host",
                                                      "threads", "started", "finished", "cpu_time", "load_start",
                                                      "load_end"]))
    assert "| runs computed | not recorded per run (runs.parquet was written by an older lysep" in md
    assert "| 2026-01-01T00:00:00 | 2026-01-01T00:01:00 | 0123456789ab | synthetic |" in md  # meta.json's record
    assert "the only invocation an older lysep kept" in md
    assert "wall times not checked for contention" in md


def test_every_invocation_of_meta_json_is_listed():
    entry = {"started": "s1", "finished": "f1", "git_commit": SHA_A, "git_dirty": False, "host": "h1",
             "device": "cpu", "executor": "local", "runs": {"ran": 24, "skipped": 0, "failed": 0}}
    table = invocations_table({"invocations": [entry, {**entry, "started": "s2", "git_commit": SHA_B,
                                                       "git_dirty": True, "runs": {"ran": 0, "skipped": 24,
                                                                                   "failed": 0}}]})
    assert list(table["started"]) == ["s1", "s2"]
    assert list(table["runs computed / already stored / failed"]) == ["24 / 0 / 0", "0 / 24 / 0"]
    assert table["git commit"].iloc[1] == f"{SHA_B[:12]} (dirty: uncommitted changes)"
    assert (table["note"] == "").all()


def test_contended_runs_mark_the_wall_time_columns_and_verdicts(tmp_path):
    def loaded(runs: pd.DataFrame) -> pd.DataFrame:
        slow = (runs["method"] == "lysep") & (runs["width"] == 8)
        runs.loc[slow, "cpu_time"] = 0.5 * runs.loc[slow, "wall_time"] * 2  # waited for a core half of the time
        runs.loc[slow, "load_end"] = 3.5
        return runs

    md, runs = build(tmp_path, loaded)
    sentence = (f"wall times unreliable: {len(runs) // 4} of {len(runs)} runs were measured under CPU contention "
                f"(CPU time / (wall time x threads) < {CONTENTION_BELOW:g}): lysep d2 w8 seeds 0,1,2,3,4,5 "
                "(CPU/wall per thread 0.50)")
    bottom = md.split("\n## ")[1]
    assert f"- W{sentence[1:]}." in bottom
    claims = pd.read_csv(tmp_path / "tables" / "claims.csv").set_index(["id", "budget"])
    assert claims.loc[("c3", "equal wall time"), "numbers"].startswith(sentence)  # the wall-time verdicts are marked
    assert claims.loc[("c5", "equal wall time"), "numbers"].startswith(sentence)
    for cid in ("c3", "c4", "c5"):  # the verdicts at equal iterations and grad_evals read no wall time
        for words in ("equal iterations", "equal grad_evals"):
            assert sentence not in claims.loc[(cid, words), "numbers"]
    assert "seconds to target, median (unreliable)" in md
    assert "Train CE vs wall time" in md and f"{sentence}.*" in md.replace(".](", ".*](")  # figure caption too
    timing = pd.read_csv(tmp_path / "tables" / "timing.csv")
    assert set(timing.loc[timing["contended"], "method"]) == {"lysep"} and timing["contended"].sum() == 6


def test_uncontended_runs_carry_no_caveat(tmp_path):
    md, _ = build(tmp_path)
    assert "wall times unreliable" not in md and "(unreliable)" not in md and "not checked for contention" not in md
    assert "| 2 | 4 | lysep | 6 | 6 | 0 |" in md  # timing section: 6 runs, 6 judged, 0 contended


def test_which_runs_are_judged():
    runs = pd.DataFrame({"method": ["a", "b", "c", "d", "e"], "depth": 1, "width": 1, "seed": 0,
                         "status": ["completed", "completed", "completed", "failed", "completed"],
                         "wall_time": [10.0, 10.0, 0.1, 10.0, 10.0], "cpu_time": [4.0, 4.0, 0.01, np.nan, np.nan],
                         "threads": [1, 1, 1, 1, 1], "device": ["cpu (x)", "cuda:0 (H200)", "cpu", "cpu", "cpu"],
                         "load_start": 1.0, "load_end": 1.0})
    t = timing_table(runs)
    assert list(t["judged"]) == [True, False, False, False, False]  # GPU, too short, failed, no CPU time
    assert list(t["contended"]) == [True, False, False, False, False]
    assert wall_time_caveat(t).startswith("wall times unreliable: 1 of 5 runs")
    assert wall_time_caveat(timing_table(runs.drop(columns="cpu_time"))).startswith("wall times not checked")
    assert wall_time_caveat(timing_table(runs.assign(cpu_time=10.0))) == ""
    assert cl.UNRELIABLE in wall_time_caveat(t)
