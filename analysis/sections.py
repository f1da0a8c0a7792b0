"""The sections of a report, built from an :class:`analysis.analyse.Analysis` (content, no rendering).

Each function returns one :class:`analysis.render.Section` of tables, paragraphs and figures; the
report renders them as Markdown and HTML (:mod:`analysis.render`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import claims as cl
from analysis import comparisons as cmp
from analysis import stats
from analysis.analyse import COMPARED_METRICS, Analysis, spec_of
from analysis.metrics import RESOLUTION_ULPS, resolution
from analysis.provenance import contended_units, invocations_table, run_provenance_rows, timing_note
from analysis.render import NA, Fig, Section, Table, display, fmt
from lysep.datasets import dataset_info
from lysep.harness.spec import STOPPING_KEYS


def per_cell_and_method(table: pd.DataFrame):
    """``((depth, width, method), rows)`` for every cell and method of a per-run table, in order."""
    return table.groupby(["depth", "width", "method"], sort=True)


def _data_fields(data: dict) -> dict:
    """The [data] keys that apply to its dataset, as the dataset declares them (all keys for one this
    install does not know)."""
    try:
        keys = dataset_info(data.get("dataset")).keys
    except ValueError:
        return dict(data)
    return {k: v for k, v in data.items() if k == "dataset" or k in keys}


def _first_clause(text: str) -> str:
    """``text`` up to its first "; " outside parentheses."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and text.startswith("; ", i):
            return text[:i]
    return text


def _short_reason(claim: cl.Claim) -> str:
    """Why an inconclusive claim is inconclusive: the clause after 'inconclusive: ' in its numbers, else its numbers
    when short."""
    text = claim.numbers
    if "inconclusive: " in text:
        return _first_clause(text.split("inconclusive: ", 1)[1])
    return text if len(text) <= 160 else ""


def claim_sentence(claim: cl.Claim) -> str:
    """One sentence per claim for the bottom line: id, verdict, the claim, and why when inconclusive."""
    why = _short_reason(claim) if claim.verdict == cl.INCONCLUSIVE else ""
    at = f" at {cmp.budget_words(claim.budget)}" if claim.budget in cmp.BUDGETS else ""
    return f"{claim.id}{at}, {claim.verdict}: {claim.claim}" + (f" ({why})." if why else ".")


def headline(a: Analysis) -> str:
    """The default LySep method's final train CE over the best baseline's, median and range over the cells."""
    subject, baselines = cl.roles(a.metrics, cl.spec_order(a.meta), a.subject)
    if subject is None:
        return ("No comparison: the run needs a LySep method and a baseline." if a.subject is None else
                f"No comparison: the run needs runs of {', '.join(a.subject)} and a baseline.")
    ratios = cl.ratio_by_cell(a.metrics, subject, baselines)
    r = ratios["ratio"].to_numpy(dtype=float)
    if not np.isfinite(r).any():
        return f"No finite final train CE ratio of {subject} to the best baseline in any cell."
    best = ", ".join(f"{b} in {n}" for b, n in ratios["baseline"].value_counts().items())
    return (f"Headline: {subject}'s median final train CE is {fmt(float(np.nanmedian(r)), 3)}x that of the best "
            f"baseline of its cell (median over {len(r)} cells, range {fmt(float(np.nanmin(r)), 3)}-"
            f"{fmt(float(np.nanmax(r)), 3)}x; below 1 = {'LySep' if a.paper else subject} lower; best baseline: "
            f"{best}).")


def setting(a: Analysis) -> str:
    """Data, model, grid and budget in one sentence."""
    spec = spec_of(a.meta)
    data, model, budget = (spec.get(k) or {} for k in ("data", "model", "budget"))
    m = a.metrics
    sizes = m.groupby(["method", "depth", "width"]).size() if len(m) else pd.Series([0])
    stop = ", ".join(f"{k} {fmt(budget[k])}" for k in (*STOPPING_KEYS, "target_ce")
                     if budget.get(k) is not None)
    keys = ", ".join(f"{k}={v}" for k, v in _data_fields(data).items() if k != "dataset")
    return (f"Data {data.get('dataset', 'unknown')} ({keys}); "
            f"{str(model.get('kind', 'fnn')).upper()} with {model.get('activation', 'tanh')}, depth "
            f"{sorted(m['depth'].unique().tolist()) if len(m) else []} x width "
            f"{sorted(m['width'].unique().tolist()) if len(m) else []}, {_range(sizes)} seeds per method and cell; "
            f"budget: {stop or 'unknown'}.")


def _range(values: pd.Series) -> str:
    lo, hi = int(values.min()), int(values.max())
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def bottom_line(a: Analysis) -> Section:
    """The report's opening: the setting, the headline ratio, one sentence per verdict, and timing caveats."""
    if a.metrics.empty:
        return Section("Bottom line", ["No runs in this results store."])
    items = [setting(a), headline(a), *[claim_sentence(c) for c in a.claims]]
    if a.wall_caveat:
        items.append(a.wall_caveat[:1].upper() + a.wall_caveat[1:] + ".")
    return Section("Bottom line", [("ul", items)])


def header(a: Analysis) -> Section:
    spec, meta = spec_of(a.meta), a.meta or {}
    data, model, budget, grid = (spec.get(k) or {} for k in ("data", "model", "budget", "grid"))
    m = a.metrics
    n_div = int(m["diverged"].sum()) if not m.empty else 0
    depths = sorted(m["depth"].unique().tolist()) if len(m) else []
    widths = sorted(m["width"].unique().tolist()) if len(m) else []
    sizes = m.groupby(["method", "depth", "width"]).size() if len(m) else pd.Series([0])
    seeds = _range(sizes)
    rows = [
        ("experiment", spec.get("name", "unknown")),
        ("dataset", ", ".join(f"{k}={v}" for k, v in _data_fields(data).items()) or "unknown"),
        ("model", ", ".join(f"{k}={v}" for k, v in model.items()) or "unknown"),
        ("grid", ", ".join(f"{k}={v}" for k, v in grid.items()) or "unknown"),
        ("budget", ", ".join(f"{k}={v}" for k, v in budget.items()) or "unknown"),
        ("methods (label = algorithm)", ", ".join(f"{lab} = {alg}" for lab, alg in
                                                  m[["method", "algorithm"]].drop_duplicates().itertuples(
                                                      index=False)) if not m.empty else "none"),
        ("runs", f"{len(m)} ({n_div} diverged); depths {depths}; widths {widths}; seeds per method and cell "
                 f"{seeds}"),
    ]
    failed = a.runs[a.runs["status"] == "failed"] if not a.runs.empty and "status" in a.runs else a.runs.iloc[:0]
    if len(failed):
        rows.append(("failed runs (no traces)", f"{len(failed)}: " + ", ".join(
            sorted({f"{r.method} d{r.depth} w{r.width}" for r in failed.itertuples()}))))
    rows += run_provenance_rows(a.runs) if not a.runs.empty else []
    blocks: list = [Table(pd.DataFrame(rows, columns=["field", "value"]))]
    methods = _methods_table(spec, m)
    if not methods.empty:
        blocks.append(Table(methods, "Methods of the spec, with what each declares about itself"))
    calls = invocations_table(meta)
    if not calls.empty:
        blocks.append(Table(calls, "Invocations of lysep run on this results directory (meta.json)"))
    return Section("Experiment", blocks)


def _methods_table(spec: dict, m: pd.DataFrame) -> pd.DataFrame:
    """One row per method of the spec: label, algorithm, hyperparameters, and the declared properties of its runs."""
    props = m.drop_duplicates("method").set_index("method") if not m.empty else pd.DataFrame()
    rows = []
    for x in spec.get("methods") or spec.get("method") or []:
        label = x.get("label", x.get("name"))
        p = props.loc[label] if label in props.index else {}
        rows.append({"label": label, "algorithm": x.get("name"),
                     "hyperparameters": ", ".join(f"{k}={v}" for k, v in _hparams(x).items()) or "defaults",
                     "family": p.get("family", NA), "decrease guaranteed": fmt(p.get("decrease_guaranteed", None)),
                     "metrics": p.get("metrics", NA) or "none"})
    return pd.DataFrame(rows)


def _hparams(method: dict) -> dict:
    """A spec method's hyperparameters: its ``hparams`` dict, or (TOML layout) every key but name and label."""
    if isinstance(method.get("hparams"), dict):
        return method["hparams"]
    return {k: v for k, v in method.items() if k not in ("name", "label")}


def _subject_words(a: Analysis) -> str:
    """Which method the comparative claims judge, in the claims section's words."""
    if a.subject is not None:
        return (f"The comparative claims (c3-c6) judge the subject, {a.subject[0]} (the first label of "
                f"{', '.join(a.subject)}, given by --subject or the spec's subject key, that has runs)")
    if not a.paper:
        judged = cl.roles(a.metrics, cl.spec_order(a.meta))[0]
        return (f"The comparative claims (c3-c6) judge one method, the default subject {judged}: the first "
                "alternating-minimisation method of the spec that ran with its built-in defaults, else the first "
                "alternating-minimisation method, else the first joint one (families as the methods declare them; "
                "set the spec's subject key or give --subject to choose another)")
    return ("The comparative claims (c3-c6) judge one method, the 'default LySep method': the first "
            "alternating-minimisation method of the spec that ran with its built-in defaults, else the first "
            "alternating-minimisation method, else the first joint one (families as the methods declare them)")


def generic_claims_text(a: Analysis) -> str:
    """The claims section's opening for a subject that is not LySep's own method (:func:`analysis.claims.is_lysep`):
    the same tests and rules as the paper's claims, in words that name the subject."""
    return (f"The suite's claims about the subject, with its verdict (supported / not supported / inconclusive), "
            f"the numbers behind it and how it was tested. Significance: Holm-adjusted p < {stats.ALPHA:g}. Failures "
            f"(diverged runs, runs that never reach the target) count as worse than any finished run in paired tests. "
            f"{_subject_words(a)}, against every method of family 'baseline' that is not a subject. The column "
            "'budget' says what each verdict compares at: c3, c4 and c5 are judged three times, at equal iterations, "
            "equal gradient evaluations (grad_evals, full forward+backward passes) and equal wall time, each pair of "
            "runs (same seed) read where the cheaper of the two stopped; c6 on the final test accuracy against every "
            "baseline, each cell judged against its most accurate baseline. Verdict rules: 'supported' needs a "
            "significant result in the subject's favour in a majority of cells and none against; 'not supported' a "
            "significant result against it in a majority of cells; anything else, a point estimate without "
            f"significance included, is 'inconclusive'. {cl.EQUIVALENCE_RULE} Holm runs over every test a claim "
            "uses; each claim's numbers "
            "name the sample that family needs to reach significance at all. Costs to a target are tested by a "
            "censoring-aware paired sign test. c1, c1b and c2 judge the methods that record the bound B and the "
            "surrogate loss J (as they declare in their metrics), whichever the subject.")


def claims_section(a: Analysis) -> Section:
    if not a.claims:
        return Section("Claims", ["No runs in this results store: no claim can be judged."])
    table = cl.claims_table(a.claims)
    if not a.paper:
        return Section("Claims", [generic_claims_text(a), Table(table.rename(columns={"how_tested": "how tested"}))])
    text = ("Each claim of the LySep paper with the suite's verdict (supported / not supported / inconclusive), "
            "the numbers behind it and how it was tested. Significance: Holm-adjusted p < "
            f"{stats.ALPHA:g}. Failures (diverged runs, runs that never reach the target) count as worse than "
            f"any finished run in paired tests. {_subject_words(a)}; the baselines are the methods of family "
            f"'baseline'{'' if a.subject is None else ' that are not a subject'}. The column 'budget' says what each "
            "verdict compares at: c3, c4 and c5 are judged three times, at equal iterations, equal gradient "
            "evaluations (grad_evals, full forward+backward passes) and equal wall time, each pair of runs (same "
            "seed) read where the cheaper of the two stopped; c6 on the final test accuracy against every baseline, "
            "each cell judged against its most accurate baseline. "
            "Verdict rules: 'supported' needs a significant result in LySep's favour in a majority of cells and none "
            "against; 'not supported' a significant result against it in a majority of cells; anything else, a point "
            f"estimate without significance included, is 'inconclusive'. {cl.EQUIVALENCE_RULE} Holm runs over every "
            "test a claim uses "
            "(all cells and tests together); each claim's numbers name the sample that family needs to reach "
            "significance at all. Costs to a target are tested by a censoring-aware paired sign test (a run that never "
            "reached the target is censored at what it spent, never ranked above a cost it did not reach). Where the "
            "seeds of a cell were timed as one batch (one clock), seconds to target is not tested per seed: the cell "
            "is the replicate. c4 tests the spread of log train CE (multiplicative spread; the raw-scale std beside) "
            "and gives no verdict for a cell where a run is read before it completed one iteration. The bound checks "
            "c1, c1b and the decrease check c2 use a tolerance scaled by the run's dtype, judge the rows after "
            "iteration 0 (where the gaps are 0 by construction) and count gaps below that tolerance as evidence "
            "neither way.")
    return Section("Claims", [text, Table(table.rename(columns={"how_tested": "how tested"}))])


def profiles_section(a: Analysis) -> Section:
    """The performance profiles over the cells at each budget, summarised: how often each method is the best of a
    cell, within 2x and within 10x of it, and its median ratio to the best."""
    title = "Performance profiles at each budget"
    if a.profiles.empty:
        return Section(title, ["No runs: no profile."])
    taus = [c for c in a.profiles.columns if c.startswith("rho@")]
    p = a.profiles
    table = pd.DataFrame({"budget": p["budget"], "method": p["method"], "cells": p["cells"],
                          **{f"share of cells within {c[4:]}x of the best": p[c].map(
                              lambda x: f"{100 * x:.0f}%" if np.isfinite(x) else "not comparable") for c in taus},
                          "median ratio to the best": p["median_ratio"].map(fmt)})
    text = ("Dolan-More performance profiles over the grid's cells (figures below). First, as Dolan and More defined "
            "them, on the cost to reach a target train CE (the spec's target_ce and 10x it) in iterations, "
            "grad_evals, seconds and flops (where the traces record them): the cell's cost is the median over "
            "seeds, a run that never reached the target costs infinitely much (unsolved), and a method's ratio is "
            "its cost over the best cost of the cell. Then "
            "'F at' a budget: per cell and seed, every method's train CE read at a common budget, the smallest final "
            "iteration count, grad_evals, wall time or flops of the methods' runs that did not diverge, only where "
            "every method had completed at least one iteration within it (elsewhere a method would be read at its "
            "starting point); 'cells' counts the cells with such seeds (0: not comparable at that budget). "
            "'within 1x' is the share of cells where the method is the best.")
    return Section(title, [text, Table(table)])


def _median_iqr(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"{fmt(d['median'])} [{fmt(d['iqr'])}]" if d["n"] else NA


def _mean_std(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"{fmt(d['mean'])} \u00b1 {fmt(d['std'])}" if d["n"] else NA


def _summary_row(a: Analysis, depth: int, width: int, method: str, g: pd.DataFrame) -> dict:
    row = {"depth": depth, "width": width, "method": method, "runs": len(g), "diverged": int(g["diverged"].sum()),
           "train CE median [IQR]": _median_iqr(g["final_F"]), "train CE mean \u00b1 std": _mean_std(g["final_F"]),
           "train CE 95% CI": _ci(g["final_F"]), "test acc median [IQR]": _median_iqr(g["final_test_acc"]),
           "test acc mean \u00b1 std": _mean_std(g["final_test_acc"])}
    if a.target is not None:
        reached = g[g["reached"].astype(bool)]
        row["reached target"] = f"{len(reached)} of {len(g)}"
        for column, label in (("iters_to_target", "iterations"), ("seconds_to_target", "seconds"),
                              ("grad_evals_to_target", "grad evals")):
            row[f"{label} to target, median"] = fmt(reached[column].median()) if len(reached) else NA
    return row


def summary_section(a: Analysis) -> Section:
    if a.metrics.empty:
        return Section("Summary per cell and method", ["No runs."])
    rows = [_summary_row(a, *key, g) for key, g in per_cell_and_method(a.metrics)]
    blocks: list = []
    if a.target is None:
        blocks.append("No target_ce is set in the budget: time-to-target metrics are not computed.")
    else:
        blocks.append(f"Target train CE {fmt(a.target)}. Time to target is the first recorded row with F <= target "
                      "(iterations: that row's index; seconds and grad evals: linear interpolation between it and the "
                      "row before). Runs that never reach the target are censored: the medians are over the runs "
                      "that reached it, and the reached column says how many did.")
    blocks.append("Final values are the last recorded finite values (for a diverged run: before the divergence). "
                  "IQR = interquartile range; CI = 95% percentile bootstrap interval of the mean over seeds "
                  f"({stats.N_RESAMPLES} resamples; it lies within the seeds' values, so it never leaves the "
                  f"quantity's range; none with fewer than {stats.min_n_bootstrap(statistic='mean')} seeds).")
    table = pd.DataFrame(rows)
    if a.wall_caveat:
        blocks.append(f"Seconds to target: {a.wall_caveat}.")
        if cl.UNRELIABLE in a.wall_caveat:
            table = table.rename(columns={"seconds to target, median": "seconds to target, median (unreliable)"})
    blocks.append(Table(table))
    return Section("Summary per cell and method", blocks)


def method_metrics_section(a: Analysis) -> Section:
    """The final values of the metrics each method declares (runs.parquet ``final_<name>``), per cell."""
    title = "Metrics the methods declare"
    runs = a.runs[a.runs["status"] != "failed"] if not a.runs.empty and "status" in a.runs else a.runs
    declared = {} if runs.empty or "metrics" not in runs else {
        method: [n for n in str(names).split(",") if n and f"final_{n}" in runs]
        for method, names in runs.drop_duplicates("method")[["method", "metrics"]].itertuples(index=False)}
    declared = {k: v for k, v in declared.items() if v}
    if not declared:
        return Section(title, ["No method in this run declares metrics beyond the harness's (F, accuracies, costs)."])
    blocks: list = ["Besides the training CE, accuracies and costs that the harness records for every method, a method "
                    "declares its own per-iteration metrics (runs.parquet column 'metrics'; per-layer ones are in the "
                    "traces as <name>_1..<name>_D). Final value of each scalar one: median over seeds [IQR]."]
    for method, names in sorted(declared.items()):
        sub = runs[runs["method"] == method]
        rows = [{"depth": d, "width": w, "runs": len(g), **{n: _median_iqr(g[f"final_{n}"]) for n in names}}
                for (d, w), g in sub.groupby(["depth", "width"], sort=True)]
        blocks += [("h3", method), Table(pd.DataFrame(rows))]
    return Section(title, blocks)


def _ci(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"[{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]" if np.isfinite(d["ci_low"]) else NA


def _comparisondisplay(t: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "depth": t["depth"], "width": t["width"], "method": t["method"], "baseline": t["baseline"],
        "pairs": t["n_pairs"], "method median": t["method_median"].map(fmt),
        "baseline median": t["baseline_median"].map(fmt), "ratio": t["ratio"].map(fmt) if "ratio" in t else NA,
        "median diff [95% CI]": [f"{fmt(d)} [{fmt(lo)}, {fmt(hi)}]" for d, lo, hi in
                                 zip(t["median_diff"], t["ci_low"], t["ci_high"], strict=True)],
        "test": t["test_used"] if "test_used" in t else "Wilcoxon signed-rank",
        "p": t["p_value"].map(lambda v: fmt(v, 3)), "Holm p": t["p_holm"].map(lambda v: fmt(v, 3)),
        "win rate": t["win_rate"].map(lambda v: fmt(v, 3))})
    if "prob_improvement" in t:
        out["P(improvement)"] = t["prob_improvement"].map(lambda v: fmt(v, 3))
    if "note" in t and t["note"].fillna("").astype(bool).any():
        out["why no p or interval"] = t["note"].fillna("")
    return out


#: (paper phrase, phrase for a subject that is not LySep's own method) in the paired and variance sections
SUBJECT_PHRASES = (("Default LySep", "The subject"), ("default LySep method", "subject"),
                   ("Each LySep method", "Each method under test"), ("each LySep method", "each method under test"),
                   ("the LySep method", "the method under test"), ("LySep", "the method under test"))


def _own_words(a: Analysis, title: str, blocks: list) -> Section:
    """A section as written for LySep, or, for a subject that is not LySep's own method, with the paper's names
    replaced (:data:`SUBJECT_PHRASES`) and the subjects named in the title (also when the claims' subject is LySep's
    but another subject given is not)."""
    if a.paper and (a.subject is None or all(cl.is_lysep(a.metrics, s) for s in a.subjects)):
        return Section(title, blocks)

    def words(text: str) -> str:
        for old, new in SUBJECT_PHRASES:
            text = text.replace(old, new)
        return text

    out = [words(b) if isinstance(b, str) else (b[0], words(b[1])) if isinstance(b, tuple) and isinstance(
        b[1], str) else b for b in blocks]
    return Section(title.replace("LySep", ", ".join(a.subjects) or "the subject"), out)


def paired_section(a: Analysis) -> Section:
    title = "Paired comparisons: LySep vs baselines"
    if not a.lysep and a.subject is None:
        return Section(title, ["No LySep method in this run: there is nothing to compare."])
    if not a.subjects:
        return _own_words(a, title, [f"No run of {', '.join(a.subject or [])}: there is nothing to compare."])
    if not a.baselines:
        return _own_words(a, title, ["No baseline method in this run: there is nothing to compare."])
    blocks: list = [
        "Each LySep method against each baseline in every cell, paired by seed (same initial weights). "
        "Median difference = method - baseline with a paired bootstrap 95% interval (scipy.stats.bootstrap, "
        f"percentile, {stats.N_RESAMPLES} resamples, fixed seed); Wilcoxon signed-rank p (zero differences "
        f"dropped; none with fewer than {stats.min_n_wilcoxon()} non-zero pairs), for a cost to target the "
        "censoring-aware paired sign test instead (a run that never reached the target is censored at what it "
        "spent; pairs whose order that hides are left out; the seeds' seconds to target share one clock where "
        "they were timed as one batch, so read them as one measurement per cell); Holm correction over the grid "
        "(the cells of one "
        "table, separately for each method/baseline pair); win rate = fraction of seeds where the LySep "
        "method is better (ties 1/2); P(improvement) = P(LySep better) + P(tie)/2 over all pairs of runs. "
        "Ratio = LySep median / baseline median. In medians and differences diverged or censored runs count as "
        "the worst value."]
    for column, _, label in COMPARED_METRICS:
        t = a.comparisons[a.comparisons["metric"] == column] if not a.comparisons.empty else pd.DataFrame()
        if t.empty:
            if column == "seconds_to_target":
                blocks.append("Seconds to target: no target_ce set.")
            continue
        blocks.append(("h3", label))
        if column == "seconds_to_target" and a.wall_caveat:
            blocks.append(f"Seconds to target: {a.wall_caveat}.")
        blocks.append(Table(_comparisondisplay(t)))
    c3 = next((c for c in a.claims if c.id == "c3"), None)
    if c3 is not None and c3.details is not None and not c3.details.empty:
        blocks.append(("h3", "Default LySep vs the best baseline per cell (claim c3)"))
        blocks.append("Train CE at equal wall time: both runs of a seed read at the smaller of their final wall times. "
                      "Seconds to target: censored runs = \u221e in the medians, the censoring-aware sign test; not "
                      "tested per seed where the seeds were timed as one batch. Holm over every test of the table.")
        d = c3.details.rename(columns={"test": "metric"})
        blocks.append(Table(pd.concat([d[["metric"]].reset_index(drop=True),
                                       _comparisondisplay(d).reset_index(drop=True)], axis=1)))
    c5 = next((c for c in a.claims if c.id == "c5"), None)
    if c5 is not None and c5.details is not None and not c5.details.empty:
        blocks.append(("h3", "CE ratio of the default LySep method to the best baseline by cell (claim c5)"))
        blocks.append(Table(display(c5.details)))
    return _own_words(a, title, blocks)


def bound_section(a: Analysis) -> Section:
    title = "Bound and surrogate"
    m = a.metrics[a.metrics["certificate_checked"] + a.metrics["surrogate_checked"] > 0] if not a.metrics.empty \
        else a.metrics
    if m.empty:
        return Section(title, ["No LySep method in this run: no bound or surrogate to check."])
    rows = []
    for (depth, width, method), g in per_cell_and_method(m):
        rows.append({"depth": depth, "width": width, "method": method, "runs": len(g),
                     "min bound gap": fmt(g["min_bound_gap"].min()),
                     "bound gap at target, median": fmt(g["bound_gap_at_target"].median()),
                     "final bound gap, median": fmt(g["bound_gap_final"].median()),
                     "certificate violations": int(g["certificate_violations"].sum()),
                     "bound gap below resolution / rows": f"{int(g['certificate_unresolved'].sum())} / "
                                                          f"{int(g['certificate_checked'].sum())}",
                     "surrogate gap below resolution": int(g["surrogate_unresolved"].sum()),
                     "surrogate violations / rows": f"{int(g['surrogate_violations'].sum())} / "
                                                    f"{int(g['surrogate_checked'].sum())}",
                     "surrogate violation fraction": fmt(g["surrogate_violations"].sum()
                                                         / max(1, g["surrogate_checked"].sum()), 3),
                     "final residual (mean over layers), median": fmt(g["final_residual"].median())})
    tol = resolution((spec_of(a.meta).get("model") or {}).get("dtype"))
    text = (f"bound_gap = B - F must be >= 0: a row after iteration 0 with bound_gap < -tol is a certificate "
            f"violation (a bug), tol = {RESOLUTION_ULPS} * eps(dtype) * max(1, |F|) ({tol:.3g} * max(1, |F|) for "
            "this run's dtype). surrogate_gap = J - F < -tol is a surrogate violation: the LySep loss is then not "
            "an upper bound of the CE (counted, not hidden). A gap with |gap| < tol is below resolution (evidence "
            "neither way); iteration 0, where J = B = F by construction, is counted apart.")
    return Section(title, [text, Table(pd.DataFrame(rows))])


def _monotone_row(depth: int, width: int, method: str, g: pd.DataFrame) -> dict:
    lys = bool((g["j_checked"] > 0).any())
    guaranteed = g["decrease_guaranteed"].iloc[0] if "decrease_guaranteed" in g else None
    return {"depth": depth, "width": width, "method": method, "runs": len(g),
            "decrease guaranteed": fmt(guaranteed) if lys else NA,
            "betas constant": f"{int(g['betas_constant'].sum())} of {len(g)}" if lys else NA,
            "J violations / iterations": f"{int(g['j_violations'].sum())} / {int(g['j_checked'].sum())}"
            if lys else NA,
            "runs with J violations": int((g["j_violations"] > 0).sum()) if lys else NA,
            "F increases / steps": f"{int(g['f_violations'].sum())} / {int(g['f_checked'].sum())}",
            "runs with F increases": int((g["f_violations"] > 0).sum()),
            "max F increases in a run": int(g["f_violations"].max())}


def monotone_section(a: Analysis) -> Section:
    if a.metrics.empty:
        return Section("Monotonicity", ["No runs."])
    rows = [_monotone_row(*key, g) for key, g in per_cell_and_method(a.metrics)]
    text = (f"J violation: J > J_start + tol within one iteration after iteration 0 (same weights beta), tol = "
            f"{RESOLUTION_ULPS} * eps(dtype) * max(1, |J_start|) (the bound checks' tolerance: "
            f"{resolution('float32'):.2g} * max(1, |J_start|) in float32); 'decrease guaranteed' is what the method "
            "declares for its hyperparameters (claim c2 judges those runs). F increase: F_k > F_(k-1) + the same "
            "tolerance between consecutive recorded rows (F has no "
            "monotonicity guarantee for any method). Per-run counts are in tables/metrics.csv.")
    return Section("Monotonicity", [text, Table(pd.DataFrame(rows))])


def variance_section(a: Analysis) -> Section:
    title = "Seed variance"
    blocks: list = []
    if a.variance.empty:
        blocks.append("Needs a LySep method and a baseline: no variance comparison.")
    else:
        v = a.variance
        blocks.append("Brown-Forsythe test (scipy.stats.levene, center='median') of log final train CE over seeds "
                      "(the multiplicative spread: a CE 100x higher with the same relative spread is not more "
                      "spread; the std of the raw CE beside), "
                      "each LySep method vs each baseline per cell, diverged runs excluded; Holm over the cells "
                      "for each method/baseline pair. "
                      "Spread = mean absolute deviation from the median of log CE. No p-value with fewer than "
                      f"{stats.min_n_brown_forsythe()} seeds per method: with 2 the deviations from the median are "
                      "equal within each group (no within-group spread: any p is an artefact), with 3 the smallest "
                      f"p the test can give is {stats.brown_forsythe_smallest_p(3):.3g}.")
        blocks.append(Table(pd.DataFrame({
            "depth": v["depth"], "width": v["width"], "method": v["method"], "baseline": v["baseline"],
            "n method": v["n_method"], "n baseline": v["n_baseline"], "std of log CE, method": v["std_method"].map(fmt),
            "std of log CE, baseline": v["std_baseline"].map(fmt), "raw std method": v["raw_std_method"].map(fmt),
            "raw std baseline": v["raw_std_baseline"].map(fmt), "spread method": v["spread_method"].map(fmt),
            "spread baseline": v["spread_baseline"].map(fmt), "p": v["p_value"].map(lambda x: fmt(x, 3)),
            "Holm p": v["p_holm"].map(lambda x: fmt(x, 3)), "why no p": v["note"].fillna("")})))
    return _own_words(a, title, blocks)



def timing_section(a: Analysis) -> Section:
    """CPU utilisation of the runs per method and cell, and which wall times are unreliable."""
    title = "Timing reliability"
    t = a.timing
    if t.empty:
        return Section(title, ["No runs."])
    blocks: list = [timing_note()]
    if a.wall_caveat:
        blocks.append(a.wall_caveat[:1].upper() + a.wall_caveat[1:] + ".")
    if not t["cpu_time"].notna().any():
        return Section(title, blocks)
    rows = [{"depth": d, "width": w, "method": m, "runs": len(g), "judged": int(g["judged"].sum()),
             "contended": int(g["contended"].sum()), "wall s, median": fmt(g["wall_time"].median()),
             "CPU s, median": fmt(g["cpu_time"].median()), "threads": _distinct(g["threads"]),
             "CPU / (wall x threads), min": fmt(g["utilisation"].min(), 3),
             "load at start, max": fmt(g["load_start"].max(), 3), "load at end, max": fmt(g["load_end"].max(), 3)}
            for (d, w, m), g in per_cell_and_method(t)]
    blocks.append(Table(pd.DataFrame(rows), "Per cell and method (per run: tables/timing.csv)"))
    bad = contended_units(t)
    if not bad.empty:
        blocks.append(Table(display(bad), "Runs measured under contention"))
    return Section(title, blocks)


def _distinct(values: pd.Series) -> str:
    return ", ".join(fmt(v) for v in sorted(values.dropna().unique())) or NA


FIGURE_GROUPS = (  # (file-name prefix, heading)
    ("ce_", "Loss curves"), ("test_acc_", "Accuracy curves"), ("train_acc_", "Accuracy curves"),
    ("ratio_heatmap", "LySep / baseline ratio over the grid"), ("seeds_", "Seed distributions"),
    ("bound_gap", "Bound and surrogate gaps"), ("surrogate_gap", "Bound and surrogate gaps"),
    ("profile_", "Performance profiles"), ("fraction_reached", "Time to target"), ("decision_", "Decision regions"),
)


def _figure_group(name: str) -> str:
    return next((head for prefix, head in FIGURE_GROUPS if name.startswith(prefix)), "Other")


def figure_section(figs: Sequence[Fig]) -> Section:
    if not figs:
        return Section("Figures", ["No figures: no runs."])
    blocks: list = []
    last = None
    for f in figs:
        group = _figure_group(f.name)
        if group != last:
            blocks.append(("h3", group))
            last = group
        blocks.append(f)
    return Section("Figures", blocks)
