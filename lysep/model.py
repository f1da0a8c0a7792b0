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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as tnf

from lysep.activations import GAINS, get_activation

Params = list[tuple[torch.Tensor, torch.Tensor]]


def _check_layers(n_classes: int, sizes: tuple[int, ...], activation: str, empty: str, bad_size) -> None:
    """ValueError for a class count below 2, no layers, a layer size that is not an integer >= 1, or an
    unknown activation (messages in the caller's terms)."""
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r} must be an integer >= 2")
    if len(sizes) < 1:
        raise ValueError(empty)
    for v in sizes:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(bad_size(v))
    get_activation(activation)


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
        _check_layers(self.n_classes, self.widths, self.activation,
                      f"depth={len(self.widths)} must be >= 1 (widths={self.widths!r})",
                      lambda w: f"width={w!r} must be an integer >= 1 (widths={self.widths!r})")

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

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample."""
        return (self.in_dim,)


#: kernel size of every convolution (docs/method.md section 5)
KERNEL = 3


@dataclass(frozen=True)
class ConvSpec:
    """A CNN (docs/method.md section 5): ``L1 = len(channels)`` conv layers, then a dense classifier.

    ``image_shape`` is ``(C_0, H, W)`` of one input; ``pool[l]`` says whether layer ``l + 1``
    ends with a 2x2 average pooling. In an experiment spec the grid's depth is ``L1`` and its
    width is ``C`` (every layer has ``C`` channels).
    """

    image_shape: tuple[int, int, int]
    channels: tuple[int, ...]
    n_classes: int
    activation: str = "tanh"
    pool: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if len(self.image_shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in self.image_shape):
            raise ValueError(f"image_shape={self.image_shape!r} must be (channels, height, width), each >= 1")
        _check_layers(self.n_classes, self.channels, self.activation,
                      f"depth (conv layers) = {len(self.channels)} must be >= 1",
                      lambda c: f"channels = {c!r} must be an integer >= 1 (width of a CNN = channels per layer)")
        if len(self.pool) not in (0, len(self.channels)):
            raise ValueError(f"pool={self.pool!r} must have one entry per conv layer ({len(self.channels)})")
        _, h, w = self.image_shape
        for layer, pooled in enumerate(self.pools, start=1):
            if min(h, w) < KERNEL:
                raise ValueError(f"conv layer {layer}: its {KERNEL}x{KERNEL} kernel is larger than its input "
                                 f"image of {h}x{w} (after the pooling of the layers before it); "
                                 "use fewer pooling layers or fewer conv layers")
            if pooled:
                if h % 2 or w % 2:
                    raise ValueError(f"conv layer {layer}: 2x2 pooling needs an even image size, got {h}x{w}")
                h, w = h // 2, w // 2

    @classmethod
    def cnn(cls, image_shape: tuple[int, ...], depth: int, channels: int, n_classes: int,
            activation: str = "tanh", pool: bool | tuple[int, ...] = False) -> ConvSpec:
        """``depth`` conv layers of ``channels`` channels; ``pool``: True (every layer), False, or 1-based layers."""
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ValueError(f"depth (conv layers) = {depth!r} must be an integer >= 1")
        if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
            raise ValueError(f"width (channels) = {channels!r} must be an integer >= 1")
        if isinstance(pool, bool):
            pools = (pool,) * depth
        else:
            bad = [p for p in pool if not 1 <= p <= depth]
            if bad:
                raise ValueError(f"pool = {list(pool)!r}: layer {bad[0]} does not exist (conv layers are 1..{depth})")
            pools = tuple(i + 1 in pool for i in range(depth))
        return cls(tuple(int(v) for v in image_shape), (channels,) * depth, n_classes, activation, pools)

    @property
    def pools(self) -> tuple[bool, ...]:
        return self.pool if self.pool else (False,) * len(self.channels)

    @property
    def depth(self) -> int:
        return len(self.channels)

    @property
    def widths(self) -> tuple[int, ...]:
        return self.channels

    @property
    def in_dim(self) -> int:
        return self.image_shape[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape

    @property
    def map_shapes(self) -> list[tuple[int, int, int]]:
        """(C_l, H_l, W_l) of every conv layer's output."""
        _, h, w = self.image_shape
        out = []
        for c, pooled in zip(self.channels, self.pools):
            if pooled:
                h, w = h // 2, w // 2
            out.append((c, h, w))
        return out

    @property
    def features(self) -> int:
        """Inputs of the dense classifier: C_L * H_L * W_L."""
        c, h, w = self.map_shapes[-1]
        return c * h * w


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


def layer_work(params: Params, sample_shape: tuple[int, ...]) -> list[int]:
    """Multiply-adds of each layer for one sample (bias included): (m + 1) M dense, (C kh kw + 1) C' H W conv."""
    shape = tuple(sample_shape)
    work = []
    for w, b in params:
        if is_conv(w):
            _, c_out, c_in, kh, kw = w.shape
            h, wd = shape[-2:]
            work.append((c_in * kh * kw + 1) * c_out * h * wd)
            shape = (c_out, h // 2, wd // 2) if is_pooled(b) else (c_out, h, wd)
        else:
            work.append((w.shape[2] + 1) * w.shape[1])
            shape = (w.shape[1],)
    return work


def clone_params(params: Params) -> Params:
    return [(w.detach().clone(), b.detach().clone()) for w, b in params]


def select_seeds(params: Params, index: list[int] | torch.Tensor) -> Params:
    """The parameters of a subset of seeds (e.g. one seed for a check against a batch)."""
    return [(w[index].clone(), b[index].clone()) for w, b in params]
