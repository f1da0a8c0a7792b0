"""Seed-batched models: theta_0 per seed, forward pass against torch.nn, argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from lysep.core.activations import ACTIVATIONS
from lysep.core.model import ModelSpec, forward, init_params, select_seeds


def test_theta0_of_a_seed_is_the_same_alone_and_in_a_batch() -> None:
    spec = ModelSpec.fnn(2, 4, 10, 3)
    batch = init_params(spec, [7, 3, 11, 0], torch.float64)
    alone = init_params(spec, [11], torch.float64)
    for (wb, bb), (wa, ba) in zip(batch, alone):
        assert torch.equal(wb[2], wa[0]) and torch.equal(bb[2], ba[0])


def test_theta0_does_not_depend_on_dtype_beyond_rounding() -> None:
    spec = ModelSpec.fnn(2, 2, 5, 2)
    p64, p32 = init_params(spec, [1], torch.float64), init_params(spec, [1], torch.float32)
    for (w64, _), (w32, _) in zip(p64, p32):
        assert torch.equal(w64.to(torch.float32), w32)


def test_different_seeds_give_different_theta0() -> None:
    p = init_params(ModelSpec.fnn(2, 2, 5, 2), [0, 1])
    assert not torch.equal(p[0][0][0], p[0][0][1])


def test_glorot_uniform_range_and_zero_biases() -> None:
    spec = ModelSpec.fnn(3, 2, 40, 2, "tanh")
    params = init_params(spec, list(range(5)), torch.float64)
    for i, (w, b) in enumerate(params):
        fan_out, fan_in = w.shape[1:]
        gain = 1.0 if i == len(params) - 1 else 5.0 / 3.0
        a = gain * math.sqrt(6.0 / (fan_in + fan_out))
        assert float(w.abs().max()) <= a and float(w.abs().max()) > 0.8 * a
        assert float(b.abs().max()) == 0.0


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_forward_matches_torch_nn(act: str) -> None:
    spec = ModelSpec(3, (6, 4, 5), 3, act)
    params = init_params(spec, [0, 1], torch.float64)
    x = torch.randn(17, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    hidden, logits = forward(params, x, act)
    fn = {"tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(), "sigmoid": torch.nn.Sigmoid(),
          "gelu": torch.nn.GELU(), "softplus": torch.nn.Softplus()}[act]
    for s in range(2):
        layers = []
        for i, (w, b) in enumerate(params):
            lin = torch.nn.Linear(w.shape[2], w.shape[1]).double()
            lin.weight.data, lin.bias.data = w[s].clone(), b[s].clone()
            layers += [lin] if i == len(params) - 1 else [lin, fn]
        net = torch.nn.Sequential(*layers)
        torch.testing.assert_close(logits[s], net(x), rtol=0, atol=1e-12)
        assert [h.shape[2] for h in hidden] == [6, 4, 5]


def test_select_seeds_copies() -> None:
    p = init_params(ModelSpec.fnn(2, 1, 3, 2), [0, 1, 2])
    sub = select_seeds(p, [2])
    assert torch.equal(sub[0][0][0], p[0][0][2])
    sub[0][0].zero_()
    assert float(p[0][0][2].abs().sum()) > 0


@pytest.mark.parametrize("kwargs,match", [
    ({"in_dim": 2, "depth": 0, "width": 5, "n_classes": 2}, "depth=0"),
    ({"in_dim": 2, "depth": 3, "width": 0, "n_classes": 2}, "width=0"),
    ({"in_dim": 2, "depth": 3, "width": -4, "n_classes": 2}, "width=-4"),
    ({"in_dim": 0, "depth": 3, "width": 5, "n_classes": 2}, "in_dim=0"),
    ({"in_dim": 2, "depth": 3, "width": 5, "n_classes": 1}, "n_classes=1"),
    ({"in_dim": 2, "depth": 3, "width": 5, "n_classes": 2, "activation": "swish"}, "activation='swish'"),
    ({"in_dim": 2, "depth": 2.5, "width": 5, "n_classes": 2}, "depth=2.5"),
])
def test_bad_model_arguments_are_rejected_by_name(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(".", r"\.")):
        ModelSpec.fnn(**kwargs)
