"""The one interface every training method implements, and what a method declares about itself.

The runner, the trace, the store and the analysis only know this interface (AlgoPerf style):
``init`` builds the state for all seeds at once, ``step`` runs one iteration, ``metrics``
returns per-seed values of the method's own quantities. A method also *declares* what the
harness and the analysis need to know (benchopt style), so that nothing downstream matches
method names:

- ``family``: :data:`ALTERNATING` (alternating minimisation of a layer-separated loss), :data:`JOINT`
  (one optimiser on the layer-separated loss over all variables at once) or :data:`BASELINE`
  (training the network's cross-entropy directly);
- ``METRICS``: the per-seed values ``metrics`` returns (each becomes a trace column, or one
  column per layer for a per-layer metric);
- ``decrease_guaranteed``: whether its ``J`` cannot increase over an iteration (at that
  iteration's weights beta) under the hyperparameters it was given;
- ``paper_method``: whether the LySep paper's claims are about it (the report's wording, docs/methods.md);
- ``check_model``: a ValueError when the method cannot train a given model (checked before any work).

This module does not import torch, and neither do the built-in method modules at import time
(they import the torch-side code inside ``init``/``step``): listing and validating methods
(``lysep methods``, ``lysep check``) stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from lysep.core.state import State

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from lysep.core.model import ConvSpec, ModelSpec, Params
    from lysep.core.problem import Problem

#: the method families (``Method.family``)
ALTERNATING = "alternating"
JOINT = "joint"
BASELINE = "baseline"
FAMILIES: tuple[str, ...] = (ALTERNATING, JOINT, BASELINE)


@dataclass(frozen=True)
class HParam:
    """One hyperparameter: its type, default, and the condition a value must meet."""

    kind: type | tuple[type, ...]
    default: Any
    check: Callable[[Any], bool] = lambda v: True
    expect: str = ""  # human text for an error message, e.g. "a number > 0"
    choices: tuple[Any, ...] | None = None
    help: str = ""  # one line for `lysep methods`
    #: when the hyperparameter acts, given the method's full configuration (None: always); an inactive one has no
    #: effect on the run (e.g. a learning rate of a solver that is not chosen)
    active: Callable[[dict[str, Any]], bool] | None = None


def active_keys(schema: dict[str, HParam], hparams: dict[str, Any]) -> set[str]:
    """The hyperparameters of ``schema`` that act in the configuration ``hparams`` (missing keys take their
    defaults): those without an ``active`` condition and those whose condition holds."""
    full = {k: hparams.get(k, hp.default) for k, hp in schema.items()}
    return {k for k, hp in schema.items() if hp.active is None or hp.active(full)}


@dataclass(frozen=True)
class Metric:
    """A per-seed value a method records after every iteration (beside the harness's losses and costs).

    ``per_layer``: the value is (S, D), stored as columns ``<name>_1 .. <name>_D``; else (S,).
    ``gap``: the harness also records ``<gap> = value - F``. ``diverges``: a non-finite value ends the
    seed's run as diverged.
    """

    description: str
    per_layer: bool = False
    #: name of a column the harness adds as ``value - F`` (e.g. a bound's gap to the training CE)
    gap: str | None = None
    #: whether a non-finite value marks the seed as diverged (as a non-finite F always does)
    diverges: bool = False


def positive(expect: str = "a number > 0") -> dict[str, Any]:
    return {"check": lambda v: v > 0 and math.isfinite(v), "expect": expect}


def nonnegative(expect: str = "a number >= 0") -> dict[str, Any]:
    return {"check": lambda v: v >= 0 and math.isfinite(v), "expect": expect}


def unit_interval(expect: str = "a number in [0, 1)") -> dict[str, Any]:
    return {"check": lambda v: 0 <= v < 1, "expect": expect}


def positive_int(expect: str = "an integer >= 1") -> dict[str, Any]:
    return {"check": lambda v: v >= 1, "expect": expect}


def at_least_one(expect: str = "a number >= 1") -> dict[str, Any]:
    return {"check": lambda v: v >= 1.0 and math.isfinite(v), "expect": expect}


def _problem(method: str, key: str, value: Any, hp: HParam) -> str | None:
    """What is wrong with one given value (None if nothing); ints are accepted where floats are."""
    kinds = hp.kind if isinstance(hp.kind, tuple) else (hp.kind,)
    ok_type = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok_type and not (value is None and hp.default is None):
        names = " or ".join(k.__name__ for k in kinds)
        return f"method {method!r}: {key} = {value!r} has the wrong type (expected {names})"
    if value is None:
        return None
    if hp.choices is not None and value not in hp.choices:
        allowed = ", ".join(map(repr, hp.choices))
        return f"method {method!r}: {key} = {value!r} is not allowed (expected one of: {allowed})"
    if not hp.check(value):
        return f"method {method!r}: {key} = {value!r} is out of range (expected {hp.expect})"
    return None


def check_hparams(method: str, schema: dict[str, HParam], given: dict[str, Any]) -> dict[str, Any]:
    """Validate ``given`` against ``schema`` and fill in defaults.

    Raises ``ValueError`` naming the method, the key, the value and what was expected (one line
    per problem). Booleans are not accepted as numbers; integers are accepted where floats are.
    """
    problems = []
    out = {}
    for key, value in given.items():
        if key not in schema:
            problems.append(f"method {method!r}: unknown hyperparameter {key!r}"
                            f" (expected one of: {', '.join(sorted(schema)) or 'none'})")
            continue
        hp = schema[key]
        kinds = hp.kind if isinstance(hp.kind, tuple) else (hp.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        problem = _problem(method, key, value, hp)
        if problem:
            problems.append(problem)
        else:
            out[key] = value
    if problems:
        raise ValueError("\n".join(problems))
    return {k: out.get(k, hp.default) for k, hp in schema.items()}


#: copies of the parameters a method holds (theta, a gradient, two moments, the update's temporaries)
PARAM_COPIES = 6
#: activation-sized tensors autograd keeps per layer for a backward pass (pre-activation, output, gradient)
AUTOGRAD_COPIES = 3


@dataclass(frozen=True)
class Footprint:
    """Per-seed sizes of a network, in tensor elements: ``params`` in theta; ``per_sample``: one sample's hidden
    outputs summed over the layers (the size of one row of U) plus its logits."""

    params: int
    per_sample: int


class Method:
    """A training method, batched over seeds. Subclasses declare the class attributes and implement
    ``init``, ``step`` and (if they declare ``METRICS``) ``metrics``."""

    name: ClassVar[str]
    family: ClassVar[str]
    HPARAMS: ClassVar[dict[str, HParam]] = {}
    METRICS: ClassVar[dict[str, Metric]] = {}
    #: the default search space of ``lysep tune`` (``lysep.harness.search``: hyperparameter -> Range or Choice)
    SEARCH: ClassVar[dict[str, Any]] = {}
    #: whether the LySep paper's claims are about this method (LySep, its presets and variants, and the joint
    #: training of its loss): a report whose subject it is keeps the paper's wording, any other gets generic words
    paper_method: ClassVar[bool] = False

    def __init__(self, activation: str = "tanh", **hp: Any) -> None:
        self.hp = check_hparams(self.name, self.HPARAMS, hp)
        self.activation = activation

    # -- declarations ---------------------------------------------------------------------------
    @property
    def decrease_guaranteed(self) -> bool:
        """Whether ``J`` at the end of every iteration is <= ``J`` at its start (same weights) for these
        hyperparameters, on the data the iteration uses: the training set (metrics ``J_start``, ``J``), or
        the iteration's minibatch for a minibatch method (``J_batch_start``, ``J_batch``). Only a method
        that declares such a pair of metrics can guarantee it."""
        return False

    @property
    def batch_size(self) -> int | None:
        """Samples per iteration (per seed), or None for the whole training set: one epoch is
        ``ceil(N / batch_size)`` iterations of a minibatch method and 1 of a full-batch one."""
        return self.hp.get("batch_size")

    def memory(self, n_train: int, footprint: Footprint) -> float:
        """Tensor elements per seed that the method's state and one iteration hold at most (an estimate for
        the memory check before any work, ``lysep.harness.memory``). This default is a gradient method on F:
        parameters, their gradient and two moments, and autograd's activations of the rows it touches."""
        rows = min(self.batch_size or n_train, n_train)
        return PARAM_COPIES * footprint.params + AUTOGRAD_COPIES * rows * footprint.per_sample

    @property
    def default_config(self) -> bool:
        """Whether the method runs with its built-in defaults (every hyperparameter at its default)."""
        return all(self.hp[k] == h.default for k, h in self.HPARAMS.items())

    def check_model(self, model: ModelSpec | ConvSpec) -> None:
        """Raise ValueError (naming the hyperparameter) if this method cannot train ``model``."""

    def properties(self) -> dict[str, Any]:
        """What the runner stores with every run of this method (runs.parquet) for the analysis."""
        return {"family": self.family, "decrease_guaranteed": bool(self.decrease_guaranteed),
                "default_config": bool(self.default_config), "metrics": ",".join(self.METRICS)}

    # -- the iteration --------------------------------------------------------------------------
    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """State for all seeds, starting from the shared ``theta_0`` in ``params``."""
        raise NotImplementedError

    def step(self, problem: Problem, state: State) -> None:
        """One iteration for every seed; updates ``state`` in place, including ``grad_evals``."""
        raise NotImplementedError

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        """The declared ``METRICS`` per seed after an iteration: (S,) or (S, D) for a per-layer metric."""
        return {}


#: the columns the runner adds to runs.parquet from ``Method.properties``
PROPERTY_COLUMNS: tuple[str, ...] = ("family", "decrease_guaranteed", "default_config", "metrics")
