"""The CUDA path gives the CPU's traces (float64). Skipped without a GPU; run by scripts/gpu_check.sh."""

from __future__ import annotations

import pytest
import torch

from lysep.core.model import ConvSpec, ModelSpec
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

METHODS = {"lysep": {"name": "lysep"}, "lysep-2nd": {"name": "lysep", "w_solver": "gauss_newton",
                                                    "out_solver": "newton"},
           "lysep-mm": {"name": "lysep", "u_solver": "mm", "w_solver": "lipschitz", "out_solver": "mm"},
           "lysep-joint": {"name": "lysep-joint"}, "adam": {"name": "adam"}, "sgd": {"name": "sgd"},
           "gd": {"name": "gd"}}
COLUMNS = ["F", "J", "B", "test_acc", "grad_evals"]


def traces(ds, model, labels, device: str, iterations: int = 15):
    p = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                            dtype=torch.float64, device=device)
    ms = {k: make_method(**v) for k, v in METHODS.items() if k in labels}
    return run_cell(p, model, ms, [0, 1, 2], Budget(iterations=iterations, eval_every=5))


def test_fnn_traces_on_cuda_equal_the_cpu() -> None:
    ds = load_dataset("circle", n_train=1000, n_test=200)
    model = ModelSpec.fnn(2, 3, 10, 2)
    cpu, gpu = (traces(ds, model, METHODS, d) for d in ("cpu", "cuda"))
    diff = (cpu[COLUMNS] - gpu[COLUMNS]).abs().max().fillna(0)
    assert (diff < 1e-6).all(), diff.to_dict()


def test_cnn_traces_on_cuda_equal_the_cpu() -> None:
    ds = load_dataset("digits", n_train=300, n_test=100, images=True)
    model = ConvSpec.cnn((1, 8, 8), 2, 4, 10, pool=(1,))
    labels = ("lysep", "adam", "lysep-joint")
    cpu, gpu = (traces(ds, model, labels, d, iterations=8) for d in ("cpu", "cuda"))
    diff = (cpu[COLUMNS] - gpu[COLUMNS]).abs().max().fillna(0)
    assert (diff < 1e-6).all(), diff.to_dict()
