"""What the image data sets read from files share: stratified seeded subsets and standardisation.

``prepare`` turns a whole training and test set (uint8 images (N, C, H, W), labels (N,)) into a
``Dataset``: ``n_train`` and ``n_test`` images drawn per class in proportion to the class sizes
(seeded), standardised per channel with the training subset's mean and standard deviation, as
images (N, C, H, W) for a CNN or flattened to (N, C*H*W) for an FNN.
"""

from __future__ import annotations

import numpy as np

from lysep.datasets.base import Dataset

#: a channel whose training std is below this is only centred
STD_FLOOR = 1e-6


def stratified_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` of the labels ``y``: each class gets its share of ``n`` (largest remainders
    break the ties), its members drawn by ``rng``. All of them when ``n == len(y)``."""
    classes, counts = np.unique(y, return_counts=True)
    exact = n * counts / len(y)
    take = np.floor(exact).astype(np.int64)
    short = n - int(take.sum())
    take[np.argsort(-(exact - take), kind="stable")[:short]] += 1
    picked = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def standardize_channels(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x - mean_c) / std_c per channel c of images (N, C, H, W), with the training images' statistics (float64
    sums), as float32; one channel at a time, so no float64 copy of the whole set is made."""
    out = np.empty(train.shape, np.float32), np.empty(test.shape, np.float32)
    for c in range(train.shape[1]):
        mean = float(np.mean(train[:, c], dtype=np.float64))
        std = float(np.std(train[:, c], dtype=np.float64))
        std = 1.0 if std < STD_FLOOR else std
        for src, dst in zip((train, test), out):
            dst[:, c] = (src[:, c].astype(np.float32) - np.float32(mean)) / np.float32(std)
    return out


def prepare(name: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], *, n_train: int,
            n_test: int, seed: int, images: bool, n_classes: int) -> Dataset:
    """The ``Dataset`` of seeded stratified subsets of ``train`` and ``test`` (each (images, labels)); ValueError
    naming the key when a subset is larger than its split."""
    for key, n, (x, _), what in (("n_train", n_train, train, "training"), ("n_test", n_test, test, "test")):
        if n > len(x):
            raise ValueError(f"{key} = {n}: {name} has {len(x)} {what} images")
    rng_train, rng_test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    i_train, i_test = stratified_subset(train[1], n_train, rng_train), stratified_subset(test[1], n_test, rng_test)
    x_train, x_test = standardize_channels(train[0][i_train], test[0][i_test])
    if not images:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    return Dataset(name, x_train, train[1][i_train].astype(np.int64), x_test, test[1][i_test].astype(np.int64),
                   n_classes)
