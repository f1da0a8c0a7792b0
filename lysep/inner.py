"""Inner block solvers of the alternating minimization (docs/method.md section 4).

A block is a list of tensors with a leading seed dimension; its objective maps the block
to per-seed values (S,). Each solver is a small function over tensors, batched over seeds,
with per-seed step sizes, so that a seed's path never depends on the other seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lysep.choices import ARMIJO_C

BlockObjective = Callable[[list[torch.Tensor]], torch.Tensor]



@dataclass
class StepResult:
    """What one solver call did, per seed."""

    block: list[torch.Tensor]
    value: torch.Tensor  # objective at the returned block (S,)
    start_value: torch.Tensor  # objective at the block given (S,)
    gradients: torch.Tensor  # gradient evaluations, (S,)
    evaluations: torch.Tensor  # objective-only evaluations (trials), (S,)
    eta: torch.Tensor | None = None  # step sizes to start the next call with (S,), for gd
    forwards: torch.Tensor | None = None  # other work (normal equations), in layer-forward units, (S,)
    aux: tuple | None = None  # the block's layer intermediates at the returned point, when it tracked them


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def as_block(objective: BlockObjective | object) -> object:
    """A block object (``value``, ``value_and_grad``); a plain function gets autograd gradients."""
    from lysep.blocks import AutogradBlock

    return objective if hasattr(objective, "value_and_grad") else AutogradBlock(objective)


def value_and_grad(objective: BlockObjective, block: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return as_block(objective).value_and_grad(block)


def armijo_gd(objective: BlockObjective | object, block: list[torch.Tensor], eta: torch.Tensor, steps: int,
              c: float = ARMIJO_C, max_backtracks: int = 30) -> StepResult:
    """``steps`` gradient steps with Armijo backtracking, per seed.

    A trial ``x - eta g`` is accepted when ``f(new) <= f(old) - c eta ||g||^2``; else eta is
    halved (up to ``max_backtracks`` times, after which the block is left unchanged). An
    accepted step doubles eta for the next step. The objective therefore never increases.

    A block that tracks its layer's intermediates (``accept``, ``aux``: ``lysep.blocks``) is told
    which trials were accepted, so a step's gradient reuses the accepted trial's forward pass and
    the caller gets the intermediates at the returned point.
    """
    blk = as_block(objective)
    track = hasattr(blk, "accept")
    s = eta.shape[0]
    n_grad = torch.zeros(s, dtype=torch.float64)
    n_eval = torch.zeros(s, dtype=torch.float64)
    block = [t.detach() for t in block]
    start = None
    f0 = None
    with torch.no_grad():
        for _ in range(steps):
            f0, grads = blk.value_and_grad(block, cached=True) if track else blk.value_and_grad(block)
            if start is None:
                start = f0
            live = torch.isfinite(f0)
            n_grad += live.cpu().to(torch.float64)
            gn2 = sum(g.pow(2).flatten(1).sum(1) for g in grads)
            active = live.clone()
            accepted = torch.zeros_like(active)
            f_new = f0.clone()
            for _ in range(max_backtracks):
                n_active = int(active.sum())
                if n_active == 0:
                    break
                n_eval += active.cpu().to(torch.float64)
                cand = [t - _bcast(eta, t) * g for t, g in zip(block, grads)]
                f1 = blk.value(cand)
                ok = active & (f1 <= f0 - c * eta * gn2)
                n_ok = int(ok.sum())
                if n_ok == s:  # every seed accepts: no per-seed selection needed
                    block = cand
                elif n_ok:
                    block = [torch.where(_bcast(ok, t), ct, t) for t, ct in zip(block, cand)]
                if track and n_ok:
                    blk.accept(ok)
                f_new = torch.where(ok, f1, f_new)
                accepted |= ok
                active &= ~ok
                eta = torch.where(active, eta / 2, eta)
            eta = torch.where(accepted, eta * 2, eta)
            f0 = f_new
    return StepResult(block, f0, start, n_grad, n_eval, eta, aux=blk.aux if track else None)


# -- solvers with one signature: solve(block, x, bstate, steps, hp) -> StepResult -----------------
# ``bstate`` is the block's own state, kept across outer iterations (gd: "eta"; adam: moments;
# gauss_newton / newton: the damping "lam").


def gd_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """Armijo-backtracked gradient steps (monotone)."""
    res = armijo_gd(block, x, bstate["eta"], steps, hp["armijo_c"], hp["max_backtracks"])
    bstate["eta"] = res.eta
    return res


def adam_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """``steps`` Adam steps on the block (``lysep.optim.adam_step``, Adam's default betas and eps); the
    moments are kept per block across outer iterations. Not monotone. Cost: ``steps`` gradients and
    one objective evaluation at the end (the value the trace's bookkeeping needs)."""
    from lysep.optim import adam_moments, adam_step

    blk = as_block(block)
    x = [t.detach() for t in x]
    if "moments" not in bstate:
        bstate["moments"] = adam_moments(x)
    s = x[0].shape[0]
    start, n_grad = None, torch.zeros(s, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(steps):
            f, grads = blk.value_and_grad(x)
            start = f if start is None else start
            n_grad += torch.isfinite(f).cpu().to(torch.float64)
            x = adam_step(x, grads, bstate["moments"], bstate["lr"])
        value = blk.value(x)
    n_eval = torch.isfinite(start).cpu().to(torch.float64)
    return StepResult(x, value, start, n_grad, n_eval)


def _with_ones(h: torch.Tensor, s: int) -> torch.Tensor:
    """[h, 1] per seed: (S, N, m+1)."""
    if h.dim() == 2:
        h = h.unsqueeze(0).expand(s, -1, -1)
    return torch.cat([h, torch.ones_like(h[..., :1])], dim=2)


def _accept(ok: torch.Tensor, new: list[torch.Tensor], old: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.where(_bcast(ok, o), n, o) for n, o in zip(new, old)]


def gauss_newton_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """Levenberg-Marquardt on a hidden W block (a one-layer nonlinear least-squares fit).

    Linearizes s around the current pre-activation and solves, per output unit, the damped
    normal equations ``(A^T D^2 A + lam diag) delta = A^T D r`` with ``A = [h, 1]``; a step is
    accepted only if the block objective decreases (else lam grows tenfold and it is retried).
    """
    w, b = (t.detach() for t in x)
    s, m = w.shape[0], w.shape[2]
    lam = bstate.setdefault("lam", torch.full((s,), hp["damping"], dtype=w.dtype, device=w.device))
    A = _with_ones(block.h, s)
    n_grad = torch.zeros(s, dtype=torch.float64)
    n_eval, n_fwd = n_grad.clone(), n_grad.clone()
    start = None
    eye = torch.eye(m + 1, dtype=w.dtype, device=w.device)
    with torch.no_grad():
        for _ in range(steps):
            a = torch.baddbmm(b.unsqueeze(1), A[..., :m], w.transpose(1, 2))
            sa = block.sigma(a)
            r, d = block.target - sa, block.deriv(a, sa)
            f0 = block.scale / 2 * r.pow(2).sum((1, 2))
            start = f0 if start is None else start
            live = torch.isfinite(f0)
            n_grad += live.cpu().to(torch.float64)
            n_fwd += live.cpu().to(torch.float64) * (m + 1)  # the Gram matrices cost (m+1) layer passes
            gram = torch.einsum("snk,snj,snl->sjkl", A, d * d, A)  # (S, M, m+1, m+1)
            rhs = torch.einsum("snk,snj->sjk", A, d * r)
            scale = torch.diagonal(gram, dim1=2, dim2=3).mean(-1, keepdim=True).unsqueeze(-1) + 1e-12
            active, f_best = live.clone(), f0.clone()
            for _ in range(hp["max_backtracks"]):
                if not bool(active.any()):
                    break
                damped = gram + lam[:, None, None, None] * scale * eye
                delta = torch.linalg.solve(damped, rhs.unsqueeze(-1)).squeeze(-1)  # (S, M, m+1)
                cand = [w + delta[..., :m], b + delta[..., m]]
                f1 = block.value(cand)
                n_eval += active.cpu().to(torch.float64)
                ok = active & (f1 < f0)
                w, b = _accept(ok, cand, [w, b])
                f_best = torch.where(ok, f1, f_best)
                lam = torch.where(ok, lam / 3, torch.where(active, lam * 10, lam))
                active &= ~ok
            f0 = f_best
    bstate["lam"] = torch.clamp(lam, min=1e-8, max=1e12)
    return StepResult([w, b], f0, start, n_grad, n_eval, forwards=n_fwd)


def newton_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """Damped Newton on the last layer (multinomial logistic regression on u_D: convex).

    Solves ``(H + lam I) delta = -g`` over all K (M+1) parameters per seed, then Armijo
    backtracking along delta; a step is taken only if the objective decreases.
    """
    w, b = (t.detach() for t in x)
    s, k, m = w.shape
    lam = bstate.setdefault("lam", torch.full((s,), hp["damping"], dtype=w.dtype, device=w.device))
    A = _with_ones(block.h, s)
    n = A.shape[1]
    n_grad = torch.zeros(s, dtype=torch.float64)
    n_eval, n_fwd = n_grad.clone(), n_grad.clone()
    start = None
    eye = torch.eye(k * (m + 1), dtype=w.dtype, device=w.device)
    with torch.no_grad():
        for _ in range(steps):
            z = torch.baddbmm(b.unsqueeze(1), A[..., :m], w.transpose(1, 2))
            lse = torch.logsumexp(z, dim=2, keepdim=True)
            p = torch.exp(z - lse)
            onehot = block._onehot(p)  # labels shared by the seeds, or each seed's own minibatch
            f0 = (lse.squeeze(2) - (z * onehot).sum(2)).mean(1)
            start = f0 if start is None else start
            live = torch.isfinite(f0)
            n_grad += live.cpu().to(torch.float64)
            n_fwd += live.cpu().to(torch.float64) * k * (m + 1)
            g = torch.einsum("snk,sna->ska", p - onehot, A).reshape(s, -1) / n
            diag = torch.einsum("snk,sna,snb->skab", p, A, A)
            pa = p.unsqueeze(-1) * A.unsqueeze(2)  # (S, N, K, m+1)
            hess = -torch.einsum("snka,snlb->skalb", pa, pa)
            idx = torch.arange(k, device=w.device)
            hess[:, idx, :, idx, :] += diag.transpose(0, 1)
            hess = hess.reshape(s, k * (m + 1), k * (m + 1)) / n
            direction = -torch.linalg.solve(hess + lam[:, None, None] * eye, g.unsqueeze(-1)).squeeze(-1)
            slope = (g * direction).sum(1)
            step = torch.ones_like(f0)
            active, f_best = live.clone(), f0.clone()
            for _ in range(hp["max_backtracks"]):
                if not bool(active.any()):
                    break
                dw = (step[:, None] * direction).reshape(s, k, m + 1)
                cand = [w + dw[..., :m], b + dw[..., m]]
                f1 = block.value(cand)
                n_eval += active.cpu().to(torch.float64)
                ok = active & (f1 <= f0 + hp["armijo_c"] * step * slope) & (f1 < f0)
                w, b = _accept(ok, cand, [w, b])
                f_best = torch.where(ok, f1, f_best)
                active &= ~ok
                step = torch.where(active, step / 2, step)
            f0 = f_best
    return StepResult([w, b], f0, start, n_grad, n_eval, forwards=n_fwd)


SOLVERS = {"gd": gd_solver, "adam": adam_solver, "gauss_newton": gauss_newton_solver, "newton": newton_solver}
