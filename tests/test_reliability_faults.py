"""Reliability, faults while running: lost workers (Dask, process pool), unreachable schedulers,
numerical faults (huge hyperparameters, partial divergence, float64), determinism, safe loading."""

from __future__ import annotations

import ast
import faulthandler
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lysep.commands.main import main
from lysep.harness.plan import Unit
from lysep.harness.runner import run_unit
from lysep.harness.spec import load_spec
from lysep.harness.store import ResultsStore, StoreError, load_arrays

from helpers import no_time

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
name = "faults"
[data]
dataset = "circle"
n_train = 200
n_test = 100
[model]
activation = "{activation}"
dtype = "{dtype}"
[grid]
depth = {depth}
width = [4]
seeds = {seeds}
[budget]
iterations = {iterations}
eval_every = 5
{methods}
"""
TWO = '[[method]]\nname = "lysep"\n[[method]]\nname = "adam"\nlr = 0.01\n'


def write_spec(folder: Path, name: str = "faults.toml", *, activation: str = "tanh", dtype: str = "float64",
               depth: str = "[2]", seeds: int = 2, iterations: int = 3, methods: str = TWO) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(SPEC.format(activation=activation, dtype=dtype, depth=depth, seeds=seeds,
                                iterations=iterations, methods=methods))
    return path


def run(spec: Path, out: Path, *args: str) -> int:
    return main(["run", str(spec), "--out", str(out), "--quiet", "--no-report", *args])


def tables(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_parquet(out / "traces.parquet"), pd.read_parquet(out / "runs.parquet")



def check_once_and_equal(out: Path, reference: Path, n_runs: int) -> None:
    traces, runs = tables(out)
    assert len(runs) == n_runs and runs.config_hash.is_unique and set(runs.status) == {"completed"}
    assert not traces.duplicated(["config_hash", "iteration"]).any()
    ref_traces, ref_runs = tables(reference)
    pd.testing.assert_frame_equal(no_time(traces), no_time(ref_traces))
    pd.testing.assert_frame_equal(no_time(runs), no_time(ref_runs))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread in this process (and its workers): on a loaded 2-core machine two threads per
    process are many times slower, and the thread count is then fixed for the exact comparisons."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------------------- lost workers


def test_dask_workers_killed_in_the_middle_of_a_cell_are_replaced_and_the_sweep_completes(tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    spec = write_spec(tmp_path, iterations=900)
    assert run(spec, tmp_path / "reference") == 0
    out, result, kills = tmp_path / "out", {}, []
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True, dashboard_address=None,
                      env={"OMP_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
        sweep = threading.Thread(target=lambda: result.update(rc=run(spec, out, "--scheduler",
                                                                     cluster.scheduler_address)))
        sweep.start()
        deadline = time.monotonic() + 120
        while len(kills) < 2 and sweep.is_alive() and time.monotonic() < deadline:
            busy = {addr: keys for addr, keys in client.processing().items()
                    if any(str(k).startswith("lysep-") for k in keys)}
            if busy:
                addr = sorted(busy)[0]
                time.sleep(1.0)  # well inside the unit (a unit runs for seconds)
                if addr in client.processing() and any(str(k).startswith("lysep-") for k in client.processing()[addr]):
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    os.kill(pid, signal.SIGKILL)
                    kills.append((addr, [str(k) for k in client.processing()[addr]]))
                    time.sleep(0.5)
            time.sleep(0.05)
        sweep.join(180)
        story = cluster.scheduler.story(*{k for _, keys in kills for k in keys})
    assert not sweep.is_alive() and result["rc"] == 0
    assert len(kills) == 2, "the units ended before a worker could be killed in the middle of one"
    # the scheduler saw each killed task go back from processing, then finish elsewhere
    assert any(t[1] == "processing" and t[2] in ("released", "waiting", "no-worker") for t in story)
    check_once_and_equal(out, tmp_path / "reference", n_runs=4)


def test_a_process_pool_worker_killed_mid_sweep_costs_only_a_retry(tmp_path: Path) -> None:
    import psutil

    spec = write_spec(tmp_path, iterations=200, depth="[2, 3]")
    assert run(spec, tmp_path / "reference") == 0
    out, result = tmp_path / "out", {}
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    sweep = threading.Thread(target=lambda: result.update(rc=run(spec, out, "--workers", "2")))
    faulthandler.dump_traceback_later(150)  # where it hangs, should it ever
    sweep.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and sweep.is_alive() and time.monotonic() < deadline:
        for child in me.children(recursive=True):
            try:
                cmdline = " ".join(child.cmdline())
                if child.pid in before or "spawn_main" not in cmdline or child.cpu_times().user < 1.5:
                    continue  # not a pool worker, or not yet into its unit (start-up takes ~1 s of CPU)
                child.kill()
                killed = child.pid
                break
            except psutil.Error:
                continue
        time.sleep(0.05)
    sweep.join(180)
    faulthandler.cancel_dump_traceback_later()
    assert killed is not None and not sweep.is_alive() and result["rc"] == 0
    check_once_and_equal(out, tmp_path / "reference", n_runs=8)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "tcp://10.255.255.1:8786", "tcp://no-such-host.invalid:8786"])
def test_an_unreachable_scheduler_is_a_clear_error_within_10_seconds(tmp_path: Path, capsys, address: str) -> None:
    spec, out = write_spec(tmp_path), tmp_path / "out"
    t0 = time.perf_counter()
    assert run(spec, out, "--scheduler", address) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler" in err and address in err and "Traceback" not in err
    assert not out.exists()


# ---------------------------------------------------------------------------- numerical faults

HUGE = """
[[method]]
name = "lysep"
label = "lysep-beta"
beta = 1e30
beta_max = 1e30
[[method]]
name = "lysep"
label = "lysep-eta"
eta0 = 3e38
[[method]]
name = "adam"
label = "adam-huge"
lr = 1e30
[[method]]
name = "sgd"
label = "sgd-huge"
lr = 1e30
batch_size = 50
[[method]]
name = "gd"
label = "gd-huge"
lr = 1e30
[[method]]
name = "adam"
lr = 0.01
"""


def test_huge_beta_and_learning_rates_do_not_stop_the_sweep(tmp_path: Path, capsys) -> None:
    spec, out = write_spec(tmp_path, dtype="float32", methods=HUGE), tmp_path / "out"
    assert run(spec, out) == 0
    traces, runs = tables(out)
    assert len(runs) == 6 * 2 and set(runs.status) <= {"completed", "diverged"}
    assert (runs[runs.method == "adam"].status == "completed").all()
    assert (runs[runs.method == "lysep-beta"].status == "completed").all()
    assert np.isfinite(runs[runs.method == "lysep-beta"].final_F).all()
    eta = runs[runs.method == "lysep-eta"]  # eta0 * N overflows float32 inside the solver: a divergence at once
    assert (eta.status == "diverged").all() and (eta.diverged_at == 0).all()
    assert eta.error.str.contains("overflow").all()
    last = traces.groupby("config_hash").tail(1)
    assert (last.diverged == (last.config_hash.map(runs.set_index("config_hash").status) == "diverged")).all()


def test_only_some_seeds_of_a_batch_diverge_and_the_others_go_on(tmp_path: Path) -> None:
    # relu nets with lr = 1e72: seeds 2 and 7 overflow at iteration 2, the other six stay finite
    methods = '[[method]]\nname = "gd"\nlr = 1e72\n'
    spec, out = write_spec(tmp_path, activation="relu", seeds=8, methods=methods), tmp_path / "out"
    assert run(spec, out) == 0
    traces, runs = tables(out)
    diverged = set(runs[runs.status == "diverged"].seed)
    assert diverged == {2, 7}
    for seed, rows in traces.groupby("seed"):
        if seed in diverged:
            assert rows.diverged.tolist() == [False, False, True] and rows.iteration.tolist() == [0, 1, 2]
            assert not np.isfinite(rows.F.iloc[-1])
        else:
            assert not rows.diverged.any() and rows.iteration.tolist() == [0, 1, 2, 3]
            assert np.isfinite(rows.F).all()
    s = load_spec(spec)  # seed 7 alone diverges at the same iteration: divergence is per seed, not per batch
    alone = run_unit(s.to_dict(), s.source, Unit(2, 4, "gd", (7,)))["traces"]
    assert alone.diverged.tolist() == [False, False, True]


def test_float64_works_end_to_end_and_differs_from_float32_only_slightly(tmp_path: Path) -> None:
    out = {}
    for dtype in ("float32", "float64"):
        spec = write_spec(tmp_path, f"{dtype}.toml", dtype=dtype, iterations=20)
        assert run(spec, tmp_path / dtype) == 0
        out[dtype] = tables(tmp_path / dtype)[0]
        params = load_arrays(tmp_path / dtype / "params" / "lysep_d2_w4_s0.safetensors")
        assert {a.dtype for a in params.values()} == {np.dtype(dtype)}
    a, b = no_time(out["float32"]), no_time(out["float64"])
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    diff = (a.F - b.F).abs()
    assert diff.max() > 0 and diff.max() < 1e-3


# ---------------------------------------------------------------------------- determinism


def test_the_same_spec_twice_gives_bit_identical_traces_and_parameters(tmp_path: Path) -> None:
    methods = TWO + '[[method]]\nname = "sgd"\nlr = 0.05\nbatch_size = 50\n'
    spec = write_spec(tmp_path, depth="[2, 3]", iterations=10, methods=methods)
    for name in ("a", "b"):
        assert run(spec, tmp_path / name) == 0
    (ta, ra), (tb, rb) = tables(tmp_path / "a"), tables(tmp_path / "b")
    pd.testing.assert_frame_equal(no_time(ta), no_time(tb), check_exact=True)
    pd.testing.assert_frame_equal(no_time(ra), no_time(rb), check_exact=True)
    for path in sorted((tmp_path / "a" / "params").glob("*.safetensors")):
        assert path.read_bytes() == (tmp_path / "b" / "params" / path.name).read_bytes()


# ---------------------------------------------------------------------------- safe loading


def test_stored_parameters_load_as_safetensors_equal_to_what_the_runner_produced(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, depth="[2, 3]")
    out = tmp_path / "out"
    assert run(spec_path, out) == 0
    spec, store = load_spec(spec_path), ResultsStore(out)
    for depth in (2, 3):
        for label in ("lysep", "adam"):
            produced = run_unit(spec.to_dict(), spec.source, Unit(depth, 4, label, (0, 1)))["params"]
            for seed in (0, 1):
                loaded = load_arrays(store.params_path(label, depth, 4, seed))
                dims = [2] + [4] * depth + [2]  # circle: 2 features, 2 classes
                expect = {**{f"W{i + 1}": (dims[i + 1], dims[i]) for i in range(depth + 1)},
                          **{f"b{i + 1}": (dims[i + 1],) for i in range(depth + 1)}}
                assert {k: v.shape for k, v in loaded.items()} == expect
                for key, value in produced[seed].items():
                    np.testing.assert_array_equal(loaded[key], value)


def test_loading_refuses_pickles_in_disguise_without_running_them(tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(pickle.dumps({"W1": Evil()}))
    saved = tmp_path / "saved.safetensors"
    torch.save({"W1": torch.zeros(2)}, saved)
    for path in (fake, saved):
        with pytest.raises(StoreError, match=path.name):
            load_arrays(path)
    assert not marker.exists()


#: calls and imports that would run code from a file being read
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve", "_pickle"}


def unsafe_reads(source: str, name: str) -> list[str]:
    """Lines of Python ``source`` that unpickle, eval/exec, torch.load, or np.load without allow_pickle=False."""
    tree = ast.parse(source, filename=name)
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr in ("read_pickle", "unpickler", "Unpickler"):
            found.append(f"{where}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_MODULES:
            found.append(f"{where}: {node.id}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            kwargs = {k.arg: k.value for k in node.keywords}
            if isinstance(func, ast.Name) and name in ("eval", "exec", "compile", "__import__"):
                found.append(f"{where}: {name}(")
            elif name == "load" and owner == "torch":
                found.append(f"{where}: torch.load(")
            elif name == "load" and owner in ("np", "numpy"):
                flag = kwargs.get("allow_pickle")
                if not (isinstance(flag, ast.Constant) and flag.value is False):
                    found.append(f"{where}: np.load( without allow_pickle=False")
            elif owner in ("pd", "pandas") and name in ("eval", "read_pickle"):
                found.append(f"{where}: {owner}.{name}(")
            if isinstance(kwargs.get("allow_pickle"), ast.Constant) and kwargs["allow_pickle"].value is True:
                found.append(f"{where}: allow_pickle=True")
    return found


def test_no_source_file_reads_with_pickle_eval_or_torch_load() -> None:
    files = sorted([*(ROOT / "lysep").rglob("*.py"), *(ROOT / "analysis").rglob("*.py")])
    assert len(files) > 10
    found = [line for path in files for line in unsafe_reads(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []
    text = "\n".join(p.read_text() for p in files)
    assert "allow_pickle=True" not in text and "torch.load(" not in text and "weights_only=False" not in text


def test_the_scanner_catches_what_it_looks_for() -> None:
    probe = ["import pickle", "from joblib import load", "np.load('x')", "np.load('x', allow_pickle=True)",
             "torch.load('x')", "eval('1')", "exec('1')", "pd.read_pickle('x')"]
    for line in probe:
        assert unsafe_reads(line, "probe.py"), line
    for line in ("np.load('x', allow_pickle=False)", "model.eval()", "json.loads('1')", "# pickle in a comment",
                 "'a docstring about torch.load(f)'"):
        assert unsafe_reads(line, "probe.py") == [], line
