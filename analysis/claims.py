"""The claims table: each claim of the LySep paper with the suite's verdict and the numbers behind it.

Every claim function takes tables (traces, per-run metrics) and returns a :class:`Claim`; the
verdict rules are written in each docstring and repeated in the report. Significance level
:data:`analysis.stats.ALPHA` (0.05) after Holm correction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import comparisons as cmp
from analysis import stats
from analysis.metrics import CELL_KEYS
from lysep.methods.base import ALTERNATING, BASELINE, JOINT

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
CLAIM_COLUMNS = ["id", "claim", "budget", "verdict", "numbers", "how_tested"]
NEEDS_BOTH = "needs a LySep method and a baseline"
#: what the guarantee claims are checked on (their "budget" column)
EVERY_ROW, EVERY_ITERATION = "every recorded row", "every iteration"


@dataclass
class Claim:
    """One row of the claims table; ``details`` holds the per-cell tests behind it (or None)."""

    id: str
    claim: str
    verdict: str
    numbers: str
    how_tested: str
    details: pd.DataFrame | None = field(default=None, repr=False)
    #: what the verdict compares at: a key of :data:`analysis.comparisons.BUDGETS` for c3-c5, a phrase otherwise
    budget: str = ""

    @property
    def key(self) -> str:
        """Unique within a claims table: the id, with the budget for a claim judged at several (``c3@wall_time``)."""
        return f"{self.id}@{self.budget}" if self.budget in cmp.BUDGETS else self.id


def _fmt(x: float) -> str:
    """Short number for the numbers column."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.3g}"


def _labels(metrics: pd.DataFrame, mask: pd.Series) -> list[str]:
    return sorted(metrics.loc[mask, "method"].unique())


def _family(metrics: pd.DataFrame) -> pd.Series:
    """The declared family of each run's method; unknown (None) without a runs table to read it from."""
    return metrics["family"] if "family" in metrics else pd.Series(None, index=metrics.index, dtype=object)


def lysep_methods(metrics: pd.DataFrame) -> list[str]:
    """Labels of the layer-separation methods (declared family alternating or joint), sorted."""
    return [] if metrics.empty else _labels(metrics, _family(metrics).isin([ALTERNATING, JOINT]))


def baseline_methods(metrics: pd.DataFrame) -> list[str]:
    """Labels of the methods that train the network's CE directly (declared family baseline), sorted."""
    return [] if metrics.empty else _labels(metrics, _family(metrics) == BASELINE)


def spec_order(meta: dict | None) -> list[str]:
    """The method labels in the order of the spec's ``[[method]]`` tables (meta.json), or []."""
    spec = (meta or {}).get("spec") or {}
    return [str(m.get("label", m.get("name"))) for m in spec.get("method") or spec.get("methods") or []]


def roles(metrics: pd.DataFrame, order: Sequence[str] = ()) -> tuple[str | None, list[str]]:
    """(the subject of the comparative claims, the baselines); (None, []) unless both exist."""
    subject, baselines = subject_method(metrics, order), baseline_methods(metrics)
    return (subject, baselines) if subject is not None and baselines else (None, [])


def subject_method(metrics: pd.DataFrame, order: Sequence[str] = ()) -> str | None:
    """The layer-separation method the comparative claims (c3-c6) judge.

    The first alternating-minimisation method that ran with its built-in defaults, else the first
    alternating-minimisation method, else the first joint one; "first" in the spec's ``order``, then
    by label. None when there is no layer-separation method.
    """
    if metrics.empty:
        return None
    rank = {label: i for i, label in enumerate(order)}
    runs = metrics.assign(_default=metrics.get("default_config", False)).drop_duplicates("method")
    for family, defaults_only in ((ALTERNATING, True), (ALTERNATING, False), (JOINT, False)):
        pick = runs[(_family(runs) == family) & (runs["_default"].astype(bool) | (not defaults_only))]
        if len(pick):
            return min(pick["method"], key=lambda m: (rank.get(m, len(rank)), m))
    return None


# ----------------------------------------------------------------------------------------------
# c1 / c1b: bounds


def _bound_claim(cid: str, claim: str, how: str, metrics: pd.DataFrame, check: str, nothing: str,
                 numbers: Callable[[pd.DataFrame, int, int], str]) -> Claim:
    """A claim that a bound holds on every checked trace row: supported iff no row violates it, inconclusive
    when no row was checked. ``check``: the metrics' ``<check>_checked`` / ``<check>_violations`` counts."""
    runs = metrics[metrics[f"{check}_checked"] > 0] if not metrics.empty else metrics
    checked = int(runs[f"{check}_checked"].sum()) if not runs.empty else 0
    if checked == 0:
        return Claim(cid, claim, INCONCLUSIVE, nothing, how, budget=EVERY_ROW)
    viol = int(runs[f"{check}_violations"].sum())
    return Claim(cid, claim, SUPPORTED if viol == 0 else NOT_SUPPORTED, numbers(runs, checked, viol), how,
                 budget=EVERY_ROW)


def _certificate_numbers(runs: pd.DataFrame, checked: int, viol: int) -> str:
    runs_bad = int((runs["certificate_violations"] > 0).sum())
    return (f"rows checked {checked}; violations {viol} (in {runs_bad} runs); "
            f"min bound_gap {_fmt(float(runs['min_bound_gap'].min()))}")


def _surrogate_numbers(runs: pd.DataFrame, checked: int, viol: int) -> str:
    per = runs.groupby("method")[["surrogate_violations", "surrogate_checked"]].sum()
    parts = [f"{m}: {int(r.surrogate_violations)}/{int(r.surrogate_checked)}" for m, r in per.iterrows()]
    return f"violations/rows {viol}/{checked} ({'; '.join(parts)})"


def certificate_claim(metrics: pd.DataFrame) -> Claim:
    """c1: the certified bound B is above the train CE on every recorded LySep row.

    Supported iff there is no certificate violation (``bound_gap < -1e-6 max(1,|F|)``) over all
    LySep rows with a finite bound; not supported if there is any; inconclusive if no row was checked.
    """
    how = ("Every trace row of every LySep run with finite B and F: a violation is bound_gap = B - F < "
           "-1e-6 * max(1, |F|) (rounding tolerance). Supported iff zero violations.")
    return _bound_claim("c1", "The certified bound B bounds the training CE from above (B >= F)", how, metrics,
                        "certificate", "no LySep rows with a finite bound", _certificate_numbers)


def surrogate_claim(metrics: pd.DataFrame) -> Claim:
    """c1b: the LySep loss J itself is above the train CE (the paper's upper-bound claim for J).

    Supported iff zero surrogate violations (``J - F < -1e-7 max(1,|F|)``) over all LySep rows;
    not supported otherwise; inconclusive if no row was checked. The numbers give the count per method.
    """
    how = ("Every trace row of every LySep run with finite J and F: a violation is surrogate_gap = J - F < "
           "-1e-7 * max(1, |F|). Supported iff zero violations over all LySep methods.")
    return _bound_claim("c1b", "The LySep loss J bounds the training CE from above (J >= F)", how, metrics,
                        "surrogate", "no LySep rows with finite J", _surrogate_numbers)


# ----------------------------------------------------------------------------------------------
# c2: monotone decrease


def monotone_claim(metrics: pd.DataFrame) -> Claim:
    """c2: J does not increase over an alternating-minimisation iteration at fixed weights.

    Judged on the runs whose method declares the guarantee for its hyperparameters
    (``decrease_guaranteed``: every block solver accepts only non-increasing steps). A violation is
    ``J > J_start + 1e-7 max(1,|J_start|)`` (J_start: J at the start of the iteration, same weights).
    Supported iff zero violations in the judged runs; not supported otherwise; inconclusive if no run
    qualifies. Violations of runs without the guarantee (Adam blocks, joint training) are reported,
    not judged.
    """
    claim = "The LySep loss J decreases monotonically under alternating minimization at fixed weights"
    how = ("Per iteration, J at the end vs J_start at the start with the same beta (for a minibatch method: "
           "J_batch vs J_batch_start, J on the iteration's batch); violation if J > J_start + "
           "1e-7 * max(1, |J_start|). Judged on the runs whose method declares the decrease guarantee for its "
           "hyperparameters (every block solver monotone); supported iff zero violations there.")
    if metrics.empty:
        return Claim("c2", claim, INCONCLUSIVE, "no runs", how, budget=EVERY_ITERATION)
    has_j = metrics[metrics["j_checked"] > 0]
    judged = has_j[has_j.get("decrease_guaranteed", pd.Series(False, index=has_j.index)).fillna(False).astype(bool)]
    other = has_j.drop(judged.index)
    other_txt = (f"; not judged (no guarantee declared): {len(other)} runs with "
                 f"{int(other['j_violations'].sum())} violations") if len(other) else ""
    if judged.empty:
        return Claim("c2", claim, INCONCLUSIVE, "no run of a method that guarantees the decrease" + other_txt, how,
                     budget=EVERY_ITERATION)
    per = judged.groupby("method")[["j_violations", "j_checked"]].sum()
    parts = [f"{m}: {int(r.j_violations)}/{int(r.j_checked)}" for m, r in per.iterrows()]
    viol = int(per["j_violations"].sum())
    numbers = (f"judged runs {len(judged)}; violations/iterations {viol}/{int(per['j_checked'].sum())} "
               f"({'; '.join(parts)})" + other_txt)
    return Claim("c2", claim, SUPPORTED if viol == 0 else NOT_SUPPORTED, numbers, how, budget=EVERY_ITERATION)


# ----------------------------------------------------------------------------------------------
# c3 / c6: speed and quality vs the best baseline


def _test_row(depth, width, metric: str, lysep: str, baseline: str, x: np.ndarray, y: np.ndarray) -> dict:
    """One paired test (x = LySep costs, y = baseline costs, matched by seed), as `comparisons.paired_row`."""
    return {"depth": depth, "width": width, "test": metric, "method": lysep, "baseline": baseline,
            **cmp.paired_row(x, y)}


def _paired_costs(metrics: pd.DataFrame, depth, width, a: str, b: str, column: str,
                  higher_is_better: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Seed-matched costs of a metric column for methods a and b in one cell."""
    cell = metrics[(metrics["depth"] == depth) & (metrics["width"] == width)]
    x, y, _ = cmp.pair_by_seed(cell.assign(_c=cmp.cost_column(cell, column, higher_is_better)), a, b, "_c")
    return x, y


#: per budget: the metrics column of the cost to reach the target CE, and the name of the test of F at the budget
TO_TARGET = {"iterations": "iters_to_target", "grad_evals": "grad_evals_to_target", "wall_time": "seconds_to_target"}
AT_BUDGET = {"iterations": "F_at_equal_iterations", "grad_evals": "F_at_equal_grad_evals",
             "wall_time": "F_at_equal_time"}


def speed_tests(traces: pd.DataFrame, metrics: pd.DataFrame, lysep: str, baselines: Sequence[str],
                target_ce: float | None, extra: Sequence[tuple[str, bool]] = (),
                budget: str = "wall_time") -> pd.DataFrame:
    """Per cell, paired tests of ``lysep`` vs the best baseline of that cell (lower cost = better) at a budget.

    Tests (``budget`` a key of :data:`analysis.comparisons.BUDGETS`): the cost to reach target_ce in that budget's
    unit (:data:`TO_TARGET`, if a target is set; censored = +inf; best baseline = lowest median cost) and the train
    CE of both runs at the equal budget (:func:`analysis.comparisons.equal_budget_pairs`; best baseline = lowest
    median final train CE). ``extra``: (metrics column, higher_is_better) pairs tested against the final-CE best
    baseline. Holm over the cells of the grid, separately for each test.
    """
    rows = []
    to_target = TO_TARGET[budget]
    best_ce = cmp.best_per_cell(metrics, "final_F", baselines).set_index(CELL_KEYS)["method"]
    best_t = (cmp.best_per_cell(metrics, to_target, baselines).set_index(CELL_KEYS)["method"]
              if target_ce is not None else None)
    cells = metrics.loc[metrics["method"] == lysep, CELL_KEYS].drop_duplicates().sort_values(CELL_KEYS)
    for depth, width in cells.itertuples(index=False):
        if (depth, width) not in best_ce.index:
            continue
        if best_t is not None:
            b = best_t.loc[(depth, width)]
            x, y = _paired_costs(metrics, depth, width, lysep, b, to_target)
            rows.append(_test_row(depth, width, to_target, lysep, b, x, y))
        b = best_ce.loc[(depth, width)]
        cell = traces[(traces["depth"] == depth) & (traces["width"] == width)]
        pairs = cmp.equal_budget_pairs(cell, lysep, b, budget)
        rows.append(_test_row(depth, width, AT_BUDGET[budget], lysep, b, pairs["a"].to_numpy(),
                              pairs["b"].to_numpy()))
        for column, hib in extra:
            x, y = _paired_costs(metrics, depth, width, lysep, b, column, hib)
            rows.append(_test_row(depth, width, column, lysep, b, x, y))
    cols = ["depth", "width", "test", "method", "baseline", *cmp.PAIRED_COLUMNS]
    table = pd.DataFrame(rows, columns=[c for c in cols if c != "p_holm"])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", cmp.holm_by(table, ["test"]))
    return table


def budget_pairs(traces: pd.DataFrame, metrics: pd.DataFrame, lysep: str, baselines: Sequence[str],
                 budget: str) -> pd.DataFrame:
    """Per cell, ``lysep`` and the best baseline of the cell (lowest median final train CE) at their equal budget:
    :func:`analysis.comparisons.equal_budget_pairs` with a ``baseline`` column (the values c4 and c5 judge)."""
    parts = []
    for depth, width, b in cmp.best_per_cell(metrics, "final_F", baselines).itertuples(index=False):
        cell = traces[(traces["depth"] == depth) & (traces["width"] == width)]
        parts.append(cmp.equal_budget_pairs(cell, lysep, b, budget).assign(baseline=b))
    cols = ["depth", "width", "seed", "limit", "a", "b", "baseline"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def cell_outcomes(tests: pd.DataFrame, alpha: float = stats.ALPHA) -> pd.DataFrame:
    """Per cell: ``method`` (the judged LySep method wins) / ``baseline`` / ``neither``.

    A test favours LySep when ``p_holm < alpha`` and its median cost difference is < 0 (> 0 favours
    the baseline). A cell goes to LySep when at least one of its tests favours LySep and none favours
    the baseline (symmetrically for the baseline); otherwise ``neither``.
    """
    t = tests.assign(sig=tests["p_holm"] < alpha)
    t = t.assign(pro=t["sig"] & (t["median_diff"] < 0), con=t["sig"] & (t["median_diff"] > 0))
    g = t.groupby(CELL_KEYS)[["pro", "con"]].any().reset_index()
    g["outcome"] = np.where(g["pro"] & ~g["con"], "method", np.where(g["con"] & ~g["pro"], "baseline", "neither"))
    return g[[*CELL_KEYS, "outcome"]]


def untestable_reason(table: pd.DataFrame) -> str:
    """Why no row of a test table (``p_value``, ``note``) has a p-value: its distinct notes, or a generic sentence."""
    notes = [str(n) for n in dict.fromkeys(table.get("note", pd.Series(dtype=object)).dropna()) if str(n)]
    return "; ".join(notes) if notes else "no testable cell"


def majority_verdict(tests: pd.DataFrame) -> tuple[str, str]:
    """Verdict over cells from :func:`cell_outcomes` and a sentence with the counts.

    supported: LySep wins more than half of the cells. not supported: the baseline wins more than
    half, or no test of any cell has LySep ahead on its point estimate (median difference < 0).
    inconclusive: otherwise, and whenever no test has a p-value (too few seeds for the test: the
    sentence says how many it has and needs).
    """
    if tests.empty or tests["p_value"].isna().all():
        return INCONCLUSIVE, f"inconclusive: {untestable_reason(tests)}"
    out = cell_outcomes(tests)
    n = len(out)
    k_l, k_b = int((out["outcome"] == "method").sum()), int((out["outcome"] == "baseline").sum())
    ahead = bool((tests["median_diff"] < 0).any())
    text = f"cells {n}: LySep significantly better in {k_l}, baseline in {k_b}, neither in {n - k_l - k_b}"
    untested = tests[tests["p_value"].isna()]
    if len(untested):
        text += f" ({len(untested)} of {len(tests)} tests without a p-value: {untestable_reason(untested)})"
    if k_l > n / 2:
        return SUPPORTED, text
    if k_b > n / 2:
        return NOT_SUPPORTED, text
    if not ahead:
        return NOT_SUPPORTED, text + "; LySep never ahead on a median difference"
    return INCONCLUSIVE, text


def _test_summary(tests: pd.DataFrame) -> str:
    """Median over cells of each test's LySep/baseline median ratio."""
    parts = []
    for name, grp in tests.groupby("test", sort=False):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (grp["method_median"].abs() / grp["baseline_median"].abs()).to_numpy(dtype=float)
        med = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() or np.isinf(ratio).any() else np.nan
        parts.append(f"{name}: median LySep/baseline ratio over cells {_fmt(med)}")
    return "; ".join(parts)


def faster_claim(traces: pd.DataFrame, metrics: pd.DataFrame, target_ce: float | None,
                 order: Sequence[str] = (), budget: str = "wall_time") -> Claim:
    """c3: the default LySep method converges faster than CE training with the best baseline, at a budget.

    Per cell, Wilcoxon signed-rank tests (paired by seed) of the default LySep method vs the best
    baseline of the cell on the cost to reach target_ce in the budget's unit (if set; censored runs count
    as +inf) and on train CE at the equal budget (:func:`speed_tests`); Holm over the cells for each test;
    rule of :func:`majority_verdict`. Inconclusive without a LySep method or a baseline.
    """
    claim = "LySep converges faster than CE training (SGD/Adam/GD)"
    unit = {"iterations": "iterations", "grad_evals": "grad_evals", "wall_time": "seconds"}[budget]
    how = (f"At {cmp.budget_words(budget)}: default LySep method vs the best baseline per cell (lowest median "
           f"{unit}-to-target, resp. final CE): Wilcoxon signed-rank paired by seed on {unit} to target_ce (censored "
           f"= worst) and on train CE at {cmp.budget_words(budget)} (both runs read at the smaller of their final "
           f"{unit}), Holm over the cells per test. A cell counts for LySep if some test is significant (Holm "
           "p < 0.05) in its favour and none against. Supported if LySep wins > half the cells; not supported if "
           "the baseline wins > half or LySep is never ahead on a median difference; otherwise inconclusive.")
    return _versus_claim("c3", claim, how, traces, metrics, target_ce, (), order, budget)


def cnn_claim(traces: pd.DataFrame, metrics: pd.DataFrame, meta: dict) -> Claim:
    """c6: LySep-CNN improves on CE training of the same CNN.

    Only when the spec's model kind is ``"cnn"`` (else inconclusive). Same rule as c3, with the tests
    train CE at equal wall time and final test accuracy (higher is better) vs the best baseline.
    """
    claim = "LySep improves CNN training"
    how = ("Only for a spec with model kind 'cnn': as c3, with tests train CE at equal wall time and final test "
           "accuracy (Wilcoxon paired by seed, Holm over the cells per test, majority of cells).")
    kind = str(((meta or {}).get("spec") or {}).get("model", {}).get("kind", "")).lower()
    if kind != "cnn":
        return Claim("c6", claim, INCONCLUSIVE, "inconclusive: no CNN experiment in this run", how, budget=C6_BUDGET)
    return _versus_claim("c6", claim, how, traces, metrics, None, (("final_test_acc", True),), spec_order(meta),
                         "wall_time")


def _versus_claim(cid: str, claim: str, how: str, traces: pd.DataFrame, metrics: pd.DataFrame,
                  target_ce: float | None, extra: Sequence[tuple[str, bool]],
                  order: Sequence[str] = (), budget: str = "wall_time") -> Claim:
    """Shared body of c3 and c6."""
    label = budget if cid == "c3" else C6_BUDGET
    lysep, baselines = roles(metrics, order)
    if lysep is None:
        return Claim(cid, claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=label)
    tests = speed_tests(traces, metrics, lysep, baselines, target_ce, extra, budget)
    verdict, text = majority_verdict(tests)
    numbers = f"method {lysep}; {text}; {_test_summary(tests)}" if not tests.empty else f"method {lysep}; {text}"
    return Claim(cid, claim, verdict, numbers, how, tests, budget=label)


#: what c6 compares at
C6_BUDGET = "equal wall time; final test accuracy"


# ----------------------------------------------------------------------------------------------
# c4: seed variance


def variance_claim(traces: pd.DataFrame, metrics: pd.DataFrame, order: Sequence[str] = (),
                   budget: str = "iterations") -> Claim:
    """c4: the default LySep method has a smaller spread of train CE over seeds, at a budget.

    Per cell, Brown-Forsythe test of the train CE at the equal budget (:func:`budget_pairs`: LySep and the
    best baseline of the cell, lowest median final CE, each seed read at the smaller of the two runs' final
    budget), runs that diverged before it excluded; Holm over cells. A cell counts for LySep when Holm
    p < 0.05 and its spread (mean absolute deviation from the median) is smaller. Supported if that holds
    in more than half the cells; not supported if the baseline is significantly less spread in more than
    half, or LySep's spread is smaller in no cell; inconclusive otherwise, and when no cell is testable
    (fewer seeds than the test needs: :func:`analysis.stats.min_n_brown_forsythe`).
    """
    claim = "LySep results vary less over seeds than CE training"
    how = (f"Train CE at {cmp.budget_words(budget)} of the default LySep method vs the best baseline per cell "
           "(lowest median final CE; each seed pair read at the smaller of its two final "
           f"{cmp.BUDGETS[budget][0]} values, diverged runs excluded): Brown-Forsythe test (scipy levene, "
           f"center='median'; needs >= {stats.min_n_brown_forsythe()} seeds per method), Holm over "
           "cells; direction from the mean absolute deviation from the median. Supported if LySep is significantly "
           "less spread in > half the cells; not supported if the baseline is in > half or LySep is never less "
           "spread; otherwise inconclusive.")
    lysep, baselines = roles(metrics, order)
    if lysep is None:
        return Claim("c4", claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=budget)
    pairs = budget_pairs(traces, metrics, lysep, baselines, budget)
    rows = []
    for (depth, width, b), cell in pairs.groupby(["depth", "width", "baseline"], sort=True):
        x, y = cell["a"].to_numpy(dtype=float), cell["b"].to_numpy(dtype=float)
        rows.append({"depth": depth, "width": width, "method": lysep, "baseline": b, "budget": budget,
                     "metric": cmp.AT_BUDGET_COLUMN, **cmp.spread_row(x[np.isfinite(x)], y[np.isfinite(y)])})
    table = pd.DataFrame(rows, columns=["depth", "width", "method", "baseline", "budget", "metric",
                                        *cmp.SPREAD_COLUMNS])
    if table.empty or table["p_value"].isna().all():
        return Claim("c4", claim, INCONCLUSIVE, f"method {lysep}; inconclusive: {untestable_reason(table)}",
                     how, table if not table.empty else None, budget)
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", stats.holm(table["p_value"].to_numpy()))
    sig = table["p_holm"] < stats.ALPHA
    k_l = int((sig & (table["spread_method"] < table["spread_baseline"])).sum())
    k_b = int((sig & (table["spread_method"] > table["spread_baseline"])).sum())
    n = len(table)
    smaller = int((table["spread_method"] < table["spread_baseline"]).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmedian(table["std_method"] / table["std_baseline"]))
    numbers = (f"method {lysep}; cells {n}: LySep significantly less spread in {k_l}, baseline in {k_b}; "
               f"LySep spread smaller (point estimate) in {smaller}; median std ratio LySep/baseline {_fmt(ratio)}")
    untested = table[table["p_value"].isna()]
    if len(untested):
        numbers += f"; {len(untested)} cells without a p-value ({untestable_reason(untested)})"
    if k_l > n / 2:
        verdict = SUPPORTED
    elif k_b > n / 2 or smaller == 0:
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return Claim("c4", claim, verdict, numbers, how, table, budget)


# ----------------------------------------------------------------------------------------------
# c5: depth trend


def _ratio_row(depth, width, baseline: str, a: float, b: float) -> dict:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(a) / np.float64(b))
    return {"depth": depth, "width": width, "baseline": baseline, "ratio": ratio,
            "log_ratio": float(np.log(ratio)) if ratio > 0 else np.nan}


RATIO_COLUMNS = ["depth", "width", "baseline", "ratio", "log_ratio"]


def ratio_by_cell(metrics: pd.DataFrame, lysep: str, baselines: Sequence[str]) -> pd.DataFrame:
    """Per cell: median final train CE of ``lysep`` over that of the best baseline (failures = +inf).

    Returns depth, width, baseline, ratio, log_ratio (natural log).
    """
    best = cmp.best_per_cell(metrics, "final_F", baselines)
    costs = cmp.cell_costs(metrics, "final_F")
    rows = [_ratio_row(depth, width, b, costs.loc[(depth, width), lysep], costs.loc[(depth, width), b])
            for depth, width, b in best.itertuples(index=False) if lysep in costs.columns]
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


def ratio_at_budget(traces: pd.DataFrame, metrics: pd.DataFrame, lysep: str, baselines: Sequence[str],
                    budget: str) -> pd.DataFrame:
    """Per cell: median train CE of ``lysep`` over that of the best baseline at their equal budget
    (:func:`budget_pairs`; a run that diverged before it = +inf). Columns as :func:`ratio_by_cell`."""
    pairs = budget_pairs(traces, metrics, lysep, baselines, budget)
    rows = [_ratio_row(depth, width, b, float(np.median(cell["a"])), float(np.median(cell["b"])))
            for (depth, width, b), cell in pairs.groupby(["depth", "width", "baseline"], sort=True)]
    return pd.DataFrame(rows, columns=RATIO_COLUMNS)


def depth_claim(traces: pd.DataFrame, metrics: pd.DataFrame, order: Sequence[str] = (),
                budget: str = "iterations") -> Claim:
    """c5: the advantage of LySep (CE ratio LySep / best baseline) grows with depth, at a budget.

    Spearman correlation across cells between depth and log(median train CE of the default LySep / that of the
    best baseline) at the equal budget (:func:`ratio_at_budget`), exact permutation p
    (:func:`analysis.stats.spearman`). Supported iff rho < 0 and p < 0.05; not supported iff rho > 0 and
    p < 0.05; inconclusive otherwise, and when there is only one depth, fewer cells than the test needs, or
    ties that keep p above 0.05.
    """
    claim = "The advantage of LySep grows with depth"
    how = (f"Spearman correlation over cells between depth and log(median train CE of LySep / median train CE of "
           f"the best baseline) at {cmp.budget_words(budget)} (each seed pair read at the smaller of its two final "
           f"{cmp.BUDGETS[budget][0]} values), exact permutation p-value (ties in depth included). Supported iff "
           "rho < 0 with p < 0.05; not supported iff rho > 0 with p < 0.05; otherwise inconclusive (also with one "
           f"depth, < {stats.min_n_spearman()} cells, or ties that keep every possible p above 0.05).")
    lysep, baselines = roles(metrics, order)
    if lysep is None:
        return Claim("c5", claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=budget)
    table = ratio_at_budget(traces, metrics, lysep, baselines, budget)
    depths = table["depth"].nunique()
    if depths < 2:
        return Claim("c5", claim, INCONCLUSIVE, f"only {depths} depth in the grid", how, table, budget)
    test = stats.spearman(table["depth"].to_numpy(), table["log_ratio"].to_numpy())
    rho = test.statistic
    per_depth = table.groupby("depth")["ratio"].median()
    trend = ", ".join(f"D={d}: {_fmt(float(r))}" for d, r in per_depth.items())
    lead = f"method {lysep}; " + ("" if test.testable else f"inconclusive: {test.reason}; ")
    numbers = (f"{lead}Spearman rho {_fmt(rho)}, p {_fmt(test.p_value)}, cells {test.n}; median CE ratio by depth "
               f"{trend}")
    if test.testable and test.p_value < stats.ALPHA:
        verdict = SUPPORTED if rho < 0 else NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return Claim("c5", claim, verdict, numbers, how, table, budget)


# ----------------------------------------------------------------------------------------------


def evaluate_claims(traces: pd.DataFrame, metrics: pd.DataFrame, meta: dict | None = None,
                    wall_caveat: str = "") -> list[Claim]:
    """All claims, in report order: c1, c1b, c2, then c3, c4 and c5 each at every budget of
    :data:`analysis.comparisons.BUDGETS` (equal iterations, grad_evals, wall time), then c6.

    ``traces``: trace table; ``metrics``: :func:`analysis.metrics.metrics_table` of it; ``meta``: meta.json;
    ``wall_caveat``: :func:`analysis.provenance.wall_time_caveat`, added to the numbers of the claims that rest
    on wall time (c3, c4, c5 at equal wall time, c6): first when the wall times are unreliable, last when they
    were not checked.
    """
    budget = ((meta or {}).get("spec") or {}).get("budget") or {}
    target = budget.get("target_ce")
    order = spec_order(meta)
    claims = [certificate_claim(metrics), surrogate_claim(metrics), monotone_claim(metrics),
              *[faster_claim(traces, metrics, target, order, b) for b in cmp.BUDGETS],
              *[variance_claim(traces, metrics, order, b) for b in cmp.BUDGETS],
              *[depth_claim(traces, metrics, order, b) for b in cmp.BUDGETS],
              cnn_claim(traces, metrics, meta or {})]
    for c in claims:
        if wall_caveat and c.budget in ("wall_time", C6_BUDGET) and c.details is not None:
            c.numbers = f"{wall_caveat}; {c.numbers}" if UNRELIABLE in wall_caveat else f"{c.numbers}; {wall_caveat}"
    return claims


#: the paired tests that read wall times, and the word a caveat starts with when they cannot be trusted
WALL_TESTS = ("seconds_to_target", "F_at_equal_time")
UNRELIABLE = "unreliable"


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a DataFrame with columns id, claim, budget (in words), verdict, numbers, how_tested."""
    rows = [{**{c: getattr(cl, c) for c in CLAIM_COLUMNS}, "budget": cmp.budget_words(cl.budget)} for cl in claims]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
