"""Shared pieces of the splitting methods of the alternating family (proximal BCD, dlADMM; docs/method.md,
"The alternating family"): exact block solves, the activation's proximal step, the cross-entropy proximal
solve of the output block, the certificate metrics, and the cost of the work in passes over the data.

Every function works on tensors batched over seeds (leading dimension S); rows are samples, as in
``lysep.core.objectives``; every objective is a mean over the N samples (the references' sums divided by N).
"""

from __future__ import annotations

import torch

from lysep.core.activations import get_activation
from lysep.core.model import Params, affine
from lysep.core.objectives import certificate_of, certificate_weights, cross_entropy, input_sizes, mean_norm, mean_sq

#: Armijo constant of the inner backtracking steps (as lysep's gd solver)
ARMIJO = 1e-4
#: a predicted decrease below this fraction of the objective is rounding noise in float64
NEGLIGIBLE = 1e-13


def dense_only(name: str, params: Params) -> None:
    """ValueError for a convolutional network: the closed-form blocks are written for dense layers."""
    if params[0][0].dim() != 3:
        raise ValueError(f"method {name!r} trains fully connected networks only (model kind 'fnn'), "
                         "not a CNN")


def forward_split(params: Params, x: torch.Tensor, activation: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Pre-activations ``[a_1..a_{D+1}]`` (the last are the logits) and post-activations ``[h_1..h_D]``."""
    s, _ = get_activation(activation)
    pre, post, h = [], [], x
    for i, (w, b) in enumerate(params):
        a = affine(w, b, h)
        pre.append(a)
        if i < len(params) - 1:
            h = s(a)
            post.append(h)
    return pre, post


def with_ones(h: torch.Tensor, s: int) -> torch.Tensor:
    """``[h, 1]`` batched over seeds: (N, m) shared or (S, N, m) -> (S, N, m + 1)."""
    if h.dim() == 2:
        h = h.expand(s, *h.shape)
    return torch.cat([h, h.new_ones(*h.shape[:2], 1)], dim=2)


def prox_layer(w: torch.Tensor, b: torch.Tensor, inp: torch.Tensor, target: torch.Tensor, rho: float,
               alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact minimiser over W, then over b (with the new W), of
    ``rho/2 msq(target - inp W^T - b) + alpha/(2N) (||W - W_old||^2 + ||b - b_old||^2)`` (ridge regression)."""
    n = target.shape[1]
    h = inp.expand(w.shape[0], *inp.shape) if inp.dim() == 2 else inp
    gram = rho * h.transpose(1, 2) @ h
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    rhs = rho * h.transpose(1, 2) @ (target - b.unsqueeze(1)) + alpha * w.transpose(1, 2)
    w_new = torch.linalg.solve(gram + alpha * eye, rhs).transpose(1, 2)
    b_new = (alpha * b + rho * (target - h @ w_new.transpose(1, 2)).sum(1)) / (rho * n + alpha)
    return w_new, b_new


def prox_input(w: torch.Tensor, b: torch.Tensor, target: torch.Tensor, prior: torch.Tensor, rho: float,
               gamma: float) -> torch.Tensor:
    """The exact minimiser over V of ``gamma/2 msq(V - prior) + rho/2 msq(target - V W^T - b)``."""
    eye = torch.eye(w.shape[2], dtype=w.dtype, device=w.device)
    lhs = gamma * eye + rho * w.transpose(1, 2) @ w
    rhs = gamma * prior + rho * (target - b.unsqueeze(1)) @ w
    return torch.linalg.solve(lhs, rhs.transpose(1, 2)).transpose(1, 2)


def prox_activation(u: torch.Tensor, v: torch.Tensor, center: torch.Tensor, gamma: float, c: float,
                    activation: str, steps: int, backtracks: int) -> tuple[torch.Tensor, int]:
    """A minimiser (relu: exact) or an improvement (other activations: ``steps`` elementwise Armijo gradient
    steps from ``u``) of the elementwise ``gamma/2 (v - s(u))^2 + c/2 (u - center)^2``; never worse than ``u``.
    Returns (the new u, each seed's number of evaluations (S,), for the cost: a trial counts the fraction of the
    entries still searching)."""
    if activation == "relu":
        pos = ((gamma * v + c * center) / (gamma + c)).clamp(min=0)
        neg = center.clamp(max=0)
        return torch.where(_elementwise(pos, v, center, gamma, c, torch.relu)
                           < _elementwise(neg, v, center, gamma, c, torch.relu), pos, neg), 2
    s, _ = get_activation(activation)
    evals = torch.zeros(u.shape[0], dtype=torch.float64, device=u.device)
    for _ in range(steps):
        with torch.enable_grad():
            leaf = u.detach().requires_grad_()
            f = _elementwise(leaf, v, center, gamma, c, s)
            (g,) = torch.autograd.grad(f.sum(), leaf)
        f, evals = f.detach(), evals + 1
        eta = torch.full_like(u, 1.0 / c)
        # an entry whose best predicted decrease g^2 / (2c) is below the rounding of f stays (no move): its Armijo
        # test would compare rounding noise, and a seed would pay for trials decided by it
        done = g * g / (2 * c) <= NEGLIGIBLE * f.abs()
        new = u
        for _ in range(backtracks):
            evals = evals + (~done).flatten(1).to(evals.dtype).mean(1)  # elementwise work: the entries still searching
            trial = u - eta * g
            # a step below the rounding of u is no move: accepted (it cannot increase f), the search ends
            ok = ~done & ((trial == u) | (_elementwise(trial, v, center, gamma, c, s) <= f - ARMIJO * eta * g * g))
            new, done = torch.where(ok, trial, new), done | ok
            eta = torch.where(done, eta, eta / 2)
            if bool(done.all()):
                break
        u = new
    return u, evals


def _elementwise(u, v, center, gamma, c, s):
    return gamma / 2 * (v - s(u)) ** 2 + c / 2 * (u - center) ** 2


def ce_prox(z: torch.Tensor, center: torch.Tensor, weight: float, y: torch.Tensor, steps: int,
            backtracks: int) -> tuple[torch.Tensor, int]:
    """Damped Newton steps on ``f(z) = mean_i [CE(z_i, y_i) + weight/2 ||z_i - center_i||^2]`` from ``z``.

    Each sample's Newton direction solves ``(diag p - p p^T + weight I) d = -g`` (positive definite); the step
    ``t`` (one per seed, from 1, halved) is accepted by the Armijo test ``f(z + t d) <= f(z) + c t g.d / N``,
    so ``f`` never increases. Returns (z, each seed's number of evaluations of f (S,), for the cost)."""
    k = z.shape[2]
    eye = torch.eye(k, dtype=z.dtype, device=z.device)
    onehot = torch.nn.functional.one_hot(y, k).to(z.dtype)
    evals = torch.zeros(z.shape[0], dtype=torch.float64, device=z.device)
    for _ in range(steps):
        f = cross_entropy(z, y) + weight / 2 * mean_sq(z - center)
        p = torch.softmax(z, dim=2)
        g = p - onehot + weight * (z - center)
        hess = torch.diag_embed(p) - p.unsqueeze(3) * p.unsqueeze(2) + weight * eye
        d = -torch.linalg.solve(hess, g.unsqueeze(3)).squeeze(3)
        slope = (g * d).sum(dim=(1, 2)) / z.shape[1]
        t = torch.ones_like(f)
        done = torch.zeros_like(f, dtype=torch.bool)
        new, evals = z, evals + 1
        for _ in range(backtracks):
            trial = z + t.view(-1, 1, 1) * d
            ok = ~done & (cross_entropy(trial, y) + weight / 2 * mean_sq(trial - center) <= f + ARMIJO * t * slope)
            new, evals = torch.where(ok.view(-1, 1, 1), trial, new), evals + ~done
            done = done | ok
            t = torch.where(done, t, t / 2)
            if bool(done.all()):
                break
        z = new
    return z, evals


def certificate_metrics(params: Params, post: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                        activation: str, bound_norm: str) -> dict[str, torch.Tensor]:
    """The certificate B of docs/method.md section 3 with ``U`` = the method's post-activation variables, and
    each layer's mean residual norm ``mnorm(u_l - s(u_{l-1} W_l^T + b_l))``."""
    s, _ = get_activation(activation)
    inputs = [x, *post[:-1]]
    norms = [mean_norm(u - s(affine(w, b, h))) for u, h, (w, b) in zip(post, inputs, params[:-1])]
    w, b = params[-1]
    G = cross_entropy(affine(w, b, post[-1]), y)
    B = certificate_of(G, norms, certificate_weights(params, activation, bound_norm, input_sizes(x, post)))
    return {"B": B, "residual": torch.stack(norms, dim=1)}


def pass_madds(params: Params) -> float:
    """Multiply-adds per sample of one forward+backward pass of the dense network: 3 x the forward's."""
    return 3.0 * sum((w.shape[2] + 1) * w.shape[1] for w, _ in params)
