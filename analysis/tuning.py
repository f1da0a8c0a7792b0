"""The "Tuning" report of a ``lysep tune`` store: what each method was given and what it chose.

Reads ``tune.json`` (the spaces, every trial's drawn values and score, the winners; written by
``lysep.harness.tune``) and writes ``report.md``/``report.html``, ``figures/tuning_*.png`` and
``tables/tuning_*.csv`` into the store. Per method: the chosen setting beside the method's built-in
defaults, the distribution of the trial scores, the number of diverged trials, the score against each
tuned hyperparameter, and a warning for every winner on the border of its space. Methods are only
ever the labels the record holds.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.render import Fig, Section, Table, display, fmt, render_html, render_markdown
from lysep.harness.store import atomic_write, write_text

DPI = 100


def load_record(results_dir: Path) -> dict[str, Any]:
    """``tune.json`` of a tuning store."""
    return json.loads((Path(results_dir) / "tune.json").read_text(encoding="utf-8"))


def trial_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per trial and selection group: method, trial, label, depth, width (-1: the grid), score (inf for a
    trial with a diverged or failed seed), diverged (seeds), rank, and one column per drawn value."""
    scores = pd.DataFrame(record["scores"])
    if scores.empty:
        return scores
    scores["score"] = scores["score"].astype(float).fillna(np.inf)
    values = pd.DataFrame([{"label": t["label"], **t["values"]} for t in record["trials"]])
    return scores.merge(values, on="label", how="left")


def _before(record: dict[str, Any], label: str, algorithm: str, key: str) -> Any:
    """A hyperparameter before tuning: the [[method]]'s own setting, else the value its reference trial (the spec's
    setting, trial < 0) recorded, which is the built-in default of the install that tuned; else this install's
    default (None when it does not know the method). A later change of a default does not rewrite the record."""
    from lysep.methods import METHODS

    entry = next((m for m in record["spec"]["method"] if m.get("label", m["name"]) == label), {})
    if key in entry:
        return entry[key]
    ref = next((t for t in record.get("trials", []) if t["method"] == label and t["trial"] < 0), {})
    if key in ref.get("values", {}):
        return ref["values"][key]
    cls = METHODS.get(algorithm)
    return cls.HPARAMS[key].default if cls is not None and key in cls.HPARAMS else None


def chosen_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per winner and tuned hyperparameter: its space, the chosen value, the value before tuning (the
    spec's setting, else the built-in default), and whether the chosen value lies on the border of its range."""
    rows = []
    for w in record["winners"]:
        space = record["spaces"][w["method"]]
        group = "grid" if w["depth"] < 0 else f"d{w['depth']} w{w['width']}"
        for key in sorted(space):
            dim = space[key]
            where = (f"{', '.join(map(str, dim['choices']))}" if "choices" in dim
                     else f"{fmt(dim['low'])} .. {fmt(dim['high'])} ({dim['scale']})")
            trial = "the spec's setting" if w["trial"] < 0 else w["trial"]
            rows.append({"method": w["method"], "group": group, "trial": trial, "hyperparameter": key,
                         "space": where, "chosen": w["values"].get(key),
                         "before": _before(record, w["method"], w["algorithm"], key),
                         "border": key in acting_border(w)})
    return pd.DataFrame(rows)


def acting_border(winner: dict[str, Any]) -> list[str]:
    """A winner's border flags (``tune.json``) without the hyperparameters that do not act in its configuration
    (:func:`lysep.methods.base.active_keys`, this install's declarations; a record written before the flags left
    them out keeps them otherwise): a learning rate of a solver the winner does not use says nothing about the space."""
    from lysep.methods import METHODS
    from lysep.methods.base import active_keys

    cls = METHODS.get(winner.get("algorithm", ""))
    if cls is None:
        return list(winner["border"])
    acting = active_keys(cls.HPARAMS, winner.get("hparams") or {})
    return [k for k in winner["border"] if k in acting]


def distribution_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per method and group: the drawn trials, how many diverged, the quartiles of their finite scores, the score
    of the spec's own setting (the reference, trial < 0), the chosen score and which trial it is."""
    rows = []
    for (method, depth, width), g in trials.groupby(["method", "depth", "width"], sort=True):
        drawn, ref = g[g["trial"] >= 0], g[g["trial"] < 0]
        finite = drawn["score"][np.isfinite(drawn["score"])]
        q = finite.quantile([0, 0.25, 0.5, 0.75, 1]).to_numpy() if len(finite) else [np.nan] * 5
        best = g[g["rank"] == 1].iloc[0]
        rows.append({"method": method, "group": "grid" if depth < 0 else f"d{depth} w{width}",
                     "trials": len(drawn), "diverged trials": int((~np.isfinite(drawn["score"])).sum()),
                     "best": q[0], "q25": q[1], "median": q[2], "q75": q[3], "worst finite": q[4],
                     "spec's setting": ref["score"].iloc[0] if len(ref) else np.nan, "chosen": best["score"],
                     "spec's / chosen": (ref["score"].iloc[0] / best["score"] if len(ref) and best["score"] > 0
                                         else np.nan),
                     "chosen trial": "the spec's setting" if best["trial"] < 0 else int(best["trial"])})
    return pd.DataFrame(rows)


def border_warnings(record: dict[str, Any]) -> list[str]:
    """One sentence per winner with a value on the border of its range that acts in its configuration: widen the
    space."""
    out = []
    for w in record["winners"]:
        for key in acting_border(w):
            dim = record["spaces"][w["method"]][key]
            out.append(f"{w['method']}: {key} = {fmt(w['values'][key])} lies on the border of its range "
                       f"{fmt(dim['low'])} .. {fmt(dim['high'])}: widen the space and tune again.")
    return out


def compute_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per method: its search space's dimensions, trials, trial runs, grad_evals and wall time spent (the
    record's ``compute``; empty for a record written before it was kept)."""
    compute = record.get("compute") or {}
    rows = [{"method": m, "dimensions": len(record["spaces"].get(m, {})), "trials": int(c["trials"]),
             "runs": int(c["runs"]), "grad_evals": c["grad_evals"], "wall time [s]": c["wall_time"]}
            for m, c in compute.items()]
    return pd.DataFrame(rows)


def protocol_rows(record: dict[str, Any]) -> pd.DataFrame:
    """The protocol: trials, seeds, metric, scope, budget and cells of the trial sweep, the command."""
    t, spec = record["tune"], record["spec"]
    budget = dict(spec.get("budget") or {})
    if t.get("iterations") is not None:
        budget["iterations"] = t["iterations"]
    rows = [("command", record.get("command", "")),
            ("trials per method", (f"{t['trials_per_dimension']} per hyperparameter of the method's space"
                                   if t.get("trials_per_dimension") else f"{t['trials']} drawn")
             + ", and the spec's own setting (the reference)"),
            ("search", f"scrambled Sobol, qmc_seed {t['qmc_seed']}"),
            ("tuning seeds", ", ".join(map(str, record["tuning_seeds"]))),
            ("reporting seeds (the tuned spec's)", ", ".join(map(str, record["reporting_seeds"]))),
            ("selection", f"median {t['metric']} over the tuning seeds, lowest wins; a trial with a diverged seed "
                          "is worst" + ("; over the grid: geometric mean of the cells' medians"
                                        if t["scope"] == "grid" else "; per cell")),
            ("cells tuned on", f"depth {t.get('depth') or spec['grid']['depth']}, "
                               f"width {t.get('width') or spec['grid']['width']}"),
            ("budget of every trial", ", ".join(f"{k}={v}" for k, v in budget.items()))]
    return pd.DataFrame(rows, columns=["field", "value"]).astype(str)


def tuning_section(record: dict[str, Any], figs: list[Fig]) -> Section:
    """The "Tuning" section: protocol, chosen settings, trial distribution, border warnings, figures."""
    trials = trial_table(record)
    blocks: list = [Table(protocol_rows(record), "Protocol: the same trials and budget for every method")]
    chosen = chosen_table(record)
    if not chosen.empty:
        blocks.append(Table(display(chosen), "Chosen setting per method (the tuned spec's), its search space and "
                                             "the value before tuning (the spec's setting, else the built-in "
                                             "default)"))
    if not trials.empty:
        blocks.append(Table(display(distribution_table(trials)), "Trial scores per method (median selection "
                                                                 "metric; diverged trials excluded from quartiles), "
                                                                 "the spec's own setting on the same seeds, and the "
                                                                 "chosen one"))
    compute = compute_table(record)
    if not compute.empty:
        blocks.append(Table(display(compute), "Compute per method: the trials drawn for it (the reference included), "
                                              "the space's dimensions, and the gradient evaluations and seconds its "
                                              "trial runs spent"))
    warnings = border_warnings(record)
    blocks.append(("ul", warnings) if warnings else "No winner lies on the border of its search space.")
    blocks += figs
    return Section("Tuning", blocks)


def _png(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def tuning_figures(record: dict[str, Any], results_dir: Path, dpi: int = DPI) -> list[Fig]:
    """One figure per method (``figures/tuning_<i>.png``, in the spec's order): score vs each tuned value."""
    from analysis.figures import tuning_scatter

    trials = trial_table(record)
    folder = Path(results_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (method, space) in enumerate(record["spaces"].items()):
        rows = trials[trials["method"] == method] if not trials.empty else trials
        png = _png(tuning_scatter(rows, space, method), dpi)
        name = f"tuning_{i}"
        atomic_write(folder / f"{name}.png", png)
        out.append(Fig(name, f"{method}: trial score (median {record['tune']['metric']} over the tuning seeds) "
                             "against each tuned hyperparameter.", png))
    return out


def make_tuning_report(results_dir: Path, *, dpi: int = DPI) -> Path:
    """Write the Tuning report of a ``lysep tune`` store (``report.md``, ``report.html``, figures, tables);
    returns the path of report.html."""
    results_dir = Path(results_dir)
    record = load_record(results_dir)
    tables = results_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    trials = trial_table(record)
    write_text(tables / "tuning_trials.csv", trials.to_csv(index=False))
    write_text(tables / "tuning_chosen.csv", chosen_table(record).to_csv(index=False))
    if not trials.empty:
        write_text(tables / "tuning_distribution.csv", distribution_table(trials).to_csv(index=False))
    sections = [tuning_section(record, tuning_figures(record, results_dir, dpi))]
    title = f"LySep tuning report: {record['spec'].get('name', results_dir.name)}"
    write_text(results_dir / "report.md", render_markdown(title, sections))
    out = results_dir / "report.html"
    write_text(out, render_html(title, sections))
    return out
