"""Online alternating minimisation (Choromanska et al., ICML 2019): the torch-side iteration behind the
``altmin-online`` method (docs/method.md, "Online alternating minimisation").

One iteration on one minibatch per seed (the baselines' sampler): the codes ``c_l`` (the layers' pre-activations
on the batch, ``l = 1..D``) from a forward pass; then, from the last code back to the first, ``code_steps`` steps
of SGD with Nesterov momentum 0.9 (a fresh buffer per code, as the reference code) on

    c_D:  (1/mu) CE(s(c_D) W_{D+1}^T + b_{D+1}, y) + mse(c_D, c_D^0)
    c_l:  mse(s(c_l) W_{l+1}^T + b_{l+1}, c_{l+1}) + mse(c_l, c_l^0)            (c_{l+1} already updated)

(``mse`` the mean over all entries, ``c^0`` the forward pass's codes); then ``weight_steps`` Adam steps per layer,
each layer on its local loss: ``CE(s(c_D) W_{D+1}^T + b_{D+1}, y)`` for the output layer, ``mse(s(c_{l-1}) W_l^T +
b_l, c_l)`` for a hidden one (``s(c_0)`` read as the input X). Each layer keeps its Adam moments across batches;
the learning rates halve every ``lr_half_epochs`` epochs and ``mu`` grows by ``d_mu`` per batch up to ``10 mu_0``.
"""

from __future__ import annotations

import torch

from lysep.core.activations import get_activation
from lysep.core.batches import MinibatchSampler, batch, steps_per_epoch
from lysep.core.cost import GRADIENT_FORWARDS, forward_flops
from lysep.core.model import Params, affine, layer_work
from lysep.core.objectives import cross_entropy
from lysep.core.optim import ADAM_BETAS, ADAM_EPS, adam_moments, adam_step, sgd_update
from lysep.core.problem import Problem
from lysep.core.splitting import dense_only
from lysep.core.state import State

#: the reference code's momentum of the code updates (SGD, Nesterov)
CODE_MOMENTUM = 0.9


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """torch's ``mse_loss`` per seed: the mean of the squared differences over all entries -> (S,)."""
    return (a - b).pow(2).flatten(1).mean(1)


def code_loss(i: int, codes: list[torch.Tensor], code: torch.Tensor, start: torch.Tensor, params: Params, y,
              sigma, mu: float) -> torch.Tensor:
    """The loss of code i (0-based) with ``code`` in its place, per seed."""
    out = affine(*params[i + 1], sigma(code))
    fit = cross_entropy(out, y) / mu if i == len(codes) - 1 else mse(out, codes[i + 1])
    return fit + mse(code, start)


def layer_loss(i: int, w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, codes: list[torch.Tensor], y, sigma):
    """Layer i's (0-based) local loss at weights (w, b), per seed."""
    inp = x if i == 0 else sigma(codes[i - 1])
    out = affine(w, b, inp)
    return cross_entropy(out, y) if i == len(codes) else mse(out, codes[i])


class OnlineAltMin:
    """The online AltMin iteration for one configuration (``hp``: the ``altmin-online`` method's)."""

    def __init__(self, activation: str, hp: dict):
        self.activation, self.hp = activation, hp
        self.sigma, _ = get_activation(activation)

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        dense_only("altmin-online", params)
        params = [(w.clone(), b.clone()) for w, b in params]
        extra = {"sampler": MinibatchSampler(problem.n_train, self.hp["batch_size"], seeds, problem.device),
                 "adam": [adam_moments([w, b]) for w, b in params], "mu": self.hp["mu"], "k": 0}
        zero = torch.zeros(len(seeds), dtype=torch.float64, device=problem.device)
        return State(params=params, grad_evals=zero, extra=extra, flops=zero.clone())

    def update_codes(self, codes: list[torch.Tensor], params: Params, y, mu: float) -> None:
        hp = self.hp
        for i in range(len(codes) - 1, -1, -1):
            start, code, buf = codes[i], codes[i], None
            for _ in range(hp["code_steps"]):
                with torch.enable_grad():
                    leaf = code.detach().requires_grad_()
                    loss = code_loss(i, codes, leaf, start, params, y, self.sigma, mu)
                    (g,) = torch.autograd.grad(loss.sum(), leaf)
                code, buf = sgd_update(code, g, buf, hp["lr_codes"], CODE_MOMENTUM, True)
            codes[i] = code.detach()

    def update_weights(self, state: State, x, codes: list[torch.Tensor], y) -> None:
        hp, ex = self.hp, state.extra
        scale = 0.5 ** (ex["k"] // (hp["lr_half_epochs"] * ex["per_epoch"]))
        out = []
        for i, (w, b) in enumerate(state.params):
            lr = (hp["lr_out"] if i == len(codes) else hp["lr_weights"]) * scale
            for _ in range(hp["weight_steps"]):
                with torch.enable_grad():
                    leaves = [w.detach().requires_grad_(), b.detach().requires_grad_()]
                    loss = layer_loss(i, *leaves, x, codes, y, self.sigma)
                    grads = torch.autograd.grad(loss.sum(), leaves)
                w, b = adam_step([w, b], list(grads), ex["adam"][i], lr, *ADAM_BETAS, ADAM_EPS)
            out.append((w.detach(), b.detach()))
        state.params = out

    def step(self, problem: Problem, state: State) -> None:
        ex, hp = state.extra, self.hp
        ex["per_epoch"] = steps_per_epoch(problem.n_train, hp["batch_size"])
        x, y, fraction = batch(problem, ex["sampler"])
        with torch.no_grad():
            codes, h = [], x
            for w, b in state.params[:-1]:
                codes.append(affine(w, b, h))
                h = self.sigma(codes[-1])
        self.update_codes(codes, state.params, y, ex["mu"])
        self.update_weights(state, x, codes, y)
        if ex["mu"] < 10 * hp["mu"]:
            ex["mu"] += hp["d_mu"]
        ex["k"] += 1
        state.grad_evals += fraction * self.passes(state.params)
        state.flops += self.flops(state.params, fraction * problem.n_train)

    def flops(self, params: Params, rows: float) -> float:
        """Flops of one iteration on ``rows`` samples (``lysep.core.cost``): the forward pass, each code step (the
        forward of the layer after the code and its input gradient: two forwards), each weight step (its layer's
        forward and weight gradient: two forwards)."""
        fwd = forward_flops(layer_work(params, (params[0][0].shape[2],), bias=False), rows)
        return sum(fwd) + GRADIENT_FORWARDS * (self.hp["code_steps"] * sum(fwd[1:])
                                               + self.hp["weight_steps"] * sum(fwd))

    def passes(self, params: Params) -> float:
        """Work of one iteration on the whole data, in forward+backward passes: the forward pass (1/3), each code
        step (a forward and backward of the layer after the code), each weight step (of its own layer)."""
        work = [(w.shape[2] + 1) * w.shape[1] for w, _ in params]
        total = 3 * sum(work)
        codes = self.hp["code_steps"] * 3 * sum(work[1:])
        weights = self.hp["weight_steps"] * 3 * sum(work)
        return (sum(work) + codes + weights) / total
