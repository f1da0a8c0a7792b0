"""What a load cannot move, per commit: counted work and in-process timing ratios (asv ``track_``).

The same measurements as ``lysep track`` (``lysep.measure.counters``, ``lysep.measure.ratios``), on the paper's
Example 1 grid (FNN on the circle data) and Example 2 grid (CNN on digits images), 10 seeds batched. A change that
adds work moves the counts exactly and the ratios by its factor, however busy the machine.

The measuring code is the suite's own (``common.measuring``): at every commit the same counting and timing
code runs on that commit's ``lysep``, so the history of a count moves only with the measured code. The counts
do not depend on the machine or its load: they are the deterministic part of the history that
``scripts/asv_history.py record`` appends for every commit of main (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from .common import DEPTHS, METHODS, SEEDS, WIDTHS, dataset_arrays, measuring, need, problem_of, skipped

COUNTS = ("flops", "activation_evals", "aten_ops", "syncs", "bytes_allocated", "grad_evals")
CNN_CELLS = [(layers, channels) for layers in (2, 4) for channels in (4, 8)]  # the Example 2 grid
#: a commit without the measuring modules is skipped (setup_cache must not raise: asv would fail it)
SKIP = "skip"


def _models(kind: str, pb: Any) -> dict[tuple[int, int], Any]:
    if kind == "cnn":
        ConvSpec = need("lysep.core.model|lysep.model", "ConvSpec")
        return {c: ConvSpec.cnn(tuple(pb.x_train.shape[1:]), *c, pb.n_classes) for c in CNN_CELLS}
    ModelSpec = need("lysep.core.model|lysep.model", "ModelSpec")
    return {(d, w): ModelSpec.fnn(pb.in_dim, d, w, pb.n_classes) for d in DEPTHS for w in WIDTHS}


def _problem(kind: str, counting: bool = False) -> Any:
    """The data: Example 1's circle (N = 2000) or Example 2's digits (N = 1200); for counting, fewer samples
    (counted work is proportional to N, and counting is slow), as ``lysep track`` counts."""
    if kind == "cnn":
        return problem_of(dataset_arrays("digits", n_train=300 if counting else 1200, n_test=100, images=True))
    return problem_of(dataset_arrays(n_train=500 if counting else 2000, n_test=100))


def _counts(kind: str, methods: list[str]) -> dict:
    count_cell = measuring("counters").count_cell
    pb = _problem(kind, counting=True)
    return {(m, *cell): count_cell(m, {}, pb, model, SEEDS) for cell, model in _models(kind, pb).items()
            for m in methods}


class Counts:
    """Counted work of one steady-state iteration per method and FNN cell (exact; see lysep.measure.counters)."""

    params = (METHODS, DEPTHS, WIDTHS)
    param_names = ["method", "depth", "width"]
    timeout = 900
    #: asv keeps a history only across one version of a benchmark (by default a hash of its source, setup and
    #: setup_cache included): fixed here so that edits which do not change what is counted keep the history;
    #: raise it when they do
    version = "counts-1"

    def setup_cache(self) -> dict:
        try:
            return _counts("fnn", METHODS)
        except NotImplementedError as e:
            return {SKIP: str(e)}

    def setup(self, cache: dict, *key: Any) -> None:
        if SKIP in cache:
            raise skipped(type(self).__name__, cache[SKIP])
        self.counts = cache[key]

    def track_flops(self, cache: dict, *key: Any) -> float:
        return self.counts["flops"]

    def track_activation_evals(self, cache: dict, *key: Any) -> float:
        return self.counts["activation_evals"]

    def track_aten_ops(self, cache: dict, *key: Any) -> float:
        return self.counts["aten_ops"]

    def track_syncs(self, cache: dict, *key: Any) -> float:
        return self.counts["syncs"]

    def track_bytes_allocated(self, cache: dict, *key: Any) -> float:
        return self.counts["bytes_allocated"]

    def track_grad_evals(self, cache: dict, *key: Any) -> float:
        return self.counts["grad_evals"]

    track_flops.unit = "flops"
    track_activation_evals.unit = "elements"
    track_aten_ops.unit = "ops"
    track_syncs.unit = "syncs"
    track_bytes_allocated.unit = "bytes"
    track_grad_evals.unit = "passes"


class CnnCounts(Counts):
    """Counted work of one steady-state iteration of LySep-CNN and Adam on the Example 2 grid."""

    params = (["lysep", "adam"], [2, 4], [4, 8])
    param_names = ["method", "conv_layers", "channels"]

    def setup_cache(self) -> dict:
        try:
            return _counts("cnn", ["lysep", "adam"])
        except NotImplementedError as e:
            return {SKIP: str(e)}


class Ratios:
    """In-process interleaved timing ratios per FNN cell: LySep over Adam, each method over a fixed
    pure-torch reference (see lysep.measure.ratios)."""

    params = (DEPTHS, WIDTHS)
    param_names = ["depth", "width"]
    timeout = 900
    version = "ratios-1"  # as Counts.version

    def setup_cache(self) -> dict:
        try:
            cell_ratios = measuring("ratios").cell_ratios
            pb = _problem("fnn")
            methods = {m: (m, {}) for m in METHODS}
            return {cell: cell_ratios(methods, pb, model, SEEDS) for cell, model in _models("fnn", pb).items()}
        except NotImplementedError as e:
            return {SKIP: str(e)}

    def setup(self, cache: dict, depth: int, width: int) -> None:
        if SKIP in cache:
            raise skipped(type(self).__name__, cache[SKIP])
        self.ratios = cache[(depth, width)]

    def track_lysep_over_adam(self, cache: dict, depth: int, width: int) -> float:
        """One steady-state LySep iteration over one Adam step, timed interleaved in one process."""
        return self.ratios["lysep_over_adam"]

    def track_lysep_over_reference(self, cache: dict, depth: int, width: int) -> float:
        return self.ratios["lysep_over_reference"]

    def track_adam_over_reference(self, cache: dict, depth: int, width: int) -> float:
        return self.ratios["adam_over_reference"]

    track_lysep_over_adam.unit = "ratio"
    track_lysep_over_reference.unit = "ratio"
    track_adam_over_reference.unit = "ratio"
