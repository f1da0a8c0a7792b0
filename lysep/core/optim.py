"""The update rules every method shares, as functions of tensors batched over seeds (torch.optim style).

One home for each rule: ``adam_step`` serves the Adam baseline, LySep's inner ``adam`` block solver
and ``lysep-joint``; ``sgd_update`` serves SGD. ``loss_and_grads`` is the baselines' gradient of F.
"""

from __future__ import annotations

import torch

from lysep.core.model import Params, forward
from lysep.core.objectives import cross_entropy

#: Adam's defaults (Kingma & Ba; torch.optim.Adam)
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


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


def sgd_update(p: torch.Tensor, g: torch.Tensor, buf: torch.Tensor | None, lr: float, momentum: float,
               nesterov: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Heavy-ball (or Nesterov) SGD, as torch.optim.SGD without weight decay."""
    if momentum == 0:
        return p - lr * g, None
    buf = g.clone() if buf is None else momentum * buf + g
    d = g + momentum * buf if nesterov else buf
    return p - lr * d, buf


def adam_moments(tensors: list[torch.Tensor]) -> dict:
    """Adam's state for ``tensors``: zero first and second moments and the step count."""
    return {"m": [torch.zeros_like(t) for t in tensors], "v": [torch.zeros_like(t) for t in tensors], "t": 0}


def adam_step(params: list[torch.Tensor], grads: list[torch.Tensor], moments: dict, lr: float,
              beta1: float = ADAM_BETAS[0], beta2: float = ADAM_BETAS[1], eps: float = ADAM_EPS) -> list[torch.Tensor]:
    """One Adam step on every tensor (Kingma & Ba, as torch.optim.Adam without weight decay).

    ``moments`` (from :func:`adam_moments`) is updated in place; returns the new tensors. Uses
    torch's foreach kernels: one launch per operation for all tensors.
    """
    moments["t"] += 1
    t, m, v = moments["t"], moments["m"], moments["v"]
    torch._foreach_mul_(m, beta1)
    torch._foreach_add_(m, grads, alpha=1 - beta1)
    torch._foreach_mul_(v, beta2)
    torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
    denom = torch._foreach_div(v, 1 - beta2**t)
    torch._foreach_sqrt_(denom)
    torch._foreach_add_(denom, eps)
    step = torch._foreach_div(m, denom)
    return list(torch._foreach_add(params, step, alpha=-lr / (1 - beta1**t)))
