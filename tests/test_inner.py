"""Armijo block solver: never increases its objective, uses the autograd gradient, per-seed steps."""

from __future__ import annotations

import pytest
import torch

from lysep.core.inner import armijo_gd, value_and_grad


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


# -- the solvers of lysep.core.inner.SOLVERS on the real LySep blocks ---------------------------------------------
def _blocks(seed: int, act: str = "tanh"):
    from lysep.core.blocks import HiddenWeightBlock, OutputWeightBlock

    gen = torch.Generator().manual_seed(seed)
    s, n, m, k = 3, 40, 4, 3
    h = torch.tanh(torch.randn(s, n, m, generator=gen, dtype=torch.float64))
    target = torch.tanh(torch.randn(s, n, m, generator=gen, dtype=torch.float64))
    beta = torch.tensor([0.5, 5.0, 50.0], dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=gen)
    w = [torch.randn(s, m, m, generator=gen, dtype=torch.float64),
         torch.randn(s, m, generator=gen, dtype=torch.float64)]
    wo = [torch.randn(s, k, m, generator=gen, dtype=torch.float64), torch.zeros(s, k, dtype=torch.float64)]
    return HiddenWeightBlock(h, target, beta, act), w, OutputWeightBlock(h, y), wo


HP = {"armijo_c": 1e-4, "max_backtracks": 30, "damping": 1e-3, "cg_iters": 10}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver,kind", [("gd", "hidden"), ("gd", "out"), ("gauss_newton", "hidden"),
                                         ("newton", "out"), ("newton_cg", "out"), ("adam", "hidden"),
                                         ("adam", "out")])
def test_each_solver_decreases_its_block_objective(seed: int, solver: str, kind: str) -> None:
    from lysep.core.blocks import AutogradBlock
    from lysep.core.inner import SOLVERS

    hidden, w, out, wo = _blocks(seed)
    block, x = (hidden, w) if kind == "hidden" else (out, wo)
    reference = AutogradBlock(block.value)  # the same objective, by autograd
    f_start = reference.value(x)
    bstate = {"eta": torch.ones(3, dtype=torch.float64), "lr": 0.05}
    monotone = solver != "adam"
    prev = f_start
    for _ in range(15):
        res = SOLVERS[solver](block, x, bstate, 2, HP)
        torch.testing.assert_close(res.value, reference.value(res.block), rtol=1e-12, atol=1e-12)
        if monotone:
            assert bool((res.value <= prev).all()), (res.value - prev).max()
        x, prev = res.block, res.value
    assert bool((prev < 0.9 * f_start).all())
    if solver in ("gauss_newton", "newton", "newton_cg"):  # second-order solvers get far in 30 steps
        gd = {"eta": torch.ones(3, dtype=torch.float64)}
        xg = (w if kind == "hidden" else wo)
        for _ in range(15):
            xg = SOLVERS["gd"](block, xg, gd, 2, HP).block
        assert bool((prev <= reference.value(xg) + 1e-9).all())


def test_second_order_solvers_take_no_increasing_step() -> None:
    """With absurdly small damping the raw steps overshoot; every accepted step must still decrease."""
    from lysep.core.inner import SOLVERS

    hidden, w, out, wo = _blocks(7, "sigmoid")
    for block, x, solver in ((hidden, w, "gauss_newton"), (out, wo, "newton"), (out, wo, "newton_cg")):
        f0 = block.value(x)
        bstate = {}
        for _ in range(10):
            res = SOLVERS[solver](block, x, bstate, 1, {**HP, "damping": 1e-12, "max_backtracks": 3})
            assert bool((res.value <= block.value(x)).all())
            changed = [(a != b).flatten(1).any(1) for a, b in zip(res.block, x)]
            moved = changed[0] | changed[1]
            assert bool((res.value[moved] < block.value(x)[moved]).all())
            x = res.block
        assert bool((block.value(x) <= f0).all())
