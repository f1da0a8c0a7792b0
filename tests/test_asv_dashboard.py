"""The asv dashboard is worth opening: counted work and timing ratios drawn per method and cell across the
commits, and a Regressions page that lists the steps in counted work (asv's own step detection, with
asv.conf.json's thresholds: 1% for exact counts, 10% for the rest).

The Regressions page is checked on a constructed history (known steps, asv publish into a temporary folder);
the drawn dashboard on the committed history, in headless Chromium, whose screenshot is the one in
docs/benchmarks.md ("Reading the dashboard"): ``LYSEP_SAVE_SCREENSHOTS=1`` writes it to docs/images/.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import browser
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: these tests share the repository's .asv/ folder (asv_history.py publish / load): one at a time (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("repo_asv_lock")
sys.path.insert(0, str(ROOT / "scripts"))
import asv_history  # noqa: E402

SHOTS = ROOT / "docs" / "images"
COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25",
           "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]
MACHINE = {"arch": "x86_64", "cpu": "test", "machine": "box", "num_cpu": "2", "os": "Linux", "ram": "1"}


def _conf() -> dict:
    from asv.util import load_json

    return load_json(str(ROOT / "asv.conf.json"), js_comments=True)


def _bench(name: str, param_names: list[str], params: list[list[str]], unit: str) -> dict:
    return {"code": "", "name": name, "param_names": param_names, "params": params, "timeout": 60, "type": "track",
            "unit": unit, "version": "1"}


def _history(tmp: Path, commits: list[str], series: dict[str, tuple[list[list[str]], list[list[float]]]]) -> Path:
    """Results of ``commits`` in ``tmp``/results: per benchmark its params and, per commit, one value per
    parameter combination; then a copy of asv.conf.json pointing there (results, html) and at this repository."""
    results = tmp / "results" / "box"
    results.mkdir(parents=True)
    (results / "machine.json").write_text(json.dumps({**MACHINE, "version": 1}))
    benches = {"version": 2}
    for name, (params, _) in series.items():
        names = ["method", "depth", "width"] if name.startswith("tracking.Counts") else ["depth", "width"]
        benches[name] = _bench(name, names, params, "flops" if "Counts" in name else "ratio")
    (tmp / "results" / "benchmarks.json").write_text(json.dumps(benches))
    for i, commit in enumerate(commits):
        date = int(subprocess.run(["git", "log", "-1", "--format=%ct", commit], cwd=ROOT, capture_output=True,
                                  text=True).stdout) * 1000
        doc = {"commit_hash": commit, "date": date, "env_name": "lysep-py3.11", "env_vars": {}, "python": "3.11",
               "params": {**MACHINE, "python": "3.11"}, "requirements": {}, "result_columns": COLUMNS, "version": 2,
               "durations": {},
               "results": {name: [values[i], params, "1", date, 1.0] for name, (params, values) in series.items()}}
        (results / f"{commit[:8]}-lysep-py3.11.json").write_text(json.dumps(doc))
    conf = {**_conf(), "repo": str(ROOT), "branches": ["HEAD"], "results_dir": str(tmp / "results"),
            "html_dir": str(tmp / "html"), "env_dir": str(tmp / "env"), "benchmark_dir": str(ROOT / "benchmarks")}
    path = tmp / "asv.conf.json"
    path.write_text(json.dumps(conf))
    return path


def test_the_regressions_page_lists_the_steps_in_counted_work_and_not_the_small_ones(tmp_path) -> None:
    commits = asv_history.first_parent("HEAD")[-9:-1]  # eight commits of this history, oldest first
    counts_params = [["'lysep'", "'adam'", "'sgd'"], ["3"], ["10"]]
    #                  per commit: (lysep, adam, sgd) at depth 3, width 10
    lysep = [100.0] * 4 + [103.0] * 4  # +3% at commit 4: a step in exact counts (threshold 1%)
    adam = [100.0] * 5 + [100.5] * 3  # +0.5%: below the counts' threshold
    sgd = [100.0] * 2 + [150.0] * 3 + [100.0] * 3  # a step that was undone: not a regression any more
    ratios = [5.0] * 3 + [5.25] * 5  # +5%: below the 10% of everything but counts
    series = {"tracking.Counts.track_flops": (counts_params, [list(v) for v in zip(lysep, adam, sgd)]),
              "tracking.Ratios.track_lysep_over_adam": ([["3"], ["10"]], [[v] for v in ratios])}
    conf = _history(tmp_path, commits, series)
    proc = subprocess.run([browser.asv(), "--config", str(conf), "publish"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = json.loads((tmp_path / "html" / "regressions.json").read_text())["regressions"]
    # lysep's series only (adam's +0.5%, sgd's undone step and the ratio's +5% are not listed)
    assert [r[0] for r in listed] == ["tracking.Counts.track_flops('lysep', 3, 10)"]
    _, _, _, _, last, best, jumps = listed[0]
    assert (last, best) == (103.0, 100.0)
    (before, after, value_before, value_after), = jumps
    assert before is None and (value_before, value_after) == (100.0, 103.0)  # None: a step of one commit
    revisions = json.loads((tmp_path / "html" / "index.json").read_text())["revision_to_hash"]
    assert revisions[str(after)] == commits[4]  # between the fourth and the fifth commit
    page = (tmp_path / "html" / "regressions.xml").read_text()
    assert "3.00% regression</a> on" in html_lib.unescape(page) and f"commits={commits[4]}" in page
    assert "track_lysep_over_adam" not in page
    # the page as a reader sees it (the screenshot of docs/benchmarks.md, "Reading the dashboard")
    assert asv_history.offline(tmp_path / "html") == []
    server = browser.serve(tmp_path / "html")
    try:
        shot = tmp_path / "regressions.png"
        dom = browser.open_page(browser.chromium(), f"http://127.0.0.1:{server.server_address[1]}/index.html#regressions",
                    tmp_path / "profile", shot)
    finally:
        server.shutdown()
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", dom))
    assert "tracking.Counts.track_flops('lysep', 3, 10)" in " ".join(text.split())
    assert "track_lysep_over_adam" not in text and "'adam'" not in text and "'sgd'" not in text
    assert 0.005 < browser.ink(shot) < 0.9
    _keep(shot, "asv_dashboard_regressions.png")


def test_the_dashboard_draws_counted_work_per_method_and_cell_and_lists_regressions(tmp_path) -> None:
    chromium, asv = browser.chromium(), browser.asv()
    home = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([asv, "machine", "--yes", "--machine", asv_history.MACHINE], cwd=ROOT, env=home,
                   capture_output=True, timeout=60)
    out = subprocess.run([sys.executable, "scripts/asv_history.py", "publish"], cwd=ROOT, env=home,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    html = ROOT / ".asv" / "html"
    graphs = [g for g in (html / "graphs").rglob("tracking.Counts.track_flops.json") if "summary" not in g.parts]
    assert len(graphs) == 1, graphs  # one machine description: every recorded point in one graph
    # one line per method and cell: a point per recorded commit, holding a value of every (method, depth, width)
    points = json.loads(graphs[0].read_text())
    params = json.loads((html.parent / "results" / "benchmarks.json").read_text())["tracking.Counts.track_flops"]
    assert [len(p) for p in params["params"]] == [4, 3, 3]  # method x depth x width, as discovered by asv
    cells = 4 * 3 * 3
    revisions = json.loads((html / "index.json").read_text())["revision_to_hash"]
    with_counts = {c for c in asv_history.recorded() if asv_history._has(c, asv_history.REQUIRED)}
    assert {revisions[str(rev)] for rev, _ in points} == with_counts
    assert all(len(values) == cells and all(v is not None and v > 0 for v in values) for _, values in points)
    server = browser.serve(html)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        shot = tmp_path / "counts.png"
        dom = browser.open_page(chromium, f"{base}/index.html#tracking.Counts.track_flops", tmp_path / "p1", shot)
        assert dom.count('class="flot-base"') >= 1, f"no graph was drawn: {browser.page_error(dom) or dom[-300:]}"
        assert "Failed to load" not in dom
        assert 0.01 < browser.ink(shot) < 0.9  # not blank
        reg = browser.open_page(chromium, f"{base}/index.html#regressions", tmp_path / "p2")
        assert "Best after" in reg and "Failed to load" not in reg  # the Regressions page's table is there
    finally:
        server.shutdown()
    _keep(shot, "asv_dashboard_counts.png")


def _keep(shot: Path, name: str) -> None:
    """With ``LYSEP_SAVE_SCREENSHOTS`` set, the screenshot becomes docs/images/``name``."""
    if os.environ.get("LYSEP_SAVE_SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, SHOTS / name)


def test_the_screenshots_the_docs_show_are_there() -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", page)
    assert sorted(shown) == ["images/asv_dashboard_counts.png", "images/asv_dashboard_regressions.png"]
    for rel in shown:
        assert browser.ink(ROOT / "docs" / rel) > 0.005, rel
