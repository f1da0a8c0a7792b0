"""The asv history stays current: HEAD's deterministic benchmarks are recorded after every change that lands on
main (``python scripts/asv_history.py record``), and a forgotten recording fails here, in CI, instead of leaving
the dashboard silently stale. The helpers are checked on constructed git histories."""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: these tests share the repository's .asv/ folder (asv_history.py publish / load): one at a time (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("repo_asv_lock")
sys.path.insert(0, str(ROOT / "scripts"))
import asv_history  # noqa: E402


def test_the_newest_recorded_commit_is_an_ancestor_of_head_a_handful_of_commits_back() -> None:
    shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
    assert shallow != "true", "a shallow clone cannot tell how far back the recording is: clone the whole history"
    commit, ancestor, behind = asv_history.newest_recorded()
    fix = ("run `python scripts/asv_history.py record` on main's HEAD (clean tree) and commit results/asv "
           "(docs/benchmarks.md: every change that lands on main is recorded)")
    assert ancestor, f"the newest recorded commit {commit[:12]} is not an ancestor of HEAD: {fix}"
    assert behind <= asv_history.HANDFUL, (f"the newest recorded commit {commit[:12]} is {behind} first-parent "
                                           f"commits behind HEAD (at most {asv_history.HANDFUL}): {fix}")


#: how many consecutive commits of main have the timing benchmarks (issue 31's backfill: at least the last 10)
TIMED_RUN = 10


def test_the_timing_benchmarks_cover_ten_consecutive_commits_of_main_every_benchmark_with_all_its_values() -> None:
    """The backfill's timing points (``backfill --timing-last 10``): ten first-parent commits in a row, each with a
    value of every parameter set of every timing benchmark (speed, in-process ratios, CLI latency), so each timing
    graph of the dashboard has a line over them; a failed or skipped benchmark would leave a gap and fail here."""
    index = json.loads((asv_history.HISTORY / "benchmarks.json").read_text())
    timing = {name: b for name, b in index.items() if name != "version" and re.match(asv_history.TIMING, name)}
    sizes = {name: math.prod(len(p) for p in b["params"]) if b["params"] else 1 for name, b in timing.items()}
    assert len(timing) >= 13, sorted(timing)

    def complete(commit: str) -> bool:
        docs = [json.loads(p.read_text()) for p in asv_history.HISTORY.glob(f"vm/{commit[:8]}-*.json")]
        return bool(docs) and all(max(asv_history.values_in(d, name) for d in docs) == n for name, n in sizes.items())

    run, best = [], []
    for commit in asv_history.first_parent("HEAD"):
        run = run + [commit] if complete(commit) else []
        best = max(best, run, key=len)
    assert len(best) >= TIMED_RUN, (f"the longest run of consecutive commits with every timing value is "
                                    f"{len(best)} ({', '.join(c[:8] for c in best)})")


# ---------------------------------------------------------------------------- on constructed histories


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> tuple[Path, list[str]]:
    """A git repository with 8 commits on main, one day apart, and the script pointed at it."""
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q", "-b", "main")
    commits = []
    for i in range(8):
        (r / "lysep").mkdir(exist_ok=True)
        (r / "lysep" / "f.py").write_text(f"x = {i}\n")
        date = f"2026-01-{i + 1:02d}T12:00:00"
        subprocess.run(["git", "add", "-A"], cwd=r, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"c{i}"], cwd=r,
                       check=True, env={"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date, "PATH": "/usr/bin:/bin"})
        commits.append(_git(r, "rev-parse", "HEAD"))
    monkeypatch.setattr(asv_history, "ROOT", r)
    monkeypatch.setattr(asv_history, "HISTORY", r / "results" / "asv")
    return r, commits


def _recorded(repo: Path, commit: str) -> None:
    """A results file of ``commit`` as ``save`` files it (the date: the commit's, in ms, as asv records it)."""
    date = int(_git(repo, "log", "-1", "--format=%ct", commit)) * 1000
    path = repo / "results" / "asv" / "vm" / f"{commit[:8]}-lysep-py3.11.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"commit_hash": commit, "date": date, "env_name": "lysep-py3.11", "results": {}}))


def test_a_recording_a_few_commits_back_passes_and_an_old_one_fails(repo, capsys) -> None:
    r, commits = repo
    _recorded(r, commits[1])
    assert asv_history.newest_recorded() == (commits[1], True, 6)
    assert asv_history.status(argparse.Namespace()) == 1  # 6 > HANDFUL = 5: the recording was forgotten
    assert "6 first-parent commits behind HEAD" in capsys.readouterr().out
    _recorded(r, commits[6])
    assert asv_history.newest_recorded() == (commits[6], True, 1)
    assert asv_history.status(argparse.Namespace()) == 0
    _recorded(r, commits[7])
    assert asv_history.newest_recorded() == (commits[7], True, 0)


def test_a_newer_recording_off_heads_history_fails(repo) -> None:
    r, commits = repo
    _recorded(r, commits[7])
    _git(r, "checkout", "-q", "-b", "side", commits[3])
    (r / "lysep" / "g.py").write_text("y = 1\n")
    subprocess.run(["git", "add", "-A"], cwd=r, check=True)
    date = "2026-02-01T12:00:00"  # newer than every commit of main
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "side"], cwd=r, check=True,
                   env={"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date, "PATH": "/usr/bin:/bin"})
    side = _git(r, "rev-parse", "HEAD")
    _recorded(r, side)
    _git(r, "checkout", "-q", "main")
    assert asv_history.newest_recorded() == (side, False, None)  # recorded on a branch that main does not hold
    assert asv_history.status(argparse.Namespace()) == 1


def test_first_parent_counts_a_merged_branch_as_one_commit(repo) -> None:
    r, commits = repo
    _recorded(r, commits[7])
    _git(r, "checkout", "-q", "-b", "feature")
    for i in range(7):  # seven commits on a branch...
        (r / "lysep" / "f.py").write_text(f"z = {i}\n")
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", f"f{i}"], cwd=r,
                       check=True)
    _git(r, "checkout", "-q", "main")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "--no-ff", "-m", "merge",
                    "feature"], cwd=r, check=True)
    assert asv_history.newest_recorded() == (commits[7], True, 1)  # ...land on main as one merge
    assert asv_history.first_parent("main")[-2:] == [commits[7], _git(r, "rev-parse", "HEAD")]


def test_record_refuses_uncommitted_changes_to_what_is_measured(repo, capsys) -> None:
    r, _ = repo
    (r / "lysep" / "f.py").write_text("x = 'changed'\n")
    args = argparse.Namespace(allow_dirty=False, machine="vm", timing=False)
    assert asv_history.record(args) == 2
    assert "uncommitted changes in lysep/f.py" in capsys.readouterr().err


def test_backfill_lists_mains_first_parent_commits_oldest_first(capsys) -> None:
    """The real repository: every first-parent commit of HEAD that has no counted work recorded yet."""
    summary = ROOT / ".asv" / "no-such-summary.tsv"
    args = argparse.Namespace(branch="HEAD", since=None, commits=None, timing_last=3, force=True, dry_run=True,
                              summary=str(summary), machine="vm", limit=None)
    assert asv_history.backfill(args) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in out[1:]]
    expected = subprocess.run(["git", "rev-list", "--first-parent", "--reverse", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.split()
    assert listed == [c[:12] for c in expected]  # --force: all of them, the project's first commit first
    assert [line.split()[0] for line in out[1:] if "+timing" in line] == [c[:12] for c in expected[-3:]]


def test_save_files_results_under_the_historys_description_of_the_machine(tmp_path, monkeypatch) -> None:
    """A VM reports another kernel build and RAM size after a restart: saved points keep the history's
    description of the machine name, so asv draws them in the same graph as the earlier ones."""
    history, working = tmp_path / "history", tmp_path / "working"
    monkeypatch.setattr(asv_history, "HISTORY", history)
    monkeypatch.setattr(asv_history, "WORKING", working)
    described = {"arch": "x86_64", "cpu": "AMD EPYC", "machine": "vm", "num_cpu": "2", "os": "Linux 1", "ram": "10"}
    (history / "vm").mkdir(parents=True)
    (history / "vm" / "machine.json").write_text(json.dumps({**described, "version": 1}))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    (working / "vm").mkdir(parents=True)
    (working / "benchmarks.json").write_text("{}")
    (working / "vm" / "machine.json").write_text(json.dumps({**described, "os": "Linux 2", "ram": "11"}))
    doc = {"commit_hash": head, "env_name": "lysep-py3.11", "python": "3.11", "results": {},
           "params": {**described, "os": "Linux 2", "ram": "11", "python": "3.11"}}
    (working / "vm" / f"{head[:8]}-lysep-py3.11.json").write_text(json.dumps(doc))
    assert asv_history.save(argparse.Namespace(commits=["HEAD"], machine=None)) == 0
    saved = json.loads((history / "vm" / f"{head[:8]}-lysep-py3.11.json").read_text())
    assert saved["params"] == {**described, "python": "3.11"}
    assert json.loads((history / "vm" / "machine.json").read_text()) == {**described, "version": 1}  # kept
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / ".asv-machine.json").write_text(json.dumps({"version": 1, "other": {"machine": "other"},
                                                        "vm": {**described, "os": "Linux 2"}}))
    asv_history.ensure_machine("vm")  # the history's description replaces this machine's own for "vm"
    assert json.loads((home / ".asv-machine.json").read_text()) == {"version": 1, "other": {"machine": "other"},
                                                                      "vm": described}


ASV_OUTPUT = """\
[ 5.00%] ··· Setting up quality:83                                       failed
[ 5.00%] ···· Traceback (most recent call last):
                File "/x/analysis/metrics.py", line 29, in <module>
                  from lysep.methods.base import PROPERTY_COLUMNS
              ImportError: cannot import name 'PROPERTY_COLUMNS' from 'lysep.methods.base'
              asv: setup_cache failed (exit status 1)
[ 5.00%] ··· quality.LySepVsAdam.track_auc_log_ce skipped (setup_cache failed)
[45.00%] ··· Setting up tracking:102                                         ok
[50.00%] ··· tracking.Counts.track_flops                                     failed
[50.00%] ···· Traceback (most recent call last):
              AttributeError: 'State' object has no attribute 'record'
[55.00%] ··· tracking.Counts.track_syncs                                         ok
              ValueError: printed by a benchmark that passed
"""


def test_the_reason_of_each_failure_is_read_from_asvs_output() -> None:
    assert asv_history.failures(ASV_OUTPUT) == [
        "quality:83 failed: ImportError: cannot import name 'PROPERTY_COLUMNS' from 'lysep.methods.base'",
        "tracking.Counts.track_flops failed: AttributeError: 'State' object has no attribute 'record'"]


def test_a_later_skip_never_erases_a_recorded_value() -> None:
    cols = ["result", "params", "version"]
    old = {"result_columns": cols, "results": {
        "q.track_a": [[1.0, 2.0], [["'x'", "'y'"]], "old"],  # recorded by an earlier version of the benchmark
        "q.track_b": [[3.0], [["'x'"]], "old"],
        "q.track_gone": [[None], [["'x'"]], "old"]}}
    new = {"result_columns": cols, "results": {
        "q.track_a": [[float("nan"), None], [["'x'", "'y'"]], "new"],  # skipped at this commit now
        "q.track_b": [[4.0], [["'x'"]], "new"],  # measured again: the new value wins
        "q.track_c": [[5.0], [["'x'"]], "new"]}}
    kept = asv_history.kept_values(old, new)["results"]
    assert kept == {"q.track_a": old["results"]["q.track_a"], "q.track_b": new["results"]["q.track_b"],
                    "q.track_c": new["results"]["q.track_c"]}


def test_record_saves_heads_results_and_fails_when_a_count_has_no_value(repo, tmp_path, monkeypatch, capsys):
    """``record`` end to end with asv replaced by a fake that files HEAD's results as asv would."""
    r, commits = repo
    working = tmp_path / "working"
    monkeypatch.setattr(asv_history, "WORKING", working)
    monkeypatch.setattr(asv_history, "ensure_machine", lambda name: None)
    flops = {"value": None}
    calls = []

    def fake_run(commit, tree, bench, machine, log):
        calls.append((commit, Path(tree), bench, machine))
        (working / machine).mkdir(parents=True, exist_ok=True)
        (working / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
        (working / "benchmarks.json").write_text(json.dumps({"tracking.Counts.track_flops": {}, "version": 2}))
        doc = {"commit_hash": commit, "env_name": "lysep-py3.11", "python": "3.11", "params": {"machine": machine},
               "result_columns": ["result", "params", "version"],
               "results": {"tracking.Counts.track_flops": [[flops["value"]], [["'lysep'"]], "counts-1"],
                           "quality.LySepVsAdam.track_ce_at_10": [[0.5], [["'lysep'"]], "quality-1"]}}
        (working / machine / f"{commit[:8]}-lysep-py3.11.json").write_text(json.dumps(doc))
        return 0, ["Counts: a reason"] if flops["value"] is None else []

    monkeypatch.setattr(asv_history, "run_commit", fake_run)
    args = argparse.Namespace(allow_dirty=False, machine="vm", timing=False)
    assert asv_history.record(args) == 1  # the counts have no value at HEAD: a broken measurement, not a skip
    assert "no value at HEAD for tracking.Counts.track_flops: Counts: a reason" in capsys.readouterr().err
    assert calls == [(commits[-1], r, asv_history.DETERMINISTIC, "vm")]  # HEAD's own checkout, one torch thread
    flops["value"] = 1234.0
    assert asv_history.record(args) == 0
    saved = json.loads((r / "results" / "asv" / "vm" / f"{commits[-1][:8]}-lysep-py3.11.json").read_text())
    assert saved["results"]["tracking.Counts.track_flops"][0] == [1234.0]
    assert asv_history.newest_recorded() == (commits[-1], True, 0)


def test_a_benchmark_without_a_value_has_no_point_and_does_not_count_as_recorded(tmp_path, monkeypatch) -> None:
    """The backfill's failed benchmarks (no value at a commit) are dropped from the history's files, and ``_has``
    asks for a value: a file that still holds an empty entry does not make its commit 'recorded'."""
    cols = ["result", "params", "version"]
    doc = {"result_columns": cols, "results": {"tracking.Counts.track_flops": [[None, None], [["'a'", "'b'"]], "1"],
                                               "tracking.Counts.track_syncs": [[0.0, 1.0], [["'a'", "'b'"]], "1"]}}
    assert set(asv_history.with_values_only(doc)["results"]) == {"tracking.Counts.track_syncs"}
    monkeypatch.setattr(asv_history, "HISTORY", tmp_path)
    (tmp_path / "vm").mkdir()
    (tmp_path / "vm" / "abcdef12-lysep-py3.11.json").write_text(json.dumps(doc))
    assert asv_history._has("abcdef1234", r"^tracking\.Counts\.track_syncs$")
    assert not asv_history._has("abcdef1234", r"^tracking\.Counts\.track_flops$")


def test_publish_draws_the_committed_history_over_stale_working_copies(tmp_path, monkeypatch) -> None:
    history, working = tmp_path / "history", tmp_path / "working"
    for root, text in ((history, '{"fresh": 1}'), (working, '{"stale": 1}')):
        (root / "vm").mkdir(parents=True)
        (root / "vm" / "abcdef12-env.json").write_text(text)
    (working / "vm" / "local000-env.json").write_text('{"local": 1}')  # a commit only recorded here: kept
    monkeypatch.setattr(asv_history, "HISTORY", history)
    monkeypatch.setattr(asv_history, "WORKING", working)
    monkeypatch.setattr(asv_history, "HTML", tmp_path / "html")
    monkeypatch.setattr(asv_history.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0))
    monkeypatch.setattr(asv_history, "offline", lambda html: [])
    assert asv_history.publish(argparse.Namespace(asv_args=[])) == 0
    assert (working / "vm" / "abcdef12-env.json").read_text() == '{"fresh": 1}'
    assert (working / "vm" / "local000-env.json").read_text() == '{"local": 1}'


def _docs_only_commit(r: Path) -> str:
    (r / "docs").mkdir(exist_ok=True)
    (r / "docs" / "page.md").write_text("words\n")
    subprocess.run(["git", "add", "-A"], cwd=r, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "docs"], cwd=r, check=True)
    return _git(r, "rev-parse", "HEAD")


def _results(commit: str, date: int, flops: list) -> dict:
    columns = ["result", "params", "version"]
    return {"commit_hash": commit, "date": date, "env_name": "lysep-py3.11", "result_columns": columns,
            "durations": {"<build>": 0.1, "<setup_cache tracking:59>": 9.0},
            "results": {"tracking.Counts.track_flops": [flops, [["'lysep'"], ["3", "5"]], "counts-1"],
                        "speed.MethodStep.time_step": [[0.5, 0.7], [["'lysep'"], ["3", "5"]], "x"]}}


def test_a_commit_with_the_measured_trees_of_a_recorded_one_gets_its_values_filed(repo) -> None:
    """A docs-only commit measures the same code: the backfill files the recorded commit's deterministic values
    under its hash and date (not its timing values: those depend on the moment) instead of running asv again."""
    r, commits = repo
    docs = _docs_only_commit(r)
    assert asv_history.measured_tree(docs) == asv_history.measured_tree(commits[7])
    assert asv_history.measured_tree(commits[6]) != asv_history.measured_tree(commits[7])
    path = r / "results" / "asv" / "vm" / f"{commits[7][:8]}-lysep-py3.11.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_results(commits[7], 1, [16.0, None])))
    assert asv_history.refile(commits[7], docs) == 1
    doc = json.loads((path.parent / f"{docs[:8]}-lysep-py3.11.json").read_text())
    assert doc["commit_hash"] == docs and doc["date"] == int(_git(r, "log", "-1", "--format=%ct", docs)) * 1000
    assert list(doc["results"]) == ["tracking.Counts.track_flops"]
    assert doc["results"]["tracking.Counts.track_flops"][0] == [16.0, None]


def test_the_backfill_runs_each_measured_tree_once_and_says_which_commits_it_filed(repo, tmp_path, monkeypatch):
    r, commits = repo
    docs = _docs_only_commit(r)
    ran = []

    def fake_record(commit, tree, machine, timing, log, deterministic=True):
        ran.append(commit)
        date = int(_git(r, "log", "-1", "--format=%ct", commit)) * 1000
        path = r / "results" / "asv" / "vm" / f"{commit[:8]}-lysep-py3.11.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_results(commit, date, [float(len(ran)), 2.0])))
        return {"deterministic_values": 2, "timing_values": 0, "asv_exit": 0, "without_value": [], "skip_reasons": []}

    monkeypatch.setattr(asv_history, "record_one", fake_record)
    monkeypatch.setattr(asv_history, "ensure_machine", lambda machine: None)
    monkeypatch.setattr(asv_history, "WORKTREES", tmp_path / "worktrees")
    summary = tmp_path / "backfill.tsv"
    args = argparse.Namespace(branch="main", since=None, commits=[commits[6], commits[7], docs], timing_last=0,
                              force=False, dry_run=False, summary=str(summary), machine="vm", limit=None)
    assert asv_history.backfill(args) == 0
    assert ran == [commits[6], commits[7]]  # the docs-only commit was not run...
    line = summary.read_text().splitlines()[-1].split("\t")
    assert line[0] == docs[:12] and line[2] == "2"  # ...its values were filed, and the summary says from where
    assert f"same lysep/ and analysis/ trees as {commits[7][:12]}" in line[6]
    filed = json.loads((r / "results" / "asv" / "vm" / f"{docs[:8]}-lysep-py3.11.json").read_text())
    assert filed["results"]["tracking.Counts.track_flops"][0] == [2.0, 2.0]  # commits[7]'s values
    args.no_reuse, args.force = True, True
    ran.clear()
    assert asv_history.backfill(args) == 0
    assert ran == [commits[6], commits[7], docs]  # --no-reuse runs every commit


def test_another_process_waits_for_the_asv_folder_while_a_test_here_uses_it() -> None:
    """The lock of tests/conftest.py (these tests hold it): a second pytest-xdist process cannot take it meanwhile."""
    probe = "import fcntl, sys; fcntl.flock(open(sys.argv[1], 'w'), fcntl.LOCK_EX | fcntl.LOCK_NB)"
    proc = subprocess.run([sys.executable, "-c", probe, str(ROOT / ".asv" / "tests.lock")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "BlockingIOError" in proc.stderr, proc.stderr
