"""Counted work of one steady-state iteration: what a load on the machine cannot move.

For regression tracking (docs/benchmarks.md): a change that adds work changes these counts exactly,
however busy the machine is, where a timing on a shared 2-core machine moves by tens of percent.
Counted for one iteration after ``warmup`` iterations from theta_0 (the steady state), all seeds of
a cell batched:

- ``flops``: floating-point operations of matrix products and convolutions (``torch.utils.flop_counter``), and
  of the dense factorisations and solves of the second-order and MM blocks (``LINALG_FLOPS``: Cholesky
  ``n^3 / 3``, LU ``2 n^3 / 3``, a triangular solve ``n^2`` per right-hand side);
- ``activation_evals``: elements passed through an activation function (tanh, sigmoid, relu, gelu,
  softplus): each layer evaluation or Armijo trial is one pass over its layer;
- ``aten_ops``: tensor operations dispatched (a proxy for kernel launches, i.e. Python overhead on a GPU);
- ``syncs``: operations that make the host wait for the device (``.item()``, ``bool(tensor)``, ``torch.equal``,
  data-dependent shapes);
- ``bytes_allocated``: bytes of the new tensors the iteration produces (in-place results not counted);
- ``grad_evals``: the method's own cost accounting for the iteration (docs/method.md, cost).

The module only uses the public API of ``lysep`` (``make_method``, ``ModelSpec``, ``init_params``,
``Problem``, ``load_dataset``), so ``lysep track`` can run it against an older checkout.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

#: ATen operations that evaluate an activation function (forward)
ACTIVATION_OPS = frozenset({"tanh", "sigmoid", "relu", "gelu", "softplus"})
#: ATen operations after which the host must wait for the device's result
SYNC_OPS = frozenset({"_local_scalar_dense", "equal", "nonzero", "masked_select", "unique", "_unique2",
                      "is_nonzero", "allclose"})
COUNTS = ("flops", "activation_evals", "aten_ops", "syncs", "bytes_allocated", "grad_evals")
#: where the public names this file and ratios.py use lived in checkouts older than the layer packages
FLAT_API = {"init_params": "lysep.model", "ConvSpec": "lysep.model", "ModelSpec": "lysep.model",
            "Problem": "lysep.problem", "load_dataset": "lysep.datasets", "make_method": "lysep.methods"}


def adopt_flat_api() -> None:
    """Give the ``lysep`` on the path the public names the measuring code uses, when it is a checkout older than
    the layer packages (``lysep track --base OLD`` and the asv history measure such commits with this checkout's
    measuring code): taken from the flat modules where they lived. A current ``lysep`` has them already. A name
    the checkout does not have yet (``ConvSpec`` before the CNNs, ``load_dataset`` before ``lysep.datasets``) is
    left out (so is one an editable install would serve from another tree), so what needs only the others (an
    FNN's counts) is still measured there; what needs it fails with an AttributeError naming it (the asv
    benchmarks skip such a commit, ``benchmarks.common.need``)."""
    import importlib
    from pathlib import Path

    import lysep

    if hasattr(lysep, "PUBLIC"):
        return
    home = Path(lysep.__file__).resolve().parent
    for name, module in FLAT_API.items():
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
                continue  # the flat module itself does not exist at this commit
            raise
        if not Path(found.__file__).resolve().is_relative_to(home):
            continue  # served from another tree (an editable install's finder): not the checkout's own
        if hasattr(found, name):
            setattr(lysep, name, getattr(found, name))


def _batch(shape) -> int:
    """The number of matrices in a batch of shape (..., n, n)."""
    out = 1
    for d in shape[:-2]:
        out *= d
    return out


def _rhs(b_shape, n: int) -> int:
    """Right-hand sides of a solve with ``B`` of shape (..., n, k), or (..., n) for one vector."""
    return b_shape[-1] if len(b_shape) >= 2 and b_shape[-2] == n else 1


def _cholesky_flops(a_shape, *args, out_shape=None, **kwargs) -> int:
    return _batch(a_shape) * a_shape[-1] ** 3 // 3


def _triangular_flops(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    n = a_shape[-1]
    return max(_batch(a_shape), _batch(b_shape)) * n * n * _rhs(b_shape, n)


def _cholesky_solve_flops(b_shape, l_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _triangular_flops(l_shape, b_shape)


def _lu_solve_flops(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """LU factorisation ``2 n^3 / 3`` and the two triangular solves (``torch.linalg.solve``)."""
    return _batch(a_shape) * 2 * a_shape[-1] ** 3 // 3 + 2 * _triangular_flops(a_shape, b_shape)


#: flop formulas of the dense linear algebra ``torch.utils.flop_counter`` does not count (by input shapes)
LINALG_FLOPS = {torch.ops.aten.linalg_cholesky_ex: _cholesky_flops,
                torch.ops.aten.linalg_solve_triangular: _triangular_flops,
                torch.ops.aten.cholesky_solve: _cholesky_solve_flops,
                torch.ops.aten._linalg_solve_ex: _lu_solve_flops}


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


class OpCounter(TorchDispatchMode):
    """Counts dispatched ATen operations: per name, activation elements, host syncs and new bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()
        self.activation_evals = 0
        self.bytes_allocated = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        self.ops[name] += 1
        inputs = {t.untyped_storage().data_ptr() for t in _tensors(args) if t.layout == torch.strided}
        for t in _tensors(out):
            if name in ACTIVATION_OPS:
                self.activation_evals += t.numel()
            if t.layout == torch.strided and t.untyped_storage().data_ptr() not in inputs:
                self.bytes_allocated += t.numel() * t.element_size()
        return out

    @property
    def syncs(self) -> int:
        return sum(n for name, n in self.ops.items() if name in SYNC_OPS)


def count_step(method: Any, problem: Any, state: Any) -> dict[str, float]:
    """The counts of one ``method.step`` on ``state`` (the step is taken: ``state`` advances)."""
    before = float(state.grad_evals.sum())
    with FlopCounterMode(display=False, custom_mapping=LINALG_FLOPS) as flops, OpCounter() as ops:
        method.step(problem, state)
    return {"flops": float(flops.get_total_flops()), "activation_evals": float(ops.activation_evals),
            "aten_ops": float(sum(ops.ops.values())), "syncs": float(ops.syncs),
            "bytes_allocated": float(ops.bytes_allocated), "grad_evals": float(state.grad_evals.sum()) - before}


def steady_state(method: Any, problem: Any, params0: Any, seeds: list[int], warmup: int) -> Any:
    """``method``'s state after ``warmup`` iterations from ``params0`` (trace bookkeeping off, as in a
    run's unrecorded iterations)."""
    state = method.init(problem, params0, seeds)
    state.record = False
    for _ in range(warmup):
        method.step(problem, state)
    return state


def count_cell(name: str, hparams: dict, problem: Any, model: Any, seeds: list[int], warmup: int = 3) -> dict:
    """Counts of iteration ``warmup + 1`` of method ``name`` on one cell (all ``seeds`` batched)."""
    from lysep import init_params, make_method

    method = make_method(name, activation=model.activation, **hparams)
    params0 = init_params(model, seeds, problem.dtype, problem.device)
    state = steady_state(method, problem, params0, seeds, warmup)
    return count_step(method, problem, state)


def main(argv: list[str] | None = None) -> int:
    """``python lysep/measure/counters.py CONFIG_JSON``: print the counts of every (method, cell) of a config as JSON.

    The config: ``{"dataset": {...load_dataset kwargs...}, "kind": "fnn"|"cnn", "cells": [[depth, width], ...],
    "seeds": [...], "methods": {label: {"name": ..., **hparams}}, "warmup": k}``.
    """
    from lysep import ConvSpec, ModelSpec, Problem, load_dataset

    cfg = json.loads((argv or sys.argv[1:])[0])
    cnn = cfg.get("kind") == "cnn"
    ds = load_dataset(**cfg["dataset"], images=cnn)
    problem = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes)
    rows = []
    for depth, width in cfg["cells"]:
        model = (ConvSpec.cnn(tuple(problem.x_train.shape[1:]), depth, width, problem.n_classes) if cnn
                 else ModelSpec.fnn(problem.in_dim, depth, width, problem.n_classes))
        for label, m in cfg["methods"].items():
            hp = {k: v for k, v in m.items() if k != "name"}
            counts = count_cell(m["name"], hp, problem, model, list(cfg["seeds"]), cfg.get("warmup", 3))
            rows.append({"method": label, "depth": depth, "width": width, **counts})
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
