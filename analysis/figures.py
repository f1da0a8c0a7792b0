"""Figures of the report, one function per figure, each returning a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state, Agg canvas when
saved), seaborn's colorblind palette, one colour per method shared by every figure
(:func:`method_styles`), LySep variants solid and baselines dashed. Saving is the report's job.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FormatStrFormatter, MaxNLocator, NullFormatter

from analysis.comparisons import BAND_QUANTILES, curve_bands
from analysis.stats import ALPHA
from lysep.methods.base import ALTERNATING, JOINT

PANEL_W, PANEL_H = 3.5, 2.7
MIN_W = 7.0  # inches: room for a title and an outside legend even with a single panel
LOG_X_SPREAD = 20.0  # wall time / grad_evals axes turn logarithmic when methods' ends differ more than this
MAX_COLS = 4
#: a log range narrower than this factor gets plain tick labels (a tuning figure)
NARROW_LOG = 30.0
#: what every band of a curve figure shows (its title and the report's captions say it)
BAND_TEXT = (f"median over seeds, band {100 * BAND_QUANTILES[0]:g}th-{100 * BAND_QUANTILES[1]:g}th percentile")
AXIS_LABELS = {
    "iteration": "iteration",
    "wall_time": "wall time [s]",
    "grad_evals": "gradient evaluations [full passes]",
    "F": "train CE [nats]",
    "test_ce": "test CE [nats]",
    "train_acc": "train accuracy",
    "test_acc": "test accuracy",
    "bound_gap": "B - F [nats]",
    "surrogate_gap": "J - F [nats]",
    "final_F": "final train CE [nats]",
    "final_test_acc": "final test accuracy",
    "seconds_to_target": "seconds to target CE [s]",
}
LOG_METRICS = {"F", "test_ce", "final_F", "final_test_ce"}


@dataclass(frozen=True)
class Style:
    """How one method is drawn."""

    color: tuple
    linestyle: str
    marker: str


def method_styles(table: pd.DataFrame) -> dict[str, Style]:
    """A style per method of a table with ``method`` and ``family`` columns (the per-run metrics).

    Layer-separation methods come first (solid lines, circles), baselines after (dashed, squares);
    colours from seaborn's colorblind palette in that order.
    """
    pairs = table.assign(family=table.get("family")).drop_duplicates("method")[["method", "family"]]
    lys = sorted(pairs.loc[pairs["family"].isin([ALTERNATING, JOINT]), "method"])
    base = sorted(pairs.loc[~pairs["family"].isin([ALTERNATING, JOINT]), "method"])
    palette = sns.color_palette("colorblind", max(10, len(lys) + len(base)))
    out = {}
    for i, m in enumerate(lys + base):
        out[m] = Style(tuple(palette[i]), "-" if m in lys else "--", "o" if m in lys else "s")
    return out


def _styles_for(methods: Sequence[str], styles: Mapping[str, Style] | None) -> dict[str, Style]:
    """Given styles, or a default palette over ``methods``."""
    if styles is not None and all(m in styles for m in methods):
        return dict(styles)
    palette = sns.color_palette("colorblind", max(10, len(methods)))
    return {m: Style(tuple(palette[i]), "-", "o") for i, m in enumerate(sorted(methods))}


def _label(col: str) -> str:
    return AXIS_LABELS.get(col, col)


def _title(col: str) -> str:
    """Axis label without its unit, capitalised, for titles."""
    text = _label(col).split(" [")[0]
    return text[:1].upper() + text[1:]


def _grid(n: int, max_cols: int = MAX_COLS) -> tuple[int, int]:
    cols = min(n, max_cols)
    return int(np.ceil(n / cols)), cols


def _cells(table: pd.DataFrame) -> list[tuple[int, int]]:
    return [tuple(c) for c in table[["depth", "width"]].drop_duplicates().sort_values(["depth", "width"]).to_numpy()]


def _cell_figure(cells: Sequence[tuple[int, int]], title: str, sharey: bool = True,
                 extra_w: float = 1.6) -> tuple[Figure, dict[tuple[int, int], object]]:
    """A figure with one panel per (depth, width) cell, depth along rows when the grid is full."""
    depths = sorted({d for d, _ in cells})
    widths = sorted({w for _, w in cells})
    if len(depths) * len(widths) == len(cells) and len(widths) <= MAX_COLS:
        rows, cols = len(depths), len(widths)
        pos = {(d, w): (depths.index(d), widths.index(w)) for d, w in cells}
    else:
        rows, cols = _grid(len(cells))
        pos = {c: divmod(i, cols) for i, c in enumerate(cells)}
    fig = Figure(figsize=(max(MIN_W, PANEL_W * cols + extra_w), PANEL_H * rows + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, sharey=sharey, squeeze=False))
    used = set(pos.values())
    for r in range(rows):
        for c in range(cols):
            if (r, c) not in used:
                axes[r, c].set_visible(False)
    _suptitle(fig, title, 11)
    return fig, {cell: axes[rc] for cell, rc in pos.items()}


def _method_legend(fig: Figure, styles: Mapping[str, Style], methods: Sequence[str], extra: Sequence = ()) -> None:
    handles = [Line2D([], [], color=styles[m].color, linestyle=styles[m].linestyle, lw=2, label=m) for m in methods]
    fig.legend(handles=[*handles, *extra], loc="outside right center", fontsize=8, frameon=False, title="method",
               title_fontsize=8)


def _suptitle(fig: Figure, title: str, size: float) -> None:
    """Figure title wrapped to the figure's width."""
    chars = max(30, int(0.85 * fig.get_figwidth() * 72 / (0.6 * size)))
    fig.suptitle(textwrap.fill(title, chars), fontsize=size)


def _empty_figure(message: str) -> Figure:
    fig = Figure(figsize=(5, 1.5), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def curves(traces: pd.DataFrame, y: str = "F", x: str = "iteration", styles: Mapping[str, Style] | None = None,
           target: float | None = None, log_y: bool | None = None) -> Figure:
    """``y`` vs ``x`` per method, the median over seeds with a band of seed quantiles (:data:`BAND_TEXT`), one panel
    per (depth, width) cell.

    ``traces``: the long trace table; ``y``: a trace column (F, test_ce, train_acc, test_acc);
    ``x``: iteration, wall_time or grad_evals; ``target``: a horizontal target line (CE only);
    ``log_y``: log scale (default: for CE columns).
    """
    log_y = (y in LOG_METRICS) if log_y is None else log_y
    if y not in traces or x not in traces:
        return _empty_figure(f"no column {y if y not in traces else x} in the traces")
    bands = curve_bands(traces, y, x)
    if bands.empty:
        return _empty_figure(f"no finite values of {y}")
    methods = sorted(bands["method"].unique())
    styles = _styles_for(methods, styles)
    cells = _cells(bands)
    fig, axes = _cell_figure(cells, f"{_title(y)} vs {_label(x).split(' [')[0]} ({BAND_TEXT})", sharey=True)
    log_x = x != "iteration" and _wide_spread(bands)
    for (depth, width), ax in axes.items():
        sub = bands[(bands["depth"] == depth) & (bands["width"] == width)]
        for m in [m for m in styles if m in set(sub["method"])]:
            s = sub[sub["method"] == m].sort_values("iteration")
            if log_x:
                s = s[s["x_mean"] > 0]
            st = styles[m]
            ax.plot(s["x_mean"], s["median"], color=st.color, linestyle=st.linestyle, lw=1.6)
            ax.fill_between(s["x_mean"], s["low"], s["high"], color=st.color, alpha=0.18, lw=0)
        if target is not None and y in ("F",):
            ax.axhline(target, color="0.3", lw=0.8, linestyle=":")
        if log_y:
            ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        ax.set_title(f"depth {depth}, width {width}", fontsize=9)
        ax.set_xlabel(_label(x) + (", log scale" if log_x else ""), fontsize=8)
        ax.set_ylabel(_label(y), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3, lw=0.5)
    extra = [Line2D([], [], color="0.3", lw=0.8, linestyle=":", label=f"target CE {target:g}")] \
        if target is not None and y == "F" else []
    _method_legend(fig, styles, [m for m in styles if m in methods], extra)
    return fig


def _wide_spread(bands: pd.DataFrame) -> bool:
    """True when, in some cell, the methods' final x values differ by more than LOG_X_SPREAD."""
    ends = bands.groupby(["depth", "width", "method"])["x_mean"].max()
    ends = ends[ends > 0]
    if ends.empty:
        return False
    spread = ends.groupby(level=["depth", "width"]).agg(lambda v: v.max() / v.min())
    return bool((spread > LOG_X_SPREAD).any())


def gap_curves(traces: pd.DataFrame, gap: str = "bound_gap", styles: Mapping[str, Style] | None = None) -> Figure:
    """``bound_gap`` (B - F) or ``surrogate_gap`` (J - F) vs iteration for the methods that record it, symlog y.

    The median over seeds with a band of seed quantiles (:data:`BAND_TEXT`) per cell, each panel on its own
    symlog axis (:func:`_symlog_threshold`); a line at 0 separates valid bounds (above) from violations.
    The band stays in the range of the seeds' values, so it enters the violation region only where
    some seed's gap does.
    """
    if gap not in traces or not np.isfinite(traces[gap].to_numpy(dtype=float)).any():
        return _empty_figure(f"no LySep rows with a finite {gap}")
    lys = traces[traces["method"].isin(traces.loc[np.isfinite(traces[gap].to_numpy(dtype=float)), "method"])]
    bands = curve_bands(lys, gap, "iteration")
    methods = sorted(bands["method"].unique())
    styles = _styles_for(methods, styles)
    what = "Certified bound gap B - F (below 0 = certificate violation)" if gap == "bound_gap" \
        else "Surrogate gap J - F (below 0 = J is not an upper bound)"
    fig, axes = _cell_figure(_cells(bands), f"{what}, {BAND_TEXT}", sharey=False)
    for (depth, width), ax in axes.items():
        sub = bands[(bands["depth"] == depth) & (bands["width"] == width)]
        linthresh = _symlog_threshold(sub)
        ax.axhspan(-1e30, 0, color="#d62728", alpha=0.06, lw=0)
        ax.axhline(0, color="0.2", lw=0.8)
        for m in [m for m in styles if m in set(sub["method"])]:
            s = sub[sub["method"] == m].sort_values("iteration")
            st = styles[m]
            ax.plot(s["x_mean"], s["median"], color=st.color, linestyle=st.linestyle, lw=1.6)
            ax.fill_between(s["x_mean"], s["low"], s["high"], color=st.color, alpha=0.18, lw=0)
        ax.set_yscale("symlog", linthresh=linthresh)
        lo = min(0.0, float(sub["low"].min()))
        hi = float(sub["high"].max())
        ax.set_ylim(lo * 1.5 - linthresh if lo < 0 else -linthresh, max(hi, linthresh) * 1.5)
        ax.set_title(f"depth {depth}, width {width}", fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.set_ylabel(_label(gap) + " (symlog)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3, lw=0.5)
    _method_legend(fig, styles, [m for m in styles if m in methods],
                   [Patch(color="#d62728", alpha=0.15, label="violation region")])
    return fig


def _symlog_threshold(bands: pd.DataFrame) -> float:
    """The linear range of a panel's symlog axis: a tenth of the smallest typical gap of its methods (the median over
    iterations of each method's |median| curve), so that every method's curve lies on the log part even when one
    method's gap is many decades above the others' (each panel has its own axis)."""
    typical = [float(np.median(v[v > 0])) for _, g in bands.groupby("method")
               if (v := np.abs(g["median"].to_numpy(dtype=float))).size and (v > 0).any()]
    return max(0.1 * min(typical), 1e-12) if typical else 1e-6


def ratio_heatmap(comparisons: pd.DataFrame, what: str = "median final train CE", alpha: float = ALPHA) -> Figure:
    """Depth x width heatmaps of the ratio LySep / baseline, one panel per (method, baseline) pair.

    ``comparisons``: :func:`analysis.comparisons.paired_comparisons` output (depth, width, method,
    baseline, ratio, p_holm). Colour is log2 of the ratio (blue: LySep lower); the cell text is the
    ratio, with ``*`` when the Holm-adjusted Wilcoxon p < ``alpha``.
    """
    if comparisons.empty:
        return _empty_figure("no LySep/baseline pair to compare")
    row_names = list(dict.fromkeys(comparisons["method"]))
    col_names = list(dict.fromkeys(comparisons["baseline"]))
    rows, cols = len(row_names), len(col_names)
    depths = sorted(comparisons["depth"].unique())
    widths = sorted(comparisons["width"].unique())
    fig = Figure(figsize=(max(MIN_W, min(3.0, 0.9 + 0.8 * len(widths)) * cols + 1.4),
                          (0.9 + 0.55 * len(depths)) * rows + 0.7), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        logr = np.log2(comparisons["ratio"].to_numpy(dtype=float))
    finite = np.abs(logr[np.isfinite(logr)])
    vmax = max(1.0, float(finite.max())) if finite.size else 1.0
    cmap = sns.color_palette("vlag", as_cmap=True)
    for i, m in enumerate(row_names):
        for j, b in enumerate(col_names):
            sub = comparisons[(comparisons["method"] == m) & (comparisons["baseline"] == b)]
            if sub.empty:
                axes[i, j].set_visible(False)
            else:
                _heatmap_panel(axes[i, j], sub, depths, widths, vmax, cmap, alpha)
                axes[i, j].set_title(f"{m} / {b}", fontsize=9)
    cbar = fig.colorbar(ScalarMappable(norm=Normalize(-vmax, vmax), cmap=cmap), ax=axes.ravel().tolist(),
                        shrink=0.9, aspect=25)
    cbar.set_label("log2 ratio (< 0: LySep lower)", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    _suptitle(fig, f"Ratio of {what}, LySep / baseline (* Holm-adjusted Wilcoxon p < {alpha:g})", 10)
    return fig


def _heatmap_panel(ax, sub: pd.DataFrame, depths: list, widths: list, vmax: float, cmap, alpha: float) -> None:
    """One depth x width heatmap of log2 ratios annotated with the ratio and significance stars."""
    ratio = sub.pivot_table(index="depth", columns="width", values="ratio", aggfunc="first", dropna=False)
    ratio = ratio.reindex(index=depths, columns=widths).to_numpy(dtype=float)
    pval = sub.pivot_table(index="depth", columns="width", values="p_holm", aggfunc="first", dropna=False)
    pval = pval.reindex(index=depths, columns=widths).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.log2(ratio)
    val = np.clip(np.where(np.isnan(val), np.nan, val), -vmax, vmax)
    ax.pcolormesh(np.ma.masked_invalid(val), cmap=cmap, vmin=-vmax, vmax=vmax, edgecolors="white", linewidth=1.0)
    ax.set_facecolor("0.9")  # cells without a comparison
    for i in range(len(depths)):
        for j in range(len(widths)):
            text = _ratio_text(ratio[i, j], pval[i, j], alpha)
            if text:
                dark = np.isfinite(val[i, j]) and abs(val[i, j]) > 0.6 * vmax
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(np.arange(len(widths)) + 0.5, [str(w) for w in widths])
    ax.set_yticks(np.arange(len(depths)) + 0.5, [str(d) for d in depths])
    ax.set_xlim(0, len(widths))
    ax.set_ylim(len(depths), 0)  # first depth on top
    ax.set_xlabel("width", fontsize=8)
    ax.set_ylabel("depth", fontsize=8)
    ax.tick_params(labelsize=7, length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _ratio_text(ratio: float, p: float, alpha: float) -> str:
    if np.isnan(ratio):
        return ""
    star = "*" if np.isfinite(p) and p < alpha else ""
    return ("\u221e" if np.isinf(ratio) else f"{ratio:.2g}") + star


def seed_distributions(metrics: pd.DataFrame, column: str = "final_F", styles: Mapping[str, Style] | None = None,
                       log_y: bool | None = None) -> Figure:
    """Box plot plus one dot per seed of a per-run metric, per method, one panel per cell.

    Diverged runs are drawn as red crosses at their last finite value.
    """
    log_y = (column in LOG_METRICS) if log_y is None else log_y
    data = metrics[np.isfinite(metrics[column].to_numpy(dtype=float))]
    if data.empty:
        return _empty_figure(f"no finite values of {column}")
    methods = sorted(data["method"].unique())
    styles = _styles_for(methods, styles)
    order = [m for m in styles if m in methods]
    fig, axes = _cell_figure(_cells(data), f"{_title(column)}, one point per seed", sharey=True, extra_w=0.2)
    diverged = data["diverged"].astype(bool) if "diverged" in data else pd.Series(False, index=data.index)
    jitter = np.random.default_rng(0)
    for (depth, width), ax in axes.items():
        sub = data[(data["depth"] == depth) & (data["width"] == width)]
        for i, m in enumerate(order):
            rows = sub[sub["method"] == m]
            if rows.empty:
                continue
            vals = rows[column].to_numpy(dtype=float)
            box = ax.boxplot([vals], positions=[i], widths=0.6, patch_artist=True, showfliers=False,
                             medianprops={"color": "0.1", "lw": 1.2}, whiskerprops={"lw": 0.9},
                             capprops={"lw": 0.9}, boxprops={"lw": 0.9})
            box["boxes"][0].set(facecolor=(*styles[m].color, 0.45), edgecolor="0.2")
            bad = diverged[rows.index].to_numpy()
            xs = i + jitter.uniform(-0.15, 0.15, vals.size)
            ax.scatter(xs[~bad], vals[~bad], s=9, color="0.15", zorder=4, lw=0)
            ax.scatter(xs[bad], vals[bad], s=30, marker="x", color="#d62728", zorder=5)
        ax.set_xticks(range(len(order)), order)
        ax.set_xlim(-0.6, len(order) - 0.4)
        if log_y:
            ax.set_yscale("log")
        ax.set_title(f"depth {depth}, width {width}", fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel(_label(column), fontsize=8)
        ax.tick_params(axis="x", labelsize=7, rotation=30 if len(order) > 2 else 0)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3, lw=0.5)
    if diverged.any():
        fig.legend(handles=[Line2D([], [], marker="x", color="#d62728", linestyle="",
                                   label="diverged (last finite value)")],
                   loc="outside lower center", fontsize=8, frameon=False)
    return fig


def performance_profile(profile: pd.DataFrame, styles: Mapping[str, Style] | None = None,
                        what: str = "median final train CE") -> Figure:
    """Dolan-More performance profile: rho(tau) per method, step lines, log tau axis.

    ``profile``: taus x methods table from :func:`analysis.comparisons.performance_profile`.
    """
    if profile.empty:
        return _empty_figure("no performance profile")
    methods = list(profile.columns)
    styles = _styles_for(methods, styles)
    fig = Figure(figsize=(7.2, 3.8), layout="constrained")
    ax = fig.subplots()
    taus = profile.index.to_numpy(dtype=float)
    for m in [m for m in styles if m in methods]:
        st = styles[m]
        ax.step(taus, profile[m].to_numpy(), where="post", color=st.color, linestyle=st.linestyle, lw=1.8, label=m)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(1.0, taus.max())
    ax.set_xlabel("\u03c4 (metric / best metric in the cell)")
    ax.set_ylabel("fraction of cells \u03c1(\u03c4)")
    ax.set_title(f"Performance profile over grid cells: {what}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3, lw=0.5)
    fig.legend(loc="outside right center", fontsize=8, frameon=False, title="method", title_fontsize=8)
    return fig


def fraction_reached(curves_table: pd.DataFrame, styles: Mapping[str, Style] | None = None,
                     xlabel: str = "wall time [s]", target: float | None = None) -> Figure:
    """Fraction of runs (all cells and seeds) that reached the target CE within each budget per method (log axis).

    ``curves_table``: :func:`analysis.comparisons.fraction_reached_curves` output (method, budget, fraction) on a
    positive budget axis (:func:`budget_axis`). A log axis, like the other time figures, so that the fast methods
    are not squeezed into a few pixels next to a slow one.
    """
    if curves_table.empty:
        return _empty_figure("no time-to-target data")
    methods = sorted(curves_table["method"].unique())
    styles = _styles_for(methods, styles)
    fig = Figure(figsize=(7.2, 3.6), layout="constrained")
    ax = fig.subplots()
    for m in [m for m in styles if m in methods]:
        s = curves_table[curves_table["method"] == m]
        st = styles[m]
        ax.step(s["budget"], s["fraction"], where="post", color=st.color, linestyle=st.linestyle, lw=1.8, label=m)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.04)
    ax.set_xlabel(xlabel + ", log scale")
    ax.set_ylabel("fraction of runs reached")
    tt = f" {target:g}" if target is not None else ""
    ax.set_title(f"Runs that reached the target train CE{tt} within the budget", fontsize=10)
    ax.grid(True, alpha=0.3, lw=0.5)
    fig.legend(loc="outside right center", fontsize=8, frameon=False, title="method", title_fontsize=8)
    return fig


def budget_axis(times: np.ndarray, top: float, n: int = 200) -> np.ndarray:
    """A geometric budget axis for :func:`fraction_reached`: from half the smallest positive time to target (or
    ``top / 1e3``) up to ``top`` (the largest time on the axis)."""
    t = np.asarray(times, dtype=float)
    top = top if np.isfinite(top) and top > 0 else 1.0
    pos = t[np.isfinite(t) & (t > 0)]
    low = min(0.5 * float(pos.min()), top / 10) if pos.size else top / 1e3
    return np.geomspace(low, top, n)


def decision_regions(grid_x: np.ndarray, grid_y: np.ndarray, probs_by_method: Mapping[str, np.ndarray],
                     x_test: np.ndarray, y_test: np.ndarray, pred_test_by_method: Mapping[str, np.ndarray],
                     title: str = "Decision regions") -> Figure:
    """Predicted class regions of each method on a 2-D grid, with the test points; errors marked.

    ``grid_x, grid_y``: meshgrid arrays (H, W) or axes (W,) and (H,); ``probs_by_method``: method ->
    (H, W) predicted class per grid point (class labels; rounded to int); ``x_test``: (n, 2);
    ``y_test``: (n,) labels; ``pred_test_by_method``: method -> (n,) predicted labels.
    """
    methods = list(probs_by_method)
    if not methods:
        return _empty_figure("no decision regions")
    gx, gy = np.asarray(grid_x, dtype=float), np.asarray(grid_y, dtype=float)
    if gx.ndim == 1:
        gx, gy = np.meshgrid(gx, gy)
    x_test = np.asarray(x_test, dtype=float)
    y_test = np.asarray(y_test).astype(int)
    n_classes = int(max([y_test.max(initial=0)] + [np.nanmax(np.asarray(z)) for z in probs_by_method.values()])) + 1
    colors = sns.color_palette("colorblind", max(n_classes, 3))
    light = sns.color_palette("pastel", max(n_classes, 3))
    cmap = ListedColormap([light[c] for c in range(n_classes)])
    rows, cols = _grid(len(methods), 3)
    fig = Figure(figsize=(3.3 * cols + 1.4, 3.2 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[len(methods):]:
        ax.set_visible(False)
    for ax, m in zip(axes.ravel(), methods, strict=False):
        zz = np.rint(np.asarray(probs_by_method[m], dtype=float))
        ax.contourf(gx, gy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.9)
        pred = np.asarray(pred_test_by_method.get(m, y_test)).astype(int)
        wrong = pred != y_test
        for c in range(n_classes):
            sel = (y_test == c) & ~wrong
            ax.scatter(x_test[sel, 0], x_test[sel, 1], s=7, color=colors[c], edgecolors="none", alpha=0.9)
        ax.scatter(x_test[wrong, 0], x_test[wrong, 1], s=26, marker="X", color=[colors[c] for c in y_test[wrong]],
                   edgecolors="black", linewidths=0.6, zorder=5)
        acc = 1.0 - wrong.mean() if wrong.size else float("nan")
        ax.set_title(f"{m}: test acc {acc:.3f} ({int(wrong.sum())} errors)", fontsize=9)
        ax.set_xlabel("$x_1$", fontsize=8)
        ax.set_ylabel("$x_2$", fontsize=8)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    handles = [Patch(color=light[c], label=f"predicted class {c}") for c in range(n_classes)]
    handles += [Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=4, label=f"test, class {c}")
                for c in range(n_classes)]
    handles.append(Line2D([], [], marker="X", linestyle="", color="0.6", markeredgecolor="black", markersize=6,
                          label="misclassified (true class colour)"))
    fig.legend(handles=handles, loc="outside right center", fontsize=7, frameon=False)
    _suptitle(fig, title, 10)
    return fig


def tuning_scatter(trials: pd.DataFrame, space: Mapping[str, Mapping], title: str) -> Figure:
    """One method's trials: the score (log axis) against each tuned hyperparameter (log axis for a log range,
    categories for a choice); diverged trials as red crosses above the finite ones, the winner circled, the spec's
    own setting (trial < 0) a diamond."""
    keys = sorted(space)
    if trials.empty or not keys:
        return _empty_figure("no trials")
    rows, cols = _grid(len(keys))
    fig = Figure(figsize=(max(MIN_W, PANEL_W * cols), PANEL_H * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    score = trials["score"].to_numpy(dtype=float)
    finite = np.isfinite(score)
    top = float(np.nanmax(score[finite])) * 2 if finite.any() else 1.0
    best, ref = trials["rank"].to_numpy() == 1, trials["trial"].to_numpy() < 0
    for ax, key in zip(axes, keys):
        dim = space[key]
        if "choices" in dim:
            names = [str(c) for c in dim["choices"]]
            x = np.array([names.index(str(v)) if str(v) in names else np.nan for v in trials[key]], dtype=float)
            x = x + np.random.default_rng(0).uniform(-0.12, 0.12, x.size)
            ax.set_xticks(range(len(names)), names, fontsize=7, rotation=20)
            ax.set_xlim(-0.5, len(names) - 0.5)
        else:
            x = trials[key].to_numpy(dtype=float)
            ax.set_xscale("log" if dim["scale"] == "log" else "linear")
            ax.axvspan(dim["low"], dim["high"], color="0.95", zorder=0)
            if dim["scale"] == "log" and dim["high"] / dim["low"] < NARROW_LOG:  # decades too few for log ticks
                ax.xaxis.set_major_locator(MaxNLocator(4))
                ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.xaxis.set_minor_formatter(NullFormatter())
        ax.scatter(x[finite], score[finite], s=14, color="0.2", zorder=3, lw=0)
        ax.scatter(x[~finite], np.full((~finite).sum(), top), s=26, marker="x", color="#d62728", zorder=4)
        ax.scatter(x[best & finite], score[best & finite], s=80, facecolors="none", edgecolors="#1f77b4", lw=1.4,
                   zorder=5)
        ax.scatter(x[ref & finite], score[ref & finite], s=40, marker="D", facecolors="none", edgecolors="#ff7f0e",
                   lw=1.2, zorder=6)
        ax.set_yscale("log")
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel("trial score", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3, lw=0.5)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    _suptitle(fig, f"{title}: trial score vs each tuned hyperparameter (circle: chosen; diamond: the spec's own "
                   "setting; x: diverged, drawn above)", 9)
    return fig
