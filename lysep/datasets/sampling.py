"""The shared recipe of the 2-D synthetic datasets: train and test from two independent streams.

A 2-D dataset module gives a sampler ``(rng, n, k) -> (x (n, 2), y (n,))`` and gets its loader and
declaration from ``synthetic_dataset``. ``noise`` is the standard deviation of isotropic Gaussian
jitter added to the features after the labels are assigned.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lysep.datasets.base import SYNTHETIC_2D, Dataset, DatasetInfo

Sampler = Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]
#: the [data] keys of every 2-D set (plus ``n_classes`` where the class count is free)
SYNTHETIC_KEYS: tuple[str, ...] = ("n_train", "n_test", "seed", "noise")


def balanced_labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n labels, each class within one of n/k, in random order."""
    return rng.permutation(np.arange(n) % k)


def sample(sampler: Sampler, rng: np.random.Generator, n: int, noise: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw n points and jitter them by ``noise``."""
    x, y = sampler(rng, n, k)
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), y.astype(np.int64)


def synthetic(name: str, sampler: Sampler, n_train: int, n_test: int, seed: int, noise: float, k: int) -> Dataset:
    """Train and test from independent child streams of ``SeedSequence(seed)``."""
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = sample(sampler, train_rng, n_train, noise, k)
    x_test, y_test = sample(sampler, test_rng, n_test, noise, k)
    return Dataset(name, x_train, y_train, x_test, y_test, k)


def synthetic_dataset(name: str, description: str, sampler: Sampler, *, order: int,
                      n_classes: int | None = 2) -> DatasetInfo:
    """The declaration of a 2-D dataset drawn by ``sampler``; ``n_classes=None``: the spec's n_classes key."""
    if n_classes is None:
        def load(*, n_train: int, n_test: int, seed: int, noise: float, n_classes: int) -> Dataset:
            return synthetic(name, sampler, n_train, n_test, seed, noise, n_classes)

        keys = (*SYNTHETIC_KEYS, "n_classes")
    else:
        def load(*, n_train: int, n_test: int, seed: int, noise: float) -> Dataset:
            return synthetic(name, sampler, n_train, n_test, seed, noise, n_classes)

        keys = SYNTHETIC_KEYS
    return DatasetInfo(name=name, description=description, kind=SYNTHETIC_2D, keys=keys, load=load, shape=(2,),
                       n_classes=n_classes, order=order)
