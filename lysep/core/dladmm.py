"""dlADMM (Wang, Yu, Zhao, KDD 2019): the torch-side iteration behind the ``dladmm`` method (docs/method.md,
"dlADMM").

Variables: weights ``(W_l, b_l)``, pre-activations ``z_l`` (``l = 1..L``, ``L = D + 1``; ``z_L`` the logits),
post-activations ``a_l`` (``l = 1..D``, ``a_0 = X``) and a multiplier ``u`` of the last layer's constraint
``z_L = a_D W_L^T + b_L`` only; the hidden constraints are quadratic penalties. The augmented Lagrangian (the
reference's sum over samples divided by N)::

    L = CE(z_L, y) + sum_{l<L} nu/2 [msq(z_l - a_{l-1} W_l^T - b_l) + msq(a_l - s(z_l))]
        + mean_i u_i . r_i + rho/2 msq(r),          r = z_L - a_D W_L^T - b_L

One iteration (the reference's order): a backward sweep ``z_L, b_L, W_L, a_D, z_D, b_D, W_D, .., a_1, z_1, b_1,
W_1``, a forward sweep ``W_1, b_1, z_1, a_1, .., W_L, b_L, z_L``, then the dual step ``u += rho r``. ``b`` and
the hidden ``z`` (relu) are exact minimisers; ``W`` and ``a`` take one step of a quadratic approximation whose
curvature (``theta``, ``tau``, from the given value) doubles until it majorises the block objective; ``z_L``
is solved by damped Newton steps (the reference uses FISTA on the same strongly convex subproblem).
"""

from __future__ import annotations

import torch

from lysep.core.activations import get_activation
from lysep.core.cost import madd_flops
from lysep.core.model import Params, affine
from lysep.core.objectives import cross_entropy, mean_sq
from lysep.core.problem import Problem
from lysep.core.splitting import ce_prox, certificate_metrics, dense_only, forward_split, pass_madds, prox_activation
from lysep.core.state import State


def dladmm_objective(params: Params, z: list[torch.Tensor], a: list[torch.Tensor], u: torch.Tensor,
                     x: torch.Tensor, y: torch.Tensor, activation: str, rho: float, nu: float) -> torch.Tensor:
    """The augmented Lagrangian per seed -> (S,)."""
    s, _ = get_activation(activation)
    inputs = [x, *a]
    L = cross_entropy(z[-1], y)
    for (w, b), zl, al, h in zip(params[:-1], z[:-1], a, inputs):
        L = L + nu / 2 * (mean_sq(zl - affine(w, b, h)) + mean_sq(al - s(zl)))
    r = z[-1] - affine(*params[-1], a[-1])
    return L + (u * r).flatten(1).sum(1) / r.shape[1] + rho / 2 * mean_sq(r)


def quadratic_step(x: torch.Tensor, f, g: torch.Tensor, fx: torch.Tensor, curvature: float, n: int,
                   doublings: int) -> tuple[torch.Tensor, int]:
    """One step ``x - n g / c`` of the quadratic approximation of ``f`` at ``x`` (``g`` the gradient of the mean-form
    ``f``; ``c`` from ``curvature``, doubled per seed until ``f(new) <= f(x) + <g, new - x> + c/(2n) ||new - x||^2``,
    which makes ``f(new) <= f(x)``); a seed not accepted after ``doublings`` keeps ``x``. Returns (x, each seed's
    trials (S,))."""
    shape = (-1,) + (1,) * (x.dim() - 1)
    c = torch.full_like(fx, curvature)
    done = torch.zeros_like(fx, dtype=torch.bool)
    new, trials = x, torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for _ in range(doublings):
        trial = x - n * g / c.view(shape)
        step = trial - x
        bound = fx + (g * step).flatten(1).sum(1) + c / (2 * n) * step.pow(2).flatten(1).sum(1)
        ok = ~done & (f(trial) <= bound)
        new, trials = torch.where(ok.view(shape), trial, new), trials + ~done
        done = done | ok
        c = torch.where(done, c, 2 * c)
        if bool(done.all()):
            break
    return new, trials


class DLADMM:
    """The dlADMM iteration for one configuration (``hp``: the ``dladmm`` method's hyperparameters)."""

    def __init__(self, activation: str, hp: dict):
        self.activation, self.hp = activation, hp
        self.sigma, _ = get_activation(activation)

    def init(self, problem: Problem, params: Params) -> State:
        """theta_0 as given; z and a by a forward pass and u = 0 (so the Lagrangian is F at iteration 0)."""
        dense_only("dladmm", params)
        params = [(w.clone(), b.clone()) for w, b in params]
        with torch.no_grad():
            z, a = forward_split(params, problem.x_train, self.activation)
        extra = {"z": z, "a": a, "u": torch.zeros_like(z[-1]), "k": 0, "J_start": None, "madds": None}
        s = params[0][0].shape[0]
        zero = torch.zeros(s, dtype=torch.float64, device=problem.device)
        return State(params=params, grad_evals=zero, extra=extra, flops=zero.clone())

    def objective(self, problem: Problem, state: State) -> torch.Tensor:
        ex, hp = state.extra, self.hp
        return dladmm_objective(state.params, ex["z"], ex["a"], ex["u"], problem.x_train, problem.y_train,
                                self.activation, hp["rho"], hp["nu"])

    def _weight(self, i: int) -> tuple[float, torch.Tensor | float]:
        """(penalty, multiplier) of layer i's (0-based) constraint: (rho, u) for the last layer, (nu, 0) else."""
        return (self.hp["rho"], self.extra["u"]) if i == len(self.params) - 1 else (self.hp["nu"], 0.0)

    def _target(self, i: int) -> torch.Tensor:
        """What layer i's affine map should match: z_i (+ u / rho for the last layer)."""
        pen, mult = self._weight(i)
        return self.extra["z"][i] + mult / pen

    def _input(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return x if i == 0 else self.extra["a"][i - 1]

    def update_b(self, i: int, x: torch.Tensor) -> None:
        w, _ = self.params[i]
        inp = self._input(i, x)
        self.params[i] = (w, (self._target(i) - affine(w, torch.zeros_like(self.params[i][1]), inp)).mean(1))
        self.extra["madds"] += (w.shape[2] + 1) * w.shape[1]

    def update_w(self, i: int, x: torch.Tensor) -> None:
        (w, b), inp, target = self.params[i], self._input(i, x), self._target(i)
        pen, _ = self._weight(i)
        res = affine(w, b, inp) - target
        h = inp.expand(w.shape[0], *inp.shape) if inp.dim() == 2 else inp
        g = pen * res.transpose(1, 2) @ h / res.shape[1]
        f = lambda wt: pen / 2 * mean_sq(target - affine(wt, b, inp))  # noqa: E731
        w_new, trials = quadratic_step(w, f, g, pen / 2 * mean_sq(res), self.hp["theta"], res.shape[1],
                                       self.hp["max_backtracks"])
        self.params[i] = (w_new, b)
        self.extra["madds"] += (2 + trials) * (w.shape[2] + 1) * w.shape[1]

    def update_a(self, i: int) -> None:
        """a_{i+1} (0-based i < D): its activation term and layer i + 2's constraint."""
        ex, nu = self.extra, self.hp["nu"]
        (wn, bn), target = self.params[i + 1], self._target(i + 1)
        pen, _ = self._weight(i + 1)
        act = self.sigma(ex["z"][i])

        def f(a):
            return pen / 2 * mean_sq(target - affine(wn, bn, a)) + nu / 2 * mean_sq(a - act)

        a = ex["a"][i]
        n = a.shape[1]
        g = (pen * (affine(wn, bn, a) - target) @ wn + nu * (a - act)) / n
        ex["a"][i], trials = quadratic_step(a, f, g, f(a), self.hp["tau"], n, self.hp["max_backtracks"])
        ex["madds"] += (2 + trials) * (wn.shape[2] + 1) * wn.shape[1]

    def update_z(self, i: int, x: torch.Tensor, y: torch.Tensor) -> None:
        ex, hp = self.extra, self.hp
        center = affine(*self.params[i], self._input(i, x))
        if i == len(self.params) - 1:
            k = center.shape[2]
            ex["z"][i], evals = ce_prox(ex["z"][i], center - ex["u"] / hp["rho"], hp["rho"], y, hp["out_steps"],
                                        hp["max_backtracks"])
            ex["madds"] += (center.shape[2] + 1) * k + hp["out_steps"] * (k * k + k ** 3 / 3) + evals * k
        else:
            ex["z"][i], evals = prox_activation(ex["z"][i], ex["a"][i], center, hp["nu"], hp["nu"], self.activation,
                                                hp["u_steps"], hp["max_backtracks"])
            ex["madds"] += (self.params[i][0].shape[2] + 1 + evals) * center.shape[2]

    @torch.no_grad()
    def step(self, problem: Problem, state: State) -> None:
        ex, x, y = state.extra, problem.x_train, problem.y_train
        ex["J_start"] = self.objective(problem, state) if state.record else None
        self.extra, self.params = ex, list(state.params)
        ex["madds"] = torch.zeros_like(state.grad_evals)
        last = len(self.params) - 1
        for i in range(last, -1, -1):  # backward: z, b, W of every layer, then the a feeding it
            self.update_z(i, x, y)
            self.update_b(i, x)
            self.update_w(i, x)
            if i > 0:
                self.update_a(i - 1)
        for i in range(last + 1):  # forward: W, b, z, then a
            self.update_w(i, x)
            self.update_b(i, x)
            self.update_z(i, x, y)
            if i < last:
                self.update_a(i)
        ex["u"] = ex["u"] + self.hp["rho"] * (ex["z"][-1] - affine(*self.params[-1], ex["a"][-1]))
        state.params = self.params
        ex["k"] += 1
        state.grad_evals += ex["madds"] / pass_madds(self.params)
        state.flops += madd_flops(ex["madds"], problem.n_train)  # its own multiply-add count (bias included)
        self.extra = self.params = None

    def metrics(self, problem: Problem, state: State, bound_norm: str) -> dict[str, torch.Tensor]:
        ex = state.extra
        with torch.no_grad():
            J = self.objective(problem, state)
            out = certificate_metrics(state.params, ex["a"], problem.x_train, problem.y_train, self.activation,
                                      bound_norm)
        start = J if ex["k"] == 0 else ex["J_start"]
        out.update(J=J, J_start=start if start is not None else torch.full_like(J, float("nan")))
        return out
