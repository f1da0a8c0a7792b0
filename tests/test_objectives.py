"""The certificate B >= F, J = F at the forward pass, and the loss formulas against plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as tnf

from lysep.core.activations import get_activation
from lysep.core.model import ModelSpec, forward, init_params
from lysep.core.objectives import (
    adaptive_omega,
    certificate,
    certificate_weights,
    cross_entropy,
    layer_norms,
    lysep_loss,
    residuals,
    separated_loss,
    true_loss,
)

from helpers import random_problem

CASES = [(act, depth, width) for act in ("tanh", "relu", "sigmoid") for depth in (1, 2, 3, 4, 6)
         for width in (2, 7, 32)]  # 45 configurations x 48 random (theta, U) = 2160 checks


def random_theta_u(spec: ModelSpec, x: torch.Tensor, seeds: list[int], gen: torch.Generator):
    """Random weights of varied scale, and U from near the forward pass to far from it."""
    params = init_params(spec, seeds, torch.float64)
    scale = torch.exp(torch.randn(len(seeds), generator=gen, dtype=torch.float64))  # 0.1x .. 10x
    params = [(w * scale[:, None, None] + 0.1 * torch.randn(w.shape, generator=gen, dtype=torch.float64),
               torch.randn(b.shape, generator=gen, dtype=torch.float64)) for w, b in params]
    hidden, _ = forward(params, x, spec.activation)
    dist = torch.logspace(-6, 1, len(seeds), dtype=torch.float64)  # distance of U from the forward pass
    U = [h + dist[:, None, None] * torch.randn(h.shape, generator=gen, dtype=torch.float64) for h in hidden]
    return params, U


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
@pytest.mark.parametrize("act,depth,width", CASES)
def test_certificate_bounds_true_loss(act: str, depth: int, width: int, norm: str) -> None:
    prob = random_problem(n=40, d=3, k=4, seed=depth * 100 + width)
    spec = ModelSpec.fnn(3, depth, width, 4, act)
    gen = torch.Generator().manual_seed(depth * 1000 + width)
    params, U = random_theta_u(spec, prob.x_train, list(range(48)), gen)
    F = true_loss(params, prob.x_train, prob.y_train, act)
    B = certificate(params, U, prob.x_train, prob.y_train, act, norm)
    slack = B - F + 1e-6 * torch.clamp(F.abs(), min=1.0)
    assert bool((slack >= 0).all()), f"B < F by {(-slack).max().item():.3g} ({act}, D={depth}, M={width})"


def test_certificate_bound_is_not_vacuous() -> None:
    """Far from the forward pass B is much larger than F; near it B approaches F (the bound is tight)."""
    prob = random_problem(n=40, d=3, k=4, seed=5)
    spec = ModelSpec.fnn(3, 3, 8, 4, "tanh")
    params = init_params(spec, [0], torch.float64)
    hidden, _ = forward(params, prob.x_train, "tanh")
    F = true_loss(params, prob.x_train, prob.y_train, "tanh")
    gaps = []
    for eps in (1e-6, 1e-3, 1e-1):
        U = [h + eps for h in hidden]
        gaps.append((certificate(params, U, prob.x_train, prob.y_train, "tanh") - F).item())
    assert 0 <= gaps[0] < 1e-4 and gaps[0] < gaps[1] < gaps[2]


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "gelu", "softplus"])
@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
def test_certificate_equals_true_loss_at_forward_pass(act: str, norm: str) -> None:
    prob = random_problem(n=50, d=4, k=3, seed=1)
    spec = ModelSpec.fnn(4, 4, 9, 3, act)
    params = init_params(spec, [0, 1, 2], torch.float64)
    hidden, _ = forward(params, prob.x_train, act)
    F = true_loss(params, prob.x_train, prob.y_train, act)
    B = certificate(params, hidden, prob.x_train, prob.y_train, act, norm)
    torch.testing.assert_close(B, F, rtol=0, atol=1e-12)


def test_lysep_loss_equals_true_loss_at_forward_pass() -> None:
    prob = random_problem(n=50, d=4, k=3, seed=2)
    spec = ModelSpec.fnn(4, 5, 6, 3, "tanh")
    params = init_params(spec, [0, 1], torch.float64)
    hidden, _ = forward(params, prob.x_train, "tanh")
    betas = torch.full((2, 5), 7.0, dtype=torch.float64)
    J = lysep_loss(params, hidden, prob.x_train, prob.y_train, betas, "tanh")
    torch.testing.assert_close(J, true_loss(params, prob.x_train, prob.y_train, "tanh"), rtol=0, atol=1e-12)


def test_lysep_loss_matches_a_per_sample_loop() -> None:
    prob = random_problem(n=12, d=3, k=3, seed=3)
    spec = ModelSpec.fnn(3, 3, 5, 3, "relu")
    params = init_params(spec, [4], torch.float64)
    gen = torch.Generator().manual_seed(0)
    U = [torch.randn(1, 12, 5, generator=gen, dtype=torch.float64) for _ in range(3)]
    betas = torch.tensor([[0.5, 2.0, 9.0]], dtype=torch.float64)
    s, _ = get_activation("relu")
    total = 0.0
    for i in range(12):
        h_prev = prob.x_train[i]
        for layer in range(3):
            w, b = params[layer][0][0], params[layer][1][0]
            r = U[layer][0, i] - s(w @ h_prev + b)
            total += betas[0, layer].item() / 2 * float(r @ r) / 12
            h_prev = U[layer][0, i]
        z = params[3][0][0] @ h_prev + params[3][1][0]
        total += float(torch.logsumexp(z, 0) - z[prob.y_train[i]]) / 12
    J = lysep_loss(params, U, prob.x_train, prob.y_train, betas, "relu")
    assert math.isclose(J.item(), total, rel_tol=1e-12)


def test_cross_entropy_matches_torch() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 20, 5, generator=gen, dtype=torch.float64) * 4
    y = torch.randint(0, 5, (20,), generator=gen)
    ours = cross_entropy(logits, y)
    ref = torch.stack([tnf.cross_entropy(logits[s], y) for s in range(3)])
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)


def test_separated_loss_is_ce_of_last_layer_on_u_d() -> None:
    prob = random_problem(n=30, d=3, k=3, seed=4)
    params = init_params(ModelSpec.fnn(3, 2, 4, 3), [0], torch.float64)
    u = [torch.ones(1, 30, 4, dtype=torch.float64), torch.full((1, 30, 4), 0.5, dtype=torch.float64)]
    w, b = params[-1]
    expect = tnf.cross_entropy(u[1][0] @ w[0].T + b[0], prob.y_train)
    torch.testing.assert_close(separated_loss(params, u, prob.y_train)[0], expect, rtol=0, atol=1e-12)


def test_layer_norms_match_numpy() -> None:
    params = init_params(ModelSpec.fnn(3, 3, 6, 2), [0, 1], torch.float64)
    spec_n, fro_n = layer_norms(params, "spectral"), layer_norms(params, "frobenius")
    for s in range(2):
        for i, (w, _) in enumerate(params):
            assert math.isclose(spec_n[s, i].item(), np.linalg.norm(w[s].numpy(), 2), rel_tol=1e-10)
            assert math.isclose(fro_n[s, i].item(), np.linalg.norm(w[s].numpy(), "fro"), rel_tol=1e-10)
    assert bool((fro_n >= spec_n - 1e-12).all())


def test_certificate_weights_and_adaptive_omega_match_products() -> None:
    params = init_params(ModelSpec.fnn(2, 4, 5, 3, "sigmoid"), [3], torch.float64)
    n = layer_norms(params, "frobenius")[0].tolist()  # ||W_1..W_5||
    lip, depth = 0.25, 4
    c = certificate_weights(params, "sigmoid", "frobenius")[0].tolist()
    omega = adaptive_omega(params, "sigmoid", "frobenius")[0].tolist()
    for layer in range(1, depth + 1):
        tail = math.prod(lip * n[j - 1] for j in range(layer + 1, depth + 1))
        assert math.isclose(c[layer - 1], math.sqrt(2) * n[depth] * tail, rel_tol=1e-12)
        tail2 = math.prod(lip**2 * n[j - 1] ** 2 for j in range(layer + 1, depth + 1))
        assert math.isclose(omega[layer - 1], 2 * n[depth] ** 2 * tail2, rel_tol=1e-12)


def test_residuals_vanish_at_forward_pass_and_not_elsewhere() -> None:
    prob = random_problem(n=20, d=3, k=2, seed=6)
    params = init_params(ModelSpec.fnn(3, 3, 4, 2), [0], torch.float64)
    hidden, _ = forward(params, prob.x_train, "tanh")
    assert all(float(r.abs().max()) == 0.0 for r in residuals(params, hidden, prob.x_train, "tanh"))
    moved = [h.clone() for h in hidden]
    moved[1] += 0.1
    rs = residuals(params, moved, prob.x_train, "tanh")
    assert float(rs[0].abs().max()) == 0.0 and float(rs[1].abs().max()) > 0 and float(rs[2].abs().max()) > 0


def test_unknown_norm_is_rejected() -> None:
    params = init_params(ModelSpec.fnn(2, 1, 3, 2), [0])
    with pytest.raises(ValueError, match="norm='nuclear'"):
        layer_norms(params, "nuclear")


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_an_adversarial_search_finds_no_certificate_violation(act: str) -> None:
    """Hunt for B < F: Adam minimizes B - F over (theta, U) jointly from 16 random starts."""
    prob = random_problem(n=8, d=2, k=3, seed=11)
    spec = ModelSpec.fnn(2, 2, 3, 3, act)
    gen = torch.Generator().manual_seed(3)
    params, U = random_theta_u(spec, prob.x_train, list(range(16)), gen)
    leaves = [t.clone().requires_grad_() for wb in params for t in wb] + [u.clone().requires_grad_() for u in U]
    opt = torch.optim.Adam(leaves, lr=0.05)
    worst = math.inf
    for _ in range(300):
        p = [(leaves[i], leaves[i + 1]) for i in range(0, 2 * len(params), 2)]
        u = leaves[2 * len(params):]
        F = true_loss(p, prob.x_train, prob.y_train, act)
        gap = (certificate(p, u, prob.x_train, prob.y_train, act, "spectral") - F) / torch.clamp(F.detach(), min=1.0)
        worst = min(worst, gap.min().item())
        opt.zero_grad()
        gap.sum().backward()
        opt.step()
    assert worst >= -1e-6, worst
