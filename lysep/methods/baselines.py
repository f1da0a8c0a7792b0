"""Baselines of method.md section 7: GD, SGD with momentum, Adam - each minimizing F directly.

The update math is functional (tensors batched over seeds); each class is a thin driver.
Minibatches are drawn per seed from that seed's own generator, so a seed's trace does not
depend on which other seeds share its batch.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from lysep.methods.base import HParam, State, check_hparams, nonnegative, positive, positive_int, unit_interval
from lysep.model import Params, forward
from lysep.objectives import cross_entropy
from lysep.problem import Problem


def flat(params: Params) -> list[torch.Tensor]:
    return [t for wb in params for t in wb]


def unflat(tensors: list[torch.Tensor]) -> Params:
    return [(tensors[i], tensors[i + 1]) for i in range(0, len(tensors), 2)]


def loss_and_grads(params: Params, x: torch.Tensor, y: torch.Tensor,
                   activation: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """CE per seed (S,) and its gradient for every parameter tensor (seeds independent), by autograd.

    A hand-written backward pass was measured no faster batched (results/PERFORMANCE.md), so
    autograd stays: one graph for all seeds, whatever the layer kinds.
    """
    leaves = [t.detach().requires_grad_() for t in flat(params)]
    with torch.enable_grad():
        loss = cross_entropy(forward(unflat(leaves), x, activation)[1], y)
        grads = torch.autograd.grad(loss.sum(), leaves)
    return loss.detach(), list(grads)


class MinibatchSampler:
    """Per-seed epochs of shuffled indices; ``next()`` gives an (S, B) index tensor."""

    def __init__(self, n: int, batch_size: int, seeds: list[int], device: torch.device):
        self.n, self.batch_size, self.device = n, min(batch_size, n), device
        self.gens = [torch.Generator().manual_seed(int(np.random.SeedSequence([int(s), 1]).generate_state(1)[0]))
                     for s in seeds]
        self.perm: torch.Tensor | None = None
        self.pos = n

    def next(self) -> torch.Tensor:
        if self.pos >= self.n:
            self.perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens]).to(self.device)
            self.pos = 0
        idx = self.perm[:, self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx


def batch(problem: Problem, sampler: MinibatchSampler | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, y, fraction of the data) for one step: the full set, or each seed's minibatch."""
    if sampler is None:
        return problem.x_train, problem.y_train, torch.ones(())
    idx = sampler.next()
    return problem.x_train[idx], problem.y_train[idx], torch.tensor(idx.shape[1] / problem.n_train)


def sgd_update(p: torch.Tensor, g: torch.Tensor, buf: torch.Tensor | None, lr: float, momentum: float,
               nesterov: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Heavy-ball (or Nesterov) SGD, as torch.optim.SGD without weight decay."""
    if momentum == 0:
        return p - lr * g, None
    buf = g.clone() if buf is None else momentum * buf + g
    d = g + momentum * buf if nesterov else buf
    return p - lr * d, buf


def adam_update(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, lr: float,
                beta1: float, beta2: float, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One Adam step (Kingma & Ba, as torch.optim.Adam without weight decay)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    mhat = m / (1 - beta1**t)
    vhat = v / (1 - beta2**t)
    return p - lr * mhat / (vhat.sqrt() + eps), m, v


def adam_update_all(params: list[torch.Tensor], grads: list[torch.Tensor], m: list[torch.Tensor],
                    v: list[torch.Tensor], t: int, lr: float, beta1: float, beta2: float,
                    eps: float) -> list[torch.Tensor]:
    """``adam_update`` on every tensor at once with torch's foreach kernels (m and v in place)."""
    torch._foreach_mul_(m, beta1)
    torch._foreach_add_(m, grads, alpha=1 - beta1)
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
    denom = torch._foreach_div(v, 1 - beta2**t)
    torch._foreach_sqrt_(denom)
    torch._foreach_add_(denom, eps)
    step = torch._foreach_div(m, denom)
    return list(torch._foreach_add(params, step, alpha=-lr / (1 - beta1**t)))


def _init_state(problem: Problem, params: Params, batch_size: int | None, seeds: list[int]) -> State:
    s = params[0][0].shape[0]
    sampler = None if batch_size is None else MinibatchSampler(problem.n_train, batch_size, seeds, problem.device)
    return State(params=[(w.clone(), b.clone()) for w, b in params],
                 grad_evals=torch.zeros(s, dtype=torch.float64), extra={"sampler": sampler, "t": 0})


class GD:
    """Full-batch gradient descent with a fixed step size."""

    name: ClassVar[str] = "gd"
    HPARAMS: ClassVar[dict[str, HParam]] = {"lr": HParam(float, 0.1, **positive())}

    def __init__(self, activation: str = "tanh", **hp):
        self.hp = check_hparams(self.name, self.HPARAMS, hp)
        self.activation = activation

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        return _init_state(problem, params, None, seeds)

    def step(self, problem: Problem, state: State) -> None:
        _, grads = loss_and_grads(state.params, problem.x_train, problem.y_train, self.activation)
        state.params = unflat([p - self.hp["lr"] * g for p, g in zip(flat(state.params), grads)])
        state.grad_evals += 1.0

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        return {}


class SGD(GD):
    """Minibatch SGD with (heavy-ball or Nesterov) momentum."""

    name: ClassVar[str] = "sgd"
    HPARAMS: ClassVar[dict[str, HParam]] = {
        "lr": HParam(float, 0.05, **positive()),
        "momentum": HParam(float, 0.9, **unit_interval()),
        "batch_size": HParam(int, 128, **positive_int()),
        "nesterov": HParam(bool, False),
    }

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        state = _init_state(problem, params, self.hp["batch_size"], seeds)
        state.extra["bufs"] = [None] * len(flat(params))
        return state

    def step(self, problem: Problem, state: State) -> None:
        x, y, frac = batch(problem, state.extra["sampler"])
        _, grads = loss_and_grads(state.params, x, y, self.activation)
        out, bufs = [], []
        for p, g, buf in zip(flat(state.params), grads, state.extra["bufs"]):
            p, buf = sgd_update(p, g, buf, self.hp["lr"], self.hp["momentum"], self.hp["nesterov"])
            out.append(p)
            bufs.append(buf)
        state.params, state.extra["bufs"] = unflat(out), bufs
        state.grad_evals += float(frac)


class Adam(GD):
    """Adam on F, full batch (``batch_size`` absent) or minibatch."""

    name: ClassVar[str] = "adam"
    HPARAMS: ClassVar[dict[str, HParam]] = {
        "lr": HParam(float, 1e-2, **positive()),
        "beta1": HParam(float, 0.9, **unit_interval()),
        "beta2": HParam(float, 0.999, **unit_interval()),
        "eps": HParam(float, 1e-8, **nonnegative()),
        "batch_size": HParam(int, None, **positive_int()),
    }

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        state = _init_state(problem, params, self.hp["batch_size"], seeds)
        state.extra["m"] = [torch.zeros_like(p) for p in flat(params)]
        state.extra["v"] = [torch.zeros_like(p) for p in flat(params)]
        return state

    def step(self, problem: Problem, state: State) -> None:
        x, y, frac = batch(problem, state.extra["sampler"])
        _, grads = loss_and_grads(state.params, x, y, self.activation)
        state.extra["t"] += 1
        hp, ex = self.hp, state.extra
        state.params = unflat(adam_update_all(flat(state.params), grads, ex["m"], ex["v"], ex["t"], hp["lr"],
                                              hp["beta1"], hp["beta2"], hp["eps"]))
        state.grad_evals += float(frac)
