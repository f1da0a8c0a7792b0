"""LySep: alternating minimisation of the layer separation loss J (docs/method.md).

The declaration (hyperparameters, family, guarantees, metrics) lives here; the outer iteration is
``lysep.core.am.AlternatingMinimization``, loaded on first use so that listing and validating methods
does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from lysep.core.activations import DERIVATIVES, check_activation
from lysep.core.choices import ARMIJO_C, MONOTONE_SOLVERS, NORMS, SCHEDULES
from lysep.methods.base import (
    ALTERNATING,
    PARAM_COPIES,
    Footprint,
    HParam,
    Method,
    Metric,
    State,
    at_least_one,
    nonnegative,
    positive,
    positive_int,
)
from lysep.methods.space import Choice, Range

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from lysep.core.model import ConvSpec, ModelSpec, Params
    from lysep.core.problem import Problem

#: inner solvers allowed per block kind (names: lysep.core.choices.SOLVERS)
#: (``mm`` on the U blocks: the exact-curvature MM step on u_D, the ``lipschitz`` rule on the hidden ones)
U_SOLVERS: tuple[str, ...] = ("gd", "lipschitz", "adam", "mm")
W_SOLVERS: tuple[str, ...] = ("gd", "lipschitz", "adam", "gauss_newton")
OUT_SOLVERS: tuple[str, ...] = ("gd", "lipschitz", "adam", "newton", "newton_cg", "mm")

#: U-sized tensors a full-batch AM iteration holds at once: U, each layer's cached pre-activation and output,
#: a trial's two, a block gradient and a candidate
SWEEP_COPIES = 7

#: the metrics every layer-separation method records (lysep and lysep-joint)
AUXILIARY_METRICS: dict[str, Metric] = {
    "J": Metric("the LySep loss at the end of the iteration, at the iteration's weights beta", gap="surrogate_gap",
                diverges=True),
    "J_start": Metric("the LySep loss at the start of the iteration, same weights"),
    "B": Metric("the certified upper bound of the training CE", gap="bound_gap"),
    "residual": Metric("mean per-sample residual norm ||r_l||", per_layer=True),
    "beta": Metric("the weight beta_l used during the iteration", per_layer=True),
}


def schedule_hparams(schedule: str, beta: float, rho: float, norm: str = "frobenius") -> dict[str, HParam]:
    """The weight-schedule hyperparameters, with each method's own defaults."""
    return {
        "schedule": HParam(str, schedule, choices=SCHEDULES, help="weights beta_l: fixed, adaptive or continuation"),
        "beta": HParam(float, beta, **positive(), help="base weight beta"),
        "rho": HParam(float, rho, **at_least_one(), help="continuation: beta multiplied by rho per iteration",
                      active=lambda hp: hp["schedule"] == "continuation"),
        "beta_max": HParam(float, 1e4, **positive(), help="continuation: largest beta",
                           active=lambda hp: hp["schedule"] == "continuation"),
        "norm": HParam(str, norm, choices=NORMS, help="adaptive: norm in the weights omega_l",
                       active=lambda hp: hp["schedule"] == "adaptive"),
        "bound_norm": HParam(str, "spectral", choices=NORMS, help="norm in the certificate B"),
    }


#: the default search space of the weight schedules (``lysep tune``): every schedule and norm of the schema
SCHEDULE_SEARCH: dict = {"schedule": Choice(), "norm": Choice(), "beta": Range(1e-3, 1e3, "log"),
                         "rho": Range(1.001, 1.2, "log"), "beta_max": Range(1e2, 1e6, "log")}


def make_schedule_of(hp: dict, activation: str):
    """The weight schedule a method's hyperparameters describe (``lysep.core.schedules``)."""
    from lysep.core.schedules import make_schedule

    return make_schedule(hp["schedule"], beta=hp["beta"], rho=hp["rho"], beta_max=hp["beta_max"], norm=hp["norm"],
                         activation=activation)


class LySep(Method):
    """Alternating minimisation of J: U step then W step, each block by an inner solver."""

    paper_method = True

    name: ClassVar[str] = "lysep"
    family: ClassVar[str] = ALTERNATING
    METRICS: ClassVar[dict[str, Metric]] = AUXILIARY_METRICS
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # the default (adaptive weights with spectral norms, base beta 0.02, one Armijo gd step per block): the
        # best setting of `lysep tune` on Example 1 that keeps the decrease property, ahead of the former default
        # (fixed, beta 100) on the reporting seeds of both paper examples (docs/tuning.md, "The built-in defaults")
        **schedule_hparams("adaptive", 0.02, 1.05, "spectral"),
        "u_solver": HParam(str, "gd", choices=U_SOLVERS,
                           help="inner solver of the U blocks (mm: exact-curvature MM on u_D, lipschitz on the rest)"),
        "w_solver": HParam(str, "gd", choices=W_SOLVERS, help="inner solver of the hidden W blocks"),
        "out_solver": HParam(str, "gd", choices=OUT_SOLVERS,
                             help="inner solver of the output layer (mm: exact-curvature MM, one Cholesky per W step)"),
        "lr_u": HParam(float, 1e-2, **positive(), help="adam U blocks: learning rate",
                       active=lambda hp: hp["u_solver"] == "adam"),
        "lr_w": HParam(float, 1e-2, **positive(), help="adam W blocks: learning rate",
                       active=lambda hp: "adam" in (hp["w_solver"], hp["out_solver"])),
        "damping": HParam(float, 1e-3, **positive(), help="gauss_newton / newton: initial damping"),
        "cg_iters": HParam(int, 20, **positive_int(), help="newton_cg: conjugate-gradient steps per Newton direction",
                           active=lambda hp: hp["out_solver"] == "newton_cg"),
        "parallel_w": HParam(bool, False, help="solve hidden W blocks of one shape as one batch"),
        "u_steps": HParam(int, 1, **positive_int(), help="inner steps per U block"),
        "w_steps": HParam(int, 1, **positive_int(), help="inner steps per W block"),
        "eta0": HParam(float, 1.0, **positive(), help="gd: first step size (U blocks: eta0 * N)"),
        "armijo_c": HParam(float, ARMIJO_C, check=lambda v: 0 < v < 1, expect="a number in (0, 1)",
                           help="gd: Armijo sufficient-decrease constant"),
        "max_backtracks": HParam(int, 30, **positive_int(), help="gd / second order: halvings before giving up"),
        "lipschitz_step": HParam(float, 1.0, check=lambda v: 0 < v < 2, expect="a number in (0, 2)",
                                 help="lipschitz: the step is lipschitz_step / L (below 2: J cannot increase)"),
        "lipschitz_growth": HParam(float, 1.0, **at_least_one(),
                                   help="lipschitz: > 1 adapts the step (x growth if J fell, / 2 and no move if not)"),
        "mm_ridge": HParam(float, 1e-4, **nonnegative(),
                           help="mm: ridge added to the MM curvature matrices, times their mean diagonal entry",
                           active=lambda hp: "mm" in (hp["u_solver"], hp["out_solver"])),
        "armijo_batch": HParam(int, 1, **positive_int(),
                               help="gd: trial step sizes evaluated at once (>= max_backtracks: no host sync)"),
    }
    #: lysep tune's default space: the schedules, and every inner solver (step rule) of the schema with its steps
    SEARCH: ClassVar[dict] = {**SCHEDULE_SEARCH, "u_solver": Choice(), "w_solver": Choice(), "out_solver": Choice(),
                              "lr_u": Range(1e-3, 0.3, "log"), "lr_w": Range(1e-3, 0.3, "log")}

    def __init__(self, activation: str = "tanh", **hp: Any) -> None:
        super().__init__(activation, **hp)
        check_activation(activation)
        if self.hp["w_solver"] == "gauss_newton" and activation not in DERIVATIVES:
            raise ValueError(f"method 'lysep': w_solver = 'gauss_newton' needs an activation with a closed-form "
                             f"derivative ({', '.join(DERIVATIVES)}), not {activation!r}")
        self._engine = None

    @property
    def decrease_guaranteed(self) -> bool:
        """Every block solver accepts only steps that do not increase its block objective (``lipschitz`` and
        ``mm``: takes only steps that cannot, by a quadratic upper bound), so J cannot increase over an iteration
        at that iteration's weights (block coordinate descent)."""
        return {self.hp["u_solver"], self.hp["w_solver"], self.hp["out_solver"]} <= MONOTONE_SOLVERS

    def check_model(self, model: ModelSpec | ConvSpec) -> None:
        self._check_conv(len(model.input_shape) == 3)

    def memory(self, n_train: int, footprint: Footprint) -> float:
        """U and the fused sweep's full-set temporaries (``SWEEP_COPIES`` U-sized tensors), and the parameters."""
        return SWEEP_COPIES * n_train * footprint.per_sample + PARAM_COPIES * footprint.params

    def _check_conv(self, conv: bool) -> None:
        if conv and self.hp["w_solver"] == "gauss_newton":
            raise ValueError("method 'lysep': w_solver = 'gauss_newton' solves dense layers only; a CNN needs "
                             "w_solver = 'gd' or 'adam'")

    def engine(self):
        """The torch-side outer iteration (``build_engine``), built on first use."""
        if self._engine is None:
            self._engine = self.build_engine()
        return self._engine

    def build_engine(self):
        """The full-batch outer iteration, ``lysep.core.am``."""
        from lysep.core.am import AlternatingMinimization

        return AlternatingMinimization(self.activation, self.hp, make_schedule_of(self.hp, self.activation))

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """theta_0 as given; U_0 by a forward pass, so r_l = 0 and J = F at iteration 0."""
        self._check_conv(params[0][0].dim() == 5)
        return self.engine().init(problem, params)

    def step(self, problem: Problem, state: State) -> None:
        self.engine().step(problem, state)

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        from lysep.core.am import auxiliary_metrics

        return auxiliary_metrics(problem, state, self.activation, self.hp["bound_norm"])
