"""``lysep`` command line: ``lysep run [SPEC]``, ``lysep report DIR`` and ``lysep bench``.

Exit codes: 0 success, 1 some runs failed, 2 bad input (spec, data, arguments, unreadable results,
unreachable scheduler, results directory in use), 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from lysep.spec import ExperimentSpec, SpecError, default_spec_path, load_spec
from lysep.store import StoreError

BAD_INPUT = 2
INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lysep", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment spec (default: configs/quick.toml)")
    run.add_argument("spec", nargs="?", help="TOML experiment spec; default: the built-in quick experiment")
    run.add_argument("--out", help="results directory (default: results/<spec name>)")
    run.add_argument("--seeds", type=int, help="override grid.seeds")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: in-process)")
    run.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://head:8786")
    run.add_argument("--force", action="store_true", help="recompute runs already stored")
    run.add_argument("--repair", action="store_true", help="drop unreadable result files, then run what is missing")
    run.add_argument("--no-report", action="store_true", help="do not write the report")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    rep = sub.add_parser("report", help="re-make the report of a results directory")
    rep.add_argument("dir")
    bench = sub.add_parser("bench", help="measure the performance targets (batched speedup, AM/Adam, default run)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    bench.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    bench.add_argument("--quick", action="store_true", help="a smoke run at tiny sizes (numbers mean little)")
    bench.add_argument("--no-default-run", action="store_true", help="skip timing the default `lysep run`")
    bench.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    return p


def fail(message: str) -> int:
    print(f"lysep: error: {message}", file=sys.stderr)
    return BAD_INPUT


def check_run_args(args: argparse.Namespace) -> str | None:
    import torch

    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        return f"--device {args.device!r}: expected cpu or cuda"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return f"--device {args.device}: no CUDA device is available on this machine"
    if args.workers < 1:
        return f"--workers {args.workers}: expected an integer >= 1"
    if args.workers > 1 and args.scheduler:
        return "--workers and --scheduler cannot be combined"
    return None


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


def cmd_run(args: argparse.Namespace) -> int:
    problem = check_run_args(args)
    if problem:
        return fail(problem)
    try:
        spec: ExperimentSpec = load_spec(args.spec or default_spec_path())
        if args.seeds is not None:
            spec = spec.with_seeds(args.seeds)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return BAD_INPUT
    from lysep.plan import preflight
    from lysep.runner import run_experiment

    try:  # the data and the models, before anything is written: a bad file is bad input, not failed runs
        preflight(spec)
    except ValueError as e:
        return fail(f"{spec.source}: {e}")
    out = Path(args.out) if args.out else Path("results") / spec.name
    t0 = time.perf_counter()
    try:
        res = run_experiment(spec, out, device=args.device, workers=args.workers, scheduler=args.scheduler,
                             force=args.force, quiet=args.quiet, repair=args.repair)
    except (StoreError, ConnectionError) as e:
        return fail(str(e))
    except OSError as e:  # e.g. a full disk: what was stored so far stays, whole
        return fail(f"cannot write the results ({e}); the runs finished so far are stored in {out}")
    except KeyboardInterrupt:
        print(f"\nlysep: interrupted; the runs finished so far are stored in {out} "
              "(rerun the same command to compute the rest)", file=sys.stderr)
        return INTERRUPTED
    for line in res.repaired:
        print(f"repair: dropped {line}", file=sys.stderr)
    seconds = time.perf_counter() - t0
    print(f"\n{spec.name}: {res.ran} runs computed, {res.skipped} already stored, {res.failed} failed "
          f"in {seconds:.1f} s -> {res.root}")
    print(final_table(res.runs))
    if not args.no_report:
        try:
            print(f"report: {make_report(res.root)}")
        except AnalysisUnavailable as e:
            print(f"lysep: error: {e}; the runs are stored in {res.root}", file=sys.stderr)
            return 1
    return 1 if res.failed else 0


class AnalysisUnavailable(RuntimeError):
    """The analysis package (which renders reports) cannot be imported; the message says why."""


def make_report(root: Path) -> Path:
    """Render the report of a results directory; AnalysisUnavailable with the real import error."""
    try:
        from analysis.report import make_report as render
    except ImportError as e:
        raise AnalysisUnavailable(f"the report needs the analysis package, which cannot be imported "
                                  f"({type(e).__name__}: {e})") from e
    return render(root)


def cmd_report(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    for name in ("traces.parquet", "runs.parquet", "meta.json"):
        if not (root / name).exists():
            return fail(f"{root / name}: not found (expected the output directory of `lysep run`)")
    from lysep.store import read_json, read_parquet

    try:  # a damaged file is named here, not by a traceback from deep inside the report
        read_parquet(root / "traces.parquet")
        read_parquet(root / "runs.parquet")
    except StoreError as e:
        return fail(str(e))
    try:
        read_json(root / "meta.json")
    except StoreError as e:
        return fail(f"{e}; run `lysep run SPEC --out {root}` to write it again")
    from lysep.plan import add_properties

    try:
        if add_properties(root):
            print(f"lysep: {root / 'runs.parquet'} was written by an older lysep: added the method properties "
                  "(family, decrease_guaranteed, default_config, metrics) from the spec in meta.json", file=sys.stderr)
    except (KeyError, ValueError) as e:
        return fail(f"{root / 'meta.json'}: its spec does not describe the methods of runs.parquet ({e})")
    try:
        path = make_report(root)
    except StoreError as e:
        return fail(str(e))
    except AnalysisUnavailable as e:
        print(f"lysep: error: {e}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "bench":
        return cmd_bench(args)
    return cmd_report(args)


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        return fail(f"--device {args.device!r}: expected cpu or cuda")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return fail(f"--device {args.device}: no CUDA device is available on this machine")
    if args.threads is not None and args.threads < 1:
        return fail(f"--threads {args.threads}: expected an integer >= 1")
    from lysep.bench import main as bench_main

    return bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
