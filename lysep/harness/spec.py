"""Experiment specs: a TOML file (format in ``docs/spec.md``) validated into frozen dataclasses.

Everything is checked before any work starts and every problem is reported at once: one
``SpecError`` whose lines each name the file, the dotted key (``grid.width``, ``method[1].lr``,
methods counted from 0), the value given and what was expected. Method hyperparameters are
validated with the method's own schema (``lysep.methods.check_hparams``); the validated
``MethodSpec.hparams`` keeps only the keys the user wrote (defaults are the method's business).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from lysep.core.activations import ACTIVATIONS
from lysep.datasets import Dataset, DatasetInfo, dataset_info, dataset_names, datasets, load_dataset
from lysep.methods import METHODS, UNAVAILABLE, check_hparams

#: name of the spec ``lysep run`` uses when given none (``configs/quick.toml``)
BUILTIN_DEFAULT = "quick"
MODEL_KINDS: tuple[str, ...] = ("fnn", "cnn")
DTYPES: tuple[str, ...] = ("float32", "float64")
#: largest finite value of each dtype: a float hyperparameter beyond it cannot even be stored in the run's tensors
DTYPE_MAX: dict[str, float] = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}
#: budget keys that stop a run (at least one is required; whichever is hit first wins)
STOPPING_KEYS: tuple[str, ...] = ("iterations", "epochs", "seconds", "grad_evals")
SECTIONS: tuple[str, ...] = ("name", "data", "model", "grid", "budget", "method", "tune", "subject")
#: experiment names and method labels: they name folders and trace values
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
NAME_EXPECT = "a string of letters, digits, '_', '.', '+', '-' (at most 100, not starting with a symbol)"
#: longest rendering of a value inside an error message
SHOW_MAX = 80


def default_spec_path() -> Path:
    """``configs/quick.toml`` of the source tree (the package is installed editable: configs/ sits next to lysep/)."""
    return Path(__file__).resolve().parents[2] / "configs" / f"{BUILTIN_DEFAULT}.toml"


class SpecError(ValueError):
    """An invalid spec; ``problems`` holds one line per problem, ``str()`` joins them one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


# ---------------------------------------------------------------------------- the validated spec


@dataclass(frozen=True)
class DataSpec:
    """``[data]``: which dataset and how much of it; ``path`` is absolute (npz only)."""

    dataset: str
    n_train: int = 2000
    n_test: int = 1000
    seed: int = 0
    noise: float = 0.0
    n_classes: int = 3
    path: str | None = None
    root: str | None = None  # folder of the data sets read from files (absolute); None: LYSEP_DATA or the cache

    def load(self, images: bool = False) -> Dataset:
        """The dataset itself (``images=True`` for a CNN on digits)."""
        return load_dataset(self.dataset, n_train=self.n_train, n_test=self.n_test, seed=self.seed,
                            noise=self.noise, n_classes=self.n_classes, images=images, path=self.path,
                            root=self.root)


@dataclass(frozen=True)
class ModelCfg:
    """``[model]``: for ``kind = "cnn"`` the grid's depth counts conv layers and width counts channels."""

    kind: str = "fnn"
    activation: str = "tanh"
    dtype: str = "float32"
    pool: bool | tuple[int, ...] = False  # CNN: true (every conv layer), false, or the 1-based layers that pool


@dataclass(frozen=True)
class GridSpec:
    """``[grid]``: every depth x width cell, each run with seeds ``first_seed..first_seed+seeds-1``."""

    depth: tuple[int, ...]
    width: tuple[int, ...]
    seeds: int = 5
    first_seed: int = 0

    def cells(self) -> list[tuple[int, int]]:
        """(depth, width) pairs, depth-major."""
        return [(d, w) for d in self.depth for w in self.width]

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


@dataclass(frozen=True)
class BudgetSpec:
    """``[budget]``: a run stops at whichever of iterations / epochs / seconds / grad_evals is hit first."""

    iterations: int | None = None
    epochs: float | None = None
    seconds: float | None = None
    grad_evals: float | None = None
    target_ce: float | None = None
    eval_every: int = 10
    record_every: int = 1


@dataclass(frozen=True)
class MethodSpec:
    """One ``[[method]]``: ``label`` (default: name) is what the trace's method column holds; ``search``: its
    ``[method.tune]`` search space (``lysep.harness.search``), None for the method's default space."""

    name: str
    label: str
    hparams: dict[str, Any]
    search: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TuneSpec:
    """``[tune]`` (``lysep tune``, docs/tuning.md): ``trials`` per method on ``seeds`` tuning seeds from
    ``first_seed`` (disjoint from the grid's), drawn with ``qmc_seed``; the winner has the lowest ``metric``
    (median over the tuning seeds; a diverged trial is worst) per cell or over the ``scope = "grid"``;
    ``depth``/``width``: the cells tuned on (default: the grid's), ``iterations``: the tuning budget's
    (default: the budget's)."""

    trials: int = 16
    seeds: int = 3
    first_seed: int = 1000
    qmc_seed: int = 0
    scope: str = "grid"
    metric: str = "final_F"
    depth: tuple[int, ...] | None = None
    width: tuple[int, ...] | None = None
    iterations: int | None = None
    #: if set, each method gets this many trials per hyperparameter of its search space instead of ``trials`` (a
    #: 10-dimensional space is not searched as well as a 1-dimensional one by the same number of points)
    trials_per_dimension: int | None = None


def _as_lists(section: dict[str, Any]) -> dict[str, Any]:
    """A spec section with its tuples as lists, as TOML and the checks of ``parse_spec`` take them."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in section.items()}


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole validated spec; ``source`` is the file it came from (or ``<dict>``/``<builtin>``)."""

    name: str
    data: DataSpec
    model: ModelCfg
    grid: GridSpec
    budget: BudgetSpec
    methods: tuple[MethodSpec, ...]
    source: str = field(default="<dict>", compare=False)  # where it came from; not part of equality
    tune: TuneSpec | None = field(default=None, compare=False)  # [tune], for ``lysep tune``
    #: ``subject``: the method labels the report tests against the baselines (None: the alternating methods);
    #: what is analysed, not what runs, so not part of equality
    subject: tuple[str, ...] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-able dict in the TOML layout (``parse_spec``/``from_dict`` read it back equal)."""
        data = {k: v for k, v in vars(self.data).items() if v is not None}
        budget = {k: v for k, v in vars(self.budget).items() if v is not None}
        grid = {"depth": list(self.grid.depth), "width": list(self.grid.width), "seeds": self.grid.seeds}
        if self.grid.first_seed:
            grid["first_seed"] = self.grid.first_seed
        methods = [{"name": m.name, "label": m.label, **m.hparams} for m in self.methods]
        for entry, m in zip(methods, self.methods):
            if m.search is not None:
                entry["tune"] = {k: d.to_dict() for k, d in m.search.items()}
        doc = {"name": self.name, "data": data, "model": _as_lists(vars(self.model)), "grid": grid,
               "budget": budget, "method": methods}
        if self.tune is not None:
            doc["tune"] = _as_lists({k: v for k, v in vars(self.tune).items() if v is not None})
        if self.subject is not None:
            doc["subject"] = list(self.subject)
        return doc

    @classmethod
    def from_dict(cls, doc: Any, source: str = "<dict>") -> ExperimentSpec:
        """Same as ``parse_spec``."""
        return parse_spec(doc, source)

    def with_seeds(self, n: int) -> ExperimentSpec:
        """A copy with ``grid.seeds = n`` (the CLI's ``--seeds``); SpecError unless n is an integer >= 1."""
        if not _is_int(n) or n < 1:
            raise SpecError([f"{self.source}: grid.seeds = {_show(n)}: expected an integer >= 1"])
        return replace(self, grid=replace(self.grid, seeds=n))


# ---------------------------------------------------------------------------- value checks

_BAD = object()  # what a value check returns for a value it rejects


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_float(v: Any) -> float | None:
    """v as a finite float (ints accepted, bools not), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _int_min(low: int) -> tuple[Callable[[Any], Any], str]:
    return (lambda v: v if _is_int(v) and v >= low else _BAD), f"an integer >= {low}"


def _float_min(low: float, strict: bool) -> tuple[Callable[[Any], Any], str]:
    def check(v: Any) -> Any:
        f = _as_float(v)
        return f if f is not None and (f > low if strict else f >= low) else _BAD

    return check, f"a finite number {'>' if strict else '>='} {low:g}"


def _choice(options: tuple[str, ...] | Mapping[str, Any]) -> tuple[Callable[[Any], Any], str]:
    names = tuple(options)
    return (lambda v: v if isinstance(v, str) and v in names else _BAD), "one of: " + ", ".join(map(_show, names))


def _nonempty_str() -> tuple[Callable[[Any], Any], str]:
    return (lambda v: v if isinstance(v, str) and v.strip() else _BAD), "a non-empty string"


def _name() -> tuple[Callable[[Any], Any], str]:
    return (lambda v: v if isinstance(v, str) and NAME_RE.fullmatch(v) else _BAD), NAME_EXPECT


def _boolean() -> tuple[Callable[[Any], Any], str]:
    return (lambda v: v if isinstance(v, bool) else _BAD), "true or false"


def _pool() -> tuple[Callable[[Any], Any], str]:
    """true, false, or a list of distinct conv layers (1-based) that end with 2x2 average pooling."""
    ints, _ = _int_list()

    def check(v: Any) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, list) and not v:
            return False
        return ints(v)

    return check, "true, false, or a list of distinct conv layers >= 1 (e.g. [1])"


def _int_list() -> tuple[Callable[[Any], Any], str]:
    """A bare integer or a non-empty list of distinct integers >= 1, as a tuple."""

    def check(v: Any) -> Any:
        items = [v] if _is_int(v) else v
        if not isinstance(items, list) or not items or not all(_is_int(i) and i >= 1 for i in items):
            return _BAD
        return tuple(items) if len(set(items)) == len(items) else _BAD

    return check, "a list of distinct integers >= 1 (or one integer)"


def _show(v: Any, depth: int = 0) -> str:
    """A short TOML-like rendering of a value for an error message."""
    if isinstance(v, bool):
        s = "true" if v else "false"
    elif isinstance(v, int):
        s = str(v) if v.bit_length() < 200 else "<a huge integer>"
    elif isinstance(v, str):
        s = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    elif isinstance(v, float):
        s = repr(v)
    elif isinstance(v, (list, dict)) and depth > 2:
        s = "[...]" if isinstance(v, list) else "{...}"
    elif isinstance(v, list):
        s = "[" + ", ".join(_show(i, depth + 1) for i in v[:10]) + (", ..." if len(v) > 10 else "") + "]"
    elif isinstance(v, dict):
        inner = ", ".join(f"{k} = {_show(i, depth + 1)}" for k, i in list(v.items())[:10])
        s = "{" + inner + (", ..." if len(v) > 10 else "") + "}"
    else:
        s = f"<{type(v).__name__}>"
    return s if len(s) <= SHOW_MAX else s[: SHOW_MAX - 3] + "..."


# ---------------------------------------------------------------------------- problem collection


@dataclass(frozen=True)
class Field:
    """One key of a section: its check (returns the normalized value or ``_BAD``), what it expects, its default."""

    check: Callable[[Any], Any]
    expect: str
    default: Any = None
    required: bool = False


def _field(rule: tuple[Callable[[Any], Any], str], default: Any = None, required: bool = False) -> Field:
    return Field(rule[0], rule[1], default, required)


class _Problems:
    """Collects one message per problem, every one prefixed with the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def bad(self, key: str, value: Any, expect: str) -> None:
        self.items.append(f"{self.source}: {key} = {_show(value)}: expected {expect}")

    def missing(self, key: str, expect: str) -> None:
        self.items.append(f"{self.source}: {key} is missing: expected {expect}")

    def unknown(self, key: str, value: Any, allowed: Any) -> None:
        self.items.append(
            f"{self.source}: {key} = {_show(value)}: unknown key (expected one of: {', '.join(map(str, allowed))})"
        )


def _read_table(pr: _Problems, doc: dict, section: str, fields: dict[str, Field]) -> dict[str, Any] | None:
    """The section's valid values with defaults filled in; unknown, missing and bad keys go to ``pr``."""
    if section not in doc:
        pr.missing(section, f"a [{section}] table")
        return None
    table = doc[section]
    if not isinstance(table, dict):
        pr.bad(section, table, f"a [{section}] table")
        return None
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            pr.unknown(f"{section}.{key}", value, fields)
    for key, f in fields.items():
        if key not in table:
            if f.required:
                pr.missing(f"{section}.{key}", f.expect)
            else:
                out[key] = f.default
            continue
        value = f.check(table[key])
        if value is _BAD:
            pr.bad(f"{section}.{key}", table[key], f.expect)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------- sections

NAME_FIELD = _field(_name(), required=True)
#: the [data] keys besides ``dataset`` (which of them apply is each dataset's declaration)
DATA_KEY_FIELDS: dict[str, Field] = {
    "n_train": _field(_int_min(1), 2000),
    "n_test": _field(_int_min(1), 1000),
    "seed": _field(_int_min(0), 0),
    "noise": _field(_float_min(0.0, strict=False), 0.0),
    "n_classes": _field(_int_min(2), 3),
    "path": _field(_nonempty_str()),
    "root": _field(_nonempty_str()),
}


def _data_fields() -> dict[str, Field]:
    """[data]: ``dataset`` is one of the datasets registered now (a user's ``register_dataset`` counts)."""
    return {"dataset": _field(_choice(dataset_names()), required=True), **DATA_KEY_FIELDS}


MODEL_FIELDS: dict[str, Field] = {
    "kind": _field(_choice(MODEL_KINDS), "fnn"),
    "activation": _field(_choice(ACTIVATIONS), "tanh"),
    "dtype": _field(_choice(DTYPES), "float32"),
    "pool": _field(_pool(), False),
}


def __getattr__(name: str) -> Any:
    """``DATA_FIELDS``, built when asked for: the datasets registered now (see ``_data_fields``)."""
    if name == "DATA_FIELDS":
        return _data_fields()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


GRID_FIELDS: dict[str, Field] = {
    "depth": _field(_int_list(), required=True),
    "width": _field(_int_list(), required=True),
    "seeds": _field(_int_min(1), 5),
    "first_seed": _field(_int_min(0), 0),
}
BUDGET_FIELDS: dict[str, Field] = {
    "iterations": _field(_int_min(1)),
    "epochs": _field(_float_min(0.0, strict=True)),
    "seconds": _field(_float_min(0.0, strict=True)),
    "grad_evals": _field(_float_min(0.0, strict=True)),
    "target_ce": _field(_float_min(0.0, strict=True)),
    "eval_every": _field(_int_min(1), 10),
    "record_every": _field(_int_min(1), 1),
}
METHOD_KEYS: tuple[str, ...] = ("name", "label", "tune")
#: selection metrics of ``lysep tune`` (runs.parquet columns; lower is better)
TUNE_METRICS: tuple[str, ...] = ("final_F", "final_test_ce")
TUNE_FIELDS: dict[str, Field] = {
    "trials": _field(_int_min(1), 16),
    "seeds": _field(_int_min(1), 3),
    "first_seed": _field(_int_min(0), 1000),
    "qmc_seed": _field(_int_min(0), 0),
    "scope": _field(_choice(("grid", "cell")), "grid"),
    "metric": _field(_choice(TUNE_METRICS), "final_F"),
    "depth": _field(_int_list()),
    "width": _field(_int_list()),
    "iterations": _field(_int_min(1)),
    "trials_per_dimension": _field(_int_min(1)),
}


def _base_dir(source: str) -> Path:
    """Folder relative data paths resolve against: the spec file's, or the working directory."""
    return Path.cwd() if source.startswith("<") else Path(source).absolute().parent


def _check_data(pr: _Problems, doc: dict, base: Path) -> dict[str, Any] | None:
    """[data], with ``path`` required iff the dataset reads a user file (npz) and resolved to an existing
    absolute file."""
    data = _read_table(pr, doc, "data", _data_fields())
    if data is None or "dataset" not in data:
        return data
    has_path, given_path = "path" in doc["data"], doc["data"].get("path")
    if data.get("root") is not None:  # the data sets read from files look here (relative: to the spec's folder)
        data["root"] = str(base / Path(data["root"]).expanduser())
    info: DatasetInfo = dataset_info(data["dataset"])
    if info.file is None:
        if has_path:
            readers = " or ".join(_show(d.name) for d in datasets() if d.file is not None)
            pr.bad("data.path", given_path, f"no path unless data.dataset = {readers}")
        return data
    if not has_path:
        pr.missing("data.path", f"the path of a {info.file} (data.dataset = {_show(info.name)})")
    elif data.get("path") is not None:  # present and a non-empty string
        full = base / data["path"]
        try:
            exists = full.is_file()
        except (OSError, ValueError):
            exists = False
        if exists:
            data["path"] = str(full)
        else:
            pr.bad("data.path", given_path, f"an existing {info.file} (looked for {_show(str(full))})")
    return data


def _check_model(pr: _Problems, doc: dict, data: dict[str, Any] | None) -> dict[str, Any] | None:
    """[model], with pool only for a CNN and a CNN only on image datasets."""
    model = _read_table(pr, doc, "model", MODEL_FIELDS)
    if model is None:
        return None
    given = doc["model"]
    if model.get("pool") not in (False, None) and model.get("kind") == "fnn":
        pr.bad("model.pool", given["pool"], 'pooling only with model.kind = "cnn"')
    dataset = (data or {}).get("dataset")
    if "kind" in given and model.get("kind") == "cnn" and dataset is not None and not dataset_info(dataset).images:
        images = ", ".join(d.name for d in datasets() if d.images)
        pr.bad("model.kind", given["kind"], f"a dataset with images for a CNN ({images}), "
               f"not data.dataset = {_show(dataset)}")
    return model


def _check_budget(pr: _Problems, doc: dict) -> dict[str, Any] | None:
    """[budget], with at least one stopping key."""
    budget = _read_table(pr, doc, "budget", BUDGET_FIELDS)
    if budget is not None and not any(k in doc["budget"] for k in STOPPING_KEYS):
        pr.bad("budget", doc["budget"], "at least one of " + ", ".join(f"budget.{k}" for k in STOPPING_KEYS))
    return budget


def _check_hparam(pr: _Problems, where: str, method: str, key: Any, value: Any) -> tuple[bool, Any]:
    """One hyperparameter through the method's own schema; (ok, normalized value)."""
    if isinstance(value, float) and not math.isfinite(value):
        pr.bad(f"{where}.{key}", value, "a finite number")
        return False, None
    try:
        checked = check_hparams(method, METHODS[method].HPARAMS, {key: value})
    except ValueError as e:
        for line in str(e).splitlines() or [""]:
            pr.items.append(f"{pr.source}: {where}.{key} = {_show(value)}: {line}")
        return False, None
    except Exception as e:  # a check that cannot handle this value (e.g. OverflowError) is a rejection too
        pr.bad(f"{where}.{key}", value, f"a value method {method!r} accepts ({type(e).__name__}: {e})")
        return False, None
    return True, checked[key]


def _check_method(pr: _Problems, i: int, entry: Any, dtype: str = "float32") -> MethodSpec | None:
    """One [[method]]: name, optional label, hyperparameters validated by the method's schema
    (and float ones representable in the run's ``dtype``)."""
    where = f"method[{i}]"
    if not isinstance(entry, dict):
        pr.bad(where, entry, "a [[method]] table")
        return None
    name = entry.get("name")
    ok = True
    if "name" not in entry:
        pr.missing(f"{where}.name", "one of: " + ", ".join(METHODS))
        ok = False
    elif isinstance(name, str) and name not in METHODS and name in UNAVAILABLE:  # a plugin that failed to load
        pr.items.append(f"{pr.source}: {where}.name = {_show(name)}: {UNAVAILABLE[name].message()}")
        ok = False
    elif not isinstance(name, str) or name not in METHODS:
        pr.bad(f"{where}.name", name, "one of: " + ", ".join(METHODS))
        ok = False
    label = entry.get("label", name)
    if "label" in entry and (not isinstance(label, str) or not NAME_RE.fullmatch(label)):
        pr.bad(f"{where}.label", label, NAME_EXPECT)
        ok = False
    hparams, search = {}, _check_search(pr, where, name, entry)
    for key, value in entry.items():
        if key in METHOD_KEYS or not isinstance(name, str) or name not in METHODS:
            continue
        good, checked = _check_hparam(pr, where, name, key, value)
        limit = DTYPE_MAX.get(dtype, DTYPE_MAX["float32"])
        if good and isinstance(checked, float) and abs(checked) > limit:
            pr.bad(f"{where}.{key}", value, f"a number representable in model.dtype = {_show(dtype)} "
                   f"(|value| <= {limit:.4g})")
            good = False
        ok = ok and good
        hparams[key] = checked
    return MethodSpec(name, label, hparams, search) if ok else None


def _check_search(pr: _Problems, where: str, name: Any, entry: dict) -> dict[str, Any] | None:
    """A [[method]]'s ``tune`` table (its search space, ``lysep.harness.search``) against the method's schema."""
    if "tune" not in entry or not isinstance(name, str) or name not in METHODS:
        return None
    from lysep.harness.search import check_space

    space, problems = check_space(entry["tune"], METHODS[name].HPARAMS)
    for key, value, expect in problems:
        pr.bad(f"{where}.tune" + (f".{key}" if key else ""), value, expect)
    return space


def _check_tune(pr: _Problems, doc: dict, grid: dict[str, Any] | None) -> TuneSpec | None:
    """[tune]: its cells within the grid, its seeds disjoint from the grid's (the reporting seeds)."""
    if "tune" not in doc:
        return None
    tune = _read_table(pr, doc, "tune", TUNE_FIELDS)
    if tune is None or grid is None:
        return None
    for axis in ("depth", "width"):
        outside = [v for v in tune.get(axis) or () if v not in (grid.get(axis) or ())]
        if outside and grid.get(axis):
            pr.bad(f"tune.{axis}", doc["tune"][axis], f"values of grid.{axis} = {_show(list(grid[axis]))}")
    if all(k in tune for k in ("first_seed", "seeds")) and all(k in grid for k in ("first_seed", "seeds")):
        lo, hi = tune["first_seed"], tune["first_seed"] + tune["seeds"] - 1
        g_lo, g_hi = grid["first_seed"], grid["first_seed"] + grid["seeds"] - 1
        if lo <= g_hi and g_lo <= hi:
            pr.bad("tune.first_seed", tune["first_seed"], f"tuning seeds {lo}..{hi} disjoint from the reporting "
                   f"seeds {g_lo}..{g_hi} of the grid (e.g. tune.first_seed = {g_hi + 1})")
    return TuneSpec(**tune)


def _check_methods(pr: _Problems, doc: dict, dtype: str = "float32") -> list[MethodSpec] | None:
    """The [[method]] list: at least one, every one valid, labels unique."""
    expect = "one or more [[method]] tables"
    if "method" not in doc:
        pr.missing("method", expect)
        return None
    entries = doc["method"]
    if not isinstance(entries, list) or not entries:
        pr.bad("method", entries, expect)
        return None
    methods = [_check_method(pr, i, e, dtype) for i, e in enumerate(entries)]
    first: dict[str, int] = {}
    for i, m in enumerate(methods):
        if m is None:
            continue
        if m.label in first:
            pr.bad(f"method[{i}].label", m.label, f"a label no other method has (method[{first[m.label]}] has it; "
                   "give each [[method]] of the same name its own label)")
        first.setdefault(m.label, i)
    return [m for m in methods if m is not None]


def _check_subject(pr: _Problems, doc: dict, methods: list[MethodSpec] | None) -> tuple[str, ...] | None:
    """``subject``: one or more labels of the spec's [[method]] tables (a string is one label), or None if absent."""
    if "subject" not in doc:
        return None
    value = doc["subject"]
    labels = [m.label for m in methods or []]
    expect = f"a list of method labels of this spec (one or more of: {', '.join(labels)})"
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        pr.bad("subject", value, expect)
        return None
    unknown = [v for v in items if v not in labels]
    if unknown and methods is not None:
        pr.bad("subject", value, f"labels of the spec's [[method]] tables ({', '.join(map(repr, unknown))} is not "
               f"one; the labels are: {', '.join(labels)})")
        return None
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------------------- entry points


def parse_spec(doc: Any, source: str = "<dict>", base_dir: str | Path | None = None) -> ExperimentSpec:
    """Validate a TOML-shaped dict into an ``ExperimentSpec``; one SpecError listing every problem.

    Relative ``data.path`` values resolve against ``base_dir``, else the folder of ``source``
    when it is a file path, else the working directory.
    """
    pr = _Problems(source)
    if not isinstance(doc, dict):
        raise SpecError([f"{source}: the spec = {_show(doc)}: expected a table of keys {', '.join(SECTIONS)}"])
    for key, value in doc.items():
        if key not in SECTIONS:
            pr.unknown(str(key), value, SECTIONS)
    name = doc.get("name")
    if "name" not in doc:
        pr.missing("name", NAME_FIELD.expect)
    elif NAME_FIELD.check(name) is _BAD:
        pr.bad("name", name, NAME_FIELD.expect)
    data = _check_data(pr, doc, Path(base_dir) if base_dir is not None else _base_dir(source))
    model = _check_model(pr, doc, data)
    grid = _read_table(pr, doc, "grid", GRID_FIELDS)
    budget = _check_budget(pr, doc)
    methods = _check_methods(pr, doc, (model or {}).get("dtype") or "float32")
    tune = _check_tune(pr, doc, grid)
    subject = _check_subject(pr, doc, methods)
    if pr.items:
        raise SpecError(pr.items)
    return ExperimentSpec(name, DataSpec(**data), ModelCfg(**model), GridSpec(**grid), BudgetSpec(**budget),
                          tuple(methods), source, tune, subject)


#: the sections whose keys ``--set`` may change
SETTABLE: tuple[str, ...] = ("data", "model", "grid", "budget", "tune")


def apply_overrides(doc: dict, source: str, overrides: list[str]) -> dict:
    """``doc`` with every ``SECTION.KEY=VALUE`` of ``overrides`` set (VALUE in TOML syntax, e.g. ``data.n_train=6000``,
    ``model.kind="cnn"``); SpecError naming the override for one that is not of that form. The result is
    validated like the file itself."""
    problems = []
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"] if sep else None
        except tomllib.TOMLDecodeError:
            value = None
        if not (sep and dot and name and section in SETTABLE and value is not None):
            problems.append(f"{source}: --set {item!r}: expected SECTION.KEY=VALUE with SECTION one of "
                            f"{', '.join(SETTABLE)} and a TOML value (e.g. data.n_train=6000, model.kind=\"cnn\")")
            continue
        table = doc.setdefault(section, {})
        if isinstance(table, dict):
            table[name.strip()] = value
    if problems:
        raise SpecError(problems)
    return doc


def load_spec(path: str | Path, overrides: list[str] | None = None) -> ExperimentSpec:
    """Read and validate a TOML spec, with ``overrides`` (``--set``) applied; SpecError naming the file (and
    line, for TOML syntax errors)."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise SpecError([f"{source}: cannot read the spec ({e.strerror or e})"]) from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError([f"{source}: invalid TOML: {e}"]) from None
    except UnicodeDecodeError as e:
        raise SpecError([f"{source}: not UTF-8 text ({e})"]) from None
    except RecursionError:
        raise SpecError([f"{source}: invalid TOML: arrays or tables nested too deeply"]) from None
    return parse_spec(apply_overrides(doc, source, overrides or []), source, Path(path).resolve().parent)


__all__ = [
    "BUILTIN_DEFAULT", "BudgetSpec", "DataSpec", "ExperimentSpec", "GridSpec", "MethodSpec", "ModelCfg",
    "SpecError", "TuneSpec", "default_spec_path", "load_spec", "parse_spec",
]
