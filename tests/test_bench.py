"""`lysep bench`: a smoke run at tiny sizes emits valid JSON with the keys of the performance issue."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from lysep.measure.bench import TARGETS, geomean, table


def test_bench_json_has_the_performance_keys() -> None:
    proc = subprocess.run([sys.executable, "-m", "lysep", "bench", "--quick", "--json", "--threads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # stdout is only the JSON object; progress went to stderr
    assert set(out["batched_speedup"]) == {"lysep", "adam", "sgd", "gd"}
    for v in out["batched_speedup"].values():
        assert math.isfinite(v) and v > 0
    assert math.isfinite(out["am_iteration_over_adam_step"]) and out["am_iteration_over_adam_step"] > 0
    by_config = out["am_iteration_over_adam_step_by_config"]  # the MM configuration's ratio beside the default's
    assert set(by_config) == {"lysep-mm"} and math.isfinite(by_config["lysep-mm"]) and by_config["lysep-mm"] > 0
    assert out["am_cells"][0]["lysep-mm"] == pytest.approx(out["config_cells"][0]["batched_s"]
                                                          / out["cells"][1]["batched_s"])  # over the cell's adam
    assert out["default_run_seconds"] > 0
    assert out["config"]["quick"] is True and out["threads"] == 1 and out["device"] == "cpu"
    cells = out["cells"]
    assert len(cells) == 4 and all(c["speedup"] == pytest.approx(c["sequential_s"] / c["batched_s"]) for c in cells)
    assert "depth  2 width  4 lysep" in proc.stderr
    # a quick run's tiny sizes and 5-iteration default run say nothing about the targets: none is compared
    assert out["targets"] == {}
    summary = table(out)
    assert "target" not in summary.replace("no target comparison", "") and "no target comparison" in summary
    assert "(target >= 4)" in table({**out, "config": {**out["config"], "quick": False}, "targets": TARGETS})


def test_bench_refuses_a_missing_device() -> None:
    proc = subprocess.run([sys.executable, "-m", "lysep", "bench", "--device", "tpu"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--device 'tpu'" in proc.stderr


def test_geomean() -> None:
    assert geomean([1.0, 4.0, 16.0]) == pytest.approx(4.0)
    assert math.isnan(geomean([]))


def test_gpu_check_script_runs_its_steps_and_prints_the_table_last(tmp_path) -> None:
    """scripts/gpu_check.sh in its CPU smoke mode: the same steps and the table, without a GPU."""
    env = {**__import__("os").environ, "LYSEP_GPU_CHECK_DEVICE": "cpu", "LYSEP_GPU_CHECK_QUICK": "1",
           "OUT": str(tmp_path)}
    proc = subprocess.run(["bash", "scripts/gpu_check.sh"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("am_iteration_over_adam_step:")
    assert any(line.startswith("all ") and "target: >= 10x" in line for line in lines[-3:])
    for name in ("bench_cpu.json", "bench_cpu2.json"):
        assert json.loads((tmp_path / name).read_text())["grid_seconds"] > 0
    steady = json.loads((tmp_path / "steady_cpu.json").read_text())["rows"]  # the steady-state step ran
    assert len(steady) == 3 * 4 and all(r["lysep_ms"] > 0 and r["host_syncs"] == "n/a" for r in steady)
    assert {r["rule"] for r in steady} == {"armijo (default)", "armijo-batch3", "lipschitz-1.9", "lipschitz-adaptive"}
