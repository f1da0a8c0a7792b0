"""Activations with their Lipschitz constants, Glorot gains and closed-form derivatives (docs/method.md).

This module does not import torch at import time (spec validation uses the names); the functions are
resolved on first use by :func:`get_activation`. The derivative rules use tensor methods only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

Activation = Callable[["torch.Tensor"], "torch.Tensor"]

#: max |s'(x)| of GELU (exact erf form), attained near x = 1.41 (1.12899...)
GELU_LIP = 1.1290

#: Lipschitz constant of each activation; its keys are the activations a spec may name
LIPSCHITZ: dict[str, float] = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25, "gelu": GELU_LIP, "softplus": 1.0}
ACTIVATIONS: tuple[str, ...] = tuple(LIPSCHITZ)

#: Glorot gain per activation (torch.nn.init.calculate_gain); gelu/softplus use relu's
GAINS: dict[str, float] = {
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "sigmoid": 1.0,
    "gelu": math.sqrt(2.0),
    "softplus": math.sqrt(2.0),
}

#: s'(a) from the pre-activation a and the activation s = s(a), where it has a closed form
DERIVATIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda a, s: 1 - s * s,
    "sigmoid": lambda a, s: s * (1 - s),
    "relu": lambda a, s: (a > 0).to(a.dtype),
    "softplus": lambda a, s: a.sigmoid(),
}

_FUNCTIONS: dict[str, Activation] = {}


def _functions() -> dict[str, Activation]:
    if not _FUNCTIONS:
        import torch
        import torch.nn.functional as tnf

        _FUNCTIONS.update(tanh=torch.tanh, relu=torch.relu, sigmoid=torch.sigmoid, gelu=tnf.gelu,
                          softplus=tnf.softplus)
    return _FUNCTIONS


def check_activation(name: str) -> None:
    """ValueError for an unknown activation name."""
    if name not in LIPSCHITZ:
        raise ValueError(f"activation={name!r} is unknown (expected one of: {', '.join(ACTIVATIONS)})")


def get_activation(name: str) -> tuple[Activation, float]:
    """The activation function and its Lipschitz constant; ValueError for an unknown name."""
    check_activation(name)
    return _functions()[name], LIPSCHITZ[name]
