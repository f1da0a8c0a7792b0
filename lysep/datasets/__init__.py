"""Offline classification datasets, deterministic given a data seed: one module per dataset.

Each module declares its dataset (``DATASET = DatasetInfo(...)``: name, one-line description,
kind, the ``[data]`` keys that apply, whether it can feed a CNN, shapes, classes and its ``load``);
the registry discovers them and nothing else names one. ``lysep datasets`` lists them. A user's
own dataset is one ``register_dataset(DatasetInfo(...))`` call.

Synthetic 2-D sets draw the training and the test split from two independent streams of
``np.random.default_rng`` (children of ``np.random.SeedSequence(seed)``). Features come back as
float32, labels as int64. Nothing is downloaded, and nothing here imports torch.
"""

from __future__ import annotations

from lysep.datasets.base import DATA_KEYS, KINDS, Dataset, DatasetInfo
from lysep.datasets.npz import NPZ, NPZ_KEYS, load_npz  # imported from here since datasets was one module
from lysep.datasets.registry import (
    dataset_info,
    dataset_names,
    datasets,
    discover,
    load_dataset,
    register_dataset,
)

discover(__name__, __path__)

#: every built-in dataset that needs no file (``NPZ``, a user's file, is accepted by ``load_dataset`` as well)
DATASETS: tuple[str, ...] = tuple(d.name for d in datasets() if d.file is None)

__all__ = [
    "DATASETS", "DATA_KEYS", "KINDS", "NPZ", "NPZ_KEYS", "Dataset", "DatasetInfo", "dataset_info", "dataset_names",
    "datasets", "load_dataset", "load_npz", "register_dataset",
]
