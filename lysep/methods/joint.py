"""lysep-joint: Adam on the LySep loss J over all of (theta, U) at once (method.md section 4).

The usual practical shortcut: no alternation and no sufficient-decrease guarantee, but one
fused gradient of J per step. Same weight schedules, U_0, trace columns and certificate as LySep.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from lysep.methods.base import HParam, State, check_hparams, nonnegative, positive, unit_interval
from lysep.methods.baselines import adam_update
from lysep.methods.lysep import LySep, auxiliary_metrics
from lysep.model import Params, forward
from lysep.objectives import NORMS, lysep_loss
from lysep.problem import Problem
from lysep.schedules import SCHEDULES, make_schedule


class LySepJoint:
    """Adam on J(theta, U) with a beta schedule applied between steps."""

    name: ClassVar[str] = "lysep-joint"
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # defaults: the best lysep-joint setting of the tuning study (results/study_lysep/README.md)
        "schedule": HParam(str, "continuation", choices=SCHEDULES),
        "beta": HParam(float, 1.0, **positive()),
        "rho": HParam(float, 1.005, check=lambda v: v >= 1.0, expect="a number >= 1"),
        "beta_max": LySep.HPARAMS["beta_max"],
        "norm": LySep.HPARAMS["norm"],
        "bound_norm": HParam(str, "spectral", choices=NORMS),
        "lr": HParam(float, 3e-3, **positive()),
        "beta1": HParam(float, 0.9, **unit_interval()),
        "beta2": HParam(float, 0.999, **unit_interval()),
        "eps": HParam(float, 1e-8, **nonnegative()),
    }

    def __init__(self, activation: str = "tanh", **hp):
        self.hp = check_hparams(self.name, self.HPARAMS, hp)
        self.activation = activation
        self.schedule = make_schedule(self.hp["schedule"], beta=self.hp["beta"], rho=self.hp["rho"],
                                      beta_max=self.hp["beta_max"], norm=self.hp["norm"], activation=activation)

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        params = [(w.clone(), b.clone()) for w, b in params]
        with torch.no_grad():
            hidden, _ = forward(params, problem.x_train, self.activation)
        U = [h.clone() for h in hidden]
        leaves = [t for wb in params for t in wb] + U
        extra = {"U": U, "betas": self.schedule(None, params), "k": 0, "J_start": None, "J_last": None,
                 "m": [torch.zeros_like(t) for t in leaves], "v": [torch.zeros_like(t) for t in leaves]}
        return State(params=params, grad_evals=torch.zeros(params[0][0].shape[0], dtype=torch.float64), extra=extra)

    def step(self, problem: Problem, state: State) -> None:
        ex, hp = state.extra, self.hp
        if ex["k"] > 0:
            ex["betas"] = self.schedule(ex["betas"], state.params)
            ex["J_last"] = None
        n_p = 2 * len(state.params)
        leaves = [t.detach().requires_grad_() for wb in state.params for t in wb] + \
                 [u.detach().requires_grad_() for u in ex["U"]]
        with torch.enable_grad():
            params = [(leaves[i], leaves[i + 1]) for i in range(0, n_p, 2)]
            J = lysep_loss(params, leaves[n_p:], problem.x_train, problem.y_train, ex["betas"], self.activation)
            grads = torch.autograd.grad(J.sum(), leaves)
        ex["J_start"] = J.detach()  # computed for the gradient anyway
        ex["k"] += 1
        out = []
        with torch.no_grad():
            for i, (p, g) in enumerate(zip(leaves, grads)):
                p, ex["m"][i], ex["v"][i] = adam_update(p.detach(), g, ex["m"][i], ex["v"][i], ex["k"], hp["lr"],
                                                        hp["beta1"], hp["beta2"], hp["eps"])
                out.append(p)
        state.params = [(out[i], out[i + 1]) for i in range(0, n_p, 2)]
        ex["U"] = out[n_p:]
        ex["J_last"] = None
        live = torch.isfinite(J.detach()).cpu().to(torch.float64)
        state.grad_evals += live  # one gradient of J: about one forward+backward pass of the network

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        return auxiliary_metrics(problem, state, self.activation, self.hp["bound_norm"])
