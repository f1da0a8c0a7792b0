"""Thread hygiene of the CLI: the torch thread count is set explicitly (--threads; by default OMP_NUM_THREADS,
else the cores among the workers), and OpenMP's wait policy is left to the user: OMP_WAIT_POLICY=PASSIVE made
two concurrent runs 4 times faster but a lone run 2 times slower (results/PERFORMANCE.md), so it is not set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lysep.commands.main import main
from lysep.harness.executors import available_cores, default_threads

PROBE = ("import os, sys; from lysep.commands.main import main; main(['datasets', '--json']); "
         "print(os.environ.get('OMP_WAIT_POLICY', '<unset>'), file=sys.stderr)")


@pytest.mark.parametrize("given,expected", [(None, "<unset>"), ("PASSIVE", "PASSIVE")])
def test_the_cli_leaves_the_openmp_wait_policy_to_the_user(given, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == expected


def test_default_threads_honour_omp_num_threads_else_divide_the_cores(monkeypatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads(1) == 3 and default_threads(4) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    cores = available_cores()
    assert default_threads(1) == cores and default_threads(2) == max(1, cores // 2)
    assert default_threads(10 * cores) == 1


def test_run_refuses_a_thread_count_below_one(capsys) -> None:
    assert main(["run", "--threads", "0", "--out", "/nonexistent/never-written"]) == 2
    assert "--threads 0: expected an integer >= 1" in capsys.readouterr().err


def test_run_uses_the_thread_count_it_is_given(tmp_path, monkeypatch) -> None:
    import torch

    from lysep.harness import runner

    seen = []
    monkeypatch.setattr(runner, "set_threads", lambda n: seen.append(n))
    spec = tmp_path / "s.toml"
    spec.write_text('name = "t"\n[data]\ndataset = "circle"\nn_train = 40\nn_test = 20\n[model]\nkind = "fnn"\n'
                    '[grid]\ndepth = [1]\nwidth = [2]\nseeds = 1\n[budget]\niterations = 2\n[[method]]\nname = "gd"\n')
    before = torch.get_num_threads()
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet", "--no-report", "--threads", "1"]) == 0
    assert seen == [1] and torch.get_num_threads() == before


# ---------------------------------------------------------------------------- the test suite's own processes


@pytest.mark.parametrize("given,expected", [(None, "1"), ("3", "3")])
def test_a_pytest_xdist_worker_uses_one_torch_thread_unless_the_user_chose(given, expected, monkeypatch) -> None:
    """scripts/test.sh runs one xdist process per core: tests/conftest.py gives each one torch thread, and the
    processes a test starts inherit it through OMP_NUM_THREADS (lysep's default --threads), so they never compete."""
    import conftest
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw9")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    if given:
        monkeypatch.setenv("OMP_NUM_THREADS", given)
    try:
        conftest.pytest_configure(None)
        assert os.environ["OMP_NUM_THREADS"] == expected
        assert torch.get_num_threads() == int(expected) and default_threads(1) == int(expected)
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", ["x", "0", "", "-2"])
def test_the_test_command_refuses_a_bad_process_count_before_installing_anything(bad) -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(["bash", "scripts/test.sh"], cwd=root, env={**os.environ, "LYSEP_TEST_PROCESSES": bad},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == f"error: LYSEP_TEST_PROCESSES={bad}: expected a whole number >= 1"
    assert "setup:" not in proc.stdout  # refused before scripts/setup.sh ran
