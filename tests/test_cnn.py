"""LySep-CNN (method.md section 5): the batched conv model, the conv norm bounds, the certificate,
the decrease property, batched == alone, digits images, and bad CNN arguments."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as tnf

from lysep.core.model import ConvSpec, ModelSpec, conv_layer, forward, init_params, layer_work
from lysep.core.objectives import (
    certificate,
    conv_norm_fft,
    conv_norm_frobenius,
    input_sizes,
    layer_norms,
    lysep_loss,
    true_loss,
)
from lysep.core.problem import Problem
from lysep.datasets import load_dataset
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method


def image_problem(n: int = 48, shape=(1, 6, 6), k: int = 3, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    x, xt = rng.normal(size=(n, *shape)), rng.normal(size=(n // 2, *shape))
    y, yt = rng.integers(0, k, n), rng.integers(0, k, n // 2)
    y[:k] = np.arange(k)
    return Problem.from_arrays(x, y, xt, yt, n_classes=k, dtype=torch.float64)


@pytest.fixture(scope="module")
def digits_small() -> Problem:
    ds = load_dataset("digits", n_train=300, n_test=200, seed=0, images=True)
    return Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=10, dtype=torch.float64)


def dense_operator_norm(w: torch.Tensor, c_in: int, h: int, wd: int, pooled: bool) -> float:
    """The exact norm of x -> pool(conv(x, w)) from its dense matrix (one seed's kernel w)."""

    def lin(x: torch.Tensor) -> torch.Tensor:
        out = tnf.conv2d(x.view(1, c_in, h, wd), w, padding=1)
        return (tnf.avg_pool2d(out, 2) if pooled else out).flatten()

    jac = torch.autograd.functional.jacobian(lin, torch.zeros(c_in * h * wd, dtype=torch.float64))
    return float(torch.linalg.matrix_norm(jac, ord=2))


# ---------------------------------------------------------------- the model


@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("shared", [False, True])
def test_batched_conv_layer_equals_torch_conv2d_per_seed(pooled: bool, shared: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    s, n, c_in, c_out = 3, 5, 2, 4
    w = torch.randn(s, c_out, c_in, 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(s, c_out, *((1, 1) if pooled else ()), generator=gen, dtype=torch.float64)
    h = torch.randn(*(() if shared else (s,)), n, c_in, 6, 6, generator=gen, dtype=torch.float64)
    out = conv_layer(w, b, h)
    for j in range(s):
        ref = tnf.conv2d(h if shared else h[j], w[j], padding=1)
        if pooled:
            ref = tnf.avg_pool2d(ref, 2)
        ref = ref + b[j].reshape(1, c_out, 1, 1)
        torch.testing.assert_close(out[j], ref, rtol=0, atol=1e-12)
    assert out.shape == (s, n, c_out, 3 if pooled else 6, 3 if pooled else 6)


def test_cnn_forward_equals_a_torch_nn_reference() -> None:
    spec = ConvSpec.cnn((1, 8, 8), depth=3, channels=4, n_classes=5, pool=(1,))
    params = init_params(spec, [0, 1], torch.float64)
    x = torch.randn(7, 1, 8, 8, dtype=torch.float64)
    hidden, logits = forward(params, x, "tanh")
    for j in range(2):
        h = x
        for i, (w, b) in enumerate(params[:-1]):
            h = tnf.conv2d(h, w[j], padding=1)
            if i == 0:
                h = tnf.avg_pool2d(h, 2)
            h = torch.tanh(h + b[j].reshape(1, -1, 1, 1))
            torch.testing.assert_close(hidden[i][j], h, rtol=0, atol=1e-12)
        z = h.flatten(1) @ params[-1][0][j].T + params[-1][1][j]
        torch.testing.assert_close(logits[j], z, rtol=0, atol=1e-12)
    assert [tuple(h.shape[2:]) for h in hidden] == [(4, 4, 4)] * 3 and spec.features == 64


def test_cnn_init_is_per_seed_and_glorot_scaled() -> None:
    spec = ConvSpec.cnn((1, 8, 8), depth=2, channels=8, n_classes=10)
    both = init_params(spec, [3, 5], torch.float64)
    alone = init_params(spec, [5], torch.float64)
    for (w, b), (w1, b1) in zip(both, alone):
        assert torch.equal(w[1], w1[0]) and torch.equal(b[1], b1[0])
    w2 = both[1][0]
    bound = 5 / 3 * (6 / (8 * 9 + 8 * 9)) ** 0.5
    assert w2.abs().max() <= bound and w2.abs().max() > 0.9 * bound
    assert not torch.equal(both[0][0][0], both[0][0][1])


def test_layer_work_counts_conv_and_dense_multiply_adds() -> None:
    spec = ConvSpec.cnn((1, 8, 8), depth=2, channels=4, n_classes=10, pool=(1,))
    work = layer_work(init_params(spec, [0]), (1, 8, 8))
    assert work == [(1 * 9 + 1) * 4 * 64, (4 * 9 + 1) * 4 * 16, (64 + 1) * 10]


# ---------------------------------------------------------------- the conv norm bounds


@pytest.mark.parametrize("case", range(12))
def test_conv_norm_bounds_are_at_least_the_dense_operator_norm(case: int) -> None:
    rng = np.random.default_rng(case)
    c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    h, wd = int(rng.integers(3, 7)) * 2, int(rng.integers(3, 7)) * 2
    pooled = bool(case % 2)
    gen = torch.Generator().manual_seed(case)
    w = torch.randn(2, c_out, c_in, 3, 3, generator=gen, dtype=torch.float64) * float(rng.uniform(0.1, 3))
    if case % 3 == 0:
        w = w.abs()  # all-positive kernels put the norm at the zero frequency, the hardest case for padding
    b = torch.zeros(2, c_out, *((1, 1) if pooled else ()), dtype=torch.float64)
    params = [(w, b), (torch.zeros(2, 3, c_out * h * wd // (4 if pooled else 1)), torch.zeros(2, 3))]
    spectral = layer_norms(params, "spectral", [(h, wd), None])[:, 0]
    frob = layer_norms(params, "frobenius")[:, 0]
    for j in range(2):
        exact = dense_operator_norm(w[j], c_in, h, wd, pooled)
        assert spectral[j] >= exact * (1 - 1e-12), (spectral[j], exact)
        assert frob[j] >= spectral[j] * (1 - 1e-12)
        # and the circulant bound is tight, not just valid: within 30% of the convolution's norm on images
        # of 6x6 and larger (a pooled layer gets 1/2 of that, which can be loose for the composition)
        conv_exact = dense_operator_norm(w[j], c_in, h, wd, False)
        assert spectral[j] <= 1.3 * conv_exact * (0.5 if pooled else 1.0), (spectral[j], conv_exact)


def test_conv_fft_bound_converges_to_the_operator_norm_on_large_images() -> None:
    w = torch.randn(1, 3, 2, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = dense_operator_norm(w[0], 2, 20, 20, False)
    bound = float(conv_norm_fft(w, (20, 20))[0])
    assert exact <= bound <= 1.02 * exact
    assert float(conv_norm_frobenius(w)[0]) > 1.2 * bound  # Frobenius is valid but much looser


# ---------------------------------------------------------------- the certificate and J


@pytest.mark.parametrize("norm", ["spectral", "frobenius"])
@pytest.mark.parametrize("case", range(10))
def test_certificate_bounds_f_on_random_cnns_and_random_feature_maps(case: int, norm: str) -> None:
    rng = np.random.default_rng(100 + case)
    act = ["tanh", "relu", "sigmoid", "softplus", "gelu"][case % 5]
    depth, channels = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    pool = [(), (1,), True][case % 3] if depth < 3 else (1,)
    prob = image_problem(n=16, shape=(int(rng.integers(1, 3)), 8, 8), k=4, seed=case)
    spec = ConvSpec.cnn(tuple(prob.x_train.shape[1:]), depth, channels, 4, act, pool)
    params = init_params(spec, list(range(4)), torch.float64)
    gen = torch.Generator().manual_seed(case)
    params = [(w * float(rng.uniform(0.3, 4)), b + torch.randn(b.shape, generator=gen, dtype=torch.float64))
              for w, b in params]
    hidden, _ = forward(params, prob.x_train, act)
    F = true_loss(params, prob.x_train, prob.y_train, act)
    for scale in (0.0, 0.01, 0.3, 3.0):
        U = [h + scale * torch.randn(h.shape, generator=gen, dtype=torch.float64) for h in hidden]
        B = certificate(params, U, prob.x_train, prob.y_train, act, norm)
        assert (B >= F - 1e-10).all(), (B - F).min()
        if scale == 0.0:
            torch.testing.assert_close(B, F, rtol=0, atol=1e-12)


def test_an_adversary_cannot_push_the_cnn_certificate_below_f() -> None:
    prob = image_problem(n=12, shape=(1, 6, 6), k=3, seed=7)
    spec = ConvSpec.cnn((1, 6, 6), 2, 3, 3)
    params = [(w * 2.5, b) for w, b in init_params(spec, [0, 1], torch.float64)]
    hidden, _ = forward(params, prob.x_train, "tanh")
    U = [(h + 0.05 * torch.randn_like(h)).requires_grad_() for h in hidden]
    opt = torch.optim.Adam(U, lr=0.002)
    F = true_loss(params, prob.x_train, prob.y_train, "tanh")
    worst, start = float("inf"), None
    for _ in range(200):
        gap = certificate(params, U, prob.x_train, prob.y_train, "tanh", "spectral") - F
        start = float(gap.detach().min()) if start is None else start
        worst = min(worst, float(gap.detach().min()))
        opt.zero_grad()
        gap.sum().backward()
        opt.step()
    assert worst >= -1e-10
    assert worst < 0.2 * start  # the search did close in on F (the bound is tight near the forward pass)


def test_j_equals_f_at_iteration_zero_and_j_never_increases_at_fixed_beta(digits_small: Problem) -> None:
    spec = ConvSpec.cnn((1, 8, 8), depth=2, channels=4, n_classes=10, pool=(1,))
    ms = {"lysep": make_method("lysep", schedule="fixed", beta=100.0),
          "lysep-3": make_method("lysep", schedule="fixed", beta=10.0, u_steps=3, w_steps=2),
          "lysep-relu": make_method("lysep", activation="relu", schedule="fixed", beta=1.0)}
    for label, m in ms.items():
        model = spec if label != "lysep-relu" else ConvSpec.cnn((1, 8, 8), 2, 4, 10, "relu")
        tr = run_cell(digits_small, model, {label: m}, seeds=[0, 1], budget=Budget(iterations=12))
        first = tr[tr.iteration == 0]
        np.testing.assert_allclose(first["J"], first["F"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(first["B"], first["F"], rtol=0, atol=1e-12)
        for _, run in tr.groupby("seed"):
            J = run["J"].to_numpy()
            tol = 1e-7 * np.maximum(1.0, np.abs(J[:-1]))
            assert int((J[1:] > J[:-1] + tol).sum()) == 0, (label, np.diff(J).max())
            assert J[-1] < 0.8 * J[0], label  # and it trains
            assert (run["B"] >= run["F"] - 1e-10).all()


def test_the_default_lysep_cnn_never_increases_j_within_an_iteration(digits_small: Problem) -> None:
    """The default's adaptive weights change between iterations; at each iteration's weights J cannot increase."""
    spec = ConvSpec.cnn((1, 8, 8), depth=2, channels=4, n_classes=10, pool=(1,))
    tr = run_cell(digits_small, spec, {"lysep": make_method("lysep")}, seeds=[0, 1], budget=Budget(iterations=12))
    rows = tr[tr.iteration > 0]
    assert rows.J_start.notna().all() and len(rows) == 24
    assert int((rows.J > rows.J_start + 1e-7 * np.maximum(1.0, rows.J_start.abs())).sum()) == 0
    assert (tr.B >= tr.F - 1e-10).all() and (tr.groupby("seed").F.last() < 0.8 * tr.groupby("seed").F.first()).all()


def test_lysep_loss_matches_its_definition_on_feature_maps() -> None:
    prob = image_problem(n=10, shape=(1, 6, 6), k=3)
    params = init_params(ConvSpec.cnn((1, 6, 6), 2, 3, 3), [0], torch.float64)
    hidden, _ = forward(params, prob.x_train, "tanh")
    U = [h + 0.1 for h in hidden]
    betas = torch.tensor([[2.0, 5.0]], dtype=torch.float64)
    r1 = U[0] - hidden[0]
    r2 = U[1] - torch.tanh(conv_layer(*params[1], U[0]))
    z = U[1].flatten(2) @ params[2][0].transpose(1, 2) + params[2][1].unsqueeze(1)
    g = tnf.cross_entropy(z[0], prob.y_train)
    want = g + 1.0 * (r1 ** 2).sum((2, 3, 4)).mean() + 2.5 * (r2 ** 2).sum((2, 3, 4)).mean()
    torch.testing.assert_close(lysep_loss(params, U, prob.x_train, prob.y_train, betas, "tanh")[0], want)
    assert input_sizes(prob.x_train, U) == [(6, 6), (6, 6), (6, 6)]


# ---------------------------------------------------------------- methods on CNNs

CNN_METHODS = {
    "lysep": {"name": "lysep"},
    "lysep-adam": {"name": "lysep", "u_solver": "adam", "w_solver": "adam", "out_solver": "adam"},
    "lysep-adaptive": {"name": "lysep", "schedule": "adaptive", "beta": 0.1},
    "lysep-newton": {"name": "lysep", "out_solver": "newton", "schedule": "continuation", "beta": 1.0},
    "lysep-joint": {"name": "lysep-joint"},
    "adam": {"name": "adam", "lr": 1e-2},
    "sgd": {"name": "sgd", "lr": 0.05, "batch_size": 32},
    "gd": {"name": "gd", "lr": 0.1},
}


def test_batched_equals_alone_per_seed_on_a_cnn() -> None:
    prob = image_problem(n=40, shape=(1, 8, 8), k=3, seed=3)
    spec = ConvSpec.cnn((1, 8, 8), 2, 3, 3, pool=(2,))
    budget = Budget(iterations=6, eval_every=3)
    ms = {k: make_method(**v) for k, v in CNN_METHODS.items()}
    batch = run_cell(prob, spec, ms, seeds=[5, 1, 8], budget=budget)
    for seed in (1, 8):
        alone = run_cell(prob, spec, {k: make_method(**v) for k, v in CNN_METHODS.items()}, [seed], budget)
        part = batch[batch.seed == seed].drop(columns="wall_time").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone.drop(columns="wall_time").reset_index(drop=True),
                                      check_exact=False, rtol=0, atol=1e-10)
    first = batch[batch.iteration == 0]
    assert first.groupby("seed")["F"].nunique().eq(1).all()  # the same theta_0 for every method


def test_adam_reaches_95_percent_test_accuracy_on_digits_with_the_default_cnn() -> None:
    ds = load_dataset("digits", n_train=1200, n_test=597, seed=0, images=True)
    prob = Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=10)
    spec = ConvSpec.cnn((1, 8, 8), depth=2, channels=4, n_classes=10)
    tr = run_cell(prob, spec, {"adam": make_method("adam", lr=1e-2)}, [0], Budget(iterations=150, eval_every=50))
    last = tr[tr.test_acc.notna()].iloc[-1]
    assert last.test_acc >= 0.95, last.test_acc


def test_digits_images_are_standardized_8x8_with_a_fixed_split() -> None:
    a = load_dataset("digits", n_train=1200, n_test=597, seed=0, images=True)
    b = load_dataset("digits", n_train=1200, n_test=597, seed=0, images=True)
    flat = load_dataset("digits", n_train=1200, n_test=597, seed=0)
    assert a.x_train.shape == (1200, 1, 8, 8) and a.x_test.shape == (597, 1, 8, 8)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert np.array_equal(a.x_train.reshape(1200, 64), flat.x_train)
    m = a.x_train.reshape(1200, 64)
    varying = m.std(0) > 1e-6
    np.testing.assert_allclose(m.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(m.std(0)[varying], 1, atol=1e-4)


# ---------------------------------------------------------------- bad CNN arguments


@pytest.mark.parametrize("kwargs, match", [
    ({"depth": 3, "channels": 4, "pool": True}, r"conv layer 3: its 3x3 kernel is larger than its input image of 2x2"),
    ({"depth": 2, "channels": 0}, r"width \(channels\) = 0 must be an integer >= 1"),
    ({"depth": 0, "channels": 4}, r"depth \(conv layers\) = 0"),
    ({"depth": 2, "channels": 4, "pool": (3,)}, r"pool = \[3\]: layer 3 does not exist"),
])
def test_bad_cnn_arguments_are_rejected_with_a_clear_message(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ConvSpec.cnn((1, 8, 8), n_classes=10, **kwargs)


def test_odd_image_sizes_cannot_pool() -> None:
    with pytest.raises(ValueError, match="2x2 pooling needs an even image size, got 7x7"):
        ConvSpec.cnn((1, 7, 7), 1, 2, 3, pool=True)


def test_gauss_newton_w_blocks_are_refused_on_a_cnn() -> None:
    prob = image_problem()
    spec = ConvSpec.cnn((1, 6, 6), 1, 2, 3)
    method = make_method("lysep", w_solver="gauss_newton")
    with pytest.raises(ValueError, match="gauss_newton' solves dense layers only"):
        method.init(prob, init_params(spec, [0], torch.float64), [0])
    with pytest.raises(ValueError, match="gauss_newton' solves dense layers only"):
        method.check_model(spec)
    method.check_model(ModelSpec.fnn(36, 1, 2, 3))  # a dense model is fine


SPEC = """
name = "cnn-bad"
[data]
dataset = "digits"
n_train = 200
n_test = 100
[model]
kind = "cnn"
{model}
[grid]
depth = [{depth}]
width = [{width}]
seeds = 1
[budget]
iterations = 2
[[method]]
name = "lysep"
{method}
"""


@pytest.mark.parametrize("model, depth, width, method, expect", [
    ("pool = true", 3, 4, "", "conv layer 3: its 3x3 kernel is larger than its input image of 2x2"),
    ("", 2, 0, "", "width"),
    ("pool = [5]", 2, 4, "", "pool = [5]"),
    ("", 2, 4, 'w_solver = "gauss_newton"', "solves dense layers only"),
])
def test_the_cli_rejects_bad_cnn_specs_before_any_work(tmp_path, model, depth, width, method, expect) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.format(model=model, depth=depth, width=width, method=method))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "lysep", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert expect in proc.stderr
    assert not out.exists()


# ---------------------------------------------------------------- hand-written conv blocks


def _conv_case(pooled: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    prob = image_problem(n=9, shape=(2, 6, 6), k=3, seed=seed)
    spec = ConvSpec.cnn((2, 6, 6), 2, 3, 3, "tanh", (1,) if pooled else ())
    params = [(w * 1.3, b + 0.1 * torch.randn(b.shape, generator=gen, dtype=torch.float64))
              for w, b in init_params(spec, [0, 1], torch.float64)]
    hidden, _ = forward(params, prob.x_train, "tanh")
    U = [h + 0.2 * torch.randn(h.shape, generator=gen, dtype=torch.float64) for h in hidden]
    return prob, params, U


@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "softplus"])
def test_hand_written_conv_blocks_equal_autograd(pooled: bool, activation: str) -> None:
    from lysep.core.activations import get_activation
    from lysep.core.blocks import AutogradBlock, HiddenUnitBlock, HiddenWeightBlock, LastUnitBlock, OutputWeightBlock
    from lysep.core.model import affine
    from lysep.core.objectives import cross_entropy, mean_sq

    prob, params, U = _conv_case(pooled)
    x, y = prob.x_train, prob.y_train
    sig, _ = get_activation(activation)
    beta, beta2 = torch.tensor([2.0, 5.0], dtype=torch.float64), torch.tensor([3.0, 0.5], dtype=torch.float64)
    t1 = sig(affine(*params[0], x))
    t2 = sig(affine(*params[1], U[0]))
    cases = [
        (HiddenWeightBlock(x, U[0], beta, activation),
         lambda b: beta / 2 * mean_sq(U[0] - sig(affine(b[0], b[1], x)))),
        (HiddenWeightBlock(U[0], U[1], beta, activation),
         lambda b: beta / 2 * mean_sq(U[1] - sig(affine(b[0], b[1], U[0])))),
        (OutputWeightBlock(U[1].flatten(2), y), lambda b: cross_entropy(affine(b[0], b[1], U[1]), y)),
        (HiddenUnitBlock(t1, beta, *params[1], U[1], beta2, activation),
         lambda b: beta / 2 * mean_sq(b[0] - t1) + beta2 / 2 * mean_sq(U[1] - sig(affine(*params[1], b[0])))),
        (LastUnitBlock(t2, beta, *params[2], y),
         lambda b: beta / 2 * mean_sq(b[0] - t2) + cross_entropy(affine(*params[2], b[0]), y)),
    ]
    points = [list(params[0]), list(params[1]), list(params[2]), [U[0]], [U[1]]]
    for (blk, fn), point in zip(cases, points):
        f, grads = blk.value_and_grad(point)
        rf, rgrads = AutogradBlock(fn).value_and_grad(point)
        torch.testing.assert_close(f, rf, rtol=0, atol=1e-12)
        torch.testing.assert_close(blk.value(point), rf, rtol=0, atol=1e-12)
        for g, r in zip(grads, rgrads):
            assert g.shape == r.shape
            torch.testing.assert_close(g, r, rtol=0, atol=1e-12)


@pytest.mark.parametrize("pool", [(), (1,), True])
def test_the_fused_sweep_gives_the_reference_sweeps_traces_on_a_cnn(pool) -> None:
    prob = image_problem(n=30, shape=(1, 8, 8), k=3, seed=4)
    spec = ConvSpec.cnn((1, 8, 8), 2, 3, 3, pool=pool)
    from oracles import ReferenceLySep

    fused, reference = make_method("lysep", u_steps=2, w_steps=2), ReferenceLySep(u_steps=2, w_steps=2)
    budget = Budget(iterations=10, eval_every=5)
    a = run_cell(prob, spec, {"m": fused}, [0, 2], budget).drop(columns="wall_time")
    b = run_cell(prob, spec, {"m": reference}, [0, 2], budget).drop(columns="wall_time")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-11)
