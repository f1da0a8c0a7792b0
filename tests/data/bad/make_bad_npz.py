"""Write the malformed .npz files that the specs in this folder point at (``npz/<name>.npz``).

    python tests/data/bad/make_bad_npz.py [FOLDER]     # default: this folder

The test suite (``tests/test_reliability_inputs.py``) copies the specs to a temporary folder and
calls ``write_all`` there, so nothing needs to be generated in the source tree. Each file breaks
one rule of a user dataset (``lysep.datasets.load_npz``). ``pickled_object.npz`` holds an object
array whose unpickling would create the folder ``PWNED`` next to it: loading must refuse it
without ever unpickling (the folder must never appear).
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

N_TRAIN, N_TEST = 20, 10
#: the folder an unpickled ``pickled_object.npz`` would create (relative to the npz folder)
MARKER = "PWNED"


class Evil:
    """Unpickling this creates a folder: proof that a loader ran code from a data file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def good() -> dict[str, np.ndarray]:
    """A valid small dataset; every case below breaks one thing of it."""
    rng = np.random.default_rng(0)
    return {"x_train": rng.normal(size=(N_TRAIN, 2)), "y_train": np.arange(N_TRAIN) % 2,
            "x_test": rng.normal(size=(N_TEST, 2)), "y_test": np.arange(N_TEST) % 2}


def with_(**changes: np.ndarray | None) -> dict[str, np.ndarray]:
    arrays = good()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


def _set(key: str, row: int, value: float, dtype: type = np.float64) -> np.ndarray:
    a = good()[key].astype(dtype)
    a[row] = value
    return a


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _corrupt_member() -> bytes:
    """A valid zip whose x_train.npy member is not an array."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for key, value in good().items():
            if key == "x_train":
                z.writestr("x_train.npy", b"\x93NUMPY garbage, not a header")
            else:
                inner = io.BytesIO()
                np.save(inner, value)
                z.writestr(f"{key}.npy", inner.getvalue())
    return buf.getvalue()


def _npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, good()["x_train"])
    return buf.getvalue()


def cases(folder: Path) -> dict[str, Callable[[], bytes]]:
    """name -> the bytes of ``npz/<name>.npz``."""
    evil = np.empty(N_TRAIN, dtype=object)
    evil[:] = [Evil(str(folder / MARKER))] * N_TRAIN
    evil_x = np.empty((N_TRAIN, 2), dtype=object)
    evil_x[:] = 0.0
    evil_x[0, 0] = Evil(str(folder / MARKER))
    x4 = np.random.default_rng(1)
    arrays: dict[str, Callable[[], dict[str, np.ndarray]]] = {
        "nan_row": lambda: with_(x_train=_set("x_train", 3, np.nan)),
        "inf_test_row": lambda: with_(x_test=_set("x_test", 5, np.inf)),
        "overflow_float32": lambda: with_(x_train=_set("x_train", 2, 1e300)),
        "label_negative": lambda: with_(y_train=_set("y_train", 4, -1, np.int64)),
        "label_fraction": lambda: with_(y_test=_set("y_test", 1, 0.5)),
        "label_nan": lambda: with_(y_train=_set("y_train", 6, np.nan)),
        "label_huge": lambda: with_(y_train=_set("y_train", 7, 10**9, np.int64)),
        "label_uint64_huge": lambda: with_(y_train=_set("y_train", 0, 2**63, np.uint64)),
        "one_class": lambda: with_(y_train=np.zeros(N_TRAIN, np.int64), y_test=np.zeros(N_TEST, np.int64)),
        "length_mismatch_train": lambda: with_(y_train=good()["y_train"][:-1]),
        "length_mismatch_test": lambda: with_(x_test=good()["x_test"][:-2]),
        "feature_mismatch": lambda: with_(x_test=np.zeros((N_TEST, 3))),
        "missing_key": lambda: with_(y_test=None),
        "pickled_object": lambda: with_(x_train=evil_x),
        "pickled_labels": lambda: with_(y_train=evil),
        "x_1d": lambda: with_(x_train=np.zeros(N_TRAIN)),
        "x_3d": lambda: with_(x_train=np.zeros((N_TRAIN, 2, 2))),
        "y_2d": lambda: with_(y_train=good()["y_train"].reshape(-1, 1)),
        "x_empty": lambda: with_(x_train=np.zeros((0, 2)), y_train=np.zeros(0, np.int64)),
        "x_no_features": lambda: with_(x_train=np.zeros((N_TRAIN, 0))),
        "x_strings": lambda: with_(x_train=np.full((N_TRAIN, 2), "abc")),
        "x_complex": lambda: with_(x_train=good()["x_train"].astype(np.complex128)),
        "y_bool": lambda: with_(y_train=good()["y_train"].astype(bool)),
        "images_for_fnn": lambda: with_(x_train=x4.normal(size=(N_TRAIN, 1, 4, 4)),
                                        x_test=x4.normal(size=(N_TEST, 1, 4, 4))),
    }
    out: dict[str, Callable[[], bytes]] = {name: (lambda f=f: _npz_bytes(f())) for name, f in arrays.items()}
    out["not_a_zip"] = lambda: b"this is not a zip archive\n" * 10
    out["truncated_zip"] = lambda: _npz_bytes(good())[:300]
    out["empty_file"] = lambda: b""
    out["npy_not_npz"] = _npy_bytes
    out["corrupt_member"] = _corrupt_member
    return out


def write_all(folder: str | Path) -> dict[str, Path]:
    """Write ``folder/npz/<name>.npz`` for every case; returns name -> path."""
    folder = Path(folder).resolve()
    (folder / "npz").mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in cases(folder).items():
        path = folder / "npz" / f"{name}.npz"
        path.write_bytes(make())
        paths[name] = path
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for name, path in write_all(target).items():
        print(f"{name}: {path}")
