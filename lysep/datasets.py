"""Offline classification datasets, deterministic given a data seed.

Synthetic 2-D sets (``circle``, ``spirals``, ``moons``, ``gaussians``, ``checkerboard``) draw
the training and the test split from two independent streams of ``np.random.default_rng``
(children of ``np.random.SeedSequence(seed)``). ``digits`` is scikit-learn's bundled 8x8
handwritten digits; ``npz`` is a user file with ``x_train, y_train, x_test, y_test``.
Features come back as float32, labels as int64. Nothing is downloaded.

``noise`` is the standard deviation of isotropic Gaussian jitter added to the 2-D features
after the labels are assigned (for ``gaussians`` it widens every blob); ``digits`` and ``npz``
ignore it. ``n_classes`` only shapes ``gaussians``.

digits split rule: when ``n_train + n_test <= 1797`` the split is exactly ``n_train``/``n_test``
(stratified, shuffled by ``seed``); otherwise, as with the defaults (2000/1000), it is a
stratified 70/30 split (1257/540). Every pixel is standardized with the training split's
mean and standard deviation (pixels constant in the training split are only centred);
``images=True`` then reshapes to ``(N, 1, 8, 8)``.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: every built-in dataset name; ``"npz"`` (a user file) is accepted by ``load_dataset`` as well
DATASETS: tuple[str, ...] = ("circle", "spirals", "moons", "gaussians", "checkerboard", "digits")
#: the name that loads a user ``.npz`` file (needs ``path``)
NPZ = "npz"
#: the arrays a user ``.npz`` must hold
NPZ_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
#: labels of a user ``.npz`` must be below this (a stray huge label would size the output layer)
MAX_CLASSES = 10_000
#: squared radius of the circle in the paper's Example 1 (area pi/2 of the square's 4: ~39% inside)
CIRCLE_R2 = 0.5
#: squares per side of the checkerboard on [-1, 1]^2
CHECKER_CELLS = 4
#: turns of each spiral arm
SPIRAL_TURNS = 1.5
#: standard deviation of each Gaussian blob before ``noise``; centres lie on the unit circle
BLOB_STD = 0.25
#: test fraction of the digits split when n_train + n_test do not fit in the 1797 samples
DIGITS_TEST_FRACTION = 0.3
#: pixels whose training std is below this are only centred, not scaled
STD_FLOOR = 1e-6


@dataclass(frozen=True)
class Dataset:
    """A train/test split: x float32 (N, d) or (N, C, H, W), y int64 (N,) in ``0..n_classes-1``."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


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
                images: bool, path: str | None) -> None:
    """ValueError naming the first bad argument and its value."""
    if not isinstance(name, str) or name not in (*DATASETS, NPZ):
        raise ValueError(f"name={name!r} is unknown (expected one of: {', '.join((*DATASETS, NPZ))})")
    for arg, value, low in (("n_train", n_train, 1), ("n_test", n_test, 1), ("seed", seed, 0),
                            ("n_classes", n_classes, 2)):
        if not _is_int(value) or value < low:
            raise ValueError(f"{arg}={value!r} is invalid (expected an integer >= {low})")
    if not _is_finite_number(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} is invalid (expected a finite number >= 0)")
    if not isinstance(images, bool):
        raise ValueError(f"images={images!r} is invalid (expected True or False)")
    if images and name not in ("digits", NPZ):
        raise ValueError(f"images=True is not available for name={name!r} (only for 'digits')")
    if name == NPZ and not isinstance(path, (str, Path)):
        raise ValueError(f"path={path!r} is invalid (name='npz' needs the path of a .npz file)")


# ---------------------------------------------------------------------------- synthetic sets


def _balanced_labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n labels, each class within one of n/k, in random order."""
    return rng.permutation(np.arange(n) % k)


def _circle(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in [-1, 1]^2; label 1 strictly inside x1^2 + x2^2 < 0.5."""
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (np.sum(x**2, axis=1) < CIRCLE_R2).astype(np.int64)
    return x, y


def _checkerboard(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in [-1, 1]^2; label = parity of the 4x4 square a point falls in."""
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    cell = np.clip(np.floor((x + 1.0) * CHECKER_CELLS / 2.0), 0, CHECKER_CELLS - 1).astype(np.int64)
    return x, (cell[:, 0] + cell[:, 1]) % 2


def _spirals(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms of radius <= 1; class 1 is class 0 rotated by pi."""
    y = _balanced_labels(rng, n, 2)
    t = np.sqrt(rng.uniform(0.0, 1.0, size=n))  # sqrt: roughly even density along the arm
    angle = 2.0 * np.pi * SPIRAL_TURNS * t + np.pi * y
    return np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1), y


def _moons(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two half circles (noise added by the caller, like every 2-D set)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=0.0, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    return x, y.astype(np.int64)


def _gaussians(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k isotropic blobs (std 0.25) centred evenly on the unit circle, balanced classes."""
    y = _balanced_labels(rng, n, k)
    angles = 2.0 * np.pi * np.arange(k) / k
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres[y] + BLOB_STD * rng.standard_normal((n, 2)), y


Sampler = Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]
_SYNTHETIC: dict[str, Sampler] = {
    "circle": _circle, "spirals": _spirals, "moons": _moons, "gaussians": _gaussians, "checkerboard": _checkerboard,
}


def _sample(sampler: Sampler, rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw n points and jitter them by ``noise``."""
    x, y = sampler(rng, n, k)
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def _synthetic(name: str, n_train: int, n_test: int, seed: int, noise: float, n_classes: int) -> Dataset:
    """Train and test from independent child streams of ``SeedSequence(seed)``."""
    sampler = _SYNTHETIC[name]
    k = n_classes if name == "gaussians" else 2
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = _sample(sampler, train_rng, n_train, noise, k)
    x_test, y_test = _sample(sampler, test_rng, n_test, noise, k)
    return Dataset(name, x_train, y_train, x_test, y_test, k)


# ---------------------------------------------------------------------------- digits


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (x - mean) / std with the training split's statistics; constant features only centred."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return (x_train - mean) / std, (x_test - mean) / std


def _digits(n_train: int, n_test: int, seed: int, images: bool) -> Dataset:
    """Stratified split of sklearn's digits (rule in the module docstring), standardized per pixel."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    k = int(y.max()) + 1
    if n_train + n_test <= len(y):
        if min(n_train, n_test) < k:
            raise ValueError(f"digits: n_train={n_train} and n_test={n_test} must both be >= {k} (stratified split)")
        sizes = {"train_size": n_train, "test_size": n_test}
    else:
        sizes = {"test_size": DIGITS_TEST_FRACTION}
    random_state = int(np.random.default_rng(seed).integers(2**31 - 1))
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, stratify=y, random_state=random_state, **sizes)
    x_tr, x_te = _standardize(x_tr.astype(np.float64), x_te.astype(np.float64))
    if images:
        x_tr, x_te = x_tr.reshape(-1, 1, 8, 8), x_te.reshape(-1, 1, 8, 8)
    return Dataset("digits", x_tr.astype(np.float32), y_tr.astype(np.int64),
                   x_te.astype(np.float32), y_te.astype(np.int64), k)


# ---------------------------------------------------------------------------- user .npz


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


# ---------------------------------------------------------------------------- entry point


def load_dataset(name: str, *, n_train: int = 2000, n_test: int = 1000, seed: int = 0, noise: float = 0.0,
                 n_classes: int = 3, images: bool = False, path: str | Path | None = None) -> Dataset:
    """The dataset ``name`` (one of ``DATASETS`` or ``"npz"`` with ``path``); ValueError naming a bad argument.

    ``n_classes`` only applies to ``gaussians``; ``images`` only to ``digits`` (an ``npz`` keeps its
    file's shape); ``n_train``/``n_test``/``seed``/``noise`` are ignored for ``npz``.
    """
    _check_args(name, n_train, n_test, seed, noise, n_classes, images, path)
    if name == NPZ:
        return load_npz(path)
    if name == "digits":
        return _digits(int(n_train), int(n_test), int(seed), images)
    return _synthetic(name, int(n_train), int(n_test), int(seed), float(noise), int(n_classes))


__all__ = ["DATASETS", "NPZ", "NPZ_KEYS", "Dataset", "load_dataset", "load_npz"]
