"""docs/methods.md is true: its template and its worked example are taken from the page itself, checked against
torch.optim, and the example, installed as a distribution with its entry point, goes through `lysep run`,
`lysep report`, `lysep compare --settings` and `lysep tune` (issue 28, item 1)."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import tomllib
import torch
import torch.nn.functional as tf
from plugin_dist import install, lysep

from lysep.core.model import ModelSpec, forward, init_params
from lysep.methods import METHODS, make_method, register_method

from helpers import random_problem

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "methods.md"


def files_of_the_page() -> dict[str, str]:
    """Every code block of docs/methods.md whose first line is ``# <file name>``: file name -> the block."""
    text = PAGE.read_text(encoding="utf-8")
    return {name: f"# {name}\n{body}" for name, body in re.findall(r"```\w+\n# (\S+)\n(.*?)```", text, flags=re.S)}


def module_from_page(name: str) -> types.ModuleType:
    """The page's block ``name`` as an imported module (so that its classes have a module, as in a real file)."""
    module = types.ModuleType(name.removesuffix(".py"))
    module.__file__ = str(PAGE)
    sys.modules[module.__name__] = module
    exec(compile(files_of_the_page()[name], f"docs/methods.md:{name}", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.fixture
def registered():
    added = []

    def register(cls):
        register_method(cls)
        added.append(cls.name)
        return cls

    yield register
    for name in added:
        del METHODS[name]


def reference_run(params, problem, optimizer, hp: dict, steps: int) -> list[list[torch.Tensor]]:
    """``steps`` of a torch.optim optimizer on the mean CE, one seed at a time (the independent reference)."""
    out = []
    for j in range(params[0][0].shape[0]):
        leaves = [t[j:j + 1].detach().clone().requires_grad_() for wb in params for t in wb]
        opt = optimizer(leaves, **hp)
        for _ in range(steps):
            opt.zero_grad()
            logits = forward([(leaves[i], leaves[i + 1]) for i in range(0, len(leaves), 2)], problem.x_train,
                             "tanh")[1][0]
            tf.cross_entropy(logits, problem.y_train).backward()
            opt.step()
        out.append([t.detach()[0] for t in leaves])
    return out


@pytest.mark.parametrize(("file", "name", "optimizer", "hp", "torch_hp"), [
    ("my_method.py", "heavy-ball", torch.optim.SGD, {"lr": 0.2, "momentum": 0.8}, {"lr": 0.2, "momentum": 0.8}),
    ("lysep_rmsprop.py", "rmsprop", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8},
     {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}),
])
def test_the_pages_methods_are_the_torch_optimizers_they_say(file, name, optimizer, hp, torch_hp,
                                                             registered) -> None:
    module = module_from_page(file)
    cls = next(c for c in vars(module).values() if isinstance(c, type) and getattr(c, "name", None) == name)
    registered(cls)
    problem = random_problem(n=40, d=3, k=3, dtype=torch.float64)
    params = init_params(ModelSpec.fnn(3, 2, 5, 3, "tanh"), [0, 1], torch.float64)
    method = make_method(name, activation="tanh", **hp)
    state = method.init(problem, params, [0, 1])
    for _ in range(4):
        method.step(problem, state)
    torch.testing.assert_close(state.grad_evals, torch.full((2,), 4.0, dtype=torch.float64))
    for j, expected in enumerate(reference_run(params, problem, optimizer, torch_hp, 4)):
        for got, want in zip([t[j] for wb in state.params for t in wb], expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(params[0], init_params(ModelSpec.fnn(3, 2, 5, 3, "tanh"), [0, 1],
                                                                          torch.float64)[0]))  # params not changed
    for metric in cls.METRICS:
        assert method.metrics(problem, state)[metric].shape == (2,)
    del sys.modules[module.__name__]


SPEC = """
name = "rms"
[data]
dataset = "circle"
n_train = 80
n_test = 40
[model]
[grid]
depth = [1]
width = [3, 4]
seeds = 2
[budget]
iterations = 4
[tune]
trials = 2
seeds = 1
first_seed = 100
[[method]]
name = "rmsprop"
lr = {lr}
[[method]]
name = "lysep"
"""


def test_the_worked_example_installed_as_a_package_runs_reports_compares_and_tunes(tmp_path: Path) -> None:
    files = files_of_the_page()
    project = tomllib.loads(files["pyproject.toml"])["project"]
    entry_points = project["entry-points"]["lysep.methods"]
    site = install(tmp_path / "site", project["name"], project["version"],
                   {"lysep_rmsprop.py": files["lysep_rmsprop.py"]}, entry_points)
    listed = lysep(["methods"], site)
    assert listed.returncode == 0, listed.stderr
    assert "rmsprop: RMSprop (torch.optim.RMSprop's update, no momentum) on the training cross-entropy" in listed.stdout
    assert ("  plugin: entry point rmsprop = lysep_rmsprop:RMSprop (distribution lysep-rmsprop 0.1.0)"
            in listed.stdout.split("\n\nrmsprop: ")[1])
    for lr in ("0.01", "0.003"):
        (tmp_path / f"rms-{lr}.toml").write_text(SPEC.format(lr=lr))
        ran = lysep(["run", str(tmp_path / f"rms-{lr}.toml"), "--out", str(tmp_path / lr), "--quiet"], site)
        assert ran.returncode == 0, ran.stderr
        assert "8 runs computed, 0 already stored, 0 failed" in ran.stdout
    runs = pd.read_parquet(tmp_path / "0.01" / "runs.parquet")
    rms = runs[runs.method == "rmsprop"]
    assert len(rms) == 4 and set(rms.family) == {"baseline"} and set(rms.status) == {"completed"}
    assert set(rms.method_code) == {f"lysep-rmsprop 0.1.0; source {rms.method_code.iloc[0].rsplit(' ', 1)[1]}"}
    assert lysep(["report", str(tmp_path / "0.01")], site).returncode == 0
    md = (tmp_path / "0.01" / "report.md").read_text()
    assert "| rmsprop | rmsprop | lr=0.01 | baseline | no |" in md
    compared = pd.read_csv(tmp_path / "0.01" / "tables" / "paired_comparisons.csv")
    assert set(compared.baseline) == {"rmsprop"} and set(compared.method) == {"lysep"}
    assert lysep(["compare", str(tmp_path / "0.01"), str(tmp_path / "0.003")], site).returncode == 2
    settings = lysep(["compare", str(tmp_path / "0.01"), str(tmp_path / "0.003"), "--settings"], site)
    assert settings.returncode in (0, 1), settings.stderr
    assert settings.stdout.startswith("settings: the specs differ in rmsprop: lr = 0.01 (base) vs 0.003 (new)\n")
    table = pd.read_csv(tmp_path / "0.003" / "compare" / "compare.csv")
    assert set(table[table.method == "lysep"].verdict) <= {"identical", "slower", "faster"}
    assert not set(table[(table.method == "rmsprop") & table.counts].verdict) & {"identical"}
    tuned = lysep(["tune", str(tmp_path / "rms-0.01.toml"), "--out", str(tmp_path / "tuning"), "--quiet",
                   "--no-report"], site)
    assert tuned.returncode == 0, tuned.stderr
    spec = tomllib.loads((tmp_path / "tuning" / "tuned.toml").read_text())
    rms_tuned = next(m for m in spec["method"] if m["name"] == "rmsprop")
    assert 1e-4 <= rms_tuned["lr"] <= 0.1  # from the example's SEARCH (or its reference setting, 0.01)
