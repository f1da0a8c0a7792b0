"""The tables of docs/tuning.md, from a committed `lysep tune` store (its tune.json).

    python scripts/tuning_table.py                                   # results/paper_example1/tuning
    python scripts/tuning_table.py results/paper_example1/tuning

Prints three Markdown tables: the protocol and the sweep's invocations (meta.json); per method the trials, diverged
trials and trial scores, the spec's own setting and the chosen one; per method and tuned hyperparameter the chosen
value beside the value before tuning. tests/test_tune.py checks that the page holds them.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.render import display  # noqa: E402
from analysis.tuning import chosen_table, distribution_table, load_record, protocol_rows, trial_table  # noqa: E402

DEFAULT = ROOT / "results" / "paper_example1" / "tuning"


def markdown(frame) -> str:
    text = display(frame).astype(str)
    rows = ["| " + " | ".join(text.columns) + " |", "|" + "---|" * len(text.columns)]
    rows += ["| " + " | ".join(row) + " |" for row in text.itertuples(index=False)]
    return "\n".join(rows)


def run_rows(folder: Path, record: dict) -> pd.DataFrame:
    """The protocol, and the invocations of the sweep from meta.json: when, where, how many runs, how long."""
    rows = protocol_rows(record)
    for i, call in enumerate(json.loads((folder / "meta.json").read_text()).get("invocations", [])):
        minutes = (datetime.fromisoformat(call["finished"]) - datetime.fromisoformat(call["started"])).seconds / 60
        rows.loc[len(rows)] = [f"sweep {i + 1}", f"{call['runs']['ran']} runs computed, {call['runs']['skipped']} "
                               f"already stored, {call['runs']['failed']} failed, in {minutes:.0f} min on "
                               f"{call['device']}, {call['executor']}, commit {call['git_commit'][:7]}"]
    return rows


def tables(folder: Path) -> list[str]:
    record = load_record(folder)
    distribution = distribution_table(trial_table(record)).drop(columns="group")
    chosen = chosen_table(record).drop(columns=["group", "trial"])
    chosen["border"] = chosen["border"].map({True: "on the border", False: ""})
    return [markdown(run_rows(folder, record)), markdown(distribution), markdown(chosen)]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT
    print("\n\n".join(tables(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
