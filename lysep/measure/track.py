"""``lysep compare`` and ``lysep track``: is this change a regression? (docs/benchmarks.md, regression tracking)

``lysep track [--base REF]`` measures the working tree and the base commit the same way and judges the
difference with what a load on the machine cannot move:

1. **counted work** per method and cell (``lysep.measure.counters``: FLOPs, activation evaluations, ATen ops,
   host syncs, bytes allocated, grad_evals of one steady-state iteration) - exact, so any increase beyond
   :data:`COUNTER_TOL` is a regression;
2. **in-process timing ratios** (``lysep.measure.ratios``: each method over a fixed pure-torch reference workload,
   LySep over Adam, timed interleaved in one process) - a regression when a ratio grows by more than
   :data:`RATIO_TOL`;
3. **quality**: a small pinned spec (``configs/track.toml``) run on both trees and compared run by run
   (``lysep compare``: paired seeds, Wilcoxon + Holm, TOST, fingerprints).

The base is checked out in a temporary git worktree under the cache directory (``$LYSEP_CACHE`` or
``~/.cache/lysep``) and its measurements are kept there by commit hash, with the environment they were measured in
(``environment.json``: Python, torch, numpy, pandas, the machine and a hash of the measuring code). A cache that is
partial, unreadable or from another environment, and a worktree that is not a clean checkout of its commit, are
rebuilt, saying so. Both sides run the working tree's measuring code (counters, ratios, spec) on their own
``lysep``, one torch thread per process. The repository is this checkout's (``$LYSEP_TRACK_REPO`` names another:
its commits are the bases and its tree is the working tree measured).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from lysep.harness.store import MACHINE_FAULTS, write_text

#: relative increase of a counted quantity that is a regression (counts are exact: this only absorbs
#: float-rounding differences in the number of Armijo trials)
COUNTER_TOL = 0.01
#: factor by which a timing ratio must grow (or shrink) to count as a change; measured spread of the ratios
#: (CPU-time based) on this 2-core machine beside a second lysep run: within about 0.72-1.2
RATIO_TOL = 1.5
#: extra measurements of a cell whose ratio crossed the tolerance, on both sides, alternately: the verdict
#: then rests on the median of three measurements per side
CONFIRM_RUNS = 2
#: the pinned quality spec, relative to the repository root
TRACK_SPEC = "configs/track.toml"
ROOT = Path(__file__).resolve().parents[2]
#: what the timing ratios measure: the paper's Example 1 grid (FNN) and two cells of Example 2 (CNN)
RATIO_PROBES = (
    {"dataset": {"name": "circle", "n_train": 2000, "n_test": 100}, "cells": [[3, 10], [5, 20], [10, 50]],
     "seeds": list(range(10)), "methods": {m: {"name": m} for m in ("lysep", "adam", "sgd", "gd")}},
    {"kind": "cnn", "dataset": {"name": "digits", "n_train": 1200, "n_test": 597}, "cells": [[2, 4], [4, 8]],
     "seeds": list(range(10)), "methods": {m: {"name": m} for m in ("lysep", "adam")}},
)
#: what is counted: the same grids on fewer samples (counted work is proportional to N; counting is slow)
COUNT_PROBES = tuple({**p, "dataset": {**p["dataset"], "n_train": 500 if "kind" not in p else 300, "n_test": 100}}
                     for p in RATIO_PROBES)


class TrackError(RuntimeError):
    """Bad input to ``lysep track`` (unknown ref, no git, a side that could not be measured)."""


def cache_root() -> Path:
    return Path(os.environ.get("LYSEP_CACHE") or Path.home() / ".cache" / "lysep") / "track"


def repo_root() -> Path:
    """The git repository whose commits are the bases and whose tree is measured: ``$LYSEP_TRACK_REPO``, else
    this checkout."""
    return Path(os.environ.get("LYSEP_TRACK_REPO") or ROOT)


def git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd or repo_root(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise TrackError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit hash of ``ref``; TrackError naming the ref if git does not know it."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except TrackError:
        raise TrackError(f"--base {ref}: not a commit of this repository") from None


def tree_problem(tree: Path, commit: str) -> str | None:
    """Why ``tree`` is not a clean checkout of ``commit`` (absent, partly deleted, another commit, changed), or None."""
    if not tree.exists():
        return "absent"
    if not (tree / "lysep").is_dir():
        return "partial (no lysep/ in it)"
    try:
        head = git("rev-parse", "HEAD", cwd=tree)
        changed = git("status", "--porcelain", "--untracked-files=no", cwd=tree)
    except TrackError as e:
        return f"not a git worktree ({e})"
    if head != commit:
        return f"at commit {head[:12]}, not {commit[:12]}"
    return f"changed ({len(changed.splitlines())} files differ from the commit)" if changed else None


def base_tree(commit: str, log: Any = None) -> Path:
    """A clean checkout of ``commit`` in a git worktree under the cache (made once, then reused; made again,
    saying so, when it is no longer a clean checkout of the commit)."""
    tree = cache_root() / "worktrees" / commit[:12]
    problem = tree_problem(tree, commit)
    if problem:
        if problem != "absent" and log is not None:
            log(f"base worktree {tree} is {problem}: checking {commit[:12]} out again")
        shutil.rmtree(tree, ignore_errors=True)
        git("worktree", "prune")
        git("worktree", "add", "--detach", "--force", str(tree), commit)
    return tree


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV_PROMPT")}
    return {**env, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


#: the line of a ``lysep`` subprocess whose write the machine refused (``lysep.commands.common.write_failed``)
REFUSED = re.compile(r"error: (?P<path>.+?): cannot be written \((?P<code>E[A-Z]+): (?P<why>[^)]*)\)")
MACHINE_FAULT_NAMES = frozenset(errno.errorcode[e] for e in MACHINE_FAULTS)


def run_python(tree: Path, code: list[str], log: Any) -> str:
    """Run ``python CODE...`` with ``tree``'s lysep first on the path; its stdout (TrackError on failure; the
    OSError of a write the machine refused, e.g. a full disk, when the subprocess says so)."""
    proc = subprocess.run([sys.executable, *code], cwd=tree, env=_env(tree), capture_output=True, text=True)
    refused = REFUSED.search(proc.stderr) if proc.returncode == 1 else None
    if refused and refused["code"] in MACHINE_FAULT_NAMES:  # its disk is full: the machine's fault, not the input's
        raise OSError(getattr(errno, refused["code"]), refused["why"], refused["path"])
    if proc.returncode != 0:
        raise TrackError(f"{tree}: {' '.join(code[:3])} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return proc.stdout


#: run a measuring script of this checkout on the lysep on the path: argv = script, config, counters.py (whose
#: ``adopt_flat_api`` first gives a checkout older than the layer packages the public names the scripts use)
PROBE = ("import runpy, sys; runpy.run_path(sys.argv[3])['adopt_flat_api'](); "
         "sys.argv = sys.argv[1:3]; runpy.run_path(sys.argv[0], run_name='__main__')")


def probe(tree: Path, script: str, config: dict, log: Any) -> list[dict]:
    """Run this checkout's measuring ``script`` (counters.py or ratios.py of lysep/measure/) on ``tree``'s lysep."""
    here = Path(__file__).resolve().parent
    code = ["-c", PROBE, str(here / script), json.dumps({**config, "threads": 1}), str(here / "counters.py")]
    log(f"  {script.removesuffix('.py')} ({config.get('kind', 'fnn')}) on {tree}")
    return json.loads(run_python(tree, code, log).strip().splitlines()[-1])


def cli_module(tree: Path) -> str:
    """How to run ``tree``'s lysep command: ``lysep`` (``python -m lysep``), or ``lysep.cli`` before the layers."""
    return "lysep" if (tree / "lysep" / "__main__.py").is_file() else "lysep.cli"


def measure(tree: Path, out: Path, log: Any) -> dict[str, Any]:
    """The three measurements of one side, written to ``out`` (counters.json, ratios.json, quality/)."""
    out.mkdir(parents=True, exist_ok=True)
    spec = ROOT / TRACK_SPEC  # an absolute TRACK_SPEC stays as it is
    log(f"  quality: lysep run {TRACK_SPEC} on {tree}")
    run_python(tree, ["-m", cli_module(tree), "run", str(spec), "--out", str(out / "quality"), "--quiet",
                      "--no-report", "--workers", "2"], log)
    result = {"counters": [r for cfg in COUNT_PROBES for r in probe(tree, "counters.py", cfg, log)],
              "ratios": [{**r, "kind": cfg.get("kind", "fnn")} for cfg in RATIO_PROBES
                         for r in probe(tree, "ratios.py", cfg, log)]}
    write_text(out / "measurements.json", json.dumps(result, indent=1))
    return result


def judge_counters(base: list[dict], new: list[dict]) -> pd.DataFrame:
    """Per method, cell and counted quantity: base, new and the verdict (worse / better / same)."""
    from lysep.measure.counters import COUNTS

    keys = ["method", "depth", "width"]
    both = pd.DataFrame(base).merge(pd.DataFrame(new), on=keys, suffixes=("_base", "_new"))
    rows = []
    for r in both.to_dict("records"):
        for c in COUNTS:
            b, n = float(r[f"{c}_base"]), float(r[f"{c}_new"])
            change = n / b if b else (1.0 if n == b else float("inf"))
            verdict = "worse" if change > 1 + COUNTER_TOL else "better" if change < 1 - COUNTER_TOL else "same"
            rows.append({**{k: r[k] for k in keys}, "count": c, "base": b, "new": n, "change": change,
                         "verdict": verdict})
    return pd.DataFrame(rows)


def confirm_ratios(base: list[dict], new: list[dict], commit: str, log: Any) -> tuple[list[dict], list[dict]]:
    """Measure every cell with a ratio beyond the tolerance ``CONFIRM_RUNS`` more times on both trees
    (alternately) and keep, per side, the median of its measurements of that cell."""
    judged = judge_ratios(base, new)
    flagged = judged.loc[judged["verdict"] != "same", ["kind", "depth", "width"]].drop_duplicates()
    if flagged.empty:
        return base, new
    log(f"confirming {len(flagged)} cells whose timing ratios moved beyond x{RATIO_TOL:g}")
    base_path = base_tree(commit)
    runs: dict[str, list[list[dict]]] = {"base": [base], "new": [new]}
    for cfg in RATIO_PROBES:
        cells = [[int(d), int(w)] for k, d, w in flagged.itertuples(index=False) if k == cfg.get("kind", "fnn")]
        for _ in range(CONFIRM_RUNS if cells else 0):
            for side, tree in (("base", base_path), ("new", repo_root())):
                rows = probe(tree, "ratios.py", {**cfg, "cells": cells}, log)
                runs[side].append([{**r, "kind": cfg.get("kind", "fnn")} for r in rows])
    return tuple(_median_rows(runs[side]) for side in ("base", "new"))


def _median_rows(measurements: list[list[dict]]) -> list[dict]:
    """Per (kind, depth, width), the median of every ratio over the measurements that have the cell."""
    keys = ["kind", "depth", "width"]
    table = pd.concat([pd.DataFrame(m) for m in measurements], ignore_index=True)
    return table.groupby(keys, as_index=False).median(numeric_only=True).to_dict("records")


def judge_ratios(base: list[dict], new: list[dict]) -> pd.DataFrame:
    """Per cell and timing ratio: base, new, their quotient and the verdict (worse / better / same)."""
    keys = ["kind", "depth", "width"]
    b, n = (pd.DataFrame(x).melt(id_vars=keys, var_name="ratio", value_name="value") for x in (base, new))
    both = b.merge(n, on=[*keys, "ratio"], suffixes=("_base", "_new")).dropna()
    both["change"] = both["value_new"] / both["value_base"]
    both["verdict"] = ["worse" if c > RATIO_TOL else "better" if c < 1 / RATIO_TOL else "same" for c in both.change]
    return both.rename(columns={"value_base": "base", "value_new": "new"})


# ---------------------------------------------------------------------------- compare and track


def compare_dirs(base: Path, new: Path, out: Path, alpha: float, settings: bool = False) -> tuple[pd.DataFrame, Path]:
    """``lysep compare``'s work: load both sides (adding method properties to older stores), check they can
    be compared (TrackError listing why not), judge every row, write the report into ``out``. ``settings``
    (``--settings``): the specs may differ in the methods' hyperparameters (two settings, paired by label)."""
    from analysis import regression as rg
    from analysis.regression_report import write_report
    from lysep.harness.plan import add_properties

    for root in (base, new):
        for name in ("traces.parquet", "runs.parquet", "meta.json"):
            if not (root / name).is_file():
                raise TrackError(f"{root / name}: not found (expected the output directory of `lysep run`)")
        add_properties(root)
    sides = rg.load_side(base), rg.load_side(new)
    problems = rg.incomparable(*sides, settings=settings)
    if problems:
        raise TrackError("the two results cannot be compared:\n  " + "\n  ".join(problems))
    table = rg.compare(*sides, alpha=alpha)
    return table, write_report(*sides, table, out)


#: the file beside a base's cached measurements that records the environment they were measured in
ENV_FILE = "environment.json"


def environment() -> dict[str, str]:
    """What a cached measurement depends on besides its commit: the interpreter, the libraries, the machine and
    the measuring code (counters.py, ratios.py, the probes and the quality spec)."""
    from importlib.metadata import PackageNotFoundError, version

    code = hashlib.sha256()
    for script in ("counters.py", "ratios.py"):
        code.update((Path(__file__).resolve().parent / script).read_bytes())
    code.update(json.dumps([COUNT_PROBES, RATIO_PROBES], sort_keys=True).encode())
    spec = ROOT / TRACK_SPEC
    code.update(spec.read_bytes() if spec.is_file() else b"")
    env = {"python": platform.python_version(), "machine": platform.machine(), "measuring code": code.hexdigest()[:16]}
    for package in ("torch", "numpy", "pandas"):
        try:
            env[package] = version(package)
        except PackageNotFoundError:
            env[package] = "absent"
    return env


def cache_problem(cache: Path) -> str | None:
    """Why the cached measurements in ``cache`` cannot be used (partial, unreadable, from another environment),
    or None."""
    from lysep.harness.store import StoreError, read_json, read_parquet

    needed = [cache / "measurements.json", cache / ENV_FILE, *(cache / "quality" / n for n in
                                                             ("runs.parquet", "traces.parquet", "meta.json"))]
    missing = [str(p.relative_to(cache)) for p in needed if not p.is_file()]
    if missing:
        return f"partial ({', '.join(missing)} missing)"
    try:
        saved = read_json(cache / "measurements.json")
        if not (isinstance(saved, dict) and all(isinstance(saved.get(k), list) for k in ("counters", "ratios"))):
            return "corrupt (measurements.json has no counters and ratios lists)"
        for name in ("runs.parquet", "traces.parquet"):
            read_parquet(cache / "quality" / name)
        recorded = read_json(cache / ENV_FILE)
    except StoreError as e:
        return f"corrupt ({e})"
    now = environment()
    differ = [f"{k} {recorded.get(k) if isinstance(recorded, dict) else None} then, {v} now"
              for k, v in now.items() if not isinstance(recorded, dict) or recorded.get(k) != v]
    return f"from another environment ({'; '.join(differ)})" if differ else None


def base_measurements(commit: str, fresh: bool, log: Any) -> tuple[dict, Path]:
    """The base commit's measurements: from the cache when it is whole and of this environment, else measured in a
    worktree (saying why the cache was not used)."""
    from lysep.harness.store import read_json, write_json

    cache = cache_root() / commit
    problem = None if fresh or not cache.exists() else cache_problem(cache)
    if cache.exists() and not fresh and problem is None:
        log(f"base {commit[:12]}: measurements cached in {cache}")
        return read_json(cache / "measurements.json"), cache
    if problem:
        log(f"base {commit[:12]}: the cache in {cache} is {problem}: measuring again")
    log(f"base {commit[:12]}: measuring (checkout in {cache_root() / 'worktrees'})")
    shutil.rmtree(cache, ignore_errors=True)
    result = measure(base_tree(commit, log), cache, log)
    write_json(cache / ENV_FILE, environment())  # last: a cache without it is partial
    return result, cache


def track(base_ref: str, fresh: bool, out: Path, alpha: float,
          log: Any) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], Path]:
    """``lysep track``'s work: measure the base commit (or read its cache) and the working tree, judge counted work,
    timing ratios and quality, write the report into ``out``; the three judged tables, the worse rows of each and
    the report's path.
    TrackError on bad input (an unknown ref, a side that could not be measured)."""
    commit = resolve(base_ref)
    base, base_dir = base_measurements(commit, fresh, log)
    log("working tree: measuring")
    shutil.rmtree(out / "new", ignore_errors=True)
    new = measure(repo_root(), out / "new", log)
    quality, _ = compare_dirs(base_dir / "quality", out / "new" / "quality", out / "quality", alpha)
    base_ratios, new_ratios = confirm_ratios(base["ratios"], new["ratios"], commit, log)
    counters, ratios = judge_counters(base["counters"], new["counters"]), judge_ratios(base_ratios, new_ratios)
    html = write_track_report(out, commit, counters, ratios, quality)
    worse = {"counted work": counters[counters["verdict"] == "worse"],
             "timing ratios": ratios[ratios["verdict"] == "worse"],
             "quality": quality[quality["regression"]] if not quality.empty else quality}
    return {"counted work": counters, "timing ratios": ratios, "quality": quality}, worse, html


def write_track_report(out: Path, commit: str, counters: pd.DataFrame, ratios: pd.DataFrame,
                       quality: pd.DataFrame) -> Path:
    """``track.md`` and ``track.html`` (self-contained) and the three tables as CSV in ``out``."""
    from analysis.regression_report import bottom_line
    from analysis.render import Section, render_html, render_markdown
    from analysis.track_moved import blocks

    for name, table in (("counters", counters), ("ratios", ratios), ("quality", quality)):
        write_text(out / f"track_{name}.csv", table.to_csv(index=False))
    worse = [f"{len(counters[counters.verdict == 'worse'])} counted", f"{len(ratios[ratios.verdict == 'worse'])} ratio",
             f"{int(quality['regression'].sum()) if not quality.empty else 0} quality"]
    head = (f"Working tree vs base {commit[:12]}: worse rows: {', '.join(worse)}. Counts: exact, worse beyond "
            f"{COUNTER_TOL:.0%}; ratios: in-process, interleaved, worse beyond x{RATIO_TOL:g}; quality: "
            f"{bottom_line(quality)} (details: quality/compare.html).")
    sections = [Section("Bottom line", [head]),
                Section("Counted work per iteration", blocks(counters, "track_counters.csv")),
                Section("Timing ratios", blocks(ratios, "track_ratios.csv")),
                Section("Quality", blocks(quality.drop(columns=["identical"], errors="ignore"), "track_quality.csv"))]
    write_text(out / "track.md", render_markdown("lysep track", sections))
    write_text(out / "track.html", render_html("lysep track", sections))
    return out / "track.html"
