"""Cost accounting, in two units every method charges through here (docs/method.md, "Cost accounting").

- ``grad_evals``: one unit is one forward+backward pass of the whole network over all N training samples.
- ``flops``: floating-point operations of the matrix products and convolutions a seed's iteration performs,
  counted as ``torch.utils.flop_counter`` counts them (2 per multiply-add, bias additions and elementwise work
  not counted), plus the dense factorisations and solves of the second-order and MM blocks. Per seed: what the
  seed's own work costs, whether or not other seeds share its batch.

The two differ where a unit of ``grad_evals`` is not a whole pass: a block gradient is booked at its layer's
share of a pass (forward + two backward products) but costs only the forward and *one* backward product
(the weights' or the input's), so in flops a block gradient is two forwards of its layer
(:data:`GRADIENT_FORWARDS`) where ``grad_evals`` charges three.
"""

from __future__ import annotations

import torch

#: an objective-only evaluation (a backtracking trial) costs a third of a forward+backward pass
FORWARD_SHARE = 1.0 / 3.0
#: flops of a block gradient in forwards of its layer: the forward product and one backward product
GRADIENT_FORWARDS = 2.0


def work_shares(work: list[int]) -> list[float]:
    """Each layer's share of the network's multiply-adds (``lysep.core.model.layer_work``)."""
    return [w / sum(work) for w in work]


def block_cost(share: float, gradients: torch.Tensor, evaluations: torch.Tensor,
               forwards: torch.Tensor | None = None) -> torch.Tensor:
    """Per-seed cost of a block solve on one layer: a gradient costs the layer's ``share``, an
    objective-only evaluation (and any other layer-forward work) a third of it."""
    other = evaluations if forwards is None else evaluations + forwards
    return share * (gradients + FORWARD_SHARE * other)


def data_passes(rows: int, n_train: int) -> float:
    """Cost of one gradient of F on ``rows`` of the N training samples (a full batch costs 1)."""
    return rows / n_train


def madd_flops(madds, rows: float):
    """Flops of ``madds`` multiply-adds per sample (a number or a per-seed tensor) over ``rows`` samples: two each."""
    return 2.0 * rows * madds


def forward_flops(work: list[int], rows: float) -> list[float]:
    """Flops of each layer's forward product over ``rows`` samples, from its multiply-adds per sample without the
    bias (``lysep.core.model.layer_work(..., bias=False)``)."""
    return [madd_flops(w, rows) for w in work]


def block_flops(forward: float, gradients: torch.Tensor, evaluations: torch.Tensor,
                forwards: torch.Tensor | None = None) -> torch.Tensor:
    """Per-seed flops of a block solve on one layer whose forward product costs ``forward`` flops: a gradient two
    forwards (:data:`GRADIENT_FORWARDS`), an objective-only evaluation one, and each layer-forward unit of other
    work (Gram matrices, factorisations, solves: the ``forwards`` of :func:`block_cost`) one."""
    other = evaluations if forwards is None else evaluations + forwards
    return forward * (GRADIENT_FORWARDS * gradients + other)


def pass_flops(work: list[int], rows: float) -> float:
    """Flops of one forward+backward pass of F over ``rows`` samples: every layer's forward and weight gradient,
    and the input gradient of every layer but the first (the data need none)."""
    fwd = forward_flops(work, rows)
    return 3.0 * sum(fwd) - fwd[0]
