"""dladmm: deep learning ADMM with a multiplier on the last layer's constraint only (Wang, Yu, Zhao, KDD 2019;
docs/method.md "dlADMM"). The torch-side iteration is ``lysep.core.dladmm``."""

from __future__ import annotations

from typing import ClassVar

from lysep.methods.base import ALTERNATING, HParam, positive, positive_int
from lysep.methods.bcd import SplittingMethod, bound_norm_hparam
from lysep.methods.space import Range


class DLADMM(SplittingMethod):
    """dlADMM: backward and forward sweeps of quadratic-approximation block steps, then a dual step."""

    name: ClassVar[str] = "dladmm"
    family: ClassVar[str] = ALTERNATING
    ENGINE: ClassVar[tuple[str, str]] = ("lysep.core.dladmm", "DLADMM")
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # rho = nu: the reference code uses one penalty for both; 0.1 is the largest value its schedule reaches
        "rho": HParam(float, 0.1, **positive(), help="penalty of the last layer's constraint (and the dual step)"),
        "nu": HParam(float, 0.1, **positive(), help="penalty of the hidden layers' constraints"),
        "theta": HParam(float, 1.0, **positive(), help="first curvature of a W step's quadratic approximation"),
        "tau": HParam(float, 1.0, **positive(), help="first curvature of an a step's quadratic approximation"),
        "out_steps": HParam(int, 5, **positive_int(), help="damped Newton steps of the z_L subproblem"),
        "u_steps": HParam(int, 5, **positive_int(), help="elementwise Armijo steps of a hidden z block (not relu)"),
        "max_backtracks": HParam(int, 40, **positive_int(), help="curvature doublings / step halvings per step"),
        "bound_norm": bound_norm_hparam(),
    }
    SEARCH: ClassVar[dict] = {"rho": Range(1e-4, 10.0, "log"), "nu": Range(1e-4, 10.0, "log")}

    @property
    def decrease_guaranteed(self) -> bool:
        """The primal blocks never increase the augmented Lagrangian, but the dual step ``u += rho r`` raises it by
        ``rho msq(r)``; the paper's descent (its Lemma) needs rho above a bound that is not checked here."""
        return False
