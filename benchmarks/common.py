"""What every benchmark shares: the data, the thread count, the device and the slowdown knob.

Nothing here touches CUDA at import time (asv spawns a fresh process per benchmark, and CUDA must
only be initialised inside ``setup``). ``lysep`` modules are imported lazily through ``need`` so
that the suite still imports at an old commit that lacks one of them: the benchmarks that need
it are then skipped (``NotImplementedError`` in ``setup``) instead of failing discovery.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
from pathlib import Path
from typing import Any

import torch

#: CPU threads per benchmark process: this machine has 2 cores and asv runs one benchmark at a time
THREADS = int(os.environ.get("LYSEP_BENCH_THREADS", "2"))
#: where tensors live; "cuda" is only touched inside setup, never at import
DEVICE_ENV = "LYSEP_BENCH_DEVICE"
#: multiplies the measured time of one solver iteration (see ``slowdown``)
SLOWDOWN_ENV = "LYSEP_BENCH_SLOWDOWN"

#: the paper's Example 1 data for the speed benchmarks
DATASET = "circle"
N_TRAIN = 2000
N_TEST = 1000
#: seeds batched in one computation, as in a grid cell of an experiment
N_SEEDS = 10
SEEDS = list(range(N_SEEDS))
DEPTHS = [3, 5, 10]
WIDTHS = [10, 20, 50]
METHODS = ["lysep", "adam", "sgd", "gd"]
ACTIVATION = "tanh"

torch.set_num_threads(THREADS)


def need(module: str, *names: str) -> Any:
    """``module`` (or its attributes ``names``); NotImplementedError when this commit lacks them.

    ``module`` may name alternatives, ``"lysep.core.model|lysep.model"``: the first that exists is used, so a
    module that moved (the layer packages of lysep/, docs/architecture.md) is still found at older commits.
    asv reports a benchmark whose ``setup`` raises NotImplementedError as skipped, so a benchmark of a
    feature younger than the measured commit is skipped there rather than failed. Import errors raised
    inside an existing module are real failures and propagate.
    """
    *earlier, last = module.split("|")
    for name in earlier:
        try:
            return need(name, *names)
        except NotImplementedError:
            continue
    module = last
    _check_beside_lysep(module)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
            raise NotImplementedError(f"{module} does not exist at this commit") from e
        raise
    _check_same_tree(mod)
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise NotImplementedError(f"{module} has no {', '.join(missing)} at this commit")
    if not names:
        return mod
    values = tuple(getattr(mod, n) for n in names)
    return values[0] if len(values) == 1 else values


#: the measuring modules (counted work, timing ratios) of the suite's own tree: they use only the public API of
#: ``lysep``, so the same measuring code runs on every commit (``measuring``)
MEASURING_DIR = Path(__file__).resolve().parent.parent / "lysep" / "measure"
#: where ``skipped`` appends "benchmark<TAB>reason" lines when set (scripts/asv_history.py backfill reads them)
SKIP_LOG_ENV = "LYSEP_BENCH_SKIP_LOG"


def measuring(name: str) -> Any:
    """The suite's own ``lysep/measure/<name>.py`` (``counters`` or ``ratios``), loaded by path under a private name.

    The measured commit's ``lysep`` (first on the path, ``ASV_PYTHONPATH``) is what the module's lazy imports
    (the package root's public names; ``counters.adopt_flat_api`` gives them to a commit older than the layer
    packages) find; the measuring code itself is the suite's, as ``lysep track``
    runs the working tree's measuring code on both sides, so a change of the measuring code never shows
    up as a step in the history and commits older than the module are measured too.
    """
    key = f"_lysep_measuring_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, MEASURING_DIR / f"{name}.py")
        if spec is None or spec.loader is None:
            raise FileNotFoundError(MEASURING_DIR / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
        if name == "counters":
            mod.adopt_flat_api()  # a commit older than the layer packages: the public names from its flat modules
    if name != "counters":
        measuring("counters")
    return sys.modules[key]


def skipped(benchmark: str, reason: str) -> NotImplementedError:
    """The NotImplementedError that makes asv skip ``benchmark`` here; its reason is appended to the file
    named by ``LYSEP_BENCH_SKIP_LOG`` when set (asv itself keeps no reason for a skip)."""
    log = os.environ.get(SKIP_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{benchmark}\t{' '.join(reason.split())}\n")
    return NotImplementedError(reason)


def _check_beside_lysep(module: str) -> None:
    """NotImplementedError when ``module``'s top-level package (``analysis``) would come from another tree than
    ``lysep``: at a commit older than the package, the editable install serves it from the installed tree,
    whose code belongs to another commit (checked before importing it: its imports may fail on the old lysep)."""
    top = module.split(".")[0]
    if top == "lysep":
        return
    try:
        own, ref = importlib.util.find_spec(top), importlib.util.find_spec("lysep")
    except (ValueError, ModuleNotFoundError):
        return
    if own is None or ref is None or not own.origin or not ref.origin:
        return
    here, tree = Path(own.origin).resolve().parent.parent, Path(ref.origin).resolve().parent.parent
    if here != tree:
        raise NotImplementedError(f"{top} does not exist at this commit (the {top} found lies in another tree "
                                  "than the lysep under test)")


def _check_same_tree(mod: Any) -> None:
    """NotImplementedError when ``mod`` lies outside the directory of its top-level package.

    When an older checkout is measured through ``ASV_PYTHONPATH`` while the project is also installed
    editable, setuptools' editable finder serves a submodule missing from the old ``lysep`` from the
    installed tree instead: such a module belongs to another commit and must not be benchmarked.
    """
    top = importlib.import_module(mod.__name__.split(".")[0])
    top_file, mod_file = getattr(top, "__file__", None), getattr(mod, "__file__", None)
    if top_file is None or mod_file is None:
        return
    root = Path(top_file).resolve().parent
    if root != Path(mod_file).resolve().parent and root not in Path(mod_file).resolve().parents:
        raise NotImplementedError(f"{mod.__name__} is not part of the {top.__name__} under test ({root})")


def device() -> torch.device:
    """The benchmark device from ``LYSEP_BENCH_DEVICE`` (default cpu); call inside setup only."""
    dev = torch.device(os.environ.get(DEVICE_ENV, "cpu"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NotImplementedError(f"{DEVICE_ENV}={dev} but CUDA is not available")
    return dev


def sync(dev: torch.device) -> None:
    """Wait for queued kernels so that a timed region covers the work it launched."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def slowdown() -> float:
    """``LYSEP_BENCH_SLOWDOWN`` (default 1.0): a factor >= 1 that makes the timed solver step slower.

    It exists to check the regression tracking itself: record a run with it set to 3 and
    ``asv compare`` must flag ``speed.MethodStep.time_step`` as slower. Only the benchmarks read it.
    """
    raw = os.environ.get(SLOWDOWN_ENV, "1.0")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1.0):
        raise ValueError(f"{SLOWDOWN_ENV}={raw!r} must be a number >= 1")
    return value


def dataset_arrays(name: str = DATASET, **options: Any) -> dict[str, Any]:
    """A dataset's arrays (x_train, y_train, x_test, y_test, n_classes): what a ``setup_cache`` returns.

    asv runs ``setup_cache`` once per benchmark class and hands its (pickled) result to every
    ``setup``, so the data are built once per run of the suite, not once per process.
    """
    load_dataset = need("lysep.datasets", "load_dataset")
    ds = load_dataset(name, **{"n_train": N_TRAIN, "n_test": N_TEST, **options})
    return {"x_train": ds.x_train, "y_train": ds.y_train, "x_test": ds.x_test, "y_test": ds.y_test,
            "n_classes": ds.n_classes}


def problem_of(arrays: dict[str, Any], dev: str = "cpu") -> Any:
    """The cached arrays as a ``lysep.core.problem.Problem`` on ``dev``."""
    Problem = need("lysep.core.problem|lysep.problem", "Problem")
    if not hasattr(Problem, "from_arrays"):
        raise NotImplementedError("lysep.core.problem.Problem has no from_arrays at this commit")
    return Problem.from_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                               n_classes=arrays["n_classes"], device=dev)


def fnn_params(pb: Any, depth: int, width: int, n_seeds: int = N_SEEDS) -> tuple[Any, Any]:
    """``(ModelSpec, theta_0)`` of an FNN on ``pb``'s data, all seeds batched (every method's ``init`` clones it)."""
    ModelSpec, init_params = need("lysep.core.model|lysep.model", "ModelSpec", "init_params")
    spec = ModelSpec.fnn(pb.in_dim, depth=depth, width=width, n_classes=pb.n_classes, activation=ACTIVATION)
    return spec, init_params(spec, list(range(n_seeds)), pb.dtype, pb.device)
