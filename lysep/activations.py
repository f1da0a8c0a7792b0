"""Activations with their Lipschitz constants (method.md section 1)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as tnf

Activation = Callable[[torch.Tensor], torch.Tensor]

#: max |s'(x)| of GELU (exact erf form), attained near x = 1.41 (1.12899...)
GELU_LIP = 1.1290


ACTIVATIONS: dict[str, tuple[Activation, float]] = {
    "tanh": (torch.tanh, 1.0),
    "relu": (torch.relu, 1.0),
    "sigmoid": (torch.sigmoid, 0.25),
    "gelu": (tnf.gelu, GELU_LIP),
    "softplus": (tnf.softplus, 1.0),
}

#: Glorot gain per activation (torch.nn.init.calculate_gain); gelu/softplus use relu's
GAINS: dict[str, float] = {
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "sigmoid": 1.0,
    "gelu": math.sqrt(2.0),
    "softplus": math.sqrt(2.0),
}


def get_activation(name: str) -> tuple[Activation, float]:
    """The activation function and its Lipschitz constant; ValueError for an unknown name."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is unknown (expected one of: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]
