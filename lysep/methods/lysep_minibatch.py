"""lysep-minibatch: LySep's alternating minimisation on one minibatch per iteration (docs/method.md 4.6).

Every hyperparameter of ``lysep`` (schedules, inner solvers, step sizes) plus ``batch_size``. ``U`` is
stored for all N rows; an iteration updates its batch's rows of ``U`` and takes the W blocks' steps
on that batch. Its own method (not a ``batch_size`` key of ``lysep``) because it declares other
things: the decrease it guarantees is that of ``J`` on the iteration's batch (``J_batch_start`` ->
``J_batch``), not of the full ``J``, and its trace has no full-set ``J_start``. The torch-side
iteration is ``lysep.core.am_minibatch``, loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lysep.core.state import State
from lysep.methods.base import PARAM_COPIES, Footprint, HParam, Metric, positive_int
from lysep.methods.lysep import AUXILIARY_METRICS, LySep, make_schedule_of, schedule_hparams

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from lysep.core.model import Params
    from lysep.core.problem import Problem

#: activation-sized tensors one block solve holds per batch row (the layer's input and target, its cached
#: pre-activation and output, a trial's two, the gradient and the candidate), counted generously
BATCH_COPIES = 10

#: the trace metrics: J and B on the full training set, and J on each iteration's batch at its start and end
MINIBATCH_METRICS: dict[str, Metric] = {
    "J": Metric("the LySep loss on the full training set at the row's (theta, U), at the iteration's weights beta",
                gap="surrogate_gap", diverges=True),
    "B": Metric("the certified upper bound of the training CE, on the full training set", gap="bound_gap"),
    "J_batch_start": Metric("the LySep loss on the iteration's minibatch at its start, same weights"),
    "J_batch": Metric("the LySep loss on the iteration's minibatch at its end, same weights"),
    "residual": AUXILIARY_METRICS["residual"],
    "beta": AUXILIARY_METRICS["beta"],
}


class LySepMinibatch(LySep):
    """Minibatch alternating minimisation of J: the batch's rows of U, then the W blocks on that batch."""

    name: ClassVar[str] = "lysep-minibatch"
    METRICS: ClassVar[dict[str, Metric]] = MINIBATCH_METRICS
    HPARAMS: ClassVar[dict[str, HParam]] = {
        **LySep.HPARAMS,
        # the full-batch default's evidence (docs/tuning.md) does not cover minibatches: fixed weights, beta 100
        **schedule_hparams("fixed", 100.0, 1.05),
        # an adam U block would need moments for all N rows of U (three times its memory): gd only
        "u_solver": HParam(str, "gd", choices=("gd",), help="inner solver of the U blocks (the batch's rows)"),
        "batch_size": HParam(int, 128, **positive_int(),
                             help="samples per minibatch (per seed): U rows updated per step"),
    }
    #: lysep's space without the U blocks' solver and step size (its U blocks are gd only)
    SEARCH: ClassVar[dict] = {k: v for k, v in LySep.SEARCH.items() if k not in ("u_solver", "lr_u")}

    @property
    def decrease_guaranteed(self) -> bool:
        """With monotone block solvers, J on the iteration's batch (fixed weights) cannot increase over the
        iteration (block coordinate descent on the batch's J); the full J has no such guarantee."""
        return super().decrease_guaranteed

    def memory(self, n_train: int, footprint: Footprint) -> float:
        """U for all N rows, plus one batch's block temporaries and the parameters' copies."""
        rows = min(self.hp["batch_size"], n_train)
        return (n_train * footprint.per_sample + BATCH_COPIES * rows * footprint.per_sample
                + PARAM_COPIES * footprint.params)

    def build_engine(self):
        """The minibatch iteration, ``lysep.core.am_minibatch``."""
        from lysep.core.am_minibatch import MinibatchAM

        return MinibatchAM(self.activation, self.hp, make_schedule_of(self.hp, self.activation))

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        """theta_0 as given; U_0 by a forward pass over all N rows; the per-seed batch order of the baselines."""
        self._check_conv(params[0][0].dim() == 5)
        return self.engine().init(problem, params, seeds)

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        from lysep.core.am_minibatch import full_set_metrics

        return full_set_metrics(problem, state, self.activation, self.hp["bound_norm"])
