"""One results store analysed: its three tables read, and everything the report shows computed once from them.

:func:`analyse` gives an :class:`Analysis` (metrics, summaries, paired comparisons, variance tests, claims,
performance ratios); :mod:`analysis.sections` turns it into sections and :mod:`analysis.report` renders them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import claims as cl
from analysis import comparisons as cmp
from analysis.metrics import metrics_table, timing_table
from analysis.provenance import wall_time_caveat

COMPARED_METRICS = (  # (column, higher is better, label)
    ("final_F", False, "final train CE"),
    ("final_test_acc", True, "final test accuracy"),
    ("seconds_to_target", False, "seconds to target CE"),
)


def spec_of(meta: dict) -> dict:
    """The spec recorded in meta.json ({} if none)."""
    return (meta or {}).get("spec") or {}


def load_results(results_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read ``traces.parquet``, ``runs.parquet`` (empty table if missing) and ``meta.json`` ({} if missing)."""
    results_dir = Path(results_dir)
    traces = pd.read_parquet(results_dir / "traces.parquet")
    runs_path = results_dir / "runs.parquet"
    runs = pd.read_parquet(runs_path) if runs_path.exists() else pd.DataFrame()
    meta_path = results_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return traces, runs, meta


def target_ce(meta: dict) -> float | None:
    """The budget's target train CE from meta.json, or None."""
    t = (spec_of(meta).get("budget") or {}).get("target_ce")
    return None if t is None else float(t)


@dataclass
class Analysis:
    """Everything the report shows, computed once from the three tables."""

    traces: pd.DataFrame
    runs: pd.DataFrame
    meta: dict
    metrics: pd.DataFrame
    target: float | None
    lysep: list[str]
    baselines: list[str]
    summary: pd.DataFrame
    comparisons: pd.DataFrame
    variance: pd.DataFrame
    claims: list[cl.Claim]
    timing: pd.DataFrame
    wall_caveat: str
    #: per budget (analysis.comparisons.BUDGETS) the problems x methods performance ratios over the cells
    ratios: dict[str, pd.DataFrame]
    #: :func:`analysis.comparisons.profile_summary` of each profile's ratios, with a ``budget`` column: the cost to
    #: reach each target (:data:`analysis.comparisons.PROFILE_TARGETS`) first, then F at each budget
    profiles: pd.DataFrame
    #: per (budget, target CE) the problems x methods performance ratios of the cost to reach the target
    target_ratios: dict[tuple[str, float], pd.DataFrame]
    #: the methods under test in the paired and spread tables (:func:`subjects_of`)
    subjects: list[str] = field(default_factory=list)
    #: the labels given (``--subject``, else the spec's ``subject``), None for the default
    subject: list[str] | None = None
    #: whether the claims keep the LySep paper's wording (:func:`analysis.claims.paper_wording`)
    paper: bool = True


def one_clock_untested(table: pd.DataFrame, traces: pd.DataFrame) -> pd.DataFrame:
    """``table`` (paired comparisons of seconds to target) without p-values in the cells where either method's
    seeds were timed as one batch (:func:`analysis.claims.shared_clock`: one measurement, not one per seed), with
    the note :data:`analysis.claims.ONE_CLOCK`; Holm again over what is left."""
    out = table.copy()
    for i, r in out.iterrows():
        cell = traces[(traces["depth"] == r["depth"]) & (traces["width"] == r["width"])]
        if cl.shared_clock(cell, r["method"]) or cl.shared_clock(cell, r["baseline"]):
            out.loc[i, ["p_value", "note"]] = [float("nan"), cl.ONE_CLOCK]
    if len(out):
        out["p_holm"] = cmp.holm_by(out, ["method", "baseline"])
    return out


def subjects_of(metrics: pd.DataFrame, subject: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(the methods under test, the baselines they are compared with) in the paired and spread tables: with
    ``subject`` given, its labels that have runs against every method of family baseline that is not one of them;
    by default the layer-separation methods against the baselines."""
    if subject is None:
        return cl.lysep_methods(metrics), cl.baseline_methods(metrics)
    present = set(metrics["method"]) if not metrics.empty else set()
    return [s for s in subject if s in present], [b for b in cl.baseline_methods(metrics) if b not in subject]


def analyse(traces: pd.DataFrame, runs: pd.DataFrame, meta: dict, subject: Sequence[str] | None = None) -> Analysis:
    """Metrics, summaries, paired comparisons, variance tests and claims of one results store.

    ``subject``: the labels under test (``lysep report --subject``), overriding the spec's ``subject``; neither
    set: the layer-separation methods (:func:`analysis.claims.subject_labels`)."""
    target = target_ce(meta)
    metrics = metrics_table(traces, target, runs, dtype=(spec_of(meta).get("model") or {}).get("dtype"))
    chosen = cl.subject_labels(metrics, meta, subject)
    lysep, baselines = subjects_of(metrics, chosen)
    columns = ["final_F", "final_train_acc", "final_test_ce", "final_test_acc", "iters_to_target",
               "seconds_to_target", "grad_evals_to_target", "auc_log_ce", "wall_time", "grad_evals"]
    summary = cmp.summary_table(metrics, columns) if not metrics.empty else pd.DataFrame()
    parts = []
    for column, hib, _ in COMPARED_METRICS:
        if column == "seconds_to_target" and target is None:
            continue
        if lysep and baselines:
            table = cmp.paired_comparisons(metrics, column, lysep, baselines, higher_is_better=hib)
            parts.append(one_clock_untested(table, traces) if column == "seconds_to_target" else table)
    comparisons = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    variance = (cmp.variance_comparisons(metrics, "final_F", lysep, baselines) if lysep and baselines
                else pd.DataFrame())
    timing = timing_table(runs)
    caveat = wall_time_caveat(timing)
    claims = cl.evaluate_claims(traces, metrics, meta, caveat, chosen) if not metrics.empty else []
    ratios = ({b: cmp.performance_ratios(cmp.budget_costs(traces, b)) for b in cmp.budgets_of(traces)}
              if not metrics.empty else {})
    to_target = ({(b, t * target): cmp.performance_ratios(cmp.target_costs(traces, t * target, b))
                  for t in cmp.PROFILE_TARGETS for b in cmp.budgets_of(traces)}
                 if target is not None and not metrics.empty else {})
    methods = sorted(metrics["method"].unique()) if not metrics.empty else []

    def profile_of(r: pd.DataFrame) -> pd.DataFrame:  # a profile with no comparable cell: every method, 0 cells
        return cmp.profile_summary(r) if not r.empty else pd.DataFrame({"method": methods, "cells": 0})

    parts = [profile_of(r).assign(budget=cmp.target_words(b, t)) for (b, t), r in to_target.items()]
    parts += [profile_of(r).assign(budget=f"F at {cmp.budget_words(b)}") for b, r in ratios.items()]
    profiles = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["budget", "method"])
    profiles = profiles[["budget", *[c for c in profiles.columns if c != "budget"]]]
    paper = cl.paper_wording(metrics, cl.spec_order(meta), chosen) if not metrics.empty else chosen is None
    return Analysis(traces, runs, meta, metrics, target, cl.lysep_methods(metrics), baselines, summary, comparisons,
                    variance, claims, timing, caveat, ratios, profiles, to_target, lysep, chosen, paper)
