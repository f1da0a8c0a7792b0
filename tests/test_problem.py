"""Data validation: every bad input names the argument and the row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lysep.core.problem import Problem


def good() -> dict:
    rng = np.random.default_rng(0)
    return {"x_train": rng.normal(size=(10, 2)), "y_train": np.array([0, 1] * 5),
            "x_test": rng.normal(size=(4, 2)), "y_test": np.array([1, 0, 1, 0])}


def test_good_arrays_become_tensors() -> None:
    p = Problem.from_arrays(**good(), dtype=torch.float64)
    assert p.x_train.dtype == torch.float64 and p.y_train.dtype == torch.int64
    assert (p.n_train, p.in_dim, p.n_classes) == (10, 2, 2)


def test_float_labels_that_are_integers_are_accepted() -> None:
    a = good()
    a["y_train"] = a["y_train"].astype(float)
    assert Problem.from_arrays(**a).y_train.dtype == torch.int64


def _mutate(key: str, fn) -> dict:
    a = good()
    a[key] = fn(a[key])
    return a


def _set(arr, idx, value):
    arr = arr.astype(float) if value is not None and not isinstance(value, int) else arr.copy()
    arr[idx] = value
    return arr


@pytest.mark.parametrize("args,match", [
    (_mutate("x_train", lambda x: _set(x, (3, 1), np.nan)), "x_train row 3 contains NaN or inf"),
    (_mutate("x_test", lambda x: _set(x, (2, 0), np.inf)), "x_test row 2 contains NaN or inf"),
    (_mutate("y_train", lambda y: _set(y, 5, -1)), "y_train row 5 has label -1"),
    (_mutate("y_test", lambda y: _set(y, 1, 7)), "y_test row 1 has label 7"),
    (_mutate("y_train", lambda y: y[:-1]), "y_train has 9 labels but x_train has 10 rows"),
    (_mutate("x_test", lambda x: x[:, :1]), "x_test has feature shape"),
    (_mutate("x_train", lambda x: x[:, 0]), "x_train must have shape"),
    (_mutate("y_train", lambda y: y.astype(float) + 0.5), "y_train must hold integer class labels"),
    (_mutate("y_test", lambda y: y.reshape(2, 2)), "y_test must have shape"),
    (_mutate("x_train", lambda x: x[:0]), "x_train is empty"),
])
def test_bad_data_is_rejected_naming_argument_and_row(args: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        Problem.from_arrays(**args)


def test_n_classes_smaller_than_a_label_is_rejected() -> None:
    with pytest.raises(ValueError, match="outside 0..0|n_classes=1"):
        Problem.from_arrays(**good(), n_classes=1)
