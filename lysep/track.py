"""``lysep compare`` and ``lysep track``: is this change a regression? (docs/benchmarks.md, regression tracking)

``lysep track [--base REF]`` measures the working tree and the base commit the same way and judges the
difference with what a load on the machine cannot move:

1. **counted work** per method and cell (``lysep.counters``: FLOPs, activation evaluations, ATen ops,
   host syncs, bytes allocated, grad_evals of one steady-state iteration) - exact, so any increase beyond
   :data:`COUNTER_TOL` is a regression;
2. **in-process timing ratios** (``lysep.ratios``: each method over a fixed pure-torch reference workload,
   LySep over Adam, timed interleaved in one process) - a regression when a ratio grows by more than
   :data:`RATIO_TOL`;
3. **quality**: a small pinned spec (``configs/track.toml``) run on both trees and compared run by run
   (``lysep compare``: paired seeds, Wilcoxon + Holm, TOST, fingerprints).

The base is checked out in a temporary git worktree under the cache directory (``$LYSEP_CACHE`` or
``~/.cache/lysep``) and its measurements are kept there by commit hash. Both sides run the working tree's
measuring code (counters, ratios, spec) on their own ``lysep``, one torch thread per process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

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
ROOT = Path(__file__).resolve().parent.parent
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


def git(*args: str, cwd: Path = ROOT) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TrackError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit hash of ``ref``; TrackError naming the ref if git does not know it."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except TrackError:
        raise TrackError(f"--base {ref}: not a commit of this repository") from None


def base_tree(commit: str) -> Path:
    """A clean checkout of ``commit`` in a git worktree under the cache (made once, then reused)."""
    tree = cache_root() / "worktrees" / commit[:12]
    if not (tree / "lysep").is_dir():
        shutil.rmtree(tree, ignore_errors=True)
        git("worktree", "prune")
        git("worktree", "add", "--detach", "--force", str(tree), commit)
    return tree


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV_PROMPT")}
    return {**env, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


def run_python(tree: Path, code: list[str], log: Any) -> str:
    """Run ``python CODE...`` with ``tree``'s lysep first on the path; its stdout (TrackError on failure)."""
    proc = subprocess.run([sys.executable, *code], cwd=tree, env=_env(tree), capture_output=True, text=True)
    if proc.returncode != 0:
        raise TrackError(f"{tree}: {' '.join(code[:3])} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return proc.stdout


def probe(tree: Path, script: str, config: dict, log: Any) -> list[dict]:
    """Run this checkout's measuring ``script`` (lysep/counters.py or lysep/ratios.py) on ``tree``'s lysep."""
    path = ROOT / "lysep" / script
    code = ["-c", "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            str(path), json.dumps({**config, "threads": 1})]
    log(f"  {script.removesuffix('.py')} ({config.get('kind', 'fnn')}) on {tree}")
    return json.loads(run_python(tree, code, log).strip().splitlines()[-1])


def measure(tree: Path, out: Path, log: Any) -> dict[str, Any]:
    """The three measurements of one side, written to ``out`` (counters.json, ratios.json, quality/)."""
    out.mkdir(parents=True, exist_ok=True)
    spec = ROOT / TRACK_SPEC  # an absolute TRACK_SPEC stays as it is
    log(f"  quality: lysep run {TRACK_SPEC} on {tree}")
    run_python(tree, ["-m", "lysep.cli", "run", str(spec), "--out", str(out / "quality"), "--quiet",
                      "--no-report", "--workers", "2"], log)
    result = {"counters": [r for cfg in COUNT_PROBES for r in probe(tree, "counters.py", cfg, log)],
              "ratios": [{**r, "kind": cfg.get("kind", "fnn")} for cfg in RATIO_PROBES
                         for r in probe(tree, "ratios.py", cfg, log)]}
    (out / "measurements.json").write_text(json.dumps(result, indent=1))
    return result


def judge_counters(base: list[dict], new: list[dict]) -> pd.DataFrame:
    """Per method, cell and counted quantity: base, new and the verdict (worse / better / same)."""
    from lysep.counters import COUNTS

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
            for side, tree in (("base", base_path), ("new", ROOT)):
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


# ---------------------------------------------------------------------------- the commands


def compare_dirs(base: Path, new: Path, out: Path, alpha: float) -> tuple[pd.DataFrame, Path]:
    """``lysep compare``'s work: load both sides (adding method properties to older stores), check they can
    be compared (TrackError listing why not), judge every row, write the report into ``out``."""
    from analysis import regression as rg
    from analysis.regression_report import write_report
    from lysep.plan import add_properties

    for root in (base, new):
        for name in ("traces.parquet", "runs.parquet", "meta.json"):
            if not (root / name).is_file():
                raise TrackError(f"{root / name}: not found (expected the output directory of `lysep run`)")
        add_properties(root)
    sides = rg.load_side(base), rg.load_side(new)
    problems = rg.incomparable(*sides)
    if problems:
        raise TrackError("the two results cannot be compared:\n  " + "\n  ".join(problems))
    table = rg.compare(*sides, alpha=alpha)
    return table, write_report(*sides, table, out)


def terminal_table(table: pd.DataFrame, columns: list[str], limit: int = 40) -> str:
    """The rows that matter first (worse, then the rest), as text."""
    if table.empty:
        return "(nothing compared)"
    order = {"worse": 0, "inconclusive": 1, "better": 2}
    shown = table.assign(_o=table["verdict"].map(order).fillna(3)).sort_values("_o", kind="stable")[columns]
    text = shown.head(limit).to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return text + (f"\n... {len(shown) - limit} more rows in the report" if len(shown) > limit else "")


def compare_command(args: Any) -> int:
    """``lysep compare BASE NEW``: exit 1 when a row is worse, 0 otherwise, 2 on bad input."""
    from analysis.regression_report import bottom_line

    base, new = Path(args.base), Path(args.new)
    out = Path(args.out) if args.out else new / "compare"
    try:
        table, html = compare_dirs(base, new, out, args.alpha)
    except (TrackError, ValueError) as e:
        print(f"lysep: error: {e}", file=sys.stderr)
        return 2
    shown = table[~table["verdict"].isin(["identical", "equivalent"])] if not table.empty else table
    if len(shown):
        print(terminal_table(shown, ["verdict", "depth", "width", "method", "label", "n_pairs", "base_median",
                                     "new_median", "why"]))
    print(f"\n{bottom_line(table)}\nreport: {html}")
    return 1 if not table.empty and table["regression"].any() else 0


def base_measurements(commit: str, fresh: bool, log: Any) -> tuple[dict, Path]:
    """The base commit's measurements: from the cache when complete, else measured in a worktree."""
    cache = cache_root() / commit
    saved = cache / "measurements.json"
    if saved.is_file() and (cache / "quality" / "runs.parquet").is_file() and not fresh:
        log(f"base {commit[:12]}: measurements cached in {cache}")
        return json.loads(saved.read_text()), cache
    log(f"base {commit[:12]}: measuring (checkout in {cache_root() / 'worktrees'})")
    shutil.rmtree(cache, ignore_errors=True)
    return measure(base_tree(commit), cache, log), cache


def track_command(args: Any) -> int:
    """``lysep track [--base REF]``: exit 1 on a regression in counts, ratios or quality; 0 otherwise; 2 bad input."""
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    out = Path(args.out) if args.out else ROOT / "results" / "track"
    try:
        commit = resolve(args.base)
        base, base_dir = base_measurements(commit, args.fresh, log)
        log("working tree: measuring")
        shutil.rmtree(out / "new", ignore_errors=True)
        new = measure(ROOT, out / "new", log)
        quality, _ = compare_dirs(base_dir / "quality", out / "new" / "quality", out / "quality", args.alpha)
    except TrackError as e:
        print(f"lysep: error: {e}", file=sys.stderr)
        return 2
    try:
        base_ratios, new_ratios = confirm_ratios(base["ratios"], new["ratios"], commit, log)
    except TrackError as e:
        print(f"lysep: error: {e}", file=sys.stderr)
        return 2
    counters, ratios = judge_counters(base["counters"], new["counters"]), judge_ratios(base_ratios, new_ratios)
    html = write_track_report(out, commit, counters, ratios, quality)
    worse = {"counted work": counters[counters["verdict"] == "worse"],
             "timing ratios": ratios[ratios["verdict"] == "worse"],
             "quality": quality[quality["regression"]] if not quality.empty else quality}
    shown = {"counted work": ["method", "depth", "width", "count", "base", "new", "change"],
             "timing ratios": ["kind", "depth", "width", "ratio", "base", "new", "change"],
             "quality": ["depth", "width", "method", "label", "n_pairs", "base_median", "new_median", "p_holm"]}
    from analysis import track_moved  # what moved first: worse, then better, the rest folded into a count

    for name, table in {"counted work": counters, "timing ratios": ratios, "quality": quality}.items():
        print("\n" + track_moved.terminal(name, table, ["verdict", *shown[name]]))
    print(f"\nreport: {html}")
    return 1 if any(len(rows) for rows in worse.values()) else 0


def write_track_report(out: Path, commit: str, counters: pd.DataFrame, ratios: pd.DataFrame,
                       quality: pd.DataFrame) -> Path:
    """``track.md`` and ``track.html`` (self-contained) and the three tables as CSV in ``out``."""
    from analysis.regression_report import bottom_line
    from analysis.render import Section, render_html, render_markdown
    from analysis.track_moved import blocks

    for name, table in (("counters", counters), ("ratios", ratios), ("quality", quality)):
        table.to_csv(out / f"track_{name}.csv", index=False)
    worse = [f"{len(counters[counters.verdict == 'worse'])} counted", f"{len(ratios[ratios.verdict == 'worse'])} ratio",
             f"{int(quality['regression'].sum()) if not quality.empty else 0} quality"]
    head = (f"Working tree vs base {commit[:12]}: worse rows: {', '.join(worse)}. Counts: exact, worse beyond "
            f"{COUNTER_TOL:.0%}; ratios: in-process, interleaved, worse beyond x{RATIO_TOL:g}; quality: "
            f"{bottom_line(quality)} (details: quality/compare.html).")
    sections = [Section("Bottom line", [head]),
                Section("Counted work per iteration", blocks(counters, "track_counters.csv")),
                Section("Timing ratios", blocks(ratios, "track_ratios.csv")),
                Section("Quality", blocks(quality.drop(columns=["identical"], errors="ignore"), "track_quality.csv"))]
    (out / "track.md").write_text(render_markdown("lysep track", sections), encoding="utf-8")
    (out / "track.html").write_text(render_html("lysep track", sections), encoding="utf-8")
    return out / "track.html"
