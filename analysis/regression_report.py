"""The report of ``lysep compare``: verdict table, a figure, Markdown + self-contained HTML + CSV."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import regression as rg
from analysis.render import Fig, Section, Table, fmt, render_html, render_markdown
from lysep.harness.store import atomic_write, write_text

#: verdict colours of the figure (colourblind-safe)
COLOURS = {rg.WORSE: "#d55e00", rg.BETTER: "#009e73", rg.EQUIVALENT: "#0072b2", rg.INCONCLUSIVE: "#999999",
           rg.IDENTICAL: "#000000", rg.SLOWER: "#e69f00", rg.FASTER: "#56b4e9"}


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The verdict rows as shown: worst first, numbers formatted."""
    order = {v: i for i, v in enumerate(rg.VERDICTS)}
    t = table.assign(_o=table["verdict"].map(order)).sort_values(["_o", "metric", "depth", "width", "method"])
    return pd.DataFrame({
        "verdict": t["verdict"], "depth": t["depth"], "width": t["width"], "method": t["method"],
        "metric": t["label"], "pairs": t["n_pairs"], "base median": t["base_median"].map(fmt),
        "new median": t["new_median"].map(fmt), "median diff (new - base)": t["median_diff"].map(fmt),
        "margin": t["margin"].map(fmt), "Holm p": t["p_holm"].map(lambda v: fmt(v, 3)),
        "TOST p": t["tost_p"].map(lambda v: fmt(v, 3)), "why": t["why"]})


def bottom_line(table: pd.DataFrame) -> str:
    """One sentence: the counts of each verdict and what the exit code will be."""
    counts = rg.summary(table)
    text = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    regressions = int(table["regression"].sum()) if not table.empty else 0
    if regressions:
        return f"WORSE: {regressions} of {len(table)} rows got worse ({text})."
    return f"No row got worse ({text or 'nothing compared'})."


def difference_figure(table: pd.DataFrame) -> Figure:
    """Median paired difference over the metric's margin, per compared row, coloured by verdict."""
    metrics = list(dict.fromkeys(table["label"]))
    fig = Figure(figsize=(7.5, 1.2 + 1.6 * len(metrics)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(metrics), 1, squeeze=False)[:, 0])
    for ax, label in zip(axes, metrics):
        sub = table[table["label"] == label].reset_index(drop=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (sub["median_diff"] / sub["margin"]).to_numpy(dtype=float)
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=10.0, neginf=-10.0), -10, 10)
        ax.axhspan(-1, 1, color="#0072b2", alpha=0.08, lw=0)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.scatter(np.arange(len(sub)), z, c=[COLOURS[v] for v in sub["verdict"]], s=22, zorder=3)
        ax.set_xticks(np.arange(len(sub)), [f"{m} d{d} w{w}" for m, d, w in
                                            zip(sub["method"], sub["depth"], sub["width"])], fontsize=6,
                      rotation=60, ha="right")
        ax.set_ylabel("diff / margin", fontsize=7)
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle("Median paired difference (new - base) in units of the equivalence margin; shaded: within it",
                 fontsize=8)
    return fig


def write_report(base: rg.Side, new: rg.Side, table: pd.DataFrame, out: Path) -> Path:
    """Write ``compare.md``, ``compare.html``, ``compare.csv`` and the figure into ``out``; returns the HTML."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "compare.csv", table.to_csv(index=False))
    blocks: list = [bottom_line(table),
                    f"Base: {base.root} (commit {base.meta.get('git_commit', 'unknown')}); new: {new.root} (commit "
                    f"{new.meta.get('git_commit', 'unknown')}). Runs paired by method, depth, width and seed. "
                    + ("Wall time compared: both ran on the same host and device." if rg.same_machine(base, new)
                       else "Wall time not compared: the two sides ran on different hosts or devices.")]
    differences = rg.setting_differences(base, new)[0]
    if differences:  # `lysep compare --settings`: two settings of the methods, not two versions of the code
        blocks.insert(1, "Settings compared: the two specs differ in these hyperparameters (new vs base): "
                      + "; ".join(differences) + ".")
    if not table.empty:
        buf = io.BytesIO()
        difference_figure(table).savefig(buf, format="png", dpi=100)
        atomic_write(out / "figures" / "compare_differences.png", buf.getvalue())
        blocks += [Table(display(table)), Fig("compare_differences", "Median paired differences over the margins.",
                                             buf.getvalue())]
    margins = pd.DataFrame([{"metric": m.label, "margin": f"{m.size:g}" + (" x |base median|" if m.relative else "")}
                            for m in (*rg.MARGINS, rg.WALL)])
    sections = [Section("Verdicts", blocks), Section("How it is judged", [rg.__doc__.split("\n\n", 1)[1].strip(),
                                                                        Table(margins, "Equivalence margins")])]
    title = "lysep compare: new vs base"
    write_text(out / "compare.md", render_markdown(title, sections))
    write_text(out / "compare.html", render_html(title, sections))
    return out / "compare.html"
