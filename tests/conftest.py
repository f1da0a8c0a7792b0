"""Shared fixtures."""

from __future__ import annotations

import pytest
import torch

from lysep.core.problem import Problem

from helpers import circle_arrays


@pytest.fixture
def circle64() -> Problem:
    x, y = circle_arrays(200, 0)
    xt, yt = circle_arrays(100, 1)
    return Problem.from_arrays(x, y, xt, yt, dtype=torch.float64)
