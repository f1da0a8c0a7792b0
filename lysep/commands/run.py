"""``lysep run``, ``lysep check`` and ``lysep report``: an experiment spec run into a results store, validated
without running, or its report re-made."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lysep.commands.common import (
    BAD_INPUT,
    RESULTS_ROOT,
    check_run_args,
    checked_spec,
    fail,
    kept_runs,
    machine_fault,
    sweep,
    write_failed,
)

if TYPE_CHECKING:
    import pandas as pd


def final_table(runs: pd.DataFrame) -> str:
    """Median over seeds of the final metrics, per cell and method."""
    if not len(runs):
        return "(no runs)"
    ok = runs[runs.status != "failed"]
    table = ok.groupby(["depth", "width", "method"], sort=True).agg(
        seeds=("seed", "count"), diverged=("status", lambda s: int((s == "diverged").sum())),
        train_ce=("final_F", "median"), train_acc=("final_train_acc", "median"),
        test_acc=("final_test_acc", "median"), seconds=("wall_time", "median"))
    return table.to_string(float_format=lambda v: f"{v:.4g}")


def failure_lines(runs: pd.DataFrame, limit: int = 300) -> list[str]:
    """One line per method, cell and error of the failed runs: the exception's type and message (``error``)."""
    if not len(runs) or "error" not in runs:
        return []
    failed = runs[runs.status == "failed"].assign(error=lambda r: r.error.fillna("").astype(str))
    lines = []
    for (label, depth, width, error), rows in failed.groupby(["method", "depth", "width", "error"], sort=True):
        text = error if len(error) <= limit else error[:limit] + " ... (runs.parquet keeps the rest)"
        seeds = ", ".join(str(int(s)) for s in sorted(rows.seed))
        lines.append(f"failed: {label} d{depth} w{width} seeds {seeds}: {text or '(no error recorded)'}")
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    problem = check_run_args(args)
    if problem:
        return fail(problem)
    spec = checked_spec(args.spec, args.seeds, args.device, args.set)
    if spec is None:
        return BAD_INPUT
    out = Path(args.out) if args.out else RESULTS_ROOT / spec.name
    t0 = time.perf_counter()
    res, code = sweep(spec, out, args)
    if code is not None:
        return code
    for line in res.repaired:
        print(f"repair: dropped {line}", file=sys.stderr)
    seconds = time.perf_counter() - t0
    print(f"\n{spec.name}: {res.ran} runs computed, {res.skipped} already stored, {res.failed} failed "
          f"in {seconds:.1f} s -> {res.root}")
    print(final_table(res.runs))
    for line in failure_lines(res.runs):
        print(line)
    if not args.no_report and write_report(res.root, f"; the runs are stored in {res.root}"):
        return 1
    return 1 if res.failed else 0


def write_report(root: Path, note: str = "") -> int:
    """Render the report of ``root`` and print its path: 0, or 1 after saying why the analysis is unavailable."""
    try:
        print(f"report: {make_report(root)}")
    except AnalysisUnavailable as e:
        print(f"lysep: error: {e}{note}", file=sys.stderr)
        return 1
    except OSError as e:
        if not machine_fault(e):
            raise
        return write_failed(e, report_kept(root))
    return 0


def report_kept(root: Path) -> str:
    """What a report that could not be written leaves safe: the stored runs, and how to make the report."""
    return kept_runs(root, f"run `lysep report {root}`")


class AnalysisUnavailable(RuntimeError):
    """The analysis package (which renders reports) cannot be imported; the message says why."""


def make_report(root: Path, subject: list[str] | None = None) -> Path:
    """Render the report of a results directory (``subject``: the labels under test, None for the spec's or the
    default); AnalysisUnavailable with the real import error."""
    try:
        from analysis.report import make_report as render
    except ImportError as e:
        raise AnalysisUnavailable(f"the report needs the analysis package, which cannot be imported "
                                  f"({type(e).__name__}: {e})") from e
    return render(root, subject=subject)


def cmd_report(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if (root / "tune.json").is_file():  # a `lysep tune` store: its Tuning report reads tune.json only
        return write_report(root)
    for name in ("traces.parquet", "runs.parquet", "meta.json"):
        if not (root / name).exists():
            return fail(f"{root / name}: not found (expected the output directory of `lysep run`)")
    from lysep.harness.store import StoreError, read_json, read_parquet

    try:  # a damaged file is named here, not by a traceback from deep inside the report
        read_parquet(root / "traces.parquet")
        runs = read_parquet(root / "runs.parquet")
        labels = sorted(map(str, runs["method"].unique())) if "method" in runs else []
    except StoreError as e:
        return fail(str(e))
    subject = getattr(args, "subject", None)
    unknown = [s for s in subject or [] if s not in labels]
    if unknown:
        return fail(f"--subject {unknown[0]}: not a method label of {root / 'runs.parquet'} (expected one of: "
                    f"{', '.join(labels)})")
    try:
        read_json(root / "meta.json")
    except StoreError as e:
        return fail(f"{e}; run `lysep run SPEC --out {root}` to write it again")
    from lysep.harness.plan import add_properties

    try:
        if add_properties(root):
            print(f"lysep: {root / 'runs.parquet'} was written by an older lysep: added the method properties "
                  "(family, decrease_guaranteed, default_config, metrics) from the spec in meta.json", file=sys.stderr)
    except (KeyError, ValueError) as e:
        return fail(f"{root / 'meta.json'}: its spec does not describe the methods of runs.parquet ({e})")
    try:
        path = make_report(root, subject)
    except StoreError as e:
        return fail(str(e))
    except OSError as e:
        if not machine_fault(e):
            raise
        return write_failed(e, report_kept(root))
    except AnalysisUnavailable as e:
        print(f"lysep: error: {e}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.seeds is not None and args.seeds < 1:
        return fail(f"--seeds {args.seeds}: expected an integer >= 1")
    spec = checked_spec(args.spec, args.seeds, overrides=args.set)
    if spec is None:
        return BAD_INPUT
    from lysep.commands.listing import print_check

    print_check(spec, RESULTS_ROOT / spec.name)
    return 0
