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
    assert len(tables) == 5
    for table in tables:
        assert table in findings, table.splitlines()[0]


def test_the_readme_headline_numbers_are_the_scripts(tables: list[str]) -> None:
    """The README's headline ranges are the extremes of the equal-cost tables, and the findings page states them too."""
    readme, findings = (ROOT / "README.md").read_text(), FINDINGS.read_text()
    ex1, ex2 = tables[2], tables[4]  # LySep at Adam's cost: Example 1, Example 2
    ce = re.search(r"Adam's final\s+train CE is ([\d.]+)-([\d.]+) in every cell, LySep's ([\d.]+)-([\d.]+)", readme)
    assert ce, "the README's headline on Example 1 has changed; update this test with it"
    adam, lysep = column(ex1, 1), column(ex1, 2)  # Adam's final CE; LySep's CE at Adam's iteration count
    for stated, value in zip(ce.groups(), (min(adam), max(adam), min(lysep), max(lysep))):
        assert rounds_to(value, stated), (stated, value)
    ratio = re.search(r"reaches ([\d.]+)-([\d.]+)x lower\s+train CE than Adam at equal iterations", readme)
    assert ratio, "the README's headline on Example 2 has changed; update this test with it"
    ratios = [a / m for a, m in zip(column(ex2, 1), column(ex2, 2))]
    for stated, value in zip(ratio.groups(), (min(ratios), max(ratios))):
        assert rounds_to(value, stated), (stated, value)
    flat = " ".join(findings.split())
    assert f"Adam's final train CE is {ce[1]}-{ce[2]} in every cell, LySep's {ce[3]}-{ce[4]}" in flat
    assert f"{ratio[1]}-{ratio[2]}x lower train CE than Adam at equal iteration counts" in flat


def test_the_committed_results_are_complete_and_their_verdicts_are_the_reports() -> None:
    for name, n_runs in (("paper_example1", 540), ("paper_example2", 200)):
        d = ROOT / "results" / name
        runs = pd.read_parquet(d / "runs.parquet")
        assert len(runs) == n_runs and set(runs.status) == {"completed"}
        assert runs.groupby(["depth", "width", "method"]).seed.nunique().eq(10).all()
        claims = pd.read_csv(d / "tables" / "claims.csv")
        report = (d / "report.md").read_text()
        for _, c in claims.iterrows():
            assert f"| {c.id} | {c.claim} | {c.verdict} |" in report


def test_the_scale_in_n_table_of_the_findings_page_is_the_scripts() -> None:
    """docs/findings.md "Scale in N" holds scripts/scale_n.py's table, from the committed results/scale_n/."""
    proc = subprocess.run([sys.executable, "scripts/scale_n.py", "table"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.strip()
    assert table.count("\n") == 11 and table in FINDINGS.read_text()  # header, rule, 2 data sets x 5 sizes
    report = (ROOT / "results" / "scale_n" / "report.md").read_text()
    for dataset in ("circle", "spirals"):
        for n in (2000, 6000, 20000, 60000, 200000):
            runs = pd.read_parquet(ROOT / "results" / "scale_n" / f"{dataset}_n{n}" / "runs.parquet")
            assert len(runs) == 15 and set(runs.status) == {"completed"}
            assert f"{dataset}_n{n}/report.md" in report
            claims = pd.read_csv(ROOT / "results" / "scale_n" / f"{dataset}_n{n}" / "tables" / "claims.csv")
            assert claims.set_index("id").verdict["c2"] == "supported"  # the batch-level decrease, as the page says


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
