"""Which code made the stored runs: each run's ``method_code`` (``lysep.methods.method_code``) against the code a
resumed sweep would run now.

A stored run is found by its config hash, which says what the run computes (data, model, method, hyperparameters,
budget, seed), not which code computed it. A sweep resumed into a store after a plugin method's code changed would
silently keep the old runs; :func:`changed_code` finds them so the runner can warn (naming the method, both versions
and the number of runs) and, with ``--recompute-changed``, run them again. Runs stored without the column (by an
older lysep) have an unknown code version and are never reported. Built-in methods record ``"built-in"``: their
code version is lysep's commit (``git_commit``), which the report lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lysep.harness.plan import config_hash
from lysep.harness.provenance import CODE_COLUMN
from lysep.harness.spec import ExperimentSpec
from lysep.methods import method_code


@dataclass(frozen=True)
class Changed:
    """Stored runs of one label made by code ``stored`` where the method's code is now ``current``."""

    label: str
    method: str
    stored: str
    current: str
    hashes: frozenset[str]

    def message(self, recompute: bool) -> str:
        what = ("recomputing them (--recompute-changed)" if recompute else
                "kept as stored; `--recompute-changed` recomputes them, `--force` recomputes every run")
        return (f"method {self.label!r} ({self.method}): {len(self.hashes)} stored runs were made by code "
                f"{self.stored!r}, the code now is {self.current!r}: {what}")


def changed_code(spec: ExperimentSpec, runs: pd.DataFrame) -> list[Changed]:
    """The finished stored runs of ``spec`` whose recorded code version differs from the current one, grouped by
    label and stored version (empty for a store without the column, and for runs whose version is unrecorded)."""
    if not len(runs) or CODE_COLUMN not in runs:
        return []
    finished = runs[runs.status.isin(("completed", "diverged")) & runs[CODE_COLUMN].notna()]
    out = []
    for m in spec.methods:
        current = method_code(m.name)
        mine = {config_hash(spec, d, w, m.label, s) for d, w in spec.grid.cells() for s in spec.grid.seed_list()}
        stored = finished[finished.config_hash.isin(mine) & (finished[CODE_COLUMN] != current)]
        for version, rows in stored.groupby(CODE_COLUMN, sort=True):
            out.append(Changed(m.label, m.name, str(version), current, frozenset(rows.config_hash)))
    return out

