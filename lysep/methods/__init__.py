"""Training methods behind one interface (``lysep.methods.base.Method``), found by name.

The built-in methods are the modules of this package that define a ``Method`` subclass; users add
their own with :func:`register_method` or through the ``lysep.methods`` entry-point group of an
installed package. Nothing here imports torch.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from typing import Any

from lysep.methods.base import (
    ALTERNATING,
    BASELINE,
    FAMILIES,
    JOINT,
    PROPERTY_COLUMNS,
    HParam,
    Method,
    Metric,
    State,
    check_hparams,
)

#: every method a spec or a caller may name: name -> class
METHODS: dict[str, type[Method]] = {}
#: the entry-point group through which installed packages add methods
ENTRY_POINT_GROUP = "lysep.methods"


def register_method(cls: type[Method]) -> type[Method]:
    """Make ``cls`` available by its ``name`` (usable as a class decorator); ValueError for a bad declaration."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls!r} declares no name")
    if getattr(cls, "family", None) not in FAMILIES:
        raise ValueError(f"method {name!r}: family = {getattr(cls, 'family', None)!r} "
                         f"(expected one of: {', '.join(FAMILIES)})")
    if name in METHODS and METHODS[name] is not cls:
        raise ValueError(f"method {name!r} is already registered ({METHODS[name].__module__})")
    METHODS[name] = cls
    return cls


def _discover() -> None:
    """Register the built-in methods (every Method subclass defined in this package) and entry points."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, Method) and obj.__module__ == module.__name__
                  and hasattr(obj, "name")]
    for cls in sorted(found, key=lambda c: (FAMILIES.index(c.family), c.name)):  # layer separation first
        register_method(cls)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        register_method(ep.load())


def make_method(name: str, activation: str = "tanh", **hparams: Any) -> Method:
    """A configured method; ValueError naming the method, key and value for anything unknown or out of range."""
    if name not in METHODS:
        raise ValueError(f"method={name!r} is unknown (expected one of: {', '.join(METHODS)})")
    return METHODS[name](activation=activation, **hparams)


_discover()

__all__ = ["ALTERNATING", "BASELINE", "FAMILIES", "JOINT", "METHODS", "PROPERTY_COLUMNS", "HParam", "Method",
           "Metric", "State", "check_hparams", "make_method", "register_method"]
