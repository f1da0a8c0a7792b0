"""Report rendering: results store -> metrics, statistics, claims, figures -> report.md/.html + CSV.

``make_report(results_dir)`` reads ``traces.parquet``, ``runs.parquet`` and ``meta.json`` (plus
``decision/*.npz`` when present) and writes into the same directory:

- ``report.md`` (figures linked from ``figures/``) and ``report.html`` (self-contained: figures
  embedded as base64 PNG, inline CSS, no scripts, every piece of text from the data escaped),
- ``figures/*.png`` and ``tables/*.csv``.

Both documents are rendered from one list of blocks, so they carry the same content.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import claims as cl
from analysis import figures as fg
from analysis import stats
from analysis.metrics import CERTIFICATE_TOL, MONOTONE_TOL, is_lysep, metrics_table

DPI = 100
DECISION_FILE = re.compile(r"^(?P<method>.+)_d(?P<depth>\d+)_w(?P<width>\d+)\.npz$")
NA = "\u2013"
COMPARED_METRICS = (  # (column, higher is better, label)
    ("final_F", False, "final train CE"),
    ("final_test_acc", True, "final test accuracy"),
    ("seconds_to_target", False, "seconds to target CE"),
)


# ----------------------------------------------------------------------------------------------
# document blocks


@dataclass
class Table:
    """A table block: display DataFrame (strings or numbers) and an optional caption."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Fig:
    """A figure block: file stem, caption, PNG bytes."""

    name: str
    caption: str
    png: bytes = field(repr=False)


@dataclass
class Section:
    """A titled list of blocks (str = paragraph, Table, Fig, or ("h3", text))."""

    title: str
    blocks: list = field(default_factory=list)


# ----------------------------------------------------------------------------------------------
# loading and formatting


def load_results(results_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read ``traces.parquet``, ``runs.parquet`` (empty table if missing) and ``meta.json`` ({} if missing)."""
    results_dir = Path(results_dir)
    traces = pd.read_parquet(results_dir / "traces.parquet")
    runs_path = results_dir / "runs.parquet"
    runs = pd.read_parquet(runs_path) if runs_path.exists() else pd.DataFrame()
    meta_path = results_dir / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return traces, runs, meta


def fmt(x, digits: int = 4) -> str:
    """Display text of a number (NaN -> en dash, inf -> infinity sign) or of anything else."""
    if x is None:
        return NA
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        if np.isnan(x):
            return NA
        if np.isinf(x):
            return "\u221e" if x > 0 else "-\u221e"
        if float(x).is_integer() and abs(x) < 1e6:
            return str(int(x))
        return f"{x:.{digits}g}"
    return str(x)


def _display(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """All cells of a table formatted with :func:`fmt`."""
    return frame.apply(lambda col: col.map(lambda v: fmt(v, digits))) if not frame.empty else frame


def _spec(meta: dict) -> dict:
    return (meta or {}).get("spec") or {}


def target_ce(meta: dict) -> float | None:
    """The budget's target train CE from meta.json, or None."""
    t = (_spec(meta).get("budget") or {}).get("target_ce")
    return None if t is None else float(t)


# ----------------------------------------------------------------------------------------------
# analysis


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


def analyse(traces: pd.DataFrame, runs: pd.DataFrame, meta: dict) -> Analysis:
    """Metrics, summaries, paired comparisons, variance tests and claims of one results store."""
    target = target_ce(meta)
    metrics = metrics_table(traces, target)
    if not runs.empty and "status" in runs and not metrics.empty:
        status = runs[["method", "depth", "width", "seed", "status"]].drop_duplicates(["method", "depth", "width",
                                                                                       "seed"])
        metrics = metrics.merge(status, on=["method", "depth", "width", "seed"], how="left")
    lysep, baselines = cl.lysep_methods(metrics), cl.baseline_methods(metrics)
    columns = ["final_F", "final_train_acc", "final_test_ce", "final_test_acc", "iters_to_target",
               "seconds_to_target", "grad_evals_to_target", "auc_log_ce", "wall_time", "grad_evals"]
    summary = stats.summary_table(metrics, columns) if not metrics.empty else pd.DataFrame()
    parts = []
    for column, hib, _ in COMPARED_METRICS:
        if column == "seconds_to_target" and target is None:
            continue
        if lysep and baselines:
            parts.append(stats.paired_comparisons(metrics, column, lysep, baselines, higher_is_better=hib))
    comparisons = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    variance = (stats.variance_comparisons(metrics, "final_F", lysep, baselines) if lysep and baselines
                else pd.DataFrame())
    claims = cl.evaluate_claims(traces, metrics, meta) if not metrics.empty else []
    return Analysis(traces, runs, meta, metrics, target, lysep, baselines, summary, comparisons, variance, claims)


# ----------------------------------------------------------------------------------------------
# sections



def _data_fields(data: dict) -> dict:
    """The [data] keys that apply to its dataset (n_classes only for gaussians, noise only for 2-D sets)."""
    name = data.get("dataset")
    skip = set()
    if name != "gaussians":
        skip.add("n_classes")
    if name in ("digits", "npz"):
        skip.add("noise")
    return {k: v for k, v in data.items() if k not in skip}

def _header(a: Analysis) -> Section:
    spec, meta = _spec(a.meta), a.meta or {}
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
    hparams = [{"label": x.get("label", x.get("name")), "algorithm": x.get("name"),
                "hyperparameters": ", ".join(f"{k}={v}" for k, v in _hparams(x).items()) or "defaults"}
               for x in spec.get("methods") or spec.get("method") or []]
    blocks: list = [Table(pd.DataFrame(rows, columns=["field", "value"]))]
    if hparams:
        blocks.append(Table(pd.DataFrame(hparams), "Methods of the spec"))
    return Section("Experiment", blocks)


def _hparams(method: dict) -> dict:
    """A spec method's hyperparameters: its ``hparams`` dict, or (TOML layout) every key but name and label."""
    if isinstance(method.get("hparams"), dict):
        return method["hparams"]
    return {k: v for k, v in method.items() if k not in ("name", "label")}


def _claims_section(a: Analysis) -> Section:
    if not a.claims:
        return Section("Claims", ["No runs in this results store: no claim can be judged."])
    table = cl.claims_table(a.claims)
    text = ("Each claim of the LySep paper with the suite's verdict (supported / not supported / inconclusive), "
            "the numbers behind it and how it was tested. Significance: Holm-adjusted p < "
            f"{stats.ALPHA:g}. Failures (diverged runs, runs that never reach the target) count as worse than "
            "any finished run in paired tests.")
    return Section("Claims", [text, Table(table.rename(columns={"how_tested": "how tested"}))])


def _median_iqr(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"{fmt(d['median'])} [{fmt(d['iqr'])}]" if d["n"] else NA


def _mean_std(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"{fmt(d['mean'])} \u00b1 {fmt(d['std'])}" if d["n"] else NA


def _summary_section(a: Analysis) -> Section:
    m = a.metrics
    if m.empty:
        return Section("Summary per cell and method", ["No runs."])
    rows = []
    for (depth, width, method), g in m.groupby(["depth", "width", "method"], sort=True):
        row = {"depth": depth, "width": width, "method": method, "runs": len(g), "diverged": int(g["diverged"].sum()),
               "train CE median [IQR]": _median_iqr(g["final_F"]), "train CE mean \u00b1 std": _mean_std(g["final_F"]),
               "train CE 95% CI": _ci(g["final_F"]), "test acc median [IQR]": _median_iqr(g["final_test_acc"]),
               "test acc mean \u00b1 std": _mean_std(g["final_test_acc"])}
        if a.target is not None:
            reached = g[g["reached"].astype(bool)]
            row["reached target"] = f"{len(reached)} of {len(g)}"
            row["iterations to target, median"] = fmt(reached["iters_to_target"].median()) if len(reached) else NA
            row["seconds to target, median"] = fmt(reached["seconds_to_target"].median()) if len(reached) else NA
            row["grad evals to target, median"] = fmt(reached["grad_evals_to_target"].median()) if len(reached) \
                else NA
        rows.append(row)
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


def _ci(values: pd.Series) -> str:
    d = stats.describe(values.to_numpy(dtype=float))
    return f"[{fmt(d['ci_low'])}, {fmt(d['ci_high'])}]" if np.isfinite(d["ci_low"]) else NA


def _comparison_display(t: pd.DataFrame) -> pd.DataFrame:
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


def _paired_section(a: Analysis) -> Section:
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
        blocks.append(Table(_comparison_display(t)))
    c3 = next((c for c in a.claims if c.id == "c3"), None)
    if c3 is not None and c3.details is not None and not c3.details.empty:
        blocks.append(("h3", "Default LySep vs the best baseline per cell (claim c3)"))
        blocks.append("Train CE at equal wall time: both runs of a seed read at the smaller of their final wall times. "
                      "Seconds to target: censored runs = \u221e. Holm over the cells, separately for each metric.")
        d = c3.details.rename(columns={"test": "metric"})
        blocks.append(Table(pd.concat([d[["metric"]].reset_index(drop=True),
                                       _comparison_display(d).reset_index(drop=True)], axis=1)))
    c5 = next((c for c in a.claims if c.id == "c5"), None)
    if c5 is not None and c5.details is not None and not c5.details.empty:
        blocks.append(("h3", "CE ratio of the default LySep method to the best baseline by cell (claim c5)"))
        blocks.append(Table(_display(c5.details)))
    return Section(title, blocks)


def _bound_section(a: Analysis) -> Section:
    title = "Bound and surrogate"
    m = a.metrics[is_lysep(a.metrics["algorithm"])] if not a.metrics.empty else a.metrics
    if m.empty:
        return Section(title, ["No LySep method in this run: no bound or surrogate to check."])
    rows = []
    for (depth, width, method), g in m.groupby(["depth", "width", "method"], sort=True):
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


def _monotone_section(a: Analysis) -> Section:
    m = a.metrics
    if m.empty:
        return Section("Monotonicity", ["No runs."])
    rows = []
    for (depth, width, method), g in m.groupby(["depth", "width", "method"], sort=True):
        lys = bool(is_lysep(str(g["algorithm"].iloc[0])))
        rows.append({"depth": depth, "width": width, "method": method, "runs": len(g),
                     "betas constant": f"{int(g['betas_constant'].sum())} of {len(g)}" if lys else NA,
                     "J violations / iterations": f"{int(g['j_violations'].sum())} / {int(g['j_checked'].sum())}"
                     if lys else NA,
                     "runs with J violations": int((g["j_violations"] > 0).sum()) if lys else NA,
                     "F increases / steps": f"{int(g['f_violations'].sum())} / {int(g['f_checked'].sum())}",
                     "runs with F increases": int((g["f_violations"] > 0).sum()),
                     "max F increases in a run": int(g["f_violations"].max())})
    text = (f"J violation: J > J_start + {MONOTONE_TOL:g} * max(1, |J_start|) within one iteration (same weights "
            "beta). F increase: F_k > F_(k-1) + the same tolerance between consecutive recorded rows (F has no "
            "monotonicity guarantee for any method). Per-run counts are in tables/metrics.csv.")
    return Section("Monotonicity", [text, Table(pd.DataFrame(rows))])


def _variance_section(a: Analysis) -> Section:
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


# ----------------------------------------------------------------------------------------------
# figures


def _png(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def decision_inputs(results_dir: Path) -> dict[tuple[int, int], dict[str, dict[str, np.ndarray]]]:
    """``decision/<method>_d<depth>_w<width>.npz`` files grouped by cell: {(depth, width): {method: arrays}}."""
    folder = Path(results_dir) / "decision"
    out: dict[tuple[int, int], dict[str, dict[str, np.ndarray]]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.npz")):
        match = DECISION_FILE.match(path.name)
        if not match:
            continue
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("xx", "yy", "zz", "x_test", "y_test", "pred_test") if k in z}
        if not {"xx", "yy", "zz", "x_test", "y_test"} <= set(arrays):
            continue
        out.setdefault((int(match["depth"]), int(match["width"])), {})[match["method"]] = arrays
    return out


def figure_specs(a: Analysis, results_dir: Path) -> list[tuple[str, str, object]]:
    """(file stem, caption, thunk returning a Figure) for every figure the data supports, in report order."""
    t, m = a.traces, a.metrics
    if m.empty:
        return []
    styles = fg.method_styles(m)
    specs: list[tuple[str, str, object]] = [
        ("ce_vs_iteration", "Train CE vs iteration.", lambda: fg.curves(t, "F", "iteration", styles, a.target)),
        ("ce_vs_seconds", "Train CE vs wall time (training time only).",
         lambda: fg.curves(t, "F", "wall_time", styles, a.target)),
        ("ce_vs_grad_evals", "Train CE vs gradient evaluations (full forward+backward passes).",
         lambda: fg.curves(t, "F", "grad_evals", styles, a.target)),
        ("test_acc_vs_iteration", "Test accuracy vs iteration (evaluation rows only).",
         lambda: fg.curves(t, "test_acc", "iteration", styles)),
        ("test_acc_vs_seconds", "Test accuracy vs wall time.", lambda: fg.curves(t, "test_acc", "wall_time", styles)),
        ("test_acc_vs_grad_evals", "Test accuracy vs gradient evaluations.",
         lambda: fg.curves(t, "test_acc", "grad_evals", styles)),
        ("seeds_final_ce", "Final train CE per seed (box: quartiles; dots: seeds).",
         lambda: fg.seed_distributions(m, "final_F", styles)),
        ("seeds_final_test_acc", "Final test accuracy per seed.",
         lambda: fg.seed_distributions(m, "final_test_acc", styles)),
    ]
    if not a.comparisons.empty:
        ce = a.comparisons[a.comparisons["metric"] == "final_F"]
        specs.append(("ratio_heatmap_final_ce", "Median final train CE ratio LySep / baseline per cell.",
                      lambda: fg.ratio_heatmap(ce)))
    if a.lysep:
        specs.append(("bound_gap", "Certified bound gap B - F over iterations (LySep methods).",
                      lambda: fg.gap_curves(t, "bound_gap", styles)))
        specs.append(("surrogate_gap", "Surrogate gap J - F over iterations (LySep methods).",
                      lambda: fg.gap_curves(t, "surrogate_gap", styles)))

    def profile(column: str, what: str):
        ratios = stats.performance_ratios(stats.cell_costs(m, column))
        return fg.performance_profile(stats.performance_profile(ratios, stats.profile_taus(ratios)), styles, what)

    specs.append(("profile_final_ce", "Performance profile of the median final train CE over cells (failures never "
                  "count as solved).", lambda: profile("final_F", "median final train CE")))
    if a.target is not None:
        specs.append(("profile_seconds_to_target", "Performance profile of the median seconds to target CE.",
                      lambda: profile("seconds_to_target", "median seconds to target CE")))
        for column, axis, label in (("seconds_to_target", "wall_time", "wall time [s]"),
                                    ("grad_evals_to_target", "grad_evals", "gradient evaluations [full passes]")):
            top = float(np.nanmax(t[axis].to_numpy(dtype=float))) if len(t) else 1.0
            budget = np.linspace(0.0, top if np.isfinite(top) and top > 0 else 1.0, 200)
            specs.append((f"fraction_reached_{axis}", f"Fraction of runs that reached the target CE vs {label}.",
                          lambda c=column, b=budget, lab=label: fg.fraction_reached(
                              stats.fraction_reached_curves(m, c, b), styles, lab, a.target)))
    for (depth, width), by_method in decision_inputs(results_dir).items():
        first = next(iter(by_method.values()))
        specs.append((f"decision_d{depth}_w{width}",
                      f"Decision regions, depth {depth}, width {width} (seed 0); crosses = misclassified test points.",
                      lambda f=first, bm=by_method, d=depth, w=width: fg.decision_regions(
                          f["xx"], f["yy"], {k: v["zz"] for k, v in bm.items()}, f["x_test"], f["y_test"],
                          {k: v["pred_test"] for k, v in bm.items() if "pred_test" in v},
                          title=f"Decision regions, depth {d}, width {w} (seed 0)")))
    return specs


def render_figures(a: Analysis, results_dir: Path, dpi: int = DPI) -> list[Fig]:
    """Draw every figure, write ``figures/<name>.png`` and return the blocks."""
    folder = Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, caption, make in figure_specs(a, results_dir):
        png = _png(make(), dpi)
        (folder / f"{name}.png").write_bytes(png)
        out.append(Fig(name, caption, png))
    return out


# ----------------------------------------------------------------------------------------------
# rendering


def _md_cell(v) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    f = t.frame
    lines = [f"*{t.caption}*", ""] if t.caption else []
    if f.empty:
        return "\n".join([*lines, "(empty)"])
    lines.append("| " + " | ".join(_md_cell(c) for c in f.columns) + " |")
    lines.append("|" + "|".join("---" for _ in f.columns) + "|")
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in f.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    """Markdown document (figures linked as ``figures/<name>.png``)."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                out.append(_md_table(b))
            elif isinstance(b, Fig):
                out.append(f"![{b.caption}](figures/{b.name}.png)\n\n*{b.caption}*")
            elif isinstance(b, tuple):
                out.append(f"### {b[1]}")
            else:
                out.append(str(b))
            out.append("")
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1280px;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #0173b2;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.82em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f6f9}
tr:nth-child(even) td{background:#fafafa}
caption{caption-side:top;text-align:left;font-style:italic;padding:.2em 0}
figure{margin:1em 0 2em}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
.verdict{font-weight:600;padding:.1em .4em;border-radius:3px;white-space:nowrap}
.v-supported{background:#d6efe0;color:#0b5e2e}
.v-not-supported{background:#f8d9d4;color:#8a1c0b}
.v-inconclusive{background:#eee;color:#444}
nav a{margin-right:1em}
"""


def _html_cell(v, column: str) -> str:
    text = html.escape(fmt(v))
    if column == "verdict":
        return f'<span class="verdict v-{html.escape(fmt(v).replace(" ", "-"))}">{text}</span>'
    return text


def _html_table(t: Table) -> str:
    f = t.frame
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    if f.empty:
        return f"<p>{cap or '(empty)'}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in f.columns)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(v, str(c))}</td>" for v, c in zip(row, f.columns, strict=True))
                   + "</tr>" for row in f.itertuples(index=False))
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_html(title: str, sections: Sequence[Section]) -> str:
    """Self-contained HTML: inline CSS, figures as base64 PNG data URIs, all text escaped, no scripts."""
    nav = " ".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>' for s in sections)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", f"<nav>{nav}</nav>"]
    for s in sections:
        parts.append(f'<h2 id="{_anchor(s.title)}">{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Fig):
                data = base64.b64encode(b.png).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            elif isinstance(b, tuple):
                parts.append(f"<h3>{html.escape(str(b[1]))}</h3>")
            else:
                parts.append(f"<p>{html.escape(str(b))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# tables and entry point


def write_tables(a: Analysis, results_dir: Path) -> None:
    """``tables/metrics.csv`` (per run), ``summary.csv`` (per cell and method), ``paired_comparisons.csv``,
    ``variance.csv``, ``claims.csv`` and ``claim_<id>.csv`` with the tests behind a claim."""
    folder = Path(results_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    a.metrics.to_csv(folder / "metrics.csv", index=False)
    a.summary.to_csv(folder / "summary.csv", index=False)
    a.comparisons.to_csv(folder / "paired_comparisons.csv", index=False)
    a.variance.to_csv(folder / "variance.csv", index=False)
    cl.claims_table(a.claims).to_csv(folder / "claims.csv", index=False)
    for c in a.claims:
        if c.details is not None and not c.details.empty:
            c.details.to_csv(folder / f"claim_{c.id}.csv", index=False)


FIGURE_GROUPS = (  # (file-name prefix, heading)
    ("ce_", "Loss curves"), ("test_acc_", "Accuracy curves"), ("train_acc_", "Accuracy curves"),
    ("ratio_heatmap", "LySep / baseline ratio over the grid"), ("seeds_", "Seed distributions"),
    ("bound_gap", "Bound and surrogate gaps"), ("surrogate_gap", "Bound and surrogate gaps"),
    ("profile_", "Performance profiles"), ("fraction_reached", "Time to target"), ("decision_", "Decision regions"),
)


def _figure_group(name: str) -> str:
    return next((head for prefix, head in FIGURE_GROUPS if name.startswith(prefix)), "Other")


def _figure_section(figs: Sequence[Fig]) -> Section:
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


def make_report(results_dir: Path, *, dpi: int = DPI) -> Path:
    """Analyse the results store in ``results_dir`` and write the report there; returns the path of report.html.

    Writes ``report.md``, ``report.html``, ``figures/*.png`` and ``tables/*.csv``. Decision-region
    figures are drawn when ``decision/*.npz`` files exist.
    """
    results_dir = Path(results_dir)
    traces, runs, meta = load_results(results_dir)
    a = analyse(traces, runs, meta)
    write_tables(a, results_dir)
    figs = render_figures(a, results_dir, dpi)
    name = str(_spec(meta).get("name", results_dir.name))
    title = f"LySep benchmark report: {name}"
    sections = [_header(a), _claims_section(a), _summary_section(a), _paired_section(a), _bound_section(a),
                _monotone_section(a), _variance_section(a), _figure_section(figs)]
    (results_dir / "report.md").write_text(render_markdown(title, sections), encoding="utf-8")
    out = results_dir / "report.html"
    out.write_text(render_html(title, sections), encoding="utf-8")
    return out
