"""Per-seed upper bounds ``L`` of the Lipschitz constant of each LySep block's gradient (docs/method.md
section 4.7), for the trial-free step ``x - g / L`` of the inner solver ``lipschitz``.

Each bound holds for every point of the block (not only near the current one), so by the descent lemma
the step cannot increase the block objective; it is computed from the block's fixed data (its input,
its targets, the neighbouring weights, beta) with matrix products and reductions only: no
decomposition, no host synchronisation. Largest eigenvalues are bounded from above by repeated
squaring, ``lambda_max(G) <= trace(G^(2^k))^(2^-k)``.
"""

from __future__ import annotations

from functools import cache

import torch

from lysep.core.activations import CURVATURE, GUARDED, get_activation
from lysep.core.model import is_conv, is_pooled
from lysep.core.objectives import POOL_NORM

#: squarings in ``lambda_max_bound``: the bound is at most n^(1/16) (n the matrix size) above lambda_max
SQUARINGS = 4
#: the softmax cross-entropy's Hessian in the logits, diag(p) - p p^T, has eigenvalues <= 1/2 (Popoviciu)
CE_CURVATURE = 0.5
#: input Gram matrices up to this size are formed (tight bound); wider inputs use the trace (cheaper, looser)
GRAM_MAX = 64


def lambda_max_bound(gram: torch.Tensor) -> torch.Tensor:
    """An upper bound of the largest eigenvalue of Hermitian positive semidefinite matrices (..., n, n) -> (...).

    ``lambda_max^(2^k) <= sum_i lambda_i^(2^k) = trace(G^(2^k))``, computed for ``G / trace(G)`` (whose
    eigenvalues lie in [0, 1], so nothing overflows). Tight to a factor n^(2^-k), exact for rank one.
    """
    def trace(m: torch.Tensor) -> torch.Tensor:
        t = torch.diagonal(m, dim1=-2, dim2=-1).sum(-1)
        return t.real if t.is_complex() else t

    t0 = trace(gram)
    x = gram / t0.clamp_min(torch.finfo(t0.dtype).tiny)[..., None, None]  # eigenvalues in [0, 1]
    for _ in range(SQUARINGS):  # lambda_max(x) >= 1/n, so x^16 stays above float32's range for n <= 64
        x = x @ x
    return t0 * trace(x).pow(2.0**-SQUARINGS)


def dense_sq_norm(w: torch.Tensor) -> torch.Tensor:
    """``||W||_2^2`` bounded from above, per seed: W (S, M, m) -> (S,)."""
    gram = w.transpose(1, 2) @ w if w.shape[2] <= w.shape[1] else w @ w.transpose(1, 2)
    return lambda_max_bound(gram)


def conv_sq_norm(w: torch.Tensor, b: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The squared operator norm of a layer's linear map ``pool o conv(K)`` on ``size`` images, bounded
    from above per seed: the circulant bound of docs/method.md section 5.1, each frequency's
    ``sigma_max^2`` bounded by ``lambda_max_bound`` instead of a decomposition -> (S,)."""
    kh, kw = w.shape[-2:]
    spectrum = torch.fft.fft2(w, s=(int(size[0]) + kh, int(size[1]) + kw)).permute(0, 3, 4, 1, 2)
    gram = spectrum.mH @ spectrum if w.shape[2] <= w.shape[1] else spectrum @ spectrum.mH
    per_freq = lambda_max_bound(gram).flatten(1).amax(1)
    return per_freq * POOL_NORM**2 if is_pooled(b) else per_freq


def map_sq_norm(w: torch.Tensor, b: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """``||A||^2`` of a layer's linear map (dense, or conv on ``size`` inputs), bounded from above -> (S,)."""
    return conv_sq_norm(w, b, size) if is_conv(w) else dense_sq_norm(w)


def _per_seed(v: torch.Tensor, s: int) -> torch.Tensor:
    return v.expand(s) if v.dim() == 0 else v


def _total_sq(h: torch.Tensor, per_seed_dims: int) -> torch.Tensor:
    """``sum_i ||h_i||^2``: per seed (S,) when ``h`` has ``per_seed_dims`` dimensions, else one number (shared)."""
    if h.dim() == per_seed_dims:
        return torch.linalg.vector_norm(h.flatten(1), dim=1) ** 2
    return torch.linalg.vector_norm(h) ** 2


def input_sq_norm(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The squared norm of the linear map ``(W, b) -> affine(W, b, h)`` of one output unit (or channel), per
    seed, bounded from above; ``h`` is the layer's input, shared (N, ...) or per seed (S, N, ...) -> (S,).

    Dense: ``lambda_max([h, 1]^T [h, 1])``, by ``lambda_max_bound`` on the Gram matrix when it is at
    most ``GRAM_MAX`` wide, else its trace ``sum_i ||h_i||^2 + N``. Conv: ``conv_input_sq_norm``.
    """
    s = w.shape[0]
    if is_conv(w):
        return _per_seed(conv_input_sq_norm(h, w, b), s)
    if h.dim() > 3:  # the classifier of a CNN: flattened feature maps
        h = h.flatten(2)
    n, m = h.shape[-2:]
    if m + 1 > GRAM_MAX:
        return _per_seed(_total_sq(h, 3) + n, s)
    col = h.sum(-2, keepdim=True)  # (.., 1, m)
    top = torch.cat([h.transpose(-1, -2) @ h, col.transpose(-1, -2)], dim=-1)
    bottom = torch.cat([col, torch.full_like(col[..., :1], float(n))], dim=-1)
    return _per_seed(lambda_max_bound(torch.cat([top, bottom], dim=-2)), s)


#: the curvature table: pre-activations on [-A, A] with spacing DA; targets T = 0, DT, .., T_MAX
A, DA, DT, T_MAX = 30.0, 1e-3, 1.0 / 16, 8.0


def conv_input_sq_norm(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``input_sq_norm`` of a convolutional layer: for one output channel, the map from its kernel slice
    ``K`` (C x kh x kw) to ``pool(conv(h_i, K))`` over all samples, by the circulant embedding of docs/method.md
    section 5.1 applied to the *data*: with ``h^_i(w)`` the vector of the C channels' 2-D transforms of
    sample i on the grid, ``sum_i ||conv(h_i, K)||^2 <= max_w lambda_max(sum_i h^_i(w) h^_i(w)^H) ||K||^2``
    (Parseval twice). Real inputs make ``w`` and ``-w`` equivalent, so half the grid is enough. Times 1/4
    for a pooled layer, plus ``N H' W'`` for the bias -> (S,), or one number for the shared data."""
    kh, kw = w.shape[-2:]
    height, width = h.shape[-2:]
    spec = torch.fft.rfft2(h, s=(height + kh, width + kw)).flatten(-2)  # (.., N, C, G)
    per_freq = spec.movedim(-1, -3)  # (.., G, N, C)
    gram = per_freq.mT @ per_freq.conj()  # (.., G, C, C): sum over samples of h^ h^H, transposed (same spectrum)
    lam = lambda_max_bound(gram).amax(-1)
    out_pixels = (height // 2) * (width // 2) if is_pooled(b) else height * width
    return lam * (POOL_NORM**2 if is_pooled(b) else 1.0) + h.shape[-4] * out_pixels


@cache
def curvature_table(activation: str) -> tuple[float, ...]:
    """``kappa(T) >= sup_{a, |t| <= T} [s'(a)^2 + (s(a) - t) s''(a)] = sup_a [s'^2 + s s'' + T |s''|]`` at
    ``T = 0, DT, .., T_MAX`` (docs/method.md section 4.7).

    The sup over ``a`` is taken on a grid of spacing DA over [-A, A] (s' and s'' by autograd) plus the
    most the function can rise between grid points, ``DA / 2`` times twice its largest slope on the
    grid; beyond A the functions have decayed (or tend to s'^2 -> 1 below the grid's maximum).
    """
    fn, _ = get_activation(activation)
    a = torch.arange(-A, A + DA / 2, DA, dtype=torch.float64).requires_grad_()
    with torch.enable_grad():
        s = fn(a)
        d = torch.autograd.grad(s.sum(), a, create_graph=True)[0]
        dd = torch.autograd.grad(d.sum(), a)[0] if d.requires_grad else torch.zeros_like(a)
    p, q = (d * d + s * dd).detach(), dd.abs()
    slope_p, slope_q = p.diff().abs().max() / DA, q.diff().abs().max() / DA
    ts = torch.arange(0.0, T_MAX + DT / 2, DT, dtype=torch.float64)
    kappa = (p + ts[:, None] * q).amax(1) + DA * (slope_p + ts * slope_q)  # DA / 2 times twice the slope
    return tuple(kappa.tolist())


@cache
def _curvature_lines(activation: str, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Intercepts and slopes of the lines whose maximum bounds ``kappa``: the chords between neighbouring
    points of ``curvature_table`` (an upper bound, kappa being convex in T) and, for T beyond T_MAX, the
    line through ``kappa(T_MAX)`` with slope ``c2 >= sup |s''|`` (which lies below kappa before T_MAX)."""
    table = torch.tensor(curvature_table(activation), dtype=torch.float64)
    ts = torch.arange(len(table), dtype=torch.float64) * DT
    slopes = torch.cat([table.diff() / DT, torch.tensor([CURVATURE[activation][1]], dtype=torch.float64)])
    intercepts = torch.cat([table[:-1] - slopes[:-1] * ts[:-1], table[-1:] - slopes[-1:] * ts[-1:]])
    return intercepts.to(dtype=dtype, device=device), slopes.to(dtype=dtype, device=device)


def curvature_factor(target: torch.Tensor, activation: str) -> torch.Tensor:
    """``kappa(max |t|)`` per seed: a bound of ``d^2/da^2 (t - s(a))^2 / 2`` over every entry ``t`` of
    ``target`` (S, N, ...) and every pre-activation ``a`` -> (S,) (``curvature_table``, ``_curvature_lines``)."""
    flat = target.flatten(1)
    t = torch.maximum(flat.amax(1), -flat.amin(1))  # max |t|: two reading passes, no temporary
    if activation in GUARDED:  # relu: s'^2 <= 1 and s'' = 0 on each side of the kink (and no grid across it)
        return torch.full_like(t, CURVATURE[activation][0])
    intercepts, slopes = _curvature_lines(activation, t.dtype, t.device)
    return torch.addcmul(intercepts, t[:, None], slopes).amax(1)


def weight_sq_norms(params: list, sizes: list[tuple[int, int] | None]) -> list[torch.Tensor]:
    """``map_sq_norm`` of every layer (``sizes[i]``: layer i's input image size), dense layers of one shape
    bounded together in one batched computation -> one (S,) per layer."""
    out: list[torch.Tensor | None] = [None] * len(params)
    groups: dict[tuple, list[int]] = {}
    for i, (w, b) in enumerate(params):
        if is_conv(w):
            out[i] = conv_sq_norm(w, b, sizes[i])
        else:
            groups.setdefault(tuple(w.shape), []).append(i)
    for layers in groups.values():
        norms = dense_sq_norm(torch.cat([params[i][0] for i in layers])).view(len(layers), -1)
        for j, i in enumerate(layers):
            out[i] = norms[j]
    return out


def hidden_unit(beta: torch.Tensor, beta_next: torch.Tensor, w_next: torch.Tensor, b_next: torch.Tensor,
                u_next: torch.Tensor, activation: str, size: tuple[int, int] | None, n: int,
                w_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Block ``u_l``, ``l < D``: ``(beta_l + beta_{l+1} kappa(max|u_{l+1}|) ||A_{l+1}||^2) / N`` (``w_sq``:
    ``||A_{l+1}||^2`` if already bounded)."""
    w_sq = map_sq_norm(w_next, b_next, size) if w_sq is None else w_sq
    return (beta + beta_next * curvature_factor(u_next, activation) * w_sq) / n


def last_unit(beta: torch.Tensor, w_out: torch.Tensor, n: int, w_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Block ``u_D``: ``(beta_D + ||W_{D+1}||^2 / 2) / N``."""
    return (beta + CE_CURVATURE * (dense_sq_norm(w_out) if w_sq is None else w_sq)) / n


def hidden_weight(h: torch.Tensor, target: torch.Tensor, beta: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
                  activation: str) -> torch.Tensor:
    """Block ``(W_l, b_l)``, ``l <= D``: ``beta_l (c1 + c2 max|u_l|) ||[h, 1]||^2 / N``."""
    return beta * curvature_factor(target, activation) * input_sq_norm(h, w, b) / target.shape[1]


def output_weight(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Block ``(W_{D+1}, b_{D+1})``: ``||[u_D, 1]||^2 / (2 N)``."""
    return CE_CURVATURE * input_sq_norm(h, w, b) / h.shape[-2]
