"""The training state of one method for all seeds of a cell: what the solvers update and the runner records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from lysep.core.model import Params


@dataclass
class State:
    """Per-method training state for all seeds of a cell; ``params`` is what the network uses."""

    params: Params
    grad_evals: torch.Tensor  # (S,) float64, cumulative, in full forward+backward passes
    extra: dict[str, Any] = field(default_factory=dict)
    record: bool = True  # set by the runner: whether the coming iteration will be recorded in the trace
    #: (S,) float64, cumulative flops (``lysep.core.cost``), for a method that charges its own; None: every unit
    #: of the method's ``grad_evals`` is a whole forward+backward pass, and the runner books ``grad_evals`` times
    #: the flops of one pass (``lysep.core.cost.pass_flops``)
    flops: torch.Tensor | None = None
