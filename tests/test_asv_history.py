"""asv hygiene: benchmark runs write only ignored files, the committed history compares from any
environment under one fixed name, and the published dashboard works without internet."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: these tests share the repository's .asv/ folder (asv_history.py publish / load): one at a time (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("repo_asv_lock")
sys.path.insert(0, str(ROOT / "scripts"))
import asv_history  # noqa: E402
import browser  # noqa: E402

ASV = shutil.which("asv")
needs_asv = pytest.mark.skipif(ASV is None, reason="asv is not installed")


def _conf() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)


def test_benchmark_runs_write_only_what_git_ignores() -> None:
    conf = _conf()
    for key in ("results_dir", "html_dir", "env_dir"):
        probe = ROOT / conf[key] / "probe.json"
        ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT).returncode == 0
        assert ignored, f"asv.conf.json {key} = {conf[key]!r} is not ignored by git"
    tracked = subprocess.run(["git", "ls-files", "results/asv"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "machine.json" in tracked and "benchmarks.json" in tracked  # the committed history is complete


def test_the_committed_history_is_filed_under_the_fixed_environment_name() -> None:
    names = {json.loads(p.read_text())["env_name"] for p in (ROOT / "results" / "asv").glob("*/*-*.json")}
    assert names == {"lysep-py3.11"}  # recorded with pyenv's Python 3.11 under its path name, then renamed
    for p in (ROOT / "results" / "asv").glob("*/*-*.json"):
        doc = json.loads(p.read_text())
        assert p.name == f"{doc['commit_hash'][:8]}-{doc['env_name']}.json" and doc["params"]["python"] == "3.11"


def test_results_recorded_with_python_same_are_renamed_on_save() -> None:
    doc = {"env_name": "existing-py_root_.pyenv_versions_3.11.7_bin_python3.11",
           "python": "/root/.pyenv/versions/3.11.7/bin/python3.11", "params": {"machine": "vm", "python": "x"}}
    out = asv_history.normalized(doc)
    assert out["env_name"] == "lysep-py3.11" and out["params"] == {"machine": "vm", "python": "3.11"}
    assert asv_history.normalized(out) == out


def test_every_cdn_asset_of_asvs_page_is_replaced_by_a_vendored_file() -> None:
    import asv

    page = (Path(asv.__file__).parent / "www" / "index.html").read_text()
    local = asv_history.localize(page)
    assert "https://cdn" not in local and "https://code.jquery" not in local
    for name in asv_history.ASSETS.values():
        assert (asv_history.VENDOR / name).is_file(), name
    kept = re.findall(r'(?:src|href)="vendor/([^"]+)"[^>]*integrity="([^"]+)"', local)
    assert {f for f, _ in kept} >= {"jquery.min.js", "bootstrap.min.js", "bootstrap.min.css", "md5.min.js"}
    for name, sri in kept:  # an integrity hash is kept only where the vendored bytes are the CDN's
        assert asv_history.sri(asv_history.VENDOR / name, sri.split("-")[0]) == sri


@pytest.fixture
def asv_home(tmp_path) -> dict[str, str]:
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([browser.asv(), "machine", "--yes", "--machine", "vm"], cwd=ROOT, env=env, capture_output=True,
                   timeout=60)
    return env


@needs_asv
def test_the_committed_history_compares_from_this_environment(asv_home) -> None:
    assert subprocess.run([sys.executable, "scripts/asv_history.py", "load"], cwd=ROOT).returncode == 0
    out = subprocess.run([ASV, "compare", "5386509e", "d9bd7103", "--machine", "vm"], cwd=ROOT, env=asv_home,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if "time_step('lysep', 3, 10)" in line)
    assert "n/a" not in row  # both commits' results are found, though this interpreter is not the recording one


def test_the_published_dashboard_draws_its_graphs_without_internet(asv_home, tmp_path) -> None:
    chromium = browser.chromium()  # a skip here, a failure in CI (scripts/test.sh installs it there)
    out = subprocess.run([sys.executable, "scripts/asv_history.py", "publish"], cwd=ROOT, env=asv_home,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    server = browser.serve(ROOT / ".asv" / "html")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html#tracking.Counts.track_flops"
        dom = browser.open_page(chromium, url, tmp_path / "profile")
    finally:
        server.shutdown()
    assert dom.count('class="flot-base"') >= 1, f"no graph was drawn: {browser.page_error(dom) or dom[-300:]}"
    assert "Failed to load" not in dom
