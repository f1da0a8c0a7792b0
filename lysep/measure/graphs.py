"""One steady-state iteration of a method captured as a CUDA graph and replayed (issue: no host syncs).

A CUDA graph records the kernels of one call and replays them without Python, which removes the
launch overhead that dominates LySep at the paper's sizes on a GPU; it is possible only because a
steady-state iteration never waits on the host (tests/test_sync.py). The state's tensors at capture
time are the graph's inputs; the captured call ends by copying the iteration's results into them, so
every replay advances the same tensors by one iteration. Used by scripts/gpu_check.sh; the bookkeeping
is tested on the CPU with a stand-in graph that re-runs the call (tests/test_graphs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import torch

from lysep.core.problem import Problem
from lysep.core.state import State
from lysep.methods.base import Method


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """Every tensor in nested lists, tuples and dicts, in a fixed order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)
    elif isinstance(obj, dict):
        for key in sorted(obj, key=str):
            yield from _tensors(obj[key])


def state_tensors(state: State) -> list[torch.Tensor]:
    return [*_tensors(state.params), state.grad_evals, *_tensors(state.extra)]


def _rebuild(obj: Any, it: Iterator[torch.Tensor]) -> Any:
    """``obj`` with its tensors replaced, in ``_tensors`` order, by those of ``it``."""
    if isinstance(obj, torch.Tensor):
        return next(it)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(v, it) for v in obj)
    if isinstance(obj, dict):
        rebuilt = {k: _rebuild(obj[k], it) for k in sorted(obj, key=str)}
        return {k: rebuilt[k] for k in obj}  # the dict's own key order
    return obj


def _point_at(state: State, tensors: list[torch.Tensor]) -> None:
    it = iter(tensors)
    state.params = _rebuild(state.params, it)
    state.grad_evals = next(it)
    state.extra = _rebuild(state.extra, it)


class GraphedStep:
    """``method.step`` on ``state`` captured once, replayed by ``replay()`` (one iteration each).

    ``graph`` and ``capture`` default to ``torch.cuda.CUDAGraph`` and ``torch.cuda.graph`` (capture records
    the kernels without running them, so the constructor replays once: it performs one iteration). A
    stand-in graph with ``reruns_python = True`` and ``set_body`` (its ``replay`` re-runs the call, its
    capture runs it) lets the CPU test the bookkeeping. The state must be in steady state (a few
    iterations done, on a side stream for CUDA) and must not be recorded (``state.record = False``).
    """

    def __init__(self, method: Method, problem: Problem, state: State, graph: Any = None,
                 capture: Callable[[Any], AbstractContextManager] | None = None) -> None:
        self.state = state
        self.inputs = state_tensors(state)
        self.graph = graph if graph is not None else torch.cuda.CUDAGraph()
        self.python_replays = bool(getattr(graph, "reruns_python", False))
        capture = capture or torch.cuda.graph

        def body() -> None:
            method.step(problem, state)
            outputs = state_tensors(state)
            if len(outputs) != len(self.inputs):
                raise RuntimeError("the iteration changed the state's layout: it is not in steady state")
            for i, o in zip(self.inputs, outputs):
                if o is not i:
                    i.copy_(o)

        with capture(self.graph):
            body()
        _point_at(state, self.inputs)  # the captured call's Python counted its iteration (extra["k"])
        if self.python_replays:
            self.graph.set_body(lambda: (body(), _point_at(state, self.inputs)))
        else:
            self.graph.replay()  # the iteration the capture recorded but did not run

    def replay(self) -> None:
        """One more iteration, written into the state's tensors."""
        self.graph.replay()
        if not self.python_replays and "k" in self.state.extra:
            self.state.extra["k"] += 1  # what the captured call's Python did once
