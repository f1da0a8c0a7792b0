"""End to end through the CLI: store layout, resume, executors, kills, bad input -> exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lysep.commands.main import main
from lysep.harness.store import ResultsStore

from helpers import no_time

SPEC = """
name = "tiny"
[data]
dataset = "circle"
n_train = 200
n_test = 100
[model]
activation = "tanh"
dtype = "float64"
[grid]
depth = [2, 3]
width = [4]
seeds = 2
[budget]
iterations = {iterations}
eval_every = 2
[[method]]
name = "lysep"
u_steps = 1
w_steps = 1
[[method]]
name = "adam"
lr = 0.01
[[method]]
name = "sgd"
lr = 0.05
batch_size = 50
[[method]]
name = "gd"
label = "gd-huge"
lr = 1e308
"""


def write_spec(tmp_path: Path, iterations: int = 6, **replace: str) -> Path:
    text = SPEC.format(iterations=iterations)
    for a, b in replace.items():
        text = text.replace(a, b)
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path



def run(*args: str) -> int:
    return main(["run", *args, "--quiet", "--no-report"])


def test_run_writes_whole_results_and_a_rerun_skips_them(tmp_path: Path, capsys) -> None:
    spec, out = write_spec(tmp_path), tmp_path / "out"
    assert run(str(spec), "--out", str(out)) == 0
    traces, runs = pd.read_parquet(out / "traces.parquet"), pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2 * 4 * 2 and runs.config_hash.is_unique
    assert set(runs.status) == {"completed", "diverged"}
    assert (runs[runs.method == "gd-huge"].status == "diverged").all()  # recorded, and the sweep went on
    assert (runs[runs.method != "gd-huge"].status == "completed").all()
    assert not traces.duplicated(["config_hash", "iteration"]).any()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["spec"]["name"] == "tiny" and len(meta["invocations"]) == 1
    first = meta["invocations"][0]
    assert {"git_commit", "git_dirty", "versions", "device", "host", "started", "finished", "executor"} <= set(first)
    assert "torch" in first["versions"] and first["runs"] == {"total": 16, "ran": 16, "skipped": 0, "failed": 0}
    assert len(list((out / "params").glob("*.safetensors"))) == 16 and not list(out.rglob("*.tmp"))
    assert "16 runs computed, 0 already stored" in capsys.readouterr().out
    assert run(str(spec), "--out", str(out)) == 0
    assert "0 runs computed, 16 already stored" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out / "traces.parquet"), traces)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "runs.parquet"), runs)  # the runs keep their provenance
    meta = json.loads((out / "meta.json").read_text())  # a second invocation is added, the first is kept
    assert [i["runs"]["ran"] for i in meta["invocations"]] == [16, 0] and meta["invocations"][0] == first


def test_each_run_records_its_provenance_and_cpu_time(tmp_path: Path) -> None:
    import socket

    import torch

    from lysep.harness.provenance import RUN_COLUMNS, git_state

    spec, out = write_spec(tmp_path), tmp_path / "out"
    assert run(str(spec), "--out", str(out)) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(RUN_COLUMNS) <= set(runs.columns)
    sha, dirty = git_state()
    assert (runs.git_commit == sha).all()
    assert (runs.git_dirty.isna() if dirty is None else runs.git_dirty == dirty).all()
    assert (runs.host == socket.gethostname()).all() and (runs.threads == torch.get_num_threads()).all()
    assert runs.versions.str.contains("torch ").all() and runs.device.str.startswith("cpu").all()
    assert (runs.started <= runs.finished).all() and runs.started.str.endswith("+00:00").all()
    done = runs[runs.status == "completed"]
    assert (done.cpu_time > 0).all() and runs.load_start.notna().all() and runs.load_end.notna().all()
    # the seeds of a unit share its CPU time, as they share its wall time
    assert (done.groupby(["method", "depth", "width"]).cpu_time.nunique() == 1).all()


def test_progress_without_a_terminal_is_a_few_plain_lines(tmp_path: Path, capsys) -> None:
    spec, out = write_spec(tmp_path), tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--no-report"]) == 0  # no --quiet; stderr is not a terminal
    err = capsys.readouterr().err
    assert "\r" not in err and "it/s" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 8 and lines[0] == "[1/8] lysep d=2 w=4 seeds 0-1: done"
    assert lines[-1] == "[8/8] gd-huge d=3 w=4 seeds 0-1: done"


def test_more_seeds_computes_only_the_new_ones_and_matches_a_fresh_run(tmp_path: Path, capsys) -> None:
    spec = write_spec(tmp_path)
    assert run(str(spec), "--out", str(tmp_path / "a")) == 0
    assert run(str(spec), "--out", str(tmp_path / "a"), "--seeds", "3") == 0
    assert "8 runs computed, 16 already stored" in capsys.readouterr().out
    assert run(str(spec), "--out", str(tmp_path / "b"), "--seeds", "3") == 0
    a, b = pd.read_parquet(tmp_path / "a" / "traces.parquet"), pd.read_parquet(tmp_path / "b" / "traces.parquet")
    pd.testing.assert_frame_equal(no_time(a), no_time(b), check_exact=False, rtol=0, atol=1e-10)


def test_force_recomputes(tmp_path: Path, capsys) -> None:
    spec, out = write_spec(tmp_path), tmp_path / "out"
    assert run(str(spec), "--out", str(out)) == 0
    assert run(str(spec), "--out", str(out), "--force") == 0
    assert "16 runs computed, 0 already stored" in capsys.readouterr().out.split("tiny:")[-1]


def test_process_pool_gives_the_in_process_traces(tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    assert run(str(spec), "--out", str(tmp_path / "a")) == 0
    assert run(str(spec), "--out", str(tmp_path / "b"), "--workers", "2") == 0
    a, b = pd.read_parquet(tmp_path / "a" / "traces.parquet"), pd.read_parquet(tmp_path / "b" / "traces.parquet")
    pd.testing.assert_frame_equal(no_time(a), no_time(b))


def test_dask_local_cluster_gives_the_in_process_traces(tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    spec = write_spec(tmp_path)
    assert run(str(spec), "--out", str(tmp_path / "a")) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                      dashboard_address=None) as cluster:
        assert run(str(spec), "--out", str(tmp_path / "b"), "--scheduler", cluster.scheduler_address) == 0
    a, b = pd.read_parquet(tmp_path / "a" / "traces.parquet"), pd.read_parquet(tmp_path / "b" / "traces.parquet")
    pd.testing.assert_frame_equal(no_time(a), no_time(b))


def test_unreachable_scheduler_is_a_clear_error_within_seconds(tmp_path: Path, capsys) -> None:
    t0 = time.perf_counter()
    assert run(str(write_spec(tmp_path)), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9") == 2
    assert time.perf_counter() - t0 < 20
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_sigkill_mid_sweep_then_rerun_gives_every_run_exactly_once(tmp_path: Path) -> None:
    spec, out = write_spec(tmp_path, iterations=40), tmp_path / "out"
    cmd = [sys.executable, "-m", "lysep", "run", str(spec), "--out", str(out), "--quiet", "--no-report"]
    for delay in (2.5, 4.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    traces, runs = pd.read_parquet(out / "traces.parquet"), pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 16 and runs.config_hash.is_unique
    assert not traces.duplicated(["config_hash", "iteration"]).any()
    assert set(traces.config_hash) == set(runs.config_hash) and not list(out.rglob("*.tmp"))
    fresh = tmp_path / "fresh"
    assert run(str(spec), "--out", str(fresh)) == 0
    pd.testing.assert_frame_equal(no_time(traces), no_time(pd.read_parquet(fresh / "traces.parquet")))


def test_truncated_parquet_is_named_and_repair_recomputes(tmp_path: Path, capsys) -> None:
    spec, out = write_spec(tmp_path), tmp_path / "out"
    assert run(str(spec), "--out", str(out)) == 0
    good = pd.read_parquet(out / "traces.parquet")
    data = (out / "traces.parquet").read_bytes()
    (out / "traces.parquet").write_bytes(data[: len(data) // 2])
    assert run(str(spec), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "traces.parquet" in err and "--repair" in err
    assert run(str(spec), "--out", str(out), "--repair") == 0
    pd.testing.assert_frame_equal(no_time(pd.read_parquet(out / "traces.parquet")), no_time(good))


@pytest.mark.parametrize("replace,key", [
    ({"width = [4]": "width = [0]"}, "grid.width"),
    ({'lr = 0.01': 'lr = -0.01'}, "lr"),
    ({'dataset = "circle"': 'dataset = "imagenet"'}, "data.dataset"),
    ({"iterations = 6": "iterations = 6\npasses = 3"}, "passes"),
])
def test_bad_spec_exits_2_naming_the_key_and_writes_nothing(tmp_path: Path, capsys, replace, key) -> None:
    spec, out = write_spec(tmp_path, **replace), tmp_path / "out"
    assert run(str(spec), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert key in err and "tiny.toml" in err
    assert not out.exists()


@pytest.mark.parametrize("args,msg", [
    (["--device", "tpu"], "--device 'tpu'"),
    (["--workers", "0"], "--workers 0"),
])
def test_bad_arguments_exit_2(tmp_path: Path, capsys, args, msg) -> None:
    assert run(str(write_spec(tmp_path)), "--out", str(tmp_path / "o"), *args) == 2
    assert msg in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_a_gpu_exits_2(tmp_path: Path, capsys) -> None:
    assert run(str(write_spec(tmp_path)), "--device", "cuda") == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_report_of_a_missing_directory_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "traces.parquet: not found" in capsys.readouterr().err


def test_store_drops_half_written_parts(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / ".x.parquet.123.tmp").write_bytes(b"PAR1")
    assert store.load()[1].empty
    assert str(tmp_path / "parts" / ".x.parquet.123.tmp") in store.repair()
    assert os.listdir(tmp_path / "parts") == []
