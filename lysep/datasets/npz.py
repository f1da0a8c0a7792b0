"""npz: your own data, a ``.npz`` file with ``x_train, y_train, x_test, y_test`` (validated, never unpickled).

Features may be (N, d) or images (N, C, H, W) and keep the file's shape; labels are the class
indices 0..K-1. ``n_train``, ``n_test``, ``seed``, ``noise`` and ``n_classes`` do not apply.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lysep.datasets.base import USER_FILE, Dataset, DatasetInfo

#: the name that loads a user ``.npz`` file (needs ``path``)
NPZ = "npz"
#: the arrays a user ``.npz`` must hold
NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
#: labels of a user ``.npz`` must be below this (a stray huge label would size the output layer)
MAX_CLASSES = 10_000


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    """``np.load`` without pickle; ValueError naming the file for anything that is not an .npz archive."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: cannot read as .npz ({e})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive (expected keys {', '.join(NPZ_KEYS)})")
    return archive


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a user .npz; ValueError naming the file and the missing or unreadable key."""
    with _open_npz(path) as archive:
        for key in NPZ_KEYS:
            if key not in archive.files:
                raise ValueError(f"{path}: key {key!r} is missing (expected keys {', '.join(NPZ_KEYS)})")
        return {key: _read_key(path, archive, key) for key in NPZ_KEYS}


def _read_key(path: Path, archive: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    """One array; object arrays (which would need pickle) and corrupt members are refused naming the key."""
    try:
        return archive[key]
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: key {key!r} cannot be read ({e})") from None


def _check_features(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """float32 (N, d) or (N, C, H, W) with every row finite; ValueError naming file, key and row."""
    if x.ndim not in (2, 4):
        raise ValueError(f"{path}: {key} has shape {x.shape} (expected (N, d) or (N, C, H, W))")
    if x.shape[0] == 0 or x[0].size == 0:
        raise ValueError(f"{path}: {key} has shape {x.shape} (expected at least one row and one feature)")
    if x.dtype.kind not in "iuf":
        raise ValueError(f"{path}: {key} has dtype {x.dtype} (expected real numbers)")
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    bad = ~np.isfinite(x32.reshape(x32.shape[0], -1)).all(axis=1)
    if bad.any():
        raise ValueError(f"{path}: {key} row {int(np.argmax(bad))} contains NaN or inf (or overflows float32)")
    return x32


def _check_labels(path: Path, key: str, y: np.ndarray) -> np.ndarray:
    """int64 (N,) of non-negative integers; ValueError naming file, key and the first bad row."""
    if y.ndim != 1:
        raise ValueError(f"{path}: {key} has shape {y.shape} (expected (N,))")
    if y.dtype.kind not in "iuf":
        raise ValueError(f"{path}: {key} has dtype {y.dtype} (expected integer class labels)")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y)) | (np.abs(y) >= 2**62)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{path}: {key} row {i} has label {float(y[i])} (expected a non-negative integer)")
    if y.dtype.kind == "u" and y.dtype.itemsize >= 8 and (y >= 2**62).any():
        i = int(np.argmax(y >= 2**62))
        raise ValueError(f"{path}: {key} row {i} has label {int(y[i])} (too large)")
    y = y.astype(np.int64)
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        raise ValueError(f"{path}: {key} row {i} has label {int(y[i])} (expected a non-negative integer)")
    return y


def load_npz(path: str | Path) -> Dataset:
    """A user dataset from ``path`` (keys x_train, y_train, x_test, y_test), validated; never unpickles.

    ``n_classes`` is the largest label + 1: at least 2, at most ``MAX_CLASSES``. Extra keys are ignored.
    """
    path = Path(path)
    arrays = _read_npz(path)
    x = {k: _check_features(path, k, arrays[k]) for k in ("x_train", "x_test")}
    y = {k: _check_labels(path, k, arrays[k]) for k in ("y_train", "y_test")}
    if x["x_train"].shape[1:] != x["x_test"].shape[1:]:
        raise ValueError(
            f"{path}: x_test has feature shape {x['x_test'].shape[1:]} but x_train has {x['x_train'].shape[1:]}"
        )
    for xk, yk in (("x_train", "y_train"), ("x_test", "y_test")):
        if x[xk].shape[0] != y[yk].shape[0]:
            raise ValueError(f"{path}: {yk} has {y[yk].shape[0]} labels but {xk} has {x[xk].shape[0]} rows")
    for yk, labels in y.items():
        if (labels >= MAX_CLASSES).any():
            i = int(np.argmax(labels >= MAX_CLASSES))
            raise ValueError(f"{path}: {yk} row {i} has label {int(labels[i])} "
                             f"(expected a class index 0..{MAX_CLASSES - 1})")
    n_classes = int(max(y["y_train"].max(), y["y_test"].max())) + 1
    if n_classes < 2:
        raise ValueError(f"{path}: labels give n_classes={n_classes} (expected at least 2 classes, labels 0..K-1)")
    return Dataset(NPZ, x["x_train"], y["y_train"], x["x_test"], y["y_test"], n_classes)


def load(*, path: str | Path, images: bool = False) -> Dataset:
    """The file at ``path`` as it is: its features keep their shape whether or not images are asked for."""
    return load_npz(path)


DATASET = DatasetInfo(
    name=NPZ, description="your own .npz file with " + ", ".join(NPZ_KEYS) + " (features (N, d) or (N, C, H, W))",
    kind=USER_FILE, keys=("path",), load=load, images=True, file=".npz file", order=6)
