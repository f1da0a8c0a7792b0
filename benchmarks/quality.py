"""Training quality per commit: asv ``track_`` benchmarks (every quantity: lower is better).

One fixed small grid (circle, N_train = 500, depth {3, 5} x width 10, K = 3 seeds, LySep with its
default configuration and Adam with lr 1e-2, a budget of ``ITERATIONS`` outer iterations) is trained
once per commit in ``setup_cache``, always on the CPU; each ``track_`` reads one summary of it. The
summaries come from the report's per-run metrics (``analysis.metrics``), so both measure the same thing.
"""

from __future__ import annotations

import pandas as pd

from .common import ACTIVATION, dataset_arrays, need, problem_of, skipped

N_TRAIN = 500
N_TEST = 500
DEPTHS = [3, 5]
WIDTH = 10
SEEDS = [0, 1, 2]
ITERATIONS = 100
#: train CE that counts as "reached" for the time-to-target metric
TARGET_CE = 0.1
#: iterations at which the train CE is read (early and mid-run: quantities that move, unlike ones that saturate)
CE_AT = (10, 50)
METHODS = {"lysep": {}, "adam": {"lr": 1e-2}}
#: quantities that only LySep has (J, B): skipped for the baselines
LYSEP_ONLY = [("adam", d) for d in DEPTHS]
#: key of the setup_cache result at a commit that cannot run the grid
SKIP = "skip"


def summarize(trace: pd.DataFrame) -> dict[str, float]:
    """Every tracked quantity of one method on one cell, from the report's per-run metrics
    (``analysis.metrics.metrics_table``): one definition of each quantity for the report and the benchmarks.

    A diverged seed makes the CE summaries NaN (asv shows them as failed). Every quantity can move with
    the training (none saturates at the budget): the mean log10 CE along the run (``auc_log_ce``), the CE
    at fixed iterations, the final CE and its spread; for methods that record J, the final bound and
    surrogate gaps and the J monotonicity violations (0 unless the decrease guarantee breaks).
    """
    metrics_table = need("analysis.metrics", "metrics_table")
    m = metrics_table(trace, TARGET_CE)
    final = m["final_F"].where(~m["diverged"].astype(bool))
    out = {
        "final_ce": float(final.mean(skipna=False)),
        "auc_log_ce": float(m["auc_log_ce"].mean(skipna=False)),
        "seed_std_final_ce": float(final.std(ddof=1, skipna=False)),
        **{f"ce_at_{k}": float(trace.loc[trace["iteration"] == k, "F"].mean(skipna=False)) for k in CE_AT},
    }
    if m["j_checked"].sum() > 0:
        last = trace.sort_values("iteration").groupby("seed").tail(1)
        out.update(final_bound_gap=float(m["bound_gap_final"].mean(skipna=False)),
                   final_surrogate_gap=float(last["surrogate_gap"].mean(skipna=False)),
                   monotonicity_violations=int(m["j_violations"].sum()))
    return out


def train_grid() -> dict:
    """Train the fixed grid once and summarize every (method, depth)."""
    Budget, run_cell = need("lysep.harness.cell|lysep.cell", "Budget", "run_cell")
    make_method = need("lysep.methods", "make_method")
    ModelSpec = need("lysep.core.model|lysep.model", "ModelSpec")
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
    version = "quality-1"  # fixed, as tracking.Counts.version: raise it when what is measured changes

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
            raise skipped(type(self).__name__, cache[SKIP])
        self.values = cache[(method, depth)]

    def track_final_train_ce(self, cache: dict, method: str, depth: int) -> float:
        """Mean final train CE over the seeds."""
        return self.values["final_ce"]

    track_final_train_ce.unit = "nats"

    def track_auc_log_ce(self, cache: dict, method: str, depth: int) -> float:
        """Mean over seeds of the average log10 train CE along the run (area under the CE curve)."""
        return self.values["auc_log_ce"]

    track_auc_log_ce.unit = "log10 nats"

    def track_ce_at_10(self, cache: dict, method: str, depth: int) -> float:
        """Mean train CE after 10 iterations."""
        return self.values["ce_at_10"]

    track_ce_at_10.unit = "nats"

    def track_ce_at_50(self, cache: dict, method: str, depth: int) -> float:
        """Mean train CE after 50 iterations."""
        return self.values["ce_at_50"]

    track_ce_at_50.unit = "nats"

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
        """Rows with ``J > J_start + 8 eps(float32) max(1, |J_start|)`` after iteration 0, all seeds (LySep only)."""
        return self.values["monotonicity_violations"]

    track_j_monotonicity_violations.unit = "rows"
    track_j_monotonicity_violations.skip_params = LYSEP_ONLY

    def track_final_surrogate_gap(self, cache: dict, method: str, depth: int) -> float:
        """Mean final ``J - F`` (negative: J is below the CE; LySep only)."""
        return self.values["final_surrogate_gap"]

    track_final_surrogate_gap.unit = "nats"
    track_final_surrogate_gap.skip_params = LYSEP_ONLY
