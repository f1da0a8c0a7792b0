"""checkerboard: points in a square labelled by the colour of their square of a board."""

from __future__ import annotations

import numpy as np

from lysep.datasets.sampling import synthetic_dataset

#: squares per side of the checkerboard on [-1, 1]^2
CHECKER_CELLS = 4


def sample(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform in [-1, 1]^2; label = parity of the 4x4 square a point falls in."""
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    cell = np.clip(np.floor((x + 1.0) * CHECKER_CELLS / 2.0), 0, CHECKER_CELLS - 1).astype(np.int64)
    return x, (cell[:, 0] + cell[:, 1]) % 2


DATASET = synthetic_dataset(
    "checkerboard",
    f"uniform points in [-1, 1]^2, class = colour of their square of a {CHECKER_CELLS}x{CHECKER_CELLS} board",
    sample, order=4)
