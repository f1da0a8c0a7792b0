"""The method guarantees of method.md: decrease of J, batched == alone, same theta_0, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from oracles import ReferenceLySep

from lysep.core.cost import FORWARD_SHARE, work_shares
from lysep.core.model import ModelSpec, init_params, layer_work
from lysep.core.optim import adam_moments, adam_step, sgd_update
from lysep.harness.cell import Budget, run_cell
from lysep.methods import METHODS, make_method

from helpers import random_problem

ALL_METHODS = {
    "lysep": {"name": "lysep"},
    "lysep-fixed": {"name": "lysep", "schedule": "fixed", "beta": 5.0},
    "lysep-adaptive": {"name": "lysep", "schedule": "adaptive", "beta": 0.1},
    "lysep-2nd": {"name": "lysep", "w_solver": "gauss_newton", "out_solver": "newton", "u_steps": 2},
    "lysep-adam": {"name": "lysep", "u_solver": "adam", "w_solver": "adam", "out_solver": "adam"},
    "lysep-armijo": {"name": "lysep", "u_solver": "gd", "w_solver": "gd", "out_solver": "gd"},
    "lysep-lip": {"name": "lysep", "u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz",
                  "lipschitz_growth": 1.0, "lipschitz_step": 1.9},
    "lysep-lip-adaptive": {"name": "lysep", "u_solver": "lipschitz", "w_solver": "lipschitz",
                           "out_solver": "lipschitz", "lipschitz_growth": 1.25},
    "lysep-armijo-batch": {"name": "lysep", "u_solver": "gd", "w_solver": "gd", "out_solver": "gd",
                           "armijo_batch": 3, "max_backtracks": 6},
    "lysep-mm": {"name": "lysep", "u_solver": "mm", "w_solver": "lipschitz", "out_solver": "mm"},
    "lysep-joint": {"name": "lysep-joint"},
    "gd": {"name": "gd", "lr": 0.2},
    "sgd": {"name": "sgd", "lr": 0.05, "batch_size": 16},
    "adam": {"name": "adam", "lr": 1e-2},
    "adam-mb": {"name": "adam", "lr": 1e-2, "batch_size": 20},
}


def methods(activation: str = "tanh", only: tuple[str, ...] | None = None) -> dict:
    return {label: make_method(activation=activation, **cfg) for label, cfg in ALL_METHODS.items()
            if only is None or label in only}


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time"]).reset_index(drop=True)


@pytest.mark.parametrize("solvers", [{"u_solver": "gd", "w_solver": "gd", "out_solver": "gd"},
                                     {"u_solver": "gd", "w_solver": "gauss_newton", "out_solver": "newton"},
                                     {"u_solver": "gd", "w_solver": "gd", "out_solver": "newton_cg"}])
@pytest.mark.parametrize("problem_seed", range(5))
def test_lysep_armijo_never_increases_j_at_fixed_beta(problem_seed: int, solvers: dict) -> None:
    prob = random_problem(n=60, d=3, k=3, seed=problem_seed)
    rng = np.random.default_rng(problem_seed)
    act = ["tanh", "relu", "sigmoid"][problem_seed % 3]
    model = ModelSpec.fnn(3, int(rng.integers(2, 5)), int(rng.integers(3, 9)), 3, act)
    beta = [0.5, 1.0, 10.0, 100.0, 3.0][problem_seed]
    lysep = make_method("lysep", activation=model.activation, schedule="fixed", beta=beta, u_steps=2, w_steps=2,
                        **solvers)
    tr = run_cell(prob, model, {"lysep": lysep}, seeds=[0, 1], budget=Budget(iterations=50))
    for _, run in tr.groupby("seed"):
        J = run["J"].to_numpy()
        assert len(J) == 51
        tol = 1e-7 * np.maximum(1.0, np.abs(J[:-1]))
        assert int((J[1:] > J[:-1] + tol).sum()) == 0, np.diff(J).max()
        assert np.array_equal(run["J_start"].to_numpy()[1:], J[:-1])  # fixed beta: J_start is the last J
        assert J[-1] < 0.9 * J[0]  # and it actually trains


def test_j_equals_f_and_b_equals_f_at_iteration_zero(circle64) -> None:
    model = ModelSpec.fnn(2, 4, 8, 2)
    lyseps = methods(only=("lysep", "lysep-fixed", "lysep-adaptive", "lysep-joint"))
    tr = run_cell(circle64, model, lyseps, [0, 1, 2], Budget(iterations=1))
    first = tr[tr.iteration == 0]
    np.testing.assert_allclose(first["J"], first["F"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(first["B"], first["F"], rtol=0, atol=1e-12)
    assert (first[[c for c in tr.columns if c.startswith("residual_")]] == 0).all().all()


def test_batched_equals_alone_for_every_method(circle64) -> None:
    model = ModelSpec.fnn(2, 3, 6, 2)
    budget = Budget(iterations=15, eval_every=5)
    batch = run_cell(circle64, model, methods(), seeds=[4, 9, 2, 7], budget=budget)
    for seed in (9, 7):
        alone = run_cell(circle64, model, methods(), seeds=[seed], budget=budget)
        part = batch[batch.seed == seed]
        assert set(alone.method) == set(ALL_METHODS)
        pd.testing.assert_frame_equal(without_time(part), without_time(alone), check_exact=False, rtol=0, atol=1e-10)


def test_same_seed_gives_the_same_theta0_for_every_method(circle64) -> None:
    model = ModelSpec.fnn(2, 3, 6, 2)
    tr = run_cell(circle64, model, methods(), seeds=[0, 1], budget=Budget(iterations=1))
    first = tr[tr.iteration == 0]
    for _, g in first.groupby("seed"):
        assert g["F"].nunique() == 1 and g["train_acc"].nunique() == 1 and g["test_ce"].nunique() == 1
    p0 = init_params(model, [0, 1], torch.float64)
    for label, m in methods().items():
        state = m.init(circle64, p0, [0, 1])
        for (w, b), (w0, b0) in zip(state.params, p0):
            assert torch.equal(w, w0) and torch.equal(b, b0), label
    assert first.groupby("seed")["F"].first().nunique() == 2  # and seeds differ from each other


def test_the_same_call_twice_gives_identical_traces(circle64) -> None:
    model = ModelSpec.fnn(2, 3, 6, 2)
    a = run_cell(circle64, model, methods(), [0, 1], Budget(iterations=10))
    b = run_cell(circle64, model, methods(), [0, 1], Budget(iterations=10))
    pd.testing.assert_frame_equal(without_time(a), without_time(b), check_exact=True)


def test_lysep_grad_evals_count_every_block_gradient_and_trial(circle64) -> None:
    model = ModelSpec.fnn(2, 3, 6, 2)
    tr = run_cell(circle64, model, {"l": make_method("lysep", u_steps=2, w_steps=3)}, [0], Budget(iterations=5))
    costs = work_shares(layer_work(init_params(model, [0]), model.input_shape))
    # each U block l costs layer l+1's share, each W block its own; every step is >= 1 gradient + 1 trial
    floor = (1 + FORWARD_SHARE) * (2 * sum(costs[1:]) + 3 * sum(costs))
    inc = np.diff(tr["grad_evals"].to_numpy())
    assert (inc >= floor - 1e-12).all() and (inc < 40 * floor).all()


def test_baseline_grad_evals_are_passes_over_the_data(circle64) -> None:
    model = ModelSpec.fnn(2, 2, 4, 2)
    tr = run_cell(circle64, model, methods(only=("gd", "sgd", "adam-mb")), [0], Budget(iterations=4))
    last = tr.groupby("method")["grad_evals"].last()
    assert last["gd"] == 4.0
    assert last["sgd"] == pytest.approx(4 * 16 / 200) and last["adam-mb"] == pytest.approx(4 * 20 / 200)


def test_the_one_adam_step_matches_torch_optim_adam() -> None:
    gen = torch.Generator().manual_seed(0)
    ps = [torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(2, 3, generator=gen, dtype=torch.float64)]
    refs = [p.clone().requires_grad_() for p in ps]
    opt = torch.optim.Adam(refs, lr=0.03, betas=(0.8, 0.99), eps=1e-7)
    moments = adam_moments(ps)
    for _ in range(1, 6):
        gs = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in ps]
        for r, g in zip(refs, gs):
            r.grad = g.clone()
        opt.step()
        ps = adam_step(ps, gs, moments, 0.03, 0.8, 0.99, 1e-7)
    assert moments["t"] == 5
    for p, r in zip(ps, refs):
        torch.testing.assert_close(p, r.detach(), rtol=0, atol=1e-14)


def test_adam_on_f_is_torch_optim_adam_on_the_network(circle64) -> None:
    """The Adam baseline, run by the harness, is torch.optim.Adam on the mean CE of each seed's network."""
    model = ModelSpec.fnn(2, 2, 5, 2)
    p0 = init_params(model, [3], torch.float64)
    method = make_method("adam", lr=0.02)
    state = method.init(circle64, p0, [3])
    leaves = [t[0].clone().requires_grad_() for wb in p0 for t in wb]
    opt = torch.optim.Adam(leaves, lr=0.02)
    for _ in range(4):
        method.step(circle64, state)
        opt.zero_grad()
        h = circle64.x_train
        for i in range(0, len(leaves) - 2, 2):
            h = torch.tanh(h @ leaves[i].T + leaves[i + 1])
        torch.nn.functional.cross_entropy(h @ leaves[-2].T + leaves[-1], circle64.y_train).backward()
        opt.step()
    for got, want in zip([t[0] for wb in state.params for t in wb], leaves):
        torch.testing.assert_close(got, want.detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_matches_torch_optim_sgd(nesterov: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    p = torch.randn(5, generator=gen, dtype=torch.float64)
    ref = p.clone().requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, nesterov=nesterov)
    buf = None
    for _ in range(5):
        g = torch.randn(5, generator=gen, dtype=torch.float64)
        ref.grad = g.clone()
        opt.step()
        p, buf = sgd_update(p, g, buf, 0.1, 0.9, nesterov)
    torch.testing.assert_close(p, ref.detach(), rtol=0, atol=1e-14)


def test_sgd_minibatches_cover_the_data_once_per_epoch(circle64) -> None:
    from lysep.core.batches import MinibatchSampler

    sampler = MinibatchSampler(10, 4, [0, 1], torch.device("cpu"))
    epoch = torch.cat([sampler.next(), sampler.next(), sampler.next()], dim=1)
    assert epoch.shape == (2, 10)
    assert all(sorted(row.tolist()) == list(range(10)) for row in epoch)
    assert not torch.equal(epoch[0], epoch[1])  # each seed shuffles with its own generator


@pytest.mark.parametrize("name,hp,match", [
    ("adam", {"lr": -1.0}, "lr = -1.0 is out of range"),
    ("adam", {"lr": "fast"}, "lr = 'fast' has the wrong type"),
    ("adam", {"learning_rate": 0.1}, "unknown hyperparameter 'learning_rate'"),
    ("sgd", {"batch_size": 0}, "batch_size = 0 is out of range"),
    ("sgd", {"batch_size": True}, "batch_size = True has the wrong type"),
    ("sgd", {"momentum": 1.0}, "momentum = 1.0 is out of range"),
    ("lysep", {"schedule": "cosine"}, "schedule = 'cosine' is not allowed"),
    ("lysep", {"rho": 0.5}, "rho = 0.5 is out of range"),
    ("lysep", {"beta": float("nan")}, "beta = nan is out of range"),
    ("gd", {"lr": 0}, "lr = 0.0 is out of range"),
    ("nesterov", {}, "method='nesterov' is unknown"),
])
def test_bad_hyperparameters_are_rejected_by_name(name: str, hp: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        make_method(name, **hp)


def test_every_method_has_defaults_that_construct() -> None:
    for name in METHODS:
        m = make_method(name)
        assert set(m.hp) == set(METHODS[name].HPARAMS)


@pytest.mark.parametrize("problem_seed", range(3))
def test_the_default_lysep_keeps_the_certificate_and_the_decrease_property(problem_seed: int) -> None:
    """The default chosen from the tuning evidence (docs/tuning.md) is held to the foundation's guarantees: Armijo
    blocks only, so J cannot increase over an iteration at that iteration's weights, and B >= F on every row."""
    prob = random_problem(n=80, d=3, k=3, seed=10 + problem_seed)
    model = ModelSpec.fnn(3, 3 + problem_seed, 6, 3)
    default = make_method("lysep")
    assert default.decrease_guaranteed and {default.hp[k] for k in ("u_solver", "w_solver", "out_solver")} == {"gd"}
    tr = run_cell(prob, model, {"lysep": default}, seeds=[0, 1, 2], budget=Budget(iterations=40))
    assert tr.J_start.notna().sum() >= 40 * 3 - 3  # J_start on every row after the first
    tol = 1e-7 * np.maximum(1.0, tr.J_start.abs())
    assert int((tr.J > tr.J_start + tol).sum()) == 0
    assert bool((tr.B >= tr.F - 1e-6 * np.maximum(1.0, tr.F.abs())).all())
    assert bool((tr.groupby("seed").J.last() < tr.groupby("seed").J.first()).all())


@pytest.mark.parametrize("solver", [{}, {"w_solver": "gauss_newton"}, {"w_solver": "adam"}])
def test_batched_w_blocks_equal_the_block_by_block_w_step(circle64, solver: dict) -> None:
    model = ModelSpec.fnn(2, 4, 5, 2)
    methods = {"together": make_method("lysep", parallel_w=True, w_steps=2, **solver),
               "apart": make_method("lysep", parallel_w=False, w_steps=2, **solver)}
    tr = run_cell(circle64, model, methods, [0, 1, 2], Budget(iterations=8))
    a = without_time(tr[tr.method == "together"]).drop(columns="method")
    b = without_time(tr[tr.method == "apart"]).drop(columns="method")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-10)


@pytest.mark.parametrize("label", ["lysep", "lysep-fixed", "lysep-adaptive", "lysep-2nd", "lysep-adam", "lysep-armijo",
                                   "lysep-lip", "lysep-lip-adaptive", "lysep-armijo-batch", "lysep-mm"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "gelu"])
def test_the_fused_sweep_gives_the_reference_sweeps_traces(circle64, label: str, activation: str) -> None:
    """The fused sweep (each layer evaluated once per accepted change) is the same math as method.md's sweep."""
    cfg = {"u_steps": 2, "w_steps": 2, **{k: v for k, v in ALL_METHODS[label].items() if k != "name"}}
    if activation == "gelu" and cfg.get("w_solver") == "gauss_newton":
        cfg.pop("w_solver")  # gelu has no closed-form derivative here: autograd blocks, no Gauss-Newton
    model = ModelSpec.fnn(2, 4, 7, 2, activation)
    fused = make_method("lysep", activation=activation, **cfg)
    reference = ReferenceLySep(activation=activation, **cfg)
    budget = Budget(iterations=25, eval_every=5)
    a = run_cell(circle64, model, {"m": fused}, [0, 3], budget)
    b = run_cell(circle64, model, {"m": reference}, [0, 3], budget)
    pd.testing.assert_frame_equal(without_time(a), without_time(b), check_exact=False, rtol=0, atol=1e-11)
    assert a["J"].iloc[-1] < a["J"].iloc[0]  # and something happened


@pytest.mark.parametrize("activation", ["tanh", "gelu"])
def test_armijo_trials_in_one_batch_take_the_sequential_rules_steps(circle64, activation: str) -> None:
    """Rounds of B trial step sizes evaluated at once pick, per seed, the step the sequential rule accepts
    (docs/method.md 4.1); only the trial count differs (B per round)."""
    model = ModelSpec.fnn(2, 3, 6, 2, activation)
    gd = {"u_solver": "gd", "w_solver": "gd", "out_solver": "gd", "max_backtracks": 6}
    ms = {"seq": make_method("lysep", activation=activation, **gd),
          "batch": make_method("lysep", activation=activation, armijo_batch=3, **gd)}
    tr = run_cell(circle64, model, ms, [0, 1, 2], Budget(iterations=20))
    a = without_time(tr[tr.method == "seq"]).drop(columns=["method", "grad_evals", "flops"])
    b = without_time(tr[tr.method == "batch"]).drop(columns=["method", "grad_evals", "flops"])
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-10)
    cost = tr.groupby("method")[["grad_evals", "flops"]].last()
    assert (cost.loc["batch"] > cost.loc["seq"]).all()  # every round evaluates all of its B trials
