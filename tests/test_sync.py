"""No host synchronisation in a steady-state LySep iteration (what a GPU, and a CUDA graph, need).

Every conversion of a tensor to a Python value (``.item()``, ``bool``/``int``/``float`` of a tensor,
``.tolist()``, ``.cpu()``, ``.numpy()``), every comparison answered on the host (``torch.equal``) and every
operation whose output shape depends on tensor values (``nonzero``, ``masked_select``, ``unique``, boolean-
mask indexing) makes a GPU wait for the host. The counter wraps them all; on the CPU this checks the
structure of the code, and the same test holds on any device. The runner's bookkeeping (trace rows,
budget checks) happens between iterations and is not part of one.

The default LySep keeps the sequential Armijo rule (the step-rule study, results/PERFORMANCE.md, did not
justify changing it), which waits on the host once per trial by design (the positive control below);
the sync-free configurations are Armijo with its trials in one round (``armijo_batch >= max_backtracks``),
the ``lipschitz`` rule and the ``mm`` steps (one Cholesky per block solve, factorised without an error check).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from lysep.core.model import ConvSpec, ModelSpec, init_params
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.methods import make_method

from helpers import random_problem

TENSOR_METHODS = ("item", "__bool__", "__int__", "__float__", "__index__", "tolist", "cpu", "numpy", "__array__",
                  "nonzero", "masked_select", "unique", "equal")
TORCH_FUNCTIONS = ("equal", "nonzero", "masked_select", "unique", "is_nonzero", "argwhere")


def _is_bool_mask(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


@contextmanager
def host_syncs() -> Iterator[list[str]]:
    """Record every host synchronisation point called inside the block (by name)."""
    calls: list[str] = []
    saved = [(torch.Tensor, n, torch.Tensor.__dict__.get(n)) for n in (*TENSOR_METHODS, "__getitem__")]
    saved += [(torch, n, getattr(torch, n)) for n in TORCH_FUNCTIONS]

    def counting(name: str, fn):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper

    getitem = torch.Tensor.__getitem__

    def checked_getitem(self, index):
        if _is_bool_mask(index):
            calls.append("boolean-mask index")
        return getitem(self, index)

    try:
        for name in TENSOR_METHODS:
            setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
        for name in TORCH_FUNCTIONS:
            setattr(torch, name, counting(f"torch.{name}", getattr(torch, name)))
        torch.Tensor.__getitem__ = checked_getitem
        yield calls
    finally:
        for owner, name, value in saved:
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)


def steady_state_syncs(problem: Problem, model, method, record: bool, warmup: int = 3) -> list[str]:
    """Host synchronisations during one iteration after ``warmup`` ones (the runner's flag ``record`` as given)."""
    seeds = [0, 1, 2]
    state = method.init(problem, init_params(model, seeds, problem.dtype, problem.device), seeds)
    state.record = record
    for _ in range(warmup):
        method.step(problem, state)
    with host_syncs() as calls:
        method.step(problem, state)
    return calls


def test_the_counter_sees_every_kind_of_synchronisation() -> None:
    t = torch.ones(3)
    with host_syncs() as calls:
        t.sum().item()
        bool(t.all())
        float(t[0])
        t.tolist()
        torch.equal(t, t)
        t[t > 0]
        t.nonzero()
    assert calls == ["item", "__bool__", "__float__", "tolist", "torch.equal", "boolean-mask index", "nonzero"]
    assert torch.Tensor.__getitem__ is not None and t[t > 0].shape == (3,)  # restored


LIP = {"u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz"}
CASES = {
    "lipschitz": LIP,
    "lipschitz-continuation": {**LIP, "schedule": "continuation", "beta": 1.0, "lipschitz_step": 1.9},
    "lipschitz-adaptive": {**LIP, "schedule": "adaptive", "beta": 0.1, "u_steps": 2, "w_steps": 2},
    "armijo-one-round": {"armijo_batch": 4, "max_backtracks": 4},
    "armijo-one-round-lipschitz-w": {"armijo_batch": 3, "max_backtracks": 3, "w_solver": "lipschitz",
                                     "parallel_w": True},
    "mm": {"u_solver": "mm", "w_solver": "lipschitz", "out_solver": "mm", "u_steps": 2, "w_steps": 2},
    "mm-out-armijo-one-round": {"out_solver": "mm", "armijo_batch": 4, "max_backtracks": 4},
}


@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_steady_state_lysep_iteration_never_waits_on_the_host(case: str, activation: str, record: bool) -> None:
    prob = random_problem(n=50, d=3, k=3, seed=1, dtype=torch.float32)
    model = ModelSpec.fnn(3, 4, 6, 3, activation)
    assert steady_state_syncs(prob, model, make_method("lysep", activation=activation, **CASES[case]), record) == []


@pytest.mark.parametrize("case", ["lipschitz", "lipschitz-adaptive", "armijo-one-round", "mm"])
def test_a_steady_state_lysep_cnn_iteration_never_waits_on_the_host(case: str) -> None:
    ds = load_dataset("digits", n_train=60, n_test=20, images=True)
    prob = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes)
    model = ConvSpec.cnn((1, 8, 8), 2, 3, 10, pool=(2,))
    assert steady_state_syncs(prob, model, make_method("lysep", **CASES[case]), record=True) == []


@pytest.mark.parametrize("name", ["lysep-joint", "adam", "gd"])
def test_the_other_full_batch_methods_never_wait_on_the_host(name: str) -> None:
    prob = random_problem(n=50, d=3, k=3, seed=2, dtype=torch.float32)
    assert steady_state_syncs(prob, ModelSpec.fnn(3, 3, 5, 3), make_method(name), record=True) == []


def test_the_sequential_armijo_rule_waits_on_the_host_once_per_trial() -> None:
    """The positive control: the counter sees the syncs the sequential rule (the default) has by design."""
    prob = random_problem(n=50, d=3, k=3, seed=1, dtype=torch.float32)
    default = make_method("lysep")
    assert (default.hp["u_solver"], default.hp["w_solver"], default.hp["out_solver"], default.hp["armijo_batch"]) == \
        ("gd", "gd", "gd", 1)
    calls = steady_state_syncs(prob, ModelSpec.fnn(3, 3, 5, 3), default, record=False)
    assert len(calls) >= 2 * 7 and set(calls) == {"__int__"}
