"""The bookkeeping of lysep.measure.graphs.GraphedStep (CUDA graph capture of a steady-state iteration), on the CPU
with a stand-in graph that re-runs the captured call: replays advance the captured tensors in place and give
the eager iterations' results. The capture itself runs on a GPU in scripts/gpu_check.sh."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from lysep.core.model import ModelSpec, init_params
from lysep.measure.graphs import GraphedStep, state_tensors
from lysep.methods import make_method

from helpers import random_problem


class RerunGraph:
    """Stands in for torch.cuda.CUDAGraph: capture runs the call, replay runs it again."""

    reruns_python = True

    def set_body(self, fn) -> None:
        self.fn = fn

    def replay(self) -> None:
        self.fn()


@contextmanager
def eager(graph):
    yield


@pytest.mark.parametrize("hp", [{}, {"u_solver": "lipschitz", "w_solver": "lipschitz", "out_solver": "lipschitz",
                                     "lipschitz_growth": 1.25}, {"armijo_batch": 4, "max_backtracks": 4},
                                {"u_solver": "mm", "w_solver": "lipschitz", "out_solver": "mm"}])
def test_replays_advance_the_captured_tensors_like_eager_iterations(hp: dict) -> None:
    prob = random_problem(n=40, d=3, k=3, seed=0)
    model = ModelSpec.fnn(3, 3, 5, 3)
    runs = []
    for graphed in (False, True):
        method = make_method("lysep", **hp)
        state = method.init(prob, init_params(model, [0, 1], torch.float64), [0, 1])
        state.record = False
        for _ in range(3):
            method.step(prob, state)
        if graphed:
            g = GraphedStep(method, prob, state, graph=RerunGraph(), capture=eager)
            before = state_tensors(state)
            for _ in range(4):
                g.replay()
            assert all(a is b for a, b in zip(before, state_tensors(state)))  # the same tensors, advanced
        else:
            for _ in range(5):
                method.step(prob, state)
        runs.append(state)
    eager_state, graph_state = runs
    assert graph_state.extra["k"] == eager_state.extra["k"] == 8
    for a, b in zip(state_tensors(eager_state), state_tensors(graph_state)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
