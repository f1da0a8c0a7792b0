"""Per-run metrics from the long-format trace table (docs/method.md section 6).

Every function takes one run's rows (a DataFrame sorted by ``iteration``) or
plain arrays and returns numbers; :func:`metrics_table` applies them to every
run of a trace table and returns one row per run. No plotting, no I/O.

Conventions (the rules the report cites):

- *tolerances*: a quantity ``a`` exceeds a reference ``r`` when
  ``a > r + rel * max(1, |r|)``. Every check scales with the run's dtype:
  ``rel = RESOLUTION_ULPS * eps(dtype)`` (:func:`resolution`; 8 ulps, 9.5e-7 in
  float32, 1.8e-15 in float64), the rounding of two separately reduced sums of
  the same size: the bound checks (``B >= F``, ``J >= F``), the decrease check
  ``J <= J_start`` and the F increases. (Before issue 32 the decrease check used a
  fixed ``rel`` = :data:`MONOTONE_TOL` = 1e-7 in every dtype: under one float32
  ulp, and 5e7 float64 ulps.) A gap ``|B - F|`` (or ``|J - J_start|``) under that
  tolerance is *below resolution*: counted apart, evidence neither way.
  Iteration 0 is counted apart too: there ``J = F`` (and ``B = F``,
  ``J_start = J``) by construction, so its rows test the arithmetic, not the
  claim.
- *non-finite rows*: rows whose ``F`` is NaN/inf (the diverged row, or rows
  where ``F`` was not evaluated) are skipped by every check; divergence is
  reported by its own flag.
- *time to target*: the first row ``k`` with ``F_k <= target``. Its iteration
  index is "iterations to target"; seconds and grad_evals are linearly
  interpolated between rows ``k-1`` and ``k`` at the point where the straight
  line through ``F_{k-1}, F_k`` meets the target (row 0 reaching it gives the
  row-0 value). A run that never reaches it is censored: NaN with
  ``reached = False``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lysep.methods.base import PROPERTY_COLUMNS

RUN_KEYS = ["method", "depth", "width", "seed"]
CELL_KEYS = ["depth", "width"]
MONOTONE_TOL = 1e-7  # the decrease check's fixed tolerance before it scaled with the dtype (:func:`resolution`)
#: the (end, start) columns of a decrease check: J over the training set, and J over the iteration's minibatch
#: (a minibatch method records the second pair only; docs/traces.md)
DECREASE_PAIRS: tuple[tuple[str, str], ...] = (("J", "J_start"), ("J_batch", "J_batch_start"))
CERTIFICATE_TOL = 1e-6  # the float32 value of the certificate's tolerance before it scaled with the dtype
#: the bound checks' tolerance in units of the dtype's machine epsilon (relative to max(1, |F|))
RESOLUTION_ULPS = 8
#: the dtype of a run when its spec does not name one (lysep.harness.spec's default)
DEFAULT_DTYPE = "float32"
LOG_FLOOR = 1e-12  # CE values are clipped here before log10 (CE >= 0, a 0 would give -inf)


def layer_columns(df: pd.DataFrame, prefix: str) -> list[str]:
    """Columns ``prefix_1..prefix_L`` present in ``df``, in layer order."""
    cols = [c for c in df.columns if c.startswith(prefix + "_") and c[len(prefix) + 1:].isdigit()]
    return sorted(cols, key=lambda c: int(c[len(prefix) + 1:]))


def tolerance(reference: np.ndarray | float, rel: float) -> np.ndarray:
    """Absolute tolerance ``rel * max(1, |reference|)`` (elementwise)."""
    return rel * np.maximum(1.0, np.abs(np.asarray(reference, dtype=float)))


def count_exceedances(values: np.ndarray, reference: np.ndarray, rel: float) -> tuple[int, int]:
    """Count ``values > reference + tol`` over positions where both are finite.

    ``values, reference``: 1-D arrays of equal length. Returns (violations, checked).
    """
    v = np.asarray(values, dtype=float)
    r = np.asarray(reference, dtype=float)
    ok = np.isfinite(v) & np.isfinite(r)
    return int(np.sum(v[ok] > r[ok] + tolerance(r[ok], rel))), int(ok.sum())


def decrease_counts(j: np.ndarray, j_start: np.ndarray, iteration: np.ndarray, rel: float) -> dict[str, int]:
    """The decrease check of one run, row by row, in the bound checks' terms (:func:`gap_counts` of the decrease
    ``J_start - J`` against ``rel * max(1, |J_start|)``): ``violations`` (J > J_start + tol), ``checked``,
    ``unresolved`` (|J - J_start| < tol: a change below resolution), all after iteration 0, and ``start_violations``,
    ``start_checked`` at iteration 0 (where J_start = J by construction)."""
    j, j_start = np.asarray(j, dtype=float), np.asarray(j_start, dtype=float)
    with np.errstate(invalid="ignore"):
        return gap_counts(j_start - j, j_start, iteration, rel)


def f_violations(f: np.ndarray, dtype: str | None = None) -> tuple[int, int]:
    """Increases of the true loss between consecutive finite rows: ``F_k > F_{k-1} + resolution(dtype) * max(1,
    |F_{k-1}|)``.

    ``f``: 1-D array per iteration (non-finite entries skipped). Returns (violations, steps checked).
    """
    f = np.asarray(f, dtype=float)
    f = f[np.isfinite(f)]
    if f.size < 2:
        return 0, 0
    return count_exceedances(f[1:], f[:-1], resolution(dtype))


def resolution(dtype: str | None = None) -> float:
    """The bound checks' relative tolerance for a run of ``dtype`` ("float32", "float64"; None = float32):
    :data:`RESOLUTION_ULPS` machine epsilons. ValueError for a dtype numpy does not know."""
    try:
        eps = float(np.finfo(np.dtype(dtype or DEFAULT_DTYPE)).eps)
    except TypeError as exc:
        raise ValueError(f"dtype={dtype!r}: expected a float dtype such as 'float32' or 'float64'") from exc
    return RESOLUTION_ULPS * eps


def certificate_violations(bound_gap: np.ndarray, f: np.ndarray, dtype: str | None = None) -> tuple[int, int]:
    """Rows where the certified bound fails: ``bound_gap < -resolution(dtype) * max(1, |F|)``.

    ``bound_gap, f``: 1-D arrays (rows with either non-finite skipped). Returns (violations, rows checked).
    """
    return gap_violations(bound_gap, f, resolution(dtype))


def surrogate_violations(surrogate_gap: np.ndarray, f: np.ndarray, dtype: str | None = None) -> tuple[int, int]:
    """Rows where the LySep loss is below CE: ``surrogate_gap = J - F < -resolution(dtype) * max(1, |F|)``.

    ``surrogate_gap, f``: 1-D arrays (rows with either non-finite skipped). Returns (violations, rows checked).
    """
    return gap_violations(surrogate_gap, f, resolution(dtype))


def gap_counts(gap: np.ndarray, f: np.ndarray, iteration: np.ndarray, rel: float) -> dict[str, int]:
    """A bound check of one run, row by row: ``gap`` (B - F or J - F) against ``rel * max(1, |F|)``.

    Rows with a non-finite gap or F are skipped. Returns ``violations`` (gap < -tol), ``checked`` (rows compared),
    ``unresolved`` (|gap| < tol: below resolution, evidence neither way; among ``checked``), all after iteration 0,
    and ``start_violations``, ``start_checked``: the same at iteration 0, where the gap is 0 by construction.
    """
    gap, f, it = (np.asarray(v, dtype=float) for v in (gap, f, iteration))
    ok = np.isfinite(gap) & np.isfinite(f)
    tol = tolerance(f, rel)
    bad, small, start = ok & (gap < -tol), ok & (np.abs(gap) < tol), it == 0
    return {"violations": int((bad & ~start).sum()), "checked": int((ok & ~start).sum()),
            "unresolved": int((small & ~start).sum()), "start_violations": int((bad & start).sum()),
            "start_checked": int((ok & start).sum())}


def gap_violations(gap: np.ndarray, f: np.ndarray, rel: float) -> tuple[int, int]:
    """Count ``gap < -rel * max(1, |F|)`` over rows where gap and F are finite. Returns (violations, checked)."""
    gap = np.asarray(gap, dtype=float)
    f = np.asarray(f, dtype=float)
    ok = np.isfinite(gap) & np.isfinite(f)
    return int(np.sum(gap[ok] < -tolerance(f[ok], rel))), int(ok.sum())


def first_crossing(f: np.ndarray, target: float) -> int | None:
    """Index of the first finite entry of ``f`` (1-D) that is ``<= target``; None if none."""
    f = np.asarray(f, dtype=float)
    hit = np.flatnonzero(np.isfinite(f) & (f <= target))
    return int(hit[0]) if hit.size else None


def value_at_target(axis: np.ndarray, f: np.ndarray, target: float) -> float:
    """Axis value (seconds, grad_evals) where ``f`` first reaches ``target``, linearly interpolated.

    ``axis, f``: 1-D arrays over the finite rows of one run, in iteration order. Between the
    crossing row ``k`` and row ``k-1`` the loss is taken as linear in the axis. NaN when never reached.
    """
    axis = np.asarray(axis, dtype=float)
    f = np.asarray(f, dtype=float)
    k = first_crossing(f, target)
    if k is None:
        return float("nan")
    if k == 0 or f[k - 1] == f[k]:
        return float(axis[k])
    t = (f[k - 1] - target) / (f[k - 1] - f[k])
    return float(axis[k - 1] + t * (axis[k] - axis[k - 1]))


def area_under_log_ce(iteration: np.ndarray, f: np.ndarray) -> float:
    """Trapezoid area under ``log10(F)`` vs iteration over the finite rows, divided by the iteration span.

    The result is the average log10 CE along the run (a run of one row gives its log10 CE).
    ``iteration, f``: 1-D arrays. NaN when no row is finite.
    """
    it = np.asarray(iteration, dtype=float)
    f = np.asarray(f, dtype=float)
    ok = np.isfinite(f)
    it, y = it[ok], np.log10(np.maximum(f[ok], LOG_FLOOR))
    if y.size == 0:
        return float("nan")
    span = it[-1] - it[0]
    if y.size == 1 or span <= 0:
        return float(y[-1])
    area = np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(it))  # trapezoid rule (np.trapz was renamed in numpy 2)
    return float(area / span)


def last_finite(values: np.ndarray) -> float:
    """Last finite entry of a 1-D array (NaN if none)."""
    v = np.asarray(values, dtype=float)
    ok = np.flatnonzero(np.isfinite(v))
    return float(v[ok[-1]]) if ok.size else float("nan")


def _column(run: pd.DataFrame, name: str) -> np.ndarray:
    """Column as a float array, all-NaN when absent."""
    if name in run.columns:
        return run[name].to_numpy(dtype=float)
    return np.full(len(run), np.nan)


def final_residual(run: pd.DataFrame) -> float:
    """Mean over existing layers of ``residual_l`` on the last row with any residual (NaN for baselines)."""
    cols = layer_columns(run, "residual")
    if not cols:
        return float("nan")
    r = run[cols].to_numpy(dtype=float)
    rows = np.flatnonzero(np.isfinite(r).any(axis=1))
    return float(np.nanmean(r[rows[-1]])) if rows.size else float("nan")


def betas_constant(run: pd.DataFrame) -> bool:
    """True when every ``beta_l`` column is constant over the run (NaN entries ignored).

    A run without any finite beta (a baseline) returns False: there is nothing to judge.
    """
    seen = False
    for col in layer_columns(run, "beta"):
        b = run[col].to_numpy(dtype=float)
        b = b[np.isfinite(b)]
        if b.size:
            seen = True
            if b.min() != b.max():
                return False
    return seen


def run_metrics(run: pd.DataFrame, target_ce: float | None = None,
                dtype: str | None = None) -> dict[str, float | int | bool]:
    """All metrics of one run.

    ``run``: the trace rows of one method/depth/width/seed (any order; sorted here by iteration).
    ``target_ce``: the budget's target train CE or None; ``dtype``: the run's (the bound checks' resolution).
    Returns a flat dict (see module docstring).
    """
    run = run.sort_values("iteration")
    it = run["iteration"].to_numpy(dtype=float)
    f = _column(run, "F")
    ok = np.isfinite(f)
    out: dict[str, float | int | bool] = {
        "iterations": int(it[-1]),
        "wall_time": last_finite(_column(run, "wall_time")),
        "grad_evals": last_finite(_column(run, "grad_evals")),
        "flops": last_finite(_column(run, "flops")),
        "diverged": bool(run["diverged"].astype(bool).any()) if "diverged" in run else bool(not ok[-1]),
        "final_F": last_finite(f),
        "final_train_acc": last_finite(_column(run, "train_acc")),
        "final_test_ce": last_finite(_column(run, "test_ce")),
        "final_test_acc": last_finite(_column(run, "test_acc")),
        "auc_log_ce": area_under_log_ce(it, f),
    }
    bound_gap = _column(run, "bound_gap")
    # targets
    k = first_crossing(f[ok], target_ce) if target_ce is not None else None
    out["reached"] = k is not None
    if k is None:
        out.update(iters_to_target=np.nan, seconds_to_target=np.nan, grad_evals_to_target=np.nan,
                   flops_to_target=np.nan, bound_gap_at_target=np.nan)
    else:
        out["iters_to_target"] = float(it[ok][k])
        out["seconds_to_target"] = value_at_target(_column(run, "wall_time")[ok], f[ok], target_ce)
        out["grad_evals_to_target"] = value_at_target(_column(run, "grad_evals")[ok], f[ok], target_ce)
        out["flops_to_target"] = value_at_target(_column(run, "flops")[ok], f[ok], target_ce)
        out["bound_gap_at_target"] = float(bound_gap[ok][k])
    # monotonicity, on each (end, start) pair the run records: J on the training set, or on the iteration's batch
    # (the dtype's resolution, as the bound checks; iteration 0, where J_start = J, counted apart)
    rel = resolution(dtype)
    pairs = [decrease_counts(_column(run, end), _column(run, start), it, rel) for end, start in DECREASE_PAIRS]
    out.update({f"j_{k}": sum(p[k] for p in pairs) for k in pairs[0]})
    out["f_violations"], out["f_checked"] = f_violations(f, dtype)
    # certificate and surrogate
    out["min_bound_gap"] = float(np.nanmin(bound_gap)) if np.isfinite(bound_gap).any() else np.nan
    out["bound_gap_final"] = last_finite(bound_gap)
    for name, gap in (("certificate", bound_gap), ("surrogate", _column(run, "surrogate_gap"))):
        counts = gap_counts(gap, f, it, rel)
        out.update({f"{name}_{k}": v for k, v in counts.items()})
    n_sur, n_chk = out["surrogate_violations"], out["surrogate_checked"]
    out["surrogate_fraction"] = n_sur / n_chk if n_chk else np.nan
    out["final_residual"] = final_residual(run)
    out["betas_constant"] = betas_constant(run)
    return out


def metrics_table(traces: pd.DataFrame, target_ce: float | None = None,
                  runs: pd.DataFrame | None = None, dtype: str | None = None) -> pd.DataFrame:
    """One row per run (method, depth, width, seed) with ``algorithm`` and every :func:`run_metrics` field.

    ``traces``: the long trace table; ``runs``: the runs table, whose ``status`` and method properties
    (``family``, ``decrease_guaranteed``, ``default_config``, ``metrics``) are joined to each run (the
    claims need them); ``dtype``: the runs' (spec ``model.dtype``; None = float32). Sorted by depth, width,
    method, seed.
    """
    rows = []
    for key, run in traces.groupby(RUN_KEYS, sort=False):
        row = dict(zip(RUN_KEYS, key, strict=True))
        row["algorithm"] = str(run["algorithm"].iloc[0]) if "algorithm" in run else str(key[0])
        row.update(run_metrics(run, target_ce, dtype))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if runs is not None:
        table = with_run_properties(table, runs)
    return table.sort_values(["depth", "width", "method", "seed"]).reset_index(drop=True)


def with_run_properties(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """``table`` (one row per run) with each run's ``status`` and method properties from the runs table.

    ValueError when the runs table has no method properties (written before they existed: ``lysep
    report`` adds them from the spec).
    """
    if not len(runs):
        return table
    missing = [c for c in PROPERTY_COLUMNS if c not in runs.columns]
    if missing:
        raise ValueError(f"runs.parquet has no {', '.join(missing)} column (written by an older lysep): "
                         "`lysep report DIR` adds the method properties from the spec in meta.json")
    cols = [c for c in ("status", *PROPERTY_COLUMNS) if c in runs.columns]
    props = runs[[*RUN_KEYS, *cols]].drop_duplicates(RUN_KEYS)
    return table.drop(columns=[c for c in cols if c in table.columns]).merge(props, on=RUN_KEYS, how="left")


def f_at(run: pd.DataFrame, column: str, limit: float) -> float:
    """Train CE a run had when its budget ``column`` (iteration, grad_evals or wall_time) reached ``limit``: F on its
    last row with ``column <= limit``.

    Stopping there is what a user with that budget gets. If that row is the diverged row (F non-finite) the
    result is +inf (a failure); before the first row it is F at iteration 0.
    """
    run = run.sort_values("iteration")
    w = run[column].to_numpy(dtype=float)
    f = run["F"].to_numpy(dtype=float)
    idx = np.flatnonzero(w <= limit)
    v = f[idx[-1]] if idx.size else f[0]
    return float(v) if np.isfinite(v) else float("inf")


def iteration_at(run: pd.DataFrame, column: str, limit: float) -> int:
    """The iteration :func:`f_at` reads a run at: its last row with ``column <= limit`` (0 before the first row).
    0 means the run had not completed one iteration within the budget: its F there is its starting point's."""
    run = run.sort_values("iteration")
    idx = np.flatnonzero(run[column].to_numpy(dtype=float) <= limit)
    return int(run["iteration"].to_numpy()[idx[-1]]) if idx.size else 0


def f_at_time(run: pd.DataFrame, t: float) -> float:
    """:func:`f_at` on the wall time: train CE a run had at ``t`` seconds of training."""
    return f_at(run, "wall_time", t)


# ----------------------------------------------------------------------------------------------
# timing reliability

#: CPU time / (wall time x torch threads) below which a run's wall time counts as measured under contention. On the
#: 2-core machine of scripts/measure_contention.py a unit alone measured 0.99-1.00 (1 or 2 threads), beside a second
#: torch process that overcommits the cores 0.50-0.75 (docs/reliability.md, "Timings under load").
CONTENTION_BELOW = 0.8
#: runs with less training time than this are not judged (too short for a stable ratio; and cheap to rerun)
CONTENTION_MIN_SECONDS = 0.5
TIMING_COLUMNS = ["method", "depth", "width", "seed", "wall_time", "cpu_time", "threads", "utilisation", "load_start",
                  "load_end", "judged", "contended"]


def timing_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run with its wall and CPU time, torch threads, CPU utilisation ``cpu_time / (wall_time x
    threads)``, load averages at start and end, and ``contended`` (utilisation < :data:`CONTENTION_BELOW`).

    ``judged`` is False for a run without CPU time (written by an older lysep), one on a GPU (the CPU then
    waits for the device), one shorter than :data:`CONTENTION_MIN_SECONDS`, and a failed run; such runs are
    never ``contended``. CPU time counts every thread of the process, so contention shows as CPU time falling
    behind wall time: the process waited for a core.
    """
    if runs.empty:
        return pd.DataFrame(columns=TIMING_COLUMNS)
    out = runs[[c for c in RUN_KEYS if c in runs]].copy()
    wall = runs["wall_time"].to_numpy(dtype=float) if "wall_time" in runs else np.full(len(runs), np.nan)
    out["wall_time"] = wall
    for column in ("cpu_time", "threads", "load_start", "load_end"):
        out[column] = runs[column].to_numpy(dtype=float) if column in runs else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        out["utilisation"] = out["cpu_time"] / (out["wall_time"] * out["threads"])
    gpu = runs["device"].astype(str).str.startswith("cuda").to_numpy() if "device" in runs else False
    failed = (runs["status"] == "failed").to_numpy() if "status" in runs else False
    out["judged"] = np.isfinite(out["utilisation"]) & (out["wall_time"] >= CONTENTION_MIN_SECONDS) & ~gpu & ~failed
    out["contended"] = out["judged"] & (out["utilisation"] < CONTENTION_BELOW)
    return out[TIMING_COLUMNS].reset_index(drop=True)
