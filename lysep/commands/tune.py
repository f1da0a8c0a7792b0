"""``lysep tune SPEC``: the trial sweep of :mod:`lysep.harness.tune` run into a store, the winners printed and written
as tuned specs; exit 2 for bad input (nothing written), 130 when interrupted (rerun to resume), 1 when trials failed."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

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
from lysep.commands.run import write_report
from lysep.harness.spec import SpecError


def tune_command(args: Any) -> int:
    """``lysep tune``: exit 2 for bad input (nothing written), 130 when interrupted (rerun to resume), 1 when
    trials failed, else 0."""
    problem = check_run_args(args)
    if problem:
        return fail(problem)
    spec = checked_spec(args.spec, None, args.device, args.set)
    if spec is None:
        return BAD_INPUT
    from lysep.harness.plan import preflight
    from lysep.harness.tune import REFERENCE, finish, trial_spec

    try:
        tspec = trial_spec(spec)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return BAD_INPUT
    try:  # every trial's configuration against the data and the models, before anything is written
        preflight(tspec, args.device)
    except ValueError as e:
        return fail(f"{spec.source}: {e}")
    out = Path(args.out) if args.out else RESULTS_ROOT / spec.name / "tuning"
    command = " ".join(["lysep tune", *sys.argv[2:]]) if sys.argv[1:2] == ["tune"] else f"lysep tune {spec.source}"
    t0 = time.perf_counter()
    _, code = sweep(tspec, out, args, finished="trials", stored="trial runs")
    if code is not None:
        return code
    from lysep.harness.store import read_parquet

    try:
        chosen, paths, failed = finish(spec, read_parquet(out / "runs.parquet"), out, command)
    except OSError as e:
        if not machine_fault(e):
            raise
        return write_failed(e, kept_runs(out, "rerun the same command (nothing is computed again)", "trial runs"))
    print(f"\n{spec.name}: {len(tspec.methods)} trials x {len(tspec.grid.cells())} cells x {tspec.grid.seeds} "
          f"tuning seeds in {time.perf_counter() - t0:.1f} s -> {out}")
    for w in chosen:
        where = "grid" if w["depth"] < 0 else f"d{w['depth']} w{w['width']}"
        note = f"  (on the border of its space: {', '.join(w['border'])})" if w["border"] else ""
        which = "the spec's own setting" if w["trial"] == REFERENCE else f"trial {w['trial']}"
        print(f"  {w['method']} [{where}]: {which}, score {w['score']:.4g}, {w['values']}{note}")
    for path in paths:
        print(f"tuned spec: {path}  (lysep run {path})")
    if not args.no_report:
        if write_report(out, f"; the trials are stored in {out}"):
            return 1
    return 1 if failed else 0
