"""The lbfgs method is torch.optim.LBFGS on each seed's network: same iterates to float64 rounding, every
objective evaluation counted in grad_evals, seeds independent of each other."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lysep.core.lbfgs import cubic_min
from lysep.core.model import ModelSpec, forward, init_params
from lysep.core.objectives import cross_entropy
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method

from helpers import random_problem


def torch_lbfgs_reference(problem, model, seed: int, calls: int, **kw) -> tuple[list[torch.Tensor], list[int]]:
    """torch.optim.LBFGS on one seed's network (float64), ``calls`` step calls; the parameters and the number
    of closure calls after each step."""
    params = [t[0].clone().requires_grad_() for wb in init_params(model, [seed], torch.float64) for t in wb]
    opt = torch.optim.LBFGS(params, **kw)
    count = [0]

    def closure():
        opt.zero_grad()
        count[0] += 1
        pairs = [(params[i].unsqueeze(0), params[i + 1].unsqueeze(0)) for i in range(0, len(params), 2)]
        loss = cross_entropy(forward(pairs, problem.x_train, model.activation)[1], problem.y_train)[0]
        loss.backward()
        return loss

    states, counts = [], []
    for _ in range(calls):
        opt.step(closure)
        states.append(torch.cat([p.detach().reshape(-1) for p in params]))
        counts.append(count[0])
    return states, counts


def flat_seed(params, i: int) -> torch.Tensor:
    return torch.cat([t[i].reshape(-1) for wb in params for t in wb])


@pytest.mark.parametrize(("activation", "kw"), [
    ("tanh", {"max_iter": 20, "history_size": 100}),
    ("relu", {"max_iter": 7, "history_size": 3}),
    ("sigmoid", {"max_iter": 4, "max_eval": 9, "lr": 0.5, "history_size": 5}),
])
def test_lbfgs_matches_torch_optim_lbfgs_with_strong_wolfe(activation: str, kw: dict) -> None:
    prob = random_problem(n=50, d=3, k=3, seed=1)
    model = ModelSpec.fnn(3, 2, 6, 3, activation)
    method = make_method("lbfgs", activation=activation, **kw)
    seeds = [0, 4]
    state = method.init(prob, init_params(model, seeds, torch.float64), seeds)
    refs = {s: torch_lbfgs_reference(prob, model, s, 4, line_search_fn="strong_wolfe", **kw) for s in seeds}
    for call in range(4):
        method.step(prob, state)
        for i, s in enumerate(seeds):
            ref_x, ref_n = refs[s][0][call], refs[s][1][call]
            torch.testing.assert_close(flat_seed(state.params, i), ref_x, rtol=1e-10, atol=1e-12)
            assert state.grad_evals[i].item() == ref_n  # every closure call is one pass over the data


def test_lbfgs_without_line_search_matches_torch_fixed_steps() -> None:
    prob = random_problem(n=40, d=3, k=2, seed=3)
    model = ModelSpec.fnn(3, 1, 5, 2, "tanh")
    method = make_method("lbfgs", line_search="none", lr=0.2, max_iter=5)
    state = method.init(prob, init_params(model, [2], torch.float64), [2])
    ref, counts = torch_lbfgs_reference(prob, model, 2, 3, lr=0.2, max_iter=5)
    for call in range(3):
        method.step(prob, state)
        torch.testing.assert_close(flat_seed(state.params, 0), ref[call], rtol=1e-10, atol=1e-12)
        assert state.grad_evals[0].item() == counts[call]


def test_cubic_step_is_the_minimiser_of_a_cubic() -> None:
    # f(x) = (x - 1)^3 - 3 (x - 1) has its local minimiser at x = 2; interpolate from its values at 0 and 3
    f = lambda x: (x - 1) ** 3 - 3 * (x - 1)  # noqa: E731
    g = lambda x: 3 * (x - 1) ** 2 - 3  # noqa: E731
    assert cubic_min(0.0, f(0.0), g(0.0), 3.0, f(3.0), g(3.0)) == pytest.approx(2.0, abs=1e-12)
    assert cubic_min(3.0, f(3.0), g(3.0), 0.0, f(0.0), g(0.0)) == pytest.approx(2.0, abs=1e-12)
    assert cubic_min(0.0, f(0.0), g(0.0), 3.0, f(3.0), g(3.0), bounds=(2.5, 3.0)) == 2.5


def test_lbfgs_batched_equals_alone_and_fits_a_separable_problem(circle64) -> None:
    model = ModelSpec.fnn(2, 1, 8, 2)
    budget = Budget(iterations=5)
    both = run_cell(circle64, model, {"lbfgs": make_method("lbfgs")}, [0, 1], budget)
    alone = run_cell(circle64, model, {"lbfgs": make_method("lbfgs")}, [1], budget)
    np.testing.assert_allclose(both[both.seed == 1].F.to_numpy(), alone.F.to_numpy(), rtol=0, atol=1e-12)
    last = both[both.iteration == 5]
    assert (last.F < 0.5 * both[both.iteration == 0].F.to_numpy()).all()
    assert (both.groupby("seed").grad_evals.max() > 5).all()  # line-search evaluations are counted
