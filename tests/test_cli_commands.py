"""The discovery commands: ``lysep check SPEC``, ``lysep methods``, ``lysep datasets`` (and ``lysep --help``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lysep.commands.main import main
from lysep.datasets import dataset_names
from lysep.harness.spec import default_spec_path
from lysep.methods import METHODS

from helpers import load_script

DATA = Path(__file__).parent / "data"
BAD_SPECS = sorted((DATA / "bad").glob("*.toml")) + sorted((DATA / "bad_specs").glob("*.toml"))
COMMANDS = ("run", "tune", "report", "bench", "check", "methods", "datasets")


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", out, re.MULTILINE), (command, out)  # listed with its help


# ---------------------------------------------------------------------------- check


def test_check_summarizes_the_default_spec_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"{default_spec_path()}: spec 'quick' is valid; data and models built "
                      "(nothing run, nothing written)")
    rows = dict(line.split(None, 1) for line in out[1:])
    assert rows["data"] == ("circle (n_train = 2000, n_test = 1000, seed = 0, noise = 0.0): 2000 train / 1000 test "
                            "samples, 2 features, 2 classes")
    assert rows["model"] == 'fnn, activation = "tanh", dtype = "float32"'
    assert rows["grid"] == "depth [2, 3, 4] x width [10, 20] = 6 cells"
    assert rows["methods"] == "lysep, adam, sgd"
    assert rows["runs"] == "6 cells x 3 methods x 10 seeds = 180 runs"
    assert rows["budget"].startswith("iterations = 200, ")
    assert rows["results"].startswith(str(Path("results") / "quick") + " ")
    assert list(tmp_path.iterdir()) == []


def test_check_takes_seeds_and_shows_images_labels_and_the_cnn(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "cnn.toml"
    spec.write_text('name = "cnn"\n[data]\ndataset = "digits"\nn_train = 300\nn_test = 200\nnoise = 0.5\n'
                    '[model]\nkind = "cnn"\npool = [1]\n[grid]\ndepth = [2]\nwidth = [3, 4]\n'
                    '[budget]\nseconds = 2.0\n[[method]]\nname = "lysep"\n[[method]]\nname = "adam"\nlabel = "fast"\n'
                    'lr = 0.1\n')
    assert main(["check", str(spec), "--seeds", "7"]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines()[1:])
    # noise does not apply to digits: the summary shows only the keys the dataset declares
    assert rows["data"] == ("digits (n_train = 300, n_test = 200, seed = 0): 300 train / 200 test samples, "
                            "1x8x8 images, 10 classes")
    assert rows["model"] == 'cnn, activation = "tanh", dtype = "float32", pool = [1]'
    assert rows["methods"] == "lysep, fast (adam)"
    assert rows["runs"] == "2 cells x 2 methods x 7 seeds = 28 runs"
    assert rows["budget"] == "seconds = 2.0, eval_every = 10, record_every = 1"
    assert list(tmp_path.iterdir()) == [spec]


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every malformed spec of tests/data, next to the bad .npz files that tests/data/bad's specs name."""
    folder = tmp_path_factory.mktemp("bad")
    for path in BAD_SPECS:
        shutil.copy(path, folder / path.name)
    load_script(DATA / "bad" / "make_bad_npz.py").write_all(folder)
    return folder


@pytest.mark.parametrize("name", [p.name for p in BAD_SPECS])
def test_check_refuses_what_run_refuses_with_the_same_message(bad_corpus: Path, tmp_path: Path, capsys,
                                                              name: str) -> None:
    spec, out = bad_corpus / name, tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--quiet", "--no-report"]) == 2
    run_err = capsys.readouterr().err
    assert main(["check", str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.err == run_err and str(spec) in captured.err
    assert captured.out == "" and "Traceback" not in captured.err
    assert not out.exists()


def test_check_refuses_bad_seeds_like_run_naming_the_flag(tmp_path: Path, capsys) -> None:
    """A value given as a flag is named as the flag, not as the spec key it overrides."""
    for command in (["check"], ["run", "--out", str(tmp_path / "out")]):
        assert main([*command, "--seeds", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "lysep: error: --seeds 0: expected an integer >= 1" and "grid.seeds" not in err
    assert not (tmp_path / "out").exists()


NO_TORCH = """
import sys
from lysep.commands.main import main
try:
    rc = main({argv!r})
except SystemExit as e:
    rc = e.code
print("torch" in sys.modules, rc, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["check"], ["check", "CORPUS/npz_label_nan.toml"],
                                  ["run", "CORPUS/npz_images_for_fnn.toml"], ["run", "--seeds", "0"],
                                  ["run", "--workers", "0"], ["run", "--device", "tpu"],
                                  ["check", str(DATA / "no_such_spec.toml")], ["tune", "--help"],
                                  ["tune", "CORPUS/npz_images_for_fnn.toml"], ["tune", "--workers", "0", "x.toml"],
                                  ["tune", str(DATA / "no_such_spec.toml")]])
def test_help_validation_and_bad_input_import_no_torch(argv: list[str], bad_corpus: Path, tmp_path: Path) -> None:
    """What answers before any work (help, a spec and its data and models checked, a refused flag or file) imports
    no torch, so that it answers at once (the latency itself is benchmarks/cli.py's)."""
    argv = [a.replace("CORPUS", str(bad_corpus)) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", NO_TORCH.format(argv=argv)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    torch_loaded, rc = proc.stderr.strip().splitlines()[-1].split()
    assert torch_loaded == "False", proc.stderr
    assert rc == ("0" if "--help" in argv or argv == ["check"] else "2"), proc.stderr


# ---------------------------------------------------------------------------- methods


def methods_json(capsys) -> list[dict]:
    assert main(["methods", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_methods_json_has_every_method_and_hyperparameter_with_type_default_and_range(capsys) -> None:
    entries = methods_json(capsys)
    assert [e["name"] for e in entries] == list(METHODS)
    for e in entries:
        cls = METHODS[e["name"]]
        assert e["description"] and e["description"] == cls.__doc__.strip().splitlines()[0]
        assert [h["name"] for h in e["hparams"]] == list(cls.HPARAMS)
        for h in e["hparams"]:
            hp = cls.HPARAMS[h["name"]]
            assert h["default"] == hp.default and type(h["default"]) is type(hp.default)
            assert h["type"] == hp.kind.__name__
            assert h["choices"] == (list(hp.choices) if hp.choices is not None else None)
            assert h["expect"] == (hp.expect or None)
            assert h["help"] == (hp.help or None)
        assert e["family"] == cls.family
        assert [m["name"] for m in e["metrics"]] == list(cls.METRICS)
        assert e["decrease_guaranteed_by_default"] == cls().decrease_guaranteed
    lysep = {h["name"]: h for h in entries[[e["name"] for e in entries].index("lysep")]["hparams"]}
    assert lysep["beta"]["type"] == "float" and lysep["u_steps"]["type"] == "int"
    assert lysep["schedule"]["choices"] and lysep["u_steps"]["expect"] == "an integer >= 1"


def test_methods_text_shows_each_hyperparameter_on_its_own_row(capsys) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    blocks = out.split("\n\n")
    assert len(blocks) == len(METHODS)
    for block, (name, cls) in zip(blocks, METHODS.items()):
        lines = block.splitlines()
        assert lines[0] == f"{name}: {cls.__doc__.strip().splitlines()[0]}"
        assert lines[1].startswith(f"  family: {cls.family}; decrease of J guaranteed with the defaults: ")
        assert lines[2].split() == ["hyperparameter", "type", "default", "allowed", "what"]
        rows = {line.split()[0]: line for line in lines[3:-1]}
        assert list(rows) == list(cls.HPARAMS)
        assert lines[-1].startswith("  default search space (lysep tune): ")
    assert re.search(r"^  nesterov +bool +false +true or false +Nesterov momentum", out, re.MULTILINE)
    assert re.search(r'^  schedule +str +"fixed" +one of: "fixed", ', out, re.MULTILINE)
    assert re.search(r"^  batch_size +int +none +an integer >= 1 +samples per minibatch", out, re.MULTILINE)


def test_methods_show_what_each_method_declares(capsys) -> None:
    lysep = next(e for e in methods_json(capsys) if e["name"] == "lysep")
    assert lysep["family"] == "alternating" and lysep["decrease_guaranteed_by_default"] is True
    assert {"name": "residual", "description": METHODS["lysep"].METRICS["residual"].description,
            "per_layer": True} in lysep["metrics"]
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert ("  family: alternating; decrease of J guaranteed with the defaults: yes; metrics: J, J_start, B, "
            "residual (per layer), beta (per layer)") in out
    assert "  family: baseline; decrease of J guaranteed with the defaults: no; metrics: none" in out
    adam = next(e for e in methods_json(capsys) if e["name"] == "adam")
    assert adam["search"] == {"lr": {"low": 1e-4, "high": 0.3, "scale": "log"}}
    assert main(["methods"]) == 0
    assert "  default search space (lysep tune): lr 0.0001..0.3 (log)" in capsys.readouterr().out


# ---------------------------------------------------------------------------- datasets


def test_datasets_json_lists_every_declaration(capsys) -> None:
    assert main(["datasets", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries] == list(dataset_names())
    by_name = {e["name"]: e for e in entries}
    assert by_name["circle"] == {"name": "circle", "description": by_name["circle"]["description"],
                                 "kind": "2-D synthetic", "keys": ["n_train", "n_test", "seed", "noise"],
                                 "images": False, "shape": [2], "image_shape": None, "n_classes": 2, "file": None,
                                 "files": [], "source": None}
    assert by_name["mnist"]["files"] and by_name["mnist"]["n_classes"] == 10
    assert by_name["gaussians"]["n_classes"] is None and "n_classes" in by_name["gaussians"]["keys"]
    assert by_name["digits"]["image_shape"] == [1, 8, 8] and by_name["digits"]["images"]
    assert by_name["npz"]["keys"] == ["path"] and by_name["npz"]["file"] == ".npz file"
    assert all(e["description"] for e in entries)


def test_datasets_text_says_samples_classes_keys_and_cnn(capsys) -> None:
    assert main(["datasets"]) == 0
    blocks = {b.split(":", 1)[0]: b.splitlines() for b in capsys.readouterr().out.split("\n\n")}
    assert list(blocks) == list(dataset_names())
    assert blocks["gaussians"][1:] == ["  kind: 2-D synthetic; samples: 2 features; classes: n_classes (default 3)",
                                       "  [data] keys: n_train, n_test, seed, noise, n_classes",
                                       '  CNN: no (2-D or flat features: model.kind = "fnn")']
    assert blocks["digits"][1:] == ["  kind: images; samples: 64 features, or 1x8x8 images; classes: 10",
                                    "  [data] keys: n_train, n_test, seed", "  CNN: yes"]
    assert blocks["npz"][2:] == ["  [data] keys: path (of a .npz file)",
                                 "  CNN: yes, when the .npz file holds images (N, C, H, W)"]


def test_datasets_imports_no_torch() -> None:
    code = ("import sys; from lysep.commands.main import main; rc = main(['datasets']); "
            "print('torch' in sys.modules, 'pandas' in sys.modules, rc, file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert proc.stderr.strip() == "False False 0"
    assert "circle:" in proc.stdout
