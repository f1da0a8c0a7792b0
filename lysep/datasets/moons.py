"""moons: scikit-learn's two interleaving half circles."""

from __future__ import annotations

import numpy as np

from lysep.datasets.sampling import synthetic_dataset


def sample(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two half circles (noise added by the caller, like every 2-D set)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=0.0, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    return x, y.astype(np.int64)


DATASET = synthetic_dataset("moons", "scikit-learn's two interleaving half circles", sample, order=2)
