"""lysep.datasets: shapes, dtypes, labels, balance, determinism, digits split, user .npz validation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lysep.datasets import DATASETS, Dataset, dataset_info, load_dataset, load_npz

#: the built-in data sets that need no file (those with a data root read files: tests/test_datafiles.py,
#: tests/test_npm_datasets.py)
BUILTIN = tuple(n for n in DATASETS if "root" not in dataset_info(n).keys)
SYNTHETIC = tuple(n for n in BUILTIN if n != "digits")
N_TRAIN, N_TEST = 400, 200


def _arrays(d: Dataset) -> tuple[np.ndarray, ...]:
    return d.x_train, d.y_train, d.x_test, d.y_test


def _same(a: Dataset, b: Dataset) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(_arrays(a), _arrays(b)))


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_shapes_dtypes_labels(name: str) -> None:
    d = load_dataset(name, n_train=N_TRAIN, n_test=N_TEST, seed=3)
    assert d.name == name
    assert d.x_train.shape == (N_TRAIN, 2) and d.x_test.shape == (N_TEST, 2)
    assert d.y_train.shape == (N_TRAIN,) and d.y_test.shape == (N_TEST,)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.y_test.dtype == np.int64
    for y in (d.y_train, d.y_test):
        assert y.min() == 0 and y.max() == d.n_classes - 1
        assert set(np.unique(y)) == set(range(d.n_classes))
    assert np.isfinite(d.x_train).all() and np.isfinite(d.x_test).all()


@pytest.mark.parametrize("name", BUILTIN)
def test_same_seed_same_data_other_seed_other_data(name: str) -> None:
    a = load_dataset(name, n_train=300, n_test=150, seed=1)
    b = load_dataset(name, n_train=300, n_test=150, seed=1)
    c = load_dataset(name, n_train=300, n_test=150, seed=2)
    assert _same(a, b)
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_test, c.x_test)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_train_and_test_are_independent_draws(name: str) -> None:
    d = load_dataset(name, n_train=200, n_test=200, seed=0)
    assert not np.array_equal(d.x_train, d.x_test)


def test_circle_is_the_papers_example_1() -> None:
    d = load_dataset("circle", n_train=20000, n_test=100, seed=0)
    x = d.x_train.astype(np.float64)
    assert (np.abs(x) <= 1).all()
    inside = (x**2).sum(axis=1) < 0.5
    assert np.array_equal(d.y_train, inside.astype(np.int64))
    # radius sqrt(0.5) in [-1, 1]^2: a fraction pi/8 ~ 0.393 lies inside
    assert d.y_train.mean() == pytest.approx(math.pi / 8, abs=0.015)
    assert d.n_classes == 2


def test_checkerboard_labels_follow_the_4x4_board() -> None:
    d = load_dataset("checkerboard", n_train=20000, n_test=100, seed=0)
    cell = np.floor((d.x_train.astype(np.float64) + 1) * 2).clip(0, 3).astype(int)
    assert np.array_equal(d.y_train, (cell[:, 0] + cell[:, 1]) % 2)
    assert d.y_train.mean() == pytest.approx(0.5, abs=0.015)


@pytest.mark.parametrize(("name", "k"), [("spirals", 2), ("moons", 2), ("gaussians", 3), ("gaussians", 5)])
def test_exactly_balanced_sets(name: str, k: int) -> None:
    d = load_dataset(name, n_train=401, n_test=203, seed=4, n_classes=k)
    assert d.n_classes == k
    for y in (d.y_train, d.y_test):
        counts = np.bincount(y, minlength=k)
        assert counts.max() - counts.min() <= 1


def test_gaussians_blobs_sit_on_the_unit_circle() -> None:
    d = load_dataset("gaussians", n_train=3000, n_test=10, n_classes=4, seed=0)
    for c in range(4):
        centre = d.x_train[d.y_train == c].mean(axis=0)
        angle = 2 * np.pi * c / 4
        assert centre == pytest.approx([np.cos(angle), np.sin(angle)], abs=0.05)


@pytest.mark.parametrize("name", SYNTHETIC)
def test_noise_jitters_features_but_keeps_labels(name: str) -> None:
    clean = load_dataset(name, n_train=200, n_test=100, seed=5)
    noisy = load_dataset(name, n_train=200, n_test=100, seed=5, noise=0.1)
    assert np.array_equal(clean.y_train, noisy.y_train)
    jitter = noisy.x_train - clean.x_train
    assert 0.05 < jitter.std() < 0.2


def test_digits_default_split_is_stratified_70_30() -> None:
    d = load_dataset("digits")
    assert d.x_train.shape == (1257, 64) and d.x_test.shape == (540, 64)
    assert d.n_classes == 10
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    for y in (d.y_train, d.y_test):
        share = np.bincount(y, minlength=10) / len(y)
        assert share == pytest.approx(np.full(10, 0.1), abs=0.01)


def test_digits_exact_sizes_when_they_fit() -> None:
    d = load_dataset("digits", n_train=500, n_test=300, seed=2)
    assert d.x_train.shape == (500, 64) and d.x_test.shape == (300, 64)
    assert set(np.unique(d.y_test)) == set(range(10))


def test_digits_standardized_on_the_training_split() -> None:
    d = load_dataset("digits", seed=1)
    std = d.x_train.std(axis=0)
    assert np.abs(d.x_train.mean(axis=0)).max() < 1e-4
    assert np.all((np.abs(std - 1) < 1e-3) | (std < 1e-6))  # constant pixels are only centred
    assert np.isfinite(d.x_test).all()


def test_digits_images_shape_and_content() -> None:
    flat = load_dataset("digits", seed=0)
    img = load_dataset("digits", seed=0, images=True)
    assert img.x_train.shape == (1257, 1, 8, 8) and img.x_test.shape == (540, 1, 8, 8)
    assert np.array_equal(img.x_train.reshape(-1, 64), flat.x_train)
    assert np.array_equal(img.y_test, flat.y_test)


def test_digits_too_small_for_a_stratified_split() -> None:
    with pytest.raises(ValueError, match="n_train=5"):
        load_dataset("digits", n_train=5, n_test=100)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"name": "no_such_set"}, "name='no_such_set'"),
        ({"name": "circle", "n_train": 0}, "n_train=0"),
        ({"name": "circle", "n_train": True}, "n_train=True"),
        ({"name": "circle", "n_train": 10.0}, "n_train=10.0"),
        ({"name": "circle", "n_test": -1}, "n_test=-1"),
        ({"name": "circle", "seed": -1}, "seed=-1"),
        ({"name": "circle", "noise": -0.1}, "noise=-0.1"),
        ({"name": "circle", "noise": float("nan")}, "noise=nan"),
        ({"name": "gaussians", "n_classes": 1}, "n_classes=1"),
        ({"name": "circle", "images": True}, "images=True"),
        ({"name": "npz"}, "path=None"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, named: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(ValueError) as err:
        load_dataset(name, **kwargs)
    assert named in str(err.value)


# ---------------------------------------------------------------------------- user .npz


def _good_arrays(images: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = (1, 4, 4) if images else (3,)
    return {
        "x_train": rng.normal(size=(20, *shape)),
        "y_train": np.arange(20) % 3,
        "x_test": rng.normal(size=(10, *shape)),
        "y_test": np.arange(10) % 3,
    }


def _write(tmp_path: Path, arrays: dict, name: str = "data.npz") -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("images", [False, True])
def test_npz_round_trip(tmp_path: Path, images: bool) -> None:
    arrays = _good_arrays(images)
    path = _write(tmp_path, arrays)
    d = load_dataset("npz", path=str(path))
    assert d.name == "npz" and d.n_classes == 3
    for key in ("x_train", "x_test"):
        assert getattr(d, key).dtype == np.float32
        assert np.allclose(getattr(d, key), arrays[key], atol=1e-6)
    for key in ("y_train", "y_test"):
        assert getattr(d, key).dtype == np.int64
        assert np.array_equal(getattr(d, key), arrays[key])
    assert _same(d, load_npz(path))


def test_npz_integral_float_labels_and_extra_keys_accepted(tmp_path: Path) -> None:
    arrays = _good_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.float64)
    arrays["notes"] = np.arange(3)
    d = load_dataset("npz", path=_write(tmp_path, arrays))
    assert d.y_train.dtype == np.int64 and d.n_classes == 3


def _with(**changes) -> dict[str, np.ndarray]:
    arrays = _good_arrays()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return arrays


def _nan_at(row: int, key: str = "x_train", value: float = np.nan) -> np.ndarray:
    x = _good_arrays()[key].copy()
    x[row, 1] = value
    return x


def _labels(key: str, row: int, value: float) -> np.ndarray:
    y = _good_arrays()[key].astype(np.float64)
    y[row] = value
    return y


BAD_NPZ = {
    "missing_x_test": (_with(x_test=None), ["x_test", "missing"]),
    "missing_y_train": (_with(y_train=None), ["y_train", "missing"]),
    "nan_in_x_train": (_with(x_train=_nan_at(3)), ["x_train", "row 3"]),
    "inf_in_x_test": (_with(x_test=_nan_at(7, "x_test", np.inf)), ["x_test", "row 7"]),
    "overflows_float32": (_with(x_train=_nan_at(2, value=1e300)), ["x_train", "row 2"]),
    "negative_label": (_with(y_train=_labels("y_train", 4, -1)), ["y_train", "row 4"]),
    "fractional_label": (_with(y_test=_labels("y_test", 6, 1.5)), ["y_test", "row 6"]),
    "nan_label": (_with(y_test=_labels("y_test", 2, np.nan)), ["y_test", "row 2"]),
    "labels_2d": (_with(y_train=np.zeros((20, 2), dtype=np.int64)), ["y_train", "shape"]),
    "features_1d": (_with(x_train=np.zeros(20)), ["x_train", "shape"]),
    "features_3d": (_with(x_test=np.zeros((10, 3, 2))), ["x_test", "shape"]),
    "length_mismatch": (_with(y_test=np.arange(9) % 3), ["y_test", "x_test"]),
    "feature_mismatch": (_with(x_test=np.zeros((10, 4))), ["x_test", "x_train"]),
    "string_features": (_with(x_train=np.array([["a", "b", "c"]] * 20)), ["x_train", "dtype"]),
    "object_array": (_with(y_train=np.array([1, "a", None] * 6 + [0, 1], dtype=object)), ["y_train"]),
    "one_class": (_with(y_train=np.zeros(20, dtype=np.int64), y_test=np.zeros(10, dtype=np.int64)), ["n_classes"]),
    "empty_train": (_with(x_train=np.zeros((0, 3)), y_train=np.zeros(0, dtype=np.int64)), ["x_train"]),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_malformed_npz_rejected_naming_file_and_key(tmp_path: Path, case: str) -> None:
    arrays, must = BAD_NPZ[case]
    path = _write(tmp_path, arrays, f"{case}.npz")
    with pytest.raises(ValueError) as err:
        load_dataset("npz", path=str(path))
    message = str(err.value)
    assert str(path) in message
    for part in must:
        assert part in message


def test_npz_object_array_is_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle.load was called")

    path = _write(tmp_path, _with(x_train=np.array([object()] * 20, dtype=object)))
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(ValueError, match="x_train"):
        load_npz(path)


@pytest.mark.parametrize("content", [b"not a zip file at all", b"PK\x03\x04truncated"])
def test_npz_that_is_not_an_archive(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="junk.npz"):
        load_npz(path)


def test_npy_file_is_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "plain.npy"
    np.save(path, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="plain.npy.*not an .npz"):
        load_npz(path)


def test_missing_npz_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nowhere.npz"):
        load_dataset("npz", path=str(tmp_path / "nowhere.npz"))
