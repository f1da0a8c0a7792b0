"""Planning a sweep: the units of work of a spec, their config hashes, and the checks before any work.

A unit is one grid cell (depth, width) and one method, with the seeds still to run, all batched in
one computation. A run's config hash says what makes it what it is, so a rerun of the same spec
skips every run already stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lysep.core.architecture import ConvSpec, ModelSpec
from lysep.core.problem import check_arrays
from lysep.harness.memory import available_bytes, check_fits, largest_unit
from lysep.harness.spec import ExperimentSpec, MethodSpec
from lysep.harness.store import atomic_write, parquet_bytes, read_json, read_parquet, safe_name
from lysep.methods import PROPERTY_COLUMNS, Method, make_method


@dataclass(frozen=True)
class Unit:
    """One method on one cell, for the seeds that are not stored yet."""

    depth: int
    width: int
    label: str
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        seeds = f"{self.seeds[0]}-{self.seeds[-1]}" if len(self.seeds) > 1 else f"{self.seeds[0]}"
        return f"d{self.depth}_w{self.width}_{safe_name(self.label)}_s{seeds}"


def method_spec(spec: ExperimentSpec, label: str) -> MethodSpec:
    """The ``[[method]]`` of ``spec`` with this label."""
    return next(m for m in spec.methods if m.label == label)


def build_method(spec: ExperimentSpec, label: str) -> Method:
    """The configured method of a label (its hyperparameters over the method's defaults)."""
    m = method_spec(spec, label)
    return make_method(m.name, activation=spec.model.activation, **m.hparams)


def config_hash(spec: ExperimentSpec, depth: int, width: int, label: str, seed: int) -> str:
    """What makes a run what it is: data, model, cell, method and its full hyperparameters, budget, seed."""
    whole = spec.to_dict()
    data = {k: v for k, v in whole["data"].items() if k != "root"}  # where the files are is not what they are
    doc = {"data": data, "model": whole["model"], "depth": depth, "width": width,
           "method": method_spec(spec, label).name, "hparams": build_method(spec, label).hp,
           "budget": whole["budget"], "seed": seed}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan(spec: ExperimentSpec, done: set[str]) -> list[Unit]:
    """Every (cell, method) with the seeds whose config hash is not in ``done``."""
    units = []
    for depth, width in spec.grid.cells():
        for m in spec.methods:
            todo = tuple(s for s in spec.grid.seed_list() if config_hash(spec, depth, width, m.label, s) not in done)
            if todo:
                units.append(Unit(depth, width, m.label, todo))
    return units


def build_problem(spec: ExperimentSpec, device: str) -> Any:
    """The spec's data as a ``Problem`` on ``device`` in the spec's dtype."""
    import torch

    from lysep.core.problem import Problem

    ds = spec.data.load(images=spec.model.kind == "cnn")
    return Problem.from_arrays(ds.x_train, ds.y_train, ds.x_test, ds.y_test, n_classes=ds.n_classes,
                               dtype=getattr(torch, spec.model.dtype), device=device)


def build_model(spec: ExperimentSpec, problem: Any, depth: int, width: int) -> ModelSpec | ConvSpec:
    """The cell's network for a ``Problem``'s data (:func:`model_of`)."""
    return model_of(spec, tuple(problem.x_train.shape[1:]), problem.n_classes, depth, width)


def model_of(spec: ExperimentSpec, shape: tuple[int, ...], n_classes: int, depth: int,
             width: int) -> ModelSpec | ConvSpec:
    """The cell's network for samples of ``shape``: an FNN of ``depth`` hidden layers of ``width`` units, or a CNN
    of ``depth`` conv layers of ``width`` channels (docs/method.md, LySep-CNN). Torch-free; ValueError for a model
    the data cannot have."""
    if spec.model.kind == "cnn":
        if len(shape) != 3:
            raise ValueError(f"model.kind = \"cnn\" needs images (N, C, H, W), but the data's samples "
                             f"have shape {shape}")
        try:
            return ConvSpec.cnn(shape, depth, width, n_classes, spec.model.activation, spec.model.pool)
        except ValueError as e:
            raise ValueError(f"model.kind = \"cnn\" with depth = {depth}, width = {width}, "
                             f"pool = {spec.model.pool!r}: {e}") from e
    return ModelSpec.fnn(shape[0], depth, width, n_classes, spec.model.activation)


def preflight(spec: ExperimentSpec, device: str = "cpu") -> None:
    """Load and validate the dataset, build the model of every cell and check every method against it,
    and check that the largest unit fits in the memory available on ``device``, before any work starts.

    A ValueError starting with ``data:``, ``model:``, ``method:`` or ``memory:`` names what is wrong (the
    file, key and row of a bad .npz; the memory estimate); the CLI turns it into exit code 2 with nothing
    written, instead of one failed run per unit. Imports no torch on the CPU (``lysep check`` answers at once).
    """
    sizes = f"data.n_train = {spec.data.n_train}, data.n_test = {spec.data.n_test}"
    try:
        ds = spec.data.load(images=spec.model.kind == "cnn")
    except ValueError as e:
        raise ValueError(f"data: {e}" if spec.data.path else f"data: {spec.data.dataset} with {sizes}: {e}") from e
    except MemoryError as e:
        raise ValueError(f"data: the dataset does not fit in memory ({sizes}; {e})") from e
    if spec.model.kind == "fnn" and ds.x_train.ndim != 2:
        raise ValueError(f"data: {spec.data.path or spec.data.dataset}: x_train has shape {ds.x_train.shape}, "
                         "but model.kind = \"fnn\" needs (N, d) features")
    try:
        xs, _, n_classes = check_arrays(ds.x_train[:1], ds.y_train[:1], ds.x_test[:1], ds.y_test[:1], ds.n_classes)
    except ValueError as e:
        raise ValueError(f"data: {e}") from e
    methods = {}
    for m in spec.methods:
        try:
            methods[m.label] = build_method(spec, m.label)
        except ValueError as e:
            raise ValueError(f"method: {m.label!r}: {e}") from e
    models = {}
    for depth, width in spec.grid.cells():
        try:
            models[depth, width] = model = model_of(spec, tuple(xs["x_train"].shape[1:]), n_classes, depth, width)
        except ValueError as e:
            raise ValueError(f"model: {e}") from e
        for label, method in methods.items():
            try:
                method.check_model(model)
            except ValueError as e:
                raise ValueError(f"model: method {label!r} with model.kind = \"{spec.model.kind}\": {e}") from e
    arrays = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    check_fits(largest_unit(methods, models, arrays, len(ds.x_train), spec.grid.seeds, spec.model.dtype),
               available_bytes(device))


def add_properties(root: str | Path) -> bool:
    """Give every run of ``root/runs.parquet`` its method's properties (``Method.properties``), taken from the
    spec in ``meta.json``, where they are missing (a table written before they existed). True if it
    rewrote the table (atomically); False if nothing was missing or there is nothing to go by."""
    root = Path(root)
    runs_path, meta_path = root / "runs.parquet", root / "meta.json"
    if not runs_path.is_file() or not meta_path.is_file():
        return False
    runs = read_parquet(runs_path)
    missing = [c for c in PROPERTY_COLUMNS if c not in runs.columns]
    if not len(runs) or (not missing and not runs[list(PROPERTY_COLUMNS)].isna().any().any()):
        return False
    spec = read_json(meta_path).get("spec") or {}
    activation = (spec.get("model") or {}).get("activation", "tanh")
    props = {}
    for entry in spec.get("method") or []:
        hp = {k: v for k, v in entry.items() if k not in ("name", "label")}
        props[entry.get("label", entry["name"])] = make_method(entry["name"], activation=activation, **hp).properties()
    table = pd.DataFrame.from_dict(props, orient="index")
    for column in PROPERTY_COLUMNS:
        derived = runs["method"].map(table[column]) if column in table else np.nan
        runs[column] = runs[column].where(runs[column].notna(), derived) if column in runs else derived
    atomic_write(runs_path, parquet_bytes(runs))
    return True
