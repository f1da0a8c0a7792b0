"""Why runs failed: the exception each failed run recorded (runs.parquet ``error``), grouped per method and cell.

A run fails when its method raised (anything but an overflow, which is a divergence): the runner stores the
exception's type and message in the run's ``error`` column. The report lists them in a section of its own, so
the reason is read where the failure is seen, not only in runs.parquet.
"""

from __future__ import annotations

import pandas as pd

from analysis.render import Section, Table

#: how much of an error message a row shows (runs.parquet keeps up to 2000 characters)
SHOWN_CHARS = 300


def _seeds(values: pd.Series) -> str:
    return ", ".join(str(int(v)) for v in sorted(values))


def failures_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, depth, width, error) of the failed runs, with their seeds; empty when none failed."""
    columns = ["method", "depth", "width", "seeds", "error"]
    if runs.empty or "status" not in runs:
        return pd.DataFrame(columns=columns)
    failed = runs[runs["status"] == "failed"]
    if failed.empty:
        return pd.DataFrame(columns=columns)
    errors = failed["error"].fillna("") if "error" in failed else pd.Series("", index=failed.index)
    failed = failed.assign(error=errors.astype(str).replace("", "(no error recorded)"))
    out = failed.groupby(["method", "depth", "width", "error"], sort=True)["seed"].apply(_seeds).reset_index()
    out = out.rename(columns={"seed": "seeds"})
    out["error"] = [e if len(e) <= SHOWN_CHARS else e[:SHOWN_CHARS] + " ..." for e in out["error"]]
    return out[columns]


def failures_section(runs: pd.DataFrame) -> Section | None:
    """The report's "Failed runs" section (the exception of every failed run), or None when no run failed."""
    table = failures_table(runs)
    if table.empty:
        return None
    n = int((runs["status"] == "failed").sum())
    return Section("Failed runs", [
        f"{n} runs failed: their method raised an exception, so they have no traces and no results in the tables "
        "above. The exception of each (type: message, as runs.parquet's `error` column keeps it):",
        Table(table)])

