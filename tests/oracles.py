"""Independent references the optimised code is checked against (the reference LySep sweep)."""

from __future__ import annotations

import torch

from lysep.core.am import next_betas
from lysep.core.blocks import LastUnitBlock
from lysep.core.cost import block_cost, block_flops
from lysep.core.inner import SOLVERS
from lysep.core.model import affine
from lysep.core.objectives import lysep_loss
from lysep.methods.lysep import LySep


def reference_step(lysep: LySep, problem, state) -> None:
    """One LySep outer iteration as docs/method.md writes it: every block built and evaluated from scratch
    (no layer intermediates carried between blocks), W blocks one by one. The oracle of the fused sweep."""
    engine, ex, hp = lysep.engine(), state.extra, lysep.hp
    x, y = problem.x_train, problem.y_train
    next_betas(ex, state.params, engine.schedule)
    betas = ex["betas"]
    ex["J_start"] = ex["J_last"]
    if ex["J_start"] is None and state.record:
        with torch.no_grad():
            ex["J_start"] = lysep_loss(state.params, ex["U"], x, y, betas, lysep.activation)
    ex.pop("layers", None)
    params, U, depth = state.params, ex["U"], len(ex["U"])
    for i in range(depth):  # U step, Gauss-Seidel over l = 1..D
        w, b = params[i]
        with torch.no_grad():
            target = engine.sigma(affine(w, b, x if i == 0 else U[i - 1]))
        if i < depth - 1:
            blk = engine.blocks.hidden_unit(target, betas[:, i], *params[i + 1], U[i + 1], betas[:, i + 1])
        elif hp["u_solver"] == "mm":  # the MM step needs the block's parts, whatever the activation
            blk = LastUnitBlock(target, betas[:, i], *params[-1], y)
        else:
            blk = engine.blocks.last_unit(target, betas[:, i], *params[-1], y)
        res = SOLVERS[hp["u_solver"]](blk, [U[i]], ex["u_state"][i], hp["u_steps"], hp)
        U[i] = res.block[0]
        state.grad_evals += block_cost(ex["costs"][i + 1], res.gradients, res.evaluations, res.forwards)
        state.flops += block_flops(ex["flops_fwd"][i + 1], res.gradients, res.evaluations, res.forwards)
    new_params = []
    for i in range(depth + 1):  # W step: independent one-layer fits
        inp = x if i == 0 else U[i - 1]
        if i < depth:
            blk, solve = engine.blocks.hidden_weight(inp, U[i], betas[:, i]), SOLVERS[hp["w_solver"]]
        else:
            blk, solve = engine.blocks.output_weight(inp, y), SOLVERS[hp["out_solver"]]
        res = solve(blk, list(params[i]), ex["w_state"][i], hp["w_steps"], hp)
        new_params.append((res.block[0], res.block[1]))
        state.grad_evals += block_cost(ex["costs"][i], res.gradients, res.evaluations, res.forwards)
        state.flops += block_flops(ex["flops_fwd"][i], res.gradients, res.evaluations, res.forwards)
    state.params = new_params
    ex["k"] += 1
    ex["J_last"] = None


class ReferenceLySep(LySep):
    """``lysep`` with the reference sweep (same name and hyperparameters)."""

    def step(self, problem, state) -> None:
        reference_step(self, problem, state)
