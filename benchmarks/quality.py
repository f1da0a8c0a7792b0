"""Training quality per commit: asv ``track_`` benchmarks (every quantity: lower is better).

One fixed small grid (circle, N_train = 500, depth {3, 5} x width 10, K = 3 seeds, LySep with its
default configuration and Adam with lr 1e-2, a budget of ``ITERATIONS`` outer iterations) is trained
once per commit in ``setup_cache``, always on the CPU; each ``track_`` reads one summary of it. The
summaries come from the report's per-run metrics (``analysis.metrics``), so both measure the same thing.
"""

from __future__ import annotations

import pandas as pd

from .common import ACTIVATION, dataset_arrays, need, problem_of

N_TRAIN = 500
N_TEST = 500
DEPTHS = [3, 5]
WIDTH = 10
SEEDS = [0, 1, 2]
ITERATIONS = 100
#: train CE that counts as "reached" for the time-to-target metric
TARGET_CE = 0.1
METHODS = {"lysep": {}, "adam": {"lr": 1e-2}}
#: quantities that only LySep has (J, B): skipped for the baselines
LYSEP_ONLY = [("adam", d) for d in DEPTHS]
#: key of the setup_cache result at a commit that cannot run the grid
SKIP = "skip"


def summarize(trace: pd.DataFrame) -> dict[str, float]:
    """Every tracked quantity of one method on one cell, from the report's per-run metrics
    (``analysis.metrics.metrics_table``): one definition of each quantity for the report and the benchmarks.

    A diverged seed makes the CE summaries NaN (asv shows them as failed); a seed that never reaches
    ``TARGET_CE`` counts as ``ITERATIONS + 1`` iterations. The J/B quantities only where the method records J.
    """
    metrics_table = need("analysis.metrics", "metrics_table")
    m = metrics_table(trace, TARGET_CE)
    final = m["final_F"].where(~m["diverged"].astype(bool))
    out = {
        "final_ce": float(final.mean(skipna=False)),
        "iterations_to_target": float(m["iters_to_target"].fillna(ITERATIONS + 1).median()),
        "seed_std_final_ce": float(final.std(ddof=1, skipna=False)),
    }
    if m["j_checked"].sum() > 0:
        out.update(final_bound_gap=float(m["bound_gap_final"].mean(skipna=False)),
                   monotonicity_violations=int(m["j_violations"].sum()),
                   surrogate_violations=int(m["surrogate_violations"].sum()))
    return out


def train_grid() -> dict:
    """Train the fixed grid once and summarize every (method, depth)."""
    Budget, run_cell = need("lysep.cell", "Budget", "run_cell")
    make_method = need("lysep.methods", "make_method")
    ModelSpec = need("lysep.model", "ModelSpec")
    pb = problem_of(dataset_arrays(n_train=N_TRAIN, n_test=N_TEST))
    budget = Budget(iterations=ITERATIONS, eval_every=ITERATIONS)
    out = {}
    for depth in DEPTHS:
        spec = ModelSpec.fnn(pb.in_dim, depth=depth, width=WIDTH, n_classes=pb.n_classes, activation=ACTIVATION)
        methods = {name: make_method(name, activation=ACTIVATION, **hp) for name, hp in METHODS.items()}
        traces = run_cell(pb, spec, methods, seeds=SEEDS, budget=budget)
        for name in METHODS:
            out[(name, depth)] = summarize(traces[traces["method"] == name])
    return out


class LySepVsAdam:
    """Quality of LySep and Adam on the fixed grid; ``method`` and ``depth`` select a cell of it."""

    params = (list(METHODS), DEPTHS)
    param_names = ["method", "depth"]
    timeout = 300

    def setup_cache(self) -> dict:
        """``{(method, depth): summary}``, or ``{SKIP: reason}`` at a commit that lacks what the grid needs.

        (asv fails, rather than skips, a benchmark whose setup_cache raises; ``setup`` turns the reason
        into the NotImplementedError that asv reports as a skip.)
        """
        try:
            return train_grid()
        except NotImplementedError as e:
            return {SKIP: str(e)}

    def setup(self, cache: dict, method: str, depth: int) -> None:
        if SKIP in cache:
            raise NotImplementedError(cache[SKIP])
        self.values = cache[(method, depth)]

    def track_final_train_ce(self, cache: dict, method: str, depth: int) -> float:
        """Mean final train CE over the seeds."""
        return self.values["final_ce"]

    track_final_train_ce.unit = "nats"

    def track_iterations_to_target(self, cache: dict, method: str, depth: int) -> float:
        """Median iterations to train CE <= TARGET_CE; ITERATIONS + 1 (101) when a seed does not get there."""
        return self.values["iterations_to_target"]

    track_iterations_to_target.unit = "iterations"

    def track_seed_std_final_ce(self, cache: dict, method: str, depth: int) -> float:
        """Spread of the final train CE over the seeds (std, ddof 1)."""
        return self.values["seed_std_final_ce"]

    track_seed_std_final_ce.unit = "nats"

    def track_final_bound_gap(self, cache: dict, method: str, depth: int) -> float:
        """Mean final ``B - F``: how loose the certificate is at the end (LySep only)."""
        return self.values["final_bound_gap"]

    track_final_bound_gap.unit = "nats"
    track_final_bound_gap.skip_params = LYSEP_ONLY

    def track_j_monotonicity_violations(self, cache: dict, method: str, depth: int) -> int:
        """Rows with ``J > J_start + 1e-7 max(1, |J_start|)`` over all seeds and iterations (LySep only)."""
        return self.values["monotonicity_violations"]

    track_j_monotonicity_violations.unit = "rows"
    track_j_monotonicity_violations.skip_params = LYSEP_ONLY

    def track_surrogate_violations(self, cache: dict, method: str, depth: int) -> int:
        """Rows with ``J < F - 1e-7 max(1, |F|)`` over all seeds and iterations (LySep only)."""
        return self.values["surrogate_violations"]

    track_surrogate_violations.unit = "rows"
    track_surrogate_violations.skip_params = LYSEP_ONLY
