"""Fully connected and convolutional networks with every parameter batched over seeds (leading dimension S).

``Params`` is a list of ``(W_l, b_l)`` for ``l = 1..D+1``. A dense layer has ``W_l`` of shape
``(S, M_l, M_{l-1})`` and ``b_l`` of shape ``(S, M_l)``. A convolutional layer (docs/method.md
section 5: 3x3 kernel, padding 1, stride 1) has ``W_l`` of shape ``(S, C_l, C_{l-1}, 3, 3)``;
its bias is ``(S, C_l)``, or ``(S, C_l, 1, 1)`` when the layer ends with a 2x2 average pooling
(a fixed linear map applied before the bias and the activation). The layer kind is read from
these shapes, which every operation on the parameters keeps, so the whole suite handles both
kinds through the one ``affine`` map. The classifier of a CNN is a dense layer on the
flattened feature maps.

Seed ``s`` draws its ``theta_0`` from its own generator, in float64 on the CPU, so that it is
the same whether it runs alone or in a batch, on any device and for every method.

The shape rules (``ModelSpec``, ``ConvSpec``) live in the torch-free :mod:`lysep.core.architecture`, so that a
spec's models are checked without importing torch; they are importable from here as before.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as tnf

from lysep.core.activations import GAINS, get_activation
from lysep.core.architecture import KERNEL, ConvSpec, ModelSpec

Params = list[tuple[torch.Tensor, torch.Tensor]]


def _glorot(gen: torch.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int, gain: float) -> torch.Tensor:
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return (torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * a


def _init_cnn(spec: ConvSpec, gen: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Glorot uniform with torch's conv fans (channels x kernel area), zero biases."""
    gain = GAINS[spec.activation]
    layers = []
    c_in = spec.image_shape[0]
    for c, pooled in zip(spec.channels, spec.pools):
        w = _glorot(gen, (c, c_in, KERNEL, KERNEL), c_in * KERNEL**2, c * KERNEL**2, gain)
        layers.append((w, torch.zeros((c, 1, 1) if pooled else (c,), dtype=torch.float64)))
        c_in = c
    w = _glorot(gen, (spec.n_classes, spec.features), spec.features, spec.n_classes, 1.0)
    layers.append((w, torch.zeros(spec.n_classes, dtype=torch.float64)))
    return layers


def init_params(spec: ModelSpec | ConvSpec, seeds: list[int], dtype: torch.dtype = torch.float32,
                device: str | torch.device = "cpu") -> Params:
    """Glorot-uniform weights (gain of the activation), zero biases; one generator per seed."""
    if isinstance(spec, ConvSpec):
        per_seed = [_init_cnn(spec, torch.Generator().manual_seed(int(seed))) for seed in seeds]
        return [(torch.stack([p[i][0] for p in per_seed]).to(device=device, dtype=dtype),
                 torch.stack([p[i][1] for p in per_seed]).to(device=device, dtype=dtype))
                for i in range(spec.depth + 1)]
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


def is_conv(w: torch.Tensor) -> bool:
    """Whether a layer weight is a convolution kernel (S, C_out, C_in, kh, kw)."""
    return w.dim() == 5


def is_pooled(b: torch.Tensor) -> bool:
    """Whether a conv layer ends with 2x2 average pooling (its bias is stored as (S, C, 1, 1))."""
    return b.dim() == 4


def conv_layer(w: torch.Tensor, b: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``pool(conv(h, W)) + b`` per seed: ``h`` is (N, C, H, W) shared or (S, N, C, H, W) -> (S, N, C', H', W').

    All seeds run in one grouped convolution (groups = S), or one plain convolution with S * C'
    filters when the input is shared.
    """
    s, c_out, c_in, kh, kw = w.shape
    if h.dim() == 4:
        n = h.shape[0]
        out = tnf.conv2d(h, w.reshape(s * c_out, c_in, kh, kw), padding=kh // 2)
    else:
        n = h.shape[1]
        inp = h.transpose(0, 1).reshape(n, s * c_in, *h.shape[3:])
        out = tnf.conv2d(inp, w.reshape(s * c_out, c_in, kh, kw), padding=kh // 2, groups=s)
    if is_pooled(b):
        out = tnf.avg_pool2d(out, 2)
    out = out.view(n, s, c_out, *out.shape[2:]).transpose(0, 1).contiguous()  # seeds first, in memory too
    return out + b.reshape(s, 1, c_out, 1, 1)


def affine(w: torch.Tensor, b: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The layer's linear map plus bias, per seed.

    Dense: ``h W^T + b`` with ``h`` (N, m) shared by all seeds or (S, N, m) -> (S, N, M); feature
    maps (S, N, C, H, W) are flattened first (the classifier of a CNN). Conv: ``conv_layer``.
    """
    if is_conv(w):
        return conv_layer(w, b, h)
    if h.dim() > 3:
        h = h.flatten(2)
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


def _seeds_as_groups(t: torch.Tensor) -> torch.Tensor:
    """(S, N, C, H, W) -> (N, S * C, H, W): seeds as convolution groups."""
    s, n = t.shape[:2]
    return t.transpose(0, 1).reshape(n, s * t.shape[2], *t.shape[3:])


def _conv_out_grad(b: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The gradient at the convolution's output from the gradient at the layer's pre-activation g
    (S, N, C', H', W'), as groups (N, S * C', H, W): through the 2x2 average pooling if the layer pools."""
    out = _seeds_as_groups(g)
    if is_pooled(b):  # the adjoint of 2x2 average pooling: each input gets a quarter of its output's gradient
        out = out.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) / 4
    return out


def affine_input_grad(w: torch.Tensor, b: torch.Tensor, g: torch.Tensor,
                      input_shape: torch.Size) -> torch.Tensor:
    """``g`` (the gradient at ``affine(w, b, h)``) pulled back to ``h`` of shape ``input_shape`` (batched)."""
    if not is_conv(w):
        return torch.bmm(g, w).view(input_shape)
    s, c_out, c_in, kh, kw = w.shape
    n = input_shape[1]
    grad_out = _conv_out_grad(b, g)
    gi = tnf.conv_transpose2d(grad_out, w.reshape(s * c_out, c_in, kh, kw), padding=kh // 2, groups=s)
    return gi.view(n, s, c_in, *gi.shape[2:]).transpose(0, 1)


def affine_weight_grad(w: torch.Tensor, b: torch.Tensor, h: torch.Tensor,
                       g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients in ``(w, b)`` from ``g``, the gradient at ``affine(w, b, h)``; ``h`` shared or batched."""
    if not is_conv(w):
        if h.dim() > 3:
            h = h.flatten(2)
        gw = torch.matmul(g.transpose(1, 2), h) if h.dim() == 2 else torch.bmm(g.transpose(1, 2), h)
        return gw, g.sum(1)
    s, c_out, c_in, kh, kw = w.shape
    grad_out = _conv_out_grad(b, g)
    shared = h.dim() == 4  # the data: one plain convolution with S * C' filters made it
    inp = h if shared else _seeds_as_groups(h)
    gw = torch.ops.aten.convolution_backward(
        grad_out, inp, w.reshape(s * c_out, c_in, kh, kw), None, [1, 1], [kh // 2, kw // 2], [1, 1], False,
        [0, 0], 1 if shared else s, [False, True, False])[1]
    return gw.view(w.shape), g.sum(dim=(1, 3, 4)).view(b.shape)


def layer_work(params: Params, sample_shape: tuple[int, ...], bias: bool = True) -> list[int]:
    """Multiply-adds of each layer for one sample (bias included): (m + 1) M dense, (C kh kw + 1) C' H W conv;
    ``bias=False``: the products alone, m M and C kh kw C' H W (what a flop counter counts)."""
    one = 1 if bias else 0
    shape = tuple(sample_shape)
    work = []
    for w, b in params:
        if is_conv(w):
            _, c_out, c_in, kh, kw = w.shape
            h, wd = shape[-2:]
            work.append((c_in * kh * kw + one) * c_out * h * wd)
            shape = (c_out, h // 2, wd // 2) if is_pooled(b) else (c_out, h, wd)
        else:
            work.append((w.shape[2] + one) * w.shape[1])
            shape = (w.shape[1],)
    return work


def clone_params(params: Params) -> Params:
    return [(w.detach().clone(), b.detach().clone()) for w, b in params]


def select_seeds(params: Params, index: list[int] | torch.Tensor) -> Params:
    """The parameters of a subset of seeds (e.g. one seed for a check against a batch)."""
    return [(w[index].clone(), b[index].clone()) for w, b in params]
