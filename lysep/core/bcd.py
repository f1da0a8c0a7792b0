"""Proximal block coordinate descent (Lau, Zeng, Wu, Yao 2018; Zeng, Lau, Lin, Yao, ICML 2019): the torch-side
iteration behind the ``bcd`` method (docs/method.md, "Proximal BCD").

Three-way splitting: pre-activations ``U_l``, post-activations ``V_l`` (``V_0 = X``; ``V_{D+1}`` stands for the
logits), weights ``(W_l, b_l)``. The objective (the reference's sum over samples, divided by N)::

    J = CE(V_{D+1}, y) + sum_{l=1..D+1} [ gamma/2 msq(V_l - s_l(U_l)) + rho/2 msq(U_l - V_{l-1} W_l^T - b_l) ]

with ``s_{D+1}`` the identity. One iteration updates the blocks from the output back to the input:
``V_{D+1}, U_{D+1}, (W_{D+1}, b_{D+1}), V_D, U_D, (W_D, b_D), .., V_1, U_1, (W_1, b_1)``, each the minimiser of
its part of J plus a proximal term ``alpha/2 msq(. - old)`` (``alpha/(2N) ||. - old||^2`` for weights) where the
paper puts one; every block is solved exactly (closed form) except ``V_{D+1}`` (cross-entropy: damped Newton
steps) and, for an activation other than relu, ``U_l`` (elementwise Armijo steps), which never increase their
block objective. So J decreases at every block, by at least the proximal terms.
"""

from __future__ import annotations

import torch

from lysep.core.activations import get_activation
from lysep.core.cost import madd_flops
from lysep.core.model import Params, affine
from lysep.core.objectives import cross_entropy, mean_sq
from lysep.core.problem import Problem
from lysep.core.splitting import (
    ce_prox,
    certificate_metrics,
    dense_only,
    forward_split,
    pass_madds,
    prox_activation,
    prox_input,
    prox_layer,
)
from lysep.core.state import State


def bcd_objective(params: Params, U: list[torch.Tensor], V: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  activation: str, gamma: float, rho: float) -> torch.Tensor:
    """J of the three-way splitting, per seed -> (S,)."""
    s, _ = get_activation(activation)
    J = cross_entropy(V[-1], y)
    inputs = [x, *V[:-1]]
    for i, ((w, b), u, v, h) in enumerate(zip(params, U, V, inputs)):
        act = u if i == len(params) - 1 else s(u)
        J = J + gamma / 2 * mean_sq(v - act) + rho / 2 * mean_sq(u - affine(w, b, h))
    return J


class ProximalBCD:
    """The BCD iteration for one configuration (``hp``: the ``bcd`` method's hyperparameters)."""

    def __init__(self, activation: str, hp: dict):
        self.activation, self.hp = activation, hp
        self.sigma, _ = get_activation(activation)

    def init(self, problem: Problem, params: Params) -> State:
        """theta_0 as given; U and V by a forward pass (so J = F at iteration 0)."""
        dense_only("bcd", params)
        params = [(w.clone(), b.clone()) for w, b in params]
        with torch.no_grad():
            pre, post = forward_split(params, problem.x_train, self.activation)
        extra = {"U": pre, "V": [*post, pre[-1].clone()], "k": 0, "J_start": None}
        s = params[0][0].shape[0]
        zero = torch.zeros(s, dtype=torch.float64, device=problem.device)
        return State(params=params, grad_evals=zero, extra=extra, flops=zero.clone())

    def objective(self, problem: Problem, state: State) -> torch.Tensor:
        ex = state.extra
        return bcd_objective(state.params, ex["U"], ex["V"], problem.x_train, problem.y_train, self.activation,
                             self.hp["gamma"], self.hp["rho"])

    @torch.no_grad()
    def step(self, problem: Problem, state: State) -> None:
        ex, hp = state.extra, self.hp
        ex["J_start"] = self.objective(problem, state) if state.record else None
        gamma, rho, alpha = hp["gamma"], hp["rho"], hp["alpha"]
        U, V, params, x = ex["U"], ex["V"], list(state.params), problem.x_train
        depth = len(params) - 1
        k = V[-1].shape[2]
        V[-1], evals = ce_prox(V[-1], (gamma * U[-1] + alpha * V[-1]) / (gamma + alpha), gamma + alpha,
                               problem.y_train, hp["out_steps"], hp["max_backtracks"])
        madds = hp["out_steps"] * (k * k + k ** 3 / 3) + evals * k
        for i in range(depth, -1, -1):
            inp = x if i == 0 else V[i - 1]
            (w, b), m_in, m_out = params[i], params[i][0].shape[2], params[i][0].shape[1]
            if i < depth:  # V_{i+1} (0-based i): its own target s(U) and the next layer's fit
                wn, bn = params[i + 1]
                V[i] = prox_input(wn, bn, U[i + 1], self.sigma(U[i]), rho, gamma)
                madds += 2 * m_out * wn.shape[1] + m_out * m_out
            center = affine(w, b, inp)
            if i == depth:
                U[i] = (gamma * V[i] + rho * center) / (gamma + rho)
                n_evals = torch.ones_like(madds)
            else:
                U[i], n_evals = prox_activation(U[i], V[i], (rho * center + alpha * U[i]) / (rho + alpha), gamma,
                                                rho + alpha, self.activation, hp["u_steps"], hp["max_backtracks"])
            params[i] = prox_layer(w, b, inp, U[i], rho, alpha)
            madds += (m_in + 1) * m_out + n_evals * m_out + (m_in + 1) ** 2 + (m_in + 1) * m_out
        state.params = params
        ex["k"] += 1
        state.grad_evals += madds / pass_madds(params)
        state.flops += madd_flops(madds, problem.n_train)  # its own multiply-add count (bias included) per sample

    def metrics(self, problem: Problem, state: State, bound_norm: str) -> dict[str, torch.Tensor]:
        ex = state.extra
        with torch.no_grad():
            J = self.objective(problem, state)
            out = certificate_metrics(state.params, ex["V"][:-1], problem.x_train, problem.y_train,
                                      self.activation, bound_norm)
        start = J if ex["k"] == 0 else ex["J_start"]
        out.update(J=J, J_start=start if start is not None else torch.full_like(J, float("nan")))
        return out
