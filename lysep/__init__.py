"""lysep: layer-separation training of cross-entropy classifiers, with baselines and a benchmarking harness.

The public API, importable from the package root whatever module holds it (docs/architecture.md)::

    from lysep import Budget, ModelSpec, Problem, load_dataset, make_method, run_cell

Names load lazily on first use, so ``import lysep`` stays cheap and imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
PUBLIC = {
    # one grid cell, every method from the same initialisation per seed (lysep.harness.cell)
    "Budget": "lysep.harness.cell",
    "run_cell": "lysep.harness.cell",
    # whole experiments: the spec, the runner, the results store
    "ExperimentSpec": "lysep.harness.spec",
    "load_spec": "lysep.harness.spec",
    "run_experiment": "lysep.harness.runner",
    "ResultsStore": "lysep.harness.store",
    # methods: the protocol and the registry
    "Method": "lysep.methods.base",
    "METHODS": "lysep.methods",
    "make_method": "lysep.methods",
    "register_method": "lysep.methods",
    # data and models
    "load_dataset": "lysep.datasets",
    "Problem": "lysep.core.problem",
    "ModelSpec": "lysep.core.model",
    "ConvSpec": "lysep.core.model",
    "init_params": "lysep.core.model",
}

__all__ = ["__version__", *PUBLIC]


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'lysep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
