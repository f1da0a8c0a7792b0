"""Full-training-set evaluations in row chunks, so that scoring N samples needs a bounded amount of memory.

A forward pass keeps every layer's output for the rows it scores: at N = 60000, depth 10 and width
256 that is as large as LySep's U (docs/benchmarks.md, "Memory"). ``row_slices`` cuts the rows so
that one chunk's activations stay below ``EVAL_BYTES``; a problem that fits in one chunk is scored
exactly as before, in one piece, so small problems give the same numbers to the last bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lysep.core.choices import EVAL_BYTES
from lysep.core.model import Params, forward

#: tensors an evaluation holds per layer output it keeps (pre-activation, output, a residual or a copy made to batch
#: the seeds' convolutions, a pooled convolution's output before pooling): a chunk is sized for this many
TEMPORARIES = 4


def per_sample_sizes(params: Params, x: torch.Tensor, activation: str) -> list[int]:
    """Elements of one sample's output of every layer (hidden layers, then the logits), per seed."""
    with torch.no_grad():
        hidden, logits = forward(params, x[:1], activation)
    return [h[0, 0].numel() for h in hidden] + [logits[0, 0].numel()]


def row_slices(n: int, row_bytes: int, budget: int | None = None) -> list[slice]:
    """Consecutive slices of ``n`` rows, each holding at most ``budget`` bytes (default ``EVAL_BYTES``) at
    ``row_bytes`` per row (one slice of all rows when they fit; at least one row per slice)."""
    rows = max(1, (EVAL_BYTES if budget is None else budget) // max(1, row_bytes))
    return [slice(start, min(n, start + rows)) for start in range(0, n, rows)]


def eval_slices(params: Params, x: torch.Tensor, activation: str, extra_rows: int = 0) -> list[slice]:
    """The row chunks of ``x`` for a forward pass of all seeds (``extra_rows``: further per-sample
    tensors the caller holds per chunk, in elements per seed)."""
    s = params[0][0].shape[0]
    per_row = TEMPORARIES * s * (sum(per_sample_sizes(params, x, activation)) + extra_rows) * x.element_size()
    return row_slices(x.shape[0], per_row)


def chunked_mean(score: Callable[[slice], tuple[torch.Tensor, ...]], n: int,
                 slices: list[slice]) -> tuple[torch.Tensor, ...]:
    """``score(rows)`` gives per-seed means over those rows; their mean over all ``n`` rows (row-weighted)."""
    if len(slices) == 1:
        return tuple(score(slices[0]))
    total: list[torch.Tensor] | None = None
    for rows in slices:
        part = [v * (rows.stop - rows.start) for v in score(rows)]
        total = part if total is None else [t + p for t, p in zip(total, part)]
    return tuple(t / n for t in total)
