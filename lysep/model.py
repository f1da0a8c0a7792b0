"""Fully connected networks with every parameter batched over seeds (leading dimension S).

``Params`` is a list of ``(W_l, b_l)`` for ``l = 1..D+1`` with ``W_l`` of shape
``(S, M_l, M_{l-1})`` and ``b_l`` of shape ``(S, M_l)``. Seed ``s`` draws its
``theta_0`` from its own generator, in float64 on the CPU, so that it is the same
whether it runs alone or in a batch, on any device and for every method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lysep.activations import GAINS, get_activation

Params = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class ModelSpec:
    """An FNN: ``in_dim`` inputs, hidden ``widths`` (D = len(widths)), ``n_classes`` logits."""

    in_dim: int
    widths: tuple[int, ...]
    n_classes: int
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if not isinstance(self.in_dim, int) or self.in_dim < 1:
            raise ValueError(f"in_dim={self.in_dim!r} must be an integer >= 1")
        if not isinstance(self.n_classes, int) or self.n_classes < 2:
            raise ValueError(f"n_classes={self.n_classes!r} must be an integer >= 2")
        if len(self.widths) < 1:
            raise ValueError(f"depth={len(self.widths)} must be >= 1 (widths={self.widths!r})")
        for w in self.widths:
            if not isinstance(w, int) or isinstance(w, bool) or w < 1:
                raise ValueError(f"width={w!r} must be an integer >= 1 (widths={self.widths!r})")
        get_activation(self.activation)

    @classmethod
    def fnn(cls, in_dim: int, depth: int, width: int, n_classes: int, activation: str = "tanh") -> ModelSpec:
        """D hidden layers of equal width."""
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ValueError(f"depth={depth!r} must be an integer >= 1")
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"width={width!r} must be an integer >= 1")
        return cls(in_dim, (width,) * depth, n_classes, activation)

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def dims(self) -> tuple[int, ...]:
        """(d, M_1, ..., M_D, K)."""
        return (self.in_dim, *self.widths, self.n_classes)


def init_params(spec: ModelSpec, seeds: list[int], dtype: torch.dtype = torch.float32,
                device: str | torch.device = "cpu") -> Params:
    """Glorot-uniform weights (gain of the activation), zero biases; one generator per seed."""
    gain = GAINS[spec.activation]
    dims = spec.dims
    per_seed = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        layers = []
        for fan_in, fan_out in zip(dims[:-1], dims[1:]):
            g = 1.0 if fan_out == spec.n_classes and len(layers) == spec.depth else gain
            a = g * math.sqrt(6.0 / (fan_in + fan_out))
            w = (torch.rand(fan_out, fan_in, generator=gen, dtype=torch.float64) * 2 - 1) * a
            layers.append((w, torch.zeros(fan_out, dtype=torch.float64)))
        per_seed.append(layers)
    return [
        (torch.stack([p[i][0] for p in per_seed]).to(device=device, dtype=dtype),
         torch.stack([p[i][1] for p in per_seed]).to(device=device, dtype=dtype))
        for i in range(len(dims) - 1)
    ]


def affine(w: torch.Tensor, b: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``h W^T + b`` per seed: ``h`` is (N, m) shared by all seeds or (S, N, m); returns (S, N, M)."""
    if h.dim() == 2:
        return torch.matmul(h, w.transpose(1, 2)) + b.unsqueeze(1)
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


def forward(params: Params, x: torch.Tensor, activation: str) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Hidden outputs ``[h_1..h_D]`` (each (S, N, M_l)) and logits (S, N, K)."""
    s, _ = get_activation(activation)
    hidden = []
    h = x
    for w, b in params[:-1]:
        h = s(affine(w, b, h))
        hidden.append(h)
    w, b = params[-1]
    return hidden, affine(w, b, h)


def clone_params(params: Params) -> Params:
    return [(w.detach().clone(), b.detach().clone()) for w, b in params]


def select_seeds(params: Params, index: list[int] | torch.Tensor) -> Params:
    """The parameters of a subset of seeds (e.g. one seed for a check against a batch)."""
    return [(w[index].clone(), b[index].clone()) for w, b in params]
