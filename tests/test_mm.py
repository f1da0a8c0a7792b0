"""The exact-curvature majorize-minimize steps (``lysep.core.mm``, docs/method.md section 4.8) and the Cholesky
Newton output solve: the bound they rest on, each step against an independent float64 minimiser of its
quadratic majorizer, J never increasing over an MM block step (FNN and CNN, float32 and float64), MM and
Newton at one minimiser of the convex output problem, and their counted work."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lysep.core import inner, mm
from lysep.core.blocks import LastUnitBlock, OutputWeightBlock
from lysep.core.inner import SOLVERS
from lysep.core.model import ConvSpec, ModelSpec, affine, init_params
from lysep.core.objectives import cross_entropy
from lysep.measure.counters import LINALG_FLOPS
from lysep.methods import make_method

from helpers import random_problem

F64 = torch.float64


def _ce_hessian(z: torch.Tensor) -> torch.Tensor:
    """diag(p) - p p^T of softmax CE in the logits z (..., K)."""
    p = torch.softmax(z, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


# ---------------------------------------------------------------------------- the bound


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_the_ce_hessian_is_below_boehnings_matrix_for_random_logits(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    scales = torch.tensor([0.01, 0.3, 1.0, 3.0, 30.0], dtype=F64)
    z = torch.randn(5, 400, k, generator=gen, dtype=F64) * scales[:, None, None]
    gap = mm.bohning(k) - _ce_hessian(z)
    assert torch.linalg.eigvalsh(gap).min() >= -1e-12
    # and A is the Hessian's autograd value's bound too (the formula above is CE's Hessian)
    zi, yi = z[2, 0].clone(), 1
    hess = torch.autograd.functional.hessian(lambda v: torch.nn.functional.cross_entropy(v[None], torch.tensor([yi])),
                                             zi)
    torch.testing.assert_close(hess, _ce_hessian(zi), rtol=1e-10, atol=1e-12)


def test_the_bound_is_attained_for_two_classes_at_equal_logits() -> None:
    """No smaller constant matrix would do: for K = 2 the Hessian at z = 0 is A itself."""
    torch.testing.assert_close(_ce_hessian(torch.zeros(2, dtype=F64)), mm.bohning(2), rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------- the output block's MM step


def _output_problem(seed: int, n: int = 30, m: int = 4, k: int = 3, s: int = 3, dtype=F64, scale: float = 1.0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.tanh(torch.randn(s, n, m, generator=gen, dtype=dtype) * 2)
    y = torch.randint(0, k, (n,), generator=gen)
    w = torch.randn(s, k, m, generator=gen, dtype=dtype) * scale
    b = torch.randn(s, k, generator=gen, dtype=dtype) * scale
    return h, y, w, b


def _g_of(h: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """G of the stacked [W, b] (S, K, m+1), by the objective's own cross-entropy."""
    m = h.shape[-1]
    return cross_entropy(affine(theta[..., :m], theta[..., m], h), y)


@pytest.mark.parametrize("ridge", [0.0, 1e-4, 0.3])
@pytest.mark.parametrize("seed", range(3))
def test_the_output_step_is_the_minimiser_of_the_kronecker_majorizer(seed: int, ridge: float) -> None:
    h, y, w, b = _output_problem(seed)
    s, k, m = w.shape
    n = h.shape[1]
    theta = torch.cat([w, b.unsqueeze(2)], dim=2).requires_grad_()
    g0 = _g_of(h, y, theta)
    grad = torch.autograd.grad(g0.sum(), theta)[0]  # autograd: independent of the block's gradient
    res = SOLVERS["mm"](OutputWeightBlock(h, y), [w, b], {}, 1, {"mm_ridge": ridge})
    moved = torch.cat([res.block[0], res.block[1].unsqueeze(2)], dim=2) - theta.detach()
    for i in range(s):
        ut = torch.cat([h[i], torch.ones(n, 1, dtype=F64)], dim=1)
        c = ut.T @ ut / n
        c = c + ridge * torch.diagonal(c).mean() * torch.eye(m + 1, dtype=F64)
        curv = torch.kron(mm.bohning(k), c)  # the Hessian bound A (x) C_lam on vec(Theta), row-major
        want = -(torch.linalg.pinv(curv, hermitian=True) @ grad[i].reshape(-1)).reshape(k, m + 1)
        torch.testing.assert_close(moved[i], want, rtol=1e-8, atol=1e-10)

        def q(delta):  # the majorizer
            v = delta.reshape(-1)
            return g0[i].detach() + grad[i].reshape(-1) @ v + 0.5 * v @ curv @ v

        new = _g_of(h[i:i + 1], y, (theta.detach() + moved)[i:i + 1])[0]
        assert new <= q(moved[i]) + 1e-12 and q(moved[i]) < g0[i]  # it majorizes G, and its minimum is below G
        gen = torch.Generator().manual_seed(100 + seed)
        for _ in range(5):
            assert q(moved[i]) <= q(moved[i] + 1e-3 * torch.randn(k, m + 1, generator=gen, dtype=F64)) + 1e-14


def test_the_output_step_is_exact_for_lysep_s_g_on_cnn_features_and_per_seed_labels() -> None:
    """G is the mean CE over the N rows (``lysep.core.objectives.separated_loss``); the block flattens feature maps;
    each seed may have its own labels (a minibatch): the MM step is the majorizer's minimiser in every case."""
    gen = torch.Generator().manual_seed(5)
    s, n, k = 2, 12, 4
    maps = torch.tanh(torch.randn(s, n, 2, 3, 3, generator=gen, dtype=F64))
    y = torch.randint(0, k, (s, n), generator=gen)
    m = 18
    w, b = torch.randn(s, k, m, generator=gen, dtype=F64), torch.zeros(s, k, dtype=F64)
    res = SOLVERS["mm"](OutputWeightBlock(maps.flatten(2), y), [w, b], {}, 1, {"mm_ridge": 1e-3})
    for i in range(s):
        h = maps[i].flatten(1)
        theta = torch.cat([w[i], b[i, :, None]], 1).requires_grad_()
        g = torch.autograd.grad(torch.nn.functional.cross_entropy(h @ theta[:, :m].T + theta[:, m], y[i]), theta)[0]
        ut = torch.cat([h, torch.ones(n, 1, dtype=F64)], 1)
        c = ut.T @ ut / n
        c = c + 1e-3 * torch.diagonal(c).mean() * torch.eye(m + 1, dtype=F64)
        want = -(torch.linalg.pinv(torch.kron(mm.bohning(k), c), hermitian=True) @ g.reshape(-1)).reshape(k, m + 1)
        torch.testing.assert_close(torch.cat([res.block[0][i], res.block[1][i, :, None]], 1) - theta.detach(), want,
                                   rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------- the u_D block's MM step


@pytest.mark.parametrize("conv", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_the_last_unit_step_is_each_rows_majorizer_minimiser(seed: int, conv: bool) -> None:
    gen = torch.Generator().manual_seed(seed)
    s, n, k = 3, 7, 4
    shape = (2, 2, 2) if conv else (5,)
    m = 8 if conv else 5
    target = torch.tanh(torch.randn(s, n, *shape, generator=gen, dtype=F64))
    u = target + 0.3 * torch.randn(s, n, *shape, generator=gen, dtype=F64)
    beta = torch.tensor([0.01, 1.0, 30.0], dtype=F64)
    w, b = torch.randn(s, k, m, generator=gen, dtype=F64) * 2, torch.randn(s, k, generator=gen, dtype=F64)
    y = torch.randint(0, k, (n,), generator=gen)
    ridge = 1e-3
    res = SOLVERS["mm"](LastUnitBlock(target, beta, w, b, y), [u], {}, 1, {"mm_ridge": ridge})
    a = mm.bohning(k)
    for i in range(s):
        curv = beta[i] * torch.eye(m, dtype=F64) + w[i].T @ a @ w[i]  # the dense m x m bound, no Woodbury
        curv = curv + ridge * torch.diagonal(curv).mean() * torch.eye(m, dtype=F64)
        for r in range(n):
            ur = u[i, r].reshape(-1).clone().requires_grad_()

            def phi(v, i=i, r=r):  # one row of the block objective times N: beta/2 ||u - t||^2 + CE
                ce = torch.nn.functional.cross_entropy((w[i] @ v + b[i])[None], y[r:r + 1])
                return beta[i] / 2 * (v - target[i, r].reshape(-1)).pow(2).sum() + ce

            f0 = phi(ur)
            g = torch.autograd.grad(f0, ur)[0]
            want = ur.detach() - torch.linalg.solve(curv, g)
            got = res.block[0][i, r].reshape(-1)
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)
            move = got - ur.detach()
            assert phi(got) <= f0 + g @ move + 0.5 * move @ curv @ move + 1e-12  # the majorizer holds


# ---------------------------------------------------------------------------- J never increases


def _watch(monkeypatch, dtype) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Record every MM block solve's block objective before and after (by the block's own ``value``)."""
    seen: list = []
    for name in ("output_mm_solver", "last_unit_mm_solver"):
        solve = getattr(inner, name)

        def watched(block, x, bstate, steps, hp, solve=solve, name=name):
            before = block.value(x)
            res = solve(block, x, bstate, steps, hp)
            seen.append((name, before, block.value(res.block)))
            return res
        monkeypatch.setattr(inner, name, watched)
    return seen


def _image_problem(n: int, seed: int, dtype):
    from lysep.core.problem import Problem

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 6, 6, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=gen)
    y[:3] = torch.arange(3)
    return Problem.from_arrays(x.numpy(), y.numpy(), x[:8].numpy(), y[:8].numpy(), n_classes=3, dtype=dtype)


MM_CASES = {
    "mm-fixed-small-beta": {"u_solver": "mm", "out_solver": "mm", "w_solver": "lipschitz", "schedule": "fixed",
                            "beta": 1e-3},
    "mm-fixed-large-beta": {"u_solver": "mm", "out_solver": "mm", "schedule": "fixed", "beta": 100.0, "u_steps": 3,
                            "w_steps": 3},
    "mm-adaptive-no-ridge": {"u_solver": "mm", "out_solver": "mm", "mm_ridge": 0.0},
    "mm-continuation": {"u_solver": "mm", "out_solver": "mm", "schedule": "continuation", "beta": 0.1, "rho": 1.2},
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["fnn", "cnn"])
@pytest.mark.parametrize("case", list(MM_CASES))
def test_j_never_increases_over_an_mm_block_step(monkeypatch, case: str, kind: str, dtype) -> None:
    seen = _watch(monkeypatch, dtype)
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    for seed in range(3):
        if kind == "fnn":
            prob = random_problem(n=60, d=3, k=4, seed=seed, dtype=dtype)
            act = ("tanh", "relu", "gelu")[seed]
            model = ModelSpec.fnn(3, 1 + seed, 5, 4, act)
        else:
            prob = _image_problem(24, seed, dtype)
            model, act = ConvSpec.cnn((1, 6, 6), 2, 2, 3, pool=(2,), activation="tanh"), "tanh"
        seeds = [0, 1, 2, 3, 4]
        method = make_method("lysep", activation=act, **MM_CASES[case])
        state = method.init(prob, init_params(model, seeds, dtype, prob.device), seeds)
        for _ in range(8):
            method.step(prob, state)
            met = method.metrics(prob, state)
            assert bool((met["J"] <= met["J_start"] + tol * met["J_start"].abs().clamp(min=1)).all())
    assert {name for name, _, _ in seen} == {"output_mm_solver", "last_unit_mm_solver"}
    for name, before, after in seen:
        assert bool((after <= before + tol * before.abs().clamp(min=1)).all()), (name, (after - before).max())
    assert any(bool((after < before - 1e-4).any()) for _, before, after in seen)  # the steps do move


def test_a_longer_step_than_the_majorizers_would_increase_j() -> None:
    """The positive control: where the bound is tight (two classes, logits near 0), the same direction at 2.5
    times the MM step overshoots, so the decrease above is the majorizer's doing, not a property of any step in
    that direction (a curvature below A would not do)."""
    gen = torch.Generator().manual_seed(11)
    h = torch.randn(16, 2000, 3, generator=gen, dtype=F64)  # random labels on many rows: a short MM step
    y = torch.randint(0, 2, (2000,), generator=gen)
    w, b = torch.zeros(16, 2, 3, dtype=F64), torch.zeros(16, 2, dtype=F64)
    blk = OutputWeightBlock(h, y)
    res = SOLVERS["mm"](blk, [w, b], {}, 1, {"mm_ridge": 0.0})
    long = [t + 2.5 * (r - t) for t, r in zip((w, b), res.block)]
    assert bool((blk.value(res.block) < blk.value([w, b])).all())
    assert bool((blk.value(long) > blk.value([w, b])).all())


def test_lysep_minibatch_takes_the_output_mm_step() -> None:
    prob = random_problem(n=90, d=3, k=3, seed=4)
    method = make_method("lysep-minibatch", out_solver="mm", batch_size=32)
    seeds = [0, 1]
    state = method.init(prob, init_params(ModelSpec.fnn(3, 2, 5, 3), seeds, F64, prob.device), seeds)
    for _ in range(5):
        method.step(prob, state)
        met = method.metrics(prob, state)
        assert bool((met["J_batch"] <= met["J_batch_start"] + 1e-12).all())
    assert method.decrease_guaranteed and make_method("lysep", u_solver="mm", out_solver="mm").decrease_guaranteed


# ---------------------------------------------------------------------------- MM, Newton and the dense solve


def _hessian_of_g(h: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient and Hessian of G in vec(Theta) for one seed, by autograd (float64)."""
    def g(v):
        return _g_of(h[None], y, v.view(1, *theta.shape))[0]

    flat = theta.reshape(-1).clone().requires_grad_()
    grad = torch.autograd.grad(g(flat), flat)[0]
    return grad, torch.autograd.functional.hessian(g, flat.detach())


def test_the_cholesky_newton_direction_is_the_dense_lu_solves() -> None:
    h, y, w, b = _output_problem(2, n=50, m=4, k=3, s=3)
    lam = 1e-3
    for i in range(3):
        theta = torch.cat([w[i], b[i, :, None]], 1)
        grad, hess = _hessian_of_g(h[i], y, theta)
        damped = hess + lam * torch.eye(hess.shape[0], dtype=F64)
        want = -torch.linalg.solve(damped, grad)  # the former dense LU solve
        torch.testing.assert_close(mm.newton_direction(damped[None], grad[None])[0], want, rtol=1e-9, atol=1e-12)


def test_a_newton_step_takes_the_dense_solves_direction() -> None:
    """The solver's own Hessian and Cholesky solve against autograd's Hessian and LU, on a full step (accepted:
    the start is near the minimiser, where Newton's unit step decreases G)."""
    h, y, w, b = _output_problem(3, n=200, m=3, k=3, s=2, scale=0.1)
    blk = OutputWeightBlock(h, y)
    x = [w, b]
    for _ in range(20):
        x = SOLVERS["mm"](blk, x, {}, 1, {"mm_ridge": 0.0}).block
    hp = {"damping": 1e-3, "armijo_c": 1e-4, "max_backtracks": 30}
    res = SOLVERS["newton"](OutputWeightBlock(h, y), x, {}, 1, hp)
    for i in range(2):
        theta = torch.cat([x[0][i], x[1][i, :, None]], 1)
        grad, hess = _hessian_of_g(h[i], y, theta)
        step = -torch.linalg.solve(hess + 1e-3 * torch.eye(hess.shape[0], dtype=F64), grad).view(theta.shape)
        torch.testing.assert_close(torch.cat([res.block[0][i], res.block[1][i, :, None]], 1), theta + step,
                                   rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("seed", range(3))
def test_mm_and_newton_reach_the_same_minimiser_of_the_output_problem(seed: int) -> None:
    """Random labels on 300 rows of 3 features: not separable, so G has a minimiser (unique up to adding one row
    to every class, which neither solver changes from the common start)."""
    h, y, w, b = _output_problem(seed, n=300, m=3, k=3, s=3, scale=0.5)
    hp = {"damping": 1e-3, "armijo_c": 1e-4, "max_backtracks": 30, "mm_ridge": 0.0}
    newton = SOLVERS["newton"](OutputWeightBlock(h, y), [w, b], {}, 25, hp)
    blk = OutputWeightBlock(h, y)
    x = [w, b]
    for _ in range(40):
        x = SOLVERS["mm"](blk, x, {}, 50, hp).block
    for got in (newton.block, x):
        theta = torch.cat([got[0], got[1].unsqueeze(2)], 2).requires_grad_()
        grad = torch.autograd.grad(_g_of(h, y, theta).sum(), theta)[0]
        assert grad.flatten(1).norm(dim=1).max() < 1e-8
    torch.testing.assert_close(x[0], newton.block[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(x[1], newton.block[1], rtol=1e-6, atol=1e-7)


def test_the_cg_newton_direction_is_the_dense_solve_after_enough_steps() -> None:
    """Conjugate gradients on Hessian-vector products against autograd's Hessian and a dense solve: exact (to
    rounding) after K (m+1) steps, and after fewer a descent direction that already points the right way."""
    h, y, w, b = _output_problem(4, n=60, m=4, k=3, s=3)
    lam = torch.full((3,), 1e-3, dtype=F64)
    z = affine(w, b, h)
    prob = torch.softmax(z, 2)
    a = torch.cat([h, torch.ones_like(h[..., :1])], 2)
    grads, wants = [], []
    for i in range(3):
        theta = torch.cat([w[i], b[i, :, None]], 1)
        grad, hess = _hessian_of_g(h[i], y, theta)
        grads.append(grad.view(theta.shape))
        wants.append(-torch.linalg.solve(hess + 1e-3 * torch.eye(hess.shape[0], dtype=F64), grad).view(theta.shape))
    g, want = torch.stack(grads), torch.stack(wants)
    got = mm.newton_cg_direction(prob, a, g, lam, iters=3 * 5 + 5)
    torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)
    short = mm.newton_cg_direction(prob, a, g, lam, iters=3)
    assert ((short * g).sum((1, 2)) < 0).all()  # descent
    assert ((short - want).norm(dim=(1, 2)) < (torch.zeros_like(want) - want).norm(dim=(1, 2))).all()


def test_cg_newton_stops_where_the_gradient_vanishes() -> None:
    """A seed at its minimiser (zero gradient) gets a zero direction, not a 0/0."""
    h, y, w, b = _output_problem(5, n=20, m=3, k=3, s=2)
    prob = torch.softmax(affine(w, b, h), 2)
    a = torch.cat([h, torch.ones_like(h[..., :1])], 2)
    g = torch.randn(2, 3, 4, dtype=F64)
    g[1] = 0.0
    d = mm.newton_cg_direction(prob, a, g, torch.full((2,), 1e-3, dtype=F64), iters=30)
    assert torch.isfinite(d).all() and (d[1] == 0).all() and d[0].norm() > 0


@pytest.mark.parametrize("seed", range(3))
def test_cg_newton_reaches_the_minimiser_that_dense_newton_reaches(seed: int) -> None:
    """Same fixed point: the minimiser of the convex output problem (random labels, not separable), and G never
    rises over a step."""
    h, y, w, b = _output_problem(seed, n=300, m=3, k=3, s=3, scale=0.5)
    hp = {"damping": 1e-3, "armijo_c": 1e-4, "max_backtracks": 30, "cg_iters": 6}
    dense = SOLVERS["newton"](OutputWeightBlock(h, y), [w, b], {}, 25, hp)
    blk = OutputWeightBlock(h, y)
    x, f = [w, b], blk.value([w, b])
    for _ in range(30):
        res = SOLVERS["newton_cg"](blk, x, {}, 1, hp)
        assert (res.value <= f).all()
        x, f = res.block, res.value
    theta = torch.cat([x[0], x[1].unsqueeze(2)], 2).requires_grad_()
    grad = torch.autograd.grad(_g_of(h, y, theta).sum(), theta)[0]
    assert grad.flatten(1).norm(dim=1).max() < 1e-8
    torch.testing.assert_close(x[0], dense.block[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(x[1], dense.block[1], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- counted work


def _flops(fn) -> int:
    with FlopCounterMode(display=False, custom_mapping=LINALG_FLOPS) as counter:
        fn()
    return counter.get_total_flops()


@pytest.mark.parametrize("steps", [1, 3])
def test_an_output_mm_solves_counted_flops_are_its_booked_work(steps: int) -> None:
    """Flops counted by torch (matrix products) and ``LINALG_FLOPS`` (Cholesky, triangular solves) = twice the
    multiply-adds booked: per step the weight gradient's and the new logits' products, plus ``output_work``."""
    s, n, m, k = 2, 30, 6, 4
    h, y, w, b = _output_problem(1, n=n, m=m, k=k, s=s)
    blk = OutputWeightBlock(h, y, cache=(affine(w, b, h),))
    res = None

    def run():
        nonlocal res
        res = SOLVERS["mm"](blk, [w, b], {}, steps, {"mm_ridge": 1e-4})
    flops = _flops(run)
    assert res.gradients == steps and res.evaluations == steps
    assert res.forwards == pytest.approx(mm.output_work(n, k, m, steps))
    layer = n * k * m  # the products of a gradient in W, and of the logits (the bias adds no product)
    booked = 2 * s * (2 * steps * layer + res.forwards * n * k * (m + 1))
    assert flops == pytest.approx(booked, abs=s)  # to the rounding of the Cholesky's n^3 // 3


def test_a_last_unit_mm_solves_counted_flops_are_its_booked_work() -> None:
    s, n, m, k, steps = 2, 25, 7, 3, 2
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(s, n, m, generator=gen, dtype=F64)
    w, b = torch.randn(s, k, m, generator=gen, dtype=F64), torch.zeros(s, k, dtype=F64)
    y = torch.randint(0, k, (n,), generator=gen)
    blk = LastUnitBlock(target, torch.ones(s, dtype=F64), w, b, y, cache=(affine(w, b, target),))
    res = None

    def run():
        nonlocal res
        res = SOLVERS["mm"](blk, [target.clone()], {}, steps, {"mm_ridge": 1e-4})
    flops = _flops(run)
    assert res.forwards == pytest.approx(mm.last_unit_work(n, k, m, steps))
    layer = n * k * m  # the input gradient's product, and the logits'
    booked = 2 * s * (2 * steps * layer + res.forwards * n * k * (m + 1))
    assert flops == pytest.approx(booked, abs=s)  # to the rounding of the Cholesky's n^3 // 3


def test_newtons_booked_work_includes_its_cholesky() -> None:
    s, n, m, k = 2, 40, 3, 3
    h, y, w, b = _output_problem(0, n=n, m=m, k=k, s=s, scale=0.1)
    hp = {"damping": 1e-3, "armijo_c": 1e-4, "max_backtracks": 30}
    res = SOLVERS["newton"](OutputWeightBlock(h, y), [w, b], {}, 1, hp)
    p = k * (m + 1)
    hessian, cholesky_and_solves = k * (m + 1), (p**3 / 6 + p * p) / (n * p)
    torch.testing.assert_close(res.forwards, torch.full((s,), hessian + cholesky_and_solves, dtype=F64))


def test_cg_newtons_counted_flops_are_its_booked_work() -> None:
    """Per Newton step: a gradient and ``2 cg_iters`` forwards of Hessian-vector products (no Hessian: dense
    newton's ``K (m+1)`` forwards for it are not booked); torch's flop counter sees the logits, the gradient, the
    products and the trial."""
    s, n, m, k, iters = 2, 40, 3, 3, 5
    h, y, w, b = _output_problem(0, n=n, m=m, k=k, s=s, scale=0.1)
    hp = {"damping": 1e-3, "armijo_c": 1e-4, "max_backtracks": 1, "cg_iters": iters}
    res = None

    def run():
        nonlocal res
        res = SOLVERS["newton_cg"](OutputWeightBlock(h, y), [w, b], {}, 1, hp)
    flops = _flops(run)
    torch.testing.assert_close(res.forwards, torch.full((s,), 2.0 * iters, dtype=F64))
    layer = n * k * (m + 1)  # products with the ones column included
    # logits (n k m: bias added, not multiplied), gradient (with ones), 2 per CG step, one trial's logits
    want = 2 * s * (n * k * m + layer + 2 * iters * layer + n * k * m)
    assert flops == pytest.approx(want, rel=0.02)


def test_the_linalg_flop_formulas() -> None:
    a = torch.eye(5, dtype=F64).expand(3, 5, 5).contiguous()
    rhs = torch.ones(3, 5, 2, dtype=F64)
    assert _flops(lambda: torch.linalg.cholesky_ex(a)) == 3 * 125 // 3
    assert _flops(lambda: torch.linalg.solve_triangular(a, rhs, upper=False)) == 3 * 25 * 2
    assert _flops(lambda: torch.linalg.solve(a, rhs)) == 3 * 2 * 125 // 3 + 2 * 3 * 25 * 2


# ---------------------------------------------------------------------------- the spec and the search


def test_mm_is_in_the_default_search_space_and_pinned_spaces_keep_their_trials() -> None:
    """``lysep tune`` searches the schema's choices (``Choice()``), so mm is searched for both LySep keys and for
    lysep-minibatch's output layer; the committed tunings pin the spaces they were tuned with
    (tests/test_tuning_results.py checks their recorded trials)."""
    from pathlib import Path

    from lysep.harness.search import resolve
    from lysep.harness.spec import load_spec
    from lysep.methods import METHODS

    lysep = resolve(METHODS["lysep"].SEARCH, METHODS["lysep"].HPARAMS)
    assert "mm" in lysep["u_solver"].values and "mm" in lysep["out_solver"].values
    minibatch = resolve(METHODS["lysep-minibatch"].SEARCH, METHODS["lysep-minibatch"].HPARAMS)
    assert "mm" in minibatch["out_solver"].values and "u_solver" not in minibatch
    root = Path(__file__).resolve().parent.parent
    for name, method in (("paper_example1", "lysep"), ("paper_example2", "lysep"), ("scale_n", "lysep-minibatch")):
        spec = load_spec(root / "configs" / f"{name}.toml")
        pinned = next(m for m in spec.methods if m.name == method).search
        assert pinned is not None and "mm" not in str(pinned)


def test_a_bad_mm_ridge_is_refused_with_its_key() -> None:
    with pytest.raises(ValueError, match="mm_ridge"):
        make_method("lysep", mm_ridge=-1.0)
