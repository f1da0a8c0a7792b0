"""The block subproblems of one LySep outer iteration, with hand-written gradients.

Each block is a small object with ``value(x)`` and ``value_and_grad(x)`` over a list of
tensors batched over seeds; values are per seed (S,). ``AutogradBlock`` wraps any function
(the reference the hand-written gradients are tested against, and the fallback for
activations without a closed-form derivative here).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lysep.activations import get_activation
from lysep.model import affine
from lysep.objectives import cross_entropy

Tensors = list[torch.Tensor]


def _tanh_d(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return 1 - s * s


def _sigmoid_d(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return s * (1 - s)


def _relu_d(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return (a > 0).to(a.dtype)


def _softplus_d(a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(a)


#: s'(a) from the pre-activation a and the activation s = s(a)
DERIVATIVES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "tanh": _tanh_d, "sigmoid": _sigmoid_d, "relu": _relu_d, "softplus": _softplus_d,
}


def _sqsum(r: torch.Tensor) -> torch.Tensor:
    """sum_i ||r_i||^2 per seed for r of shape (S, N, M)."""
    return r.pow(2).sum(dim=(1, 2))


def _matmul_t(g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """g^T h per seed: g (S, N, M), h (S, N, m) or shared (N, m) -> (S, M, m)."""
    if h.dim() == 2:
        return torch.matmul(g.transpose(1, 2), h)
    return torch.bmm(g.transpose(1, 2), h)


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


class HiddenWeightBlock:
    """(W_l, b_l): beta_l/2 (1/N) sum_i ||u_l^i - s(W_l h^i + b_l)||^2, h = u_{l-1} (or x)."""

    def __init__(self, h: torch.Tensor, target: torch.Tensor, beta: torch.Tensor, activation: str):
        self.h, self.target, self.activation = h, target, activation
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        self.scale = beta / target.shape[1]  # beta / N, (S,)

    def value(self, x: Tensors) -> torch.Tensor:
        return self.scale / 2 * _sqsum(self.target - self.sigma(affine(x[0], x[1], self.h)))

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        a = affine(x[0], x[1], self.h)
        s = self.sigma(a)
        r = self.target - s
        f = self.scale / 2 * _sqsum(r)
        g_a = -(self.scale[:, None, None] * r * self.deriv(a, s))
        return f, [_matmul_t(g_a, self.h), g_a.sum(1)]


class OutputWeightBlock:
    """(W_{D+1}, b_{D+1}): G = mean CE of the last layer on u_D (convex)."""

    def __init__(self, h: torch.Tensor, y: torch.Tensor):
        self.h, self.y = h, y
        self.onehot: torch.Tensor | None = None

    def _onehot(self, z: torch.Tensor) -> torch.Tensor:
        if self.onehot is None:
            self.onehot = torch.zeros_like(z[:1]).scatter_(2, self.y.view(1, -1, 1), 1.0)
        return self.onehot

    def value(self, x: Tensors) -> torch.Tensor:
        return cross_entropy(affine(x[0], x[1], self.h), self.y)

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        z = affine(x[0], x[1], self.h)
        lse = torch.logsumexp(z, dim=2, keepdim=True)
        onehot = self._onehot(z)
        f = (lse.squeeze(2) - (z * onehot).sum(2)).mean(1)
        g_z = (torch.exp(z - lse) - onehot) / z.shape[1]
        return f, [_matmul_t(g_z, self.h), g_z.sum(1)]


class HiddenUnitBlock:
    """u_l, l < D: beta_l/2 msq(u - t_l) + beta_{l+1}/2 msq(u_{l+1} - s(u W_{l+1}^T + b_{l+1}))."""

    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_next: torch.Tensor, b_next: torch.Tensor,
                 u_next: torch.Tensor, beta_next: torch.Tensor, activation: str):
        self.target, self.w, self.b, self.u_next = target, w_next, b_next, u_next
        self.sigma, _ = get_activation(activation)
        self.deriv = DERIVATIVES[activation]
        n = target.shape[1]
        self.c_here, self.c_next = beta / n, beta_next / n

    def value(self, x: Tensors) -> torch.Tensor:
        u = x[0]
        return (self.c_here / 2 * _sqsum(u - self.target)
                + self.c_next / 2 * _sqsum(self.u_next - self.sigma(affine(self.w, self.b, u))))

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        d = u - self.target
        a = affine(self.w, self.b, u)
        s = self.sigma(a)
        r = self.u_next - s
        f = self.c_here / 2 * _sqsum(d) + self.c_next / 2 * _sqsum(r)
        g_a = -(self.c_next[:, None, None] * r * self.deriv(a, s))
        grad = self.c_here[:, None, None] * d + torch.bmm(g_a, self.w)
        return f, [grad]


class LastUnitBlock:
    """u_D: beta_D/2 msq(u - t_D) + CE(u W_{D+1}^T + b_{D+1})."""

    def __init__(self, target: torch.Tensor, beta: torch.Tensor, w_out: torch.Tensor, b_out: torch.Tensor,
                 y: torch.Tensor):
        self.target, self.w, self.b = target, w_out, b_out
        self.c_here = beta / target.shape[1]
        self.out = OutputWeightBlock(None, y)  # reuses its one-hot labels

    def value(self, x: Tensors) -> torch.Tensor:
        u = x[0]
        return self.c_here / 2 * _sqsum(u - self.target) + cross_entropy(affine(self.w, self.b, u), self.out.y)

    def value_and_grad(self, x: Tensors) -> tuple[torch.Tensor, Tensors]:
        u = x[0]
        d = u - self.target
        z = affine(self.w, self.b, u)
        lse = torch.logsumexp(z, dim=2, keepdim=True)
        onehot = self.out._onehot(z)
        f = self.c_here / 2 * _sqsum(d) + (lse.squeeze(2) - (z * onehot).sum(2)).mean(1)
        g_z = (torch.exp(z - lse) - onehot) / z.shape[1]
        return f, [self.c_here[:, None, None] * d + torch.bmm(g_z, self.w)]
