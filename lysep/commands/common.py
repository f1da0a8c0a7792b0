"""What every subcommand shares: the exit codes, the error line, checks of the common flags and the validated spec."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lysep.harness.spec import ExperimentSpec, SpecError, default_spec_path, load_spec

BAD_INPUT = 2
INTERRUPTED = 130
#: a failure that is not the input's: runs that failed, a regression, a write the machine refused (a full disk)
FAILURE = 1
#: where ``lysep run`` writes a spec's results unless ``--out`` says otherwise
RESULTS_ROOT = Path("results")


def fail(message: str) -> int:
    print(f"lysep: error: {message}", file=sys.stderr)
    return BAD_INPUT


def machine_fault(e: OSError) -> bool:
    """Whether ``e`` is a write the machine refused (``lysep.harness.store.MACHINE_FAULTS``: a full disk, an I/O
    error, a full quota): exit 1, not bad input (a read-only folder or a missing permission stays exit 2)."""
    from lysep.harness.store import MACHINE_FAULTS

    return e.errno in MACHINE_FAULTS


def write_failed(e: OSError, kept: str) -> int:
    """Say which file could not be written, why (the errno) and what is safe (``kept``); ``FAILURE``."""
    import errno

    code = errno.errorcode.get(e.errno or 0, str(e.errno))
    where = f"{e.filename}: " if e.filename else ""
    print(f"lysep: error: {where}cannot be written ({code}: {e.strerror or e}); {kept}", file=sys.stderr)
    return FAILURE


def stored_runs(root: Path) -> int | None:
    """How many finished runs the results directory ``root`` holds (None when it cannot be read)."""
    from lysep.harness.store import ResultsStore

    try:
        return len(ResultsStore(root).completed_hashes())
    except Exception:  # a message about a full disk must not turn into a traceback about a damaged file
        return None


def kept_runs(root: Path, then: str, what: str = "runs") -> str:
    """``N runs are stored in ROOT; free space and THEN``: what a failed write leaves safe."""
    n = stored_runs(root)
    return f"{'the' if n is None else n} {what} {'finished so far ' if n is None else ''}are stored in {root}; " \
           f"free space and {then}"


def warn(message: str) -> None:
    """A warning line on stderr (the run goes on)."""
    print(f"lysep: warning: {message}", file=sys.stderr, flush=True)


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
    from lysep.harness.plan import preflight

    try:  # the data and the models, before anything is written: a bad file is bad input, not failed runs
        preflight(spec, device)
    except ValueError as e:
        fail(f"{spec.source}: {e}")
        return None
    return spec


def sweep(spec: ExperimentSpec, out: Path, args: argparse.Namespace, finished: str = "runs",
          stored: str = "runs") -> tuple[Any, int | None]:
    """Run ``spec``'s sweep into ``out`` with ``lysep run``'s flags: ``(the runner's result, None)``, or
    ``(None, exit code)`` when it could not finish: bad input 2, a write the machine refused 1, interrupted 130;
    the message says that the ``finished`` (``stored``: as the store counts them) so far are stored."""
    from lysep.harness.executors import default_threads
    from lysep.harness.runner import run_experiment
    from lysep.harness.store import StoreError

    try:
        return run_experiment(spec, out, device=args.device, workers=args.workers, scheduler=args.scheduler,
                              force=args.force, quiet=args.quiet, repair=args.repair,
                              threads=args.threads or default_threads(args.workers),
                              recompute_changed=args.recompute_changed, warn=warn), None
    except (StoreError, ConnectionError) as e:
        return None, fail(str(e))
    except OSError as e:  # what was stored so far stays, whole; a full disk is exit 1, a read-only folder exit 2
        if machine_fault(e):
            return None, write_failed(e, kept_runs(out, "rerun the same command to compute the rest", stored))
        return None, fail(f"cannot write the results ({e}); the {finished} finished so far are stored in {out}")
    except KeyboardInterrupt:
        print(f"\nlysep: interrupted; the {finished} finished so far are stored in {out} "
              "(rerun the same command to compute the rest)", file=sys.stderr)
        return None, INTERRUPTED

