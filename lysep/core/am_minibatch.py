"""Minibatch LySep (docs/method.md section 4.6): the alternating-minimisation sweep of ``lysep.core.am`` on the
rows of one minibatch per seed.

``U`` stays stored for all N rows. Every iteration draws each seed's batch from
``lysep.core.batches.MinibatchSampler`` (the same order as the minibatch baselines: common random
numbers), gathers the batch's rows of ``U`` and of the data, runs the full-batch engine's iteration on
them (its U step and W step, with the same blocks and inner solvers, whatever step rule they use),
and writes the updated rows back. Block costs are charged at the batch's share ``b / N`` of the data.

The trace's ``J``, ``B`` and residuals are full-training-set values at the row's ``(theta, U)``,
computed in row chunks (``lysep.core.chunks``); ``J_batch_start`` and ``J_batch`` are ``J`` on the
iteration's batch at its start and end, with the iteration's weights: the pair the decrease
property is about.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lysep.core.am import AlternatingMinimization
from lysep.core.batches import MinibatchSampler
from lysep.core.chunks import TEMPORARIES, chunked_mean, eval_slices, row_slices
from lysep.core.cost import forward_flops
from lysep.core.model import Params, forward, layer_work
from lysep.core.objectives import (
    certificate_of,
    certificate_weights,
    input_sizes,
    lysep_loss,
    lysep_loss_of_means,
    mean_norm,
    mean_sq,
    residuals,
    separated_loss,
)
from lysep.core.problem import Problem
from lysep.core.schedules import Schedule
from lysep.core.state import State

#: what the full-batch iteration keeps in ``extra`` that belongs to one batch only (never copied back)
BATCH_ONLY: tuple[str, ...] = ("U", "layers", "costs", "flops_fwd", "J_start", "J_last")


@dataclass
class BatchView:
    """What the full-batch iteration reads of a problem: each seed's minibatch, x (S, b, ...) and y (S, b)."""

    x_train: torch.Tensor
    y_train: torch.Tensor


def take_rows(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` (S, b) of each seed's slice of ``t`` (S, N, ...) -> (S, b, ...)."""
    return t[torch.arange(t.shape[0], device=t.device).unsqueeze(1), idx]


def put_rows(t: torch.Tensor, idx: torch.Tensor, rows: torch.Tensor) -> None:
    """Write ``rows`` (S, b, ...) into rows ``idx`` (S, b) of ``t`` (S, N, ...), in place."""
    t[torch.arange(t.shape[0], device=t.device).unsqueeze(1), idx] = rows


def forward_pass_u(params: Params, x: torch.Tensor, activation: str) -> list[torch.Tensor]:
    """U_0 = the hidden outputs of every training row, computed in row chunks (no full-set temporaries)."""
    s = params[0][0].shape[0]
    U: list[torch.Tensor] | None = None
    with torch.no_grad():
        for rows in eval_slices(params, x, activation):
            hidden, _ = forward(params, x[rows], activation)
            if U is None:
                U = [torch.empty((s, x.shape[0], *h.shape[2:]), dtype=h.dtype, device=h.device) for h in hidden]
            for u, h in zip(U, hidden):
                u[:, rows] = h
    return U


class MinibatchAM:
    """The minibatch LySep iteration for one configuration (``hp``: the ``lysep-minibatch`` hyperparameters)."""

    def __init__(self, activation: str, hp: dict, schedule: Schedule):
        self.activation, self.hp = activation, hp
        self.sweep = AlternatingMinimization(activation, hp, schedule)

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """The full-batch engine's state built on a batch-sized problem (so block step sizes start at their
        batch scale, e.g. ``eta0 * b`` for the U blocks), then U_0 for all N rows and the sampler."""
        b = min(self.hp["batch_size"], problem.n_train)
        head = Problem(problem.x_train[:b], problem.y_train[:b], problem.x_test, problem.y_test, problem.n_classes)
        state = self.sweep.init(head, params)
        ex = state.extra
        # at the whole data's scale, as the cost shares: a step books them times its batch's part b / N
        ex["flops_fwd"] = forward_flops(layer_work(state.params, tuple(problem.x_train.shape[1:]), bias=False),
                                        problem.n_train)
        ex["U"] = forward_pass_u(state.params, problem.x_train, self.activation)
        ex["sampler"] = MinibatchSampler(problem.n_train, b, seeds, problem.device)
        ex["J_batch_start"] = ex["J_batch"] = None
        return state

    def step(self, problem: Problem, state: State) -> None:
        """One iteration: draw the batch, run the full-batch iteration on its rows, write the rows of U back.

        At the first iteration the batch's rows of U_0 (the forward pass) are computed again on the batch:
        the same numbers up to rounding, but rounding that differs from the iteration's own evaluation of
        the layers would leave residuals of 1e-17 instead of 0, whose gradients are noise that can fail
        every Armijo trial of a block and shrink its step size 2^30-fold."""
        ex = state.extra
        idx = ex["sampler"].next()
        part = idx.shape[1] / problem.n_train
        batch = BatchView(problem.x_train[idx], problem.y_train[idx])
        if ex["k"] == 0:  # U_0's rows again, with this batch's kernels: the iteration then sees r_l = 0 exactly
            with torch.no_grad():
                u_rows = forward(state.params, batch.x_train, self.activation)[0]
        else:
            u_rows = [take_rows(u, idx) for u in ex["U"]]
        rows = {"U": u_rows, "layers": None, "J_start": None, "J_last": None, "costs": [c * part for c in ex["costs"]],
                "flops_fwd": [f * part for f in ex["flops_fwd"]]}
        sub = State(state.params, state.grad_evals, {**ex, **rows}, record=state.record, flops=state.flops)
        self.sweep.step(batch, sub)
        for u, new in zip(ex["U"], sub.extra["U"]):
            put_rows(u, idx, new)
        ex.update({k: v for k, v in sub.extra.items() if k not in BATCH_ONLY})
        state.params, state.grad_evals, state.flops = sub.params, sub.grad_evals, sub.flops
        ex["J_batch_start"], ex["J_batch"] = sub.extra["J_start"], None
        if state.record:  # J on this batch at the end, recomputed from scratch (only for a recorded row)
            with torch.no_grad():
                ex["J_batch"] = lysep_loss(state.params, sub.extra["U"], batch.x_train, batch.y_train, ex["betas"],
                                           self.activation)


def full_set_metrics(problem: Problem, state: State, activation: str, bound_norm: str) -> dict[str, torch.Tensor]:
    """J, B, the mean residual norms and the betas on the whole training set, in row chunks, plus the batch pair
    ``J_batch_start``/``J_batch`` of the last iteration (NaN where it was not computed; at iteration 0: J)."""
    ex, params, x, y = state.extra, state.params, problem.x_train, problem.y_train
    U, betas, n, depth = ex["U"], ex["betas"], problem.n_train, len(ex["U"])

    def score(rows: slice) -> tuple[torch.Tensor, ...]:
        rs = residuals(params, [u[:, rows] for u in U], x[rows], activation)
        return (separated_loss(params, [U[-1][:, rows]], y[rows]), *map(mean_sq, rs), *map(mean_norm, rs))

    with torch.no_grad():
        per_row = TEMPORARIES * params[0][0].shape[0] * sum(u[0, 0].numel() for u in U) * x.element_size()
        parts = chunked_mean(score, n, row_slices(n, per_row))
        G, msqs, norms = parts[0], list(parts[1:depth + 1]), list(parts[depth + 1:])
        J = lysep_loss_of_means(G, msqs, betas)
        B = certificate_of(G, norms, certificate_weights(params, activation, bound_norm, input_sizes(x, U)))
    nan = torch.full_like(J, float("nan"))
    first = ex["k"] == 0
    pair = {key: J if first else (ex[key] if ex[key] is not None else nan) for key in ("J_batch_start", "J_batch")}
    return {"J": J, "B": B, **pair, "residual": torch.stack(norms, dim=1), "beta": betas.clone()}
