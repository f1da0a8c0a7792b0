"""LySep: alternating minimization of the layer separation loss J (method.md sections 2 and 4).

One outer iteration: the U step (blocks u_1..u_D in Gauss-Seidel order), then the W step
(blocks (W_l, b_l), l = 1..D+1, which do not interact and may be solved in any order), each
block solved by a pluggable inner solver from ``lysep.inner``. The weight schedule is
updated at the start of the next iteration, i.e. after the iteration has been recorded.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from lysep.activations import get_activation
from lysep.blocks import (
    DERIVATIVES,
    AutogradBlock,
    HiddenUnitBlock,
    HiddenWeightBlock,
    LastUnitBlock,
    OutputWeightBlock,
)
from lysep.inner import ARMIJO_C, SOLVERS
from lysep.methods.base import HParam, State, check_hparams, positive, positive_int
from lysep.model import Params, affine, forward, is_conv, layer_work
from lysep.objectives import (
    NORMS,
    certificate_weights,
    cross_entropy,
    input_sizes,
    lysep_loss,
    mean_norm,
    mean_sq,
    residuals,
    separated_loss,
)
from lysep.problem import Problem
from lysep.schedules import SCHEDULES, make_schedule

#: inner solvers allowed per block kind (lysep.inner.SOLVERS)
U_SOLVERS = ("gd", "adam")
W_SOLVERS = ("gd", "adam", "gauss_newton")
OUT_SOLVERS = ("gd", "adam", "newton")


def stack_states(states: list[dict]) -> dict:
    """Per-block solver states of equal layout, concatenated along the leading (seed) dimension."""
    out = {}
    for key, v in states[0].items():
        if isinstance(v, torch.Tensor):
            out[key] = torch.cat([st[key] for st in states])
        elif isinstance(v, list):
            out[key] = [torch.cat([st[key][i] for st in states]) for i in range(len(v))]
        else:
            out[key] = v
    return out


def split_state(state: dict, j: int, s: int) -> dict:
    """The j-th block's share of a stacked solver state."""
    part = slice(j * s, (j + 1) * s)
    return {key: (v[part].clone() if isinstance(v, torch.Tensor) else
                  [t[part].clone() for t in v] if isinstance(v, list) else v) for key, v in state.items()}


class BlockFactory:
    """The four block kinds; hand-written gradients (dense or convolutional layers) where the activation
    has a closed-form derivative, autograd otherwise."""

    def __init__(self, activation: str):
        self.activation = activation
        self.sigma, _ = get_activation(activation)
        self.exact = activation in DERIVATIVES

    def hidden_unit(self, target, beta, w2, b2, u_next, beta_next, cache=None):
        if self.exact:
            return HiddenUnitBlock(target, beta, w2, b2, u_next, beta_next, self.activation, cache)
        sigma = self.sigma
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(blk[0] - target)
                             + beta_next / 2 * mean_sq(u_next - sigma(affine(w2, b2, blk[0]))))

    def last_unit(self, target, beta, wo, bo, y, cache=None):
        if self.exact:
            return LastUnitBlock(target, beta, wo, bo, y, cache)
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(blk[0] - target) + cross_entropy(affine(wo, bo, blk[0]), y))

    def hidden_weight(self, inp, target, beta, cache=None):
        if self.exact:
            return HiddenWeightBlock(inp, target, beta, self.activation, cache)
        sigma = self.sigma
        return AutogradBlock(lambda blk: beta / 2 * mean_sq(target - sigma(affine(blk[0], blk[1], inp))))

    def output_weight(self, inp, y, cache=None):
        return OutputWeightBlock(inp.flatten(2) if inp.dim() > 3 else inp, y, cache)


def layer_costs(dims: tuple[int, ...]) -> list[float]:
    """Share of one full forward+backward pass spent in each layer of an FNN (by multiply-adds, bias included)."""
    work = [(a + 1) * b for a, b in zip(dims[:-1], dims[1:])]
    return [w / sum(work) for w in work]


def work_shares(work: list[int]) -> list[float]:
    """Each layer's share of the total multiply-adds (``lysep.model.layer_work``)."""
    return [w / sum(work) for w in work]


#: an objective-only evaluation costs a third of a forward+backward pass
FORWARD_SHARE = 1.0 / 3.0


class LySep:
    """Alternating minimization of J with blockwise inner solvers and a beta schedule."""

    name: ClassVar[str] = "lysep"
    #: reuse each layer's accepted evaluation (``_sweep_fused``); False runs the reference sweep (same math)
    fused: bool = True
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # the default (schedule fixed, beta 100, one Armijo gd step per block) is the best AM setting of
        # the tuning study, results/study_lysep/README.md
        "schedule": HParam(str, "fixed", choices=SCHEDULES),
        "beta": HParam(float, 100.0, **positive()),
        "rho": HParam(float, 1.05, check=lambda v: v >= 1.0, expect="a number >= 1"),
        "beta_max": HParam(float, 1e4, **positive()),
        "norm": HParam(str, "frobenius", choices=NORMS),
        "bound_norm": HParam(str, "spectral", choices=NORMS),
        "u_solver": HParam(str, "gd", choices=U_SOLVERS),
        "w_solver": HParam(str, "gd", choices=W_SOLVERS),
        "out_solver": HParam(str, "gd", choices=OUT_SOLVERS),
        "lr_u": HParam(float, 1e-2, **positive()),
        "lr_w": HParam(float, 1e-2, **positive()),
        "damping": HParam(float, 1e-3, **positive()),
        "parallel_w": HParam(bool, False),  # measured slower on CPU (results/PERFORMANCE.md)
        "u_steps": HParam(int, 1, **positive_int()),
        "w_steps": HParam(int, 1, **positive_int()),
        "eta0": HParam(float, 1.0, **positive()),
        "armijo_c": HParam(float, ARMIJO_C, check=lambda v: 0 < v < 1, expect="a number in (0, 1)"),
        "max_backtracks": HParam(int, 30, **positive_int()),
    }

    def __init__(self, activation: str = "tanh", **hp):
        self.hp = check_hparams(self.name, self.HPARAMS, hp)
        self.activation = activation
        self.sigma, _ = get_activation(activation)
        self.blocks = BlockFactory(activation)
        if self.hp["w_solver"] == "gauss_newton" and not self.blocks.exact:
            raise ValueError(f"method 'lysep': w_solver = 'gauss_newton' needs an activation with a closed-form "
                             f"derivative ({', '.join(DERIVATIVES)}), not {activation!r}")
        self.schedule = make_schedule(self.hp["schedule"], beta=self.hp["beta"], rho=self.hp["rho"],
                                      beta_max=self.hp["beta_max"], norm=self.hp["norm"], activation=activation)

    # -- state ---------------------------------------------------------------------------------
    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """theta_0 as given; U_0 by a forward pass, so r_l = 0 and J = F at iteration 0."""
        params = [(w.clone(), b.clone()) for w, b in params]
        s, depth = params[0][0].shape[0], len(params) - 1
        with torch.no_grad():
            hidden, _ = forward(params, problem.x_train, self.activation)
        if is_conv(params[0][0]) and self.hp["w_solver"] == "gauss_newton":
            raise ValueError("method 'lysep': w_solver = 'gauss_newton' is for dense layers; a CNN needs "
                             "w_solver = 'gd' or 'adam'")
        eta_u = torch.full((s,), self.hp["eta0"] * problem.n_train, dtype=problem.dtype, device=problem.device)
        eta_w = torch.full((s,), self.hp["eta0"], dtype=problem.dtype, device=problem.device)
        lr_u, lr_w = self.hp["lr_u"], self.hp["lr_w"]
        extra = {
            "U": [h.clone() for h in hidden],
            "betas": self.schedule(None, params),
            "k": 0,
            "u_state": [{"eta": eta_u.clone(), "lr": lr_u} for _ in range(depth)],
            "w_state": [{"eta": eta_w.clone(), "lr": lr_w} for _ in range(depth + 1)],
            "costs": work_shares(layer_work(params, tuple(problem.x_train.shape[1:]))),
            "J_start": None,
            "J_last": None,
        }
        return State(params=params, grad_evals=torch.zeros(s, dtype=torch.float64), extra=extra)

    def _charge(self, state: State, layer: int, res) -> None:
        cost = state.extra["costs"][layer]
        other = res.evaluations if res.forwards is None else res.evaluations + res.forwards
        state.grad_evals += cost * (res.gradients + FORWARD_SHARE * other)

    # -- one outer iteration -------------------------------------------------------------------
    def step(self, problem: Problem, state: State) -> None:
        ex, hp = state.extra, self.hp
        x, y = problem.x_train, problem.y_train
        params, U = state.params, ex["U"]
        if ex["k"] > 0:
            betas = self.schedule(ex["betas"], params)
            if not torch.equal(betas, ex["betas"]):
                ex["J_last"] = None  # the cached J was taken at the previous betas
            ex["betas"] = betas
        betas = ex["betas"]
        ex["J_start"] = ex["J_last"]
        if ex["J_start"] is None and state.record:  # bookkeeping for the trace, only when it is recorded
            with torch.no_grad():
                ex["J_start"] = lysep_loss(params, U, x, y, betas, self.activation)

        if self.fused and not hp["parallel_w"]:
            self._sweep_fused(problem, state, betas)
        else:
            self._sweep_reference(problem, state, betas)
        ex["k"] += 1
        ex["J_last"] = None  # J at the new point is known only once metrics() computes it

    def _layer(self, params: Params, i: int, inp: torch.Tensor) -> tuple:
        """Intermediates of layer i + 1 (0-based i): ``(a, s(a))`` for a hidden layer, ``(z,)`` for the output."""
        w, b = params[i]
        a = affine(w, b, inp)
        return (a,) if i == len(params) - 1 else (a, self.sigma(a))

    def _sweep_fused(self, problem: Problem, state: State, betas: torch.Tensor) -> None:
        """The U step and the W step, each layer evaluated once per accepted change (results/PERFORMANCE.md).

        ``extra["layers"][i]`` holds layer i + 1's pre-activation and activation at the current
        parameters and auxiliary variables. A layer depends on ``W_{i+1}`` and ``u_i`` only, so
        the accepted trial of the u_i block is the layer's new value (it serves as the target of
        block u_{i+1} and the start of block W_{i+1}), and the accepted trial of block W_{i+1}
        is the start of block u_i in the next iteration. Same math as ``_sweep_reference``.
        """
        ex, hp = state.extra, self.hp
        x, y = problem.x_train, problem.y_train
        params, U = state.params, ex["U"]
        depth = len(U)
        L = ex.get("layers")
        if L is None:
            L = ex["layers"] = [self._layer(params, i, x if i == 0 else U[i - 1]) for i in range(depth + 1)]
        solve_u = SOLVERS[hp["u_solver"]]
        for i in range(depth):
            if i < depth - 1:
                blk = self.blocks.hidden_unit(L[i][1], betas[:, i], *params[i + 1], U[i + 1], betas[:, i + 1],
                                              cache=L[i + 1])
            else:
                blk = self.blocks.last_unit(L[i][1], betas[:, i], *params[-1], y, cache=L[depth])
            res = solve_u(blk, [U[i]], ex["u_state"][i], hp["u_steps"], hp)
            U[i] = res.block[0]
            L[i + 1] = res.aux if res.aux is not None else self._layer(params, i + 1, U[i])
            self._charge(state, i + 1, res)
        new_params = list(params)
        for i in range(depth + 1):
            inp = x if i == 0 else U[i - 1]
            if i < depth:
                blk, solve = self.blocks.hidden_weight(inp, U[i], betas[:, i], cache=L[i]), SOLVERS[hp["w_solver"]]
            else:
                blk, solve = self.blocks.output_weight(inp, y, cache=L[i]), SOLVERS[hp["out_solver"]]
            res = solve(blk, list(params[i]), ex["w_state"][i], hp["w_steps"], hp)
            new_params[i] = (res.block[0], res.block[1])
            L[i] = res.aux if res.aux is not None else self._layer(new_params, i, inp)
            self._charge(state, i, res)
        state.params = new_params

    def _sweep_reference(self, problem: Problem, state: State, betas: torch.Tensor) -> None:
        """The U step and the W step as method.md writes them, every block evaluated from scratch."""
        ex, hp = state.extra, self.hp
        x, y = problem.x_train, problem.y_train
        params, U = state.params, ex["U"]
        depth = len(U)
        ex.pop("layers", None)
        # U step, Gauss-Seidel over l = 1..D
        solve_u = SOLVERS[hp["u_solver"]]
        for i in range(depth):
            w, b = params[i]
            with torch.no_grad():
                target = self.sigma(affine(w, b, x if i == 0 else U[i - 1]))
            if i < depth - 1:
                blk = self.blocks.hidden_unit(target, betas[:, i], *params[i + 1], U[i + 1], betas[:, i + 1])
            else:
                blk = self.blocks.last_unit(target, betas[:, i], *params[-1], y)
            res = solve_u(blk, [U[i]], ex["u_state"][i], hp["u_steps"], hp)
            U[i] = res.block[0]
            self._charge(state, i + 1, res)

        # W step: the blocks do not interact; each is a one-layer fit. Hidden blocks of equal shape
        # are solved as one batched block (seed x layer), which is the same math per block.
        new_params: list = [None] * (depth + 1)
        together = self._parallel_layers(params) if hp["parallel_w"] else []
        if together:
            self._solve_stacked(state, together, betas)
            for i in together:
                new_params[i] = state.params[i]
        for i in range(depth + 1):
            if new_params[i] is not None:
                continue
            inp = x if i == 0 else U[i - 1]
            if i < depth:
                blk, solve = self.blocks.hidden_weight(inp, U[i], betas[:, i]), SOLVERS[hp["w_solver"]]
            else:
                blk, solve = self.blocks.output_weight(inp, y), SOLVERS[hp["out_solver"]]
            res = solve(blk, list(params[i]), ex["w_state"][i], hp["w_steps"], hp)
            new_params[i] = (res.block[0], res.block[1])
            self._charge(state, i, res)
        state.params = new_params

    def _parallel_layers(self, params: Params) -> list[int]:
        """Hidden layers 2..D whose W blocks share one shape (and so can be batched), if two or more."""
        if not self.blocks.exact or len(params) < 4 or is_conv(params[0][0]):
            return []
        shape = params[1][0].shape
        layers = [i for i in range(1, len(params) - 1) if params[i][0].shape == shape]
        return layers if len(layers) >= 2 else []

    def _solve_stacked(self, state: State, layers: list[int], betas: torch.Tensor) -> None:
        """Solve the W blocks of ``layers`` as one block with leading dimension len(layers) * S."""
        ex, hp = state.extra, self.hp
        s = betas.shape[0]
        U = ex["U"]
        h = torch.cat([U[i - 1] for i in layers])
        target = torch.cat([U[i] for i in layers])
        beta = torch.cat([betas[:, i] for i in layers])
        blk = HiddenWeightBlock(h, target, beta, self.activation)
        x = [torch.cat([state.params[i][0] for i in layers]), torch.cat([state.params[i][1] for i in layers])]
        bstate = stack_states([ex["w_state"][i] for i in layers])
        res = SOLVERS[hp["w_solver"]](blk, x, bstate, hp["w_steps"], hp)
        for j, i in enumerate(layers):
            part = slice(j * s, (j + 1) * s)
            state.params[i] = (res.block[0][part], res.block[1][part])
            ex["w_state"][i] = split_state(bstate, j, s)
            cost = ex["costs"][i]
            other = res.evaluations[part] if res.forwards is None else res.evaluations[part] + res.forwards[part]
            state.grad_evals += cost * (res.gradients[part] + FORWARD_SHARE * other)

    # -- what the trace records ----------------------------------------------------------------
    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        return auxiliary_metrics(problem, state, self.activation, self.hp["bound_norm"])


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
        J = G + sum(betas[:, i] / 2 * mean_sq(r) for i, r in enumerate(rs))
        c = certificate_weights(params, activation, bound_norm, input_sizes(x, U))
        norms = [mean_norm(r) for r in rs]
        B = G + sum(c[:, i] * n for i, n in enumerate(norms))
        res = torch.stack(norms, dim=1)
    ex["J_last"] = J
    j_start = ex["J_start"] if ex["J_start"] is not None else torch.full_like(J, float("nan"))
    if ex["k"] == 0:
        j_start = J
    return {"J": J, "J_start": j_start, "B": B,
            "residual": res, "beta": betas.clone()}
