"""A classification problem on one device: training and test data as tensors, validated.

The validation (:func:`check_arrays`) is numpy only, and torch is imported when the tensors are made,
so that a spec's data is checked without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch


@dataclass
class Problem:
    """Training/test data shared by every seed of a cell (x: (N, d) float, y: (N,) int64)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def in_dim(self) -> int:
        return self.x_train.shape[1]

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def dtype(self) -> torch.dtype:
        return self.x_train.dtype

    @classmethod
    def from_arrays(cls, x_train, y_train, x_test, y_test, n_classes: int | None = None,
                    dtype: torch.dtype | None = None, device: str | torch.device = "cpu") -> Problem:
        """Validate numpy-like arrays (:func:`check_arrays`) and move them to ``device`` (``dtype`` default float32).

        Raises ``ValueError`` naming the argument (and the first bad row) for mismatched
        lengths, wrong dimensions, NaN/inf features or labels outside ``0..n_classes-1``.
        """
        import torch

        xs, ys, n_classes = check_arrays(x_train, y_train, x_test, y_test, n_classes)
        dtype = torch.float32 if dtype is None else dtype

        def tx(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(device)

        def ty(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a.astype(np.int64)).to(device)

        return cls(tx(xs["x_train"]), ty(ys["y_train"]), tx(xs["x_test"]), ty(ys["y_test"]), n_classes)


def check_arrays(x_train, y_train, x_test, y_test, n_classes: int | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
    """The arrays of a problem validated, as ({x_train, x_test}, {y_train, y_test} as int64, n_classes).

    ``n_classes`` defaults to the largest training label + 1. ``ValueError`` naming the argument (and
    the first bad row) for mismatched lengths, wrong dimensions, NaN/inf features or labels outside
    ``0..n_classes-1``.
    """
    xs = {"x_train": np.asarray(x_train), "x_test": np.asarray(x_test)}
    ys = {"y_train": np.asarray(y_train), "y_test": np.asarray(y_test)}
    for name, x in xs.items():
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape (N, d) or (N, C, H, W), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise ValueError(f"{name} must be real numbers, got dtype {x.dtype}")
        bad = ~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{name} row {int(np.argmax(bad))} contains NaN or inf")
    if xs["x_train"].shape[1:] != xs["x_test"].shape[1:]:
        raise ValueError(
            f"x_test has feature shape {xs['x_test'].shape[1:]} but x_train has {xs['x_train'].shape[1:]}"
        )
    for name, y in ys.items():
        if y.ndim != 1:
            raise ValueError(f"{name} must have shape (N,), got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all():
                ys[name] = y.astype(np.int64)
            else:
                raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    for xn, yn in (("x_train", "y_train"), ("x_test", "y_test")):
        if xs[xn].shape[0] != ys[yn].shape[0]:
            raise ValueError(f"{yn} has {ys[yn].shape[0]} labels but {xn} has {xs[xn].shape[0]} rows")
    if n_classes is None:
        n_classes = int(ys["y_train"].max()) + 1  # the classes the model is trained on
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes} must be >= 2")
    for name, y in ys.items():
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} row {i} has label {int(y[i])} outside 0..{n_classes - 1}")
    return xs, ys, int(n_classes)
