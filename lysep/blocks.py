"""The block subproblems of one LySep outer iteration, with hand-written gradients.

Each block is a small object with ``value(x)`` and ``value_and_grad(x)`` over a list of
tensors batched over seeds; values are per seed (S,). ``AutogradBlock`` wraps any function
(the reference the hand-written gradients are tested against, and the fallback for
activations without a closed-form derivative here).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lysep.activations import DERIVATIVES, get_activation
from lysep.model import affine, affine_input_grad, affine_weight_grad
from lysep.objectives import cross_entropy

Tensors = list[torch.Tensor]


def _sqsum(r: torch.Tensor) -> torch.Tensor:
    """sum_i ||r_i||^2 per seed for r of shape (S, N, M) or feature maps (S, N, C, H, W)."""
    return r.pow(2).flatten(1).sum(1)


def _col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-seed (S,) value shaped to broadcast against ``like``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


class AutogradBlock:
    """Any per-seed objective; gradients by autograd."""

    def __init__(self, fn: Callable[[Tensors], torch.Tensor]):
        self.fn = fn

    def value(self, x: Tensors) -> torch.Tensor:
        with torch.no_grad():
            return self.fn(x)

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        leaves = [t.detach().requires_grad_() for t in x]
        with torch.enable_grad():
            f = self.fn(leaves)
            grads = torch.autograd.grad(f.sum(), leaves)
        return f.detach(), list(grads)


def _where(ok: torch.Tensor, new: tuple, old: tuple) -> tuple:
    """Per seed: the new intermediates where ``ok``, else the old ones."""
    return tuple(None if n is None else torch.where(ok.view(-1, *([1] * (n.dim() - 1))), n, o)
                 for n, o in zip(new, old))


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

    def accept(self, ok: torch.Tensor) -> None:
        if self.trial is None or self.cur is None:
            return
        self.cur = self.trial if bool(ok.all()) else _where(ok, self.trial, self.cur)

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
        self.h, self.target, self.activation = h, target, activation
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        self.scale = beta / target.shape[1]  # beta / N, (S,)

    def _eval(self, x: Tensors) -> tuple:
        a = affine(x[0], x[1], self.h)
        return a, self.sigma(a)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.scale / 2 * _sqsum(self.target - self.trial[1])

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        a, s = self._current(x, cached)
        r = self.target - s
        f = self.scale / 2 * _sqsum(r)
        g_a = -(_col(self.scale, r) * r * self.deriv(a, s))
        return f, list(affine_weight_grad(x[0], x[1], self.h, g_a))


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


class HiddenUnitBlock(_Tracked):
    """u_l, l < D: beta_l/2 msq(u - t_l) + beta_{l+1}/2 msq(u_{l+1} - s(u W_{l+1}^T + b_{l+1})).

    Intermediates: ``(a, s(a))`` of layer l + 1.
    """


    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_next: torch.Tensor, b_next: torch.Tensor,
                 u_next: torch.Tensor, beta_next: torch.Tensor, activation: str, cache: tuple | None = None):
        super().__init__(cache)
        self.target, self.w, self.b, self.u_next = target, w_next, b_next, u_next
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        n = target.shape[1]
        self.c_here, self.c_next = beta / n, beta_next / n

    def _eval(self, x: Tensors) -> tuple:
        a = affine(self.w, self.b, x[0])
        return a, self.sigma(a)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.c_here / 2 * _sqsum(x[0] - self.target) + self.c_next / 2 * _sqsum(self.u_next - self.trial[1])

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        a, s = self._current(x, cached)
        d = u - self.target
        r = self.u_next - s
        f = self.c_here / 2 * _sqsum(d) + self.c_next / 2 * _sqsum(r)
        g_a = -(_col(self.c_next, r) * r * self.deriv(a, s))
        if u.dim() == 3:
            return f, [torch.baddbmm(_col(self.c_here, d) * d, g_a, self.w)]
        return f, [_col(self.c_here, d) * d + affine_input_grad(self.w, self.b, g_a, u.shape)]


class LastUnitBlock(_Tracked):
    """u_D: beta_D/2 msq(u - t_D) + CE(u W_{D+1}^T + b_{D+1}). Intermediates: ``(z,)``."""


    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor,
                 y: torch.Tensor, cache: tuple | None = None):
        super().__init__(cache)
        self.target, self.w, self.b = target, w_out, b_out
        self.c_here = beta / target.shape[1]
        self.out = OutputWeightBlock(None, y)  # reuses its one-hot labels

    def _eval(self, x: Tensors) -> tuple:
        return (affine(self.w, self.b, x[0]),)

    def value(self, x: Tensors) -> torch.Tensor:
        self.trial = self._eval(x)
        return self.c_here / 2 * _sqsum(x[0] - self.target) + cross_entropy(self.trial[0], self.out.y)

    def value_and_grad(self, x: Tensors, cached: bool = False) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        (z,) = self._current(x, cached)
        d = u - self.target
        ce, g_z = _ce_and_grad(z, self.out._onehot(z))
        f = self.c_here / 2 * _sqsum(d) + ce
        if u.dim() == 3:
            return f, [torch.baddbmm(_col(self.c_here, d) * d, g_z, self.w)]
        return f, [_col(self.c_here, d) * d + affine_input_grad(self.w, self.b, g_z, u.shape)]
