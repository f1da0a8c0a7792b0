"""Training quality per commit: asv ``track_`` benchmarks (every quantity: lower is better).

One fixed small grid (circle, N_train = 500, depth {3, 5} x width 10, K = 3 seeds, LySep with its
default configuration and Adam with lr 1e-2, a budget of ``ITERATIONS`` outer iterations) is trained
once per commit in ``setup_cache``, always on the CPU; each ``track_`` reads one summary of it. The
summaries are small pure functions of a trace (the DataFrame of ``lysep.cell.run_cell``), tested alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import ACTIVATION, need, problem

N_TRAIN = 500
N_TEST = 500
DEPTHS = [3, 5]
WIDTH = 10
SEEDS = [0, 1, 2]
ITERATIONS = 100
#: train CE that counts as "reached" for the time-to-target metric
TARGET_CE = 0.1
#: relative tolerance of the J monotonicity and surrogate checks (the report's, analysis/metrics.py)
REL_TOL = 1e-7
METHODS = {"lysep": {}, "adam": {"lr": 1e-2}}
#: quantities that only LySep has (J, B): skipped for the baselines
LYSEP_ONLY = [("adam", d) for d in DEPTHS]
#: key of the setup_cache result at a commit that cannot run the grid
SKIP = "skip"


def _tol(reference: np.ndarray) -> np.ndarray:
    return REL_TOL * np.maximum(1.0, np.abs(reference))


def final_rows(trace: pd.DataFrame) -> pd.DataFrame:
    """The last row of each seed (its budget, or the row where it diverged)."""
    return trace.sort_values(["seed", "iteration"]).groupby("seed").tail(1)


def final_ce(trace: pd.DataFrame) -> float:
    """Mean over seeds of the final train CE ``F`` (NaN if a seed diverged)."""
    return float(final_rows(trace)["F"].mean(skipna=False))


def seed_std_final_ce(trace: pd.DataFrame) -> float:
    """Standard deviation over seeds (ddof 1) of the final train CE."""
    return float(final_rows(trace)["F"].std(ddof=1, skipna=False))


def iterations_to_target(trace: pd.DataFrame, target: float, budget: int) -> float:
    """Median over seeds of the first iteration with ``F <= target``; ``budget + 1`` for a seed never there."""
    per_seed = []
    for _, run in trace.groupby("seed"):
        hit = run.loc[run["F"] <= target, "iteration"]
        per_seed.append(float(hit.min()) if len(hit) else float(budget + 1))
    return float(np.median(per_seed))


def final_bound_gap(trace: pd.DataFrame) -> float:
    """Mean over seeds of ``B - F`` at the final row (the certificate's slack; >= 0 when B is valid)."""
    return float(final_rows(trace)["bound_gap"].mean(skipna=False))


def monotonicity_violations(trace: pd.DataFrame) -> int:
    """Rows (all seeds and iterations) with ``J > J_start + 1e-7 max(1, |J_start|)``."""
    j, j0 = trace["J"].to_numpy(float), trace["J_start"].to_numpy(float)
    ok = np.isfinite(j) & np.isfinite(j0)
    return int(np.sum(j[ok] > j0[ok] + _tol(j0[ok])))


def surrogate_violations(trace: pd.DataFrame) -> int:
    """Rows where the LySep loss is below the true CE: ``J < F - 1e-7 max(1, |F|)``."""
    j, f = trace["J"].to_numpy(float), trace["F"].to_numpy(float)
    ok = np.isfinite(j) & np.isfinite(f)
    return int(np.sum(j[ok] < f[ok] - _tol(f[ok])))


def summarize(trace: pd.DataFrame) -> dict[str, float]:
    """Every tracked quantity of one method on one cell."""
    out = {
        "final_ce": final_ce(trace),
        "iterations_to_target": iterations_to_target(trace, TARGET_CE, ITERATIONS),
        "seed_std_final_ce": seed_std_final_ce(trace),
    }
    if trace["J"].notna().any():
        out.update(final_bound_gap=final_bound_gap(trace), monotonicity_violations=monotonicity_violations(trace),
                   surrogate_violations=surrogate_violations(trace))
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
            Budget, run_cell = need("lysep.cell", "Budget", "run_cell")
            make_method = need("lysep.methods", "make_method")
            ModelSpec = need("lysep.model", "ModelSpec")
            pb = problem(N_TRAIN, N_TEST)
        except NotImplementedError as e:
            return {SKIP: str(e)}
        budget = Budget(iterations=ITERATIONS, eval_every=ITERATIONS)
        out = {}
        for depth in DEPTHS:
            spec = ModelSpec.fnn(pb.in_dim, depth=depth, width=WIDTH, n_classes=pb.n_classes, activation=ACTIVATION)
            methods = {name: make_method(name, activation=ACTIVATION, **hp) for name, hp in METHODS.items()}
            traces = run_cell(pb, spec, methods, seeds=SEEDS, budget=budget)
            for name in METHODS:
                out[(name, depth)] = summarize(traces[traces["method"] == name])
        return out

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
