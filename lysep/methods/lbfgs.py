"""L-BFGS on F, full batch, as ``torch.optim.LBFGS`` with a strong-Wolfe line search (a baseline,
docs/method.md "L-BFGS"). The torch-side iteration is ``lysep.core.lbfgs``."""

from __future__ import annotations

from typing import ClassVar

from lysep.methods.base import AUTOGRAD_COPIES, BASELINE, HParam, Method, positive, positive_int
from lysep.methods.space import Range

#: line searches (torch.optim.LBFGS's ``line_search_fn``: "strong_wolfe" or None)
LINE_SEARCHES: tuple[str, ...] = ("strong_wolfe", "none")


class LBFGS(Method):
    """L-BFGS on the training cross-entropy (torch.optim.LBFGS semantics), full batch, seeds one by one."""

    name: ClassVar[str] = "lbfgs"
    family: ClassVar[str] = BASELINE
    HPARAMS: ClassVar[dict[str, HParam]] = {
        # torch.optim.LBFGS's defaults, with its strong-Wolfe line search switched on
        "lr": HParam(float, 1.0, **positive(), help="initial step of a line search (the step itself without one)"),
        "max_iter": HParam(int, 20, **positive_int(), help="L-BFGS iterations per method iteration (one step call)"),
        "max_eval": HParam(int, None, **positive_int(),
                           help="objective evaluations per method iteration (absent: max_iter * 5 // 4)"),
        "history_size": HParam(int, 100, **positive_int(), help="(s, y) pairs kept"),
        "tolerance_grad": HParam(float, 1e-7, **positive(), help="stop when max |gradient| is at most this"),
        "tolerance_change": HParam(float, 1e-9, **positive(), help="stop when a step or a change of F is below this"),
        "line_search": HParam(str, "strong_wolfe", choices=LINE_SEARCHES,
                              help="strong_wolfe (cubic interpolation) or none (fixed step lr)"),
    }
    SEARCH: ClassVar[dict] = {"lr": Range(0.1, 1.0, "log"), "history_size": Range(5, 100, "log")}

    def memory(self, n_train: int, footprint) -> float:
        """The (s, y) history and a few flat copies of theta, and one seed's autograd pass over the data."""
        return (2 * self.hp["history_size"] + 6) * footprint.params + AUTOGRAD_COPIES * n_train * footprint.per_sample

    def init(self, problem, params, seeds):
        from lysep.core.lbfgs import new_state
        from lysep.methods.gd import init_state

        state = init_state(problem, params, seeds)
        state.extra["lbfgs"] = [new_state() for _ in seeds]
        return state

    def step(self, problem, state):
        import torch

        from lysep.core.lbfgs import lbfgs_call
        from lysep.core.optim import flat, loss_and_grads, unflat

        tensors = flat(state.params)
        shapes = [t.shape[1:] for t in tensors]
        sizes = [s.numel() for s in shapes]
        out = []
        evals = torch.zeros_like(state.grad_evals)
        for i, st in enumerate(state.extra["lbfgs"]):
            def objective(x: torch.Tensor) -> tuple[float, torch.Tensor]:
                parts = [p.view(1, *shape) for p, shape in zip(torch.split(x, sizes), shapes)]
                loss, grads = loss_and_grads(unflat(parts), problem.x_train, problem.y_train, self.activation)
                return float(loss[0]), torch.cat([g.reshape(-1) for g in grads])

            x0 = torch.cat([t[i].reshape(-1) for t in tensors])
            x, n = lbfgs_call(objective, x0, st, self.hp)
            out.append(x)
            evals[i] = n  # each evaluation is one forward+backward pass over the training set
        new = torch.stack(out)
        state.params = unflat([p.view(len(out), *shape) for p, shape in zip(torch.split(new, sizes, dim=1), shapes)])
        state.grad_evals += evals
