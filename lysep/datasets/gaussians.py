"""gaussians: K isotropic Gaussian blobs, one per class (``noise`` widens every blob)."""

from __future__ import annotations

import numpy as np

from lysep.datasets.sampling import balanced_labels, synthetic_dataset

#: standard deviation of each Gaussian blob before ``noise``; centres lie on the unit circle
BLOB_STD = 0.25


def sample(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k isotropic blobs (std 0.25) centred evenly on the unit circle, balanced classes."""
    y = balanced_labels(rng, n, k)
    angles = 2.0 * np.pi * np.arange(k) / k
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres[y] + BLOB_STD * rng.standard_normal((n, 2)), y


DATASET = synthetic_dataset(
    "gaussians", f"n_classes isotropic Gaussian blobs (std {BLOB_STD:g}) centred evenly on the unit circle",
    sample, order=3, n_classes=None)
