"""The asv suite: it passes ``asv check``, one time_ and one track_ benchmark run, and its pieces behave.

The asv runs use a temporary copy of ``asv.conf.json`` (results, html and environments under
``tmp_path``) and a temporary HOME for the machine file, so they write nothing into the repository
or the user's home. Timings are never asserted (the machine is shared).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ASV = shutil.which("asv")
needs_asv = pytest.mark.skipif(ASV is None, reason="asv is not installed")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
_threads = torch.get_num_threads()
from benchmarks import common, quality, speed  # noqa: E402

torch.set_num_threads(_threads)  # importing the suite sets the benchmark thread count; keep the test session's

TIME_BENCH = r"^speed\.MethodStep\.time_step\('lysep', 3, 10\)$"
TRACK_BENCH = r"^quality\.LySepVsAdam\.track_final_train_ce\('lysep', 3\)$"


def _asv(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([ASV, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def asv_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """Environment variables (a temporary HOME with a machine file) and a temporary config file."""
    from asv.util import load_json  # the config is JSON with comments

    tmp = tmp_path_factory.mktemp("asv")
    conf = load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    conf.update(repo=str(ROOT), benchmark_dir=str(ROOT / "benchmarks"), results_dir=str(tmp / "results"),
                html_dir=str(tmp / "html"), env_dir=str(tmp / "env"))
    conf_path = tmp / "asv.conf.json"
    conf_path.write_text(json.dumps(conf))
    env = {**os.environ, "HOME": str(tmp), "LYSEP_BENCH_SLOWDOWN": "1"}
    env.pop(common.DEVICE_ENV, None)
    made = _asv(["--config", str(conf_path), "machine", "--yes", "--machine", "pytest"], env, timeout=60)
    assert made.returncode == 0, made.stdout + made.stderr
    return env, conf_path


@needs_asv
def test_asv_check_passes(asv_env):
    env, _ = asv_env
    out = _asv(["check", "--python=same"], env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No problems found" in out.stdout


@needs_asv
def test_quick_run_of_a_time_and_a_track_benchmark(asv_env):
    env, conf_path = asv_env
    out = _asv(["--config", str(conf_path), "run", "--python=same", "--quick", "--dry-run", "--show-stderr",
                "--machine", "pytest", "--bench", TIME_BENCH, "--bench", TRACK_BENCH], env)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "failed" not in text, text
    assert "Traceback" not in text, text
    for name in ("speed.MethodStep.time_step", "quality.LySepVsAdam.track_final_train_ce"):
        lines = [ln for ln in text.splitlines() if name in ln]
        assert lines and lines[-1].rstrip().endswith("ok"), text
    assert not (ROOT / "results" / "asv" / "pytest").exists()


def test_suite_names_and_parameters():
    assert speed.MethodStep.param_names == ["method", "depth", "width"]
    assert speed.MethodStep.params == (["lysep", "adam", "sgd", "gd"], [3, 5, 10], [10, 20, 50])
    for cls in (speed.MethodStep, speed.Objectives, speed.CellMemory, speed.MinibatchCellMemory, quality.LySepVsAdam):
        assert cls.timeout > 0
    assert speed.MethodStep.number == 1
    assert quality.LySepVsAdam.track_final_train_ce.unit == "nats"
    assert speed.MinibatchCellMemory.params == ([20000, 100000],)


def test_slowdown_parsing(monkeypatch):
    monkeypatch.delenv(common.SLOWDOWN_ENV, raising=False)
    assert common.slowdown() == 1.0
    monkeypatch.setenv(common.SLOWDOWN_ENV, "3")
    assert common.slowdown() == 3.0
    for bad in ("0.5", "-1", "nan", "inf", "fast"):
        monkeypatch.setenv(common.SLOWDOWN_ENV, bad)
        with pytest.raises(ValueError, match=common.SLOWDOWN_ENV):
            common.slowdown()


@pytest.mark.parametrize(("factor", "calls"), [(1.0, 1), (3.0, 3), (2.5, 2)])
def test_run_slowed_repeats_the_step(factor, calls):
    count = []
    speed.run_slowed(lambda: count.append(1), factor, torch.device("cpu"))
    assert len(count) == calls


def test_need_skips_what_a_commit_lacks():
    assert callable(common.need("lysep.core.objectives", "lysep_loss"))
    with pytest.raises(NotImplementedError):
        common.need("lysep.no_such_module")
    with pytest.raises(NotImplementedError):
        common.need("lysep.core.objectives", "no_such_function")


def test_need_rejects_a_module_served_from_another_tree(tmp_path, monkeypatch):
    """An older checkout on the path plus an editable install: a submodule from the installed tree is skipped."""
    top = types.ModuleType("fakepkg")
    top.__file__ = str(tmp_path / "old" / "fakepkg" / "__init__.py")
    sub = types.ModuleType("fakepkg.sub")
    sub.__file__ = str(tmp_path / "new" / "fakepkg" / "sub.py")
    monkeypatch.setitem(sys.modules, "fakepkg", top)
    monkeypatch.setitem(sys.modules, "fakepkg.sub", sub)
    with pytest.raises(NotImplementedError, match="not part of"):
        common.need("fakepkg.sub")
    sub.__file__ = str(tmp_path / "old" / "fakepkg" / "sub.py")
    assert common.need("fakepkg.sub") is sub


def test_need_skips_a_package_that_lies_in_another_tree_than_lysep(tmp_path, monkeypatch):
    """At a commit older than ``analysis``, the installed tree would serve it: skipped before it is imported."""
    import importlib.machinery

    specs = {"lysep": tmp_path / "old" / "lysep" / "__init__.py", "analysis": tmp_path / "new" / "analysis" / "x.py"}
    monkeypatch.setattr(common.importlib.util, "find_spec",
                        lambda name: importlib.machinery.ModuleSpec(name, None, origin=str(specs[name])))
    with pytest.raises(NotImplementedError, match="analysis does not exist at this commit"):
        common.need("analysis.metrics", "metrics_table")
    specs["analysis"] = tmp_path / "old" / "analysis" / "__init__.py"
    common._check_beside_lysep("analysis.metrics")  # beside the lysep under test: imported as usual


def _trace(F, J=None, J_start=None, B=None) -> pd.DataFrame:
    """A one-seed trace with the given per-iteration values (J and B absent: a baseline)."""
    n = len(F)
    nan = [math.nan] * n
    J = nan if J is None else J
    B = nan if B is None else B
    df = pd.DataFrame({"method": "m", "depth": 2, "width": 4, "seed": 0, "iteration": np.arange(n), "F": F, "J": J,
                       "J_start": J if J_start is None else J_start, "B": B, "diverged": False})
    df["bound_gap"] = df["B"] - df["F"]
    df["surrogate_gap"] = df["J"] - df["F"]
    return df


def test_quality_summaries_are_the_reports_metrics():
    a = _trace([0.7, 0.3, 0.09, 0.05], J=[0.7, 0.5, 0.2, 0.2000001], J_start=[0.7, 0.7, 0.5, 0.2],
               B=[0.7, 1.0, 1.0, 0.5])
    b = _trace([0.7, 0.6, 0.5, 0.4]).assign(seed=1)
    both = quality.summarize(pd.concat([a, b], ignore_index=True))
    assert both["final_ce"] == pytest.approx(0.225)
    assert both["seed_std_final_ce"] == pytest.approx(np.std([0.05, 0.4], ddof=1))
    # the mean log10 CE along each run (trapezoids over 3 iterations), averaged over the seeds
    logs = [np.log10([0.7, 0.3, 0.09, 0.05]), np.log10([0.7, 0.6, 0.5, 0.4])]
    auc = [float(np.sum((v[1:] + v[:-1]) / 2) / 3) for v in logs]
    assert both["auc_log_ce"] == pytest.approx(np.mean(auc))
    alone = quality.summarize(a)
    assert alone["final_bound_gap"] == pytest.approx(0.45)
    assert alone["final_surrogate_gap"] == pytest.approx(0.2000001 - 0.05)
    # J rises by 1e-7 at the last row: within the tolerance 8 eps(float32) * max(1, |J_start|) = 9.5e-7
    assert alone["monotonicity_violations"] == 0
    assert quality.summarize(a.assign(J=[0.7, 0.5, 0.2, 0.3]))["monotonicity_violations"] == 1
    summary = quality.summarize(b)
    assert set(summary) == {"final_ce", "auc_log_ce", "seed_std_final_ce", "ce_at_10", "ce_at_50"}
    assert math.isnan(summary["seed_std_final_ce"])  # one seed
    long = _trace(list(np.linspace(0.7, 0.1, 60)))
    assert quality.summarize(long)["ce_at_10"] == pytest.approx(np.linspace(0.7, 0.1, 60)[10])
    diverged = b.assign(diverged=[False, False, False, True], F=[0.7, 0.6, 0.5, math.nan])
    assert math.isnan(quality.summarize(diverged)["final_ce"])  # asv shows a divergence as a failure


def _need_calls() -> list[str]:
    """The module arguments of every ``need(...)`` call in benchmarks/ (string literals)."""
    import ast

    out = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "need" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                out.append(node.args[0].value)
    return out


def test_a_moved_module_names_where_it_lived_before_the_layer_packages():
    """``need("lysep.core.model|lysep.model")``: the second name is the flat module of the commits older than the
    layer packages. A rename that rewrote both halves to the new path (``lysep.core.model|lysep.core.model``)
    left every such commit without a counted value in the asv history (its benchmarks skipped as "missing")."""
    layers = ("lysep.core.", "lysep.harness.", "lysep.measure.", "lysep.methods.", "lysep.commands.")
    calls = _need_calls()
    assert len(calls) >= 10
    for module in calls:
        names = module.split("|")
        assert len(set(names)) == len(names), module
        if names[0].startswith(layers):
            assert len(names) >= 2 and not names[-1].startswith(layers), module
            assert names[-1] == "lysep." + names[0].rsplit(".", 1)[1], module


def test_adopt_flat_api_takes_what_an_old_checkout_has_and_leaves_out_the_rest(tmp_path):
    """A checkout older than the CNNs and lysep.datasets (the project's first day): its FNN names are adopted, the
    missing ones left out (the FNN counts run there; before this, ConvSpec's absence failed every count)."""
    old = tmp_path / "lysep"
    old.mkdir()
    (old / "__init__.py").write_text("")
    (old / "model.py").write_text("class ModelSpec: pass\ndef init_params(): pass\n")
    (old / "problem.py").write_text("class Problem: pass\n")
    (old / "methods.py").write_text("def make_method(): pass\n")
    code = ("import runpy, sys, lysep; runpy.run_path(sys.argv[1])['adopt_flat_api'](); "
            "print(sorted(n for n in ('ModelSpec', 'init_params', 'Problem', 'make_method', 'ConvSpec', "
            "'load_dataset') if hasattr(lysep, n)))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "lysep" / "measure" / "counters.py")], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(["ModelSpec", "init_params", "Problem", "make_method"]))
    (old / "problem.py").write_text("import no_such_dependency\nclass Problem: pass\n")
    broken = subprocess.run([sys.executable, "-c", code, str(ROOT / "lysep" / "measure" / "counters.py")], env=env,
                            capture_output=True, text=True, cwd=tmp_path)
    assert broken.returncode != 0 and "no_such_dependency" in broken.stderr  # a real import error is not hidden
