"""``lysep track``'s report leads with what moved: the worse rows first, then the better ones, and every
other row (same, identical, equivalent, inconclusive, wall-time information) folded into a count per verdict.

One table of ``lysep track`` (counted work, timing ratios, quality) has a ``verdict`` column; where it has a
``change`` column (new over base) the rows that moved are ordered by it, the largest move first.
"""

from __future__ import annotations

import pandas as pd

from analysis.render import Table, display

WORSE, BETTER = "worse", "better"


def split(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The worse rows (largest change first), the better rows (largest improvement first) and, per other
    verdict, how many rows got it."""
    if table.empty or "verdict" not in table:
        return table, table, {}
    worse, better = table[table["verdict"] == WORSE], table[table["verdict"] == BETTER]
    if "change" in table:
        worse = worse.sort_values("change", ascending=False, kind="stable")
        better = better.sort_values("change", ascending=True, kind="stable")
    rest = table.loc[~table["verdict"].isin([WORSE, BETTER]), "verdict"].value_counts()
    folded = {str(v): int(n) for v, n in sorted(rest.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    return worse, better, folded


def folded_text(folded: dict[str, int]) -> str:
    """``"40 rows unchanged (same 38, identical 2)"``, or ``"no other rows"``."""
    n = sum(folded.values())
    if not n:
        return "no other rows"
    return f"{n} other rows folded ({', '.join(f'{v} {k}' for k, v in folded.items())})"


def headline(name: str, table: pd.DataFrame) -> str:
    worse, better, folded = split(table)
    return f"{name}: {len(worse)} worse, {len(better)} better, {folded_text(folded)}"


def terminal(name: str, table: pd.DataFrame, columns: list[str], limit: int = 40) -> str:
    """The section as text: its headline, then the worse rows and the better rows (``columns`` of them)."""
    worse, better, _ = split(table)
    out = [headline(name, table)]
    for label, rows in ((WORSE, worse), (BETTER, better)):
        if len(rows):
            shown = rows[[c for c in columns if c in rows]]
            out.append(shown.head(limit).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            if len(rows) > limit:
                out.append(f"... {len(rows) - limit} more {label} rows in the report")
    return "\n".join(out)


def blocks(table: pd.DataFrame, csv_name: str, columns: list[str] | None = None) -> list:
    """A report section's blocks: the worse rows, the better rows, then one line with the folded count."""
    worse, better, folded = split(table)
    out: list = []
    for label, rows in ((WORSE, worse), (BETTER, better)):
        if len(rows):
            shown = rows[[c for c in columns if c in rows]] if columns else rows
            out.append(Table(display(shown), f"{len(rows)} {label}"))
    out.append(f"{len(worse)} worse, {len(better)} better; {folded_text(folded)}: every row is in {csv_name}.")
    return out
