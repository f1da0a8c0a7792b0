"""Training methods behind one interface (``lysep.methods.base.Method``), looked up by name."""

from __future__ import annotations

from lysep.methods.base import HParam, Method, State, check_hparams
from lysep.methods.baselines import GD, SGD, Adam
from lysep.methods.joint import LySepJoint
from lysep.methods.lysep import LySep

#: every method a spec or a caller may name
METHODS: dict[str, type] = {m.name: m for m in (LySep, LySepJoint, GD, SGD, Adam)}


def make_method(name: str, activation: str = "tanh", **hparams) -> Method:
    """A configured method; ValueError naming the method, key and value for anything unknown or out of range."""
    if name not in METHODS:
        raise ValueError(f"method={name!r} is unknown (expected one of: {', '.join(METHODS)})")
    return METHODS[name](activation=activation, **hparams)


__all__ = ["HParam", "Method", "State", "METHODS", "check_hparams", "make_method"]
