"""The IDX format of MNIST and Fashion-MNIST, gzipped or not, and the loader both data sets share.

An IDX file is a 4-byte magic number (two zero bytes, the element type 0x08 for unsigned bytes, the
number of dimensions), one big-endian uint32 per dimension, then the elements. Images are
``(N, 28, 28)``, labels ``(N,)``. A ``.gz`` file is checked against its published checksum
(``lysep.datasets.files``); a file decompressed by hand has no published checksum and is checked
for its structure only. Every problem is a ValueError naming the file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lysep.datasets.base import IMAGES, Dataset, DatasetInfo
from lysep.datasets.files import PUBLISHED, data_root, missing, verify
from lysep.datasets.images import prepare

#: element type code of unsigned bytes, the only one these data sets use
UBYTE = 0x08
#: the four files of an IDX data set: (role, file name without .gz, dimensions)
IDX_FILES: tuple[tuple[str, str, int], ...] = (
    ("train_images", "train-images-idx3-ubyte", 3), ("train_labels", "train-labels-idx1-ubyte", 1),
    ("test_images", "t10k-images-idx3-ubyte", 3), ("test_labels", "t10k-labels-idx1-ubyte", 1))
#: one image of these data sets (channels, height, width) and their classes
IMAGE_SHAPE = (1, 28, 28)
N_CLASSES = 10


def parse_idx(path: Path, raw: bytes, ndim: int) -> np.ndarray:
    """The array of an IDX file's bytes; ValueError naming ``path`` for a wrong magic number or size."""
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header of {ndim} dimensions (truncated?)")
    magic = raw[:4]
    if magic[:2] != b"\0\0" or magic[2] != UBYTE or magic[3] != ndim:
        raise ValueError(f"{path}: magic number {magic.hex()} is not that of an IDX file of unsigned bytes with "
                         f"{ndim} dimensions (expected 0000{UBYTE:02x}{ndim:02x})")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    body = len(raw) - 4 - 4 * ndim
    if body != int(np.prod(dims)):
        raise ValueError(f"{path}: the header says {'x'.join(map(str, dims))} = {int(np.prod(dims))} bytes of data, "
                         f"the file has {body} (truncated or damaged)")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def read_idx(folder: Path, name: str, dataset: str, root: Path, ndim: int) -> np.ndarray:
    """``name.gz`` (checksum verified) or else ``name`` from ``folder``, parsed."""
    packed, plain = folder / f"{name}.gz", folder / name
    if packed.is_file():
        verify(packed, f"{dataset}/{packed.name}")
        try:
            with gzip.open(packed, "rb") as f:
                return parse_idx(packed, f.read(), ndim)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{packed}: cannot be decompressed ({e})") from None
    if plain.is_file():
        return parse_idx(plain, plain.read_bytes(), ndim)
    raise missing(packed, dataset, root, f"{packed.name} or {plain.name}")


def read_split(dataset: str, root: Path) -> dict[str, np.ndarray]:
    """The four arrays of an IDX data set, with the counts and labels checked."""
    folder = root / dataset
    arrays = {role: read_idx(folder, name, dataset, root, ndim) for role, name, ndim in IDX_FILES}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        labels = folder / next(n for r, n, _ in IDX_FILES if r == f"{split}_labels")
        if len(x) != len(y):
            raise ValueError(f"{labels}(.gz): {len(y)} labels but its images file has {len(x)} images")
        if x.shape[1:] != IMAGE_SHAPE[1:]:
            raise ValueError(f"{labels.parent}: {split} images of {x.shape[1]}x{x.shape[2]} pixels, expected 28x28")
        if len(y) and int(y.max()) >= N_CLASSES:
            row = int(np.argmax(y >= N_CLASSES))
            raise ValueError(f"{labels}(.gz): label {int(y[row])} at row {row} (expected 0..{N_CLASSES - 1})")
    return arrays


def idx_loader(dataset: str) -> Callable[..., Dataset]:
    """The ``load`` of an IDX data set kept in ``<root>/<dataset>/``."""
    def load(*, n_train: int, n_test: int, seed: int, root: str | None = None, images: bool = False) -> Dataset:
        where = data_root(root)
        a = read_split(dataset, where)
        train = (a["train_images"][:, None], a["train_labels"])
        test = (a["test_images"][:, None], a["test_labels"])
        return prepare(dataset, train, test, n_train=n_train, n_test=n_test, seed=seed, images=images,
                       n_classes=N_CLASSES)
    return load


def idx_dataset(name: str, description: str, order: int) -> DatasetInfo:
    """The declaration of an IDX data set of 28x28 grey images in 10 classes, files in ``<root>/<name>/``."""
    files = tuple(f for key, f in PUBLISHED.items() if key.startswith(f"{name}/"))
    return DatasetInfo(name=name, description=description, kind=IMAGES, keys=("n_train", "n_test", "seed", "root"),
                       load=idx_loader(name), images=True, shape=(784,), image_shape=IMAGE_SHAPE,
                       n_classes=N_CLASSES, order=order, files=files)
