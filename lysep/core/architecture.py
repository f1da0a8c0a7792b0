"""The shape rules of the networks: an FNN (``ModelSpec``) or a CNN (``ConvSpec``), torch-free.

A spec's model of every grid cell is built and checked from these before any work starts (``lysep
check``, ``lysep run``) without importing torch; :mod:`lysep.core.model` holds the parameters and the
maps, and re-exports both classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lysep.core.activations import check_activation


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
    check_activation(activation)


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
