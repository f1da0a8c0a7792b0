"""The house in layers (docs/architecture.md): every module in a layer of the import contract, the contract
enforced (an upward import or a cycle breaks it), library code that raises instead of exiting, a public API
at the package root."""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
LAYERS = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]
LAYER_PACKAGES = [name.strip() for layer in LAYERS for name in layer.split("|")]
#: the layers whose code is a library: it raises, the commands print and exit
LIBRARY = [p for p in LAYER_PACKAGES if p != "lysep.commands"]


def package_dir(name: str) -> Path:
    return ROOT.joinpath(*name.split("."))


def test_every_module_of_lysep_lies_in_a_layer() -> None:
    top = sorted(p.name for p in (ROOT / "lysep").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "__main__.py"]
    packages = sorted(f"lysep.{p.name}" for p in (ROOT / "lysep").iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(p for p in LAYER_PACKAGES if p.startswith("lysep."))
    assert "analysis" in LAYER_PACKAGES and len(LAYERS) >= 4


def test_the_layers_are_in_the_documented_order() -> None:
    assert LAYERS == ["lysep.commands", "lysep.measure", "analysis", "lysep.harness",
                      "lysep.methods | lysep.datasets", "lysep.core"]
    cycles = next(c for c in CONTRACTS if c["type"] == "acyclic_siblings")
    assert cycles["ancestors"] == ["lysep", "analysis"]


def _lint(tree: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    return subprocess.run([exe], cwd=tree, capture_output=True, text=True, timeout=300,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(tree)})


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the two packages and pyproject.toml, to break the contract in."""
    out = tmp_path_factory.mktemp("layers")
    for name in ("lysep", "analysis"):
        shutil.copytree(ROOT / name, out / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", out / "pyproject.toml")
    return out


def test_the_contract_holds_for_the_repository() -> None:
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("lysep/core/model.py", "from lysep.methods import base", "layers"),       # mathematics importing upward
    ("lysep/harness/store.py", "import analysis.report", "layers"),            # the harness importing the analysis
    ("lysep/core/model.py", "from lysep.core import am", "cycles"),            # model <-> am
    ("analysis/sections.py", "from analysis import report", "cycles"),         # report <-> sections
])
def test_an_upward_import_or_a_cycle_breaks_the_contract(tree: Path, module: str, line: str, broken: str) -> None:
    path = tree / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # noqa\n")
        proc = _lint(tree)
    finally:
        path.write_text(original)
    assert proc.returncode != 0
    name = "lysep's layers" if broken == "layers" else "no cycles among the modules"
    status = re.search(re.escape(name) + r".*?\b(KEPT|BROKEN)\b", proc.stdout, re.S)
    assert status is not None and status.group(1) == "BROKEN", proc.stdout


def _exits_outside_main(path: Path) -> list[str]:
    """Calls of sys.exit/exit/quit in a module, except under ``if __name__ == "__main__":``."""
    tree = ast.parse(path.read_text())
    main_blocks = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    inside = {id(c) for b in main_blocks for c in ast.walk(b)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in inside:
            name = ast.unparse(node.func)
            if name in ("sys.exit", "exit", "quit", "os._exit"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    return found


def test_library_code_raises_and_only_the_commands_exit() -> None:
    found = [row for package in LIBRARY for path in sorted(package_dir(package).rglob("*.py"))
             for row in _exits_outside_main(path)]
    assert found == []
    # the error line and the exit codes live in the command layer only
    for package in LIBRARY:
        for path in package_dir(package).rglob("*.py"):
            assert "lysep: error:" not in path.read_text(), path


def test_the_public_api_resolves_from_the_package_root() -> None:
    import lysep

    for name, module in lysep.PUBLIC.items():
        assert getattr(lysep, name) is getattr(importlib.import_module(module), name)
    with pytest.raises(AttributeError):
        lysep.no_such_name  # noqa: B018


def test_importing_the_package_root_imports_no_torch() -> None:
    code = "import sys, lysep; print('torch' in sys.modules, 'pandas' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.stdout.split() == ["False", "False"], proc.stderr
