"""Search spaces a method declares (``Method.SEARCH``) and a spec may override (``[method.tune]``): each tuned
hyperparameter maps to a :class:`Range` or a :class:`Choice`. Declarations only; drawing the trials from them is
the harness's (:mod:`lysep.harness.search`). Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SCALES: tuple[str, ...] = ("log", "linear")


@dataclass(frozen=True)
class Range:
    """Numbers between ``low`` and ``high`` on a ``log`` or ``linear`` scale (integers rounded for an int)."""

    low: float
    high: float
    scale: str = "log"

    def position(self, value: float) -> float:
        """Where ``value`` lies in the range on its scale: 0 at ``low``, 1 at ``high``."""
        if self.scale == "log":
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def at(self, u: float) -> float:
        """The value at position ``u`` in [0, 1)."""
        if self.scale == "log":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "scale": self.scale}


@dataclass(frozen=True)
class Choice:
    """One of ``values`` with equal chance; ``None``: every value the method's schema allows."""

    values: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"choices": list(self.values or ())}


Space = dict[str, Range | Choice]
