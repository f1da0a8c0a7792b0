"""spirals: two interleaved spiral arms."""

from __future__ import annotations

import numpy as np

from lysep.datasets.sampling import balanced_labels, synthetic_dataset

#: turns of each spiral arm
SPIRAL_TURNS = 1.5


def sample(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spiral arms of radius <= 1; class 1 is class 0 rotated by pi."""
    y = balanced_labels(rng, n, 2)
    t = np.sqrt(rng.uniform(0.0, 1.0, size=n))  # sqrt: roughly even density along the arm
    angle = 2.0 * np.pi * SPIRAL_TURNS * t + np.pi * y
    return np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1), y


DATASET = synthetic_dataset(
    "spirals", f"two interleaved spiral arms of {SPIRAL_TURNS:g} turns and radius <= 1, one class each",
    sample, order=1)
