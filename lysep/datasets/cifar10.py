"""cifar10: 32x32 colour images in 10 classes (50000 training, 10000 test), from the binary version's files.

The binary version (never the pickled Python one): ``<root>/cifar10/cifar-10-binary.tar.gz`` as
published (checksum verified; its members are read from the archive, nothing is extracted), or its
extracted folder ``<root>/cifar10/cifar-10-batches-bin/`` (structure checked only). A batch file is a
sequence of 3073-byte records: the label byte, then 1024 red, 1024 green and 1024 blue pixels.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np

from lysep.datasets.base import IMAGES, Dataset, DatasetInfo
from lysep.datasets.files import PUBLISHED, data_root, missing, verify
from lysep.datasets.images import prepare

NAME = "cifar10"
ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
IMAGE_SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32
N_CLASSES = 10


def parse_batch(where: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3, 32, 32) and labels (n,) of one batch file's bytes; ValueError naming ``where``."""
    if not raw or len(raw) % RECORD:
        raise ValueError(f"{where}: {len(raw)} bytes is not a whole number of {RECORD}-byte records (truncated?)")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0]
    if int(labels.max()) >= N_CLASSES:
        row = int(np.argmax(labels >= N_CLASSES))
        raise ValueError(f"{where}: record {row} has label {int(labels[row])} (expected 0..{N_CLASSES - 1})")
    return records[:, 1:].reshape(-1, *IMAGE_SHAPE), labels


def read_archive(path: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of ``FOLDER/<name>`` for every name, read from the tar.gz archive without extracting it."""
    out = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for name in names:
                try:
                    member = tar.extractfile(f"{FOLDER}/{name}")
                except KeyError:
                    member = None
                if member is None:
                    raise ValueError(f"{path}: has no member {FOLDER}/{name} (not the CIFAR-10 binary version?)")
                out[name] = member.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: cannot be read as a tar.gz archive ({e})") from None
    return out


def read_batches(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every batch file's (name for messages, bytes), from the verified archive or the extracted folder."""
    folder = root / NAME
    names = (*TRAIN_BATCHES, TEST_BATCH)
    archive = folder / ARCHIVE
    if archive.is_file():
        verify(archive, f"{NAME}/{ARCHIVE}")
        return {n: (f"{archive}:{FOLDER}/{n}", raw) for n, raw in read_archive(archive, names).items()}
    out = {}
    for n in names:
        path = folder / FOLDER / n
        if not path.is_file():
            raise missing(path if (folder / FOLDER).is_dir() else archive, NAME, root,
                          f"{ARCHIVE} or its extracted {FOLDER}/ with {', '.join(names)}")
        out[n] = (str(path), path.read_bytes())
    return out


def load(*, n_train: int, n_test: int, seed: int, root: str | None = None, images: bool = False) -> Dataset:
    """Seeded stratified subsets of the training batches 1-5 and the test batch (``lysep.datasets.images``)."""
    batches = {n: parse_batch(where, raw) for n, (where, raw) in read_batches(data_root(root)).items()}
    train = tuple(np.concatenate([batches[n][i] for n in TRAIN_BATCHES]) for i in range(2))
    return prepare(NAME, train, batches[TEST_BATCH], n_train=n_train, n_test=n_test, seed=seed, images=images,
                   n_classes=N_CLASSES)


DATASET = DatasetInfo(
    name=NAME, description="CIFAR-10 colour images (3x32x32, 50000/10000) from your binary-version files in "
    "[data] root", kind=IMAGES, keys=("n_train", "n_test", "seed", "root"), load=load, images=True,
    shape=(3072,), image_shape=IMAGE_SHAPE, n_classes=N_CLASSES, order=9, files=(PUBLISHED[f"{NAME}/{ARCHIVE}"],))
