"""``lysep compare BASE NEW`` and ``lysep track [--base REF]``: the regression verdicts of :mod:`lysep.measure.track`
as terminal tables and exit codes (1 when a row is worse, 2 on bad input, else 0)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import track_moved
from lysep.commands.common import fail, machine_fault, write_failed
from lysep.measure.track import ROOT, TrackError, compare_dirs, track

#: the columns the terminal shows of each kind of worse row
SHOWN = {"counted work": ["method", "depth", "width", "count", "base", "new", "change"],
         "timing ratios": ["kind", "depth", "width", "ratio", "base", "new", "change"],
         "quality": ["depth", "width", "method", "label", "n_pairs", "base_median", "new_median", "p_holm"]}


def terminal_table(table: pd.DataFrame, columns: list[str], limit: int = 40) -> str:
    """The rows that matter first (worse, then the rest), as text."""
    if table.empty:
        return "(nothing compared)"
    order = {"worse": 0, "inconclusive": 1, "better": 2}
    shown = table.assign(_o=table["verdict"].map(order).fillna(3)).sort_values("_o", kind="stable")[columns]
    text = shown.head(limit).to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return text + (f"\n... {len(shown) - limit} more rows in the report" if len(shown) > limit else "")


def compare_command(args: Any) -> int:
    """``lysep compare BASE NEW``: exit 1 when a row is worse, 0 otherwise, 2 on bad input."""
    from analysis.regression_report import bottom_line

    base, new = Path(args.base), Path(args.new)
    out = Path(args.out) if args.out else new / "compare"
    try:
        table, html = compare_dirs(base, new, out, args.alpha, args.settings)
    except (TrackError, ValueError) as e:
        return fail(str(e))
    except OSError as e:
        if not machine_fault(e):
            raise
        return write_failed(e, f"{base} and {new} are unchanged; free space and rerun the same command")
    if args.settings:
        from analysis.regression import Side, setting_differences
        from lysep.harness.store import read_json

        base_side, new_side = (Side(root, read_json(root / "meta.json"), pd.DataFrame()) for root in (base, new))
        print(settings_header(setting_differences(base_side, new_side)[0]))
    shown = table[~table["verdict"].isin(["identical", "equivalent"])] if not table.empty else table
    if len(shown):
        print(terminal_table(shown, ["verdict", "depth", "width", "method", "label", "n_pairs", "base_median",
                                     "new_median", "why"]))
    print(f"\n{bottom_line(table)}\nreport: {html}")
    return 1 if not table.empty and table["regression"].any() else 0


def settings_header(differences: list[str]) -> str:
    """What ``lysep compare --settings`` compares: the hyperparameters that differ between the two stores."""
    if not differences:
        return "settings: no hyperparameter differs between the two specs"
    return "settings: the specs differ in " + "; ".join(differences)


def track_command(args: Any) -> int:
    """``lysep track [--base REF]``: exit 1 on a regression in counts, ratios or quality; 0 otherwise; 2 bad input."""
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    out = Path(args.out) if args.out else ROOT / "results" / "track"
    try:
        tables, worse, html = track(args.base, args.fresh, out, args.alpha, log)
    except TrackError as e:
        return fail(str(e))
    except OSError as e:
        if not machine_fault(e):
            raise
        return write_failed(e, "a whole base measurement stays cached (a partial one is measured again); "
                               "free space and rerun the same command")
    for name, table in tables.items():  # what moved first: worse, then better, the rest folded into a count
        print("\n" + track_moved.terminal(name, table, ["verdict", *SHOWN[name]]))
    print(f"\nreport: {html}")
    return 1 if any(len(rows) for rows in worse.values()) else 0
