"""CI runs the browser tests: scripts/test.sh gets Chromium or, in CI, stops; tests/browser.py fails instead of
skipping in CI. scripts/test.sh runs in a temporary copy with fakes (nothing is installed, no real test runs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import browser
import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_PYTHON = '#!/bin/sh\necho "fake python: $*"\n'


def _exe(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def _run_test_sh(tmp_path: Path, uid: int, chromium: bool, **env: str) -> subprocess.CompletedProcess:
    """scripts/test.sh in a copy whose setup.sh does nothing, with an active fake environment whose python only
    echoes, a fake ``id -u`` and (if ``chromium``) a fake chromium: PATH holds nothing else but bash and dirname."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("test.sh", "_env.sh"):
        shutil.copy2(ROOT / "scripts" / name, repo / "scripts" / name)
    (repo / "scripts" / "setup.sh").write_text("exit 0\n")
    _exe(tmp_path / "venv" / "bin" / "python", FAKE_PYTHON)
    fakebin = tmp_path / "fakebin"
    _exe(fakebin / "id", f"#!/bin/sh\necho {uid}\n")
    for tool in ("bash", "dirname"):
        (fakebin / tool).symlink_to(shutil.which(tool))
    if chromium:
        _exe(fakebin / "chromium", "#!/bin/sh\nexit 0\n")
    base = {"PATH": str(fakebin), "HOME": str(tmp_path), "VIRTUAL_ENV": str(tmp_path / "venv"), "LC_ALL": "C.UTF-8"}
    return subprocess.run([shutil.which("bash"), "scripts/test.sh", "-k", "x"], cwd=repo, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_in_ci_test_sh_stops_when_no_browser_can_be_had(tmp_path: Path) -> None:
    proc = _run_test_sh(tmp_path, uid=1000, chromium=False, CI="true")  # not root: nothing can be installed
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "error: CI=true but no chromium" in proc.stderr
    assert "fake python" not in proc.stdout  # neither the linter nor the tests ran


def test_outside_ci_test_sh_warns_and_runs_the_tests(tmp_path: Path) -> None:
    proc = _run_test_sh(tmp_path, uid=1000, chromium=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: no chromium" in proc.stderr
    assert "fake python: -m ruff check ." in proc.stdout and "fake python: -m pytest -q -k x" in proc.stdout


def test_in_ci_with_a_browser_test_sh_runs_the_tests(tmp_path: Path) -> None:
    proc = _run_test_sh(tmp_path, uid=1000, chromium=True, CI="true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "chromium" not in proc.stderr and "fake python: -m pytest -q -k x" in proc.stdout


def test_ci_run_sets_ci() -> None:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert 'export CI="${CI:-true}"' in lines
    assert lines.index('export CI="${CI:-true}"') < lines.index("bash scripts/test.sh")


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("1", pytest.fail.Exception),
                                            ("", pytest.skip.Exception), ("false", pytest.skip.Exception)])
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch, ci: str, outcome: type) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is not installed"):
        browser.chromium()


def test_a_present_browser_is_returned(monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/chromium" if name == "chromium" else None)
    monkeypatch.setenv("CI", "true")
    assert browser.chromium() == "/opt/chromium"

