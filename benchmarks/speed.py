"""Speed and memory of the solvers: asv ``time_`` and ``peakmem_`` benchmarks.

Data: the circle set (N = 2000), an FNN of the given depth and width (tanh), 10 seeds batched,
as in one grid cell of an experiment. Everything but the measured work is built in ``setup``;
asv re-runs ``setup`` before every timed call, so each sample times the same first iteration from
``theta_0`` (data and ``theta_0`` are built once per process and reused).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .common import (
    ACTIVATION,
    DEPTHS,
    METHODS,
    N_SEEDS,
    SEEDS,
    WIDTHS,
    device,
    initial_params,
    need,
    problem,
    slowdown,
    sync,
)

#: outer iterations of the LySep cell whose peak memory is measured (metrics are recorded after each)
CELL_ITERATIONS = 2
#: size of the perturbation of U away from the forward pass, so that every residual of J and B is nonzero
U_NOISE = 0.01

#: (method, depth, width, device) whose one-off first-call costs were already paid in this process
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

    def setup(self, method: str, depth: int, width: int) -> None:
        make_method = need("lysep.methods", "make_method")
        self.dev = device()
        self.problem = problem(dev=str(self.dev))
        _, params0 = initial_params(depth, width, dev=str(self.dev))
        self.method = make_method(method, activation=ACTIVATION)
        self.factor = slowdown()
        key = (method, depth, width, str(self.dev))
        if key not in _warmed:  # pay allocator and first-call costs outside the samples, once per process
            warm = self.method.init(self.problem, params0, SEEDS)
            self.method.step(self.problem, warm)
            _warmed.add(key)
        self.state = self.method.init(self.problem, params0, SEEDS)
        sync(self.dev)

    def time_step(self, method: str, depth: int, width: int) -> None:
        run_slowed(lambda: self.method.step(self.problem, self.state), self.factor, self.dev)


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

    def setup(self, depth: int, width: int) -> None:
        self.lysep_loss, self.certificate = need("lysep.objectives", "lysep_loss", "certificate")
        self.dev = device()
        self.problem = problem(dev=str(self.dev))
        self.params, self.U, self.betas = _point(depth, width, str(self.dev))
        sync(self.dev)

    def time_lysep_loss(self, depth: int, width: int) -> None:
        with torch.no_grad():
            self.lysep_loss(self.params, self.U, self.problem.x_train, self.problem.y_train, self.betas, ACTIVATION)
        sync(self.dev)

    def time_certificate(self, depth: int, width: int) -> None:
        with torch.no_grad():
            self.certificate(self.params, self.U, self.problem.x_train, self.problem.y_train, ACTIVATION, "spectral")
        sync(self.dev)


_points: dict[tuple, tuple] = {}


def _point(depth: int, width: int, dev: str) -> tuple:
    """``(theta_0, U, betas)`` for ``Objectives``, built once per process."""
    key = (depth, width, dev)
    if key not in _points:
        forward = need("lysep.model", "forward")
        pb = problem(dev=dev)
        _, params0 = initial_params(depth, width, dev=dev)
        with torch.no_grad():
            hidden, _ = forward(params0, pb.x_train, ACTIVATION)
        gen = torch.Generator().manual_seed(0)
        U = [h + U_NOISE * torch.randn(h.shape, generator=gen, dtype=h.dtype).to(h.device) for h in hidden]
        betas = torch.ones(N_SEEDS, depth, dtype=pb.dtype, device=pb.device)
        _points[key] = (params0, U, betas)
    return _points[key]


class CellMemory:
    """Peak resident memory (of the whole process) while one LySep grid cell runs through ``run_cell``.

    Two outer iterations with the trace metrics (F, accuracies, J, B, residuals) after each: the
    working set of a cell of an experiment. The baseline includes the imported libraries.
    """

    params = (DEPTHS, WIDTHS)
    param_names = ["depth", "width"]
    timeout = 240

    def setup(self, depth: int, width: int) -> None:
        self.run_cell, self.Budget = need("lysep.cell", "run_cell", "Budget")
        self.make_method = need("lysep.methods", "make_method")
        self.dev = device()
        self.problem = problem(dev=str(self.dev))
        self.spec, _ = initial_params(depth, width, dev=str(self.dev))

    def peakmem_lysep_cell(self, depth: int, width: int) -> None:
        methods = {"lysep": self.make_method("lysep", activation=ACTIVATION)}
        self.run_cell(self.problem, self.spec, methods, SEEDS, self.Budget(iterations=CELL_ITERATIONS))


class CnnStep:
    """Wall time of one iteration of LySep-CNN and Adam on digits images (N = 1200, 1x8x8), 10 seeds batched.

    The paper's Example 2 grid: L1 conv layers of C channels (3x3, padding 1), then a dense classifier.
    Skipped at commits without ``lysep.model.ConvSpec``.
    """

    params = (["lysep", "adam"], [2, 4], [4, 8])
    param_names = ["method", "conv_layers", "channels"]
    number = 1
    repeat = (2, 3, 6.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, method: str, conv_layers: int, channels: int) -> None:
        make_method = need("lysep.methods", "make_method")
        ConvSpec, init_params = need("lysep.model", "ConvSpec", "init_params")
        self.dev = device()
        self.problem = _digits(str(self.dev))
        spec = ConvSpec.cnn((1, 8, 8), conv_layers, channels, 10, ACTIVATION)
        params0 = init_params(spec, SEEDS, self.problem.dtype, self.problem.device)
        self.method = make_method(method, activation=ACTIVATION)
        key = ("cnn", method, conv_layers, channels, str(self.dev))
        if key not in _warmed:
            warm = self.method.init(self.problem, params0, SEEDS)
            self.method.step(self.problem, warm)
            _warmed.add(key)
        self.state = self.method.init(self.problem, params0, SEEDS)
        sync(self.dev)

    def time_step(self, method: str, conv_layers: int, channels: int) -> None:
        self.method.step(self.problem, self.state)
        sync(self.dev)


_digit_problems: dict[str, object] = {}


def _digits(dev: str) -> object:
    """scikit-learn's digits as standardized 1x8x8 images (1200 train / 597 test), built once per process."""
    if dev not in _digit_problems:
        load_dataset = need("lysep.datasets", "load_dataset")
        Problem = need("lysep.problem", "Problem")
        ds = load_dataset("digits", n_train=1200, n_test=597, seed=0, images=True)
        _digit_problems[dev] = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=10,
                                                   device=dev)
    return _digit_problems[dev]
