"""Reliability, crash safety: a sweep killed at any moment, rerun, stores every run exactly once and
equal to an uninterrupted one; damaged files are named and --repair recomputes what they held."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import lysep.harness.store as store_mod
from lysep.commands.main import main
from lysep.harness.plan import plan
from lysep.harness.runner import run_unit, store_unit
from lysep.harness.spec import load_spec
from lysep.harness.store import ResultsStore, StoreError, load_arrays, load_npz, read_json

from helpers import no_time

SPEC = """
name = "crash"
[data]
dataset = "circle"
n_train = 200
n_test = 100
[model]
activation = "tanh"
dtype = "float64"
[grid]
depth = {depth}
width = [4]
seeds = 2
[budget]
iterations = {iterations}
eval_every = 5
[[method]]
name = "lysep"
[[method]]
name = "adam"
lr = 0.01
{more}
"""
SGD = '[[method]]\nname = "sgd"\nlr = 0.05\nbatch_size = 50\n'


def write_spec(folder: Path, depth: str = "[2]", iterations: int = 3, more: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crash.toml"
    path.write_text(SPEC.format(depth=depth, iterations=iterations, more=more))
    return path


def run(spec: Path, out: Path, *args: str) -> int:
    return main(["run", str(spec), "--out", str(out), "--quiet", "--no-report", *args])



def check_readable(out: Path) -> int:
    """Every file a sweep left (but its temporary files and lock) is whole; returns how many were checked."""
    n = 0
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name.endswith(".tmp") or path.name == store_mod.LOCK_NAME:
            continue
        if path.parent.name == "parts":
            ResultsStore(out).read_part(path)
        elif path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".safetensors":
            load_arrays(path)
        elif path.suffix == ".npz":
            load_npz(path)
        elif path.suffix == ".json":
            read_json(path)
        else:
            raise AssertionError(f"unexpected file {path}")
        n += 1
    return n


def check_complete(out: Path, reference: Path, n_runs: int, exact: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every run exactly once, nothing half-written left, traces and runs equal to the reference (but wall_time).

    ``exact=False`` where some seeds were recomputed alone rather than in their original batch (equal to rounding).
    """
    traces, runs = pd.read_parquet(out / "traces.parquet"), pd.read_parquet(out / "runs.parquet")
    assert len(runs) == n_runs and runs.config_hash.is_unique
    assert set(runs.status) <= {"completed", "diverged"}
    assert not traces.duplicated(["config_hash", "iteration"]).any()
    assert set(traces.config_hash) == set(runs.config_hash)
    assert not list(out.rglob("*.tmp")) and not list(out.glob("parts/*"))
    assert len(list((out / "params").glob("*.safetensors"))) == n_runs
    check_readable(out)
    ref_traces, ref_runs = pd.read_parquet(reference / "traces.parquet"), pd.read_parquet(reference / "runs.parquet")
    tol = {} if exact else {"check_exact": False, "rtol": 0, "atol": 1e-10}
    pd.testing.assert_frame_equal(no_time(traces), no_time(ref_traces), **tol)
    pd.testing.assert_frame_equal(no_time(runs), no_time(ref_runs), **tol)
    return traces, runs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, reference results) of a one-cell sweep: 2 methods x 2 seeds, 3 iterations."""
    folder = tmp_path_factory.mktemp("tiny")
    spec = write_spec(folder)
    assert run(spec, folder / "reference") == 0
    return spec, folder / "reference"



@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread in this process, as in the subprocesses: on a loaded 2-core machine two threads
    per process are many times slower, and the thread count is then fixed for the exact comparisons."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

# ---------------------------------------------------------------------------- real kills


def wait_for_sweep(proc: subprocess.Popen, out: Path, timeout: float = 120.0) -> bool:
    """Wait until ``proc`` holds the results directory's lock (imports done, data checked); False if it ended."""
    lock, deadline = out / store_mod.LOCK_NAME, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if lock.read_text().strip() == str(proc.pid):
                return True
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError("the sweep did not start")


def test_sigkill_at_ten_random_moments_then_rerun_stores_every_run_once(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, depth="[2, 3]", iterations=60, more=SGD)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "lysep", "run", str(spec), "--out", str(out), "--quiet", "--no-report"]
    rng = random.Random(9)
    kills, attempts, stored = 0, 0, []
    while kills < 10 and attempts < 30:
        attempts += 1
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if wait_for_sweep(proc, out):  # a random moment of the sweep itself (not of Python's start-up)
            time.sleep(rng.uniform(0.0, 1.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        assert proc.wait() in (0, -signal.SIGKILL)
        check_readable(out)  # a kill leaves only whole files
        stored.append(len(ResultsStore(out).completed_hashes()))
    assert kills == 10, f"only {kills} of {attempts} attempts hit a running sweep"
    assert stored[0] < 12  # the first kill interrupted the computation itself
    assert subprocess.run(cmd, capture_output=True, env=env).returncode == 0
    assert run(spec, fresh) == 0
    check_complete(out, fresh, n_runs=2 * 3 * 2)


# ---------------------------------------------------------------------------- a kill at every write


class Killed(BaseException):
    """What a SIGKILL does to the Python code: nothing after it runs (no except Exception catches it)."""


def run_killed_at(spec: Path, out: Path, n: int, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run the sweep in-process, killed at its n-th file-system change; False if it has fewer than n."""
    count = {"i": 0}
    real_write, real_unlink = store_mod.atomic_write, Path.unlink

    def tick() -> bool:
        count["i"] += 1
        return count["i"] == n

    def write(path: Path, data: bytes) -> None:
        if tick():  # killed in the middle of writing: half the bytes in a temporary file, never renamed
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / f".{path.name}.killed.tmp").write_bytes(data[: len(data) // 2])
            raise Killed
        real_write(path, data)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if out in self.parents and tick():
            raise Killed
        real_unlink(self, missing_ok=missing_ok)

    with monkeypatch.context() as m:
        m.setattr(store_mod, "atomic_write", write)
        m.setattr(Path, "unlink", unlink)
        try:
            assert run(spec, out) == 0
        except Killed:
            return True
    return False


def test_a_kill_at_every_file_system_change_then_rerun_stores_every_run_once(tiny, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec, reference = tiny
    n = 0
    while True:
        n += 1
        out = tmp_path / f"k{n}"
        if not run_killed_at(spec, out, n, monkeypatch):
            break
        check_readable(out)
        if n % 2:  # and a second kill, at a later change, during the recovery
            run_killed_at(spec, out, n + 1, monkeypatch)
            check_readable(out)
        assert run(spec, out) == 0
        check_complete(out, reference, n_runs=4)
    assert n > 10  # params, decision grids, parts, both tables, the parts' removal, meta.json


# ---------------------------------------------------------------------------- damaged files


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_part_is_named_and_repair_recomputes_it(tiny, tmp_path: Path, capsys) -> None:
    spec_path, reference = tiny
    spec, out = load_spec(spec_path), tmp_path / "out"
    unit = plan(spec, set())[0]
    store_unit(ResultsStore(out), unit, run_unit(spec.to_dict(), spec.source, unit))
    (part,) = (out / "parts").glob("*.parquet")
    truncate(part)
    assert run(spec_path, out) == 2
    err = capsys.readouterr().err
    assert part.name in err and "--repair" in err
    assert run(spec_path, out, "--repair") == 0
    assert f"repair: dropped {part}" in capsys.readouterr().err
    check_complete(out, reference, n_runs=4)


def test_truncated_params_and_decision_grid_are_repaired_with_their_runs(tiny, tmp_path: Path, capsys) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    assert run(spec, out) == 0
    params = sorted((out / "params").glob("*.safetensors"))
    before = {p.name: load_arrays(p) for p in params}
    damaged = out / "params" / "lysep_d2_w4_s1.safetensors"
    truncate(damaged)
    truncate(out / "decision" / "adam_d2_w4.npz")
    with pytest.raises(StoreError, match="safetensors"):
        load_arrays(damaged)
    assert run(spec, out) == 0  # the tables are whole: a plain rerun has nothing to do
    assert "0 runs computed, 4 already stored" in capsys.readouterr().out
    assert run(spec, out, "--repair") == 0
    captured = capsys.readouterr()
    for name in (damaged.name, "adam_d2_w4.npz", "2 runs whose files were unreadable"):
        assert name in captured.err
    assert "2 runs computed, 2 already stored" in captured.out  # lysep seed 1 and adam seed 0
    check_complete(out, reference, n_runs=4, exact=False)  # those two seeds ran alone, not in their batch
    load_npz(out / "decision" / "adam_d2_w4.npz")
    for p in params:
        after = load_arrays(p)
        assert after.keys() == before[p.name].keys()
        for key in after:
            np.testing.assert_allclose(after[key], before[p.name][key], rtol=0, atol=1e-10)


def test_truncated_runs_table_is_named_and_repair_rebuilds_it_without_recomputing(tiny, tmp_path: Path,
                                                                                  capsys) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    assert run(spec, out) == 0
    truncate(out / "runs.parquet")
    assert run(spec, out) == 2  # named; nothing recomputed behind the user's back
    err = capsys.readouterr().err
    assert "runs.parquet" in err and "--repair" in err
    assert run(spec, out, "--repair") == 0
    captured = capsys.readouterr()
    assert f"repair: dropped {out / 'runs.parquet'} (unreadable; rebuilt from the copy" in captured.err
    assert "0 runs computed, 4 already stored" in captured.out  # the traces were intact: nothing to recompute
    check_complete(out, reference, n_runs=4)


def test_truncated_traces_table_is_named_and_repair_recomputes_its_runs(tiny, tmp_path: Path, capsys) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    assert run(spec, out) == 0
    truncate(out / "traces.parquet")
    assert run(spec, out) == 2
    assert "traces.parquet" in capsys.readouterr().err
    assert run(spec, out, "--repair") == 0
    captured = capsys.readouterr()
    assert f"repair: dropped {out / 'traces.parquet'}" in captured.err and "runs.parquet" not in captured.err
    assert "4 runs computed, 0 already stored" in captured.out  # the trace rows are the data: they are recomputed
    check_complete(out, reference, n_runs=4)


def test_truncated_meta_json_is_named_by_report_and_rewritten_by_run(tiny, tmp_path: Path, capsys) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    assert run(spec, out) == 0
    truncate(out / "meta.json")
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert "meta.json" in err and "Traceback" not in err
    assert run(spec, out) == 0  # nothing to compute; meta.json written again
    assert read_json(out / "meta.json")["spec"]["name"] == "crash"
    truncate(out / "traces.parquet")
    assert main(["report", str(out)]) == 2
    assert "traces.parquet" in capsys.readouterr().err


def test_leftover_temporary_files_are_removed_by_the_next_run(tiny, tmp_path: Path) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    for leftover in (out / ".traces.parquet.x1.tmp", out / "params" / ".adam_d2_w4_s0.safetensors.x2.tmp",
                     out / "parts" / ".d2_w4_adam_s0-1.parquet.x3.tmp"):
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"PAR1 half a file")
    assert run(spec, out) == 0
    check_complete(out, reference, n_runs=4)


def test_a_second_sweep_into_a_directory_in_use_is_refused(tiny, tmp_path: Path, capsys) -> None:
    spec, _ = tiny
    out = tmp_path / "out"
    with ResultsStore(out).lock():
        assert run(spec, out) == 2
        assert "another `lysep run`" in capsys.readouterr().err
    assert run(spec, out) == 0  # the lock went with its holder


def test_a_finished_copy_of_a_run_beats_a_failed_one(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    traces = pd.DataFrame({"method": ["a"], "depth": [1], "width": [1], "seed": [0], "iteration": [0],
                           "config_hash": ["h"], "F": [0.5]})
    done = pd.DataFrame({"config_hash": ["h"], "status": ["completed"], "method": ["a"]})
    failed = pd.DataFrame({"config_hash": ["h"], "status": ["failed"], "method": ["a"]})
    store.write_part("u", traces, done)
    store.write_part("u_failed", pd.DataFrame(), failed)  # sorts after "u": a later copy, but a failed one
    assert store.load()[1].status.tolist() == ["completed"]
    assert store.completed_hashes() == {"h"}


def test_a_finished_run_without_trace_rows_is_run_again(tiny, tmp_path: Path) -> None:
    spec, reference = tiny
    out = tmp_path / "out"
    assert run(spec, out) == 0
    (out / "traces.parquet").unlink()
    assert ResultsStore(out).completed_hashes() == set()
    assert run(spec, out) == 0
    check_complete(out, reference, n_runs=4)


def test_results_are_readable_by_other_users(tiny) -> None:
    _, reference = tiny
    for path in (reference / "traces.parquet", reference / "meta.json"):
        assert path.stat().st_mode & 0o044 == 0o044
    assert json.loads((reference / "meta.json").read_text())["invocations"][-1]["runs"]["total"] == 4
