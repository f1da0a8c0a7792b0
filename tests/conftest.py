"""Shared fixtures."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest
import torch

from lysep.core.problem import Problem

from helpers import circle_arrays


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker (scripts/test.sh runs one per core): one torch thread here and, unless the user chose
    otherwise, in every process the tests start (OMP_NUM_THREADS: lysep's default ``--threads``), so the workers
    never compete for a core; two torch processes of two threads each on two cores run 20 times slower."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        given = os.environ["OMP_NUM_THREADS"]
        if given.isdigit() and int(given) >= 1:  # OpenMP's nested form ("4,2") is left to OpenMP
            torch.set_num_threads(int(given))


@pytest.fixture
def circle64() -> Problem:
    x, y = circle_arrays(200, 0)
    xt, yt = circle_arrays(100, 1)
    return Problem.from_arrays(x, y, xt, yt, dtype=torch.float64)


def git_state(root: Path) -> tuple[frozenset[str], str] | None:
    """(the worktrees registered in ``root``'s repository, ``root``'s HEAD), or None where git or the repository
    is missing (an unpacked sdist)."""
    try:
        listed = subprocess.run(["git", "worktree", "list", "--porcelain"], cwd=root, capture_output=True, text=True,
                                timeout=60)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode or head.returncode:
        return None
    trees = frozenset(line.removeprefix("worktree ") for line in listed.stdout.splitlines()
                      if line.startswith("worktree "))
    return trees, head.stdout.strip()


def git_changes(before: tuple | None, after: tuple | None, places: list[Path]) -> list[str]:
    """What a test session did to the repository: worktrees registered under ``places`` (the session's temporary
    folders, lysep's cache) and a moved HEAD. Worktrees elsewhere are not the tests' (other checkouts of the same
    repository add theirs meanwhile)."""
    if before is None or after is None:
        return []
    new = sorted(t for t in after[0] - before[0] if any(Path(t).is_relative_to(p) for p in places))
    out = [f"a worktree was registered at {t}" for t in new]
    if after[1] != before[1]:
        out.append(f"HEAD moved from {before[1]} to {after[1]}")
    return out


@pytest.fixture(scope="session", autouse=True)
def the_projects_git_is_left_alone(tmp_path_factory: pytest.TempPathFactory):
    """Tests build their own git repositories (``helpers.git_repo``): after the session, the project's repository
    has no worktree in the session's temporary folders or lysep's cache, and its HEAD where it was."""
    root = Path(__file__).resolve().parent.parent
    before = git_state(root)
    yield
    places = [tmp_path_factory.getbasetemp().resolve(), Path.home() / ".cache" / "lysep"]
    changes = git_changes(before, git_state(root), places)
    assert not changes, f"the tests changed the project's repository {root}: " + "; ".join(changes)


@pytest.fixture
def repo_asv_lock():
    """Held for the whole test: the repository's .asv/ folder (asv_history.py publish writes .asv/html, load writes
    .asv/results) is used by one test at a time, whichever pytest-xdist process runs it (scripts/test.sh runs one
    per core). A lock file, not xdist's groups: pytest 9.2 ignores the node ids xdist 3.8 gives its groups."""
    folder = Path(__file__).resolve().parent.parent / ".asv"
    folder.mkdir(exist_ok=True)
    with open(folder / "tests.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
