"""mnist: handwritten digits, 60000 training and 10000 test images of 28x28, from the user's IDX files."""

from __future__ import annotations

from lysep.datasets.idx import idx_dataset

DATASET = idx_dataset("mnist", "MNIST handwritten digits (28x28, 60000/10000) from your IDX files in [data] root",
                      order=7)
