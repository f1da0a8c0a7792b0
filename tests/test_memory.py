"""The memory estimate before any work (lysep/harness/memory.py), the refusal of a spec that would not fit,
and `--set`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lysep.commands.main import main
from lysep.core.model import ConvSpec, ModelSpec
from lysep.harness import memory
from lysep.harness.spec import SpecError, load_spec
from lysep.methods import make_method

ROOT = Path(__file__).resolve().parent.parent


def test_the_footprint_counts_parameters_and_activations_by_hand() -> None:
    fp = memory.footprint(ModelSpec.fnn(784, 10, 256, 10))
    assert fp.params == 785 * 256 + 9 * 257 * 256 + 257 * 10
    assert fp.per_sample == 10 * 256 + 10
    cnn = memory.footprint(ConvSpec.cnn((3, 32, 32), 2, 16, 10, pool=(1,)))
    assert cnn.params == (27 + 1) * 16 + (144 + 1) * 16 + (16 * 16 * 16 + 1) * 10
    assert cnn.per_sample == 16 * 16 * 16 + 4 * 16 * 16 * 16 + 16 * 16 * 16 + 10  # pooled layer: its conv output too


def test_u_dominates_the_minibatch_estimate_as_the_docs_say() -> None:
    """N = 60000, depth 10, width 256, float32: U is 60000 x 2560 x 4 bytes = 0.57 GiB per seed."""
    model = ModelSpec.fnn(784, 10, 256, 10)
    mb = memory.unit_bytes(make_method("lysep-minibatch"), model, 60000, 3, 4) - memory.EVAL_BYTES
    u = 3 * 60000 * 2570 * 4
    assert u <= mb <= 1.1 * u
    full = memory.unit_bytes(make_method("lysep"), model, 60000, 3, 4) - memory.EVAL_BYTES
    assert full == pytest.approx(7 * u, rel=0.01)
    adam = memory.unit_bytes(make_method("adam", batch_size=128), model, 60000, 3, 4) - memory.EVAL_BYTES
    assert adam < 0.05 * mb


def test_a_spec_that_does_not_fit_is_refused_with_the_estimate(tmp_path, capsys) -> None:
    spec = tmp_path / "big.toml"
    spec.write_text('name = "big"\n[data]\ndataset = "circle"\nn_train = 200000\n[model]\n[grid]\ndepth = [10]\n'
                    'width = [20, 4096]\nseeds = 10\n[budget]\nepochs = 1\n[[method]]\nname = "lysep-minibatch"\n'
                    '[[method]]\nname = "adam"\nbatch_size = 128\n')
    out = tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "memory: the largest unit of work (method 'lysep-minibatch' at depth 10, width 4096, 10 seeds" in err
    assert "needs about 3" in err and "GiB" in err and "are available" in err, err
    assert not out.exists()  # nothing written
    assert main(["check", str(spec), "--set", "grid.width=[20]"]) == 0


def test_the_refusal_uses_the_memory_available_now(monkeypatch) -> None:
    est = memory.largest_unit({"l": make_method("lysep")}, {(3, 20): ModelSpec.fnn(2, 3, 20, 2)}, [], 2000, 5,
                              "float32")
    memory.check_fits(est, est.total)
    with pytest.raises(ValueError, match=r"memory: .* needs about .* but 1 MiB are available"):
        memory.check_fits(est, 2**20)
    assert 0 < memory.available_bytes() < 2**50


def test_the_estimate_bounds_the_measured_peak_of_a_minibatch_run() -> None:
    """Peak RSS of a process running a minibatch LySep cell (N = 40000, U = 0.3 GiB) against the estimate.

    The peak is the process's own ``VmHWM`` (/proc/self/status), not ``ru_maxrss``: Linux carries the parent's
    high-water mark into ``ru_maxrss`` across fork and exec, so a child of a large test process (2.4-2.7 GB after the
    in-process sweeps of the suite) reported the parent's peak, not its own."""
    code = ("import json, numpy as np, torch\n"
            "from lysep.harness.cell import Budget, run_method\nfrom lysep.methods import make_method\n"
            "from lysep.core.model import ModelSpec\nfrom lysep.core.problem import Problem\n"
            "from lysep.harness import memory\n"
            "def hwm():\n"
            "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
            "    return int(line.split()[1]) * 1024\n"
            "rng = np.random.default_rng(0); x = rng.standard_normal((40000, 20), np.float32)\n"
            "y = rng.integers(0, 10, 40000); p = Problem.from_arrays(x, y, x[:100], y[:100], n_classes=10)\n"
            "m = ModelSpec.fnn(20, 8, 256, 10); meth = make_method('lysep-minibatch', batch_size=256)\n"
            "before = hwm()\n"
            "run_method(p, m, 'l', meth, [0, 1, 2], Budget(iterations=3))\n"
            "est = memory.largest_unit({'l': meth}, {(8, 256): m}, (x, y, x[:100], y[:100]), 40000, 3, 'float32')\n"
            "print(json.dumps([before, hwm(), est.total, est.method]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    before, peak, total, method = json.loads(proc.stdout.strip().splitlines()[-1])
    u = 3 * 40000 * 8 * 256 * 4
    said = f"peak before the run {before}, after {peak}, estimate {total} (method {method})"
    assert peak - before > u, said  # U is really held
    assert peak <= total <= 3 * peak, said  # the estimate is an upper bound, and not a wild one
    assert peak - before <= method, said  # and its method part bounds what the run adds


def test_set_overrides_a_key_and_is_checked_like_the_file() -> None:
    quick = ROOT / "configs" / "quick.toml"
    spec = load_spec(quick, ["data.n_train=300", "budget.epochs=2", 'model.activation="relu"'])
    assert spec.data.n_train == 300 and spec.budget.epochs == 2.0 and spec.model.activation == "relu"
    with pytest.raises(SpecError, match=r"data.n_train = -1: expected an integer >= 1"):
        load_spec(ROOT / "configs" / "quick.toml", ["data.n_train=-1"])
    with pytest.raises(SpecError, match=r"--set 'name=x': expected SECTION.KEY=VALUE"):
        load_spec(ROOT / "configs" / "quick.toml", ["name=x"])
    with pytest.raises(SpecError, match=r"--set 'data.n_train=six'"):
        load_spec(ROOT / "configs" / "quick.toml", ["data.n_train=six"])


def test_epochs_is_a_stopping_key_and_root_resolves_against_the_spec(tmp_path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "e"\n[data]\ndataset = "mnist"\nroot = "files"\n[model]\n[grid]\ndepth = [1]\n'
                    'width = [2]\n[budget]\nepochs = 0.5\n[[method]]\nname = "sgd"\n')
    spec = load_spec(path)
    assert spec.budget.epochs == 0.5 and spec.data.root == str(tmp_path / "files")
    path.write_text(path.read_text().replace("epochs = 0.5", "epochs = 0"))
    with pytest.raises(SpecError, match=r"budget.epochs = 0: expected a finite number > 0"):
        load_spec(path)
