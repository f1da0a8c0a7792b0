"""The datasets known by name: every ``DATASET`` declaration of a module of this package, plus users' own.

``discover`` finds the declarations (it never names a dataset); ``register_dataset`` adds one of
a user's; ``load_dataset`` checks the arguments and calls the declaration's ``load`` with the keys
it declares.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lysep.datasets.base import Dataset, DatasetInfo

_REGISTRY: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Make ``info`` loadable by its name (in specs, ``load_dataset`` and ``lysep datasets``); returns it.

    ValueError if another declaration already has the name (registering the same one again is a no-op).
    """
    if not isinstance(info, DatasetInfo):
        raise ValueError(f"register_dataset: {info!r} is not a DatasetInfo")
    known = _REGISTRY.get(info.name)
    if known is not None and known is not info:
        raise ValueError(f"register_dataset: a dataset named {info.name!r} is already registered; "
                         "choose another name")
    _REGISTRY[info.name] = info
    return info


def discover(package_name: str, package_path: Iterable[str]) -> None:
    """Register the ``DATASET`` of every module of the package (modules without one are shared code)."""
    for module in pkgutil.iter_modules(package_path):
        declared = getattr(importlib.import_module(f"{package_name}.{module.name}"), "DATASET", None)
        if declared is not None:
            register_dataset(declared)


def datasets() -> tuple[DatasetInfo, ...]:
    """Every registered declaration: the built-ins in their declared order, then users' in registration order."""
    index = {name: i for i, name in enumerate(_REGISTRY)}
    return tuple(sorted(_REGISTRY.values(), key=lambda d: (d.order, index[d.name])))


def dataset_names() -> tuple[str, ...]:
    return tuple(d.name for d in datasets())


def dataset_info(name: str) -> DatasetInfo:
    """The declaration of ``name``; ValueError listing the known names."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name={name!r} is unknown (expected one of: {', '.join(dataset_names())})")
    return _REGISTRY[name]


# ---------------------------------------------------------------------------- argument checks


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_finite_number(v: object) -> bool:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def _check_args(name: str, n_train: int, n_test: int, seed: int, noise: float, n_classes: int,
                images: bool, path: str | Path | None, root: str | Path | None = None) -> DatasetInfo:
    """The declaration of ``name``; ValueError naming the first bad argument and its value."""
    info = dataset_info(name)
    for arg, value, low in (("n_train", n_train, 1), ("n_test", n_test, 1), ("seed", seed, 0),
                            ("n_classes", n_classes, 2)):
        if not _is_int(value) or value < low:
            raise ValueError(f"{arg}={value!r} is invalid (expected an integer >= {low})")
    if not _is_finite_number(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} is invalid (expected a finite number >= 0)")
    if not isinstance(images, bool):
        raise ValueError(f"images={images!r} is invalid (expected True or False)")
    if images and not info.images:
        makers = ", ".join(repr(d.name) for d in datasets() if d.images and d.file is None)
        raise ValueError(f"images=True is not available for name={name!r} (only for {makers})")
    if info.file is not None and not isinstance(path, (str, Path)):
        raise ValueError(f"path={path!r} is invalid (name={name!r} needs the path of a {info.file})")
    if root is not None and not isinstance(root, (str, Path)):
        raise ValueError(f"root={root!r} is invalid (expected the path of a folder, or None)")
    return info


# ---------------------------------------------------------------------------- entry point


def load_dataset(name: str, *, n_train: int = 2000, n_test: int = 1000, seed: int = 0, noise: float = 0.0,
                 n_classes: int = 3, images: bool = False, path: str | Path | None = None,
                 root: str | Path | None = None) -> Dataset:
    """The dataset ``name`` (see ``lysep datasets``); ValueError naming a bad argument.

    Every argument is checked; the dataset's ``load`` then gets only the keys it declares
    (``n_classes`` only shapes ``gaussians``, ``path`` only names the ``npz`` file, ...) and
    ``images`` when it can give images (an ``npz`` keeps its file's shape).
    """
    info = _check_args(name, n_train, n_test, seed, noise, n_classes, images, path, root)
    values = {"n_train": int(n_train), "n_test": int(n_test), "seed": int(seed), "noise": float(noise),
              "n_classes": int(n_classes), "path": path, "root": root}
    kwargs = {key: values[key] for key in info.keys}
    if info.images:
        kwargs["images"] = images
    return info.load(**kwargs)
