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

from lysep.cli import main
from lysep.store import ResultsStore

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


def no_time(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in df.columns if c != "wall_time"]
    return df[cols].sort_values(["method", "depth", "width", "seed", "iteration"]).reset_index(drop=True)


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
    assert {"spec", "git_commit", "versions", "device", "host", "started", "finished"} <= set(meta)
    assert meta["spec"]["name"] == "tiny" and "torch" in meta["versions"]
    assert len(list((out / "params").glob("*.safetensors"))) == 16 and not list(out.rglob("*.tmp"))
    assert "16 runs computed, 0 already stored" in capsys.readouterr().out
    assert run(str(spec), "--out", str(out)) == 0
    assert "0 runs computed, 16 already stored" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(out / "traces.parquet"), traces)


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
    cmd = [sys.executable, "-m", "lysep.cli", "run", str(spec), "--out", str(out), "--quiet", "--no-report"]
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
