"""Reliability, faults of the machine: a write that fails (a full disk, an I/O error, a full quota) at every point
where `lysep run`, `lysep report`, `lysep tune`, `lysep track` and `lysep data fetch` write. Each ends with exit 1
and one message naming the file, the errno and what is safe, leaves no partial file where a whole one is expected,
releases the results directory's lock, and the rerun after freeing space completes without computing stored runs
again.

The fault is injected in ``lysep.harness.store._write_fd`` (every atomic write of the store, the reports, the
tuned specs, tune.json and track's files goes through it: half the bytes reach the temporary file, then the
write raises) and in the ``open`` of ``lysep.datasets.fetch`` (a download's ``.part`` file). ``FAULTS`` is the
table of docs/reliability.md's "Faults of the machine": each row is what its test injects and checks, and
``test_the_docs_table_is_the_one_the_tests_check`` compares the two (``python tests/test_reliability_disk.py``
prints it).
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from datafiles import idx_arrays, publish, write_idx_set
from test_datafiles import RangeHandler
from test_reliability_crash import Killed, check_complete, check_readable, write_spec

import lysep.datasets.fetch as fetch_mod
import lysep.harness.runner as runner
import lysep.harness.store as store_mod
from lysep.commands.main import main
from lysep.harness.store import ResultsStore

from helpers import fake_measure, git_repo

#: the faults injected, in turn: a full disk, an I/O error, a full quota
ERRNOS = (errno.ENOSPC, errno.EIO, errno.EDQUOT)
FAULT = "a write fails: " + ", ".join(errno.errorcode[e] for e in ERRNOS) + " in turn"

#: the table of docs/reliability.md, "Faults of the machine": each test asserts its row's ``says`` (with N the
#: number of runs stored, DIR the directory, NAME the data set) in the error line and checks its ``kept``
FAULTS = {
    "sweep": {
        "where": "`lysep run`: every write of the sweep (parameters, decision grids, parts, both tables, "
                 "meta.json)",
        "says": "N runs are stored in DIR; free space and rerun the same command to compute the rest",
        "kept": "every run stored before the failing write, whole; the rerun computes only the others",
    },
    "report": {
        "where": "the report (`lysep run` and `lysep report`): the first CSV table, figure, report.md and "
                 "report.html",
        "says": "N runs are stored in DIR; free space and run `lysep report DIR`",
        "kept": "every run and every table or figure written before it, whole; `lysep run` again computes nothing",
    },
    "tune": {
        "where": "`lysep tune`: every write of its sweep, the tuned spec and tune.json",
        "says": "N trial runs are stored in DIR; free space and rerun the same command",
        "kept": "every trial run stored before it; the rerun writes the same tuned spec as a tune never interrupted",
    },
    "track": {
        "where": "`lysep track`: the base's and the working tree's measurements.json, the base's environment.json, "
                 "the three CSV tables, track.md and track.html",
        "says": "a whole base measurement stays cached (a partial one is measured again); free space and rerun "
                "the same command",
        "kept": "a base measurement whose environment.json was written; a partial one is measured again",
    },
    "fetch": {
        "where": "`lysep data fetch`: the download's `.part` file, after some of its bytes",
        "says": "the bytes of the download so far (its .part file) are kept; free space and rerun "
                "`lysep data fetch NAME` to resume",
        "kept": "the files already verified and the `.part` file; the rerun asks the server for the rest only",
    },
}


def faults_table() -> str:
    """``FAULTS`` as the Markdown table of docs/reliability.md."""
    lines = ["| fault | where injected | what the user sees (exit 1) | what is kept |", "|---|---|---|---|"]
    for row in FAULTS.values():
        sees = f"`lysep: error: FILE: cannot be written (ERRNO: ...); {row['says'].replace('`', '')}`"
        lines.append(f"| {FAULT} | {row['where']} | {sees} | {row['kept']} |")
    return "\n".join(lines)


def says(key: str, n: int | None = None, folder: Path | None = None, name: str = "") -> str:
    return FAULTS[key]["says"].replace("N ", f"{n} ").replace("DIR", str(folder)).replace("NAME", name)


def test_the_docs_table_is_the_one_the_tests_check() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()
    assert faults_table() in doc, "docs/reliability.md: paste `python tests/test_reliability_disk.py`"


# ---------------------------------------------------------------------------- the injection


def target_of(fd: int) -> Path:
    """The file an atomic write's temporary file (``.NAME.XXXXXXXX.tmp``) will become."""
    tmp = Path(os.readlink(f"/proc/self/fd/{fd}"))
    return tmp.parent / tmp.name[1:].rsplit(".", 2)[0]


def fail_write(monkeypatch: pytest.MonkeyPatch, n: int, code: int, seen: list[Path],
               when: object = None) -> None:
    """Make the ``n``-th atomic write (counting those whose target ``when(path)`` accepts) write half its bytes
    and raise OSError(``code``); ``seen`` collects the targets counted."""
    real = store_mod._write_fd

    def write(fd: int, data: bytes) -> None:
        target = target_of(fd)
        if when is None or when(target):
            seen.append(target)
            if len(seen) == n:
                os.write(fd, data[: len(data) // 2])
                os.close(fd)
                raise OSError(code, os.strerror(code))
        real(fd, data)

    monkeypatch.setattr(store_mod, "_write_fd", write)


def one_error(err: str, path: Path, code: int) -> str:
    """The one error line of ``err``; it names ``path`` and the errno."""
    lines = [line for line in err.splitlines() if line.startswith("lysep: error:")]
    assert len(lines) == 1, err
    assert f"{path}: cannot be written ({errno.errorcode[code]}: {os.strerror(code)})" in lines[0], lines[0]
    assert "Traceback" not in err
    return lines[0]


def lock_is_free(out: Path) -> bool:
    with ResultsStore(out).lock():  # StoreError if the failed command still held it
        return True


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, reference results) of a one-cell sweep: 2 methods x 2 seeds, 3 iterations; with its report."""
    folder = tmp_path_factory.mktemp("tiny")
    spec = write_spec(folder)
    assert main(["run", str(spec), "--out", str(folder / "reference"), "--quiet"]) == 0
    return spec, folder / "reference"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def computing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the runs that are computed (seeds of the units run) from now on."""
    computed: list[int] = []
    real = runner.run_unit
    monkeypatch.setattr(runner, "run_unit", lambda *a, **k: computed.append(len(a[2].seeds)) or real(*a, **k))
    return computed


# ---------------------------------------------------------------------------- lysep run: the sweep


def test_a_failing_write_at_every_point_of_the_sweep_is_exit_1_and_the_rerun_computes_only_the_rest(
        tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    spec, reference = tiny
    n, points = 0, set()
    while True:
        n += 1
        out, code, seen = tmp_path / f"f{n}", ERRNOS[n % len(ERRNOS)], []
        with monkeypatch.context() as m:
            fail_write(m, n, code, seen)
            rc = main(["run", str(spec), "--out", str(out), "--quiet", "--no-report"])
        err = capsys.readouterr().err
        if len(seen) < n:  # the sweep has fewer writes than n
            assert rc == 0, err
            break
        assert rc == 1, err
        points.add(seen[-1].parent.name if seen[-1].parent != out else seen[-1].name)
        assert not seen[-1].exists()  # no partial file under the name of a whole one
        stored = len(ResultsStore(out).completed_hashes())
        line = one_error(err, seen[-1], code)
        assert says("sweep", stored, out) in line
        assert not list(out.rglob("*.tmp"))  # the half-written temporary file is gone
        check_readable(out)  # and every file there is whole
        assert lock_is_free(out)
        with monkeypatch.context() as m:
            computed = computing(m)
            assert main(["run", str(spec), "--out", str(out), "--quiet", "--no-report"]) == 0
        assert sum(computed) == 4 - stored  # nothing stored is computed again
        check_complete(out, reference, n_runs=4)
    assert {"params", "decision", "parts", "traces.parquet", "runs.parquet", "meta.json"} <= points, points


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_write_refused_for_permission_or_a_read_only_file_system_stays_bad_input(
        tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, code: int) -> None:
    """EACCES and EROFS are the user's to fix (exit 2, as a read-only results directory), not a fault of the
    machine; the temporary file goes all the same."""
    spec, _ = tiny
    out = tmp_path / "out"
    fail_write(monkeypatch, 1, code, [])
    assert main(["run", str(spec), "--out", str(out), "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write the results ([Errno {code}] {os.strerror(code)})" in err and str(out) in err
    assert not list(out.rglob("*.tmp")) and lock_is_free(out)


# ---------------------------------------------------------------------------- the report


def in_report(path: Path) -> bool:
    return path.name.startswith("report.") or path.parent.name in ("figures", "tables")


def report_writes(reference: Path, tmp_path: Path) -> list[Path]:
    """The files the report of ``reference`` writes, in order (relative to the results directory)."""
    seen: list[Path] = []
    copy = copy_store(reference, tmp_path / "enumerate")
    with pytest.MonkeyPatch.context() as m:
        fail_write(m, 0, errno.ENOSPC, seen, in_report)
        assert main(["report", str(copy)]) == 0
    return [p.relative_to(copy) for p in seen]


def copy_store(reference: Path, out: Path) -> Path:
    """The runs of ``reference`` without its report."""
    out.mkdir(parents=True)
    for path in reference.rglob("*"):
        rel = path.relative_to(reference)
        if path.is_file() and rel.parts[0] not in ("figures", "tables") and not rel.name.startswith("report"):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(path.read_bytes())
    return out


def whole_report_files(out: Path) -> None:
    """No temporary file, every figure a whole PNG, every table a readable CSV."""
    assert not list(out.rglob("*.tmp"))
    for png in out.glob("figures/*.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[-12:-4] == b"\x00\x00\x00\x00IEND", png
    for csv in out.glob("tables/*.csv"):
        pd.read_csv(csv)


def test_a_failing_write_in_the_report_is_exit_1_naming_the_file_and_lysep_report(
        tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    spec, reference = tiny
    writes = report_writes(reference, tmp_path)
    first = {}
    for i, rel in enumerate(writes, start=1):
        first.setdefault(rel.suffix, i)
    assert set(first) == {".csv", ".png", ".md", ".html"}, writes
    for k, (suffix, n) in enumerate(sorted(first.items())):
        code = ERRNOS[k % len(ERRNOS)]
        out = copy_store(reference, tmp_path / f"r{suffix[1:]}")
        seen: list[Path] = []
        with monkeypatch.context() as m:
            fail_write(m, n, code, seen, in_report)
            computed = computing(m)
            if suffix == ".png":  # the user's case: `lysep run` whose runs are stored computes nothing, then reports
                rc = main(["run", str(spec), "--out", str(out), "--quiet"])
                assert not computed
            else:
                rc = main(["report", str(out)])
        err = capsys.readouterr().err
        assert rc == 1, err
        line = one_error(err, out / writes[n - 1], code)
        assert says("report", 4, out) in line
        assert not (out / writes[n - 1]).exists()
        whole_report_files(out)
        assert lock_is_free(out)
        assert main(["report", str(out)]) == 0
        whole_report_files(out)
        assert {p.relative_to(out) for p in out.rglob("*") if p.is_file()} >= set(writes)


# ---------------------------------------------------------------------------- lysep tune

TUNE = """
name = "tinytune"
[data]
dataset = "circle"
n_train = 80
n_test = 40
[model]
activation = "tanh"
dtype = "float64"
[grid]
depth = [1]
width = [4]
seeds = 2
[budget]
iterations = 3
eval_every = 3
[tune]
trials = 1
seeds = 2
first_seed = 50
qmc_seed = 3
[[method]]
name = "adam"
[[method]]
label = "sgd-plain"
name = "sgd"
momentum = 0.0
"""


def tune(spec: Path, out: Path) -> int:
    return main(["tune", str(spec), "--out", str(out), "--quiet", "--no-report"])


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, the store of an uninterrupted tune)."""
    folder = tmp_path_factory.mktemp("tune")
    spec = folder / "tinytune.toml"
    spec.write_text(TUNE)
    assert tune(spec, folder / "reference") == 0
    return spec, folder / "reference"


def same_tune(out: Path, reference: Path) -> None:
    assert (out / "tuned.toml").read_text() == (reference / "tuned.toml").read_text()
    a, b = (json.loads((d / "tune.json").read_text()) for d in (out, reference))
    assert a["winners"] == b["winners"] and a["scores"] == b["scores"]
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs.config_hash.is_unique and len(runs) == len(pd.read_parquet(reference / "runs.parquet"))
    assert not list(out.rglob("*.tmp"))


def test_a_failing_write_at_every_point_of_tune_is_exit_1_and_the_rerun_gives_the_same_tuned_spec(
        tuned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    spec, reference = tuned
    n_runs = len(pd.read_parquet(reference / "runs.parquet"))
    n, points = 0, set()
    while True:
        n += 1
        out, code, seen = tmp_path / f"t{n}", ERRNOS[n % len(ERRNOS)], []
        with monkeypatch.context() as m:
            fail_write(m, n, code, seen)
            rc = tune(spec, out)
        err = capsys.readouterr().err
        if len(seen) < n:
            assert rc == 0, err
            break
        assert rc == 1, err
        points.add(seen[-1].name)
        stored = len(ResultsStore(out).completed_hashes())
        assert says("tune", stored, out) in one_error(err, seen[-1], code)
        assert not seen[-1].exists()
        assert lock_is_free(out)
        with monkeypatch.context() as m:
            computed = computing(m)
            assert tune(spec, out) == 0
        assert sum(computed) == n_runs - stored
        same_tune(out, reference)
    assert {"tuned.toml", "tune.json", "meta.json", "runs.parquet"} <= points, points


def test_a_tune_killed_at_every_file_system_change_resumes_to_the_same_tuned_spec(
        tuned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, reference = tuned
    n = 0
    while True:
        n += 1
        out, count = tmp_path / f"k{n}", {"i": 0}
        real_write, real_unlink = store_mod.atomic_write, Path.unlink

        def tick() -> bool:
            count["i"] += 1
            return count["i"] == n

        def write(path: Path, data: bytes) -> None:
            if tick():
                raise Killed
            real_write(path, data)

        def unlink(self: Path, missing_ok: bool = False, out: Path = out) -> None:
            if out in self.parents and tick():
                raise Killed
            real_unlink(self, missing_ok=missing_ok)

        killed = False
        with monkeypatch.context() as m:
            m.setattr(store_mod, "atomic_write", write)
            m.setattr(Path, "unlink", unlink)
            try:
                assert tune(spec, out) == 0
            except Killed:
                killed = True
        if not killed:
            break
        assert tune(spec, out) == 0
        same_tune(out, reference)
    assert n > 8


# ---------------------------------------------------------------------------- lysep track


@pytest.fixture
def track_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``lysep track`` pointed at a repository of its own (never the project's), its cache in tmp_path, measuring
    faked; yields (track module, the trees measured)."""
    from lysep.measure import track

    repo = git_repo(tmp_path / "repo")
    monkeypatch.setenv("LYSEP_TRACK_REPO", str(repo))
    monkeypatch.setenv("LYSEP_CACHE", str(tmp_path / "cache"))
    calls: list[Path] = []
    monkeypatch.setattr(track, "measure", fake_measure(calls))
    monkeypatch.setattr(track, "compare_dirs", lambda *a: (pd.DataFrame({"verdict": [], "regression": []}), None))
    return track, calls


def test_a_failing_write_at_every_point_of_track_is_exit_1_and_the_rerun_measures_only_what_was_lost(
        track_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import argparse

    from lysep.commands import track as track_cmd

    track, calls = track_repo
    args = argparse.Namespace(base="HEAD", out=str(tmp_path / "out"), alpha=0.05, fresh=False)
    n, points = 0, []
    while True:
        n += 1
        code, seen = ERRNOS[n % len(ERRNOS)], []
        for folder in (track.cache_root(), tmp_path / "out"):
            remove_tree(folder)
        with monkeypatch.context() as m:
            fail_write(m, n, code, seen)
            rc = track_cmd.track_command(args)
        err = capsys.readouterr().err
        if len(seen) < n:
            assert rc == 0, err
            break
        assert rc == 1, err
        points.append(seen[-1].name)
        assert says("track") in one_error(err, seen[-1], code)
        assert not list(tmp_path.rglob("*.tmp"))
        calls.clear()
        assert track_cmd.track_command(args) == 0
        in_cache = track.cache_root() in seen[-1].parents  # the base's measurement was not finished
        assert any("worktrees" in str(c) for c in calls) == in_cache, (seen[-1], calls)
        assert ("is partial" in capsys.readouterr().err) == in_cache
    assert sorted(set(points)) == sorted({"measurements.json", "environment.json", "track_counters.csv",
                                          "track_ratios.csv", "track_quality.csv", "track.md", "track.html"})


def test_a_full_disk_in_the_base_measurement_subprocess_is_a_refused_write_not_bad_input(tmp_path: Path) -> None:
    """The quality run of a side is a `lysep run` subprocess: its exit 1 for a refused write reaches `lysep track`
    as the OSError (exit 1 there too), not as a TrackError (exit 2)."""
    from lysep.commands.common import machine_fault
    from lysep.measure import track

    line = f"lysep: error: {tmp_path}/q/runs.parquet: cannot be written (EDQUOT: Disk quota exceeded); 3 runs are"
    say = ["-c", f"import sys; sys.stderr.write({line!r} + ' stored\\n'); sys.exit(1)"]
    with pytest.raises(OSError) as refused:
        track.run_python(tmp_path, say, lambda *_: None)
    assert refused.value.errno == errno.EDQUOT and refused.value.filename == f"{tmp_path}/q/runs.parquet"
    assert machine_fault(refused.value) and not isinstance(refused.value, track.TrackError)
    with pytest.raises(track.TrackError, match="exit 1"):  # runs that failed stay the side's failure
        track.run_python(tmp_path, ["-c", "import sys; sys.exit(1)"], lambda *_: None)


def remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=os.environ["LYSEP_TRACK_REPO"], capture_output=True)


# ---------------------------------------------------------------------------- track's cache that can be wrong


def _environment(cache: Path, **changes) -> None:
    path = cache / "environment.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


#: damage done to the base's cache (cache: its measurements, tree: its worktree) and what `lysep track` then says
CACHE_DAMAGE = {
    "a table of the quality store deleted": (lambda cache, tree: (cache / "quality" / "traces.parquet").unlink(),
                                             "is partial (quality/traces.parquet missing)"),
    "environment.json deleted": (lambda cache, tree: (cache / "environment.json").unlink(),
                                 "is partial (environment.json missing)"),
    "measurements.json not JSON": (lambda cache, tree: (cache / "measurements.json").write_text('{"counters": ['),
                                   "is corrupt ("),
    "measurements.json without ratios": (lambda cache, tree: (cache / "measurements.json").write_text('{"a": 1}'),
                                         "is corrupt (measurements.json has no counters and ratios lists)"),
    "runs.parquet truncated": (lambda cache, tree: _truncate(cache / "quality" / "runs.parquet"),
                               "runs.parquet: cannot be read as Parquet"),
    "measured with another torch": (lambda cache, tree: _environment(cache, torch="0.1"),
                                    "is from another environment (torch 0.1 then, "),
    "measured on another machine": (lambda cache, tree: _environment(cache, machine="vax"),
                                    "is from another environment (machine vax then, "),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_a_base_cache_that_is_partial_corrupt_or_from_another_environment_is_measured_again(
        track_repo, tmp_path: Path, capsys, damage: str) -> None:
    import argparse

    from lysep.commands import track as track_cmd

    track, calls = track_repo
    args = argparse.Namespace(base="HEAD", out=str(tmp_path / "out"), alpha=0.05, fresh=False)
    assert track_cmd.track_command(args) == 0
    commit = track.resolve("HEAD")
    cache, tree = track.cache_root() / commit, track.cache_root() / "worktrees" / commit[:12]
    assert calls[0] == tree
    calls.clear()
    assert track_cmd.track_command(args) == 0 and tree not in calls  # whole: read from the cache
    assert "measurements cached in" in capsys.readouterr().err
    do, said = CACHE_DAMAGE[damage]
    do(cache, tree)
    assert track_cmd.track_command(args) == 0
    err = capsys.readouterr().err
    assert f"the cache in {cache} " in err and said in err and "measuring again" in err, err
    assert calls.count(tree) == 1  # measured again
    assert track.cache_problem(cache) is None  # and whole again: the next run reads it
    calls.clear()
    assert track_cmd.track_command(args) == 0 and tree not in calls


def test_a_change_of_the_measuring_code_makes_the_base_cache_stale(track_repo, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    import argparse

    from lysep.commands import track as track_cmd

    track, calls = track_repo
    args = argparse.Namespace(base="HEAD", out=str(tmp_path / "out"), alpha=0.05, fresh=False)
    assert track_cmd.track_command(args) == 0
    monkeypatch.setattr(track, "COUNT_PROBES", (*track.COUNT_PROBES, {"cells": [[1, 1]]}))
    calls.clear()
    assert track_cmd.track_command(args) == 0
    assert "is from another environment (measuring code " in capsys.readouterr().err
    assert len(calls) == 2  # the base and the working tree


@pytest.mark.parametrize("damage,said", [("a tracked file deleted", "changed (1 files differ from the commit)"),
                                         ("lysep/ deleted", "partial (no lysep/ in it)"),
                                         ("another commit checked out", "at commit ")])
def test_a_base_worktree_that_is_no_longer_a_clean_checkout_is_made_again(track_repo, tmp_path: Path, capsys,
                                                                         damage: str, said: str) -> None:
    import argparse
    import shutil

    from lysep.commands import track as track_cmd

    track, calls = track_repo
    args = argparse.Namespace(base="HEAD", out=str(tmp_path / "out"), alpha=0.05, fresh=True)
    assert track_cmd.track_command(args) == 0
    commit = track.resolve("HEAD")
    tree = track.cache_root() / "worktrees" / commit[:12]
    if damage == "a tracked file deleted":
        (tree / "lysep" / "__init__.py").unlink()
    elif damage == "lysep/ deleted":
        shutil.rmtree(tree / "lysep")
    else:
        (tree / "lysep" / "more.py").write_text("")
        for cmd in (["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "two"]):
            subprocess.run(["git", *cmd], cwd=tree, check=True, capture_output=True)
    capsys.readouterr()
    assert track_cmd.track_command(args) == 0  # --fresh: the base is measured again, in its worktree
    err = capsys.readouterr().err
    assert f"base worktree {tree} is {said}" in err and f"checking {commit[:12]} out again" in err, err
    assert track.tree_problem(tree, commit) is None and (tree / "lysep" / "__init__.py").is_file()


def test_the_session_guard_sees_a_worktree_registered_in_the_temporary_folders(tmp_path: Path) -> None:
    """conftest's check at the end of the session (the project's repository left alone), on a repository of its own."""
    from conftest import git_changes, git_state

    repo = git_repo(tmp_path / "repo")
    before = git_state(repo)
    subprocess.run(["git", "worktree", "add", "--detach", str(tmp_path / "wt"), "HEAD"], cwd=repo, check=True,
                   capture_output=True)
    after = git_state(repo)
    assert git_changes(before, after, [tmp_path.resolve()]) == [f"a worktree was registered at "
                                                                f"{(tmp_path / 'wt').resolve()}"]
    assert git_changes(before, after, [tmp_path.resolve() / "elsewhere"]) == []  # another checkout's worktree
    assert git_changes(before, before, [tmp_path.resolve()]) == [] and git_state(tmp_path / "wt") is not None


# ---------------------------------------------------------------------------- lysep data fetch


@pytest.fixture
def file_server(tmp_path):
    """A loopback file server of ``tmp_path / "served"`` (test_datafiles.RangeHandler: honours Range requests)."""
    import http.server
    import threading

    files = tmp_path / "served"
    files.mkdir()
    handler = lambda *a, **k: RangeHandler(*a, directory=str(files), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield files, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class FullDisk:
    """An unbuffered file that accepts ``room`` bytes, then refuses with ``code`` (the disk filled up)."""

    def __init__(self, f, room: int, code: int) -> None:
        self.f, self.room, self.code = f, room, code

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(self.code, os.strerror(self.code))
        n = self.f.write(bytes(data[: self.room]))
        self.room -= n
        return n

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_a_download_that_fills_the_disk_is_exit_1_and_the_rerun_resumes(tmp_path, monkeypatch, capsys,
                                                                         file_server) -> None:
    served, url = file_server
    write_idx_set(served.parent / "gen", "mnist", idx_arrays(300, 10))
    for f in (served.parent / "gen" / "mnist").iterdir():
        (served / f.name).write_bytes(f.read_bytes())
    publish(monkeypatch, served.parent / "gen")
    root = tmp_path / "root"
    fetch = ["data", "fetch", "mnist", "--root", str(root), "--mirror", url, "--quiet"]
    opened: list[Path] = []

    def full_open(path, mode="r", buffering=-1):
        opened.append(Path(path))
        room = 0 if len(opened) == 3 else 1 << 30  # the third file: the disk is full after 700 bytes of it
        return FullDisk(builtins.open(path, mode, buffering=buffering), 700 if room == 0 else room, errno.ENOSPC)

    with monkeypatch.context() as m:
        m.setattr(fetch_mod, "open", full_open, raising=False)
        rc = main(fetch)
    err = capsys.readouterr().err
    part = opened[2]
    assert rc == 1, err
    assert says("fetch", name="mnist") in one_error(err, part, errno.ENOSPC)
    assert part.name.endswith(".part") and part.stat().st_size == 700
    target = part.with_name(part.name.removesuffix(".part"))
    assert not target.exists()  # never a partial file under the data set's own name
    assert all((root / "mnist" / p.name.removesuffix(".part")).is_file() for p in opened[:2])
    RangeHandler.ranges.clear()
    assert main(fetch) == 0
    assert RangeHandler.ranges == ["bytes=700-"]  # the rerun asks for the rest only
    for f in served.iterdir():
        assert (root / "mnist" / f.name).read_bytes() == f.read_bytes()


def test_a_data_file_whose_checksum_no_longer_matches_is_downloaded_again_and_replaced(tmp_path, monkeypatch,
                                                                                      capsys, file_server) -> None:
    served, url = file_server
    write_idx_set(served.parent / "gen", "mnist", idx_arrays(300, 10))
    for f in (served.parent / "gen" / "mnist").iterdir():
        (served / f.name).write_bytes(f.read_bytes())
    publish(monkeypatch, served.parent / "gen")
    root = tmp_path / "root"
    fetch = ["data", "fetch", "mnist", "--root", str(root), "--mirror", url, "--quiet"]
    assert main(fetch) == 0
    damaged = root / "mnist" / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-5] + b"xxxxx")
    capsys.readouterr()
    assert main(fetch) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{re.escape(str(damaged))}: replaced the file there \(md5 [0-9a-f]{{32}}\), downloaded, "
                     r"md5 checksum verified", out), out
    assert out.count("present") == 3
    assert damaged.read_bytes() == (served / damaged.name).read_bytes()


if __name__ == "__main__":
    print(faults_table())
