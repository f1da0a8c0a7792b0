"""Speed and memory of the solvers: asv ``time_`` and ``peakmem_`` benchmarks.

Data: the circle set (N = 2000), an FNN of the given depth and width (tanh), 10 seeds batched,
as in one grid cell of an experiment. The data are built once per suite run in each class's
``setup_cache``; everything else but the measured work in ``setup``. asv re-runs ``setup`` before
every timed call, so each sample times the same first iteration from ``theta_0``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from .common import (
    ACTIVATION,
    DEPTHS,
    METHODS,
    N_SEEDS,
    SEEDS,
    WIDTHS,
    dataset_arrays,
    device,
    fnn_params,
    need,
    problem_of,
    slowdown,
    sync,
)

#: outer iterations of the LySep cell whose peak memory is measured (metrics are recorded after each)
CELL_ITERATIONS = 2
#: size of the perturbation of U away from the forward pass, so that every residual of J and B is nonzero
U_NOISE = 0.01
#: the digits split of the paper's Example 2 (1x8x8 images)
DIGITS = {"n_train": 1200, "n_test": 597, "seed": 0, "images": True}

#: (method, model, device) whose one-off first-call costs were already paid in this process
_warmed: set[tuple] = set()


def run_slowed(step: Callable[[], None], factor: float, dev: torch.device) -> None:
    """Run ``step`` as if it were ``factor`` times slower: ``floor(factor)`` runs, then sleep the fraction.

    The sleep is the fractional part of the factor times the duration of the last run.
    """
    whole = int(factor)
    last = 0.0
    for _ in range(whole):
        t0 = time.perf_counter()
        step()
        sync(dev)
        last = time.perf_counter() - t0
    if factor > whole:
        time.sleep((factor - whole) * last)


def ready_state(method: str, pb: Any, params0: Any, key: tuple) -> tuple[Any, Any]:
    """The method and its state at ``theta_0``; first-call costs (allocator, kernels) paid once per process."""
    m = need("lysep.methods", "make_method")(method, activation=ACTIVATION)
    key = (*key, str(pb.device))
    if key not in _warmed:
        m.step(pb, m.init(pb, params0, SEEDS))
        _warmed.add(key)
    state = m.init(pb, params0, SEEDS)
    sync(pb.device)
    return m, state


class MethodStep:
    """Wall time of one outer iteration of each method (LySep: U step + W step), all seeds batched.

    Baselines use their default hyperparameters (SGD: minibatches of 128). The timed call is the first
    iteration from ``theta_0``; ``LYSEP_BENCH_SLOWDOWN`` scales it (see ``common.slowdown``).
    """

    params = (METHODS, DEPTHS, WIDTHS)
    param_names = ["method", "depth", "width"]
    number = 1
    repeat = (2, 5, 4.0)
    warmup_time = 0.0
    timeout = 240

    def setup_cache(self) -> dict[str, Any]:
        return dataset_arrays()

    def setup(self, cache: dict[str, Any], method: str, depth: int, width: int) -> None:
        self.dev = device()
        self.problem = problem_of(cache, str(self.dev))
        _, params0 = fnn_params(self.problem, depth, width)
        self.method, self.state = ready_state(method, self.problem, params0, (method, depth, width))
        self.factor = slowdown()

    def time_step(self, cache: dict[str, Any], method: str, depth: int, width: int) -> None:
        run_slowed(lambda: self.method.step(self.problem, self.state), self.factor, self.dev)


class SteadyStep(MethodStep):
    """Wall time of a steady-state iteration: iteration ``WARMUP + 1`` after ``WARMUP`` from ``theta_0``
    (step sizes adapted, the fused sweep's layer cache full), all seeds batched; same knobs as MethodStep."""

    WARMUP = 3

    def setup(self, cache: dict[str, Any], method: str, depth: int, width: int) -> None:
        super().setup(cache, method, depth, width)
        self.state.record = False
        for _ in range(self.WARMUP):
            self.method.step(self.problem, self.state)
        sync(self.dev)


class Objectives:
    """Wall time of evaluating the LySep loss ``J`` and the certificate ``B`` (spectral norms), all seeds.

    The point is ``theta_0`` with ``U`` = the forward pass plus small fixed noise, so every residual counts.
    """

    params = (DEPTHS, WIDTHS)
    param_names = ["depth", "width"]
    number = 1
    repeat = (3, 20, 2.0)
    warmup_time = 0.0
    timeout = 120

    def setup_cache(self) -> dict[str, Any]:
        return dataset_arrays()

    def setup(self, cache: dict[str, Any], depth: int, width: int) -> None:
        self.lysep_loss, self.certificate = need("lysep.core.objectives|lysep.objectives", "lysep_loss", "certificate")
        self.dev = device()
        self.problem = problem_of(cache, str(self.dev))
        self.params, self.U, self.betas = _point(self.problem, depth, width)
        sync(self.dev)

    def time_lysep_loss(self, cache: dict[str, Any], depth: int, width: int) -> None:
        with torch.no_grad():
            self.lysep_loss(self.params, self.U, self.problem.x_train, self.problem.y_train, self.betas, ACTIVATION)
        sync(self.dev)

    def time_certificate(self, cache: dict[str, Any], depth: int, width: int) -> None:
        with torch.no_grad():
            self.certificate(self.params, self.U, self.problem.x_train, self.problem.y_train, ACTIVATION, "spectral")
        sync(self.dev)


def _point(pb: Any, depth: int, width: int) -> tuple:
    """``(theta_0, U, betas)`` for ``Objectives``: U off the forward pass by fixed noise."""
    forward = need("lysep.core.model|lysep.model", "forward")
    _, params0 = fnn_params(pb, depth, width)
    with torch.no_grad():
        hidden, _ = forward(params0, pb.x_train, ACTIVATION)
    gen = torch.Generator().manual_seed(0)
    U = [h + U_NOISE * torch.randn(h.shape, generator=gen, dtype=h.dtype).to(h.device) for h in hidden]
    return params0, U, torch.ones(N_SEEDS, depth, dtype=pb.dtype, device=pb.device)


class CellMemory:
    """Peak resident memory (of the whole process) while one LySep grid cell runs through ``run_cell``.

    Two outer iterations with the trace metrics (F, accuracies, J, B, residuals) after each: the
    working set of a cell of an experiment. The baseline includes the imported libraries.
    """

    params = (DEPTHS, WIDTHS)
    param_names = ["depth", "width"]
    timeout = 240

    def setup_cache(self) -> dict[str, Any]:
        return dataset_arrays()

    def setup(self, cache: dict[str, Any], depth: int, width: int) -> None:
        self.run_cell, self.Budget = need("lysep.harness.cell|lysep.cell", "run_cell", "Budget")
        self.make_method = need("lysep.methods", "make_method")
        self.dev = device()
        self.problem = problem_of(cache, str(self.dev))
        self.spec, _ = fnn_params(self.problem, depth, width)

    def peakmem_lysep_cell(self, cache: dict[str, Any], depth: int, width: int) -> None:
        methods = {"lysep": self.make_method("lysep", activation=ACTIVATION)}
        self.run_cell(self.problem, self.spec, methods, SEEDS, self.Budget(iterations=CELL_ITERATIONS))


class CnnStep:
    """Wall time of one iteration of LySep-CNN and Adam on digits images (N = 1200, 1x8x8), 10 seeds batched.

    The paper's Example 2 grid: L1 conv layers of C channels (3x3, padding 1), then a dense classifier.
    Skipped at commits without ``lysep.core.model.ConvSpec``; ``LYSEP_BENCH_SLOWDOWN`` scales it like ``MethodStep``.
    """

    params = (["lysep", "adam"], [2, 4], [4, 8])
    param_names = ["method", "conv_layers", "channels"]
    number = 1
    repeat = (2, 3, 6.0)
    warmup_time = 0.0
    timeout = 300

    def setup_cache(self) -> dict[str, Any]:
        return dataset_arrays("digits", **DIGITS)

    def setup(self, cache: dict[str, Any], method: str, conv_layers: int, channels: int) -> None:
        ConvSpec, init_params = need("lysep.core.model|lysep.model", "ConvSpec", "init_params")
        self.dev = device()
        self.problem = problem_of(cache, str(self.dev))
        spec = ConvSpec.cnn((1, 8, 8), conv_layers, channels, 10, ACTIVATION)
        params0 = init_params(spec, SEEDS, self.problem.dtype, self.problem.device)
        self.method, self.state = ready_state(method, self.problem, params0, ("cnn", conv_layers, channels))
        self.factor = slowdown()

    def time_step(self, cache: dict[str, Any], method: str, conv_layers: int, channels: int) -> None:
        run_slowed(lambda: self.method.step(self.problem, self.state), self.factor, self.dev)


#: training-set sizes of the minibatch cell whose peak memory is measured (U grows linearly with N)
MINIBATCH_N = [20000, 100000]


class MinibatchCellMemory:
    """Peak resident memory (of the whole process) while one minibatch LySep cell runs through ``run_cell``.

    Circle data at N = 20000 and 100000, an FNN of depth 5 and width 20, 10 seeds batched, minibatches
    of 128: ``U`` is stored for all N rows (N x 100 x 10 seeds x 4 bytes), each iteration touches one
    batch of it, and the trace's F, J and B are computed on the full training set in row chunks after
    each of the two iterations. Skipped at commits without the ``lysep-minibatch`` method.
    """

    params = (MINIBATCH_N,)
    param_names = ["n_train"]
    timeout = 300

    def setup_cache(self) -> dict[int, dict[str, Any]]:
        return {n: dataset_arrays(n_train=n) for n in MINIBATCH_N}

    def setup(self, cache: dict[int, dict[str, Any]], n_train: int) -> None:
        self.run_cell, self.Budget = need("lysep.harness.cell|lysep.cell", "run_cell", "Budget")
        methods = need("lysep.methods", "METHODS")
        if "lysep-minibatch" not in methods:
            raise NotImplementedError("no lysep-minibatch method at this commit")
        self.make_method = need("lysep.methods", "make_method")
        self.problem = problem_of(cache[n_train], str(device()))
        self.spec, _ = fnn_params(self.problem, 5, 20)

    def peakmem_minibatch_lysep_cell(self, cache: dict[int, dict[str, Any]], n_train: int) -> None:
        methods = {"lysep-minibatch": self.make_method("lysep-minibatch", activation=ACTIVATION, batch_size=128)}
        self.run_cell(self.problem, self.spec, methods, SEEDS, self.Budget(iterations=CELL_ITERATIONS))
