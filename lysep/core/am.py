"""Alternating minimisation of the LySep loss J (docs/method.md, "Alternating minimisation"): the
torch-side engine behind the ``lysep`` method, and the auxiliary-variable bookkeeping it shares with
``lysep-joint`` (U_0, the weight schedule, the J/B/residual metrics).

One outer iteration: the U step (blocks u_1..u_D in Gauss-Seidel order), then the W step (blocks
(W_l, b_l), l = 1..D+1, which do not interact), each block solved by an inner solver from
``lysep.core.inner``. The sweep is *fused*: ``extra["layers"][i]`` holds layer i + 1's pre-activation and
activation at the current parameters and auxiliary variables, and a layer depends on ``W_{i+1}`` and
``u_i`` only, so the accepted trial of a block is the layer's new value and no layer is evaluated
twice for one change (results/PERFORMANCE.md). The tests check it against a from-scratch sweep.
"""

from __future__ import annotations

import torch

from lysep.core import lipschitz
from lysep.core.activations import GUARDED, get_activation
from lysep.core.blocks import (
    DERIVATIVES,
    AutogradBlock,
    HiddenUnitBlock,
    HiddenWeightBlock,
    LastUnitBlock,
    OutputWeightBlock,
)
from lysep.core.cost import block_cost, block_flops, forward_flops, work_shares
from lysep.core.inner import SOLVERS, StepResult
from lysep.core.model import Params, affine, forward, is_conv, layer_work
from lysep.core.objectives import (
    certificate_of,
    certificate_weights,
    cross_entropy,
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


def stack_states(states: list[dict]) -> dict:
    """Per-block solver states of equal layout, concatenated along the leading (seed) dimension."""
    out = {}
    for key, v in states[0].items():
        if isinstance(v, torch.Tensor):
            out[key] = torch.cat([st[key] for st in states])
        elif isinstance(v, list):
            out[key] = [torch.cat([st[key][i] for st in states]) for i in range(len(v))]
        elif isinstance(v, dict):
            out[key] = stack_states([st[key] for st in states])
        else:
            out[key] = v
    return out


def split_state(state: dict, j: int, s: int) -> dict:
    """The j-th block's share of a stacked solver state."""
    part = slice(j * s, (j + 1) * s)
    out = {}
    for key, v in state.items():
        if isinstance(v, torch.Tensor):
            out[key] = v[part].clone()
        elif isinstance(v, list):
            out[key] = [t[part].clone() for t in v]
        elif isinstance(v, dict):
            out[key] = split_state(v, j, s)
        else:
            out[key] = v
    return out


class BlockFactory:
    """The four block kinds; hand-written gradients (dense or convolutional layers) where the activation
    has a closed-form derivative, autograd otherwise."""

    def __init__(self, activation: str):
        self.activation = activation
        self.sigma, _ = get_activation(activation)
        self.exact = activation in DERIVATIVES

    def hidden_unit(self, target, beta, w2, b2, u_next, beta_next, cache=None, w_sq=None):
        if self.exact:
            return HiddenUnitBlock(target, beta, w2, b2, u_next, beta_next, self.activation, cache, w_sq)
        sigma, act = self.sigma, self.activation
        size = tuple(target.shape[-2:]) if target.dim() == 5 else None
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(blk[0] - target)
                             + beta_next / 2 * mean_sq(u_next - sigma(affine(w2, b2, blk[0]))),
                             lambda x: lipschitz.hidden_unit(beta, beta_next, w2, b2, u_next, act, size,
                                                             target.shape[1], w_sq), act in GUARDED)

    def last_unit(self, target, beta, wo, bo, y, cache=None, w_sq=None):
        if self.exact:
            return LastUnitBlock(target, beta, wo, bo, y, cache, w_sq)
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(blk[0] - target) + cross_entropy(affine(wo, bo, blk[0]), y),
                             lambda x: lipschitz.last_unit(beta, wo, target.shape[1], w_sq))

    def hidden_weight(self, inp, target, beta, cache=None):
        if self.exact:
            return HiddenWeightBlock(inp, target, beta, self.activation, cache)
        sigma, act = self.sigma, self.activation
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(target - sigma(affine(blk[0], blk[1], inp))),
                             lambda x: lipschitz.hidden_weight(inp, target, beta, x[0], x[1], act), act in GUARDED)

    def output_weight(self, inp, y, cache=None):
        return OutputWeightBlock(inp.flatten(2) if inp.dim() > 3 else inp, y, cache)


def auxiliary_start(problem: Problem, params: Params, activation: str, schedule: Schedule) -> dict:
    """U_0 by a forward pass (so r_l = 0 and J = F at iteration 0) and the first weights beta."""
    with torch.no_grad():
        hidden, _ = forward(params, problem.x_train, activation)
    return {"U": [h.clone() for h in hidden], "betas": schedule(None, params), "k": 0, "J_start": None,
            "J_last": None}


def next_betas(extra: dict, params: Params, schedule: Schedule) -> None:
    """Apply the schedule at the start of an iteration after the first, and set ``J_last``: J at the current
    point at the new weights, from the parts the last metrics left (G and msq(r_l); none if the point
    moved since), so the same arithmetic gives the same J at unchanged weights and no host decision
    on whether they changed is needed."""
    parts = extra.pop("J_parts", None)
    if extra["k"] > 0:
        extra["betas"] = schedule(extra["betas"], params)
    extra["J_last"] = None if parts is None else lysep_loss_of_means(*parts, extra["betas"])


def auxiliary_metrics(problem: Problem, state: State, activation: str, bound_norm: str) -> dict[str, torch.Tensor]:
    """J (at the iteration's betas), J_start, the certificate B, residual norms and betas, per seed.

    The residuals are computed once (from the layer intermediates of the fused sweep when it
    keeps them) and shared by J, B and the residual norms.
    """
    ex = state.extra
    x, y = problem.x_train, problem.y_train
    params, U, betas = state.params, ex["U"], ex["betas"]
    with torch.no_grad():
        layers = ex.get("layers")
        if layers is not None:
            rs = [u - layer[1] for u, layer in zip(U, layers[:-1])]
            G = cross_entropy(layers[-1][0], y)
        else:
            rs = residuals(params, U, x, activation)
            G = separated_loss(params, U, y)
        sqs = [mean_sq(r) for r in rs]
        J = lysep_loss_of_means(G, sqs, betas)
        norms = [mean_norm(r) for r in rs]
        B = certificate_of(G, norms, certificate_weights(params, activation, bound_norm, input_sizes(x, U)))
    ex["J_parts"] = (G, sqs)  # J at this point at other weights: next_betas
    j_start = ex["J_start"] if ex["J_start"] is not None else torch.full_like(J, float("nan"))
    if ex["k"] == 0:
        j_start = J
    return {"J": J, "J_start": j_start, "B": B, "residual": torch.stack(norms, dim=1), "beta": betas.clone()}


class AlternatingMinimization:
    """The LySep outer iteration for one configuration (``hp``: the ``lysep`` method's hyperparameters)."""

    def __init__(self, activation: str, hp: dict, schedule: Schedule):
        self.activation, self.hp, self.schedule = activation, hp, schedule
        self.sigma, _ = get_activation(activation)
        self.blocks = BlockFactory(activation)

    def init(self, problem: Problem, params: Params) -> State:
        """theta_0 as given; U_0 by a forward pass; per-block step sizes and cost shares."""
        params = [(w.clone(), b.clone()) for w, b in params]
        s, depth = params[0][0].shape[0], len(params) - 1
        hp, dtype, dev = self.hp, problem.dtype, problem.device
        extra = auxiliary_start(problem, params, self.activation, self.schedule)
        eta_u = torch.full((s,), hp["eta0"] * problem.n_train, dtype=dtype, device=dev)
        eta_w = torch.full((s,), hp["eta0"], dtype=dtype, device=dev)
        extra["u_state"] = [{"eta": eta_u.clone(), "lr": hp["lr_u"]} for _ in range(depth)]
        extra["w_state"] = [{"eta": eta_w.clone(), "lr": hp["lr_w"]} for _ in range(depth + 1)]
        sample = tuple(problem.x_train.shape[1:])
        extra["costs"] = work_shares(layer_work(params, sample))
        extra["flops_fwd"] = forward_flops(layer_work(params, sample, bias=False), problem.n_train)
        zero = torch.zeros(s, dtype=torch.float64, device=dev)
        return State(params=params, grad_evals=zero, extra=extra, flops=zero.clone())

    def step(self, problem: Problem, state: State) -> None:
        """One outer iteration: schedule, J at the start (when recorded), U step, W step."""
        ex = state.extra
        next_betas(ex, state.params, self.schedule)
        ex["J_start"] = ex["J_last"]
        if ex["J_start"] is None and state.record:  # bookkeeping for the trace, only when it is recorded
            with torch.no_grad():
                ex["J_start"] = lysep_loss(state.params, ex["U"], problem.x_train, problem.y_train, ex["betas"],
                                           self.activation)
        if ex.get("layers") is None:
            x, U = problem.x_train, ex["U"]
            ex["layers"] = [self.layer(state.params, i, x if i == 0 else U[i - 1]) for i in range(len(U) + 1)]
        self.u_step(problem, state)
        self.w_step(problem, state)
        ex["k"] += 1
        ex["J_last"] = None  # J at the new point is known only once the metrics compute it

    def layer(self, params: Params, i: int, inp: torch.Tensor) -> tuple:
        """Intermediates of layer i + 1 (0-based i): ``(a, s(a))`` for a hidden layer, ``(z,)`` for the output."""
        w, b = params[i]
        a = affine(w, b, inp)
        return (a,) if i == len(params) - 1 else (a, self.sigma(a))

    def charge(self, state: State, layer: int, res: StepResult, part: slice = slice(None)) -> None:
        """Add a block solve's cost (seeds ``part`` of a stacked solve) to ``grad_evals`` and ``flops``; a count may
        be one number for every seed (``lipschitz``: no per-seed work to count)."""
        def seeds(v):
            return v[part] if isinstance(v, torch.Tensor) else v

        fwd = None if res.forwards is None else seeds(res.forwards)
        g, e = seeds(res.gradients), seeds(res.evaluations)
        state.grad_evals += block_cost(state.extra["costs"][layer], g, e, fwd)
        state.flops += block_flops(state.extra["flops_fwd"][layer], g, e, fwd)

    def u_step(self, problem: Problem, state: State) -> None:
        """Blocks u_1..u_D in order; each accepted u_i is layer i + 1's new input. The ``lipschitz`` rule's
        bounds of the layer maps ``||A_{l+1}||^2`` are computed for all blocks at once (W is fixed here)."""
        ex, hp, params, U, L = state.extra, self.hp, state.params, state.extra["U"], state.extra["layers"]
        depth, betas = len(U), ex["betas"]
        solve = SOLVERS[hp["u_solver"]]
        w_sq = [None] * (depth + 1)
        if hp["u_solver"] in ("lipschitz", "mm"):  # mm: the lipschitz rule on the hidden U blocks
            w_sq = [None, *lipschitz.weight_sq_norms(params[1:], input_sizes(problem.x_train, U)[1:])]
        for i in range(depth):
            if i < depth - 1:
                blk = self.blocks.hidden_unit(L[i][1], betas[:, i], *params[i + 1], U[i + 1], betas[:, i + 1],
                                              cache=L[i + 1], w_sq=w_sq[i + 1])
            else:
                last = LastUnitBlock if hp["u_solver"] == "mm" else self.blocks.last_unit  # mm needs its parts
                blk = last(L[i][1], betas[:, i], *params[-1], problem.y_train, cache=L[depth], w_sq=w_sq[depth])
            res = solve(blk, [U[i]], ex["u_state"][i], hp["u_steps"], hp)
            U[i] = res.block[0]
            L[i + 1] = res.aux if res.aux is not None else self.layer(params, i + 1, U[i])
            self.charge(state, i + 1, res)

    def w_step(self, problem: Problem, state: State) -> None:
        """Blocks (W_l, b_l), l = 1..D+1; with ``parallel_w``, hidden blocks of one shape solved as one."""
        ex, hp, U, L = state.extra, self.hp, state.extra["U"], state.extra["layers"]
        x, depth = problem.x_train, len(state.extra["U"])
        new_params = list(state.params)
        together = self.parallel_layers(state.params) if hp["parallel_w"] else []
        if together:
            self.solve_stacked(state, together, new_params)
        for i in (i for i in range(depth + 1) if i not in together):
            inp = x if i == 0 else U[i - 1]
            if i < depth:
                blk, solve = self.blocks.hidden_weight(inp, U[i], ex["betas"][:, i], cache=L[i]), hp["w_solver"]
            else:
                blk, solve = self.blocks.output_weight(inp, problem.y_train, cache=L[i]), hp["out_solver"]
            res = SOLVERS[solve](blk, list(state.params[i]), ex["w_state"][i], hp["w_steps"], hp)
            new_params[i] = (res.block[0], res.block[1])
            L[i] = res.aux if res.aux is not None else self.layer(new_params, i, inp)
            self.charge(state, i, res)
        state.params = new_params

    def parallel_layers(self, params: Params) -> list[int]:
        """Hidden layers 2..D whose W blocks share one shape (and so can be batched), if two or more."""
        if not self.blocks.exact or len(params) < 4 or is_conv(params[0][0]):
            return []
        shape = params[1][0].shape
        layers = [i for i in range(1, len(params) - 1) if params[i][0].shape == shape]
        return layers if len(layers) >= 2 else []

    def solve_stacked(self, state: State, layers: list[int], new_params: Params) -> None:
        """Solve the W blocks of ``layers`` as one block with leading dimension len(layers) * S (same math)."""
        ex, hp, U, L = state.extra, self.hp, state.extra["U"], state.extra["layers"]
        s = ex["betas"].shape[0]
        cache = tuple(torch.cat([L[i][j] for i in layers]) for j in range(2))
        blk = HiddenWeightBlock(torch.cat([U[i - 1] for i in layers]), torch.cat([U[i] for i in layers]),
                                torch.cat([ex["betas"][:, i] for i in layers]), self.activation, cache)
        x = [torch.cat([state.params[i][k] for i in layers]) for k in range(2)]
        bstate = stack_states([ex["w_state"][i] for i in layers])
        res = SOLVERS[hp["w_solver"]](blk, x, bstate, hp["w_steps"], hp)
        for j, i in enumerate(layers):
            part = slice(j * s, (j + 1) * s)
            new_params[i] = (res.block[0][part], res.block[1][part])
            ex["w_state"][i] = split_state(bstate, j, s)
            L[i] = (tuple(t[part] for t in res.aux) if res.aux is not None
                    else self.layer(new_params, i, U[i - 1]))
            self.charge(state, i, res, part)
