"""Cost accounting in ``grad_evals``: one unit is one forward+backward pass of the whole network over
all N training samples (docs/method.md, "Cost accounting"). Every method charges through here."""

from __future__ import annotations

import torch

#: an objective-only evaluation (a backtracking trial) costs a third of a forward+backward pass
FORWARD_SHARE = 1.0 / 3.0


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
