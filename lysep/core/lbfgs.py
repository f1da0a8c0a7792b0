"""L-BFGS on F, one seed at a time, with the semantics of ``torch.optim.LBFGS`` (docs/method.md, "L-BFGS").

One call of :func:`lbfgs_call` is one call of ``torch.optim.LBFGS.step(closure)`` on one seed's flattened
parameters: the loss and gradient at the current point, then up to ``max_iter`` iterations of the two-loop
recursion (history ``history_size``, initial scaling ``s'y / y'y``), each followed by a strong-Wolfe line
search (cubic interpolation, ``c1 = 1e-4``, ``c2 = 0.9``, Nocedal & Wright, Algorithms 3.5 and 3.6) or by the
fixed step ``lr``; the same stopping tests, and at most ``max_eval`` evaluations per call. The state of the
two-loop recursion is kept across calls, as torch's optimiser keeps it across ``step`` calls. Tested against
``torch.optim.LBFGS`` to float64 rounding (tests/test_lbfgs.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: the strong-Wolfe constants of torch.optim.LBFGS (sufficient decrease, curvature)
WOLFE_C1, WOLFE_C2 = 1e-4, 0.9

#: (loss, flat gradient) at a flat parameter vector
Objective = Callable[[torch.Tensor], tuple[float, torch.Tensor]]


def cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
              bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds`` (default: between
    the two points); the bounds' midpoint when the cubic has no minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


class _Bracket:
    """Step sizes with their losses, gradients and slopes along the direction (the line search's bracket)."""

    def __init__(self, points: list[tuple[float, float, torch.Tensor, float]]):
        self.t = [p[0] for p in points]
        self.f = [p[1] for p in points]
        self.g = [p[2] for p in points]
        self.gtd = [p[3] for p in points]

    def set(self, i: int, point: tuple[float, float, torch.Tensor, float]) -> None:
        self.t[i], self.f[i], self.g[i], self.gtd[i] = point

    def get(self, i: int) -> tuple[float, float, torch.Tensor, float]:
        return self.t[i], self.f[i], self.g[i], self.gtd[i]

    def order(self) -> tuple[int, int]:
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)


def _bracket_phase(at, t: float, f: float, g: torch.Tensor, gtd: float, max_ls: int):
    """Expand the step until it brackets a strong-Wolfe point; returns (bracket, done, evaluations, iterations)."""
    point = at(t)
    evals, it = 1, 0
    prev = (0.0, f, g, gtd)
    while it < max_ls:
        _, f_new, _, gtd_new = point
        if f_new > f + WOLFE_C1 * point[0] * gtd or (it > 1 and f_new >= prev[1]):
            return _Bracket([prev, point]), False, evals, it
        if abs(gtd_new) <= -WOLFE_C2 * gtd:
            return _Bracket([point]), True, evals, it
        if gtd_new >= 0:
            return _Bracket([prev, point]), False, evals, it
        t_new = cubic_min(prev[0], prev[1], prev[3], point[0], f_new, gtd_new,
                          bounds=(point[0] + 0.01 * (point[0] - prev[0]), point[0] * 10))
        prev, point = point, at(t_new)
        evals, it = evals + 1, it + 1
    return _Bracket([(0.0, f, g, gtd), point]), False, evals, it


def _safeguard(t: float, br: _Bracket, insufficient: bool) -> tuple[float, bool]:
    """Move a trial too close to the bracket's ends 10% inside (after a trial that made too little progress)."""
    lo, hi = min(br.t), max(br.t)
    eps = 0.1 * (hi - lo)
    if min(hi - t, t - lo) >= eps:
        return t, False
    if insufficient or t >= hi or t <= lo:
        return (hi - eps if abs(t - hi) < abs(t - lo) else lo + eps), False
    return t, True


def strong_wolfe(objective: Objective, x: torch.Tensor, t: float, d: torch.Tensor, f: float, g: torch.Tensor,
                 gtd: float, tolerance_change: float = 1e-9, max_ls: int = 25):
    """A step ``t`` along ``d`` from ``x`` meeting the strong Wolfe conditions (or the best found): returns
    (loss, gradient, t, evaluations)."""
    d_norm = float(d.abs().max())

    def at(step: float):
        f_new, g_new = objective(x.add(d, alpha=step))
        return step, f_new, g_new, float(g_new.dot(d))

    br, done, evals, it = _bracket_phase(at, t, f, g, gtd, max_ls)
    low, high = br.order()
    insufficient = False
    while not done and it < max_ls:
        if abs(br.t[1] - br.t[0]) * d_norm < tolerance_change:
            break
        trial = cubic_min(br.t[0], br.f[0], br.gtd[0], br.t[1], br.f[1], br.gtd[1])
        trial, insufficient = _safeguard(trial, br, insufficient)
        point = at(trial)
        evals, it = evals + 1, it + 1
        if point[1] > f + WOLFE_C1 * trial * gtd or point[1] >= br.f[low]:
            br.set(high, point)
            low, high = br.order()
        else:
            if abs(point[3]) <= -WOLFE_C2 * gtd:
                done = True
            elif point[3] * (br.t[high] - br.t[low]) >= 0:
                br.set(high, br.get(low))
            br.set(low, point)
    return br.f[low], br.g[low], br.t[low], evals


def new_state() -> dict:
    """The two-loop recursion's memory of one seed before its first iteration."""
    return {"n_iter": 0, "d": None, "t": None, "dirs": [], "steps": [], "ro": [], "h_diag": 1.0, "prev_grad": None}


def _direction(st: dict, grad: torch.Tensor, history: int) -> torch.Tensor:
    """The L-BFGS direction: update the memory with the last step's (s, y) if ``y's > 1e-10``, then two loops."""
    y = grad - st["prev_grad"]
    s = st["d"] * st["t"]
    ys = float(y.dot(s))
    if ys > 1e-10:
        if len(st["dirs"]) == history:
            for key in ("dirs", "steps", "ro"):
                st[key].pop(0)
        st["dirs"].append(y)
        st["steps"].append(s)
        st["ro"].append(1.0 / ys)
        st["h_diag"] = ys / float(y.dot(y))
    q = -grad
    alphas = []
    for y_i, s_i, ro_i in zip(reversed(st["dirs"]), reversed(st["steps"]), reversed(st["ro"])):
        a = float(s_i.dot(q)) * ro_i
        q = q.add(y_i, alpha=-a)
        alphas.append(a)
    r = q * st["h_diag"]
    for y_i, s_i, ro_i, a in zip(st["dirs"], st["steps"], st["ro"], reversed(alphas)):
        r = r.add(s_i, alpha=a - float(y_i.dot(r)) * ro_i)
    return r


def lbfgs_call(objective: Objective, x: torch.Tensor, st: dict, hp: dict) -> tuple[torch.Tensor, int]:
    """One ``torch.optim.LBFGS.step`` on the flat vector ``x``: returns (the new x, evaluations of the objective).

    ``hp``: ``lr``, ``max_iter``, ``max_eval`` (None: ``max_iter * 5 // 4``), ``tolerance_grad``,
    ``tolerance_change``, ``history_size``, ``line_search`` (``strong_wolfe`` or ``none``).
    """
    max_eval = hp["max_eval"] if hp["max_eval"] is not None else hp["max_iter"] * 5 // 4
    tol_change = hp["tolerance_change"]
    loss, grad = objective(x)
    evals = 1
    if float(grad.abs().max()) <= hp["tolerance_grad"]:
        return x, evals
    for n in range(1, hp["max_iter"] + 1):
        st["n_iter"] += 1
        first = st["n_iter"] == 1
        st["d"] = -grad if first else _direction(st, grad, hp["history_size"])
        st["prev_grad"], prev_loss = grad.clone(), loss
        st["t"] = min(1.0, 1.0 / float(grad.abs().sum())) * hp["lr"] if first else hp["lr"]
        d = st["d"]
        gtd = float(grad.dot(d))
        if gtd > -tol_change:
            break
        if hp["line_search"] == "strong_wolfe":
            loss, grad, st["t"], ls_evals = strong_wolfe(objective, x, st["t"], d, loss, grad, gtd, tol_change,
                                                         max_eval - evals)
            x = x.add(d, alpha=st["t"])
        else:
            x = x.add(d, alpha=st["t"])
            ls_evals = 0
            if n != hp["max_iter"]:
                loss, grad = objective(x)
                ls_evals = 1
        evals += ls_evals
        if n == hp["max_iter"] or evals >= max_eval or float(grad.abs().max()) <= hp["tolerance_grad"]:
            break
        if float((d * st["t"]).abs().max()) <= tol_change or abs(loss - prev_loss) < tol_change:
            break
    return x, evals
