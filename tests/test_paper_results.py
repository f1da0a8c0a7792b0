"""The README's "What we found" tables follow from the committed results (scripts/paper_tables.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def test_every_table_the_script_prints_is_in_the_readme_verbatim() -> None:
    proc = subprocess.run([sys.executable, "scripts/paper_tables.py"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text()
    tables = [block for block in proc.stdout.split("\n\n") if block.startswith("|")]
    assert len(tables) == 5
    for table in tables:
        assert table.strip() in readme, table.splitlines()[0]


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
