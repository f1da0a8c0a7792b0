"""bcd: proximal block coordinate descent on the three-way splitting (Zeng, Lau, Lin, Yao, ICML 2019;
docs/method.md "Proximal BCD"). The torch-side iteration is ``lysep.core.bcd``."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lysep.core.choices import NORMS
from lysep.methods.base import ALTERNATING, PARAM_COPIES, Footprint, HParam, Method, Metric, positive, positive_int
from lysep.methods.space import Range

if TYPE_CHECKING:  # pragma: no cover
    from lysep.core.model import ConvSpec, ModelSpec

#: the metrics of a splitting method: its own objective at the end and start of the iteration, and the
#: certificate of docs/method.md section 3 with its post-activation variables as U
SPLITTING_METRICS: dict[str, Metric] = {
    # no surrogate_gap: that column (and claim c1b) is about LySep's J; this J is another loss
    "J": Metric("the method's own objective at the end of the iteration (docs/method.md, the alternating family)",
                diverges=True),
    "J_start": Metric("the method's own objective at the start of the iteration"),
    "B": Metric("the certified upper bound of the training CE at the method's post-activation variables",
                gap="bound_gap"),
    "residual": Metric("mean per-sample residual norm ||u_l - s(u_{l-1} W_l^T + b_l)|| of the post-activation "
                       "variables", per_layer=True),
}


#: activation-sized tensors a splitting method holds per sample: its two variables per layer (U and V, or z and a),
#: and an iteration's temporaries (the activation, a centre, a trial, a gradient, a Newton step)
SPLIT_COPIES = 7


def splitting_memory(n_train: int, footprint: Footprint) -> float:
    """Both variables and the temporaries for all N rows, plus the parameters' copies."""
    return SPLIT_COPIES * n_train * footprint.per_sample + PARAM_COPIES * footprint.params


def bound_norm_hparam() -> HParam:
    return HParam(str, "spectral", choices=NORMS, help="norm in the certificate B")


def fnn_only(name: str, model: ModelSpec | ConvSpec) -> None:
    """ValueError before any work for a CNN: the method's closed-form blocks are written for dense layers."""
    if len(model.input_shape) == 3:
        raise ValueError(f"method {name!r} trains fully connected networks only (model kind 'fnn'), not a CNN")


class SplittingMethod(Method):
    """A dense-only splitting method whose iterations an engine of ``lysep.core`` carries out (``ENGINE``: module and
    class, imported on first use, so listing and validating methods stays torch-free); bcd and dladmm."""

    ENGINE: ClassVar[tuple[str, str]]
    METRICS: ClassVar[dict[str, Metric]] = SPLITTING_METRICS

    def __init__(self, activation: str = "tanh", **hp) -> None:
        super().__init__(activation, **hp)
        self._engine = None

    def check_model(self, model: ModelSpec | ConvSpec) -> None:
        fnn_only(self.name, model)

    def memory(self, n_train: int, footprint: Footprint) -> float:
        return splitting_memory(n_train, footprint)

    def engine(self):
        if self._engine is None:
            import importlib

            module, cls = self.ENGINE
            self._engine = getattr(importlib.import_module(module), cls)(self.activation, self.hp)
        return self._engine

    def init(self, problem, params, seeds):
        return self.engine().init(problem, params)

    def step(self, problem, state):
        self.engine().step(problem, state)

    def metrics(self, problem, state):
        return self.engine().metrics(problem, state, self.hp["bound_norm"])


class ProximalBCD(SplittingMethod):
    """Proximal BCD on pre- and post-activation variables (three-way splitting), closed-form blocks."""

    name: ClassVar[str] = "bcd"
    family: ClassVar[str] = ALTERNATING
    ENGINE: ClassVar[tuple[str, str]] = ("lysep.core.bcd", "ProximalBCD")
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # the reference code's values (timlautk/BCD-for-DNNs-PyTorch, MNIST MLP): gamma = rho = 1, alpha = 5
        "gamma": HParam(float, 1.0, **positive(), help="weight of the activation terms ||V_l - s(U_l)||^2"),
        "rho": HParam(float, 1.0, **positive(), help="weight of the linear terms ||U_l - W_l V_{l-1} - b_l||^2"),
        "alpha": HParam(float, 5.0, **positive(), help="proximal weight (sufficient decrease)"),
        "out_steps": HParam(int, 5, **positive_int(), help="damped Newton steps of the cross-entropy block V_{D+1}"),
        "u_steps": HParam(int, 5, **positive_int(), help="elementwise Armijo steps of a U block (not relu: exact)"),
        "max_backtracks": HParam(int, 30, **positive_int(), help="step halvings before a step is given up"),
        "bound_norm": bound_norm_hparam(),
    }
    SEARCH: ClassVar[dict] = {"gamma": Range(1e-2, 1e2, "log"), "rho": Range(1e-2, 1e2, "log"),
                              "alpha": Range(1e-2, 1e2, "log")}

    @property
    def decrease_guaranteed(self) -> bool:
        """Every block is an exact minimiser or a step that does not increase its block objective plus its
        proximal term, so J cannot increase (the paper's sufficient decrease)."""
        return True
