"""The trial-free step rule ``lipschitz`` (docs/method.md section 4.7): every curvature constant and every
block's bound L against independent numerical estimates, the step against the gradient, and J never
increasing over iterations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lysep.core.activations import CURVATURE, get_activation
from lysep.core.blocks import HiddenUnitBlock, HiddenWeightBlock, LastUnitBlock, OutputWeightBlock
from lysep.core.lipschitz import curvature_factor, lambda_max_bound, weight_sq_norms
from lysep.core.model import ConvSpec, ModelSpec
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method

from helpers import random_problem

SMOOTH = ("tanh", "sigmoid", "softplus", "gelu")
CLOSED_FORM = ("tanh", "sigmoid", "softplus", "relu")  # the activations with hand-written block gradients
LIP = {"u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz"}


def _derivatives(activation: str, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """s, s', s'' on a grid, by autograd (independent of the closed forms in the table)."""
    fn, _ = get_activation(activation)
    a = a.clone().requires_grad_()
    s = fn(a)
    d = torch.autograd.grad(s.sum(), a, create_graph=True)[0]
    dd = torch.autograd.grad(d.sum(), a)[0] if d.requires_grad else torch.zeros_like(a)
    return s.detach(), d.detach(), dd


@pytest.mark.parametrize("activation", SMOOTH)
def test_curvature_constants_bound_a_dense_offset_grid(activation: str) -> None:
    a = torch.linspace(-40, 40, 4_000_001, dtype=torch.float64) + 3.7e-6  # not the table's grid
    s, d, dd = _derivatives(activation, a)
    c1, c2 = CURVATURE[activation]
    p, q = d * d + s * dd, dd.abs()
    assert float(p.max()) <= c1 + 1e-12 and float(q.max()) <= c2 + 1e-12
    assert float(p.max()) > c1 - 1e-4 and float(q.max()) > c2 - 1e-4  # and they are the suprema
    t = torch.tensor([0.0, 0.3, 1.0, 1.7, 4.2, 7.9, 12.0], dtype=torch.float64)
    kappa = curvature_factor(t[:, None].expand(-1, 5), activation)
    sampled = (p[None, :] + t[:, None] * q[None, :]).amax(1)
    assert bool((kappa >= sampled).all()), (kappa - sampled).min()
    assert bool((kappa <= c1 + c2 * t + 1e-2).all())  # the table is at least as tight as the constants
    assert bool((kappa <= 1.01 * sampled + 1e-3).all())  # and close to the true supremum


def test_lambda_max_bound_is_an_upper_bound_within_n_to_the_one_sixteenth() -> None:
    gen = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 21, 51, 64):
        a = torch.randn(6, n, n, generator=gen, dtype=torch.float64)
        grams = [a @ a.mT, a[:, :, :1] @ a[:, :, :1].mT]  # full rank and rank one
        for g in grams:
            exact = torch.linalg.eigvalsh(g)[:, -1]
            bound = lambda_max_bound(g)
            assert bool((bound >= exact * (1 - 1e-12)).all())
            assert bool((bound <= exact * n ** (1 / 16) * (1 + 1e-12)).all())
    z = torch.randn(3, 5, 4, dtype=torch.complex128, generator=gen)
    g = z.mH @ z
    assert bool((lambda_max_bound(g) >= torch.linalg.eigvalsh(g)[:, -1] * (1 - 1e-12)).all())


def test_the_batched_weight_norms_bound_the_operator_norms() -> None:
    from lysep.core.model import conv_layer

    gen = torch.Generator().manual_seed(1)
    params = [(torch.randn(3, 5, 2, generator=gen, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64)),
              (torch.randn(3, 5, 5, generator=gen, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64)),
              (torch.randn(3, 5, 5, generator=gen, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64)),
              (torch.randn(3, 4, 2, 3, 3, generator=gen, dtype=torch.float64),
               torch.zeros(3, 4, 1, 1, dtype=torch.float64))]
    norms = weight_sq_norms(params, [None, None, None, (6, 6)])
    for (w, _), n in zip(params[:3], norms[:3]):
        assert bool((n >= torch.linalg.matrix_norm(w, 2) ** 2 * (1 - 1e-12)).all())
    w, b = params[3]  # the pooled convolution's map, as a dense matrix per seed, on 6x6 images
    eye = torch.eye(2 * 36, dtype=torch.float64).view(72, 2, 6, 6)
    dense = torch.stack([conv_layer(w[s:s + 1], 0 * b[s:s + 1], eye.unsqueeze(0))[0].reshape(72, -1).T
                         for s in range(3)])
    assert bool((norms[3] >= torch.linalg.matrix_norm(dense, 2) ** 2 * (1 - 1e-12)).all())


# -- each block's bound L against the local Lipschitz constant of its gradient ------------------------------
def _hessian_lambda(fn, x: list[torch.Tensor], iters: int = 40) -> torch.Tensor:
    """The largest Rayleigh quotient of the Hessian of the per-seed objective ``fn`` at ``x`` met by power
    iteration on Hessian-vector products (autograd): a lower bound of lambda_max, per seed."""
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in x]
    best = torch.full((x[0].shape[0],), -math.inf, dtype=x[0].dtype)
    for _ in range(iters):
        norm = torch.sqrt(sum(t.pow(2).flatten(1).sum(1) for t in v))
        v = [t / norm.view(-1, *[1] * (t.dim() - 1)) for t in v]
        leaves = [t.detach().requires_grad_() for t in x]
        grads = torch.autograd.grad(fn(leaves).sum(), leaves, create_graph=True)
        hv = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), leaves)
        best = torch.maximum(best, sum((h * u).flatten(1).sum(1) for h, u in zip(hv, v)).detach())
        v = [h.detach() for h in hv]
    return best


def _gradient_ratio(blk, x: list[torch.Tensor], scale: float, gen: torch.Generator) -> torch.Tensor:
    """``||grad f(x) - grad f(y)|| / ||x - y||`` for a random y near x, per seed."""
    y = [t + scale * torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in x]
    gx, gy = blk.value_and_grad(x)[1], blk.value_and_grad(y)[1]
    num = torch.sqrt(sum((a - b).pow(2).flatten(1).sum(1) for a, b in zip(gx, gy)))
    den = torch.sqrt(sum((a - b).pow(2).flatten(1).sum(1) for a, b in zip(x, y)))
    return num / den


def _random_blocks(activation: str, conv: bool, seed: int) -> list[tuple[object, list[torch.Tensor]]]:
    """One block of each kind with random data, targets and points (float64, 3 seeds)."""
    gen = torch.Generator().manual_seed(seed)
    s, n, k = 3, 24, 3
    sigma, _ = get_activation(activation)

    def rnd(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)

    beta = torch.tensor([0.5, 3.0, 40.0], dtype=torch.float64)
    if conv:
        h, u, u_next = rnd(s, n, 2, 6, 6), rnd(s, n, 3, 6, 6), rnd(s, n, 3, 3, 3)
        w, b = rnd(s, 3, 2, 3, 3, scale=0.7), rnd(s, 3)
        w2, b2 = rnd(s, 3, 3, 3, 3, scale=0.7), rnd(s, 3, 1, 1)  # a pooled layer
        wo, bo = rnd(s, k, 27), rnd(s, k)
    else:
        h, u, u_next = rnd(s, n, 4), rnd(s, n, 5), rnd(s, n, 6)
        w, b, w2, b2 = rnd(s, 5, 4), rnd(s, 5), rnd(s, 6, 5), rnd(s, 6)
        wo, bo = rnd(s, k, 6), rnd(s, k)
    if activation == "relu":  # the bound holds across the kink for targets >= 0 (docs/method.md 4.7)
        u, u_next = u.abs(), u_next.abs()
    y = torch.randint(0, k, (n,), generator=gen)
    return [
        (HiddenWeightBlock(h, u, beta, activation), [w, b]),
        (HiddenUnitBlock(sigma(u), beta, w2, b2, u_next, beta.flip(0), activation), [u]),
        (LastUnitBlock(sigma(u_next), beta, wo, bo, y), [u_next]),
        (OutputWeightBlock(u_next.flatten(2), y), [wo, bo]),
    ]


@pytest.mark.parametrize("conv", [False, True], ids=["fnn", "cnn"])
@pytest.mark.parametrize("activation", CLOSED_FORM)
def test_every_block_bound_is_at_least_the_local_lipschitz_constant(activation: str, conv: bool,
                                                                   monkeypatch) -> None:
    import lysep.core.blocks

    # the blocks' sum of squares is a squared norm (one pass); autograd's second derivative of a norm is
    # undefined at 0 (relu's targets here make a residual vanish), so the Hessians use the plain sum
    monkeypatch.setattr(lysep.core.blocks, "sqsum", lambda r: r.pow(2).flatten(1).sum(1))
    worst = 0.0
    for seed in range(3):
        gen = torch.Generator().manual_seed(100 + seed)
        for blk, x in _random_blocks(activation, conv, seed):
            bound = blk.lipschitz(x)
            for point in (x, [t + torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in x]):
                lam = _hessian_lambda(blk.value, point)
                assert bool((bound >= lam * (1 - 1e-9)).all()), (type(blk).__name__, bound, lam)
                worst = max(worst, float((lam / bound).max()))
                if activation != "relu":  # segments may cross relu's kink, where the gradient jumps
                    ratio = _gradient_ratio(blk, point, 1e-3, gen)
                    assert bool((bound >= ratio * (1 - 1e-6)).all()), (type(blk).__name__, bound, ratio)
    assert worst > 0.02  # the bounds are not vacuous: some block comes within a factor 50 of its estimate


# -- the step ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", [False, True], ids=["fnn", "cnn"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_descent_is_the_gradient_step(activation: str, conv: bool) -> None:
    step = torch.tensor([0.3, 1.1, 0.02], dtype=torch.float64)
    for blk, x in _random_blocks(activation, conv, 3):
        want = [t - step.view(-1, *[1] * (t.dim() - 1)) * g for t, g in zip(x, blk.value_and_grad(x)[1])]
        for got, ref in zip(blk.descent(x, step), want):
            torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", CLOSED_FORM)
def test_a_lipschitz_step_never_increases_its_block(activation: str) -> None:
    from lysep.core.inner import lipschitz_steps

    for seed in range(4):
        for blk, x in _random_blocks(activation, seed % 2 == 1, seed):
            f0 = blk.value(x)
            res = lipschitz_steps(blk, x, steps=3, factor=1.9)
            f1 = blk.value(res.block)
            assert bool((f1 <= f0 + 1e-12 * f0.abs().clamp_min(1)).all()), (type(blk).__name__, f1 - f0)
            assert bool((f1 < f0).any())


PROBLEMS = [  # (activation, model, beta, schedule, lipschitz_step)
    ("tanh", ModelSpec.fnn(3, 3, 6, 3, "tanh"), 100.0, "fixed", 1.0),
    ("sigmoid", ModelSpec.fnn(3, 2, 8, 3, "sigmoid"), 10.0, "fixed", 1.9),
    ("softplus", ModelSpec.fnn(3, 4, 5, 3, "softplus"), 1.0, "continuation", 1.9),
    ("relu", ModelSpec.fnn(3, 3, 7, 3, "relu"), 30.0, "fixed", 1.5),
    ("gelu", ModelSpec.fnn(3, 2, 6, 3, "gelu"), 3.0, "adaptive", 1.0),
]


@pytest.mark.parametrize("case", range(len(PROBLEMS)))
def test_j_never_increases_with_the_lipschitz_rule(case: int) -> None:
    activation, model, beta, schedule, factor = PROBLEMS[case]
    prob = random_problem(n=60, d=3, k=3, seed=case)
    method = make_method("lysep", activation=activation, schedule=schedule, beta=beta, lipschitz_step=factor,
                         u_steps=2, w_steps=2, **LIP)
    assert method.decrease_guaranteed
    tr = run_cell(prob, model, {"lip": method}, seeds=[0, 1], budget=Budget(iterations=60))
    tol = 1e-7 * np.maximum(1.0, tr.J_start.abs())
    assert int((tr.J > tr.J_start + tol).sum()) == 0, (tr.J - tr.J_start).max()
    if schedule == "fixed":
        for _, run in tr.groupby("seed"):
            assert np.array_equal(run["J_start"].to_numpy()[1:], run["J"].to_numpy()[:-1])
    assert bool((tr.groupby("seed").J.last() < tr.groupby("seed").J.first()).all())


def test_j_never_increases_with_the_lipschitz_rule_on_a_cnn() -> None:
    from lysep.core.problem import Problem
    from lysep.datasets import load_dataset

    ds = load_dataset("digits", n_train=120, n_test=40, images=True)
    prob = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                               dtype=torch.float64)
    model = ConvSpec.cnn((1, 8, 8), 2, 3, 10, pool=(1,))
    tr = run_cell(prob, model, {"lip": make_method("lysep", lipschitz_step=1.9, **LIP)}, [0, 1],
                  Budget(iterations=25))
    tol = 1e-7 * np.maximum(1.0, tr.J_start.abs())
    assert int((tr.J > tr.J_start + tol).sum()) == 0
    assert bool((tr.groupby("seed").J.last() < tr.groupby("seed").J.first()).all())


def test_the_curvature_table_of_the_method_page_is_the_codes() -> None:
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "method.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+)[^|]* \| (.+) \|$", page, re.M)
    assert {r[0] for r in rows} == set(CURVATURE)

    def c2_of(text: str) -> float:
        stated = re.search(r"` = ([\d.]+)", text) or re.match(r"([\d./]+)", text.strip())
        num, _, den = stated.group(1).partition("/")
        return float(num) / float(den or 1)

    for name, c1, c2 in rows:
        assert float(c1) == pytest.approx(CURVATURE[name][0], abs=1e-4), name
        assert c2_of(c2) == pytest.approx(CURVATURE[name][1], abs=1e-4), name
    kappa_1 = float(curvature_factor(torch.ones(1, 1, dtype=torch.float64), "tanh")[0])
    assert f"(tanh: {kappa_1:.2f} at `T = 1`, against `c1 + c2 = {sum(CURVATURE['tanh']):.2f}`)" in page


def test_the_bounds_keep_no_reference_to_the_blocks_data() -> None:
    """A bound computed from a block's input must not keep that input alive (a cache keyed by tensors grew
    without limit over a CNN run: every iteration's inputs and weights stayed referenced)."""
    import gc
    import weakref

    from lysep.core.lipschitz import input_sq_norm

    h = torch.randn(2, 5, 3, 6, 6, dtype=torch.float64)  # (S, N, C, H, W): per-seed feature maps
    w, b = torch.randn(2, 4, 3, 3, 3, dtype=torch.float64), torch.zeros(2, 4, 1, 1, dtype=torch.float64)
    dense_h, dense_w, dense_b = torch.randn(2, 7, 3), torch.randn(2, 4, 3), torch.zeros(2, 4)
    bounds = [input_sq_norm(h, w, b), input_sq_norm(dense_h, dense_w, dense_b)]
    refs = [weakref.ref(t) for t in (h, w, b, dense_h, dense_w, dense_b)]
    assert all(bool(torch.isfinite(v).all()) and v.shape == (2,) for v in bounds)
    del h, w, b, dense_h, dense_w, dense_b
    gc.collect()
    assert [r() is None for r in refs] == [True] * 6
