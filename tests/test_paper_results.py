"""docs/findings.md's tables and the README's headline follow from the committed results (scripts/paper_tables.py)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = ROOT / "docs" / "findings.md"
#: claim c2 (J on each iteration's batch does not increase) in every scale-in-N report, as docs/findings.md says
SCALE_C2 = {"scale_n_tuned": "supported", "scale_n": "supported"}
#: the diverged runs of the scale experiment, as docs/findings.md says: one tuned LySep run on the circle at N = 200000
SCALE_DIVERGED = {("scale_n_tuned", "circle", 200000): 1}


@pytest.fixture(scope="module")
def tables() -> list[str]:
    """The Markdown tables scripts/paper_tables.py prints, in order."""
    proc = subprocess.run([sys.executable, "scripts/paper_tables.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [block.strip() for block in proc.stdout.split("\n\n") if block.startswith("|")]


def column(table: str, index: int) -> list[float]:
    """The numbers in one column of a Markdown table printed by the script (header and rule skipped)."""
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return [float(row[index].strip()) for row in rows]


def rounds_to(value: float, stated: str) -> bool:
    """Whether ``value`` rounded to the significant digits written in ``stated`` gives ``stated``."""
    digits = len(stated.replace(".", "").lstrip("0"))
    exponent = math.floor(math.log10(abs(value)))
    return round(value, digits - 1 - exponent) == float(stated)


def test_every_table_the_script_prints_is_in_the_findings_page_verbatim(tables: list[str]) -> None:
    findings = FINDINGS.read_text()
    # claims; two profile summaries; what tuning changed; Example 1 and 2: final values and equal cost; c4's tests
    assert len(tables) == 9
    for table in tables:
        assert table in findings, table.splitlines()[0]


def test_the_readme_headline_numbers_are_the_scripts(tables: list[str]) -> None:
    """The README's headline ranges are the extremes of the tuned equal-cost tables, and the findings page states
    them too."""
    readme, findings = (" ".join(f.read_text().split()) for f in (ROOT / "README.md", FINDINGS))
    ex1, ex2 = tables[5], tables[7]  # LySep at Adam's cost, tuned: Example 1, Example 2
    ce = re.search(r"Adam's final\s+train CE is ([\d.]+)-([\d.]+) in every cell, LySep's at Adam's\s+iteration\s+"
                   r"count ([\d.]+)-([\d.]+)", readme)
    assert ce, "the README's headline on Example 1 has changed; update this test with it"
    adam, lysep = column(ex1, 1), column(ex1, 2)  # Adam's final CE; LySep's CE at Adam's iteration count
    for stated, value in zip(ce.groups(), (min(adam), max(adam), min(lysep), max(lysep))):
        assert rounds_to(value, stated), (stated, value)
    ratio = re.search(r"Adam reaches\s+([\d.]+)-([\d.]+)x\s+lower\s+train CE than LySep-CNN at equal\s+iterations",
                      readme)
    assert ratio, "the README's headline on Example 2 has changed; update this test with it"
    ratios = [m / a for a, m in zip(column(ex2, 1), column(ex2, 2))]
    for stated, value in zip(ratio.groups(), (min(ratios), max(ratios))):
        assert rounds_to(value, stated), (stated, value)
    assert (f"Adam's final train CE is {ce[1]}-{ce[2]} in every cell, LySep's at Adam's iteration count "
            f"{ce[3]}-{ce[4]}") in findings
    assert f"Adam reaches {ratio[1]}-{ratio[2]}x lower train CE than LySep-CNN at equal iterations" in findings


def test_the_v1_tables_stay_reachable() -> None:
    """`paper_tables.py --v1` prints the first version's four tables from the committed v1 results."""
    proc = subprocess.run([sys.executable, "scripts/paper_tables.py", "--v1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n| (depth, width) | adam: final train CE |") == 2
    assert "### Example 1 (v1)" in proc.stdout and "### Example 2 (v1)" in proc.stdout


def test_the_claims_table_marks_exactly_the_verdicts_that_changed(tables: list[str]) -> None:
    """The claims table's 'changed' column names an example iff its v1 and tuned verdicts differ, and every verdict
    in it is its report's (claims.csv of each committed results directory)."""
    rows = [line.strip("|").split("|") for line in tables[0].splitlines()[2:]]
    assert len(rows) == 13  # c1, c1b, c2, c3-c5 at three budgets, c6
    names = {"paper_example1": 2, "paper_example1_tuned": 3, "paper_example2": 4, "paper_example2_tuned": 5}
    claims = {n: pd.read_csv(ROOT / "results" / n / "tables" / "claims.csv") for n in names}
    for row in rows:
        cells = [c.strip().strip("*") for c in row]
        cid = cells[0].split(":")[0]
        for name, i in names.items():
            t = claims[name]
            assert cells[i] == t[(t.id == cid) & (t.budget == cells[1])].verdict.iloc[0], (cid, cells[1], name)
        changed = [ex for ex, (a, b) in (("Example 1", (2, 3)), ("Example 2", (4, 5))) if cells[a] != cells[b]]
        assert cells[6] == (", ".join(changed) or "-")


def test_the_committed_results_are_complete_and_their_verdicts_are_the_reports() -> None:
    for name, n_runs, cells in (("paper_example1", 540, 9), ("paper_example2", 200, 4),
                                ("paper_example1_tuned", 540, 9), ("paper_example2_tuned", 100, 2)):
        d = ROOT / "results" / name
        runs = pd.read_parquet(d / "runs.parquet")
        assert len(runs) == n_runs and set(runs.status) == {"completed"}, name
        assert runs.groupby(["depth", "width", "method"]).seed.nunique().eq(10).all()
        assert len(runs[["depth", "width"]].drop_duplicates()) == cells
        claims = pd.read_csv(d / "tables" / "claims.csv")
        report = (d / "report.md").read_text()
        assert len(claims) == 13
        for _, c in claims.iterrows():
            assert f"| {c.id} | {c.claim} | {c.budget} | {c.verdict} |" in report
        assert (d / "tables" / "profiles.csv").is_file()
    # provenance as the findings page states it: Example 2's tuned runs from one clean commit; of Example 1's, the
    # runs of commit 2d35bd3 were made beside the uncommitted default change that became 18b5a2e
    runs = pd.read_parquet(ROOT / "results" / "paper_example2_tuned" / "runs.parquet")
    assert not runs.git_dirty.any() and runs.git_commit.nunique() == 1
    runs = pd.read_parquet(ROOT / "results" / "paper_example1_tuned" / "runs.parquet")
    assert set(runs[runs.git_dirty.astype(bool)].git_commit.str[:7]) == {"2d35bd3"}


def test_the_scale_in_n_table_of_the_findings_page_is_the_scripts() -> None:
    """docs/findings.md "Scale in N" holds scripts/scale_n.py's table, from the committed results/scale_n_tuned/;
    the first version's results/scale_n/ stay complete and its table is printed with --v1."""
    for flag, folder in (([], "scale_n_tuned"), (["--v1"], "scale_n")):
        proc = subprocess.run([sys.executable, "scripts/scale_n.py", "table", *flag], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        table = proc.stdout.strip()
        assert table.count("\n") == 11  # header, rule, 2 data sets x 5 sizes
        if not flag:
            assert table in FINDINGS.read_text()
        report = (ROOT / "results" / folder / "report.md").read_text()
        for dataset in ("circle", "spirals"):
            for n in (2000, 6000, 20000, 60000, 200000):
                runs = pd.read_parquet(ROOT / "results" / folder / f"{dataset}_n{n}" / "runs.parquet")
                diverged = runs[runs.status == "diverged"]
                assert len(runs) == 15 and set(runs.status) <= {"completed", "diverged"}
                assert len(diverged) == SCALE_DIVERGED.get((folder, dataset, n), 0)  # as the page says
                assert set(diverged.method) <= {"lysep-minibatch"}
                assert f"{dataset}_n{n}/report.md" in report
                claims = pd.read_csv(ROOT / "results" / folder / f"{dataset}_n{n}" / "tables" / "claims.csv")
                assert claims.set_index("id").verdict["c2"] == SCALE_C2[folder]  # as the page says


def test_the_measured_tables_of_the_benchmarks_page_are_the_scripts() -> None:
    """docs/benchmarks.md "Memory and time at N = 60000" and configs/README.md's times, from the committed lines."""
    proc = subprocess.run([sys.executable, "scripts/measure_epoch.py", "--from", "results/measure_epoch.jsonl"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    measured, expected = proc.stdout.strip().split("\n\n")
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    assert measured in page and expected in page
    rows = [line.split("|") for line in measured.splitlines()[2:]]
    assert all(float(r[7]) <= float(r[8]) for r in rows)  # the estimate is above every measured peak
    index = (ROOT / "configs" / "README.md").read_text()
    for line in expected.splitlines()[2:]:
        config, _, hours, minutes = (c.strip() for c in line.strip("|").split("|"))
        assert f"at most {hours} h on 2 cores" in index and f"subset {minutes} min" in index or \
            f"subset at most {minutes} min" in index, config
