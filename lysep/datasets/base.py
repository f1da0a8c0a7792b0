"""What a dataset is (``Dataset``, a loaded split) and what one declares about itself (``DatasetInfo``).

Every module of ``lysep.datasets`` that defines ``DATASET = DatasetInfo(...)`` is a dataset; the
registry (``lysep.datasets.registry``) finds it there and the harness, the spec and ``lysep datasets``
read only the declaration. Nothing here imports torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: what kind of data a dataset gives
SYNTHETIC_2D, IMAGES, USER_FILE = "2-D synthetic", "images", "user file"
KINDS: tuple[str, ...] = (SYNTHETIC_2D, IMAGES, USER_FILE)
#: every ``[data]`` key besides ``dataset``; a dataset declares which of them apply to it
DATA_KEYS: tuple[str, ...] = ("n_train", "n_test", "seed", "noise", "n_classes", "path", "root")
#: dataset names: they are spec values and module names
DATASET_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: where a declaration lands in listings and error messages when it gives no ``order`` (after the built-ins)
USER_ORDER = 1000


@dataclass(frozen=True)
class Dataset:
    """A train/test split: x float32 (N, d) or (N, C, H, W), y int64 (N,) in ``0..n_classes-1``."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset's declaration: what it is, which ``[data]`` keys apply, and how to load it.

    ``load`` is called with exactly the keys in ``keys`` as keyword arguments (already checked
    and converted: ints, a float ``noise``, ``path`` as given), plus ``images`` when
    ``images`` is true, and returns a ``Dataset``.
    """

    name: str
    description: str  # one line
    kind: str  # one of KINDS
    keys: tuple[str, ...]  # the [data] keys that apply (a subset of DATA_KEYS)
    load: Callable[..., Dataset]
    images: bool = False  # can give images (N, C, H, W) for a CNN: ``load`` takes ``images``
    shape: tuple[int, ...] | None = None  # one sample's features; None: the user file's
    image_shape: tuple[int, ...] | None = None  # one sample with images=True; None: the file's, or no images
    n_classes: int | None = None  # a fixed class count; None: the n_classes key or the file
    file: str | None = None  # what ``path`` names ("a .npz file" without the article), iff "path" in keys
    order: int = USER_ORDER  # position in listings and error messages (the built-ins count from 0)
    files: tuple = ()  # files read below the data root (``lysep.datasets.files.RemoteFile``), for `lysep data fetch`
    # how `lysep data fetch` gets a data set that is not published files: fetch(root, log=print, quiet=False),
    # raising ``lysep.datasets.fetch.FetchError`` or ValueError; ``source`` says from where, in one line
    fetch: Callable[..., None] | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        def bad(field: str, expect: str) -> ValueError:
            return ValueError(f"DatasetInfo(name={self.name!r}): {field}={getattr(self, field)!r} is invalid "
                              f"(expected {expect})")

        if not isinstance(self.name, str) or not DATASET_NAME_RE.fullmatch(self.name):
            raise bad("name", "lowercase letters, digits and '_', starting with a letter (at most 40)")
        if not isinstance(self.description, str) or not self.description.strip() or "\n" in self.description:
            raise bad("description", "one non-empty line")
        if self.kind not in KINDS:
            raise bad("kind", "one of: " + ", ".join(map(repr, KINDS)))
        if (not isinstance(self.keys, tuple) or len(set(self.keys)) != len(self.keys)
                or not set(self.keys) <= set(DATA_KEYS)):
            raise bad("keys", "a tuple of distinct keys from: " + ", ".join(DATA_KEYS))
        if not callable(self.load):
            raise bad("load", "a function returning a Dataset")
        if not isinstance(self.images, bool):
            raise bad("images", "True or False")
        for field in ("shape", "image_shape"):
            value = getattr(self, field)
            if value is not None and not (isinstance(value, tuple) and value
                                          and all(isinstance(n, int) and n >= 1 for n in value)):
                raise bad(field, "None or a tuple of integers >= 1")
        if self.image_shape is not None and not self.images:
            raise bad("image_shape", "None unless images=True")
        if self.n_classes is not None and (not isinstance(self.n_classes, int) or self.n_classes < 2):
            raise bad("n_classes", "None or an integer >= 2")
        if ("path" in self.keys) != (self.file is not None):
            raise bad("file", "what the path names (e.g. '.npz file') exactly when 'path' is in keys")
        if not isinstance(self.order, int):
            raise bad("order", "an integer")
        if not isinstance(self.files, tuple) or (self.files and "root" not in self.keys):
            raise bad("files", "a tuple of the files read below the data root ('root' in keys), or ()")
        if self.fetch is not None and (not callable(self.fetch) or "root" not in self.keys or self.files):
            raise bad("fetch", "None, or a function that fetches into the data root ('root' in keys, no files)")
        if (self.fetch is None) != (self.source is None) or not (
                self.source is None or (isinstance(self.source, str) and self.source.strip()
                                        and "\n" not in self.source)):
            raise bad("source", "one line saying where `fetch` gets the data, exactly when fetch is given")

    def to_dict(self) -> dict:
        """The declaration as a JSON-able dict (``load`` left out)."""
        return {"name": self.name, "description": self.description, "kind": self.kind, "keys": list(self.keys),
                "images": self.images, "shape": _listed(self.shape), "image_shape": _listed(self.image_shape),
                "n_classes": self.n_classes, "file": self.file, "files": [f.path for f in self.files],
                "source": self.source if self.fetch is not None else "the published files" if self.files else None}


def _listed(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)
