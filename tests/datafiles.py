"""Small files in the real formats of the data sets read from files (IDX, CIFAR-10 binary), written by the tests.

Nothing is downloaded: the images are random bytes, the labels cycle through the classes. ``publish``
makes the generated files the published ones for the duration of a test (their digests replace the
real ones in ``lysep.datasets.files.PUBLISHED``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from lysep.datasets import files

IDX_NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_bytes(a: np.ndarray, magic: bytes | None = None) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000 08 ndim, the dimensions (big-endian uint32), the data."""
    head = magic if magic is not None else bytes([0, 0, 0x08, a.ndim])
    return head + np.asarray(a.shape, dtype=">u4").tobytes() + a.astype(np.uint8).tobytes()


def idx_arrays(n_train: int, n_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
            "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "test_labels": (np.arange(n_test) % 10).astype(np.uint8)}


def write_idx_set(root: Path, name: str, arrays: dict[str, np.ndarray], gz: bool = True,
                  raw: dict[str, bytes] | None = None) -> dict[str, Path]:
    """The four files of an IDX data set under ``root/name`` (``raw``: bytes to write instead, per role)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for role, stem in IDX_NAMES.items():
        data = (raw or {}).get(role, idx_bytes(arrays[role]))
        path = folder / (stem + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        out[role] = path
    return out


def cifar_batches(n_per_batch: int, seed: int = 0) -> dict[str, bytes]:
    """The six batch files of the binary version, ``n_per_batch`` records each (label byte, then R, G, B planes)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = (np.arange(n_per_batch) + rng.integers(10)) % 10
        pixels = rng.integers(0, 256, (n_per_batch, 3072))
        out[name] = np.concatenate([labels[:, None], pixels], axis=1).astype(np.uint8).tobytes()
    return out


def write_cifar(root: Path, batches: dict[str, bytes], archive: bool = True) -> Path:
    """``root/cifar10/cifar-10-binary.tar.gz`` with the batches, or the extracted folder."""
    folder = root / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    if not archive:
        (folder / "cifar-10-batches-bin").mkdir(exist_ok=True)
        for name, data in batches.items():
            (folder / "cifar-10-batches-bin" / name).write_bytes(data)
        return folder / "cifar-10-batches-bin"
    path = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def publish(monkeypatch, root: Path, keys: list[str] | None = None) -> None:
    """Make the files under ``root`` the published ones: their md5 replaces each declared digest."""
    for key, declared in list(files.PUBLISHED.items()):
        path = root / key
        if path.is_file() and (keys is None or key in keys):
            digest = hashlib.md5(path.read_bytes()).hexdigest()
            monkeypatch.setitem(files.PUBLISHED, key, replace(declared, digest=digest, algorithm="md5"))
