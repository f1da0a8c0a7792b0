"""Inner block solvers of the alternating minimization (docs/method.md section 4).

A block is a list of tensors with a leading seed dimension; its objective maps the block
to per-seed values (S,). Each solver is a small function over tensors, batched over seeds,
with per-seed step sizes, so that a seed's path never depends on the other seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lysep.core import mm
from lysep.core.blocks import LastUnitBlock, OutputWeightBlock, pick, sqsum
from lysep.core.choices import ARMIJO_C

BlockObjective = Callable[[list[torch.Tensor]], torch.Tensor]



@dataclass
class StepResult:
    """What one solver call did, per seed."""

    block: list[torch.Tensor]
    value: torch.Tensor | None  # objective at the returned block (S,); None where the solver does not need it
    start_value: torch.Tensor | None  # objective at the block given (S,); None where the solver does not need it
    gradients: torch.Tensor | float  # gradient evaluations, (S,), or one count for every seed
    evaluations: torch.Tensor | float  # objective-only evaluations (trials), (S,), or one count for every seed
    eta: torch.Tensor | None = None  # step sizes to start the next call with (S,), for gd
    forwards: torch.Tensor | None = None  # other work (normal equations), in layer-forward units, (S,)
    aux: tuple | None = None  # the block's layer intermediates at the returned point, when it tracked them


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def as_block(objective: BlockObjective | object) -> object:
    """A block object (``value``, ``value_and_grad``); a plain function gets autograd gradients."""
    from lysep.core.blocks import AutogradBlock

    return objective if hasattr(objective, "value_and_grad") else AutogradBlock(objective)


def value_and_grad(objective: BlockObjective, block: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return as_block(objective).value_and_grad(block)


def _counter(like: torch.Tensor) -> torch.Tensor:
    """A per-seed work counter (float64) on the device of ``like`` (S,): counted without host synchronisation."""
    return torch.zeros(like.shape[0], dtype=torch.float64, device=like.device)


def _live(f: torch.Tensor) -> torch.Tensor:
    """1.0 for the seeds whose value is finite (the work charged to them), else 0.0."""
    return torch.isfinite(f).to(torch.float64)


def _gradient_step_start(blk, block: list[torch.Tensor], track: bool, counts: list) -> tuple:
    """The value, gradient and squared gradient norm at ``block`` (from the tracked intermediates), the seeds
    whose value is finite, and the gradient charged to them; ``counts`` is ``[start, n_grad, n_eval]``,
    created at the first step."""
    f0, grads = blk.value_and_grad(block, cached=True) if track else blk.value_and_grad(block)
    if counts[0] is None:
        counts[:] = [f0, _counter(f0), _counter(f0)]
    live = torch.isfinite(f0)
    counts[1] += live.to(torch.float64)
    return f0, grads, sum(g.pow(2).flatten(1).sum(1) for g in grads), live


def armijo_gd(objective: BlockObjective | object, block: list[torch.Tensor], eta: torch.Tensor, steps: int,
              c: float = ARMIJO_C, max_backtracks: int = 30, batch: int = 1) -> StepResult:
    """``steps`` gradient steps with Armijo backtracking, per seed.

    A trial ``x - eta g`` is accepted when ``f(new) <= f(old) - c eta ||g||^2``; else eta is
    halved (up to ``max_backtracks`` times, after which the block is left unchanged). An
    accepted step doubles eta for the next step. The objective therefore never increases.
    ``batch > 1`` evaluates the trials in rounds of ``batch`` step sizes at once (``armijo_rounds``).

    A block that tracks its layer's intermediates (``accept``, ``aux``: ``lysep.core.blocks``) is told
    which trials were accepted, so a step's gradient reuses the accepted trial's forward pass and
    the caller gets the intermediates at the returned point.
    """
    if batch > 1:
        return armijo_rounds(objective, block, eta, steps, c, max_backtracks, batch)
    blk = as_block(objective)
    track = hasattr(blk, "accept")
    s = eta.shape[0]
    counts: list = [None, None, None]
    block = [t.detach() for t in block]
    f0 = None
    with torch.no_grad():
        for _ in range(steps):
            f0, grads, gn2, live = _gradient_step_start(blk, block, track, counts)
            n_eval = counts[2]
            active = live.clone()
            accepted = torch.zeros_like(active)
            f_new = f0.clone()
            for _ in range(max_backtracks):
                n_active = int(active.sum())  # the sequential rule waits on the host once per trial
                if n_active == 0:
                    break
                n_eval += active.to(torch.float64)
                cand = [t - _bcast(eta, t) * g for t, g in zip(block, grads)]
                f1 = blk.value(cand)
                ok = active & (f1 <= f0 - c * eta * gn2)
                n_ok = int(ok.sum())
                if n_ok == s:  # every seed accepts: no per-seed selection needed
                    block = cand
                    if track:
                        blk.accept_all()
                elif n_ok:
                    block = _accept(ok, cand, block)
                    if track:
                        blk.accept(ok)
                f_new = torch.where(ok, f1, f_new)
                accepted |= ok
                active &= ~ok
                eta = torch.where(active, eta / 2, eta)
            eta = torch.where(accepted, eta * 2, eta)
            f0 = f_new
    return StepResult(block, f0, *counts, eta, aux=blk.aux if track else None)


def _pick(stack: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Per seed s, entry ``j[s]`` of ``stack`` (B, S, ...) -> (S, ...): an index, not a host decision."""
    return stack[j, torch.arange(stack.shape[1], device=stack.device)]


def _stacked_values(blk, cands: list[torch.Tensor], b: int, stacked) -> torch.Tensor:
    """Block values of ``b`` candidate points per seed (each (B * S, ...)) -> (B, S)."""
    if stacked is not None:
        return stacked.value(cands).view(b, -1)
    parts = [c.view(b, -1, *c.shape[1:]) for c in cands]
    return torch.stack([blk.value([p[i] for p in parts]) for i in range(b)])


def armijo_rounds(objective: BlockObjective | object, block: list[torch.Tensor], eta: torch.Tensor, steps: int,
                  c: float, max_backtracks: int, batch: int) -> StepResult:
    """Armijo backtracking (``armijo_gd``'s rule) with the trial step sizes ``eta 2^-j``, ``j = 0..batch-1``,
    evaluated in one batched computation; each seed takes the largest that passes the test (the step
    the sequential rule would take). Rounds of ``batch`` trials go on, for seeds none passed, up to
    ``max_backtracks`` trials in all; with ``batch >= max_backtracks`` there is one round and no decision
    on the host at all (no synchronisation). Charged: ``batch`` trials per round and live seed.
    """
    blk = as_block(objective)
    track = hasattr(blk, "accept")
    stacked = blk.stacked(batch) if hasattr(blk, "stacked") else None
    rounds = -(-max_backtracks // batch)
    block = [t.detach() for t in block]
    counts: list = [None, None, None]
    f0 = None
    with torch.no_grad():
        factors = 2.0 ** -torch.arange(batch, dtype=eta.dtype, device=eta.device)
        for _ in range(steps):
            f0, grads, gn2, active = _gradient_step_start(blk, block, track, counts)
            n_eval = counts[2]
            accepted = torch.zeros_like(active)
            for r in range(rounds):
                if r > 0 and not bool(active.any()):  # only between rounds: none with batch >= max_backtracks
                    break
                n_eval += batch * active.to(torch.float64)
                etas = factors[:, None] * eta  # (B, S)
                cands = [(t - etas.view(batch, -1, *[1] * (t.dim() - 1)) * g).reshape(-1, *t.shape[1:])
                         for t, g in zip(block, grads)]
                f1 = _stacked_values(blk, cands, batch, stacked)
                ok = active & (f1 <= f0 - c * etas * gn2)  # (B, S)
                hit = ok.any(0)
                j = ok.to(torch.uint8).argmax(0)  # the first (largest) step that passes
                block = [torch.where(_bcast(hit, t), _pick(ct.view(batch, *t.shape), j), t)
                         for t, ct in zip(block, cands)]
                if track and stacked is not None:
                    blk.trial = tuple(_pick(v.view(batch, -1, *v.shape[1:]), j) for v in stacked.trial)
                    blk.accept(hit)
                elif track:
                    blk.cur = None  # intermediates unknown: the next gradient evaluates them
                f0 = torch.where(hit, _pick(f1, j), f0)
                eta = torch.where(hit, _pick(etas, j), torch.where(active, eta * 2.0 ** -batch, eta))
                accepted |= hit
                active &= ~hit
            eta = torch.where(accepted, eta * 2, eta)
    return StepResult(block, f0, *counts, eta, aux=blk.aux if track else None)


def lipschitz_steps(objective: object, block: list[torch.Tensor], steps: int, factor: float = 1.0,
                    scale: torch.Tensor | None = None, growth: float = 1.0) -> StepResult:
    """``steps`` gradient steps ``x - (factor / L) g`` per seed, ``L = blk.lipschitz(x)`` the block's bound of
    ``lysep.core.lipschitz`` (docs/method.md section 4.7), ``0 < factor < 2``: by the descent lemma the block
    objective decreases by at least ``(factor - factor^2 / 2) ||g||^2 / L``. No trial, no objective
    value and no host synchronisation: a block with ``descent`` and ``move`` (``lysep.core.blocks``) takes
    the step with its per-seed factors folded into small tensors and evaluates only its layer at the
    new point, which the next block reuses. Charged: one gradient and one evaluation per step (the
    same count as an Armijo step accepted at its first trial), as one number for every seed.

    ``growth > 1`` (and a ``guarded`` block: relu, whose bound does not hold across the kink) checks
    instead: ``_checked_steps``.
    """
    blk = as_block(objective)
    block = [t.detach() for t in block]
    with torch.no_grad():
        step = factor / blk.lipschitz(block)
        if blk.guarded or growth > 1:
            return _checked_steps(blk, block, steps, step, scale, growth)
        for _ in range(steps):
            if hasattr(blk, "descent"):
                block = blk.descent(block, step)
            else:
                _, grads = blk.value_and_grad(block)
                block = [t - _bcast(step, t) * g for t, g in zip(block, grads)]
            if hasattr(blk, "move"):
                blk.move(block)
    return StepResult(block, None, None, float(steps), float(steps), aux=blk.aux if hasattr(blk, "move") else None)


def _checked_steps(blk, block: list[torch.Tensor], steps: int, step: torch.Tensor, scale: torch.Tensor | None,
                   growth: float) -> StepResult:
    """Steps ``scale * step`` kept only for the seeds whose block objective did not increase (per seed).

    ``scale`` (returned as ``eta``, kept per block across outer iterations) starts at 1, is halved after a
    rejected step and multiplied by ``growth`` after an accepted one; with ``growth = 1`` (relu's guard of
    the plain rule) it doubles back up to at most 1 instead. Still one gradient and one evaluation per
    step, the objective values taken from the layer intermediates, and no host synchronisation.
    """
    track = hasattr(blk, "accept")
    fast = hasattr(blk, "descent_value")
    up, cap = (growth, None) if growth > 1 else (2.0, 1.0)
    start = f0 = None
    for _ in range(steps):
        if fast:
            cand, f0 = blk.descent_value(block, step * scale if scale is not None else step)
        else:
            f0, grads = blk.value_and_grad(block, cached=True) if track else blk.value_and_grad(block)
            cand = [t - _bcast(step if scale is None else step * scale, t) * g for t, g in zip(block, grads)]
        if start is None:
            start = f0
            scale = torch.ones_like(f0) if scale is None else scale
        f1 = blk.value(cand)
        ok = f1 <= f0
        block, f0 = _accept(ok, cand, block), torch.where(ok, f1, f0)
        if track:
            blk.accept(ok)
        scale = torch.where(ok, scale * up if cap is None else (scale * up).clamp(max=cap), scale / 2)
    return StepResult(block, f0, start, float(steps), float(steps), scale, aux=blk.aux if track else None)


# -- solvers with one signature: solve(block, x, bstate, steps, hp) -> StepResult -----------------
# ``bstate`` is the block's own state, kept across outer iterations (gd: "eta"; adam: moments;
# gauss_newton / newton: the damping "lam").


def gd_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """Armijo-backtracked gradient steps (monotone); ``armijo_batch`` trials evaluated at once."""
    res = armijo_gd(block, x, bstate["eta"], steps, hp["armijo_c"], hp["max_backtracks"], hp.get("armijo_batch", 1))
    bstate["eta"] = res.eta
    return res


def lipschitz_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """Gradient steps of size ``lipschitz_step / L``, L the block's Lipschitz bound (monotone by the descent
    lemma; no trials)."""
    res = lipschitz_steps(block, x, steps, hp.get("lipschitz_step", 1.0), bstate.get("scale"),
                          hp.get("lipschitz_growth", 1.0))
    if res.eta is not None:
        bstate["scale"] = res.eta
    return res


def adam_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """``steps`` Adam steps on the block (``lysep.core.optim.adam_step``, Adam's default betas and eps); the
    moments are kept per block across outer iterations. Not monotone. Cost: ``steps`` gradients; the objective
    at the end is bookkeeping (the value a StepResult reports, which no step uses: docs/method.md section 8 charges
    no bookkeeping), so it is not charged."""
    from lysep.core.optim import adam_moments, adam_step

    blk = as_block(block)
    x = [t.detach() for t in x]
    if "moments" not in bstate:
        bstate["moments"] = adam_moments(x)
    start = n_grad = None
    with torch.no_grad():
        for _ in range(steps):
            f, grads = blk.value_and_grad(x)
            if start is None:
                start, n_grad = f, _counter(f)
            n_grad += _live(f)
            x = adam_step(x, grads, bstate["moments"], bstate["lr"])
        value = blk.value(x)
    return StepResult(x, value, start, n_grad, torch.zeros_like(n_grad))


def _with_ones(h: torch.Tensor, s: int) -> torch.Tensor:
    """[h, 1] per seed: (S, N, m+1)."""
    if h.dim() == 2:
        h = h.unsqueeze(0).expand(s, -1, -1)
    return torch.cat([h, torch.ones_like(h[..., :1])], dim=2)


def _accept(ok: torch.Tensor, new: list[torch.Tensor], old: list[torch.Tensor]) -> list[torch.Tensor]:
    return [pick(ok, n, o) for n, o in zip(new, old)]


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
    n_grad = torch.zeros(s, dtype=torch.float64, device=w.device)
    n_eval, n_fwd = n_grad.clone(), n_grad.clone()
    start = None
    eye = torch.eye(m + 1, dtype=w.dtype, device=w.device)
    with torch.no_grad():
        for _ in range(steps):
            a = torch.baddbmm(b.unsqueeze(1), A[..., :m], w.transpose(1, 2))
            sa = block.sigma(a)
            r, d = block.target - sa, block.deriv(a, sa)
            f0 = block.scale / 2 * sqsum(r)  # the block's own formula, so f0 and its trials compare alike
            start = f0 if start is None else start
            live = torch.isfinite(f0)
            n_grad += live.to(torch.float64)
            n_fwd += live.to(torch.float64) * (m + 1)  # the Gram matrices cost (m+1) layer passes
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
                n_eval += active.to(torch.float64)
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

    Solves ``(H + lam I) delta = -g`` over all K (M+1) parameters per seed (by Cholesky: the damped Hessian
    is symmetric positive definite; ``lysep.core.mm.newton_direction``), then Armijo backtracking along delta; a
    step is taken only if the objective decreases.
    """
    return _newton(block, x, bstate, steps, hp, cg_iters=None)


def newton_cg_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """``newton`` without the dense Hessian: ``(H + lam I) delta = -g`` by ``cg_iters`` conjugate-gradient steps on
    Hessian-vector products (``lysep.core.mm.newton_cg_direction``, ``O(N K m)`` each), the same line search. A
    truncated CG direction is a descent direction, so the step decreases the convex objective as ``newton``'s does
    and the iteration has the same fixed point, the minimiser."""
    return _newton(block, x, bstate, steps, hp, cg_iters=hp["cg_iters"])


def _newton(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict, cg_iters: int | None) -> StepResult:
    """The damped Newton iteration of ``newton`` (``cg_iters`` None: dense Hessian, Cholesky) and ``newton_cg``."""

    w, b = (t.detach() for t in x)
    s, k, m = w.shape
    lam = bstate.setdefault("lam", torch.full((s,), hp["damping"], dtype=w.dtype, device=w.device))
    A = _with_ones(block.h, s)
    n = A.shape[1]
    n_grad = torch.zeros(s, dtype=torch.float64, device=w.device)
    n_eval, n_fwd = n_grad.clone(), n_grad.clone()
    start = None
    eye = torch.eye(k * (m + 1), dtype=w.dtype, device=w.device) if cg_iters is None else None
    with torch.no_grad():
        for _ in range(steps):
            z = torch.baddbmm(b.unsqueeze(1), A[..., :m], w.transpose(1, 2))
            lse = torch.logsumexp(z, dim=2, keepdim=True)
            p = torch.exp(z - lse)
            onehot = block._onehot(p)  # labels shared by the seeds, or each seed's own minibatch
            f0 = (lse.squeeze(2) - (z * onehot).sum(2)).mean(1)
            start = f0 if start is None else start
            live = torch.isfinite(f0)
            n_grad += live.to(torch.float64)
            g = torch.einsum("snk,sna->ska", p - onehot, A).reshape(s, -1) / n
            if cg_iters is None:
                n_fwd += live.to(torch.float64) * k * (m + 1)  # the Hessian's N P^2 multiply-adds
                diag = torch.einsum("snk,sna,snb->skab", p, A, A)
                pa = p.unsqueeze(-1) * A.unsqueeze(2)  # (S, N, K, m+1)
                hess = -torch.einsum("snka,snlb->skalb", pa, pa)
                idx = torch.arange(k, device=w.device)
                hess[:, idx, :, idx, :] += diag.transpose(0, 1)
                hess = hess.reshape(s, k * (m + 1), k * (m + 1)) / n
                direction = mm.newton_direction(hess + lam[:, None, None] * eye, g)  # Cholesky: H + lam I is SPD
                n_fwd += live.to(torch.float64) * mm.newton_work(n, k, m)
            else:
                direction = mm.newton_cg_direction(p, A, g.reshape(s, k, m + 1), lam, cg_iters).reshape(s, -1)
                n_fwd += live.to(torch.float64) * mm.newton_cg_work(cg_iters)
            slope = (g * direction).sum(1)
            step = torch.ones_like(f0)
            active, f_best = live.clone(), f0.clone()
            for _ in range(hp["max_backtracks"]):
                if not bool(active.any()):
                    break
                dw = (step[:, None] * direction).reshape(s, k, m + 1)
                cand = [w + dw[..., :m], b + dw[..., m]]
                f1 = block.value(cand)
                n_eval += active.to(torch.float64)
                ok = active & (f1 <= f0 + hp["armijo_c"] * step * slope) & (f1 < f0)
                w, b = _accept(ok, cand, [w, b])
                f_best = torch.where(ok, f1, f_best)
                active &= ~ok
                step = torch.where(active, step / 2, step)
            f0 = f_best
    return StepResult([w, b], f0, start, n_grad, n_eval, forwards=n_fwd)


def output_mm_solver(block: OutputWeightBlock, x: list[torch.Tensor], bstate: dict, steps: int,
                     hp: dict) -> StepResult:
    """``steps`` MM steps on the output block: one Cholesky of ``C_lam`` per call, reused by every step.

    The gradient is the block's own (``value_and_grad``, from the tracked logits); the new point's logits are
    evaluated once (``move``) and are the next step's and the caller's. Charged per step one gradient and one
    evaluation (as a ``lipschitz`` step), plus ``mm.output_work``."""
    w, b = (t.detach() for t in x)
    s, k, m = w.shape
    with torch.no_grad():
        chol = mm.cholesky(mm.output_curvature(block.h, s, hp.get("mm_ridge", 0.0)))
        start = None
        for _ in range(steps):
            f, (gw, gb) = block.value_and_grad([w, b], cached=True)
            start = f if start is None else start
            delta = mm.output_step(torch.cat([gw, gb.unsqueeze(2)], dim=2), chol)
            w, b = w + delta[..., :m], b + delta[..., m]
            block.move([w, b])
    n = block.h.shape[-2] if block.h.dim() <= 3 else block.h.shape[1]
    return StepResult([w, b], None, start, float(steps), float(steps), forwards=mm.output_work(n, k, m, steps),
                      aux=block.aux)


def last_unit_mm_solver(block: LastUnitBlock, x: list[torch.Tensor], bstate: dict, steps: int,
                        hp: dict) -> StepResult:
    """``steps`` MM steps on u_D, all rows at once; one K x K Cholesky per call. The block's gradient times N is
    each row's gradient of ``beta/2 ||u - t||^2 + CE``. Charged as ``output_mm_solver``, with ``mm.last_unit_work``."""
    u = x[0].detach()
    n = u.shape[1]
    with torch.no_grad():
        v, beta_t, chol = mm.last_unit_factors(block.w, block.beta, hp.get("mm_ridge", 0.0))
        start = None
        for _ in range(steps):
            f, (g,) = block.value_and_grad([u], cached=True)
            start = f if start is None else start
            u = u + mm.last_unit_step(g.flatten(2) * n, v, beta_t, chol).view_as(u)
            block.move([u])
    k, m = v.shape[1], v.shape[2]
    return StepResult([u], None, start, float(steps), float(steps), forwards=mm.last_unit_work(n, k, m, steps),
                      aux=block.aux)


def mm_solver(block, x: list[torch.Tensor], bstate: dict, steps: int, hp: dict) -> StepResult:
    """The ``mm`` rule: the exact-curvature MM step on the output block and on u_D, the ``lipschitz`` rule (the
    isotropic majorizer) on a hidden U block."""
    if isinstance(block, OutputWeightBlock):
        return output_mm_solver(block, x, bstate, steps, hp)
    if isinstance(block, LastUnitBlock):
        return last_unit_mm_solver(block, x, bstate, steps, hp)
    return lipschitz_solver(block, x, bstate, steps, hp)


SOLVERS = {"gd": gd_solver, "lipschitz": lipschitz_solver, "adam": adam_solver, "gauss_newton": gauss_newton_solver,
           "newton": newton_solver, "newton_cg": newton_cg_solver, "mm": mm_solver}
