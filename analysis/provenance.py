"""How the results were produced: the code, machines and times of the runs, the invocations of ``lysep run``,
and whether the wall times were measured on a loaded machine.

Functions from the runs table (per-run provenance columns, :data:`lysep.harness.provenance.RUN_COLUMNS`) and
``meta.json`` to rows and sentences of the report. Runs written by an older lysep lack those columns:
they are said to be "not recorded", never filled in from elsewhere.
"""

from __future__ import annotations

import pandas as pd

from analysis.metrics import CONTENTION_BELOW, CONTENTION_MIN_SECONDS
from lysep.harness.provenance import CODE_COLUMN, invocations

NOT_RECORDED = "not recorded"
#: how many contended units a sentence names before it refers to tables/timing.csv
NAMED_UNITS = 8


def _counted(values: pd.Series) -> str:
    """The distinct values of a column, with how many runs have each when there are several."""
    counts = values.astype(object).where(values.notna(), NOT_RECORDED).astype(str).value_counts(sort=True)
    if len(counts) == 1:
        return str(counts.index[0])
    return "; ".join(f"{v} ({n} runs)" for v, n in counts.items())


def _commit(sha, dirty) -> str | None:
    if sha is None or (isinstance(sha, float) and pd.isna(sha)):
        return None
    return f"{str(sha)[:12]}{' (dirty: uncommitted changes)' if dirty is True else ''}"


def run_provenance_rows(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """(field, value) rows of the Experiment section from the runs' own provenance: the time span of the runs and
    every commit, host, device, thread count and version set involved (several when a sweep was resumed)."""
    done = runs[runs["status"] != "failed"] if "status" in runs else runs
    if done.empty or "started" not in done:
        return [("runs computed", f"{NOT_RECORDED} per run (runs.parquet was written by an older lysep; "
                                  "the invocations below are what meta.json kept)")]
    rows = [("runs computed", f"first start {done['started'].dropna().min()}, last end "
                              f"{done['finished'].dropna().max()} ({len(done)} runs)")]
    commits = pd.Series([_commit(s, d) for s, d in zip(done["git_commit"], done["git_dirty"], strict=True)],
                        index=done.index, dtype=object)
    rows.append(("git commit of the runs", _counted(commits)))
    for column, label in (("host", "host"), ("device", "device"), ("threads", "torch threads"),
                          ("versions", "versions")):
        rows.append((label, _counted(done[column])))
    if CODE_COLUMN in done:  # stores written before the column existed: no row (their code versions are unknown)
        rows.append(("code of the methods", method_code_text(done)))
    return rows


def method_code_text(runs: pd.DataFrame) -> str:
    """Every (method label, code version) of the runs with its number of runs: ``built-in`` for lysep's own methods
    (their code is the git commit above), a plugin's distribution, version and source hash otherwise."""
    code = runs[CODE_COLUMN].astype(object).where(runs[CODE_COLUMN].notna(), NOT_RECORDED)
    counts = pd.DataFrame({"method": runs["method"], "code": code}).value_counts(sort=False).sort_index()
    return "; ".join(f"{method}: {version} ({n} runs)" for (method, version), n in counts.items())


def invocations_table(meta: dict) -> pd.DataFrame:
    """One row per invocation of ``lysep run`` recorded in meta.json (an older lysep kept only its last)."""
    rows = []
    for inv in invocations(meta or {}):
        counts = inv.get("runs") or {}
        rows.append({"started": inv.get("started", NOT_RECORDED), "finished": inv.get("finished", NOT_RECORDED),
                     "git commit": _commit(*_legacy_commit(inv)) or NOT_RECORDED,
                     "host": inv.get("host", NOT_RECORDED), "device": inv.get("device", NOT_RECORDED),
                     "executor": inv.get("executor", NOT_RECORDED),
                     "runs computed / already stored / failed": f"{counts.get('ran', NA_COUNT)} / "
                     f"{counts.get('skipped', NA_COUNT)} / {counts.get('failed', NA_COUNT)}",
                     "note": "the only invocation an older lysep kept (earlier ones were overwritten)"
                     if inv.get("legacy") else ""})
    return pd.DataFrame(rows)


NA_COUNT = "?"


def _legacy_commit(inv: dict) -> tuple[str | None, bool | None]:
    """(sha, dirty) of an invocation; an older lysep wrote ``sha+dirty`` in one string."""
    sha = inv.get("git_commit")
    if isinstance(sha, str) and sha.endswith("+dirty"):
        return sha[: -len("+dirty")], True
    return sha, inv.get("git_dirty")


# ----------------------------------------------------------------------------------------------
# wall time under load


def contended_units(timing: pd.DataFrame) -> pd.DataFrame:
    """The contended runs of :func:`analysis.metrics.timing_table`, one row per method and cell with their seeds,
    the lowest CPU utilisation and the highest load average seen."""
    bad = timing[timing["contended"]]
    if bad.empty:
        return pd.DataFrame(columns=["method", "depth", "width", "seeds", "utilisation", "load"])
    g = bad.groupby(["method", "depth", "width"], sort=True)
    out = g.agg(utilisation=("utilisation", "min"), load=("load_end", "max")).reset_index()
    out["seeds"] = g["seed"].apply(lambda s: ",".join(str(int(v)) for v in sorted(s))).to_numpy()
    return out[["method", "depth", "width", "seeds", "utilisation", "load"]]


def wall_time_caveat(timing: pd.DataFrame) -> str:
    """A sentence when the wall times cannot be trusted (some runs measured under CPU contention), or cannot be
    checked (no CPU time recorded); "" when every judged run ran uncontended."""
    if timing.empty:
        return ""
    contended = timing["contended"]
    if contended.any():
        units = contended_units(timing)
        named = ", ".join(f"{r.method} d{r.depth} w{r.width} seeds {r.seeds} (CPU/wall per thread {r.utilisation:.2f})"
                          for r in units.head(NAMED_UNITS).itertuples(index=False))
        more = f", and {len(units) - NAMED_UNITS} more (tables/timing.csv)" if len(units) > NAMED_UNITS else ""
        return (f"wall times unreliable: {int(contended.sum())} of {len(timing)} runs were measured under CPU "
                f"contention (CPU time / (wall time x threads) < {CONTENTION_BELOW:g}): {named}{more}")
    if not timing["cpu_time"].notna().any():
        return ("wall times not checked for contention: the runs record no CPU time (written by an older lysep); "
                "compare wall-time results only with runs measured on an otherwise idle machine")
    return ""


def timing_note() -> str:
    """How the report judges wall times (for the Timing section)."""
    return (f"Each run records the process CPU time over its training iterations next to the wall time, and the "
            f"1-minute load average at its start and end. A run whose CPU time per torch thread falls below "
            f"{CONTENTION_BELOW:g} of its wall time waited for a core: its wall-time numbers (seconds, seconds to "
            f"target, CE at equal wall time) are marked unreliable. Runs on a GPU, runs shorter than "
            f"{CONTENTION_MIN_SECONDS:g} s and failed runs are not judged. The seeds of a unit run as one batch "
            "and share its times.")
