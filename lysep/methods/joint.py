"""lysep-joint: Adam on the LySep loss J over all of (theta, U) at once (docs/method.md).

The usual practical shortcut: no alternation and no sufficient-decrease guarantee, but one fused
gradient of J per step. Same weight schedules, U_0, trace metrics and certificate as ``lysep``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from lysep.core.state import State
from lysep.methods.base import JOINT, HParam, Method, Metric, nonnegative, positive, unit_interval
from lysep.methods.lysep import AUXILIARY_METRICS, PARAM_COPIES, SCHEDULE_SEARCH, make_schedule_of, schedule_hparams
from lysep.methods.space import Range

#: U-sized tensors a step holds: U, its gradient, two moments, the update, and autograd's three of J's graph
JOINT_COPIES = 8

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from lysep.core.model import Params
    from lysep.core.problem import Problem
    from lysep.methods.base import Footprint


class LySepJoint(Method):
    """Adam on J(theta, U) over all variables at once, with a beta schedule applied between steps."""

    paper_method = True

    name: ClassVar[str] = "lysep-joint"
    family: ClassVar[str] = JOINT
    METRICS: ClassVar[dict[str, Metric]] = AUXILIARY_METRICS
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # defaults: the best lysep-joint setting of the tuning study (results/study_lysep/README.md)
        **schedule_hparams("continuation", 1.0, 1.005),
        "lr": HParam(float, 3e-3, **positive(), help="Adam step size"),
        "beta1": HParam(float, 0.9, **unit_interval(), help="decay of the first moment"),
        "beta2": HParam(float, 0.999, **unit_interval(), help="decay of the second moment"),
        "eps": HParam(float, 1e-8, **nonnegative(), help="added to the root of the second moment"),
    }
    SEARCH: ClassVar[dict] = {"lr": Range(1e-4, 0.1, "log"), **SCHEDULE_SEARCH}

    def memory(self, n_train: int, footprint: Footprint) -> float:
        """U, its gradient, two Adam moments and the update, plus autograd's activations of J (``JOINT_COPIES``)."""
        return JOINT_COPIES * n_train * footprint.per_sample + PARAM_COPIES * footprint.params

    def init(self, problem: Problem, params: Params, seeds: list[int]) -> State:
        import torch

        from lysep.core.am import auxiliary_start
        from lysep.core.optim import adam_moments, flat

        params = [(w.clone(), b.clone()) for w, b in params]
        extra = auxiliary_start(problem, params, self.activation, make_schedule_of(self.hp, self.activation))
        extra["adam"] = adam_moments(flat(params) + extra["U"])
        return State(params=params, grad_evals=torch.zeros(params[0][0].shape[0], dtype=torch.float64,
                                                           device=problem.device), extra=extra)

    def step(self, problem: Problem, state: State) -> None:
        import torch

        from lysep.core.am import next_betas
        from lysep.core.objectives import lysep_loss
        from lysep.core.optim import adam_step, flat, unflat

        ex, hp = state.extra, self.hp
        next_betas(ex, state.params, make_schedule_of(hp, self.activation))
        n_p = 2 * len(state.params)
        leaves = [t.detach().requires_grad_() for t in flat(state.params) + ex["U"]]
        with torch.enable_grad():
            J = lysep_loss(unflat(leaves[:n_p]), leaves[n_p:], problem.x_train, problem.y_train, ex["betas"],
                           self.activation)
            grads = torch.autograd.grad(J.sum(), leaves)
        ex["J_start"] = J.detach()  # computed for the gradient anyway
        ex["k"] += 1
        with torch.no_grad():
            out = adam_step([t.detach() for t in leaves], list(grads), ex["adam"], hp["lr"], hp["beta1"], hp["beta2"],
                            hp["eps"])
        state.params, ex["U"] = unflat(out[:n_p]), out[n_p:]
        ex["J_last"] = None
        state.grad_evals += torch.isfinite(J.detach()).to(torch.float64)  # one gradient of J: ~ one pass

    def metrics(self, problem: Problem, state: State) -> dict[str, torch.Tensor]:
        from lysep.core.am import auxiliary_metrics

        return auxiliary_metrics(problem, state, self.activation, self.hp["bound_norm"])
