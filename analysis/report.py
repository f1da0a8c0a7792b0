"""The report of a results store: results -> metrics, statistics, claims, figures -> report.md/.html + CSV.

``make_report(results_dir)`` reads ``traces.parquet``, ``runs.parquet`` and ``meta.json`` (plus the
decision-region grids of 2-D datasets) and writes into the same directory:

- ``report.md`` (figures linked from ``figures/``) and ``report.html`` (self-contained),
- ``figures/*.png`` and ``tables/*.csv``.

The analysis is computed once (:func:`analysis.analyse.analyse`); :mod:`analysis.sections` turns it into sections and
:mod:`analysis.render` renders them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import claims as cl
from analysis import comparisons as cmp
from analysis import figures as fg
from analysis import sections as sec
from analysis.analyse import Analysis, analyse, load_results, spec_of
from analysis.failures import failures_section
from analysis.render import Fig, render_html, render_markdown
from lysep.harness.store import ResultsStore, atomic_write, write_text

DPI = 100


# ----------------------------------------------------------------------------------------------
# figures


def _png(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def decision_inputs(results_dir: Path, runs: pd.DataFrame) -> dict[tuple[int, int], dict[str, dict[str, np.ndarray]]]:
    """The decision-region grids of the runs' (method, cell), grouped by cell: {(depth, width): {label: arrays}}.

    The grids are found through the results store's layout for each (label, depth, width) of the runs
    table, so a label is shown as the runs table has it (never parsed from a file name).
    """
    store = ResultsStore(results_dir)
    out: dict[tuple[int, int], dict[str, dict[str, np.ndarray]]] = {}
    keys = runs[["method", "depth", "width"]].drop_duplicates() if len(runs) else pd.DataFrame()
    for label, depth, width in keys.itertuples(index=False):
        path = store.decision_path(label, depth, width)
        if not path.is_file():
            continue
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("xx", "yy", "zz", "x_test", "y_test", "pred_test") if k in z}
        if {"xx", "yy", "zz", "x_test", "y_test"} <= set(arrays):
            out.setdefault((int(depth), int(width)), {})[str(label)] = arrays
    return dict(sorted(out.items()))


def _curve_specs(a: Analysis, styles: dict, wall: str) -> list[tuple[str, str, object]]:
    """The curve and seed-distribution figures (``wall``: the caveat for the wall-time axes, or "")."""
    t, m, band = a.traces, a.metrics, fg.BAND_TEXT
    return [
        ("ce_vs_iteration", f"Train CE vs iteration ({band}).",
         lambda: fg.curves(t, "F", "iteration", styles, a.target)),
        ("ce_vs_seconds", f"Train CE vs wall time (training time only; {band}){wall}.",
         lambda: fg.curves(t, "F", "wall_time", styles, a.target)),
        ("ce_vs_grad_evals", f"Train CE vs gradient evaluations (full forward+backward passes; {band}).",
         lambda: fg.curves(t, "F", "grad_evals", styles, a.target)),
        ("test_acc_vs_iteration", f"Test accuracy vs iteration (evaluation rows only; {band}).",
         lambda: fg.curves(t, "test_acc", "iteration", styles)),
        ("test_acc_vs_seconds", f"Test accuracy vs wall time ({band}){wall}.",
         lambda: fg.curves(t, "test_acc", "wall_time", styles)),
        ("test_acc_vs_grad_evals", f"Test accuracy vs gradient evaluations ({band}).",
         lambda: fg.curves(t, "test_acc", "grad_evals", styles)),
        ("seeds_final_ce", "Final train CE per seed (box: quartiles; dots: seeds).",
         lambda: fg.seed_distributions(m, "final_F", styles)),
        ("seeds_final_test_acc", "Final test accuracy per seed.",
         lambda: fg.seed_distributions(m, "final_test_acc", styles)),
    ]


def figure_specs(a: Analysis, results_dir: Path) -> list[tuple[str, str, object]]:
    """(file stem, caption, thunk returning a Figure) for every figure the data supports, in report order."""
    t, m = a.traces, a.metrics
    if m.empty:
        return []
    styles = fg.method_styles(m)
    band = fg.BAND_TEXT
    wall = f"; {a.wall_caveat}" if cl.UNRELIABLE in a.wall_caveat else ""
    specs = _curve_specs(a, styles, wall)
    if not a.comparisons.empty:
        ce = a.comparisons[a.comparisons["metric"] == "final_F"]
        who = "LySep" if a.paper else ", ".join(a.subjects)
        specs.append(("ratio_heatmap_final_ce", f"Median final train CE ratio {who} / baseline per cell.",
                      lambda: fg.ratio_heatmap(ce)))
    if a.lysep:
        specs.append(("bound_gap", f"Certified bound gap B - F over iterations (LySep methods; {band}; "
                      "each panel its own symlog axis).",
                      lambda: fg.gap_curves(t, "bound_gap", styles)))
        specs.append(("surrogate_gap", f"Surrogate gap J - F over iterations (LySep methods; {band}; "
                      "each panel its own symlog axis).",
                      lambda: fg.gap_curves(t, "surrogate_gap", styles)))

    def drawn(r: pd.DataFrame, what: str):
        return fg.performance_profile(cmp.performance_profile(r, cmp.profile_taus(r)) if not r.empty
                                      else pd.DataFrame(), styles, what)

    for (budget, target), ratios in a.target_ratios.items():
        words = cmp.target_words(budget, target)
        specs.append((f"profile_{budget}_to_{target:g}", f"Performance profile over cells of the median {words} "
                      "(Dolan-More: a run that never reached it counts as unsolved, ratio infinite)"
                      f"{wall if budget == 'wall_time' else ''}.",
                      lambda r=ratios, w=words: drawn(r, f"median {w}")))
    for budget, ratios in a.ratios.items():
        words = cmp.budget_words(budget)
        specs.append((f"profile_ce_{budget}", f"Performance profile over cells of the median train CE at {words} "
                      "(per cell and seed, every method read where the cheapest run that did not diverge stopped; "
                      "only the seeds where every method had completed an iteration there, "
                      f"{len(ratios)} cells; diverged runs never count as solved)"
                      f"{wall if budget == 'wall_time' else ''}.",
                      lambda r=ratios, w=words: drawn(r, f"median train CE at {w}")))
    if a.target is not None:
        for column, axis, label in (("seconds_to_target", "wall_time", "wall time [s]"),
                                    ("grad_evals_to_target", "grad_evals", "gradient evaluations [full passes]")):
            top = float(np.nanmax(t[axis].to_numpy(dtype=float))) if len(t) else 1.0
            budget = fg.budget_axis(m[column].to_numpy(dtype=float), top)
            specs.append((f"fraction_reached_{axis}", f"Fraction of runs that reached the target CE vs {label} "
                          f"(log axis){wall if axis == 'wall_time' else ''}.",
                          lambda c=column, b=budget, lab=label: fg.fraction_reached(
                              cmp.fraction_reached_curves(m, c, b), styles, lab, a.target)))
    for (depth, width), by_method in decision_inputs(results_dir, a.runs).items():
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
        atomic_write(folder / f"{name}.png", png)
        out.append(Fig(name, caption, png))
    return out


# ----------------------------------------------------------------------------------------------
# tables and entry point


def write_tables(a: Analysis, results_dir: Path) -> None:
    """``tables/metrics.csv`` (per run), ``summary.csv`` (per cell and method), ``paired_comparisons.csv``,
    ``variance.csv``, ``timing.csv`` (CPU and wall time per run), ``claims.csv``, ``claim_<id>[_<budget>].csv`` with
    the tests behind a claim, and ``profiles.csv`` (the performance profiles' summary per budget and method)."""
    folder = Path(results_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(a.metrics, folder / "metrics.csv")
    write_csv(a.summary, folder / "summary.csv")
    write_csv(a.comparisons, folder / "paired_comparisons.csv")
    write_csv(a.variance, folder / "variance.csv")
    write_csv(a.timing, folder / "timing.csv")
    write_csv(cl.claims_table(a.claims), folder / "claims.csv")
    for c in a.claims:
        if c.details is not None and not c.details.empty:
            write_csv(c.details, folder / f"claim_{c.key.replace('@', '_')}.csv")
    write_csv(a.profiles, folder / "profiles.csv")


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """A table as CSV, written whole or not at all (``lysep.harness.store.atomic_write``)."""
    write_text(path, table.to_csv(index=False))


def tuning_of(meta: dict) -> Path | None:
    """The ``lysep tune`` store a tuned spec was written into (its ``tune.json`` beside the spec that ran), or
    None: the pointer back from a tuned run's results to the trials that chose its settings."""
    source = (meta or {}).get("source")
    if not source or str(source).startswith("<"):
        return None
    folder = Path(source).parent
    return folder if (folder / "tune.json").is_file() else None


def make_report(results_dir: Path, *, dpi: int = DPI, subject: Sequence[str] | None = None) -> Path:
    """Analyse the results store in ``results_dir`` and write the report there; returns the path of report.html.

    Writes ``report.md``, ``report.html``, ``figures/*.png`` and ``tables/*.csv``. Decision-region
    figures are drawn when ``decision/*.npz`` files exist. A ``lysep tune`` store (``tune.json``) gets the
    Tuning report instead (:mod:`analysis.tuning`). ``subject``: the method labels under test (``lysep report
    --subject``), overriding the spec's ``subject`` (:func:`analysis.analyse.analyse`).
    """
    results_dir = Path(results_dir)
    if (results_dir / "tune.json").is_file():  # a `lysep tune` store: its own report (analysis.tuning)
        from analysis.tuning import make_tuning_report

        return make_tuning_report(results_dir, dpi=dpi)
    traces, runs, meta = load_results(results_dir)
    a = analyse(traces, runs, meta, subject)
    write_tables(a, results_dir)
    figs = render_figures(a, results_dir, dpi)
    name = str(spec_of(meta).get("name", results_dir.name))
    title = f"LySep benchmark report: {name}"
    sections = [sec.bottom_line(a), sec.header(a), sec.claims_section(a), sec.profiles_section(a),
                sec.summary_section(a), sec.method_metrics_section(a), sec.paired_section(a), sec.bound_section(a),
                sec.monotone_section(a), sec.variance_section(a), sec.timing_section(a), sec.figure_section(figs)]
    failed = failures_section(a.runs)
    if failed is not None:  # why runs failed, right after the header (only when some did)
        sections.insert(2, failed)
    tuning = tuning_of(meta)
    if tuning is not None:  # a tuned spec's results: how its settings were chosen
        from analysis.tuning import load_record, tuning_figures, tuning_section

        record = load_record(tuning)
        sections.append(tuning_section(record, tuning_figures(record, results_dir, dpi)))
    write_text(results_dir / "report.md", render_markdown(title, sections))
    out = results_dir / "report.html"
    write_text(out, render_html(title, sections))
    return out
