"""Armijo block solver: never increases its objective, uses the autograd gradient, per-seed steps."""

from __future__ import annotations

import torch

from lysep.inner import armijo_gd, value_and_grad


def quad(a: torch.Tensor, c: torch.Tensor):
    """f_s(x) = 0.5 sum a_s x^2 - c.x per seed: a convex block objective with a known minimizer."""
    return lambda blk: (0.5 * a[:, None] * blk[0].pow(2) - c * blk[0]).sum(1)


def test_armijo_gd_decreases_and_converges_per_seed() -> None:
    a = torch.tensor([1.0, 50.0, 0.02], dtype=torch.float64)
    c = torch.ones(3, 4, dtype=torch.float64)
    f = quad(a, c)
    x = [torch.zeros(3, 4, dtype=torch.float64)]
    eta = torch.ones(3, dtype=torch.float64)
    values = [f(x)]
    for _ in range(40):
        res = armijo_gd(f, x, eta, steps=5)
        x, eta = res.block, res.eta
        assert bool((res.value <= values[-1]).all())
        torch.testing.assert_close(res.value, f(x), rtol=0, atol=0)
        values.append(res.value)
    torch.testing.assert_close(x[0], (c / a[:, None]), rtol=1e-3, atol=1e-3)


def test_armijo_gd_never_increases_a_nonconvex_objective() -> None:
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(4, 6, 6, generator=gen, dtype=torch.float64) * 3

    def f(blk):
        u = blk[0]
        return (torch.sin(torch.einsum("sij,sj->si", w, u)).pow(2).sum(1) + 0.1 * u.pow(4).sum(1))

    x = [torch.randn(4, 6, generator=gen, dtype=torch.float64)]
    eta = torch.full((4,), 10.0, dtype=torch.float64)
    prev = f(x)
    for _ in range(30):
        res = armijo_gd(f, x, eta, steps=2)
        assert bool((res.value <= prev).all())
        x, eta, prev = res.block, res.eta, res.value


def test_value_and_grad_matches_finite_differences() -> None:
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(2, 3, generator=gen, dtype=torch.float64)

    def f(blk):
        return torch.tanh(blk[0] * w).sum(1) + blk[1].pow(2).sum(1)

    x = [torch.randn(2, 3, generator=gen, dtype=torch.float64), torch.randn(2, 2, generator=gen, dtype=torch.float64)]
    _, grads = value_and_grad(f, x)
    h = 1e-6
    for t in range(2):
        for j in range(x[t].shape[1]):
            plus = [v.clone() for v in x]
            minus = [v.clone() for v in x]
            plus[t][:, j] += h
            minus[t][:, j] -= h
            fd = (f(plus) - f(minus)) / (2 * h)
            torch.testing.assert_close(grads[t][:, j], fd, rtol=1e-6, atol=1e-8)


def test_counts_only_live_seeds_and_grows_eta_after_acceptance() -> None:
    a = torch.tensor([1.0, 1.0], dtype=torch.float64)
    f = quad(a, torch.ones(2, 3, dtype=torch.float64))
    x = [torch.zeros(2, 3, dtype=torch.float64)]
    x[0][1, 0] = float("nan")  # seed 1 diverged: no work is charged to it
    res = armijo_gd(f, x, torch.tensor([0.5, 0.5], dtype=torch.float64), steps=1)
    assert res.gradients.tolist() == [1.0, 0.0] and res.evaluations[1] == 0 and res.evaluations[0] >= 1
    assert res.eta[0].item() == 1.0  # 0.5 accepted at once (exact step to the minimizer), then doubled


def test_rejected_steps_leave_the_block_unchanged() -> None:
    """A gradient that points uphill (value -x, autograd gradient +1): every trial fails."""

    def f(blk):
        return (blk[0] - 2 * blk[0].detach()).sum(1)

    x = [torch.ones(2, 3, dtype=torch.float64)]
    res = armijo_gd(f, x, torch.ones(2, dtype=torch.float64), steps=2, max_backtracks=4)
    assert torch.equal(res.block[0], x[0]) and torch.equal(res.value, f(x))
    assert res.evaluations.tolist() == [8.0, 8.0] and res.gradients.tolist() == [2.0, 2.0]
    assert res.eta.tolist() == [2.0**-8, 2.0**-8]
