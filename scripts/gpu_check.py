"""CUDA check: every method runs on the GPU and gives the CPU's traces (float64), then timings.

    python scripts/gpu_check.py            # on a machine with an NVIDIA GPU; prints a table last
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from lysep.cell import Budget, run_cell
from lysep.datasets import load_dataset
from lysep.methods import make_method
from lysep.model import ModelSpec, init_params
from lysep.problem import Problem

METHODS = {"lysep": {}, "lysep-2nd": {"w_solver": "gauss_newton", "out_solver": "newton"},
           "lysep-joint": None, "adam": None, "sgd": None, "gd": None}


def methods() -> dict:
    out = {}
    for label, hp in METHODS.items():
        out[label] = make_method("lysep", **hp) if hp is not None else make_method(label)
    return out


def main() -> None:
    assert torch.cuda.is_available(), "no CUDA device"
    print("device:", torch.cuda.get_device_name(), "torch", torch.__version__)
    ds = load_dataset("circle", n_train=2000, n_test=1000)
    traces = {}
    for dev in ("cpu", "cuda"):
        p = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, dtype=torch.float64, device=dev)
        traces[dev] = run_cell(p, ModelSpec.fnn(2, 3, 10, 2), methods(), [0, 1, 2], Budget(iterations=20))
    cols = ["F", "J", "B", "test_acc", "grad_evals"]
    diff = (traces["cpu"][cols] - traces["cuda"][cols]).abs().max()
    print("max |cpu - cuda| over 20 iterations, float64:", diff.to_dict())
    assert (diff.fillna(0) < 1e-6).all(), diff
    rows = []
    for dev in ("cpu", "cuda"):
        p = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, dtype=torch.float32, device=dev)
        for depth, width in ((3, 10), (5, 20), (10, 50)):
            model = ModelSpec.fnn(2, depth, width, 2)
            seeds = list(range(10))
            p0 = init_params(model, seeds, torch.float32, dev)
            for label, m in methods().items():
                st = m.init(p, p0, seeds)
                m.step(p, st)
                ts = []
                for _ in range(5):
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    m.step(p, st)
                    if dev == "cuda":
                        torch.cuda.synchronize()
                    ts.append(time.perf_counter() - t0)
                rows.append({"device": dev, "depth": depth, "width": width, "method": label,
                             "ms_per_iteration": 1e3 * float(np.median(ts))})
    table = pd.DataFrame(rows).pivot_table(index=["depth", "width", "method"], columns="device",
                                           values="ms_per_iteration")
    table["cpu/cuda"] = table["cpu"] / table["cuda"]
    print(table.to_string(float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
