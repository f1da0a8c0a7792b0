"""Training methods behind one interface (``lysep.methods.base.Method``), found by name.

The built-in methods are the modules of this package that define a ``Method`` subclass; users add
their own with :func:`register_method` or through the ``lysep.methods`` entry-point group of an
installed package (docs/methods.md). An entry point that fails (import error, not a method, a name
already taken) is recorded in :data:`UNAVAILABLE`, never raised here. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points, packages_distributions, version
from pathlib import Path
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


@dataclass(frozen=True)
class Plugin:
    """Where a method from an entry point comes from: the entry point (``name = module:attr``) and its
    distribution (``name version``, or "unknown distribution" when the entry point has none)."""

    entry_point: str
    distribution: str
    dist_name: str | None = None
    dist_version: str | None = None


@dataclass(frozen=True)
class Unavailable:
    """An entry point of the ``lysep.methods`` group that gave no usable method: its import failed, what it loads
    is not a valid method, or its name clashes with a method already registered. ``error``: why, one line."""

    name: str
    plugin: Plugin
    error: str

    def message(self) -> str:
        """What a spec naming this method is told (``lysep run``/``check`` exit 2 with it)."""
        return (f"method {self.name!r} is unavailable: entry point {self.plugin.entry_point!r} of "
                f"{self.plugin.distribution} failed: {self.error}")


#: the methods of entry points that failed (by entry-point name): listed by ``lysep methods``, never raised at import
UNAVAILABLE: dict[str, Unavailable] = {}
#: where each method registered from an entry point comes from (by method name)
PLUGINS: dict[str, Plugin] = {}


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
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        _register_entry_point(ep)


def _plugin(ep: EntryPoint) -> Plugin:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) or (dist.metadata["Name"] if dist is not None else None)
    version = getattr(dist, "version", None) if dist is not None else None
    text = f"distribution {name} {version}" if name else "unknown distribution"
    return Plugin(f"{ep.name} = {ep.value}", text, name, version)


def _register_entry_point(ep: EntryPoint) -> None:
    """Register the method of one entry point; a failure (import error, bad declaration, name clash) is recorded in
    :data:`UNAVAILABLE` instead of raised, so one broken plugin never breaks a command that does not use it."""
    plugin = _plugin(ep)
    try:
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise TypeError(f"{ep.value} is {cls!r}, not a subclass of lysep.methods.Method")
        if getattr(cls, "name", None) in METHODS and METHODS[cls.name] is not cls:
            raise ValueError(f"its name {cls.name!r} clashes with the method of the same name registered by "
                             f"{METHODS[cls.name].__module__}")
        register_method(cls)
    except (Exception, SystemExit) as e:  # a plugin's import may do anything; it must not break lysep
        UNAVAILABLE[ep.name] = Unavailable(ep.name, plugin, f"{type(e).__name__}: {e}".replace("\n", " "))
        return
    PLUGINS[cls.name] = plugin


#: the code version of a method defined in this package: lysep's own commit (runs.parquet ``git_commit``) says it
BUILT_IN = "built-in"


def _source_hash(module_name: str) -> str:
    """sha256 (12 hex digits) of the source of the top-level package or module that ``module_name`` belongs to:
    every ``.py`` file of a package, so an edit anywhere in a plugin package changes it; "unknown" without sources."""
    top = sys.modules.get(module_name.split(".")[0])
    where = getattr(top, "__file__", None)
    if where is None:
        return "unknown"
    path = Path(where)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    h = hashlib.sha256()
    for file in files:
        try:
            h.update(file.relative_to(path.parent).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
        except OSError:
            return "unknown"
    return h.hexdigest()[:12]


def method_code(name: str) -> str:
    """The version of the code of method ``name``, as runs.parquet's ``method_code`` records it: :data:`BUILT_IN`
    for this package's methods, else ``"<distribution> <version>; source <hash>"`` (``"source <hash>"`` for a class
    registered from code that no installed distribution holds). A stored run whose ``method_code`` differs from
    the current one was made by other code (``lysep run --recompute-changed``)."""
    cls = METHODS[name]
    if cls.__module__.startswith(f"{__name__}."):
        return BUILT_IN
    plugin = PLUGINS.get(name)
    dist = f"{plugin.dist_name} {plugin.dist_version}; " if plugin is not None and plugin.dist_name else ""
    if not dist:
        top = cls.__module__.split(".")[0]
        names = packages_distributions().get(top) or []
        dist = f"{names[0]} {version(names[0])}; " if names else ""
    return f"{dist}source {_source_hash(cls.__module__)}"


def make_method(name: str, activation: str = "tanh", **hparams: Any) -> Method:
    """A configured method; ValueError naming the method, key and value for anything unknown or out of range."""
    if name not in METHODS and name in UNAVAILABLE:
        raise ValueError(UNAVAILABLE[name].message())
    if name not in METHODS:
        raise ValueError(f"method={name!r} is unknown (expected one of: {', '.join(METHODS)})")
    return METHODS[name](activation=activation, **hparams)


_discover()

__all__ = ["ALTERNATING", "BASELINE", "BUILT_IN", "FAMILIES", "JOINT", "METHODS", "PLUGINS", "PROPERTY_COLUMNS",
           "UNAVAILABLE", "HParam", "Method", "Metric", "Plugin", "State", "Unavailable", "check_hparams",
           "make_method", "method_code", "register_method"]
