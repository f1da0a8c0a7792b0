"""Issue 32 item 7: the inner Adam solver is charged what it computes for its steps, not the bookkeeping value."""

from __future__ import annotations

import torch

from lysep.core.inner import adam_solver


def _quadratic(x: list[torch.Tensor]) -> torch.Tensor:
    return 0.5 * x[0].pow(2).sum(1)


def test_adam_inner_steps_are_charged_one_gradient_each_and_no_evaluation() -> None:
    """Three Adam steps: three gradients. The objective at the end is only reported (no step uses it); the solver
    charged it as one evaluation before, which docs/method.md section 8 does not charge."""
    x = [torch.ones(2, 4, dtype=torch.float64)]
    x[0][1] = float("nan")  # a diverged seed is charged nothing
    res = adam_solver(_quadratic, x, {"lr": 0.1}, 3, {})
    assert res.gradients.tolist() == [3.0, 0.0]
    assert res.evaluations.tolist() == [0.0, 0.0]
    torch.testing.assert_close(res.value[:1], _quadratic(res.block)[:1])  # still reported, exactly
    assert bool((res.value[:1] < _quadratic(x)[:1]).all())
