"""circle: the paper's Example 1, points in a square labelled inside/outside a circle."""

from __future__ import annotations

import numpy as np

from lysep.datasets.sampling import synthetic_dataset

#: squared radius of the circle in the paper's Example 1 (area pi/2 of the square's 4: ~39% inside)
CIRCLE_R2 = 0.5


def sample(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in [-1, 1]^2; label 1 strictly inside x1^2 + x2^2 < 0.5."""
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (np.sum(x**2, axis=1) < CIRCLE_R2).astype(np.int64)
    return x, y


DATASET = synthetic_dataset(
    "circle", "the paper's Example 1: uniform points in [-1, 1]^2, class 1 inside the circle x1^2 + x2^2 < 0.5",
    sample, order=0)
