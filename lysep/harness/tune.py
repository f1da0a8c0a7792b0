"""``lysep tune SPEC``: the same quasi-random search, trial count and budget for every method (docs/tuning.md).

A trial is a method configuration: the ``[[method]]``'s own settings with one point of its search space
on top (``lysep.harness.search``). All trials of all methods run as one ordinary sweep (``lysep.harness.runner``) on the
tuning seeds, into ``<out>`` (default ``results/<name>/tuning``), labelled ``<label>+tNN``, beside each method's
reference ``<label>+ref`` (its setting in the spec, a candidate too): the store gives resumability, crash safety,
``--workers``/``--scheduler`` and progress. Then each method's winner (lowest
median selection metric over the tuning seeds; a trial with a diverged or failed seed is worst) is written
as a spec that ``lysep run`` takes as it is, with the spec's own grid, budget and (reporting) seeds:
``tuned.toml`` (``scope = "grid"``) or ``tuned_d<D>_w<W>.toml`` per cell (``scope = "cell"``).
``tune.json`` records the spaces, the trials, their scores and the winners (the report's "Tuning" section).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lysep.harness.search import draw, on_border, resolve
from lysep.harness.spec import BudgetSpec, ExperimentSpec, GridSpec, MethodSpec, TuneSpec, parse_spec
from lysep.methods import METHODS, make_method
from lysep.methods.base import active_keys
from lysep.methods.space import Choice, Space

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: what separates a method's label from its trial number in a trial's label
TRIAL_MARK = "+t"
#: the label suffix of a method's reference run (its spec's own setting)
REFERENCE_MARK = "+ref"
#: the file that describes a tuning store (what ``lysep report`` recognises one by)
TUNE_FILE = "tune.json"


def tune_of(spec: ExperimentSpec) -> TuneSpec:
    """The spec's ``[tune]``; the defaults for a spec without one (validated like a written one)."""
    if spec.tune is not None:
        return spec.tune
    return parse_spec({**spec.to_dict(), "tune": {}}, spec.source).tune


def space_of(spec: ExperimentSpec, m: MethodSpec) -> Space:
    """The search space of one ``[[method]]``: its ``[method.tune]``, else the method's default ``SEARCH`` with
    every choice dropped that this spec's activation or models cannot take; choices resolved from the schema."""
    cls = METHODS[m.name]
    if m.search is not None:
        return resolve(m.search, cls.HPARAMS)
    space, models = resolve(cls.SEARCH, cls.HPARAMS), _models(spec)
    for key, dim in space.items():
        if isinstance(dim, Choice):
            space[key] = Choice(tuple(v for v in dim.values if _feasible(spec, m, key, v, models)))
    return space


def _models(spec: ExperimentSpec) -> list[Any]:
    """The networks of the grid's cells when the dataset declares its samples' shape (torch-free), else []."""
    from lysep.datasets import dataset_info
    from lysep.harness.plan import model_of

    info = dataset_info(spec.data.dataset)
    shape = info.image_shape if spec.model.kind == "cnn" else info.shape
    n_classes = info.n_classes or spec.data.n_classes
    try:
        return [model_of(spec, tuple(shape), n_classes, d, w) for d, w in spec.grid.cells()] if shape else []
    except ValueError:  # a model the data cannot have: preflight names it
        return []


def _feasible(spec: ExperimentSpec, m: MethodSpec, key: str, value: Any, models: list[Any]) -> bool:
    """Whether the method can be built with ``key = value`` and can train every model."""
    try:
        method = make_method(m.name, activation=spec.model.activation, **{**m.hparams, key: value})
        for model in models:
            method.check_model(model)
    except ValueError:
        return False
    return True


#: the trial number of a method's reference: its ``[[method]]`` as the spec sets it, run beside its trials
REFERENCE = -1


def trial_label(label: str, i: int) -> str:
    return f"{label}{REFERENCE_MARK}" if i == REFERENCE else f"{label}{TRIAL_MARK}{i:02d}"


def trial_count(tune: Any, space: Space) -> int:
    """The trials a method draws: ``tune.trials``, or ``tune.trials_per_dimension`` per hyperparameter of its space."""
    per = getattr(tune, "trials_per_dimension", None)
    return tune.trials if per is None else int(per) * max(1, len(space))


def trials(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """Every trial of every ``[[method]]``: label, method (the ``[[method]]``'s label), algorithm, trial number,
    the values of the tuned hyperparameters and the full configuration. The same ``tune.trials`` and
    ``tune.qmc_seed`` for all, and first each method's reference (trial ``REFERENCE``: the spec's own setting,
    a candidate too, so that tuning never picks what did worse on the tuning seeds than the setting it started
    from, and the report shows what tuning gained)."""
    tune = tune_of(spec)
    out = []
    for m in spec.methods:
        space, schema = space_of(spec, m), METHODS[m.name].HPARAMS
        before = {k: m.hparams.get(k, schema[k].default) for k in space}
        drawn = [before, *draw(space, schema, trial_count(tune, space), tune.qmc_seed)]
        for i, values in enumerate(drawn, start=REFERENCE):
            out.append({"label": trial_label(m.label, i), "method": m.label, "algorithm": m.name, "trial": i,
                        "values": values, "hparams": {**m.hparams, **values} if i != REFERENCE else dict(m.hparams)})
    return out


def trial_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """The sweep of all trials: the tuned cells, the tuning seeds, the tuning budget, one method per trial."""
    tune = tune_of(spec)
    grid = GridSpec(tune.depth or spec.grid.depth, tune.width or spec.grid.width, tune.seeds, tune.first_seed)
    budget: BudgetSpec = spec.budget
    if tune.iterations is not None:
        budget = replace(budget, iterations=tune.iterations)
    methods = tuple(MethodSpec(t["algorithm"], t["label"], t["hparams"]) for t in trials(spec))
    return replace(spec, name=f"{spec.name}_tune", grid=grid, budget=budget, methods=methods, tune=None)


# ---------------------------------------------------------------------------- selection


def cell_scores(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per trial label and cell: the median ``metric`` over its seeds (inf when a seed diverged or
    failed: a diverged trial is worst), the number of seeds and of diverged or failed ones."""
    import numpy as np

    bad = runs.status != "completed"
    value = runs[metric].where(~bad & np.isfinite(runs[metric]), math.inf)
    table = runs.assign(_v=value, _bad=bad | ~np.isfinite(runs[metric]))
    g = table.groupby(["method", "depth", "width"], sort=True)
    out = g.agg(median=("_v", "median"), seeds=("seed", "count"), diverged=("_bad", "sum")).reset_index()
    out.loc[out.diverged > 0, "median"] = math.inf
    return out


def scores(runs: pd.DataFrame, plan: list[dict[str, Any]], tune: TuneSpec) -> pd.DataFrame:
    """Each trial's score in its selection group: per cell (``scope = "cell"``) the median, over the grid the
    geometric mean of the cells' medians (inf if any is). Columns: method, trial, label, depth, width (-1 for the
    grid), score, diverged (seeds), rank (1 = winner; ties go to the lower trial number)."""
    import numpy as np
    import pandas as pd

    per_cell = cell_scores(runs, tune.metric)
    info = pd.DataFrame([{k: t[k] for k in ("label", "method", "trial")} for t in plan])
    table = per_cell.rename(columns={"method": "label"}).merge(info, on="label")
    if tune.scope == "grid":
        log = np.log(table["median"].clip(lower=np.finfo(float).tiny))
        table = table.assign(_log=log).groupby(["method", "trial", "label"], sort=True).agg(
            _log=("_log", "mean"), diverged=("diverged", "sum"), cells=("depth", "count")).reset_index()
        table = table.assign(score=np.exp(table["_log"]), depth=-1, width=-1).drop(columns="_log")
    else:
        table = table.rename(columns={"median": "score"})
    table = table.sort_values(["method", "depth", "width", "score", "trial"]).reset_index(drop=True)
    table["rank"] = table.groupby(["method", "depth", "width"]).cumcount() + 1
    return table


def winners(table: pd.DataFrame, plan: list[dict[str, Any]], spaces: dict[str, Space]) -> list[dict[str, Any]]:
    """The rank-1 trial of each method and group, with its values and the tuned hyperparameters on the border
    of their range (``lysep.harness.search.BORDER``) that act in the winner's configuration
    (:func:`lysep.methods.base.active_keys`: a learning rate of a solver the winner does not use is not flagged)."""
    by_label = {t["label"]: t for t in plan}
    out = []
    for row in table[table["rank"] == 1].itertuples(index=False):
        t = by_label[row.label]
        acting = active_keys(METHODS[t["algorithm"]].HPARAMS, t["hparams"])
        border = sorted(k for k, v in t["values"].items()
                        if row.trial != REFERENCE and k in acting and on_border(spaces[row.method][k], v))
        out.append({"method": row.method, "algorithm": t["algorithm"], "trial": int(row.trial), "label": row.label,
                    "depth": int(row.depth), "width": int(row.width), "score": float(row.score),
                    "values": t["values"], "hparams": t["hparams"], "border": border,
                    "finite": bool(math.isfinite(row.score))})
    return out


# ---------------------------------------------------------------------------- the tuned spec


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(i) for i in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def to_toml(doc: dict[str, Any], header: str = "") -> str:
    """A spec dict (``ExperimentSpec.to_dict`` layout) as TOML text that ``load_spec`` reads back equal."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append(f"name = {_toml_value(doc['name'])}")
    if doc.get("subject") is not None:  # top-level: before the first table
        lines.append(f"subject = {_toml_value(doc['subject'])}")
    for section in ("data", "model", "grid", "budget"):
        lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in doc[section].items() if v is not None]
    for entry in doc["method"]:
        lines += ["", "[[method]]"] + [f"{k} = {_toml_value(v)}" for k, v in entry.items() if v is not None]
    return "\n".join(lines) + "\n"


def tuned_doc(spec: ExperimentSpec, chosen: list[dict[str, Any]], depth: int = -1, width: int = -1) -> dict[str, Any]:
    """``spec`` with each method's winner (of the group ``depth``, ``width``; -1: the grid) as its settings,
    its own grid (one cell for a cell's winners), budget and seeds, and no ``[tune]``."""
    doc = spec.to_dict()
    doc.pop("tune", None)
    doc["name"] = f"{spec.name}_tuned" + (f"_d{depth}_w{width}" if depth >= 0 else "")
    if depth >= 0:
        doc["grid"] = {**doc["grid"], "depth": [depth], "width": [width]}
    best = {w["method"]: w for w in chosen if (w["depth"], w["width"]) == (depth, width)}
    doc["method"] = [{"name": m.name, "label": m.label, **best[m.label]["hparams"]} for m in spec.methods]
    return doc


def header(spec: ExperimentSpec, command: str) -> str:
    tune = tune_of(spec)
    seeds = f"{tune.first_seed}..{tune.first_seed + tune.seeds - 1}"
    count = (f"{tune.trials_per_dimension} quasi-random trials per hyperparameter of each method's space"
             if tune.trials_per_dimension else f"{tune.trials} quasi-random trials per method")
    return (f"Tuned by `{command}` (docs/tuning.md): {count} (Sobol, qmc_seed "
            f"{tune.qmc_seed}) on tuning seeds {seeds},\nselected by the median {tune.metric} (a diverged trial "
            f"is worst), scope {tune.scope}; every trial and score: tune.json beside this file.\n"
            f"The grid, budget and seeds below are the spec's own (the reporting seeds).")


def write_tuned(spec: ExperimentSpec, chosen: list[dict[str, Any]], out: Path, command: str) -> list[Path]:
    """``tuned.toml`` (grid scope) or one ``tuned_d<D>_w<W>.toml`` per cell; each one read back as a check."""
    from lysep.harness.spec import load_spec
    from lysep.harness.store import atomic_write

    groups = sorted({(w["depth"], w["width"]) for w in chosen})
    paths = []
    for depth, width in groups:
        path = out / ("tuned.toml" if depth < 0 else f"tuned_d{depth}_w{width}.toml")
        atomic_write(path, to_toml(tuned_doc(spec, chosen, depth, width), header(spec, command)).encode())
        load_spec(path)  # a SpecError here is a bug of this module, never a user's problem
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------- the whole tune


def expected_hashes(tspec: ExperimentSpec) -> set[str]:
    """The config hashes of every run of the trial sweep (the runs of an older tune in the same store are not)."""
    from lysep.harness.plan import config_hash

    return {config_hash(tspec, d, w, m.label, s) for d, w in tspec.grid.cells() for m in tspec.methods
            for s in tspec.grid.seed_list()}


def compute_by_method(runs: pd.DataFrame, plan: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per method (the ``[[method]]``'s label): its trials (the reference included), trial runs, and the
    grad_evals and wall time they spent in all (the runs table of the trial sweep)."""
    method_of = {t["label"]: t["method"] for t in plan}
    out: dict[str, dict[str, float]] = {}
    for label in dict.fromkeys(t["method"] for t in plan):
        mine = runs[runs["method"].map(method_of) == label] if len(runs) else runs
        out[label] = {"trials": sum(t["method"] == label for t in plan), "runs": int(len(mine)),
                      **{c: float(mine[c].fillna(0).sum()) if c in mine else float("nan")
                         for c in ("grad_evals", "wall_time")}}
    return out


def tune_record(spec: ExperimentSpec, plan: list[dict[str, Any]], table: pd.DataFrame,
                chosen: list[dict[str, Any]], command: str, runs: pd.DataFrame | None = None) -> dict[str, Any]:
    """What ``tune.json`` holds: the spec, the protocol, the spaces, every trial with its scores, the winners, and
    the compute each method's trials spent (:func:`compute_by_method`, given the sweep's runs)."""
    tune = tune_of(spec)
    spaces = {m.label: {k: d.to_dict() for k, d in space_of(spec, m).items()} for m in spec.methods}
    rows = table.replace({math.inf: None}).to_dict(orient="records")
    return {"spec": spec.to_dict(), "command": command, "tune": {k: v for k, v in vars(tune).items()},
            "tuning_seeds": list(range(tune.first_seed, tune.first_seed + tune.seeds)),
            "reporting_seeds": spec.grid.seed_list(), "spaces": spaces,
            "trials": [{k: t[k] for k in ("label", "method", "algorithm", "trial", "values")} for t in plan],
            "scores": rows, "winners": chosen,
            **({"compute": compute_by_method(runs, plan)} if runs is not None else {})}


def finish(spec: ExperimentSpec, runs: pd.DataFrame, out: Path, command: str) -> tuple[list[dict], list[Path], int]:
    """Select the winners from the trial sweep's runs, write the tuned spec(s) and ``tune.json``; (winners, the
    tuned specs, the number of failed trial runs)."""
    from lysep.harness.store import write_json

    tspec, plan = trial_spec(spec), trials(spec)
    runs = runs[runs.config_hash.isin(expected_hashes(tspec))]
    spaces = {m.label: space_of(spec, m) for m in spec.methods}
    table = scores(runs, plan, tune_of(spec))
    chosen = winners(table, plan, spaces)
    paths = write_tuned(spec, chosen, out, command)
    write_json(out / TUNE_FILE, tune_record(spec, plan, table, chosen, command, runs))
    return chosen, paths, int((runs.status == "failed").sum())
