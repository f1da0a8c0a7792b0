"""The alternating family on CUDA gives the CPU's traces (float64). Skipped without a GPU."""

from __future__ import annotations

import pytest
import torch

from lysep.core.model import ModelSpec
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

METHODS = {"mac": {}, "bcd": {}, "dladmm": {}, "altmin-online": {"batch_size": 100}, "lbfgs": {"max_iter": 5}}


def traces(device: str):
    ds = load_dataset("circle", n_train=500, n_test=100)
    p = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                            dtype=torch.float64, device=device)
    ms = {name: make_method(name, **hp) for name, hp in METHODS.items()}
    return run_cell(p, ModelSpec.fnn(2, 3, 10, 2), ms, [0, 1, 2], Budget(iterations=8, eval_every=4))


def test_family_traces_on_cuda_equal_the_cpu() -> None:
    cpu, gpu = traces("cpu"), traces("cuda")
    cols = ["F", "J", "B", "test_acc"]
    diff = (cpu[cols] - gpu[cols]).abs().max().fillna(0)
    assert (diff < 1e-6).all(), diff.to_dict()
    assert ((cpu.grad_evals - gpu.grad_evals).abs() <= 0.05 * cpu.grad_evals.abs() + 1e-9).all()
