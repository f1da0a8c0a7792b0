"""The losses of docs/method.md sections 1-3, per seed: F, G, J, residuals and the certificate B.

Every function takes parameters batched over seeds and returns a tensor of shape (S,)
(or (S, D) for per-layer values). ``U`` is the list ``[u_1..u_D]`` of auxiliary
variables, each (S, N, M_l); ``u_0 = x`` is the data, shared by all seeds.
"""

from __future__ import annotations

import math

import torch

from lysep.core.activations import get_activation
from lysep.core.choices import NORMS
from lysep.core.model import Params, affine, forward, is_conv, is_pooled

#: CE is sqrt(2)-Lipschitz in its logits: ||softmax(z) - e_y|| < sqrt(2)
CE_LIPSCHITZ = math.sqrt(2.0)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean CE per seed: logits (S, N, K), labels (N,) or (S, N) -> (S,)."""
    if y.dim() == 1:
        y = y.expand(logits.shape[0], -1)
    picked = torch.gather(logits, 2, y.unsqueeze(2)).squeeze(2)
    return (torch.logsumexp(logits, dim=2) - picked).mean(dim=1)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Fraction of correct argmax predictions per seed -> (S,)."""
    return (logits.argmax(dim=2) == y).to(logits.dtype).mean(dim=1)


def true_loss(params: Params, x: torch.Tensor, y: torch.Tensor, activation: str) -> torch.Tensor:
    """F(theta): CE of the real network -> (S,)."""
    return cross_entropy(forward(params, x, activation)[1], y)


def residuals(params: Params, U: list[torch.Tensor], x: torch.Tensor, activation: str) -> list[torch.Tensor]:
    """``r_l = u_l - s(u_{l-1} W_l^T + b_l)`` for l = 1..D, each (S, N, M_l)."""
    s, _ = get_activation(activation)
    inputs = [x, *U[:-1]]
    return [u - s(affine(w, b, h)) for u, h, (w, b) in zip(U, inputs, params[:-1])]


def mean_sq(r: torch.Tensor) -> torch.Tensor:
    """(1/N) sum_i ||r^i||^2 per seed -> (S,)."""
    return r.pow(2).flatten(2).sum(dim=2).mean(dim=1)


def mean_norm(r: torch.Tensor) -> torch.Tensor:
    """(1/N) sum_i ||r^i|| per seed -> (S,)."""
    return r.flatten(2).norm(dim=2).mean(dim=1)


def separated_loss(params: Params, U: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """G(theta, U): CE of the last layer applied to u_D -> (S,)."""
    w, b = params[-1]
    return cross_entropy(affine(w, b, U[-1]), y)


def lysep_loss_of(G: torch.Tensor, rs: list[torch.Tensor], betas: torch.Tensor) -> torch.Tensor:
    """J from its parts: G + sum_l (beta_l / 2) (1/N) sum_i ||r_l^i||^2; ``betas`` is (S, D) -> (S,)."""
    return lysep_loss_of_means(G, [mean_sq(r) for r in rs], betas)


def lysep_loss_of_means(G: torch.Tensor, msqs: list[torch.Tensor], betas: torch.Tensor) -> torch.Tensor:
    """J from G and each layer's ``msq(r_l)`` (S,), e.g. accumulated over row chunks -> (S,)."""
    return G + sum(betas[:, i] / 2 * m for i, m in enumerate(msqs))


def lysep_loss(params: Params, U: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
               betas: torch.Tensor, activation: str) -> torch.Tensor:
    """J(theta, U) at the weights ``betas`` (S, D) -> (S,)."""
    return lysep_loss_of(separated_loss(params, U, y), residuals(params, U, x, activation), betas)


#: operator norm of 2x2 average pooling with stride 2 (each output is the mean of 4 disjoint inputs)
POOL_NORM = 0.5


def conv_norm_frobenius(w: torch.Tensor) -> torch.Tensor:
    """A valid bound of a zero-padded stride-1 convolution's operator norm: sqrt(kh kw) ||K||_F -> (S,).

    Cauchy-Schwarz per output pixel, and every input pixel lies in at most kh * kw windows.
    """
    return math.sqrt(w.shape[-1] * w.shape[-2]) * w.flatten(1).norm(dim=1)


def conv_norm_fft(w: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upper bound of the operator norm of a zero-padded (padding kh // 2) convolution on ``size`` images -> (S,).

    The padded convolution is the circular convolution on a grid of ``size + kernel`` (zero
    cells all around) restricted to the image, so its norm is at most the circular one, which is
    exactly the largest singular value of the C_out x C_in kernel transform over all grid
    frequencies (Sedghi, Gupta and Long 2019). Tight within a few percent on images of 8x8 and more.
    """
    kh, kw = w.shape[-2:]
    grid = (int(size[0]) + kh, int(size[1]) + kw)
    spectrum = torch.fft.fft2(w, s=grid)  # (S, C_out, C_in, gh, gw)
    per_freq = torch.linalg.matrix_norm(spectrum.permute(0, 3, 4, 1, 2), ord=2)  # (S, gh, gw)
    return per_freq.flatten(1).amax(dim=1)


def layer_norms(params: Params, norm: str = "spectral",
                sizes: list[tuple[int, int] | None] | None = None) -> torch.Tensor:
    """||W_l|| for l = 1..D+1 per seed -> (S, D+1): an upper bound of each layer's linear map's norm.

    Dense: spectral (ord 2) or Frobenius. Conv (docs/method.md section 5): ``spectral`` is the
    circulant (FFT) bound on the layer's input size from ``sizes`` (falling back to the
    Frobenius bound where no size is given), ``frobenius`` is sqrt(kh kw) ||K||_F; a pooled
    layer multiplies either by the pooling's norm 1/2.
    """
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is unknown (expected one of: {', '.join(NORMS)})")
    ord_ = 2 if norm == "spectral" else "fro"
    out = []
    for i, (w, b) in enumerate(params):
        if not is_conv(w):
            out.append(torch.linalg.matrix_norm(w, ord=ord_))
            continue
        size = sizes[i] if sizes is not None else None
        n = conv_norm_fft(w, size) if norm == "spectral" and size is not None else conv_norm_frobenius(w)
        out.append(n * POOL_NORM if is_pooled(b) else n)
    return torch.stack(out, dim=1)


def input_sizes(x: torch.Tensor, U: list[torch.Tensor]) -> list[tuple[int, int] | None]:
    """Spatial size of every layer's input (None for vectors), for the conv norm bounds."""
    return [tuple(h.shape[-2:]) if h.dim() >= 4 else None for h in [x, *U]]


def certificate_weights(params: Params, activation: str, norm: str = "spectral",
                        sizes: list[tuple[int, int] | None] | None = None) -> torch.Tensor:
    """c_l = sqrt(2) ||W_{D+1}|| prod_{j=l+1..D} Lip_s ||W_j|| for l = 1..D -> (S, D)."""
    _, lip = get_activation(activation)
    norms = layer_norms(params, norm, sizes)  # (S, D+1)
    depth = norms.shape[1] - 1
    scaled = lip * norms[:, 1:depth]  # Lip ||W_j|| for j = 2..D
    # tail[:, l-1] = prod_{j=l+1..D} Lip ||W_j||: reverse cumulative product, then shift
    ones = torch.ones_like(norms[:, :1])
    tail = torch.cat([torch.flip(torch.cumprod(torch.flip(scaled, [1]), 1), [1]), ones], dim=1)
    return CE_LIPSCHITZ * norms[:, -1:] * tail


def certificate_of(G: torch.Tensor, norms: list[torch.Tensor], c: torch.Tensor) -> torch.Tensor:
    """B from its parts: G + sum_l c_l (1/N) sum_i ||r_l^i||, with ``norms[l]`` the mean residual norms -> (S,)."""
    return G + sum(c[:, i] * n for i, n in enumerate(norms))


def certificate(params: Params, U: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                activation: str, norm: str = "spectral") -> torch.Tensor:
    """B(theta, U): an upper bound of F for any U -> (S,)."""
    rs = residuals(params, U, x, activation)
    c = certificate_weights(params, activation, norm, input_sizes(x, U))
    return certificate_of(separated_loss(params, U, y), [mean_norm(r) for r in rs], c)


def adaptive_omega(params: Params, activation: str, norm: str = "frobenius") -> torch.Tensor:
    """omega_l = 2 ||W_{D+1}||^2 prod_{j=l+1..D} Lip_s^2 ||W_j||^2 (arXiv 2504.21501) -> (S, D)."""
    return 2.0 * certificate_weights(params, activation, norm).pow(2) / CE_LIPSCHITZ**2
