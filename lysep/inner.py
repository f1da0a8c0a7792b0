"""Inner block solvers of the alternating minimization (method.md section 4).

A block is a list of tensors with a leading seed dimension; its objective maps the block
to per-seed values (S,). Each solver is a small function over tensors, batched over seeds,
with per-seed step sizes, so that a seed's path never depends on the other seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

BlockObjective = Callable[[list[torch.Tensor]], torch.Tensor]

#: Armijo sufficient-decrease constant of method.md section 4
ARMIJO_C = 1e-4


@dataclass
class StepResult:
    """What one solver call did, per seed."""

    block: list[torch.Tensor]
    value: torch.Tensor  # objective at the returned block (S,)
    start_value: torch.Tensor  # objective at the block given (S,)
    gradients: torch.Tensor  # gradient evaluations, (S,)
    evaluations: torch.Tensor  # objective-only evaluations (trials), (S,)
    eta: torch.Tensor  # step sizes to start the next call with (S,)


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def as_block(objective: BlockObjective | object) -> object:
    """A block object (``value``, ``value_and_grad``); a plain function gets autograd gradients."""
    from lysep.blocks import AutogradBlock

    return objective if hasattr(objective, "value_and_grad") else AutogradBlock(objective)


def value_and_grad(objective: BlockObjective, block: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return as_block(objective).value_and_grad(block)


def armijo_gd(objective: BlockObjective | object, block: list[torch.Tensor], eta: torch.Tensor, steps: int,
              c: float = ARMIJO_C, max_backtracks: int = 30) -> StepResult:
    """``steps`` gradient steps with Armijo backtracking, per seed.

    A trial ``x - eta g`` is accepted when ``f(new) <= f(old) - c eta ||g||^2``; else eta is
    halved (up to ``max_backtracks`` times, after which the block is left unchanged). An
    accepted step doubles eta for the next step. The objective therefore never increases.
    """
    blk = as_block(objective)
    s = eta.shape[0]
    n_grad = torch.zeros(s, dtype=torch.float64)
    n_eval = torch.zeros(s, dtype=torch.float64)
    block = [t.detach() for t in block]
    start = None
    f0 = None
    with torch.no_grad():
        for _ in range(steps):
            f0, grads = blk.value_and_grad(block)
            if start is None:
                start = f0
            live = torch.isfinite(f0)
            n_grad += live.cpu().to(torch.float64)
            gn2 = sum(g.pow(2).flatten(1).sum(1) for g in grads)
            active = live.clone()
            accepted = torch.zeros_like(active)
            f_new = f0.clone()
            for _ in range(max_backtracks):
                if not bool(active.any()):
                    break
                cand = [t - _bcast(eta, t) * g for t, g in zip(block, grads)]
                f1 = blk.value(cand)
                n_eval += active.cpu().to(torch.float64)
                ok = active & (f1 <= f0 - c * eta * gn2)
                block = [torch.where(_bcast(ok, t), ct, t) for t, ct in zip(block, cand)]
                f_new = torch.where(ok, f1, f_new)
                accepted |= ok
                active &= ~ok
                eta = torch.where(active, eta / 2, eta)
            eta = torch.where(accepted, eta * 2, eta)
            f0 = f_new
    return StepResult(block, f0, start, n_grad, n_eval, eta)
