"""Full-batch gradient descent on F with a fixed step size (a baseline, docs/method.md "Baselines")."""

from __future__ import annotations

from typing import ClassVar

from lysep.core.state import State
from lysep.methods.base import BASELINE, HParam, Method, positive
from lysep.methods.space import Range


def init_state(problem, params, seeds: list[int], batch_size: int | None = None) -> State:
    """The baselines' state: a copy of theta_0, zero cost, and a per-seed minibatch sampler if batched."""
    import torch

    from lysep.core.batches import MinibatchSampler

    sampler = None if batch_size is None else MinibatchSampler(problem.n_train, batch_size, seeds, problem.device)
    return State(params=[(w.clone(), b.clone()) for w, b in params],
                 grad_evals=torch.zeros(params[0][0].shape[0], dtype=torch.float64), extra={"sampler": sampler})


class GD(Method):
    """Full-batch gradient descent on the training cross-entropy, fixed step size."""

    name: ClassVar[str] = "gd"
    family: ClassVar[str] = BASELINE
    HPARAMS: ClassVar[dict[str, HParam]] = {"lr": HParam(float, 0.1, **positive(), help="step size")}
    SEARCH: ClassVar[dict] = {"lr": Range(1e-3, 10.0, "log")}

    def init(self, problem, params, seeds):
        return init_state(problem, params, seeds)

    def step(self, problem, state):
        from lysep.core.optim import flat, loss_and_grads, unflat

        _, grads = loss_and_grads(state.params, problem.x_train, problem.y_train, self.activation)
        state.params = unflat([p - self.hp["lr"] * g for p, g in zip(flat(state.params), grads)])
        state.grad_evals += 1.0
