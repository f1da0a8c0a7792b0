"""Majorize-minimize (MM) steps for the convex ends of the LySep chain (docs/method.md section 4.8).

Softmax cross-entropy in its logits has the Hessian ``diag(p) - p p^T``, at most
``A = (1/2)(I_K - 1 1^T / K)`` for every logit vector (Böhning 1992; the bound of LORSAL/SMLR,
Krishnapuram et al. 2005). So the two blocks in which the CE term is a function of an affine map
of the block have a quadratic majorizer with a *fixed* curvature, and its minimiser is one
linear solve with a matrix that does not change while the other blocks are fixed:

- the output block ``(W_{D+1}, b_{D+1})``: curvature ``A (x) C_lam``, ``C = U~^T U~ / N`` with
  ``U~ = [u_D, 1]``; the step ``Theta+ = Theta - 2 grad G C_lam^{-1}`` (one Cholesky of an
  ``(m+1) x (m+1)`` matrix per seed and solve);
- the last auxiliary block ``u_D``: per row ``beta_D / 2 ||u - t||^2 + CE(W u + b, y)`` (the block
  objective times N) has curvature at most ``M_lam = beta_D I + W^T A W + ridge``, the same matrix for
  every row; the step ``u+ = u - M_lam^{-1} (N grad)`` for all rows at once, by Woodbury with one
  Cholesky of a ``K x K`` matrix per seed.

``lam`` (hyperparameter ``mm_ridge``) adds ``mm_ridge`` times the curvature matrix's mean diagonal
entry to its diagonal: a larger curvature still majorizes, so the decrease stays exact, and the
matrix is positive definite whatever the data. Every step decreases its block objective (hence J)
without a trial, an objective value or a host synchronisation. The hidden blocks have no majorizer
of this kind (their curvature depends on the activation's second derivative times the residual,
whose sign changes), so ``u_solver = "mm"`` gives them the ``lipschitz`` rule (docs/method.md 4.7),
the isotropic majorizer ``L I``.

Counts (``forwards``, in units of one forward of the block's layer over the block's N rows, the
unit of ``lysep.core.cost``) are exact multiply-add counts of the solves, from ``output_work`` and
``last_unit_work``.
"""

from __future__ import annotations

import torch


def bohning(k: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """``A = (1/2)(I_K - 1 1^T / K)``: an upper bound (Loewner order) of CE's Hessian in the logits -> (K, K)."""
    return 0.5 * (torch.eye(k, dtype=dtype, device=device) - 1.0 / k)


def ridged(matrix: torch.Tensor, ridge: float) -> torch.Tensor:
    """``matrix + ridge * tau I``, ``tau`` its mean diagonal entry, per leading index: (..., n, n)."""
    n = matrix.shape[-1]
    tau = torch.diagonal(matrix, dim1=-2, dim2=-1).mean(-1)
    eye = torch.eye(n, dtype=matrix.dtype, device=matrix.device)
    return matrix + (ridge * tau)[..., None, None] * eye


def cholesky(matrix: torch.Tensor) -> torch.Tensor:
    """The lower Cholesky factor, without the error check (a failed factor gives non-finite values: no sync)."""
    return torch.linalg.cholesky_ex(matrix)[0]


def _solve(chol: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``(L L^T)^{-1} rhs`` by two triangular solves (no error check, so no host synchronisation)."""
    x = torch.linalg.solve_triangular(chol, rhs, upper=False)
    return torch.linalg.solve_triangular(chol.mT, x, upper=True)


def features(h: torch.Tensor, s: int) -> torch.Tensor:
    """``U~ = [h, 1]`` per seed, ``h`` (N, m) shared, (S, N, m) or feature maps (S, N, C, H, W) -> (S, N, m+1)."""
    if h.dim() > 3:
        h = h.flatten(2)
    if h.dim() == 2:
        h = h.unsqueeze(0).expand(s, -1, -1)
    return torch.cat([h, torch.ones_like(h[..., :1])], dim=2)


def output_curvature(h: torch.Tensor, s: int, ridge: float) -> torch.Tensor:
    """``C_lam = U~^T U~ / N + ridge tau I`` per seed -> (S, m+1, m+1)."""
    a = features(h, s)
    return ridged(a.mT @ a / a.shape[1], ridge)


def output_step(grad: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """The majorizer minimiser's move ``-2 grad C_lam^{-1}``: ``grad`` (S, K, m+1) of G, ``chol`` C_lam's factor."""
    return -2.0 * _solve(chol, grad.mT).mT


def output_work(n: int, k: int, m: int, steps: int) -> float:
    """Multiply-adds of an output MM solve beyond its gradients and evaluations, in layer forwards (``N K (m+1)``
    each): the Gram matrix ``N (m+1)^2``, its Cholesky ``(m+1)^3 / 6``, and per step two triangular solves with
    K right-hand sides, ``K (m+1)^2``."""
    q = m + 1
    return (n * q * q + q**3 / 6 + steps * k * q * q) / (n * k * q)


def last_unit_factors(w: torch.Tensor, beta: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor,
                                                                                    torch.Tensor]:
    """``M_lam = beta~ I + V^T V`` with ``V = A^{1/2} W = (W - 1 (1^T W) / K) / sqrt(2)`` (so ``V^T V = W^T A W``)
    and ``beta~ = beta + ridge tr(beta I + V^T V) / m``: ``V`` (S, K, m), ``beta~`` (S,) and the Cholesky factor
    of ``beta~ I_K + V V^T`` (S, K, K), the K x K matrix of Woodbury's identity."""
    m = w.shape[2]
    v = (w - w.mean(dim=1, keepdim=True)) * 0.5**0.5
    vsq = v.pow(2).flatten(1).sum(1)
    beta_t = beta + ridge * (beta * m + vsq) / m
    small = v @ v.mT + beta_t[:, None, None] * torch.eye(w.shape[1], dtype=w.dtype, device=w.device)
    return v, beta_t, cholesky(small)


def last_unit_step(g: torch.Tensor, v: torch.Tensor, beta_t: torch.Tensor, chol: torch.Tensor) -> torch.Tensor:
    """``-M_lam^{-1} g`` for every row of ``g`` (S, N, m): Woodbury,
    ``M_lam^{-1} = (I - V^T (beta~ I + V V^T)^{-1} V) / beta~``."""
    z = _solve(chol, v @ g.mT)  # (S, K, N)
    return -(g - (z.mT @ v)) / beta_t[:, None, None]


def last_unit_work(n: int, k: int, m: int, steps: int) -> float:
    """Multiply-adds of a u_D MM solve beyond its gradients and evaluations, in forwards of the output layer
    (``N K (m+1)``): ``V V^T`` (``K^2 m``), its Cholesky (``K^3 / 6``), and per step ``V g^T``, the two triangular
    solves and ``z^T V`` (``2 N K m + N K^2``)."""
    return (k * k * m + k**3 / 6 + steps * (2 * n * k * m + n * k * k)) / (n * k * (m + 1))


# -- the exact Newton output solve (inner solver ``newton``), by Cholesky ------------------------------------


def newton_direction(damped: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``-(H + lam I)^{-1} g`` per seed, ``damped`` (S, P, P) symmetric positive definite (``H`` the Hessian of the
    convex G, ``lam > 0``), ``g`` (S, P): one Cholesky (``P^3 / 6`` multiply-adds, half of LU's) and two triangular
    solves, without an error check (no host synchronisation)."""
    return -_solve(cholesky(damped), g.unsqueeze(-1)).squeeze(-1)


def newton_cg_direction(p: torch.Tensor, a: torch.Tensor, g: torch.Tensor, lam: torch.Tensor,
                        iters: int) -> torch.Tensor:
    """``-(H + lam I)^{-1} g`` per seed by ``iters`` steps of conjugate gradients from 0, never forming ``H``:
    ``H V = A~^T (P (.) Z - P (.) (P Z 1) 1^T) / N`` with ``Z = A~ V^T`` (the softmax Jacobian applied row by row),
    two products of the output layer's size per step. ``p`` (S, N, K) the probabilities, ``a`` (S, N, m+1) the
    features with their ones column, ``g`` (S, K, m+1) the gradient. A fixed number of steps (no host
    synchronisation); a seed whose residual vanished stops moving (its step lengths are set to 0). CG from 0 on
    an SPD system returns a descent direction after any number of steps."""
    n = a.shape[1]

    def apply(v: torch.Tensor) -> torch.Tensor:
        z = a @ v.mT  # (S, N, K)
        pz = p * z
        r = pz - p * pz.sum(2, keepdim=True)
        return (r.mT @ a) / n + lam[:, None, None] * v

    def ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        ok = den > 0
        return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))

    x = torch.zeros_like(g)
    r = -g
    d = r.clone()
    rs = (r * r).sum((1, 2))
    for _ in range(iters):
        ad = apply(d)
        alpha = ratio(rs, (d * ad).sum((1, 2)))[:, None, None]
        x = x + alpha * d
        r = r - alpha * ad
        rs_new = (r * r).sum((1, 2))
        d = r + ratio(rs_new, rs)[:, None, None] * d
        rs = rs_new
    return x


def newton_cg_work(iters: int) -> float:
    """Multiply-adds of one ``newton_cg_direction``, in forwards of the output layer (``N K (m+1)``): per CG step one
    Hessian-vector product, ``A~ V^T`` and ``R^T A~`` (one forward's worth each)."""
    return 2.0 * iters


def newton_work(n: int, k: int, m: int) -> float:
    """Multiply-adds of one ``newton_direction`` on the output layer (``P = K (m+1)``), in layer forwards
    (``N K (m+1)``): the Cholesky ``P^3 / 6`` and the two triangular solves ``P^2``."""
    p = k * (m + 1)
    return (p**3 / 6 + p * p) / (n * p)
