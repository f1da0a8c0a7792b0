"""Small offline problems built in the tests themselves (no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lysep.core.problem import Problem
from lysep.harness.provenance import MEASURED_COLUMNS


def circle_arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    return x, (x[:, 0] ** 2 + x[:, 1] ** 2 < 0.5).astype(np.int64)


def random_problem(n: int = 64, d: int = 3, k: int = 3, seed: int = 0, dtype=torch.float64) -> Problem:
    rng = np.random.default_rng(seed)
    x, xt = rng.normal(size=(n, d)), rng.normal(size=(n // 2, d))
    y, yt = rng.integers(0, k, n), rng.integers(0, k, n // 2)
    y[:k] = np.arange(k)
    return Problem.from_arrays(x, y, xt, yt, n_classes=k, dtype=dtype)


def no_time(df: pd.DataFrame) -> pd.DataFrame:
    """A trace or runs table without what measures an execution (wall and CPU time, start and end, load), sorted by
    run (and iteration): two executions of the same computation give equal tables."""
    cols = [c for c in df.columns if c not in MEASURED_COLUMNS]
    keys = ["method", "depth", "width", "seed", *(["iteration"] if "iteration" in df else [])]
    return df[cols].sort_values(keys).reset_index(drop=True)
