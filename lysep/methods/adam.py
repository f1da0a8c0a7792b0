"""Adam on F, full batch or minibatch (a baseline, docs/method.md "Baselines")."""

from __future__ import annotations

from typing import ClassVar

from lysep.methods.base import BASELINE, HParam, Method, nonnegative, positive, positive_int, unit_interval
from lysep.methods.gd import init_state
from lysep.methods.space import Range


class Adam(Method):
    """Adam on the training cross-entropy, full batch (``batch_size`` absent) or minibatch."""

    name: ClassVar[str] = "adam"
    family: ClassVar[str] = BASELINE
    HPARAMS: ClassVar[dict[str, HParam]] = {
        "lr": HParam(float, 1e-2, **positive(), help="step size"),
        "beta1": HParam(float, 0.9, **unit_interval(), help="decay of the first moment"),
        "beta2": HParam(float, 0.999, **unit_interval(), help="decay of the second moment"),
        "eps": HParam(float, 1e-8, **nonnegative(), help="added to the root of the second moment"),
        "batch_size": HParam(int, None, **positive_int(), help="samples per minibatch (absent: full batch)"),
    }
    SEARCH: ClassVar[dict] = {"lr": Range(1e-4, 0.3, "log")}

    def init(self, problem, params, seeds):
        from lysep.core.optim import adam_moments, flat

        state = init_state(problem, params, seeds, self.hp["batch_size"])
        state.extra["adam"] = adam_moments(flat(params))
        return state

    def step(self, problem, state):
        from lysep.core.batches import batch
        from lysep.core.optim import adam_step, flat, loss_and_grads, unflat

        x, y, cost = batch(problem, state.extra["sampler"])
        _, grads = loss_and_grads(state.params, x, y, self.activation)
        hp = self.hp
        state.params = unflat(adam_step(flat(state.params), grads, state.extra["adam"], hp["lr"], hp["beta1"],
                                         hp["beta2"], hp["eps"]))
        state.grad_evals += cost
