"""The method protocol: a method declares what it is, and the runner, store and analysis only read the
declarations. Proof: a toy method that exists in this file only runs through `lysep run` and
`lysep report` with its metrics and properties in the tables. Plus the house rules that keep it so."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lysep.commands.main import main
from lysep.methods import BASELINE, METHODS, HParam, Method, Metric, State, register_method
from lysep.methods.base import positive

ROOT = Path(__file__).resolve().parent.parent
TOY = "toy-descent"


class ToyDescent(Method):
    """Gradient descent on F that reports the gradient norm and each layer's weight norm."""

    name = TOY
    family = BASELINE
    HPARAMS = {"lr": HParam(float, 0.2, **positive(), help="step size")}
    METRICS = {"grad_norm": Metric("norm of the gradient of F at the iteration's start"),
               "weight_norm": Metric("Frobenius norm of W_l", per_layer=True)}

    def init(self, problem, params, seeds):
        import torch

        return State([(w.clone(), b.clone()) for w, b in params], torch.zeros(len(seeds), dtype=torch.float64),
                     {"grad_norm": torch.full((len(seeds),), float("nan"), dtype=torch.float64)})

    def step(self, problem, state):
        import torch

        from lysep.core.optim import flat, loss_and_grads, unflat

        _, grads = loss_and_grads(state.params, problem.x_train, problem.y_train, self.activation)
        state.extra["grad_norm"] = torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))
        state.params = unflat([p - self.hp["lr"] * g for p, g in zip(flat(state.params), grads)])
        state.grad_evals += 1.0

    def metrics(self, problem, state):
        import torch

        norms = torch.stack([w.flatten(1).norm(dim=1) for w, _ in state.params[:-1]], dim=1)
        return {"grad_norm": state.extra["grad_norm"], "weight_norm": norms}


SPEC = f"""
name = "toy"
[data]
dataset = "circle"
n_train = 120
n_test = 60
[model]
[grid]
depth = [2]
width = [4]
seeds = 3
[budget]
iterations = 6
target_ce = 0.3
eval_every = 3
[[method]]
name = "lysep"
[[method]]
name = "{TOY}"
lr = 0.3
[[method]]
name = "adam"
"""


@pytest.fixture
def toy_registered():
    register_method(ToyDescent)
    yield
    del METHODS[TOY]


def test_a_method_defined_only_here_runs_through_lysep_run_and_report(tmp_path, toy_registered, capsys) -> None:
    spec = tmp_path / "toy.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--quiet"]) == 0
    traces, runs = pd.read_parquet(out / "traces.parquet"), pd.read_parquet(out / "runs.parquet")
    toy_t, toy_r = traces[traces.method == TOY], runs[runs.method == TOY]
    # its declared metrics are trace columns (per layer: one column per layer), finite after iteration 0
    assert toy_t.loc[toy_t.iteration > 0, "grad_norm"].gt(0).all()
    assert toy_t[["weight_norm_1", "weight_norm_2"]].notna().all().all()
    assert traces.loc[traces.method != TOY, "grad_norm"].isna().all()
    # its properties and final metrics are in the runs table
    assert set(toy_r.family) == {BASELINE} and not toy_r.decrease_guaranteed.any()
    assert set(toy_r.metrics) == {"grad_norm,weight_norm"} and not toy_r.default_config.any()
    np.testing.assert_allclose(toy_r.sort_values("seed").final_grad_norm,
                               toy_t.groupby("seed").grad_norm.last().to_numpy())
    # the report reads the declarations: the toy is a baseline, and its metric is reported
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert f"| {TOY} | {TOY} | lr=0.3 | baseline | no | grad_norm,weight_norm |" in md
    section = md[md.index("## Metrics the methods declare"):md.index("## Paired comparisons")]
    assert f"### {TOY}" in section and "grad_norm" in section and "### lysep" in section
    compared = pd.read_csv(out / "tables" / "paired_comparisons.csv")
    assert set(compared.baseline) == {TOY, "adam"} and set(compared.method) == {"lysep"}
    capsys.readouterr()


def test_nothing_outside_this_file_knows_the_toy_method() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".py", ".md", ".toml") and path.name != Path(__file__).name and path.is_file():
            assert TOY not in path.read_text(encoding="utf-8", errors="replace"), name


def test_a_method_is_checked_against_the_model_before_any_work(tmp_path, capsys) -> None:
    spec = tmp_path / "cnn.toml"
    spec.write_text(SPEC.replace('dataset = "circle"', 'dataset = "digits"').replace("[model]", '[model]\nkind = "cnn"')
                    .replace(f'name = "{TOY}"\nlr = 0.3', 'name = "lysep"\nlabel = "gn"\nw_solver = "gauss_newton"'))
    assert main(["run", str(spec), "--out", str(tmp_path / "out")]) == 2
    assert "method 'gn'" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_bad_declaration_is_refused_at_registration() -> None:
    class NoFamily(Method):
        name = "no-family"

    with pytest.raises(ValueError, match="family"):
        register_method(NoFamily)
    with pytest.raises(ValueError, match="already registered"):
        register_method(type("Other", (ToyDescent,), {"name": "lysep"}))


# ---------------------------------------------------------------------------------- house rules

#: the longest a function in lysep/ or analysis/ may be (issue: "smaller rooms")
MAX_FUNCTION_LINES = 60


def test_no_function_in_the_package_is_longer_than_60_lines() -> None:
    long = []
    for folder in ("lysep", "analysis"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_the_analysis_never_names_a_method() -> None:
    """Roles come from the declared properties: no method name appears as a string in analysis/."""
    names = set(METHODS)
    for path in sorted((ROOT / "analysis").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in names, f"{path.name}:{node.lineno} names the method {node.value!r}"


def test_the_named_choices_are_the_implementations() -> None:
    """lysep.core.choices (torch-free, what specs validate against) names exactly what the torch-side modules do."""
    import torch

    from lysep.core import choices, inner, schedules
    from lysep.core.blocks import AutogradBlock
    from lysep.core.objectives import layer_norms

    assert tuple(inner.SOLVERS) == choices.SOLVERS
    params = [(torch.ones(2, 3, 3), torch.zeros(2, 3)), (torch.ones(2, 2, 3), torch.zeros(2, 2))]
    for name in choices.SCHEDULES:
        betas = schedules.make_schedule(name, beta=2.0, rho=1.5, beta_max=10.0, norm="frobenius",
                                        activation="tanh")(None, params)
        assert betas.shape == (2, 1)
    with pytest.raises(ValueError, match="expected one of: fixed, adaptive, continuation"):
        schedules.make_schedule("cosine", beta=1.0, rho=1.0, beta_max=1.0, norm="frobenius", activation="tanh")
    for norm in choices.NORMS:
        assert layer_norms(params, norm).shape == (2, 2)
    # the solvers called monotone never increase a block objective; adam can
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    block = AutogradBlock(lambda x: ((x[0] - target) ** 4).sum(1))
    start = [torch.randn(3, 5, generator=gen, dtype=torch.float64)]
    hp = {"armijo_c": choices.ARMIJO_C, "max_backtracks": 30, "damping": 1e-3}
    res = inner.SOLVERS["gd"](block, start, {"eta": torch.ones(3, dtype=torch.float64)}, 5, hp)
    assert (res.value <= res.start_value).all() and "gd" in choices.MONOTONE_SOLVERS
    res = inner.SOLVERS["adam"](block, start, {"lr": 10.0}, 3, hp)
    assert (res.value > res.start_value).any() and "adam" not in choices.MONOTONE_SOLVERS
