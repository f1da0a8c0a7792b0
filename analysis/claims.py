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
from analysis.metrics import CELL_KEYS, RESOLUTION_ULPS
from lysep.methods import METHODS
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


def roles(metrics: pd.DataFrame, order: Sequence[str] = (),
          subject: Sequence[str] | None = None) -> tuple[str | None, list[str]]:
    """(the subject of the comparative claims, the baselines); (None, []) unless both exist.

    ``subject``: the labels under test (:func:`subject_labels`), None for the default (:func:`subject_method`);
    the claims judge the first of them that has runs, against every method of family baseline that is not a
    subject."""
    if subject is None:
        judged, baselines = subject_method(metrics, order), baseline_methods(metrics)
    else:
        present = set(metrics["method"]) if not metrics.empty else set()
        judged = next((s for s in subject if s in present), None)
        baselines = [b for b in baseline_methods(metrics) if b not in subject]
    return (judged, baselines) if judged is not None and baselines else (None, [])


def spec_subject(meta: dict | None) -> list[str] | None:
    """The spec's ``subject`` labels (meta.json; a string is one label), or None when the spec sets none."""
    value = ((meta or {}).get("spec") or {}).get("subject")
    if value is None:
        return None
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def subject_labels(metrics: pd.DataFrame, meta: dict | None = None,
                   override: Sequence[str] | None = None) -> list[str] | None:
    """The labels under test: ``override`` (``lysep report --subject``), else the spec's ``subject``, else None
    (the default: the layer-separation methods in the tables, :func:`subject_method` in the claims)."""
    if override:
        return list(dict.fromkeys(override))
    return spec_subject(meta)


def is_lysep(metrics: pd.DataFrame, label: str | None) -> bool:
    """Whether the method of ``label`` is LySep's own: its algorithm (the metrics' ``algorithm`` column) is
    registered with a class that declares ``paper_method`` (LySep, its presets and variants ``lysep``, ``mac``,
    ``lysep-minibatch``, and ``lysep-joint``). Only then do the claims keep the paper's wording; any other subject
    (another alternating method, a baseline, an algorithm this install does not know) gets generic wording."""
    if label is None or metrics.empty or "algorithm" not in metrics:
        return False
    algorithms = metrics.loc[metrics["method"] == label, "algorithm"].dropna().unique()
    if len(algorithms) != 1:
        return False
    cls = METHODS.get(str(algorithms[0]))
    return bool(getattr(cls, "paper_method", False))


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
    """A claim that a bound holds on every checked trace row after iteration 0 (:func:`analysis.metrics.gap_counts`):
    not supported if any row violates it; supported if none does and some row's gap is above the resolution;
    inconclusive when no row was checked or every gap is below the resolution (evidence neither way). Iteration 0
    (the gap is 0 by construction) is reported apart. ``check``: the metrics' ``<check>_*`` counts."""
    runs = metrics[metrics[f"{check}_checked"] > 0] if not metrics.empty else metrics
    checked = int(runs[f"{check}_checked"].sum()) if not runs.empty else 0
    if checked == 0:
        return Claim(cid, claim, INCONCLUSIVE, nothing, how, budget=EVERY_ROW)
    viol = int(runs[f"{check}_violations"].sum())
    small = int(runs[f"{check}_unresolved"].sum()) if f"{check}_unresolved" in runs else 0
    start = metrics[metrics.get(f"{check}_start_checked", pd.Series(0, index=metrics.index)) > 0]
    text = (f"{numbers(runs, checked, viol)}; gap below resolution (|gap| < tolerance, evidence neither way) on "
            f"{small} of {checked} rows")
    if len(start):
        text += (f"; iteration 0 (gap 0 by construction), not judged: {int(start[f'{check}_start_violations'].sum())} "
                 f"of {int(start[f'{check}_start_checked'].sum())} rows past the tolerance")
    if viol:
        return Claim(cid, claim, NOT_SUPPORTED, text, how, budget=EVERY_ROW)
    if small == checked:
        return Claim(cid, claim, INCONCLUSIVE, f"inconclusive: every gap below resolution; {text}", how,
                     budget=EVERY_ROW)
    return Claim(cid, claim, SUPPORTED, text, how, budget=EVERY_ROW)


def _certificate_numbers(runs: pd.DataFrame, checked: int, viol: int) -> str:
    runs_bad = int((runs["certificate_violations"] > 0).sum())
    return (f"rows checked after iteration 0 {checked}; violations {viol} (in {runs_bad} runs); "
            f"min bound_gap {_fmt(float(runs['min_bound_gap'].min()))}")


def _surrogate_numbers(runs: pd.DataFrame, checked: int, viol: int) -> str:
    per = runs.groupby("method")[["surrogate_violations", "surrogate_checked"]].sum()
    parts = [f"{m}: {int(r.surrogate_violations)}/{int(r.surrogate_checked)}" for m, r in per.iterrows()]
    return f"violations/rows after iteration 0 {viol}/{checked} ({'; '.join(parts)})"


#: how the tolerance of the bound checks is written in the claims' "how tested" text
_RESOLUTION_WORDS = (f"tol = {RESOLUTION_ULPS} * eps(dtype) * max(1, |F|) (eps the machine epsilon of the run's "
                     "dtype: 9.5e-7 * max(1, |F|) in float32)")


def certificate_claim(metrics: pd.DataFrame) -> Claim:
    """c1: the certified bound B is above the train CE on every recorded LySep row after iteration 0.

    A violation is ``bound_gap < -tol`` with the dtype's resolution (:func:`analysis.metrics.resolution`); rows with
    ``|bound_gap| < tol`` are below resolution. Rule of :func:`_bound_claim`.
    """
    how = ("Every trace row after iteration 0 of every LySep run with finite B and F: a violation is bound_gap = B - "
           f"F < -tol, {_RESOLUTION_WORDS}; |bound_gap| < tol is below resolution (evidence neither way); iteration "
           "0, where B = F by construction, is reported apart. Supported iff zero violations and some gap above "
           "resolution; inconclusive if every gap is below it.")
    return _bound_claim("c1", "The certified bound B bounds the training CE from above (B >= F)", how, metrics,
                        "certificate", "no LySep rows with a finite bound", _certificate_numbers)


def surrogate_claim(metrics: pd.DataFrame) -> Claim:
    """c1b: the LySep loss J itself is above the train CE (the paper's upper-bound claim for J).

    As :func:`certificate_claim` on ``surrogate_gap = J - F``; the numbers give the count per method.
    """
    how = ("Every trace row after iteration 0 of every LySep run with finite J and F: a violation is surrogate_gap = "
           f"J - F < -tol, {_RESOLUTION_WORDS}; |surrogate_gap| < tol is below resolution; iteration 0 (J = F by "
           "construction) reported apart. Supported iff zero violations over all LySep methods and some gap above "
           "resolution; inconclusive if every gap is below it.")
    return _bound_claim("c1b", "The LySep loss J bounds the training CE from above (J >= F)", how, metrics,
                        "surrogate", "no LySep rows with finite J", _surrogate_numbers)


# ----------------------------------------------------------------------------------------------
# c2: monotone decrease


def monotone_claim(metrics: pd.DataFrame) -> Claim:
    """c2: J does not increase over an alternating-minimisation iteration at fixed weights.

    Judged on the runs whose method declares the guarantee for its hyperparameters
    (``decrease_guaranteed``: every block solver accepts only non-increasing steps). A violation is
    ``J > J_start + tol`` with the bound checks' dtype-scaled tolerance (:func:`analysis.metrics.resolution`:
    ``tol = 8 eps(dtype) max(1, |J_start|)``; J_start: J at the start of the iteration, same weights), judged after
    iteration 0 (where J_start = J by construction: reported apart); an iteration with ``|J - J_start| < tol``
    changed J below resolution (evidence neither way). Supported iff zero violations in the judged runs and some
    change above resolution; not supported if any violation; inconclusive if no run qualifies or every judged
    change is below resolution. Violations of runs without the guarantee (Adam blocks, joint training) are
    reported, not judged.
    """
    claim = "The LySep loss J decreases monotonically under alternating minimization at fixed weights"
    how = ("Per iteration after iteration 0, J at the end vs J_start at the start with the same beta (for a minibatch "
           "method: J_batch vs J_batch_start, J on the iteration's batch); violation if J > J_start + tol, "
           f"{_RESOLUTION_WORDS.replace('|F|', '|J_start|')}; |J - J_start| < tol is below resolution (evidence "
           "neither way); iteration 0, where J_start = J by construction, is reported apart. Judged on the runs whose "
           "method declares the decrease guarantee for its hyperparameters (every block solver monotone); supported "
           "iff zero violations there and some change above resolution; inconclusive if every change is below it.")
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
    viol, checked = int(per["j_violations"].sum()), int(per["j_checked"].sum())
    small = int(judged["j_unresolved"].sum()) if "j_unresolved" in judged else 0
    numbers = (f"judged runs {len(judged)}; violations/iterations after iteration 0 {viol}/{checked} "
               f"({'; '.join(parts)}); change below resolution (|J - J_start| < tolerance, evidence neither way) "
               f"in {small} of {checked} iterations")
    if "j_start_checked" in judged and int(judged["j_start_checked"].sum()):
        numbers += (f"; iteration 0 (J_start = J by construction), not judged: "
                    f"{int(judged['j_start_violations'].sum())} of {int(judged['j_start_checked'].sum())} rows past "
                    "the tolerance")
    numbers += other_txt
    if viol:
        return Claim("c2", claim, NOT_SUPPORTED, numbers, how, budget=EVERY_ITERATION)
    if small == checked:
        return Claim("c2", claim, INCONCLUSIVE, f"inconclusive: every change below resolution; {numbers}", how,
                     budget=EVERY_ITERATION)
    return Claim("c2", claim, SUPPORTED, numbers, how, budget=EVERY_ITERATION)


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
TO_TARGET = {"iterations": "iters_to_target", "grad_evals": "grad_evals_to_target", "wall_time": "seconds_to_target",
             "flops": "flops_to_target"}
AT_BUDGET = {"iterations": "F_at_equal_iterations", "grad_evals": "F_at_equal_grad_evals",
             "wall_time": "F_at_equal_time", "flops": "F_at_equal_flops"}


@dataclass(frozen=True)
class Equivalence:
    """The equivalence margin of one compared quantity of c3 and c6: a paired TOST (:func:`analysis.stats.tost_paired`,
    on the median) shows the subject and the baseline equal within ``+-size``, on ``log`` of the values when ``log``
    (a margin on their ratio) else on the values themselves. ``words``: the margin as the numbers column says it."""

    size: float
    log: bool
    words: str


#: the one declared equivalence margin of each quantity the comparative claims test (test name -> margin). CE at a
#: budget: the median log ratio within log 1.1 (CE within 10% either way, the size `lysep compare` counts as no change
#: in final CE: analysis.regression.MARGINS); a CE spans decades, so only a ratio is comparable across cells. Final
#: test accuracy: within 0.01 (one point). A test not listed gets no TOST: the censored costs to target (a TOST needs
#: every paired difference; a censored one is only bounded).
EQUIVALENCE: dict[str, Equivalence] = {
    **{name: Equivalence(float(np.log(1.1)), True, "|median log ratio| < log 1.1, i.e. CE within 10%")
       for name in AT_BUDGET.values()},
    "final_test_acc": Equivalence(0.01, False, "|median difference| < 0.01"),
}
#: the equivalence route of c3 and c6, as the reports' Claims section states the verdict rules
EQUIVALENCE_RULE = ("For c3 and c6 a cell that no test finds significant either way counts against the claim as "
                    "well when a paired TOST (two one-sided Wilcoxon tests, Holm over the claim's TOSTs) shows it "
                    "equivalent within the one margin declared per quantity: train CE at the budget "
                    f"{EQUIVALENCE['F_at_equal_time'].words}, final test accuracy "
                    f"{EQUIVALENCE['final_test_acc'].words}; too few seeds for a TOST show nothing, and censored "
                    "costs to target get none. 'not supported' is then a majority of cells that are against or "
                    "equivalent.")
#: why a test of the comparative claims has no TOST
NO_TOST = "no equivalence test: censored costs to target have no TOST"
TOST_COLUMNS = ["margin", "tost_p", "tost_holm", "tost_note"]


def tost_row(test: str, x: np.ndarray, y: np.ndarray) -> dict:
    """The TOST of one paired test (``x`` subject, ``y`` baseline, costs matched by seed) within its declared margin
    (:data:`EQUIVALENCE`): ``margin`` (NaN when none is declared), ``tost_p`` (NaN when there is no margin or too few
    pairs, :func:`analysis.stats.min_n_tost`) and ``tost_note`` (why not)."""
    m = EQUIVALENCE.get(test)
    if m is None:
        return {"margin": np.nan, "tost_p": np.nan, "tost_note": NO_TOST}
    a, b = (stats.log_values(x), stats.log_values(y)) if m.log else (np.asarray(x, float), np.asarray(y, float))
    out = stats.tost_paired(a, b, m.size)
    return {"margin": m.size, "tost_p": out.p_value, "tost_note": out.reason}


def with_tost_holm(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``tost_holm``: Holm over every TOST p of the table (the claim's TOST family), after ``tost_p``."""
    table.insert(table.columns.get_loc("tost_p") + 1, "tost_holm", stats.holm(table["tost_p"].to_numpy(dtype=float)))
    return table


def _censored_costs(metrics: pd.DataFrame, depth, width, a: str, b: str,
                    column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seed-matched costs to target of methods a and b in one cell with each run's censoring point
    (:func:`analysis.comparisons.censor_points`): (x, cx, y, cy)."""
    cell = metrics[(metrics["depth"] == depth) & (metrics["width"] == width)]
    cell = cell.assign(_c=cmp.cost_column(cell, column), _censor=cmp.censor_points(cell, column))
    x, y, _ = cmp.pair_by_seed(cell, a, b, "_c")
    cx, cy, _ = cmp.pair_by_seed(cell, a, b, "_censor")
    return x, cx, y, cy


def shared_clock(traces: pd.DataFrame, method: str) -> bool:
    """Whether the seeds of ``method`` in these traces (one cell) were timed as one batch: more than one seed, and
    every iteration's wall time the same for all of them. Their wall times are then one measurement, not one per
    seed."""
    r = traces[traces["method"] == method]
    if r["seed"].nunique() < 2 or "wall_time" not in r:
        return False
    return bool((r.groupby("iteration")["wall_time"].nunique(dropna=False) <= 1).all())


#: why a per-seed test of a time to target has no p-value when the seeds share one clock
ONE_CLOCK = "seeds timed as one batch: their wall times are one measurement (the cell is the replicate)"


def speed_tests(traces: pd.DataFrame, metrics: pd.DataFrame, lysep: str, baselines: Sequence[str],
                target_ce: float | None, extra: Sequence[tuple[str, bool]] = (),
                budget: str = "wall_time") -> pd.DataFrame:
    """Per cell, paired tests of ``lysep`` vs the best baseline of that cell (lower cost = better) at a budget.

    Tests (``budget`` a key of :data:`analysis.comparisons.BUDGETS`): the cost to reach target_ce in that budget's
    unit (:data:`TO_TARGET`, if a target is set; best baseline = lowest median cost) by the censoring-aware paired
    sign test (:func:`analysis.comparisons.censored_row`: a run that never reached the target is censored at what it
    spent, never ranked above a cost it did not reach), and the train CE of both runs at the equal budget
    (:func:`analysis.comparisons.equal_budget_pairs`; best baseline = lowest median final train CE) by Wilcoxon's
    signed-rank test. ``extra``: (metrics column, higher_is_better) pairs tested against the final-CE best baseline.
    A time to target whose seeds were timed as one batch (:func:`shared_clock`) is not tested per seed (no p-value,
    note :data:`ONE_CLOCK`; :func:`clock_test` tests it over the cells). Holm over every test of the table together
    (all cells and tests: one family, so a cell that counts when either of its tests is significant is corrected
    for both). Each test with a declared margin (:data:`EQUIVALENCE`: the train CE at the budget, and ``extra``
    columns listed there) also gets its paired TOST (:func:`tost_row`), Holm over every TOST of the table
    (``tost_holm``); the censored costs to target get none.
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
        cell = traces[(traces["depth"] == depth) & (traces["width"] == width)]
        if best_t is not None:
            b = best_t.loc[(depth, width)]
            row = cmp.censored_row(*_censored_costs(metrics, depth, width, lysep, b, to_target))
            if budget == "wall_time" and (shared_clock(cell, lysep) or shared_clock(cell, b)):
                row.update(p_value=np.nan, note=ONE_CLOCK)
            rows.append({"depth": depth, "width": width, "test": to_target, "method": lysep, "baseline": b, **row,
                         **tost_row(to_target, np.array([]), np.array([]))})
        b = best_ce.loc[(depth, width)]
        pairs = cmp.equal_budget_pairs(cell, lysep, b, budget)
        x, y = pairs["a"].to_numpy(), pairs["b"].to_numpy()
        rows.append({**_test_row(depth, width, AT_BUDGET[budget], lysep, b, x, y),
                     **tost_row(AT_BUDGET[budget], x, y)})
        for column, hib in extra:
            x, y = _paired_costs(metrics, depth, width, lysep, b, column, hib)
            rows.append({**_test_row(depth, width, column, lysep, b, x, y), **tost_row(column, x, y)})
    cols = ["depth", "width", "test", "method", "baseline", *cmp.PAIRED_COLUMNS, *TOST_COLUMNS]
    table = pd.DataFrame(rows, columns=[c for c in cols if c not in ("p_holm", "tost_holm")])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", stats.holm(table["p_value"].to_numpy(dtype=float)))
    return with_tost_holm(table)


def clock_test(metrics: pd.DataFrame, tests: pd.DataFrame) -> stats.Outcome | None:
    """The time to target over the cells, each cell one replicate (its seeds were timed as one batch): per cell the
    median over seeds of LySep's and of the cell's best baseline's seconds to target (censored = +inf), censored at
    the median of their runs' wall times, by the censoring-aware sign test over the cells. None when no row of
    ``tests`` (:func:`speed_tests`) was left untested for :data:`ONE_CLOCK`."""
    rows = tests[(tests["test"] == TO_TARGET["wall_time"]) & (tests["note"] == ONE_CLOCK)]
    if rows.empty:
        return None
    x, cx, y, cy = [], [], [], []
    for r in rows.itertuples(index=False):
        cell = metrics[(metrics["depth"] == r.depth) & (metrics["width"] == r.width)]
        for method, value, censor in ((r.method, x, cx), (r.baseline, y, cy)):
            runs = cell[cell["method"] == method]
            value.append(float(np.median(cmp.cost_column(runs, "seconds_to_target"))))
            censor.append(float(np.median(cmp.censor_points(runs, "seconds_to_target"))))
    return stats.censored_sign_test(*(np.asarray(v) for v in (x, cx, y, cy)))


def budget_pairs(traces: pd.DataFrame, metrics: pd.DataFrame, lysep: str, baselines: Sequence[str],
                 budget: str) -> pd.DataFrame:
    """Per cell, ``lysep`` and the best baseline of the cell (lowest median final train CE) at their equal budget:
    :func:`analysis.comparisons.equal_budget_pairs` with a ``baseline`` column (the values c4 and c5 judge)."""
    parts = []
    for depth, width, b in cmp.best_per_cell(metrics, "final_F", baselines).itertuples(index=False):
        cell = traces[(traces["depth"] == depth) & (traces["width"] == width)]
        parts.append(cmp.equal_budget_pairs(cell, lysep, b, budget).assign(baseline=b))
    cols = [*cmp.PAIR_COLUMNS, "baseline"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def _direction(tests: pd.DataFrame) -> pd.Series:
    """Which side each test's estimate favours on the cost scale (-1 LySep, +1 the baseline, 0 neither): the
    ``direction`` column, else the sign of ``median_diff``."""
    if "direction" in tests:
        return tests["direction"].astype(float).fillna(0.0)
    return np.sign(tests["median_diff"].astype(float)).fillna(0.0)


def cell_outcomes(tests: pd.DataFrame, alpha: float = stats.ALPHA) -> pd.DataFrame:
    """Per cell: ``method`` (the judged LySep method wins) / ``baseline`` / ``equivalent`` / ``neither``, and
    ``against`` (some test of the cell is significant in the baseline's favour).

    A test favours LySep when ``p_holm < alpha`` and its direction (:func:`_direction`) is < 0 (> 0 favours
    the baseline). A cell goes to LySep when at least one of its tests favours LySep and none favours
    the baseline (symmetrically for the baseline). A cell is ``equivalent`` when no test of it is significant
    (``p_holm``) in either direction, it has a test with a declared equivalence margin (``margin``), and every such
    test shows equivalence: its TOST is significant after Holm over the claim's TOSTs (``tost_holm < alpha``); a test
    with too few pairs for the TOST cannot show it, a test without a margin (a censored cost to target) is not asked
    to. Otherwise ``neither``.
    """
    t = tests.assign(sig=tests["p_holm"] < alpha, _d=_direction(tests))
    t = t.assign(pro=t["sig"] & (t["_d"] < 0), con=t["sig"] & (t["_d"] > 0))
    margin = t["margin"].notna() if "margin" in t else pd.Series(False, index=t.index)
    shown = (t["tost_holm"] < alpha) if "tost_holm" in t else pd.Series(False, index=t.index)
    t = t.assign(_m=margin, _short=margin & ~shown)
    g = t.groupby(CELL_KEYS)[["pro", "con", "sig", "_m", "_short"]].any().reset_index()
    equivalent = ~g["sig"] & g["_m"] & ~g["_short"]
    g["outcome"] = np.where(g["pro"] & ~g["con"], "method", np.where(
        g["con"] & ~g["pro"], "baseline", np.where(equivalent, "equivalent", "neither")))
    return g.rename(columns={"con": "against"})[[*CELL_KEYS, "outcome", "against"]]


def untestable_reason(table: pd.DataFrame) -> str:
    """Why no row of a test table (``p_value``, ``note``) has a p-value: its distinct notes, or a generic sentence."""
    notes = [str(n) for n in dict.fromkeys(table.get("note", pd.Series(dtype=object)).dropna()) if str(n)]
    notes = sorted(notes, key=lambda n: n == ONE_CLOCK)  # the sample's own reasons first
    return "; ".join(notes) if notes else "no testable cell"


def holm_needs(tests: int, needed: int, have: int, unit: str = "seed pairs") -> str:
    """The sentence on the smallest sample after Holm: "Holm over 18 tests: each needs >= 10 seed pairs to reach
    p < 0.05 (this grid has at most 10)"."""
    return (f"Holm over {tests} tests: each needs >= {needed} {unit} to reach p < {stats.ALPHA:g} (this grid has "
            f"at most {have})")


def _margin_words(tests: pd.DataFrame) -> str:
    """The declared margins of the tests that have one: "F_at_equal_iterations: |median log ratio| < log 1.1"."""
    names = tests.loc[tests["margin"].notna(), "test"].unique() if "margin" in tests else []
    return "; ".join(f"{n}: {EQUIVALENCE[n].words}" if n in EQUIVALENCE else f"{n}: margin given" for n in names)


def majority_verdict(tests: pd.DataFrame, holm_tests: int | None = None,
                     tost_tests: int | None = None) -> tuple[str, str]:
    """Verdict over cells from :func:`cell_outcomes` and a sentence with the counts.

    supported: LySep wins more than half of the cells and no test of any cell is significant against it. not
    supported: more than half of the cells are evidence against the claim, each either won by the baseline
    (significantly, no test for LySep) or equivalent (every test of the cell with a declared margin shown within it
    by TOST after Holm, no test significant either way: :func:`cell_outcomes`); this includes a majority won by the
    baseline (the rule before equivalence tests) and a majority shown equivalent. inconclusive: otherwise, and
    whenever no test has a p-value or a TOST p-value (too few seeds for the tests: the sentence says how many it has
    and needs). A point estimate without significance, or a test too small for its TOST, is no evidence either way.
    The sentence names the smallest sample the grid's Holm family needs (:func:`analysis.stats.min_n_wilcoxon_holm`)
    and, where tests have a margin, the margins and the smallest sample the TOST family needs; ``holm_tests``,
    ``tost_tests``: the sizes of those families when ``tests`` is part of them (default: the tests with a p-value,
    with a margin).
    """
    m = holm_tests if holm_tests is not None else int(tests["p_value"].notna().sum()) if not tests.empty else 0
    have = int(tests["n_pairs"].max()) if not tests.empty and "n_pairs" in tests else 0
    needs = holm_needs(max(m, len(tests)), stats.min_n_wilcoxon_holm(max(m, len(tests), 1)), have)
    with_margin = int(tests["margin"].notna().sum()) if "margin" in tests else 0
    if with_margin:
        mt = tost_tests if tost_tests is not None else with_margin
        needs += (f"; equivalence by TOST (two one-sided Wilcoxon tests) within the declared margin "
                  f"({_margin_words(tests)}), Holm over {mt} TOSTs: each needs >= "
                  f"{stats.min_n_wilcoxon_holm(max(mt, 1), alternative=stats.LESS)} seed pairs")
    tost_p = tests["tost_p"] if "tost_p" in tests else pd.Series(np.nan, index=tests.index)
    if tests.empty or (tests["p_value"].isna().all() and tost_p.isna().all()):
        return INCONCLUSIVE, f"inconclusive: {untestable_reason(tests)}" + (f"; {needs}" if len(tests) else "")
    out = cell_outcomes(tests)
    n = len(out)
    k_l, k_b = int((out["outcome"] == "method").sum()), int((out["outcome"] == "baseline").sum())
    k_e = int((out["outcome"] == "equivalent").sum())
    against = int(out["against"].sum())
    text = (f"cells {n}: LySep significantly better in {k_l}, baseline in {k_b}, equivalent (TOST within the margin, "
            f"no test significant) in {k_e}, neither in {n - k_l - k_b - k_e}")
    untested = tests[tests["p_value"].isna()]
    if len(untested):
        text += f" ({len(untested)} of {len(tests)} tests without a p-value: {untestable_reason(untested)})"
    text += f"; {needs}"
    if k_l > n / 2 and against == 0:
        return SUPPORTED, text
    if k_b + k_e > n / 2:
        return NOT_SUPPORTED, text + f"; baseline better or equivalent in {k_b + k_e} of {n} cells"
    if k_l > n / 2:
        return INCONCLUSIVE, text + f"; a test is significant against LySep in {against} cells"
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
                 order: Sequence[str] = (), budget: str = "wall_time", subject: Sequence[str] | None = None) -> Claim:
    """c3: the default LySep method converges faster than CE training with the best baseline, at a budget.

    Per cell, Wilcoxon signed-rank tests (paired by seed) of the default LySep method vs the best
    baseline of the cell on the cost to reach target_ce in the budget's unit (if set; censored runs count
    as +inf) and on train CE at the equal budget (:func:`speed_tests`); Holm over the cells for each test;
    rule of :func:`majority_verdict` (equivalence: the TOST of train CE at the budget within
    :data:`EQUIVALENCE`'s margin; the censored costs to target get none). Inconclusive without a LySep method or a
    baseline.
    """
    claim = "LySep converges faster than CE training (SGD/Adam/GD)"
    unit = cmp.BUDGET_UNITS[budget]
    how = (f"At {cmp.budget_words(budget)}: default LySep method vs the best baseline per cell (lowest median "
           f"{unit}-to-target, resp. final CE): {unit} to target_ce by the censoring-aware paired sign test (which run "
           "reached the target first; a run that never reached it is censored at what it spent, and a pair whose "
           "order that hides is left out, never ranked), train CE at "
           f"{cmp.budget_words(budget)} (both runs read at the smaller of their final {unit}) by Wilcoxon signed-rank "
           "paired by seed; Holm over every test of every cell together. Where the seeds of a cell were timed as one "
           "batch, seconds to target is not tested per seed but over the cells (one replicate each). A cell counts "
           "for LySep if some test is significant (Holm p < 0.05) in its favour and none against; a cell is "
           "equivalent if no test of it is significant and a paired TOST (two one-sided Wilcoxon tests of log CE, "
           "Holm over the claim's TOSTs) shows its train CE at the budget within the declared margin, "
           f"{EQUIVALENCE[AT_BUDGET[budget]].words}; the censored costs to target get no TOST. Supported if LySep "
           "wins > half the cells and no test is significant against it; not supported if the cells the baseline wins "
           "and the equivalent cells together are > half; otherwise inconclusive.")
    return _versus_claim("c3", claim, how, traces, metrics, target_ce, (), order, budget, subject)


def cnn_claim(traces: pd.DataFrame, metrics: pd.DataFrame, meta: dict, subject: Sequence[str] | None = None) -> Claim:
    """c6: LySep-CNN improves on CE training of the same CNN, on final test accuracy, against every baseline.

    Only when the spec's model kind is ``"cnn"`` (else inconclusive). Per cell and baseline, Wilcoxon signed-rank
    of the final test accuracy paired by seed (higher is better), Holm over every test of the table. Each cell is
    judged against its best baseline in test accuracy (highest median; named in the numbers), by the rule of
    :func:`majority_verdict` (equivalence: the TOST of test accuracy within :data:`EQUIVALENCE`'s margin, Holm over
    every TOST of the table); the numbers count the significant and the equivalent cells against every baseline.
    """
    claim = "LySep improves CNN training"
    how = ("Only for a spec with model kind 'cnn': final test accuracy of the default LySep method vs every baseline "
           "per cell (Wilcoxon signed-rank paired by seed, Holm over every test of every cell and baseline together); "
           "each cell judged against its best baseline in test accuracy (highest median); a cell is equivalent if the "
           "difference is not significant and a paired TOST (two one-sided Wilcoxon tests, Holm over every TOST of "
           f"the table) shows the test accuracy within the declared margin, {EQUIVALENCE['final_test_acc'].words}. "
           "Supported if LySep is "
           "significantly more accurate in > half the cells and significantly less in none; not supported if "
           "significantly less accurate or equivalent in > half; otherwise inconclusive.")
    kind = str(((meta or {}).get("spec") or {}).get("model", {}).get("kind", "")).lower()
    if kind != "cnn":
        return Claim("c6", claim, INCONCLUSIVE, "inconclusive: no CNN experiment in this run", how, budget=C6_BUDGET)
    lysep, baselines = roles(metrics, spec_order(meta), subject)
    if lysep is None:
        return Claim("c6", claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=C6_BUDGET)
    column = "final_test_acc"
    best = cmp.best_per_cell(metrics, column, baselines, higher_is_better=True).set_index(CELL_KEYS)["method"]
    rows = []
    cells = metrics.loc[metrics["method"] == lysep, CELL_KEYS].drop_duplicates().sort_values(CELL_KEYS)
    for depth, width in cells.itertuples(index=False):
        for b in baselines:
            x, y = _paired_costs(metrics, depth, width, lysep, b, column, True)
            if x.size:  # medians and differences on the accuracy's own scale, direction on the cost scale
                rows.append({"depth": depth, "width": width, "test": column, "method": lysep, "baseline": b,
                             **cmp.paired_row(x, y, sign=-1.0), **tost_row(column, x, y),
                             "best": (depth, width) in best.index and best.loc[(depth, width)] == b})
    cols = ["depth", "width", "test", "method", "baseline", *cmp.PAIRED_COLUMNS, *TOST_COLUMNS, "best"]
    table = pd.DataFrame(rows, columns=[c for c in cols if c not in ("p_holm", "tost_holm")])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", stats.holm(table["p_value"].to_numpy(dtype=float)))
    table = with_tost_holm(table)
    verdict, text = majority_verdict(table[table["best"].astype(bool)], holm_tests=int(table["p_value"].notna().sum()),
                                     tost_tests=int(table["margin"].notna().sum()))
    per = []
    for b, grp in table.groupby("baseline", sort=True):
        sig = grp["p_holm"] < stats.ALPHA
        d = _direction(grp)
        same = int((cell_outcomes(grp)["outcome"] == "equivalent").sum())
        per.append(f"{b}: LySep significantly more accurate in {int((sig & (d < 0)).sum())}, less in "
                   f"{int((sig & (d > 0)).sum())}, equivalent in {same} of {len(grp)} cells")
    named = ", ".join(f"{n} in {k}" for n, k in best.value_counts().items())
    numbers = (f"method {lysep}; against the best baseline in test accuracy per cell ({named}): {text}; "
               f"against every baseline: {'; '.join(per)}; {_test_summary(table)}")
    return Claim("c6", claim, verdict, numbers, how, table, budget=C6_BUDGET)


def _versus_claim(cid: str, claim: str, how: str, traces: pd.DataFrame, metrics: pd.DataFrame,
                  target_ce: float | None, extra: Sequence[tuple[str, bool]],
                  order: Sequence[str] = (), budget: str = "wall_time",
                  subject: Sequence[str] | None = None) -> Claim:
    """Shared body of c3 and c6."""
    label = budget if cid == "c3" else C6_BUDGET
    lysep, baselines = roles(metrics, order, subject)
    if lysep is None:
        return Claim(cid, claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=label)
    tests = speed_tests(traces, metrics, lysep, baselines, target_ce, extra, budget)
    verdict, text = majority_verdict(tests)
    numbers = f"method {lysep}; {text}; {_test_summary(tests)}" if not tests.empty else f"method {lysep}; {text}"
    clock = clock_test(metrics, tests) if not tests.empty else None
    if clock is not None:
        numbers += (f"; seconds to target over the cells (seeds timed as one batch, a cell one replicate): baseline "
                    f"first minus LySep first {_fmt(clock.statistic)} of {clock.n} cells with a known order, sign "
                    f"test p {_fmt(clock.p_value) if clock.testable else 'n/a (' + clock.reason + ')'}")
    return Claim(cid, claim, verdict, numbers, how, tests, budget=label)


#: what c6 compares at
C6_BUDGET = "final test accuracy, against every baseline"


# ----------------------------------------------------------------------------------------------
# c4: seed variance


#: why a cell of c4 gives no verdict when a run of a seed pair is read before its first iteration
NOT_COMPARABLE = "not comparable: a run is read before it completed one iteration"


def _spread_table(pairs: pd.DataFrame, lysep: str, budget: str) -> pd.DataFrame:
    """Per cell of :func:`budget_pairs`, the spread test of :func:`analysis.comparisons.spread_row` (finite values),
    without a p-value (:data:`NOT_COMPARABLE`) where a run of a seed pair is read before its first iteration."""
    rows = []
    for (depth, width, b), cell in pairs.groupby(["depth", "width", "baseline"], sort=True):
        x, y = cell["a"].to_numpy(dtype=float), cell["b"].to_numpy(dtype=float)
        row = cmp.spread_row(x[np.isfinite(x)], y[np.isfinite(y)])
        if ((cell["iter_a"] == 0) | (cell["iter_b"] == 0)).any():
            row.update(p_value=np.nan, note=NOT_COMPARABLE)
        rows.append({"depth": depth, "width": width, "method": lysep, "baseline": b, "budget": budget,
                     "metric": cmp.AT_BUDGET_COLUMN, **row})
    return pd.DataFrame(rows, columns=["depth", "width", "method", "baseline", "budget", "metric",
                                       *cmp.SPREAD_COLUMNS])


def variance_claim(traces: pd.DataFrame, metrics: pd.DataFrame, order: Sequence[str] = (),
                   budget: str = "iterations", subject: Sequence[str] | None = None) -> Claim:
    """c4: the default LySep method has a smaller multiplicative spread of train CE over seeds, at a budget.

    Per cell, Brown-Forsythe test of log train CE at the equal budget (:func:`budget_pairs`: LySep and the best
    baseline of the cell, lowest median final CE, each seed read at the smaller of the two runs' final budget;
    :func:`analysis.comparisons.spread_row`, raw-scale std beside), runs that diverged before it excluded; Holm over
    cells. A cell where some seed pair is read before one of its runs completed an iteration (its CE there is the
    initial point's) is not comparable: no test. A cell counts for LySep when Holm p < 0.05 and its spread (mean
    absolute deviation from the median of log CE) is smaller. Supported if that holds in more than half the tested
    cells and the baseline is significantly less spread in none; not supported if the baseline is significantly
    less spread in more than half; inconclusive otherwise, and when no cell is testable (not comparable, or fewer
    seeds than the test needs: :func:`analysis.stats.min_n_brown_forsythe`). No equivalence route (as c3 and c6
    have, :func:`majority_verdict`): no equivalence test of two spreads is implemented, so equal spreads stay
    inconclusive.
    """
    claim = "LySep results vary less over seeds than CE training"
    how = (f"Log train CE at {cmp.budget_words(budget)} of the default LySep method vs the best baseline per cell "
           "(lowest median final CE; each seed pair read at the smaller of its two final "
           f"{cmp.BUDGETS[budget][0]} values, diverged runs excluded; a cell where a run is read before its first "
           "iteration is not comparable): Brown-Forsythe test (scipy levene, center='median') of log CE, i.e. of the "
           f"multiplicative spread (the raw-scale std beside), needs >= {stats.min_n_brown_forsythe()} seeds per "
           "method; Holm over cells; direction from the mean absolute deviation from the median of log CE. Supported "
           "if LySep is significantly less spread in > half the tested cells and the baseline in none; not supported "
           "if the baseline is in > half; otherwise inconclusive.")
    lysep, baselines = roles(metrics, order, subject)
    if lysep is None:
        return Claim("c4", claim, INCONCLUSIVE, NEEDS_BOTH, how, budget=budget)
    table = _spread_table(budget_pairs(traces, metrics, lysep, baselines, budget), lysep, budget)
    if table.empty or table["p_value"].isna().all():
        return Claim("c4", claim, INCONCLUSIVE, f"method {lysep}; inconclusive: {untestable_reason(table)}",
                     how, table if not table.empty else None, budget)
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", stats.holm(table["p_value"].to_numpy()))
    tested = table[table["p_value"].notna()]
    sig = tested["p_holm"] < stats.ALPHA
    k_l = int((sig & (tested["spread_method"] < tested["spread_baseline"])).sum())
    k_b = int((sig & (tested["spread_method"] > tested["spread_baseline"])).sum())
    n = len(tested)
    smaller = int((tested["spread_method"] < tested["spread_baseline"]).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.nanmedian(tested["std_method"] / tested["std_baseline"]))
        raw = float(np.nanmedian(tested["raw_std_method"] / tested["raw_std_baseline"]))
    numbers = (f"method {lysep}; cells tested {n}: LySep significantly less spread (log CE) in {k_l}, baseline in "
               f"{k_b}; LySep spread smaller (point estimate) in {smaller}; median std ratio of log CE LySep/baseline "
               f"{_fmt(ratio)} (raw CE: {_fmt(raw)}); "
               + holm_needs(n, stats.min_n_brown_forsythe_holm(n), int(tested[["n_method", "n_baseline"]].min(
                   axis=1).max()), "seeds per method"))
    untested = table[table["p_value"].isna()]
    if len(untested):
        numbers += f"; {len(untested)} cells without a p-value ({untestable_reason(untested)})"
    if k_l > n / 2 and k_b == 0:
        verdict = SUPPORTED
    elif k_b > n / 2:
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
                budget: str = "iterations", subject: Sequence[str] | None = None) -> Claim:
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
    lysep, baselines = roles(metrics, order, subject)
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
                    wall_caveat: str = "", subject: Sequence[str] | None = None) -> list[Claim]:
    """All claims, in report order: c1, c1b, c2, then c3, c4 and c5 each at every budget of
    :data:`analysis.comparisons.BUDGETS` the traces record (equal iterations, grad_evals, wall time, and flops where
    recorded: :func:`analysis.comparisons.budgets_of`), then c6.

    ``traces``: trace table; ``metrics``: :func:`analysis.metrics.metrics_table` of it; ``meta``: meta.json;
    ``wall_caveat``: :func:`analysis.provenance.wall_time_caveat`, added to the numbers of the claims that rest
    on wall time (c3, c4, c5 at equal wall time): first when the wall times are unreliable, last when they
    were not checked; ``subject``: the labels under test given on the command line (:func:`subject_labels`: else
    the spec's ``subject``, else the default LySep method). When the judged subject is not LySep's own method
    (:func:`is_lysep`), every claim is worded for it (:func:`generic_wording`).
    """
    budget = ((meta or {}).get("spec") or {}).get("budget") or {}
    target = budget.get("target_ce")
    order = spec_order(meta)
    subject = subject_labels(metrics, meta, subject)
    claims = [certificate_claim(metrics), surrogate_claim(metrics), monotone_claim(metrics),
              *[faster_claim(traces, metrics, target, order, b, subject) for b in cmp.budgets_of(traces)],
              *[variance_claim(traces, metrics, order, b, subject) for b in cmp.budgets_of(traces)],
              *[depth_claim(traces, metrics, order, b, subject) for b in cmp.budgets_of(traces)],
              cnn_claim(traces, metrics, meta or {}, subject)]
    judged = roles(metrics, order, subject)[0]
    if not paper_wording(metrics, order, subject):
        claims = generic_wording(claims, judged or ", ".join(subject or []) or "the subject")
    for c in claims:
        if wall_caveat and c.budget == "wall_time" and c.details is not None:
            c.numbers = f"{wall_caveat}; {c.numbers}" if UNRELIABLE in wall_caveat else f"{c.numbers}; {wall_caveat}"
    return claims


def paper_wording(metrics: pd.DataFrame, order: Sequence[str] = (), subject: Sequence[str] | None = None) -> bool:
    """Whether the claims keep the LySep paper's wording: the judged subject (:func:`roles`) is LySep's own method
    (:func:`is_lysep`). With no subject given and none to judge (no layer-separation method or no baseline) the
    paper's claims stand, judged inconclusive; with a subject given that cannot be judged, generic wording."""
    judged = roles(metrics, order, subject)[0]
    if judged is None:
        return subject is None
    return is_lysep(metrics, judged)


#: the claims in generic words, for a subject that is not LySep's own method ({s}: the subject's label)
GENERIC_CLAIMS = {
    "c1": "The certified bound B of the methods that record it bounds the training CE from above (B >= F)",
    "c1b": "The surrogate loss J of the methods that record it bounds the training CE from above (J >= F)",
    "c2": "The surrogate loss J decreases monotonically at fixed weights (methods that declare the guarantee)",
    "c3": "{s} reaches the target faster than the best baseline",
    "c4": "{s} has less seed spread than the best baseline",
    "c5": "The advantage of {s} over the best baseline grows with depth",
    "c6": "{s} improves on the test accuracy of the best baseline (CNN)",
}
#: (paper phrase, generic phrase) in the how-tested and numbers texts, in order ({s}: the subject's label)
GENERIC_PHRASES = (
    (NEEDS_BOTH, "needs runs of {s} and a baseline"),
    ("the default LySep method", "the subject {s}"), ("default LySep method", "subject {s}"),
    ("of every LySep run", "of every run"), ("no LySep rows", "no rows"), ("all LySep methods", "all methods"),
    ("The LySep loss J", "The surrogate loss J"), ("LySep", "{s}"),
)


def generic_wording(claims: Sequence[Claim], subject: str) -> list[Claim]:
    """The claims worded for a subject that is not LySep's own method: each claim's sentence from
    :data:`GENERIC_CLAIMS`, and "LySep" in its how-tested and numbers texts replaced (:data:`GENERIC_PHRASES`) by
    the subject's label or a neutral phrase. Same tests, numbers and verdicts."""
    def words(text: str) -> str:
        for old, new in GENERIC_PHRASES:
            text = text.replace(old, new.format(s=subject))
        return text

    return [Claim(c.id, GENERIC_CLAIMS[c.id].format(s=subject), c.verdict, words(c.numbers), words(c.how_tested),
                  c.details, c.budget) for c in claims]


#: the paired tests that read wall times, and the word a caveat starts with when they cannot be trusted
WALL_TESTS = ("seconds_to_target", "F_at_equal_time")
UNRELIABLE = "unreliable"


def claims_table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a DataFrame with columns id, claim, budget (in words), verdict, numbers, how_tested."""
    rows = [{**{c: getattr(cl, c) for c in CLAIM_COLUMNS}, "budget": cmp.budget_words(cl.budget)} for cl in claims]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
