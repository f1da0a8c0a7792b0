"""The README's two setup commands, .ci/run and the scripts behind them (scripts/_env.sh, setup.sh, lysep).

The scripts' environment logic is checked with fake interpreters in a temporary copy of the
scripts, so nothing here installs anything.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: lines of .ci/run that only prepare the shell, not commands the README shows
CI_PREAMBLE = ("set", "cd", "export")


def readme_commands() -> list[list[str]]:
    """The commands (as shell words, comments dropped) of the README's fenced bash block naming scripts/setup.sh."""
    blocks = [body for lang, body in FENCE.findall((ROOT / "README.md").read_text()) if lang in ("bash", "sh")
              and "scripts/setup.sh" in body]
    assert len(blocks) == 1, f"expected one bash block naming scripts/setup.sh in README.md, found {len(blocks)}"
    return [words for line in blocks[0].splitlines() if (words := shlex.split(line, comments=True))]


def ci_commands() -> list[list[str]]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [words for line in lines if (words := shlex.split(line, comments=True))]


def test_readme_has_the_two_commands_setup_and_run_then_test() -> None:
    cmds = readme_commands()
    assert len(cmds) == 2, cmds
    assert cmds[0][:3] == ["bash", "scripts/setup.sh", "&&"], cmds[0]
    assert cmds[1] == ["bash", "scripts/test.sh"], cmds[1]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = readme_commands()[1]
    ci = ci_commands()
    assert ci[-1] == test_command, f".ci/run ends with {shlex.join(ci[-1])}, the README says {shlex.join(test_command)}"
    extra = [shlex.join(c) for c in ci[:-1] if c[0] not in CI_PREAMBLE]
    assert not extra, f".ci/run runs more than the README's test command: {extra}"
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_the_readme_run_command_is_the_launcher() -> None:
    assert readme_commands()[0][3:] == ["scripts/lysep", "run"]


def test_every_script_the_readme_names_exists_and_the_launcher_is_executable() -> None:
    for word in {w for cmd in readme_commands() for w in cmd if w.startswith("scripts/")} | {"scripts/lysep"}:
        assert (ROOT / word).is_file(), word
    mode = (SCRIPTS / "lysep").stat().st_mode
    assert mode & stat.S_IXUSR and mode & stat.S_IXOTH, oct(mode)
    assert (SCRIPTS / "lysep").read_text().startswith("#!/usr/bin/env bash\n")


def test_every_script_parses() -> None:
    for path in [*SCRIPTS.glob("*.sh"), SCRIPTS / "lysep", ROOT / ".ci" / "run"]:
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{path}: {proc.stderr}"


# ---------------------------------------------------------------------------- the launcher, for real


def active_env() -> dict[str, str]:
    """This test process's environment, marked active the way `activate` does (VIRTUAL_ENV, PATH)."""
    if sys.prefix == sys.base_prefix and not os.environ.get("CONDA_PREFIX"):
        pytest.skip("the tests do not run in a virtualenv or conda environment")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH")}
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    else:
        env["CONDA_PREFIX"] = os.environ["CONDA_PREFIX"]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("cwd", ["root", "elsewhere"])
def test_the_launcher_runs_this_checkouts_cli(cwd: str, tmp_path: Path) -> None:
    proc = subprocess.run([str(SCRIPTS / "lysep"), "--help"], cwd=ROOT if cwd == "root" else tmp_path,
                          capture_output=True, text=True, timeout=120, env=active_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: lysep")
    for command in ("run", "report", "bench", "check", "methods", "datasets"):
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.MULTILINE), (command, proc.stdout)


# ---------------------------------------------------------------------------- environment selection, with fakes


FAKE_PYTHON = """#!/usr/bin/env bash
# stands in for an environment's python: says who it is and what it was asked
echo "fake python of {who}: $* | PYTHONPATH=$PYTHONPATH"
"""
FAKE_ACTIVATE = """export VIRTUAL_ENV="{prefix}"
export PATH="$VIRTUAL_ENV/bin:$PATH"
"""
# Ubuntu 24.04's python3 without python3-venv: venv half-makes the folder, then fails on ensurepip
FAKE_PYTHON3_NO_VENV = """#!/usr/bin/env bash
if [[ "$1" == -m && "$2" == venv ]]; then
  mkdir -p "$3/bin" && touch "$3/pyvenv.cfg" && ln -sf "{real}" "$3/bin/python3"
  cat <<'MSG'
The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.12-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.
MSG
  exit 1
fi
exec "{real}" "$@"
"""


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A temporary copy of the scripts (nothing else: the fakes never reach Python code)."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("_env.sh", "setup.sh", "lysep"):
        shutil.copy2(SCRIPTS / name, root / "scripts" / name)
    return root


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No active environment; PATH = a folder for fakes, then the system's."""
    env = {"HOME": str(tmp_path), "PATH": f"{tmp_path / 'fakebin'}:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
    return {**env, **extra}


def launch(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(repo / "scripts" / "lysep"), *args], cwd=repo.parent, capture_output=True, text=True,
                          timeout=60, env=env)


def test_the_launcher_without_an_environment_says_to_run_setup(repo: Path, tmp_path: Path) -> None:
    proc = launch(repo, bare_env(tmp_path), "run")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "lysep: no environment yet: run bash scripts/setup.sh first"
    assert not proc.stdout


@pytest.mark.parametrize("var", ["VIRTUAL_ENV", "CONDA_PREFIX"])
def test_the_launcher_uses_an_active_environment_as_it_is(var: str, repo: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "someenv"
    executable(prefix / "bin" / "python", FAKE_PYTHON.format(who="someenv"))
    (repo / ".venv" / "bin").mkdir(parents=True)  # a project .venv exists too: the active one wins
    executable(repo / ".venv" / "bin" / "python", FAKE_PYTHON.format(who=".venv"))
    (repo / ".venv" / "bin" / "activate").write_text(FAKE_ACTIVATE.format(prefix=repo / ".venv"))
    proc = launch(repo, bare_env(tmp_path, **{var: str(prefix)}), "run", "--seeds", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fake python of someenv: -m lysep run --seeds 2 | PYTHONPATH={repo}"


def test_the_launcher_activates_the_project_venv(repo: Path, tmp_path: Path) -> None:
    executable(repo / ".venv" / "bin" / "python", FAKE_PYTHON.format(who=".venv"))
    (repo / ".venv" / "bin" / "activate").write_text(FAKE_ACTIVATE.format(prefix=repo / ".venv"))
    proc = launch(repo, bare_env(tmp_path, PYTHONPATH="/x"), "datasets")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"fake python of .venv: -m lysep datasets | PYTHONPATH={repo}:/x"


def test_the_launcher_refuses_a_broken_active_environment(repo: Path, tmp_path: Path) -> None:
    proc = launch(repo, bare_env(tmp_path, VIRTUAL_ENV=str(tmp_path / "gone")), "run")
    assert proc.returncode == 2
    assert f"the active virtualenv {tmp_path / 'gone'} has no bin/python" in proc.stderr


def test_setup_says_what_to_install_when_python3_cannot_make_a_venv(repo: Path, tmp_path: Path) -> None:
    """No active environment and a python3 whose venv lacks ensurepip (Ubuntu without python3-venv)."""
    executable(tmp_path / "fakebin" / "python3", FAKE_PYTHON3_NO_VENV.format(real=sys.executable))
    proc = subprocess.run(["bash", str(repo / "scripts" / "setup.sh")], capture_output=True, text=True, timeout=60,
                          env=bare_env(tmp_path))
    assert proc.returncode == 1
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "ensurepip is not\navailable" in proc.stderr  # venv's own words are shown
    assert "sudo apt install python3-venv" in proc.stderr
    assert f"python{version}-venv" in proc.stderr
    assert "then run bash scripts/setup.sh again" in proc.stderr
    assert not (repo / ".venv").exists()  # the half-made environment is gone
    assert "pip" not in proc.stdout + proc.stderr.replace("ensurepip", "")  # nothing was installed


def test_setup_without_python3_says_so(repo: Path, tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    env["PATH"] = str(tmp_path / "fakebin")  # no python3 anywhere; bash's builtins suffice up to the check
    (tmp_path / "fakebin").mkdir()
    for tool in ("dirname",):
        os.symlink(shutil.which(tool), tmp_path / "fakebin" / tool)
    proc = subprocess.run(["/bin/bash", str(repo / "scripts" / "setup.sh")], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 1
    assert "setup: error: no python3 on PATH (lysep needs Python >= 3.10)" in proc.stderr
    assert not (repo / ".venv").exists()
