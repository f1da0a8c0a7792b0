"""Hand-written block gradients against autograd on the reference formulas of J."""

from __future__ import annotations

import pytest
import torch

from lysep.core.activations import get_activation
from lysep.core.blocks import (
    DERIVATIVES,
    AutogradBlock,
    HiddenUnitBlock,
    HiddenWeightBlock,
    LastUnitBlock,
    OutputWeightBlock,
)
from lysep.core.model import affine
from lysep.core.objectives import cross_entropy, mean_sq

S, N, M, K = 3, 17, 5, 4


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def check(block, reference, x: list[torch.Tensor]) -> None:
    f, g = block.value_and_grad(x)
    f_ref, g_ref = AutogradBlock(reference).value_and_grad(x)
    torch.testing.assert_close(f, f_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(block.value(x), f_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("act", sorted(DERIVATIVES))
@pytest.mark.parametrize("shared_input", [True, False])
def test_hidden_weight_block(act: str, shared_input: bool) -> None:
    sigma, _ = get_activation(act)
    h = rand(N, 3, seed=1) if shared_input else rand(S, N, 3, seed=1)
    target, beta = rand(S, N, M, seed=2), torch.tensor([0.5, 2.0, 30.0], dtype=torch.float64)
    ref = lambda x: beta / 2 * mean_sq(target - sigma(affine(x[0], x[1], h)))  # noqa: E731
    check(HiddenWeightBlock(h, target, beta, act), ref, [rand(S, M, 3, seed=3), rand(S, M, seed=4)])


@pytest.mark.parametrize("act", sorted(DERIVATIVES))
def test_hidden_unit_block(act: str) -> None:
    sigma, _ = get_activation(act)
    target, u_next = rand(S, N, M, seed=5), rand(S, N, 6, seed=6)
    w2, b2 = rand(S, 6, M, seed=7), rand(S, 6, seed=8)
    beta, beta2 = torch.tensor([1.0, 3.0, 0.1], dtype=torch.float64), torch.tensor([2.0, 0.5, 9.0], dtype=torch.float64)
    ref = lambda x: beta / 2 * mean_sq(x[0] - target) + beta2 / 2 * mean_sq(u_next - sigma(affine(w2, b2, x[0])))  # noqa: E731
    check(HiddenUnitBlock(target, beta, w2, b2, u_next, beta2, act), ref, [rand(S, N, M, seed=9)])


def test_last_unit_and_output_blocks() -> None:
    y = torch.randint(0, K, (N,), generator=torch.Generator().manual_seed(0))
    target, wo, bo = rand(S, N, M, seed=10), rand(S, K, M, seed=11) * 3, rand(S, K, seed=12)
    beta = torch.tensor([1.0, 10.0, 0.3], dtype=torch.float64)
    ref = lambda x: beta / 2 * mean_sq(x[0] - target) + cross_entropy(affine(wo, bo, x[0]), y)  # noqa: E731
    check(LastUnitBlock(target, beta, wo, bo, y), ref, [rand(S, N, M, seed=13)])
    h = rand(S, N, M, seed=14)
    ref_out = lambda x: cross_entropy(affine(x[0], x[1], h), y)  # noqa: E731
    check(OutputWeightBlock(h, y), ref_out, [wo, bo])
