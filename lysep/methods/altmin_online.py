"""altmin-online: online alternating minimisation with codes (Choromanska et al., ICML 2019; docs/method.md
"Online alternating minimisation"). The torch-side iteration is ``lysep.core.altmin_online``."""

from __future__ import annotations

from typing import ClassVar

from lysep.methods.base import ALTERNATING, HParam, Method, positive, positive_int
from lysep.methods.bcd import fnn_only
from lysep.methods.space import Range


def nonnegative_number() -> dict:
    return {"check": lambda v: v >= 0, "expect": "a number >= 0"}


class OnlineAltMin(Method):
    """Online AltMin: per minibatch, codes by a few SGD steps, then every layer by Adam on its local loss."""

    name: ClassVar[str] = "altmin-online"
    family: ClassVar[str] = ALTERNATING
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # the defaults of the reference code's run_altmin_sgd.py
        "batch_size": HParam(int, 200, **positive_int(), help="samples per minibatch (per seed)"),
        "mu": HParam(float, 0.003, **positive(), help="penalty weight mu (the output loss is divided by it)"),
        "d_mu": HParam(float, 0.0, **nonnegative_number(), help="increase of mu per minibatch (up to 10 mu)"),
        "code_steps": HParam(int, 5, **positive_int(), help="SGD steps per code and minibatch"),
        "lr_codes": HParam(float, 0.3, **positive(), help="step size of the code updates"),
        "weight_steps": HParam(int, 1, **positive_int(), help="Adam steps per layer and minibatch"),
        "lr_weights": HParam(float, 0.008, **positive(), help="Adam step size of the hidden layers"),
        "lr_out": HParam(float, 0.008, **positive(), help="Adam step size of the output layer"),
        "lr_half_epochs": HParam(int, 8, **positive_int(), help="epochs after which the Adam step sizes halve"),
    }
    SEARCH: ClassVar[dict] = {"lr_codes": Range(1e-2, 1.0, "log"), "lr_weights": Range(1e-4, 0.1, "log"),
                              "lr_out": Range(1e-4, 0.1, "log"), "mu": Range(1e-4, 1.0, "log")}

    def __init__(self, activation: str = "tanh", **hp) -> None:
        super().__init__(activation, **hp)
        self._engine = None

    @property
    def decrease_guaranteed(self) -> bool:
        """Fixed-step SGD and Adam, on losses that change with every minibatch: no guarantee (the paper gives
        none for the online method)."""
        return False

    def check_model(self, model) -> None:
        fnn_only(self.name, model)

    def engine(self):
        if self._engine is None:
            from lysep.core.altmin_online import OnlineAltMin as Engine

            self._engine = Engine(self.activation, self.hp)
        return self._engine

    def init(self, problem, params, seeds):
        return self.engine().init(problem, params, seeds)

    def step(self, problem, state):
        self.engine().step(problem, state)
