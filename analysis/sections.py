"""The sections of a report, built from an :class:`analysis.report.Analysis` (content, no rendering).

Each function returns one :class:`analysis.render.Section` of tables, paragraphs and figures; the
report renders them as Markdown and HTML (:mod:`analysis.render`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis import claims as cl
from analysis import stats
from analysis.metrics import CERTIFICATE_TOL, MONOTONE_TOL
from analysis.render import NA, Fig, Section, Table, display, fmt
from lysep.datasets import dataset_info

if TYPE_CHECKING:  # pragma: no cover
    from analysis.report import Analysis

COMPARED_METRICS = (  # (column, higher is better, label)
    ("final_F", False, "final train CE"),
    ("final_test_acc", True, "final test accuracy"),
    ("seconds_to_target", False, "seconds to target CE"),
)


def per_cell_and_method(table: pd.DataFrame):
    """``((depth, width, method), rows)`` for every cell and method of a per-run table, in order."""
    return table.groupby(["depth", "width", "method"], sort=True)


def spec_of(meta: dict) -> dict:
    """The spec recorded in meta.json ({} if none)."""
    return (meta or {}).get("spec") or {}


def _data_fields(data: dict) -> dict:
    """The [data] keys that apply to its dataset, as the dataset declares them (all keys for one this
    install does not know)."""
    try:
        keys = dataset_info(data.get("dataset")).keys
    except ValueError:
        return dict(data)
    return {k: v for k, v in data.items() if k == "dataset" or k in keys}


def header(a: Analysis) -> Section:
    spec, meta = spec_of(a.meta), a.meta or {}
    data, model, budget, grid = (spec.get(k) or {} for k in ("data", "model", "budget", "grid"))
    m = a.metrics
    n_div = int(m["diverged"].sum()) if not m.empty else 0
    depths = sorted(m["depth"].unique().tolist()) if len(m) else []
    widths = sorted(m["width"].unique().tolist()) if len(m) else []
    sizes = m.groupby(["method", "depth", "width"]).size() if len(m) else pd.Series([0])
    seeds = f"{int(sizes.min())}" if sizes.min() == sizes.max() else f"{int(sizes.min())}-{int(sizes.max())}"
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
        ("git commit", meta.get("git_commit", "unknown")),
        ("device", meta.get("device", "unknown")),
        ("host", meta.get("host", "unknown")),
        ("started", meta.get("started", "unknown")),
        ("finished", meta.get("finished", "unknown")),
        ("versions", ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items()) or "unknown"),
    ]
    if meta.get("executor"):
        rows.insert(rows.index(("host", meta.get("host", "unknown"))) + 1, ("executor", meta["executor"]))
    failed = a.runs[a.runs["status"] == "failed"] if not a.runs.empty and "status" in a.runs else a.runs.iloc[:0]
    if len(failed):
        rows.insert(7, ("failed runs (no traces)", f"{len(failed)}: " + ", ".join(
            sorted({f"{r.method} d{r.depth} w{r.width}" for r in failed.itertuples()}))))
    blocks: list = [Table(pd.DataFrame(rows, columns=["field", "value"]))]
    methods = _methods_table(spec, m)
    if not methods.empty:
        blocks.append(Table(methods, "Methods of the spec, with what each declares about itself"))
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


def claims_section(a: Analysis) -> Section:
    if not a.claims:
        return Section("Claims", ["No runs in this results store: no claim can be judged."])
    table = cl.claims_table(a.claims)
    text = ("Each claim of the LySep paper with the suite's verdict (supported / not supported / inconclusive), "
            "the numbers behind it and how it was tested. Significance: Holm-adjusted p < "
            f"{stats.ALPHA:g}. Failures (diverged runs, runs that never reach the target) count as worse than "
            "any finished run in paired tests. The comparative claims (c3-c6) judge one method, the 'default LySep "
            "method': the first alternating-minimisation method of the spec that ran with its built-in defaults, "
            "else the first alternating-minimisation method, else the first joint one (families as the methods "
            "declare them); the baselines are the methods of family 'baseline'.")
    return Section("Claims", [text, Table(table.rename(columns={"how_tested": "how tested"}))])


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
                  "IQR = interquartile range; CI = 95% t-interval of the mean over seeds.")
    blocks.append(Table(pd.DataFrame(rows)))
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
        "Wilcoxon p": t["p_value"].map(lambda v: fmt(v, 3)), "Holm p": t["p_holm"].map(lambda v: fmt(v, 3)),
        "win rate": t["win_rate"].map(lambda v: fmt(v, 3))})
    if "prob_improvement" in t:
        out["P(improvement)"] = t["prob_improvement"].map(lambda v: fmt(v, 3))
    return out


def paired_section(a: Analysis) -> Section:
    title = "Paired comparisons: LySep vs baselines"
    if not a.lysep:
        return Section(title, ["No LySep method in this run: there is nothing to compare."])
    if not a.baselines:
        return Section(title, ["No baseline method in this run: there is nothing to compare."])
    blocks: list = [
        "Each LySep method against each baseline in every cell, paired by seed (same initial weights). "
        "Median difference = method - baseline with a paired bootstrap 95% interval (scipy.stats.bootstrap, "
        f"percentile, {stats.N_RESAMPLES} resamples, fixed seed); Wilcoxon signed-rank p (zero differences "
        "dropped; NaN with fewer than 2 non-zero pairs); Holm correction over the grid (the cells of one "
        "table, separately for each method/baseline pair); win rate = fraction of seeds where the LySep "
        "method is better (ties 1/2); P(improvement) = P(LySep better) + P(tie)/2 over all pairs of runs. "
        "Ratio = LySep median / baseline median. Diverged or censored runs count as the worst value."]
    for column, _, label in COMPARED_METRICS:
        t = a.comparisons[a.comparisons["metric"] == column] if not a.comparisons.empty else pd.DataFrame()
        if t.empty:
            if column == "seconds_to_target":
                blocks.append("Seconds to target: no target_ce set.")
            continue
        blocks.append(("h3", label))
        blocks.append(Table(_comparisondisplay(t)))
    c3 = next((c for c in a.claims if c.id == "c3"), None)
    if c3 is not None and c3.details is not None and not c3.details.empty:
        blocks.append(("h3", "Default LySep vs the best baseline per cell (claim c3)"))
        blocks.append("Train CE at equal wall time: both runs of a seed read at the smaller of their final wall times. "
                      "Seconds to target: censored runs = \u221e. Holm over the cells, separately for each metric.")
        d = c3.details.rename(columns={"test": "metric"})
        blocks.append(Table(pd.concat([d[["metric"]].reset_index(drop=True),
                                       _comparisondisplay(d).reset_index(drop=True)], axis=1)))
    c5 = next((c for c in a.claims if c.id == "c5"), None)
    if c5 is not None and c5.details is not None and not c5.details.empty:
        blocks.append(("h3", "CE ratio of the default LySep method to the best baseline by cell (claim c5)"))
        blocks.append(Table(display(c5.details)))
    return Section(title, blocks)


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
                     "surrogate violations / rows": f"{int(g['surrogate_violations'].sum())} / "
                                                    f"{int(g['surrogate_checked'].sum())}",
                     "surrogate violation fraction": fmt(g["surrogate_violations"].sum()
                                                         / max(1, g["surrogate_checked"].sum()), 3),
                     "final residual (mean over layers), median": fmt(g["final_residual"].median())})
    text = (f"bound_gap = B - F must be >= 0: a row with bound_gap < -{CERTIFICATE_TOL:g} * max(1, |F|) is a "
            f"certificate violation (a bug). surrogate_gap = J - F < -{MONOTONE_TOL:g} * max(1, |F|) is a "
            "surrogate violation: the LySep loss is then not an upper bound of the CE (counted, not hidden).")
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
    text = (f"J violation: J > J_start + {MONOTONE_TOL:g} * max(1, |J_start|) within one iteration (same weights "
            "beta); 'decrease guaranteed' is what the method declares for its hyperparameters (claim c2 judges "
            "those runs). F increase: F_k > F_(k-1) + the same tolerance between consecutive recorded rows (F has no "
            "monotonicity guarantee for any method). Per-run counts are in tables/metrics.csv.")
    return Section("Monotonicity", [text, Table(pd.DataFrame(rows))])


def variance_section(a: Analysis) -> Section:
    title = "Seed variance"
    blocks: list = []
    if a.variance.empty:
        blocks.append("Needs a LySep method and a baseline: no variance comparison.")
    else:
        v = a.variance
        blocks.append("Brown-Forsythe test (scipy.stats.levene, center='median') of the final train CE over seeds, "
                      "each LySep method vs each baseline per cell, diverged runs excluded; Holm over the cells "
                      "for each method/baseline pair. "
                      "Spread = mean absolute deviation from the median.")
        blocks.append(Table(pd.DataFrame({
            "depth": v["depth"], "width": v["width"], "method": v["method"], "baseline": v["baseline"],
            "n method": v["n_method"], "n baseline": v["n_baseline"], "std method": v["std_method"].map(fmt),
            "std baseline": v["std_baseline"].map(fmt), "spread method": v["spread_method"].map(fmt),
            "spread baseline": v["spread_baseline"].map(fmt), "p": v["p_value"].map(lambda x: fmt(x, 3)),
            "Holm p": v["p_holm"].map(lambda x: fmt(x, 3))})))
    return Section(title, blocks)



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
