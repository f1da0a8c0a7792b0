"""MAC, the method of auxiliary coordinates (Carreira-Perpinan & Wang, AISTATS 2014), as a named preset of
``lysep`` (docs/method.md, "MAC is LySep with the continuation schedule").

MAC minimises the quadratic-penalty function ``E_Q(W, Z; mu) = loss(output layer on z_D) + (mu / 2) sum_l
||z_l - s(W_l z_{l-1} + b_l)||^2`` over the weights and the hidden units' auxiliary coordinates by alternating a
W step (every layer's fit, separately) and a Z step (every sample's coordinates), and multiplies ``mu`` by a
factor ``a > 1`` along the way. With the cross-entropy as the loss and the mean over samples, ``E_Q`` is LySep's
``J`` with every ``beta_l = mu``, and the ``continuation`` schedule is MAC's ``mu_k = mu_0 a^k``; so MAC is not
written twice: this class is ``lysep`` with MAC's defaults (every hyperparameter of ``lysep`` stays available).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from lysep.methods.base import HParam
from lysep.methods.lysep import SCHEDULE_SEARCH, LySep
from lysep.methods.space import Choice, Range

#: MAC's penalty schedule: mu_0 and the factor a (mu doubles after every W and Z step), and the cap
MAC_MU0, MAC_FACTOR, MAC_MU_MAX = 1.0, 2.0, 1e4


class MAC(LySep):
    """MAC: quadratic penalty on the hidden outputs, mu doubled every iteration (lysep with continuation)."""

    name: ClassVar[str] = "mac"
    HPARAMS: ClassVar[dict[str, HParam]] = {
        **LySep.HPARAMS,
        "schedule": replace(LySep.HPARAMS["schedule"], default="continuation"),
        "beta": replace(LySep.HPARAMS["beta"], default=MAC_MU0, help="MAC's mu_0 (beta of the first iteration)"),
        "rho": replace(LySep.HPARAMS["rho"], default=MAC_FACTOR, help="MAC's factor a: mu multiplied per iteration"),
        "beta_max": replace(LySep.HPARAMS["beta_max"], default=MAC_MU_MAX, help="largest mu"),
    }
    #: the continuation schedule's constants and the step rules; the schedule itself is what makes it MAC
    SEARCH: ClassVar[dict] = {"beta": SCHEDULE_SEARCH["beta"], "rho": Range(1.01, 4.0, "log"),
                              "beta_max": SCHEDULE_SEARCH["beta_max"], "u_solver": Choice(), "w_solver": Choice(),
                              "out_solver": Choice()}
