"""What ``lysep methods``, ``lysep datasets`` and ``lysep check`` print: each method and dataset as it
declares itself, and a checked spec's summary. Nothing here imports torch."""

from __future__ import annotations

import inspect
import json
from typing import Any


def _toml(v: Any) -> str:
    """A value as a spec would write it (``none`` for an absent default)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(_toml, v)) + "]"
    return repr(v)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _sample_text(shape: tuple[int, ...]) -> str:
    """(2,) -> "2 features", (1, 8, 8) -> "1x8x8 images"."""
    return f"{shape[0]} features" if len(shape) == 1 else f"{_shape(shape)} images"


def method_entries() -> list[dict[str, Any]]:
    """Every method as it declares itself: name, one-line description, family, metrics, whether its
    defaults guarantee the decrease of J, and hyperparameters (name, type, default, choices, range, help)."""
    from lysep.harness.search import resolve
    from lysep.methods import METHODS, PLUGINS, UNAVAILABLE

    return [{"name": name, "available": True, "description": (inspect.getdoc(cls) or "").split("\n")[0],
             "family": cls.family,
             "decrease_guaranteed_by_default": bool(cls().decrease_guaranteed),
             "metrics": [{"name": n, "description": m.description, "per_layer": m.per_layer} for n, m in
                         cls.METRICS.items()],
             "hparams": [{"name": key, "type": " or ".join(k.__name__ for k in (hp.kind if isinstance(hp.kind, tuple)
                                                                                else (hp.kind,))),
                          "default": hp.default, "choices": None if hp.choices is None else list(hp.choices),
                          "expect": hp.expect or None, "help": hp.help or None}
                         for key, hp in cls.HPARAMS.items()],
             "search": {key: dim.to_dict() for key, dim in resolve(cls.SEARCH, cls.HPARAMS).items()},
             "plugin": {"entry_point": PLUGINS[name].entry_point, "distribution": PLUGINS[name].distribution}
             if name in PLUGINS else None}
            for name, cls in METHODS.items()] + [
        {"name": u.name, "available": False, "entry_point": u.plugin.entry_point,
         "distribution": u.plugin.distribution, "error": u.error} for u in UNAVAILABLE.values()]


def _search_text(search: dict[str, dict]) -> str:
    """A method's default search space (``lysep tune``) in one line."""
    parts = [f"{k} in {{{', '.join(map(_toml, d['choices']))}}}" if "choices" in d
             else f"{k} {_toml(d['low'])}..{_toml(d['high'])} ({d['scale']})" for k, d in search.items()]
    return "; ".join(parts) or "none"


def print_check(spec, results) -> None:
    """The summary ``lysep check`` prints for a spec that passed every check (``results``: its default --out)."""
    from lysep.datasets import dataset_info

    ds = spec.data.load(images=spec.model.kind == "cnn")  # preflight loaded it once already; cheap next to a run
    info = dataset_info(spec.data.dataset)
    keys = ", ".join(f"{k} = {_toml(getattr(spec.data, k))}" for k in info.keys)
    model = spec.model
    pool = f", pool = {_toml(model.pool)}" if model.kind == "cnn" else ""
    cells, methods, seeds = len(spec.grid.cells()), len(spec.methods), spec.grid.seeds
    budget = ", ".join(f"{k} = {_toml(v)}" for k, v in vars(spec.budget).items() if v is not None)
    rows = [
        ("data", f"{spec.data.dataset} ({keys}): {len(ds.y_train)} train / {len(ds.y_test)} test samples, "
                 f"{_sample_text(ds.x_train.shape[1:])}, {ds.n_classes} classes"),
        ("model", f"{model.kind}, activation = {_toml(model.activation)}, dtype = {_toml(model.dtype)}{pool}"),
        ("grid", f"depth {list(spec.grid.depth)} x width {list(spec.grid.width)} = {cells} cells"),
        ("methods", ", ".join(m.label if m.label == m.name else f"{m.label} ({m.name})" for m in spec.methods)),
        ("runs", f"{cells} cells x {methods} methods x {seeds} seeds = {cells * methods * seeds} runs"),
        ("budget", budget),
        ("results", f"{results} (lysep run's default; --out changes it)"),
    ]
    if spec.tune is not None:
        rows.append(("tune", _tune_text(spec)))
    print(f"{spec.source}: spec {spec.name!r} is valid; data and models built (nothing run, nothing written)")
    for label, text in rows:
        print(f"  {label:<8} {text}")


def _tune_text(spec) -> str:
    """What ``lysep tune`` would run for a spec with a ``[tune]`` table."""
    from lysep.harness.tune import trial_spec

    t, tspec = spec.tune, trial_spec(spec)
    cells, seeds = len(tspec.grid.cells()), tspec.grid.seed_list()
    return (f"{t.trials} trials x {len(spec.methods)} methods x {cells} cells x {len(seeds)} tuning seeds "
            f"({seeds[0]}..{seeds[-1]}) = {len(tspec.methods) * cells * len(seeds)} runs (lysep tune)")


def _allowed(hp: dict[str, Any]) -> str:
    if hp["choices"] is not None:
        return "one of: " + ", ".join(map(_toml, hp["choices"]))
    if hp["expect"]:
        return hp["expect"]
    return "true or false" if hp["type"] == "bool" else ""


def _metric_names(e: dict[str, Any]) -> str:
    return ", ".join(m["name"] + (" (per layer)" if m["per_layer"] else "") for m in e["metrics"]) or "none"


def print_methods(entries: list[dict[str, Any]]) -> None:
    """The text of ``lysep methods``: per method, its declarations and a table of its hyperparameters."""
    for i, e in enumerate(entries):
        if not e["available"]:
            print(("\n" if i else "") + f"{e['name']}: UNAVAILABLE (a plugin that failed to load)\n"
                  f"  entry point: {e['entry_point']} ({e['distribution']})\n  error: {e['error']}")
            continue
        print(("\n" if i else "") + f"{e['name']}: {e['description']}")
        print(f"  family: {e['family']}; decrease of J guaranteed with the defaults: "
              f"{'yes' if e['decrease_guaranteed_by_default'] else 'no'}; metrics: {_metric_names(e)}")
        rows = [(h["name"], h["type"], _toml(h["default"]), _allowed(h), h["help"] or "") for h in e["hparams"]]
        head = ("hyperparameter", "type", "default", "allowed", "what")
        widths = [max(len(r[c]) for r in [head, *rows]) for c in range(4)]
        for row in [head, *rows]:
            print("  " + "  ".join(f"{v:<{w}}" for v, w in zip(row, widths)) + f"  {row[4]}".rstrip())
        print(f"  default search space (lysep tune): {_search_text(e['search'])}")
        if e["plugin"]:
            print(f"  plugin: entry point {e['plugin']['entry_point']} ({e['plugin']['distribution']})")


def dataset_entries() -> list[dict[str, Any]]:
    """Every dataset's declaration (``DatasetInfo.to_dict``), in listing order."""
    from lysep.datasets import datasets

    return [d.to_dict() for d in datasets()]


def _samples(e: dict[str, Any]) -> str:
    if e["shape"] is None:
        return "the file's"
    text = _sample_text(tuple(e["shape"]))
    return text + (f", or {_sample_text(tuple(e['image_shape']))}" if e["image_shape"] else "")


def _classes(e: dict[str, Any]) -> str:
    if e["n_classes"] is not None:
        return str(e["n_classes"])
    if "n_classes" in e["keys"]:
        from lysep.harness.spec import DATA_KEY_FIELDS

        return f"n_classes (default {DATA_KEY_FIELDS['n_classes'].default})"
    return "the file's labels" if e["file"] else "varies"


def _cnn(e: dict[str, Any]) -> str:
    if not e["images"]:
        return "no (2-D or flat features: model.kind = \"fnn\")"
    return "yes" if e["image_shape"] else f"yes, when the {e['file'] or 'data'} holds images (N, C, H, W)"


def print_datasets(entries: list[dict[str, Any]]) -> None:
    """The text of ``lysep datasets``: per dataset, what it is and which [data] keys apply."""
    for i, e in enumerate(entries):
        print(("\n" if i else "") + f"{e['name']}: {e['description']}")
        print(f"  kind: {e['kind']}; samples: {_samples(e)}; classes: {_classes(e)}")
        print(f"  [data] keys: {', '.join(e['keys'])}{' (of a ' + e['file'] + ')' if e['file'] else ''}")
        print(f"  CNN: {_cnn(e)}")
        if e["source"]:
            print(f"  source: {e['source']} (`lysep data fetch {e['name']}`)")
