"""The tables of docs/tuning.md, from a committed `lysep tune` store (its tune.json).

    python scripts/tuning_table.py                                   # results/paper_example1/tuning
    python scripts/tuning_table.py results/paper_example1/tuning

Prints two Markdown tables: per method the trials, diverged trials and trial scores; per method and tuned
hyperparameter the chosen value beside the built-in default. tests/test_tune.py checks that the page holds them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis.render import display  # noqa: E402
from analysis.tuning import chosen_table, distribution_table, load_record, trial_table  # noqa: E402

DEFAULT = ROOT / "results" / "paper_example1" / "tuning"


def markdown(frame) -> str:
    text = display(frame).astype(str)
    rows = ["| " + " | ".join(text.columns) + " |", "|" + "---|" * len(text.columns)]
    rows += ["| " + " | ".join(row) + " |" for row in text.itertuples(index=False)]
    return "\n".join(rows)


def tables(folder: Path) -> list[str]:
    record = load_record(folder)
    distribution = distribution_table(trial_table(record)).drop(columns="group")
    chosen = chosen_table(record).drop(columns=["group", "trial"])
    chosen["border"] = chosen["border"].map({True: "on the border", False: ""})
    return [markdown(distribution), markdown(chosen)]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT
    print("\n\n".join(tables(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
