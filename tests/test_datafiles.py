"""The data sets read from the user's files (mnist, fashion_mnist, cifar10), on small files the tests write in
the real formats: the readers, stratified seeded subsets, standardisation, the checksum check, bad files (exit 2
naming the file), `lysep check` on the configs, and `lysep data fetch` (offline message, download, resume)."""

from __future__ import annotations

import gzip
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
from datafiles import cifar_batches, idx_arrays, idx_bytes, publish, write_cifar, write_idx_set

from lysep.commands.main import main
from lysep.datasets import load_dataset
from lysep.datasets.images import stratified_subset

ROOT = Path(__file__).resolve().parent.parent


def spec_file(tmp_path: Path, dataset: str, root: Path, kind: str = "fnn", n_train: int = 40, n_test: int = 20) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(f'name = "t"\n[data]\ndataset = "{dataset}"\nn_train = {n_train}\nn_test = {n_test}\n'
                    f'root = "{root}"\n[model]\nkind = "{kind}"\n[grid]\ndepth = [1]\nwidth = [4]\nseeds = 1\n'
                    '[budget]\niterations = 1\n[[method]]\nname = "adam"\n')
    return path


def check(capsys, *args: str) -> tuple[int, str]:
    rc = main(["check", *args])
    out = capsys.readouterr()
    return rc, out.out + out.err


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_an_idx_set_is_read_subsetted_and_standardized(tmp_path, monkeypatch, name: str, gz: bool) -> None:
    arrays = idx_arrays(100, 50, seed=1)
    write_idx_set(tmp_path, name, arrays, gz=gz)
    publish(monkeypatch, tmp_path)
    ds = load_dataset(name, n_train=60, n_test=30, seed=3, root=tmp_path, images=True)
    assert ds.x_train.shape == (60, 1, 28, 28) and ds.x_test.shape == (30, 1, 28, 28) and ds.n_classes == 10
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.bincount(ds.y_train, minlength=10).tolist() == [6] * 10  # stratified: 10% per class
    # standardized with the training subset's statistics: mean 0 and std 1 over its pixels
    assert abs(float(ds.x_train.mean())) < 1e-5 and abs(float(ds.x_train.std()) - 1) < 1e-4
    # every training image is one of the file's images of the same label, standardized
    raw = arrays["train_images"].reshape(100, -1).astype(np.float64)
    picked = ds.x_train.reshape(60, -1).astype(np.float64)
    for row, label in zip(picked[:10], ds.y_train[:10]):
        dist = np.abs((row - row.mean()) / row.std() - (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True))
        match = int(np.argmin(dist.max(axis=1)))
        assert dist[match].max() < 1e-4 and arrays["train_labels"][match] == label
    flat = load_dataset(name, n_train=60, n_test=30, seed=3, root=tmp_path)
    np.testing.assert_array_equal(flat.x_train, ds.x_train.reshape(60, 784))
    other = load_dataset(name, n_train=60, n_test=30, seed=4, root=tmp_path)
    assert not np.array_equal(other.x_train, flat.x_train)


def test_stratified_subsets_keep_the_class_shares_and_are_seeded() -> None:
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    for n in (1, 7, 33, 99, 100):
        idx = stratified_subset(y, n, np.random.default_rng(0))
        assert len(idx) == n == len(set(idx.tolist()))
        share = np.bincount(y[idx], minlength=4)
        assert (np.abs(share - n * np.array([0.5, 0.3, 0.15, 0.05])) < 1).all(), (n, share)
        assert np.array_equal(idx, stratified_subset(y, n, np.random.default_rng(0)))
    assert np.array_equal(stratified_subset(y, 100, np.random.default_rng(5)), np.arange(100))


def test_cifar10_from_the_archive_and_from_the_extracted_folder(tmp_path, monkeypatch) -> None:
    batches = cifar_batches(20, seed=2)
    write_cifar(tmp_path / "a", batches, archive=True)
    write_cifar(tmp_path / "b", batches, archive=False)
    publish(monkeypatch, tmp_path / "a")
    a = load_dataset("cifar10", n_train=50, n_test=10, seed=0, root=tmp_path / "a", images=True)
    b = load_dataset("cifar10", n_train=50, n_test=10, seed=0, root=tmp_path / "b", images=True)
    assert a.x_train.shape == (50, 3, 32, 32) and a.x_test.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    for c in range(3):  # standardized per channel (R, G, B planes)
        assert abs(float(a.x_train[:, c].mean())) < 1e-5 and abs(float(a.x_train[:, c].std()) - 1) < 1e-4
    assert load_dataset("cifar10", n_train=50, n_test=10, seed=0, root=tmp_path / "a").x_train.shape == (50, 3072)
    # the channel planes are read in order: channel 0 of image i is bytes 1..1024 of its record
    first = np.frombuffer(batches["test_batch.bin"], np.uint8).reshape(20, 3073)
    full = load_dataset("cifar10", n_train=100, n_test=20, seed=0, root=tmp_path / "b", images=True)
    red = first[:, 1:1025].astype(np.float64)
    got = full.x_test[:, 0].reshape(20, -1).astype(np.float64)
    np.testing.assert_allclose(np.corrcoef(red.ravel(), got.ravel())[0, 1], 1.0, atol=1e-6)


BAD_IDX = {
    "truncated": ("train_images", lambda a: idx_bytes(a["train_images"])[:-5], "truncated"),
    "wrong magic": ("train_images", lambda a: idx_bytes(a["train_images"], magic=bytes([0, 0, 0x0D, 3])),
                    "magic number"),
    "counts": ("train_labels", lambda a: idx_bytes(a["train_labels"][:-1]), "labels but its images file has"),
    "label": ("test_labels", lambda a: idx_bytes(np.full(50, 11, np.uint8)), "label 11"),
}


@pytest.mark.parametrize("case", sorted(BAD_IDX))
@pytest.mark.parametrize("gz", [True, False])
def test_a_bad_idx_file_exits_2_naming_the_file(tmp_path, monkeypatch, capsys, case: str, gz: bool) -> None:
    role, make, words = BAD_IDX[case]
    arrays = idx_arrays(100, 50)
    paths = write_idx_set(tmp_path / "data", "mnist", arrays, gz=gz, raw={role: make(arrays)})
    publish(monkeypatch, tmp_path / "data")
    rc, out = check(capsys, str(spec_file(tmp_path, "mnist", tmp_path / "data")))
    assert rc == 2 and words in out and paths[role].name.removesuffix(".gz") in out, out


def test_a_wrong_checksum_exits_2_naming_the_file(tmp_path, capsys, monkeypatch) -> None:
    write_idx_set(tmp_path / "data", "fashion_mnist", idx_arrays(100, 50))
    publish(monkeypatch, tmp_path / "data", keys=["fashion_mnist/train-images-idx3-ubyte.gz"])  # the others: real sums
    rc, out = check(capsys, str(spec_file(tmp_path, "fashion_mnist", tmp_path / "data")))
    assert rc == 2 and "train-labels-idx1-ubyte.gz" in out and "checksum" in out and "bb300cfd" not in out, out
    assert "25c81989df183df01b3e8a0aad5dffbe" in out  # the published sum it was compared with


@pytest.mark.parametrize("case", ["truncated", "member", "label"])
def test_a_bad_cifar_file_exits_2_naming_it(tmp_path, monkeypatch, capsys, case: str) -> None:
    batches = cifar_batches(20)
    if case == "truncated":
        batches["data_batch_3.bin"] = batches["data_batch_3.bin"][:-100]
    elif case == "member":
        del batches["test_batch.bin"]
    else:
        b = bytearray(batches["data_batch_2.bin"])
        b[3073 * 4] = 10
        batches["data_batch_2.bin"] = bytes(b)
    write_cifar(tmp_path / "data", batches)
    publish(monkeypatch, tmp_path / "data")
    rc, out = check(capsys, str(spec_file(tmp_path, "cifar10", tmp_path / "data")))
    words = {"truncated": "data_batch_3.bin: 61360 bytes", "member": "no member cifar-10-batches-bin/test_batch.bin",
             "label": "data_batch_2.bin: record 4 has label 10"}[case]
    assert rc == 2 and "cifar-10-binary.tar.gz" in out and words in out, out


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_files_name_the_file_and_the_fetch_command(tmp_path, capsys, monkeypatch, name: str) -> None:
    monkeypatch.setenv("LYSEP_DATA", str(tmp_path / "nowhere"))
    spec = spec_file(tmp_path, name, tmp_path / "nowhere").read_text().replace(f'root = "{tmp_path / "nowhere"}"\n', "")
    (tmp_path / "env.toml").write_text(spec)
    rc, out = check(capsys, str(tmp_path / "env.toml"))  # no [data] root: LYSEP_DATA
    assert rc == 2 and str(tmp_path / "nowhere" / name) in out and f"lysep data fetch {name}" in out, out


CONFIGS = {"mnist_mlp.toml": "mnist", "fashion_mnist_cnn.toml": "fashion_mnist", "cifar10_cnn.toml": "cifar10"}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_lysep_check_accepts_the_configs_when_their_files_exist(tmp_path, monkeypatch, capsys, config: str) -> None:
    name = CONFIGS[config]
    if name == "cifar10":
        write_cifar(tmp_path, cifar_batches(60))
    else:
        write_idx_set(tmp_path, name, idx_arrays(200, 100))
    publish(monkeypatch, tmp_path)
    monkeypatch.setenv("LYSEP_DATA", str(tmp_path))
    path = str(ROOT / "configs" / config)
    rc, out = check(capsys, path, "--set", "data.n_train=100", "--set", "data.n_test=50")
    assert rc == 0 and "is valid" in out, out
    rc, out = check(capsys, path)  # at full size the generated files are too small: named, exit 2
    assert rc == 2 and "n_train" in out, out
    monkeypatch.setenv("LYSEP_DATA", str(tmp_path / "empty"))
    rc, out = check(capsys, path, "--set", "data.n_train=100", "--set", "data.n_test=50")
    assert rc == 2 and f"lysep data fetch {name}" in out, out


# ------------------------------------------------------------------ lysep data fetch


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A loopback file server that honours ``Range: bytes=N-`` (206) and can cut a response short."""

    cut: dict[str, int] = {}
    ranges: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.directory) / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if self.headers.get("Range"):
            self.ranges.append(self.headers["Range"])
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        body = data[start:]
        limit = self.cut.pop(path.name, None)
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if limit is None else body[:limit])


@pytest.fixture
def server(tmp_path):
    files = tmp_path / "served"
    files.mkdir()
    handler = lambda *a, **k: RangeHandler(*a, directory=str(files), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield files, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_fetch_offline_says_so_and_exits_2(tmp_path, capsys) -> None:
    rc = main(["data", "fetch", "mnist", "--root", str(tmp_path), "--mirror", "http://127.0.0.1:9/", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach http://127.0.0.1:9/train-images-idx3-ubyte.gz" in err
    assert "needs internet access" in err and str(tmp_path / "mnist") in err


def test_fetch_downloads_verifies_and_resumes(tmp_path, monkeypatch, capsys, server) -> None:
    served, url = server
    write_idx_set(served.parent / "gen", "mnist", idx_arrays(300, 10))
    for f in (served.parent / "gen" / "mnist").iterdir():
        (served / f.name).write_bytes(f.read_bytes())
    publish(monkeypatch, served.parent / "gen")
    RangeHandler.cut["train-images-idx3-ubyte.gz"] = 1000  # the connection breaks after 1000 bytes
    root = tmp_path / "root"
    fetch = ["data", "fetch", "mnist", "--root", str(root), "--mirror", url, "--quiet"]
    rc = main(fetch)
    err = capsys.readouterr().err
    part = root / "mnist" / "train-images-idx3-ubyte.gz.part"
    assert rc == 2 and "closed after 1000 of" in err and "rerun to resume" in err, err
    assert part.stat().st_size == 1000
    RangeHandler.ranges.clear()
    rc = main(fetch)  # resumes: asks for the rest only
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert RangeHandler.ranges[0] == "bytes=1000-"
    for f in served.iterdir():
        assert (root / "mnist" / f.name).read_bytes() == f.read_bytes()
    assert "downloaded, md5 checksum verified" in out.out and not part.exists()
    assert main(fetch) == 0 and "present" in capsys.readouterr().out
    assert load_dataset("mnist", n_train=20, n_test=10, seed=0, root=root).x_train.shape == (20, 784)


def test_fetch_refuses_a_download_with_the_wrong_checksum(tmp_path, capsys, server) -> None:
    served, url = server
    (served / "cifar-10-binary.tar.gz").write_bytes(gzip.compress(b"not the archive"))
    rc = main(["data", "fetch", "cifar10", "--root", str(tmp_path), "--mirror", url, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "not the published c32a1d4ab5d03f1284b67883e8d87530" in err and "deleted" in err
    assert not any((tmp_path / "cifar10").iterdir())
    assert main(["data", "fetch", "circle", "--quiet"]) == 2
