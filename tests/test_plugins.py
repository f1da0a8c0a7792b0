"""Plugins fail safely: a method package whose import fails, whose name clashes with a built-in or whose step raises
is named with its reason, and breaks nothing that does not use it (issue 28, item 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from plugin_dist import install, lysep

BROKEN = "import a_module_that_is_not_installed_anywhere\n"
CLASH = '''from lysep.methods import BASELINE, Method


class Impostor(Method):
    """Claims a built-in method's name."""

    name = "adam"
    family = BASELINE
'''
RAISES = '''from lysep.methods import BASELINE, Method, State


class Raises(Method):
    """Fails at its second iteration."""

    name = "raises"
    family = BASELINE

    def init(self, problem, params, seeds):
        import torch

        return State([(w.clone(), b.clone()) for w, b in params], torch.zeros(len(seeds), dtype=torch.float64),
                     {"calls": 0})

    def step(self, problem, state):
        state.extra["calls"] += 1
        if state.extra["calls"] == 2:
            raise ArithmeticError("the plugin's step gave up at iteration 2")
        state.grad_evals += 1.0
'''
SPEC = """
name = "plugins"
[data]
dataset = "circle"
n_train = 60
n_test = 30
[model]
[grid]
depth = [1]
width = [3]
seeds = 2
[budget]
iterations = 4
[[method]]
name = "{name}"
[[method]]
name = "gd"
"""


def test_a_broken_plugin_breaks_no_command_that_does_not_use_it(tmp_path: Path) -> None:
    site = install(tmp_path / "site", "broken-lysep-plugin", "0.3.1", {"broken_plugin.py": BROKEN},
                   {"brokenmethod": "broken_plugin:Method"})
    assert lysep(["--help"], site).returncode == 0
    listed = lysep(["methods"], site)
    assert listed.returncode == 0, listed.stderr
    block = listed.stdout.split("\n\n")[-1]
    assert block.startswith("brokenmethod: UNAVAILABLE")
    assert "entry point: brokenmethod = broken_plugin:Method (distribution broken-lysep-plugin 0.3.1)" in block
    assert "ModuleNotFoundError: No module named 'a_module_that_is_not_installed_anywhere'" in block
    assert "adam: " in listed.stdout and "Traceback" not in listed.stderr
    entries = json.loads(lysep(["methods", "--json"], site).stdout)
    broken = [e for e in entries if not e["available"]]
    assert [e["name"] for e in broken] == ["brokenmethod"] and "ModuleNotFoundError" in broken[0]["error"]
    assert broken[0]["distribution"] == "distribution broken-lysep-plugin 0.3.1"
    # a spec that does not use it runs; one that does exits 2 naming the method, the entry point and the error
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name="adam"))
    assert lysep(["check", str(spec)], site).returncode == 0
    spec.write_text(SPEC.format(name="brokenmethod"))
    checked = lysep(["check", str(spec)], site)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    assert ("method[0].name = \"brokenmethod\": method 'brokenmethod' is unavailable: entry point 'brokenmethod = "
            "broken_plugin:Method' of distribution broken-lysep-plugin 0.3.1 failed: ModuleNotFoundError: No module "
            "named 'a_module_that_is_not_installed_anywhere'") in checked.stderr
    ran = lysep(["run", str(spec), "--out", str(tmp_path / "out")], site)
    assert ran.returncode == 2 and "brokenmethod" in ran.stderr and not (tmp_path / "out").exists()


def test_a_name_clash_is_reported_like_a_broken_plugin_and_the_built_in_stays(tmp_path: Path) -> None:
    site = install(tmp_path / "site", "clash", "1.0", {"clash_plugin.py": CLASH}, {"adam": "clash_plugin:Impostor"})
    listed = lysep(["methods", "--json"], site)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    clash = [e for e in entries if not e["available"]]
    assert [e["name"] for e in clash] == ["adam"] and "clashes" in clash[0]["error"]
    assert clash[0]["entry_point"] == "adam = clash_plugin:Impostor"
    adam = [e for e in entries if e["available"] and e["name"] == "adam"]
    assert adam and adam[0]["description"] != "Claims a built-in method's name."


def test_a_method_that_raises_shows_its_exception_in_the_terminal_and_the_report(tmp_path: Path) -> None:
    site = install(tmp_path / "site", "raising", "0.1", {"raising_plugin.py": RAISES},
                   {"raises": "raising_plugin:Raises"})
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(name="raises"))
    out = tmp_path / "out"
    ran = lysep(["run", str(spec), "--out", str(out), "--quiet"], site)
    assert ran.returncode == 1, ran.stderr
    message = "ArithmeticError: the plugin's step gave up at iteration 2"
    assert f"failed: raises d1 w3 seeds 0, 1: {message}" in ran.stdout
    runs = pd.read_parquet(out / "runs.parquet")
    assert set(runs.loc[runs.method == "raises", "error"]) == {message}
    md = (out / "report.md").read_text()
    section = md[md.index("## Failed runs"):]
    assert f"| raises | 1 | 3 | 0, 1 | {message} |" in section
    assert "gd" not in section.split("\n## ")[0].split("|", 1)[1]  # only the failed method is listed
