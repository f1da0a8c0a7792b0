"""Weight schedules for beta_l (docs/method.md): small functions, one per schedule (torch-free at import).

A schedule maps (the betas of the last outer iteration or None at the start, the current
parameters) to the betas used during the next outer iteration, shape (S, D).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lysep.core.choices import SCHEDULES

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from lysep.core.model import Params

Schedule = Callable[["torch.Tensor | None", "Params"], "torch.Tensor"]


def _full(params: Params, value: float) -> torch.Tensor:
    w = params[0][0]
    return w.new_full((w.shape[0], len(params) - 1), float(value))


def fixed(beta: float) -> Schedule:
    """beta_l = beta for every layer and iteration."""
    return lambda prev, params: _full(params, beta)


def adaptive(beta: float, activation: str, norm: str = "frobenius") -> Schedule:
    """beta_l = beta * omega_l(theta), recomputed at the start of every outer iteration."""
    def betas(prev: torch.Tensor | None, params: Params) -> torch.Tensor:
        from lysep.core.objectives import adaptive_omega

        return beta * adaptive_omega(params, activation, norm)

    return betas


def continuation(beta: float, rho: float, beta_max: float) -> Schedule:
    """beta_l starts at beta and is multiplied by rho after every outer iteration, up to beta_max."""

    def next_betas(prev: torch.Tensor | None, params: Params) -> torch.Tensor:
        if prev is None:
            return _full(params, beta)
        return (prev * rho).clamp(max=beta_max)

    return next_betas


def make_schedule(name: str, *, beta: float, rho: float, beta_max: float, norm: str, activation: str) -> Schedule:
    if name == "fixed":
        return fixed(beta)
    if name == "adaptive":
        return adaptive(beta, activation, norm)
    if name == "continuation":
        return continuation(beta, rho, beta_max)
    raise ValueError(f"schedule={name!r} is unknown (expected one of: {', '.join(SCHEDULES)})")
