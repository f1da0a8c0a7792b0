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

#: Curvature constants of the step rule ``lipschitz`` (docs/method.md section 4.7): ``(c1, c2)`` with
#: ``c1 >= sup_a [s'(a)^2 + s(a) s''(a)]`` and ``c2 >= sup_a |s''(a)|``, so that for every target ``t`` the
#: second derivative of ``(t - s(a))^2 / 2`` in ``a``, ``s'^2 + (s - t) s''``, is at most ``c1 + c2 |t|``.
#: tanh: (1 - s^2)(1 - 3 s^2) <= 1 and |s''| <= 4 / (3 sqrt 3); sigmoid: s^2 (1 - s)(2 - 3 s) peaks at
#: s = (15 - sqrt 33) / 24, |s''| <= 1 / (6 sqrt 3); softplus and gelu: c1 from a dense grid (rounded up in
#: the 5th digit; tests/test_lipschitz.py checks it), |s''| <= 1/4 and sqrt(2 / pi); relu: s'' = 0 away from
#: the kink, where the bound holds on each side only (hence ``GUARDED``).
CURVATURE: dict[str, tuple[float, float]] = {
    "tanh": (1.0, 4.0 / (3.0 * math.sqrt(3.0))),
    "sigmoid": (0.077030, 1.0 / (6.0 * math.sqrt(3.0))),
    "softplus": (1.04534, 0.25),
    "gelu": (1.38334, math.sqrt(2.0 / math.pi)),
    "relu": (1.0, 0.0),
}

#: activations whose curvature bound is not global (relu's s' jumps at 0): the ``lipschitz`` rule checks
#: that the block objective did not increase and keeps the old point for a seed where it did
GUARDED: frozenset[str] = frozenset({"relu"})

#: ``g * s'(a)`` in as few passes over the tensors as the derivative allows (the blocks' hot path)
TIMES_DERIVATIVE: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": lambda g, a, s: g.addcmul(g * s, s, value=-1),  # g (1 - s^2)
    "sigmoid": lambda g, a, s: (g * s).addcmul(g * s, s, value=-1),  # g s (1 - s)
    "relu": lambda g, a, s: g * (a > 0),
    "softplus": lambda g, a, s: g * a.sigmoid(),
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
