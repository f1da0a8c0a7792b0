"""Minibatch SGD with heavy-ball or Nesterov momentum on F (a baseline, docs/method.md "Baselines")."""

from __future__ import annotations

from typing import ClassVar

from lysep.methods.base import BASELINE, HParam, Method, positive, positive_int, unit_interval
from lysep.methods.gd import init_state
from lysep.methods.space import Range


class SGD(Method):
    """Minibatch SGD with (heavy-ball or Nesterov) momentum on the training cross-entropy."""

    name: ClassVar[str] = "sgd"
    family: ClassVar[str] = BASELINE
    HPARAMS: ClassVar[dict[str, HParam]] = {
        "lr": HParam(float, 0.05, **positive(), help="step size"),
        "momentum": HParam(float, 0.9, **unit_interval(), help="momentum factor (0: plain SGD)"),
        "batch_size": HParam(int, 128, **positive_int(), help="samples per minibatch (per seed)"),
        "nesterov": HParam(bool, False, help="Nesterov momentum instead of heavy ball"),
    }
    SEARCH: ClassVar[dict] = {"lr": Range(1e-3, 3.0, "log"), "momentum": Range(0.0, 0.99, "linear")}

    def init(self, problem, params, seeds):
        state = init_state(problem, params, seeds, self.hp["batch_size"])
        state.extra["bufs"] = [None] * (2 * len(params))
        return state

    def step(self, problem, state):
        from lysep.core.batches import batch
        from lysep.core.optim import flat, loss_and_grads, sgd_update, unflat

        x, y, cost = batch(problem, state.extra["sampler"])
        _, grads = loss_and_grads(state.params, x, y, self.activation)
        out, bufs = [], []
        for p, g, buf in zip(flat(state.params), grads, state.extra["bufs"]):
            p, buf = sgd_update(p, g, buf, self.hp["lr"], self.hp["momentum"], self.hp["nesterov"])
            out.append(p)
            bufs.append(buf)
        state.params, state.extra["bufs"] = unflat(out), bufs
        state.grad_evals += cost
