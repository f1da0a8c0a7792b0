"""The block subproblems of one LySep outer iteration, with hand-written gradients.

Each block is a small object with ``value(x)`` and ``value_and_grad(x)`` over a list of
tensors batched over seeds; values are per seed (S,). ``AutogradBlock`` wraps any function
(the reference the hand-written gradients are tested against, and the fallback for
activations without a closed-form derivative here).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lysep.core import lipschitz
from lysep.core.activations import DERIVATIVES, GUARDED, TIMES_DERIVATIVE, get_activation
from lysep.core.model import affine, affine_input_grad, affine_weight_grad
from lysep.core.objectives import cross_entropy

Tensors = list[torch.Tensor]


def sqsum(r: torch.Tensor) -> torch.Tensor:
    """sum_i ||r_i||^2 per seed for r of shape (S, N, M) or feature maps (S, N, C, H, W) (one reading pass)."""
    return torch.linalg.vector_norm(r.flatten(1), dim=1).square()


def _col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-seed (S,) value shaped to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def _spatial(t: torch.Tensor) -> tuple[int, int] | None:
    """The image size of feature maps (S, N, C, H, W), None for vectors."""
    return tuple(t.shape[-2:]) if t.dim() == 5 else None


class AutogradBlock:
    """Any per-seed objective; gradients by autograd. ``lipschitz``: a function giving the bound of
    ``lysep.core.lipschitz`` for the block (the ``lipschitz`` solver needs it); ``guarded`` as in ``_Tracked``."""

    def __init__(self, fn: Callable[[Tensors], torch.Tensor],
                 lipschitz: Callable[[Tensors], torch.Tensor] | None = None, guarded: bool = False):
        self.fn = fn
        self.guarded = guarded
        if lipschitz is not None:
            self.lipschitz = lipschitz

    def value(self, x: Tensors) -> torch.Tensor:
        with torch.no_grad():
            return self.fn(x)

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        leaves = [t.detach().requires_grad_() for t in x]
        with torch.enable_grad():
            f = self.fn(leaves)
            grads = torch.autograd.grad(f.sum(), leaves)
        return f.detach(), list(grads)


def _rep(t: torch.Tensor, b: int) -> torch.Tensor:
    """A per-seed tensor (S, ...) repeated ``b`` times along the seeds -> (b * S, ...), copy j in rows j S.."""
    return t.repeat(b, *[1] * (t.dim() - 1))


def pick(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per seed: ``new`` where ``ok`` (S,), else ``old``, as a broadcast ``torch.where`` (no host
    synchronisation). An index_select of the two concatenated was faster alone in a loop but allocates
    three times the bytes and was slower inside an iteration (results/PERFORMANCE.md)."""
    return torch.where(ok.view(-1, *([1] * (new.dim() - 1))), new, old)


def _where(ok: torch.Tensor, new: tuple, old: tuple) -> tuple:
    """Per seed: the new intermediates where ``ok``, else the old ones."""
    return tuple(None if n is None else pick(ok, n, o) for n, o in zip(new, old))


class _Tracked:
    """Intermediates of the layer a block evaluates, at the block's current point and at its last trial.

    ``value(x)`` keeps its intermediates as the trial; ``accept(ok)`` makes the trial current for
    the seeds in ``ok`` (Armijo's accepted step), so the next ``value_and_grad(x, cached=True)``
    and the caller (``aux``) reuse them instead of evaluating the layer again. A block built
    with ``cache`` starts from intermediates the caller already has at the given point.
    """

    def __init__(self, cache: tuple | None):
        self.cur, self.trial = cache, None

    def _current(self, x: Tensors, cached: bool) -> tuple:
        if not (cached and self.cur is not None):
            self.cur = self._eval(x)
        return self.cur

    #: whether the ``lipschitz`` rule must check its step (the curvature bound is not global: relu)
    guarded = False

    def accept(self, ok: torch.Tensor) -> None:
        """The last trial becomes current for the seeds in ``ok`` (no host synchronisation)."""
        if self.trial is None or self.cur is None:
            return
        self.cur = _where(ok, self.trial, self.cur)

    def accept_all(self) -> None:
        """The last trial becomes current for every seed."""
        if self.trial is not None:
            self.cur = self.trial

    def move(self, x: Tensors) -> None:
        """Make ``x`` the current point: its intermediates are evaluated (no objective value)."""
        self.cur, self.trial = self._eval(x), None

    @property
    def aux(self) -> tuple | None:
        return self.cur


class HiddenWeightBlock(_Tracked):
    """(W_l, b_l): beta_l/2 (1/N) sum_i ||u_l^i - s(W_l h^i + b_l)||^2, h = u_{l-1} (or x).

    Intermediates: ``(a, s(a))`` of layer l.
    """


    def __init__(self, h: torch.Tensor, target: torch.Tensor, beta: torch.Tensor, activation: str,
                 cache: tuple | None = None):
        super().__init__(cache)
        self.h, self.target, self.activation, self.beta = h, target, activation, beta
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        self.scale = beta / target.shape[1]  # beta / N, (S,)
        self.guarded = activation in GUARDED

    def lipschitz(self, x: Tensors) -> torch.Tensor:
        return lipschitz.hidden_weight(self.h, self.target, self.beta, x[0], x[1], self.activation)

    def stacked(self, b: int) -> HiddenWeightBlock:
        """The same block ``b`` times over (for ``b`` candidate points per seed, evaluated at once)."""
        h = self.h if self.h.dim() in (2, 4) else _rep(self.h, b)  # the data is shared by all seeds
        return HiddenWeightBlock(h, _rep(self.target, b), _rep(self.beta, b), self.activation)

    def _eval(self, x: Tensors) -> tuple:
        a = affine(x[0], x[1], self.h)
        return a, self.sigma(a)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.scale / 2 * sqsum(self.target - self.trial[1])

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        a, s = self._current(x, cached)
        r = self.target - s
        f = self.scale / 2 * sqsum(r)
        g_a = -(_col(self.scale, r) * r * self.deriv(a, s))
        return f, list(affine_weight_grad(x[0], x[1], self.h, g_a))

    def descent(self, x: Tensors, step: torch.Tensor) -> Tensors:
        """``x - step * grad f(x)`` per seed at the current point, no value: the per-seed factors are
        applied to the weight-sized tensors, not to the (S, N, M) ones."""
        return self.descent_value(x, step, value=False)[0]

    def descent_value(self, x: Tensors, step: torch.Tensor, value: bool = True) -> tuple[Tensors, torch.Tensor | None]:
        """``descent`` and the objective at the current point, from the same residual."""
        a, s = self._current(x, True)
        r = self.target - s
        gw, gb = affine_weight_grad(x[0], x[1], self.h, TIMES_DERIVATIVE[self.activation](r, a, s))
        c = step * self.scale
        return [x[0] + _col(c, gw) * gw, x[1] + _col(c, gb) * gb], self.scale / 2 * sqsum(r) if value else None


def _ce_and_grad(z: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean CE per seed and its gradient in the logits, (S,) and (S, N, K)."""
    lse = torch.logsumexp(z, dim=2, keepdim=True)
    f = (lse.squeeze(2) - (z * onehot).sum(2)).mean(1)
    return f, (torch.exp(z - lse) - onehot) / z.shape[1]


class OutputWeightBlock(_Tracked):
    """(W_{D+1}, b_{D+1}): G = mean CE of the last layer on u_D (convex). Intermediates: ``(z,)``."""


    def __init__(self, h: torch.Tensor, y: torch.Tensor, cache: tuple | None = None):
        super().__init__(cache)
        self.h, self.y = h, y
        self.onehot: torch.Tensor | None = None

    def lipschitz(self, x: Tensors) -> torch.Tensor:
        return lipschitz.output_weight(self.h, x[0], x[1])

    def stacked(self, b: int) -> OutputWeightBlock:
        return OutputWeightBlock(_rep(self.h, b), self.y)

    def _onehot(self, z: torch.Tensor) -> torch.Tensor:
        """One-hot labels shaped like the logits: (1, N, K) for labels (N,) shared by the seeds, (S, N, K) for
        per-seed labels (S, N) (each seed's own minibatch)."""
        if self.onehot is None:
            y = self.y.view(1, -1) if self.y.dim() == 1 else self.y
            self.onehot = torch.zeros_like(z[:y.shape[0]]).scatter_(2, y.unsqueeze(2), 1.0)
        return self.onehot

    def _eval(self, x: Tensors) -> tuple:
        return (affine(x[0], x[1], self.h),)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return cross_entropy(self.trial[0], self.y)

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        (z,) = self._current(x, cached)
        f, g_z = _ce_and_grad(z, self._onehot(z))
        return f, list(affine_weight_grad(x[0], x[1], self.h, g_z))

    def descent(self, x: Tensors, step: torch.Tensor) -> Tensors:
        return self.descent_value(x, step)[0]

    def descent_value(self, x: Tensors, step: torch.Tensor) -> tuple[Tensors, torch.Tensor]:
        f, grads = self.value_and_grad(x, cached=True)
        return [t - _col(step, g) * g for t, g in zip(x, grads)], f


class HiddenUnitBlock(_Tracked):
    """u_l, l < D: beta_l/2 msq(u - t_l) + beta_{l+1}/2 msq(u_{l+1} - s(u W_{l+1}^T + b_{l+1})).

    Intermediates: ``(a, s(a))`` of layer l + 1.
    """


    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_next: torch.Tensor, b_next: torch.Tensor,
                 u_next: torch.Tensor, beta_next: torch.Tensor, activation: str, cache: tuple | None = None,
                 w_sq: torch.Tensor | None = None):
        super().__init__(cache)
        self.w_sq = w_sq  # ||A_{l+1}||^2 bounded (lysep.core.lipschitz.weight_sq_norms), if the caller has it
        self.target, self.w, self.b, self.u_next = target, w_next, b_next, u_next
        self.activation, self.beta, self.beta_next = activation, beta, beta_next
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        n = target.shape[1]
        self.c_here, self.c_next = beta / n, beta_next / n
        self.guarded = activation in GUARDED

    def lipschitz(self, x: Tensors) -> torch.Tensor:
        return lipschitz.hidden_unit(self.beta, self.beta_next, self.w, self.b, self.u_next, self.activation,
                                     _spatial(self.target), self.target.shape[1], self.w_sq)

    def stacked(self, b: int) -> HiddenUnitBlock:
        return HiddenUnitBlock(_rep(self.target, b), _rep(self.beta, b), _rep(self.w, b), _rep(self.b, b),
                               _rep(self.u_next, b), _rep(self.beta_next, b), self.activation)

    def _eval(self, x: Tensors) -> tuple:
        a = affine(self.w, self.b, x[0])
        return a, self.sigma(a)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.c_here / 2 * sqsum(x[0] - self.target) + self.c_next / 2 * sqsum(self.u_next - self.trial[1])

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        a, s = self._current(x, cached)
        d = u - self.target
        r = self.u_next - s
        f = self.c_here / 2 * sqsum(d) + self.c_next / 2 * sqsum(r)
        g_a = -(_col(self.c_next, r) * r * self.deriv(a, s))
        if u.dim() == 3:
            return f, [torch.baddbmm(_col(self.c_here, d) * d, g_a, self.w)]
        return f, [_col(self.c_here, d) * d + affine_input_grad(self.w, self.b, g_a, u.shape)]

    def descent(self, x: Tensors, step: torch.Tensor) -> Tensors:
        """``u - step * grad f(u)`` per seed at the current point, no value (``_descend``)."""
        return self.descent_value(x, step, value=False)[0]

    def descent_value(self, x: Tensors, step: torch.Tensor, value: bool = True) -> tuple[Tensors, torch.Tensor | None]:
        """``descent`` and the objective at the current point, from the same residuals."""
        a, s = self._current(x, True)
        r = self.u_next - s
        rd = TIMES_DERIVATIVE[self.activation](r, a, s)  # = -grad_a / c_next
        w = self.w * _col(step * self.c_next, self.w)
        if not value:
            return [_descend(x[0], self.target, step * self.c_here, rd, w, self.b)], None
        d = x[0] - self.target
        f = self.c_here / 2 * sqsum(d) + self.c_next / 2 * sqsum(r)
        return [_descend(x[0], self.target, step * self.c_here, rd, w, self.b, d)], f


def _descend(u: torch.Tensor, target: torch.Tensor, k: torch.Tensor, g: torch.Tensor, w: torch.Tensor,
             b: torch.Tensor, d: torch.Tensor | None = None) -> torch.Tensor:
    """A U block's gradient step ``u - k (u - target) - A^T g`` (``A^T``: the pull-back of the layer (w, b),
    per-seed factors already in w): a lerp towards the target (or ``u - k d`` when the caller has
    ``d = u - target``), then the pull-back added in place."""
    out = torch.lerp(u, target, _col(k, u)) if d is None else torch.addcmul(u, _col(k, u), d, value=-1)
    if u.dim() == 3:
        return out.baddbmm_(g, w)
    return out.add_(affine_input_grad(w, b, g, u.shape))


class LastUnitBlock(_Tracked):
    """u_D: beta_D/2 msq(u - t_D) + CE(u W_{D+1}^T + b_{D+1}). Intermediates: ``(z,)``."""


    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor,
                 y: torch.Tensor, cache: tuple | None = None, w_sq: torch.Tensor | None = None):
        super().__init__(cache)
        self.w_sq = w_sq
        self.target, self.w, self.b, self.beta = target, w_out, b_out, beta
        self.c_here = beta / target.shape[1]
        self.out = OutputWeightBlock(None, y)  # reuses its one-hot labels

    def lipschitz(self, x: Tensors) -> torch.Tensor:
        return lipschitz.last_unit(self.beta, self.w, self.target.shape[1], self.w_sq)

    def stacked(self, b: int) -> LastUnitBlock:
        return LastUnitBlock(_rep(self.target, b), _rep(self.beta, b), _rep(self.w, b), _rep(self.b, b), self.out.y)

    def _eval(self, x: Tensors) -> tuple:
        return (affine(self.w, self.b, x[0]),)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.c_here / 2 * sqsum(x[0] - self.target) + cross_entropy(self.trial[0], self.out.y)

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        (z,) = self._current(x, cached)
        d = u - self.target
        ce, g_z = _ce_and_grad(z, self.out._onehot(z))
        f = self.c_here / 2 * sqsum(d) + ce
        if u.dim() == 3:
            return f, [torch.baddbmm(_col(self.c_here, d) * d, g_z, self.w)]
        return f, [_col(self.c_here, d) * d + affine_input_grad(self.w, self.b, g_z, u.shape)]

    def descent(self, x: Tensors, step: torch.Tensor) -> Tensors:
        return self.descent_value(x, step, value=False)[0]

    def descent_value(self, x: Tensors, step: torch.Tensor, value: bool = True) -> tuple[Tensors, torch.Tensor | None]:
        (z,) = self._current(x, True)
        ce, g_z = _ce_and_grad(z, self.out._onehot(z))
        w = self.w * _col(-step, self.w)
        if not value:
            return [_descend(x[0], self.target, step * self.c_here, g_z, w, self.b)], None
        d = x[0] - self.target
        return [_descend(x[0], self.target, step * self.c_here, g_z, w, self.b, d)], self.c_here / 2 * sqsum(d) + ce
