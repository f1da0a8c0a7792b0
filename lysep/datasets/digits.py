"""digits: scikit-learn's bundled 8x8 handwritten digits (1797 samples, 10 classes), for CNNs too.

Split rule: when ``n_train + n_test <= 1797`` the split is exactly ``n_train``/``n_test``
(stratified, shuffled by ``seed``); otherwise, as with the defaults (2000/1000), it is a
stratified 70/30 split (1257/540). Every pixel is standardized with the training split's
mean and standard deviation (pixels constant in the training split are only centred);
``images=True`` then reshapes to ``(N, 1, 8, 8)``. ``noise`` does not apply.
"""

from __future__ import annotations

import numpy as np

from lysep.datasets.base import IMAGES, Dataset, DatasetInfo

#: test fraction of the digits split when n_train + n_test do not fit in the 1797 samples
DIGITS_TEST_FRACTION = 0.3
#: pixels whose training std is below this are only centred, not scaled
STD_FLOOR = 1e-6
#: one digit as an image (channels, height, width)
IMAGE_SHAPE = (1, 8, 8)


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (x - mean) / std with the training split's statistics; constant features only centred."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return (x_train - mean) / std, (x_test - mean) / std


def load(*, n_train: int, n_test: int, seed: int, images: bool = False) -> Dataset:
    """Stratified split of sklearn's digits (rule in the module docstring), standardized per pixel."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    k = int(y.max()) + 1
    if n_train + n_test <= len(y):
        if min(n_train, n_test) < k:
            raise ValueError(f"digits: n_train={n_train} and n_test={n_test} must both be >= {k} (stratified split)")
        sizes = {"train_size": n_train, "test_size": n_test}
    else:
        sizes = {"test_size": DIGITS_TEST_FRACTION}
    random_state = int(np.random.default_rng(seed).integers(2**31 - 1))
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, stratify=y, random_state=random_state, **sizes)
    x_tr, x_te = _standardize(x_tr.astype(np.float64), x_te.astype(np.float64))
    if images:
        x_tr, x_te = x_tr.reshape(-1, *IMAGE_SHAPE), x_te.reshape(-1, *IMAGE_SHAPE)
    return Dataset("digits", x_tr.astype(np.float32), y_tr.astype(np.int64),
                   x_te.astype(np.float32), y_te.astype(np.int64), k)


DATASET = DatasetInfo(
    name="digits", description="scikit-learn's bundled 8x8 handwritten digits (1797), standardized per pixel",
    kind=IMAGES, keys=("n_train", "n_test", "seed"), load=load, images=True, shape=(64,), image_shape=IMAGE_SHAPE,
    n_classes=10, order=5)
