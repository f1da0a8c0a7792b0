"""The named choices a spec makes for the solver's parts (weight schedules, norms, inner solvers), the
step rule's constant and the memory budget of an evaluation chunk.

The single home of these names, torch-free so that specs validate without loading torch; the
torch-side modules (``lysep.core.schedules``, ``lysep.core.objectives``, ``lysep.core.inner``) map each name to its
implementation, and a test checks that the two agree.
"""

from __future__ import annotations

#: weight schedules of beta_l (lysep.core.schedules)
SCHEDULES: tuple[str, ...] = ("fixed", "adaptive", "continuation")
#: matrix / operator norms for the certificate and the adaptive weights (lysep.core.objectives)
NORMS: tuple[str, ...] = ("spectral", "frobenius")
#: inner block solvers (lysep.core.inner.SOLVERS)
SOLVERS: tuple[str, ...] = ("gd", "lipschitz", "adam", "gauss_newton", "newton", "newton_cg", "mm")
#: solvers that accept only steps that do not increase their block objective (docs/method.md)
MONOTONE_SOLVERS: frozenset[str] = frozenset({"gd", "lipschitz", "gauss_newton", "newton", "newton_cg", "mm"})
#: Armijo sufficient-decrease constant of the ``gd`` block solver (docs/method.md section 4)
ARMIJO_C = 1e-4
#: most bytes of activations one chunk of a full-training-set evaluation may hold (lysep.core.chunks; the memory
#: estimate of lysep.harness.memory adds it to every unit)
EVAL_BYTES = 2**27
