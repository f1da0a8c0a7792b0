"""Minibatch LySep (docs/method.md 4.6), tested like the full-batch one: batch_size >= N is full-batch LySep,
batched == alone per seed, same seed same traces, the batch-level decrease, B >= F on the full set, the
baselines' batch order, rows outside the batch untouched, full-set metrics in chunks; and epoch budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import lysep.core.chunks
from lysep.core.am_minibatch import forward_pass_u, take_rows
from lysep.core.batches import MinibatchSampler, steps_per_epoch
from lysep.core.model import ConvSpec, ModelSpec, forward, init_params
from lysep.core.problem import Problem
from lysep.harness.cell import Budget, run_cell
from lysep.methods import make_method

from helpers import random_problem

TOL = 1e-7


def images(n: int = 40, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    x, xt = rng.normal(size=(n, 1, 6, 6)), rng.normal(size=(n // 2, 1, 6, 6))
    y, yt = rng.integers(0, 3, n), rng.integers(0, 3, n // 2)
    y[:3] = np.arange(3)
    return Problem.from_arrays(x, y, xt, yt, n_classes=3, dtype=torch.float64)


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time"]).reset_index(drop=True)


@pytest.mark.parametrize("cnn", [False, True])
def test_a_batch_of_all_rows_is_full_batch_lysep(cnn: bool, monkeypatch) -> None:
    """With batch_size >= N every iteration sees every row: the same iterates as lysep. (The rows are taken in
    their stored order here: in the sampler's shuffled order the sums round differently, and an Armijo trial
    that sits on its acceptance threshold can then go the other way.)"""
    monkeypatch.setattr(torch, "randperm", lambda n, generator=None: torch.arange(n))
    prob = images() if cnn else random_problem(n=90, d=3, k=3, seed=1)
    model = ConvSpec.cnn((1, 6, 6), 2, 3, 3, pool=(1,)) if cnn else ModelSpec.fnn(3, 3, 7, 3)
    hp = {"schedule": "continuation", "beta": 2.0, "rho": 1.1}
    tr = run_cell(prob, model, {"mb": make_method("lysep-minibatch", batch_size=500, **hp),
                                "full": make_method("lysep", **hp)}, [0, 3], Budget(iterations=12))
    mb, full = tr[tr.method == "mb"].reset_index(drop=True), tr[tr.method == "full"].reset_index(drop=True)
    for col in ("F", "J", "B", "grad_evals", "test_ce", "residual_1", "residual_2", "beta_2"):
        np.testing.assert_allclose(mb[col], full[col], rtol=1e-10, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(mb["J_batch_start"], full["J_start"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mb["J_batch"], full["J"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cnn", [False, True])
def test_batched_equals_alone_and_same_seed_same_traces(cnn: bool) -> None:
    prob = images(48) if cnn else random_problem(n=100, d=3, k=3, seed=2)
    model = ConvSpec.cnn((1, 6, 6), 2, 3, 3) if cnn else ModelSpec.fnn(3, 3, 6, 3)
    methods = {"mb": make_method("lysep-minibatch", batch_size=16), "adam-mb": make_method("adam", batch_size=16)}
    budget = Budget(iterations=20, eval_every=5)
    batch = run_cell(prob, model, methods, [4, 9, 2, 7], budget)
    again = run_cell(prob, model, methods, [4, 9, 2, 7], budget)
    pd.testing.assert_frame_equal(without_time(batch), without_time(again), check_exact=True)
    for seed in (9, 7):
        alone = run_cell(prob, model, methods, [seed], budget)
        pd.testing.assert_frame_equal(without_time(batch[batch.seed == seed]), without_time(alone),
                                      check_exact=False, rtol=0, atol=1e-10)


@pytest.mark.parametrize("solvers", [{}, {"w_solver": "gauss_newton", "out_solver": "newton"}])
@pytest.mark.parametrize("problem_seed", range(4))
def test_j_on_the_batch_never_increases_at_fixed_beta(problem_seed: int, solvers: dict) -> None:
    """The guarantee: J on the iteration's batch, at the iteration's weights, does not increase. The full J
    is not guaranteed (and does increase here: the rows outside the batch go stale while W moves)."""
    prob = random_problem(n=120, d=3, k=3, seed=problem_seed)
    act = ["tanh", "relu", "sigmoid", "softplus"][problem_seed]
    model = ModelSpec.fnn(3, 2 + problem_seed % 3, 5 + problem_seed, 3, act)
    mb = make_method("lysep-minibatch", activation=act, batch_size=[8, 16, 30, 50][problem_seed],
                     beta=[0.5, 10.0, 100.0, 3.0][problem_seed], u_steps=2, w_steps=2, **solvers)
    assert mb.decrease_guaranteed
    tr = run_cell(prob, model, {"mb": mb}, [0, 1, 2], Budget(iterations=40))
    j, j0 = tr["J_batch"].to_numpy(), tr["J_batch_start"].to_numpy()
    assert np.isfinite(j).all() and np.isfinite(j0).all()
    assert int((j > j0 + TOL * np.maximum(1.0, np.abs(j0))).sum()) == 0
    assert (j < j0 - 1e-9)[tr.iteration > 0].mean() > 0.9  # the batches do move
    assert (tr.groupby("seed")["J"].diff() > 1e-9).any()  # the full J has no such guarantee


def test_j_on_a_cnn_batch_never_increases() -> None:
    tr = run_cell(images(60, 3), ConvSpec.cnn((1, 6, 6), 2, 3, 3, pool=(2,)),
                  {"mb": make_method("lysep-minibatch", batch_size=12, beta=10.0)}, [0, 1], Budget(iterations=25))
    j, j0 = tr["J_batch"].to_numpy(), tr["J_batch_start"].to_numpy()
    assert int((j > j0 + TOL * np.maximum(1.0, np.abs(j0))).sum()) == 0


def test_the_decrease_declaration_follows_the_solvers() -> None:
    assert make_method("lysep-minibatch").decrease_guaranteed
    assert not make_method("lysep-minibatch", w_solver="adam").decrease_guaranteed
    with pytest.raises(ValueError, match="u_solver = 'adam' is not allowed"):
        make_method("lysep-minibatch", u_solver="adam")
    assert "J_start" not in make_method("lysep-minibatch").METRICS  # no full-set J_start: it is not guaranteed


@pytest.mark.parametrize("cnn", [False, True])
def test_the_certificate_bounds_f_on_the_full_training_set(cnn: bool) -> None:
    prob = images(64, 5) if cnn else random_problem(n=150, d=4, k=3, seed=5)
    model = ConvSpec.cnn((1, 6, 6), 3, 2, 3) if cnn else ModelSpec.fnn(4, 4, 6, 3, "relu")
    mb = make_method("lysep-minibatch", activation=model.activation, batch_size=20, beta=1.0)
    tr = run_cell(prob, model, {"mb": mb}, [0, 1, 2], Budget(iterations=30))
    assert (tr.iteration.max() == 30) and (tr["bound_gap"] > 0).iloc[1:].mean() > 0.5  # U moved off the network
    assert (tr["B"] >= tr["F"] - 1e-6 * np.maximum(1.0, tr["F"].abs())).all()
    # F in the trace is the network's CE on all N rows (not on a batch)
    params = init_params(model, [0, 1, 2], prob.dtype)
    f0 = tr[tr.iteration == 0].sort_values("seed")["F"].to_numpy()
    from lysep.core.objectives import true_loss

    np.testing.assert_allclose(f0, true_loss(params, prob.x_train, prob.y_train, model.activation), rtol=1e-12)


def test_the_batches_are_the_minibatch_baselines_batches(monkeypatch) -> None:
    """Common random numbers: lysep-minibatch and adam draw the same rows per seed and step."""
    drawn: list[torch.Tensor] = []
    original = MinibatchSampler.next

    def record(self):
        idx = original(self)
        drawn.append(idx.clone())
        return idx

    monkeypatch.setattr(MinibatchSampler, "next", record)
    prob = random_problem(n=70, d=3, k=3, seed=0)
    model = ModelSpec.fnn(3, 2, 4, 3)
    for name in ("lysep-minibatch", "adam"):
        run_cell(prob, model, {name: make_method(name, batch_size=16)}, [3, 5], Budget(iterations=11))
    assert len(drawn) == 22
    for a, b in zip(drawn[:11], drawn[11:]):
        assert torch.equal(a, b)


def test_a_step_changes_only_the_rows_of_its_batch() -> None:
    prob = random_problem(n=60, d=3, k=3, seed=4)
    params = init_params(ModelSpec.fnn(3, 3, 5, 3), [0, 1], prob.dtype)
    method = make_method("lysep-minibatch", batch_size=10)
    state = method.init(prob, params, [0, 1])
    method.step(prob, state)  # the first step moves only u_D (at U_0 the other U blocks have no gradient)
    before = [u.clone() for u in state.extra["U"]]
    probe = MinibatchSampler(60, 10, [0, 1], prob.device)  # the same draws as the method's own sampler
    probe.next()
    idx = probe.next()
    method.step(prob, state)
    for u0, u1 in zip(before, state.extra["U"]):
        inside = torch.zeros(u0.shape[:2], dtype=torch.bool)
        inside[torch.arange(2).unsqueeze(1), idx] = True
        assert torch.equal(u0[~inside], u1[~inside])
        assert not torch.equal(take_rows(u0, idx), take_rows(u1, idx))


def test_full_set_values_in_chunks_are_the_unchunked_ones(monkeypatch) -> None:
    """The trace's F, accuracy, J, B and residuals and U_0 in row chunks (small EVAL_BYTES) = in one piece."""
    from lysep.core.am_minibatch import full_set_metrics
    from lysep.harness.cell import _evaluate

    prob = random_problem(n=97, d=3, k=3, seed=6)
    params = init_params(ModelSpec.fnn(3, 3, 5, 3), [0, 1], prob.dtype)
    method = make_method("lysep-minibatch", batch_size=9, beta=1.0)
    state = method.init(prob, params, [0, 1])
    for _ in range(12):
        method.step(prob, state)
    whole = full_set_metrics(prob, state, "tanh", "spectral"), _evaluate(state.params, prob.x_train, prob.y_train,
                                                                         "tanh")
    monkeypatch.setattr(lysep.core.chunks, "EVAL_BYTES", 700)  # a few rows per chunk
    assert len(lysep.core.chunks.eval_slices(params, prob.x_train, "tanh")) > 10
    chunked = full_set_metrics(prob, state, "tanh", "spectral"), _evaluate(state.params, prob.x_train, prob.y_train,
                                                                           "tanh")
    for key in ("J", "B", "residual"):
        assert (whole[0][key] != 0).all()
        torch.testing.assert_close(chunked[0][key], whole[0][key], rtol=1e-12, atol=1e-14)
    for a, b in zip(chunked[1], whole[1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(forward_pass_u(params, prob.x_train, "tanh"), forward(params, prob.x_train, "tanh")[0]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("n", "batch", "epochs", "expected"), [(100, 16, 3, 21), (100, 100, 2, 2), (100, None, 4, 4),
                                                              (64, 16, 0.5, 2)])
def test_an_epoch_budget_is_ceil_n_over_batch_iterations(n: int, batch: int | None, epochs: float,
                                                         expected: int) -> None:
    prob = random_problem(n=n, d=3, k=3, seed=0)
    assert steps_per_epoch(n, batch) * epochs == pytest.approx(expected) or epochs == 0.5
    hp = {} if batch is None else {"batch_size": batch}
    tr = run_cell(prob, ModelSpec.fnn(3, 2, 4, 3), {"m": make_method("adam", **hp)}, [0],
                  Budget(iterations=None, epochs=epochs))
    assert tr.iteration.max() == expected
    capped = run_cell(prob, ModelSpec.fnn(3, 2, 4, 3), {"m": make_method("adam", **hp)}, [0],
                      Budget(iterations=1, epochs=epochs))
    assert capped.iteration.max() == 1  # whichever is hit first
