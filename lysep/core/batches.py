"""Minibatches: per-seed epochs of shuffled indices, the same for every method given a seed."""

from __future__ import annotations

import math

import numpy as np
import torch

from lysep.core.cost import data_passes
from lysep.core.problem import Problem


class MinibatchSampler:
    """Per-seed epochs of shuffled indices; ``next()`` gives an (S, B) index tensor.

    Seed ``s`` shuffles with its own generator (a child of ``SeedSequence([s, 1])``), so a seed's
    batches do not depend on which other seeds share its cell, nor on the method.
    """

    def __init__(self, n: int, batch_size: int, seeds: list[int], device: torch.device):
        self.n, self.batch_size, self.device = n, min(batch_size, n), device
        self.gens = [torch.Generator().manual_seed(int(np.random.SeedSequence([int(s), 1]).generate_state(1)[0]))
                     for s in seeds]
        self.perm: torch.Tensor | None = None
        self.pos = n

    def next(self) -> torch.Tensor:
        if self.pos >= self.n:
            self.perm = torch.stack([torch.randperm(self.n, generator=g) for g in self.gens]).to(self.device)
            self.pos = 0
        idx = self.perm[:, self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx


def batch(problem: Problem, sampler: MinibatchSampler | None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(x, y, fraction of the data) for one step: the full set, or each seed's minibatch."""
    if sampler is None:
        return problem.x_train, problem.y_train, 1.0
    idx = sampler.next()
    return problem.x_train[idx], problem.y_train[idx], data_passes(idx.shape[1], problem.n_train)


def steps_per_epoch(n: int, batch_size: int | None) -> int:
    """Iterations of one pass over ``n`` samples: ``ceil(n / batch_size)`` (the sampler's last batch of an
    epoch holds the rest), or 1 for a full-batch method (``batch_size`` None)."""
    return 1 if batch_size is None else math.ceil(n / min(batch_size, n))
