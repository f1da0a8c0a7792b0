"""The one interface every training method implements, and its hyperparameter schema.

The runner, the trace and the benchmarks only know this interface (AlgoPerf style):
``init`` builds the state for all seeds at once, ``step`` runs one iteration,
``metrics`` returns per-seed values of the method's own objective.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import torch

from lysep.model import Params
from lysep.problem import Problem


@dataclass(frozen=True)
class HParam:
    """One hyperparameter: its type, default, and the condition a value must meet."""

    kind: type | tuple[type, ...]
    default: Any
    check: Callable[[Any], bool] = lambda v: True
    expect: str = ""  # human text for an error message, e.g. "a number > 0"
    choices: tuple[Any, ...] | None = None


def positive(expect: str = "a number > 0") -> dict[str, Any]:
    return {"check": lambda v: v > 0 and math.isfinite(v), "expect": expect}


def nonnegative(expect: str = "a number >= 0") -> dict[str, Any]:
    return {"check": lambda v: v >= 0 and math.isfinite(v), "expect": expect}


def unit_interval(expect: str = "a number in [0, 1)") -> dict[str, Any]:
    return {"check": lambda v: 0 <= v < 1, "expect": expect}


def positive_int(expect: str = "an integer >= 1") -> dict[str, Any]:
    return {"check": lambda v: v >= 1, "expect": expect}


def check_hparams(method: str, schema: dict[str, HParam], given: dict[str, Any]) -> dict[str, Any]:
    """Validate ``given`` against ``schema`` and fill in defaults.

    Raises ``ValueError`` naming the method, the key, the value and what was expected.
    Booleans are not accepted as numbers; integers are accepted where floats are.
    """
    problems = []
    out = {}
    for key, value in given.items():
        if key not in schema:
            problems.append(
                f"method {method!r}: unknown hyperparameter {key!r}"
                f" (expected one of: {', '.join(sorted(schema)) or 'none'})"
            )
            continue
        hp = schema[key]
        kinds = hp.kind if isinstance(hp.kind, tuple) else (hp.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok_type = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if value is None and hp.default is None:
            ok_type = True
        if not ok_type:
            names = " or ".join(k.__name__ for k in kinds)
            problems.append(f"method {method!r}: {key} = {value!r} has the wrong type (expected {names})")
            continue
        if value is not None:
            if hp.choices is not None and value not in hp.choices:
                problems.append(
                    f"method {method!r}: {key} = {value!r} is not allowed"
                    f" (expected one of: {', '.join(map(repr, hp.choices))})"
                )
                continue
            if not hp.check(value):
                problems.append(f"method {method!r}: {key} = {value!r} is out of range (expected {hp.expect})")
                continue
        out[key] = value
    if problems:
        raise ValueError("\n".join(problems))
    return {k: out.get(k, hp.default) for k, hp in schema.items()}


@dataclass
class State:
    """Per-method training state for all seeds of a cell; ``params`` is what the network uses."""

    params: Params
    grad_evals: torch.Tensor  # (S,) float64, cumulative, in full forward+backward passes
    extra: dict[str, Any] = field(default_factory=dict)
    record: bool = True  # set by the runner: whether the coming iteration will be recorded in the trace


class Method(Protocol):
    """A training method, batched over seeds."""

    name: ClassVar[str]
    HPARAMS: ClassVar[dict[str, HParam]]

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """State for all seeds, starting from the shared ``theta_0`` in ``params``."""
        ...

    def step(self, problem: Problem, state: State) -> None:
        """One iteration for every seed; updates ``state`` in place, including ``grad_evals``."""
        ...

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        """Method-specific per-seed values recorded after each iteration (for LySep: J, B, residuals, betas)."""
        ...
