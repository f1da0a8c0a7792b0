"""The committed asv history (results/asv/) and asv's working results (.asv/results/, ignored by git).

    python scripts/asv_history.py load            # copy the committed history into .asv/results
    python scripts/asv_history.py save COMMIT...  # copy recorded commits' results into results/asv
    python scripts/asv_history.py publish         # load, asv publish, and serve the dashboard's JS locally
    python scripts/asv_history.py record          # record HEAD's deterministic benchmarks and save them
    python scripts/asv_history.py backfill        # the same for every commit of main not recorded yet
    python scripts/asv_history.py status          # the newest recorded commit and how far behind HEAD it is

Benchmark runs write only into .asv/results (asv.conf.json), so they never modify tracked files.
``record`` and ``backfill`` run asv's own machinery (``asv run -E lysep:same --set-commit-hash``) on a clean
checkout of each commit (a git worktree under .asv/worktrees, passed to the benchmarks as ``ASV_PYTHONPATH``)
with one torch thread, then ``save`` it: the deterministic benchmarks (counted work and training quality,
:data:`DETERMINISTIC`) for every commit, the timing ones (:data:`TIMING`) with ``--timing``. ``save``
files results under the fixed environment name ``lysep-py<X.Y>`` (results recorded with ``--python=same``
are renamed from their interpreter-path name), so history from any environment on a machine compares.
``publish`` rewrites asv's pages to load their JavaScript and CSS from ``benchmarks/vendor`` instead of
CDNs, so the dashboard works offline (``asv preview`` serves it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "results" / "asv"
WORKING = ROOT / ".asv" / "results"
HTML = ROOT / ".asv" / "html"
VENDOR = ROOT / "benchmarks" / "vendor"
#: CDN file name -> the vendored file that replaces it
ASSETS = {
    "jquery-3.3.1.min.js": "jquery.min.js", "jquery.flot.min.js": "jquery.flot.js",
    "jquery.flot.time.min.js": "jquery.flot.time.js",
    "jquery.flot.selection.min.js": "jquery.flot.selection.js",
    "jquery.flot.categories.min.js": "jquery.flot.categories.js",
    "jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "stupidtable.min.js": "stupidtable.min.js", "md5.min.js": "md5.min.js", "bootstrap.min.js": "bootstrap.min.js",
    "bootstrap.min.css": "bootstrap.min.css",
}
#: benchmarks whose values do not depend on timing: counted work and training quality (asv --bench regex)
DETERMINISTIC = r"^(tracking\.(Cnn)?Counts|quality\.LySepVsAdam)\."
#: benchmarks that time something: wall times, peak memory, in-process timing ratios, CLI latency
TIMING = r"^(speed\.|tracking\.Ratios\.|cli\.)"
#: the benchmarks that must have a value at every newly recorded commit (record fails otherwise)
REQUIRED = r"^tracking\.(Cnn)?Counts\."
#: the machine name the committed history is filed under (asv compares results by machine name)
MACHINE = "vm"
#: the newest recorded commit may be at most this many first-parent commits behind HEAD (the continuity test)
HANDFUL = 5
#: asv's launch method of every recording: a forkserver imports the suite (and torch) once per commit instead of once
#: per benchmark and parameter set. Deterministic benchmarks: 54 s instead of minutes per commit, the same values;
#: timing benchmarks: 4.6 min instead of more than 14 per commit, the values within the run-to-run noise of
#: fresh processes (results/PERFORMANCE.md, docs/benchmarks.md)
LAUNCH = ["--launch-method", "forkserver"]
#: the environment of every recording: one torch thread (deterministic reductions, no competition for cores)
RECORD_ENV = {"LYSEP_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
WORKTREES = ROOT / ".asv" / "worktrees"
TAG = re.compile(r'(?P<attr>src|href)="https://[^"]*/(?P<file>[^"/]+)"(?P<rest>[^>]*)>')


def env_name(doc: dict) -> str:
    """The fixed environment name of a results document: ``lysep-py<X.Y>`` (from its recorded interpreter)."""
    if doc.get("env_name", "").startswith("lysep-py"):
        return doc["env_name"]
    found = re.search(r"(\d+\.\d+)", str(doc.get("python", "")))
    if not found:
        raise SystemExit(f"cannot tell the Python version of results {doc.get('env_name')!r}")
    return f"lysep-py{found[1]}"


def normalized(doc: dict) -> dict:
    """A results document filed under the fixed environment name, its python parameter the version."""
    name = env_name(doc)
    version = name.removeprefix("lysep-py")
    return {**doc, "env_name": name, "python": version, "params": {**doc.get("params", {}), "python": version}}


def copy_tree(src: Path, dst: Path, force: bool = False) -> int:
    """Copy every JSON file of ``src`` into ``dst`` (same layout); existing files stay unless ``force``."""
    n = 0
    for path in src.rglob("*.json"):
        target = dst / path.relative_to(src)
        if force or not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            n += 1
    return n


def load(args: argparse.Namespace) -> int:
    n = copy_tree(HISTORY, WORKING, args.force)
    print(f"{n} files of the committed history copied into {WORKING}")
    return 0


def save(args: argparse.Namespace) -> int:
    """Copy the results of each COMMIT (and machine.json, benchmarks.json) from .asv/results into results/asv."""
    saved = 0
    for ref in args.commits:
        commit = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        machine = getattr(args, "machine", None) or "*"
        files = sorted(WORKING.glob(f"{machine}/{commit[:8]}-*.json")) if commit else []
        if not files:
            print(f"error: no results of {ref} in {WORKING} (record them with asv run -E lysep:same "
                  f"--set-commit-hash {commit or ref})", file=sys.stderr)
            return 2
        for path in files:
            doc = normalized(json.loads(path.read_text()))
            described = machine_of(path.parent.name)
            if described:  # the history's description of this machine name (see machine_of), here and in .asv
                doc["params"] = {**doc["params"], **described}
                path.write_text(json.dumps(doc, indent=None, sort_keys=True) + "\n")
            target = HISTORY / path.parent.name / f"{commit[:8]}-{doc['env_name']}.json"
            if target.is_file():
                doc = kept_values(json.loads(target.read_text()), doc)
            doc = with_values_only(doc)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(doc, indent=None, sort_keys=True) + "\n")
            if not described:
                shutil.copy2(path.parent / "machine.json", target.parent / "machine.json")
            saved += 1
    shutil.copy2(WORKING / "benchmarks.json", HISTORY / "benchmarks.json")
    print(f"{saved} results files saved into {HISTORY}")
    return 0



def values_in(doc: dict, name: str) -> int:
    """How many parameter combinations of benchmark ``name`` have a value in a results document."""
    columns = doc.get("result_columns", ["result"])
    row = doc.get("results", {}).get(name)
    result = row[columns.index("result")] if isinstance(row, list) and "result" in columns else row
    values = result if isinstance(result, list) else [result]
    return sum(v is not None and v == v for v in values)


def _has_value(doc: dict, name: str) -> bool:
    return values_in(doc, name) > 0


def kept_values(old: dict, new: dict) -> dict:
    """``new`` with every benchmark that has no value in it but had one in ``old`` (the committed results of
    the same commit) taken from ``old``: a later run where a benchmark is skipped or fails at that commit
    never erases a value recorded before (for instance by an earlier version of the benchmark)."""
    if old.get("result_columns") != new.get("result_columns"):
        return new
    results = dict(new.get("results", {}))
    for name, row in old.get("results", {}).items():
        if _has_value(old, name) and not _has_value(new, name):
            results[name] = row
    return {**new, "results": results}


def with_values_only(doc: dict) -> dict:
    """``doc`` without the benchmarks that have no value in it (skipped or failed at that commit): a benchmark that
    could not run at a commit has no point there, rather than an empty one that the dashboard would draw as a gap
    and the history would count as recorded."""
    return {**doc, "results": {k: v for k, v in doc.get("results", {}).items() if _has_value(doc, k)}}


def sri(path: Path, algorithm: str) -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, path.read_bytes()).digest()).decode()


def localize(page: str) -> str:
    """asv's page with every CDN asset replaced by the vendored file (integrity kept where the bytes match)."""
    def swap(m: re.Match) -> str:
        local = ASSETS.get(m["file"])
        if local is None:
            return m[0]
        rest = m["rest"]
        integrity = re.search(r'integrity="(sha\d+)-[^"]*"', rest)
        if integrity and f'integrity="{sri(VENDOR / local, integrity[1])}"' not in rest:
            rest = re.sub(r'\s*integrity="[^"]*"', "", rest)
        rest = re.sub(r'\s*(crossorigin|referrerpolicy)="[^"]*"', "", rest)
        return f'{m["attr"]}="vendor/{local}"{rest}>'
    return TAG.sub(swap, page)


def publish(args: argparse.Namespace) -> int:
    """Load the history (over older copies of the same commits' files in .asv/results: the dashboard draws the
    committed history), run ``asv publish``, then point the pages at the vendored assets."""
    copy_tree(HISTORY, WORKING, force=True)
    proc = subprocess.run(["asv", "publish", *args.asv_args], cwd=ROOT)
    if proc.returncode != 0:
        return proc.returncode
    left = offline(HTML)
    if left:
        print(f"error: {', '.join(left)} still load from a CDN (an asv version with other assets?)", file=sys.stderr)
        return 1
    print(f"dashboard in {HTML}, served offline: asv preview")
    return 0


def offline(html: Path) -> list[str]:
    """Point the pages of a published dashboard in ``html`` at the vendored assets; the pages still loading
    from a CDN (none, normally)."""
    for page in html.glob("*.html"):
        page.write_text(localize(page.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(VENDOR, html / "vendor", dirs_exist_ok=True)
    return [p.name for p in html.glob("*.html") if "https://cdn" in p.read_text(encoding="utf-8")]


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def recorded() -> dict[str, int]:
    """Commit hash -> commit date (ms) of every commit with results in the committed history."""
    out = {}
    for path in HISTORY.glob("*/*-*.json"):
        doc = json.loads(path.read_text())
        out[doc["commit_hash"]] = int(doc.get("date") or 0)
    return out


def is_ancestor(commit: str, head: str = "HEAD") -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", commit, head], cwd=ROOT,
                          capture_output=True).returncode == 0


def newest_recorded(head: str = "HEAD") -> tuple[str, bool, int | None]:
    """The newest recorded commit (by commit date), whether it is an ancestor of ``head`` (or ``head``
    itself), and how many first-parent commits of ``head`` came after it (None if not an ancestor)."""
    history = recorded()
    if not history:
        raise SystemExit(f"error: no results in {HISTORY}")
    commit = max(history, key=lambda c: (history[c], c))
    if not is_ancestor(commit, head):
        return commit, False, None
    return commit, True, int(git("rev-list", "--count", "--first-parent", f"{commit}..{head}"))


def status(args: argparse.Namespace) -> int:
    commit, ancestor, behind = newest_recorded()
    where = (f"{behind} first-parent commits behind HEAD" if ancestor
             else "NOT an ancestor of HEAD (recorded on another history)")
    print(f"newest recorded commit: {commit[:12]} ({where}); {len(recorded())} commits recorded in {HISTORY}")
    return 0 if ancestor and behind <= HANDFUL else 1


def machine_of(name: str) -> dict | None:
    """The committed description of machine ``name`` (results/asv/<name>/machine.json), None if there is none.

    asv draws one graph per distinct machine description (arch, cpu, os, ram, ...), and a virtual machine
    reports another kernel build and a slightly different RAM size after every restart: a machine name of
    the history stands for one kind of machine, described once, so that its points stay in one graph.
    """
    path = HISTORY / name / "machine.json"
    if not path.is_file():
        return None
    return {k: v for k, v in json.loads(path.read_text()).items() if k != "version"}


def ensure_machine(name: str) -> None:
    """``name`` in ~/.asv-machine.json: the history's description of it (``machine_of``), else this machine's
    as ``asv machine --yes`` detects it."""
    path = Path(os.environ.get("HOME", str(Path.home()))) / ".asv-machine.json"
    described = machine_of(name)
    if described is None:
        if not (path.is_file() and name in json.loads(path.read_text())):
            subprocess.run(["asv", "machine", "--yes", "--machine", name], cwd=ROOT, check=True,
                           capture_output=True)
        return
    machines = json.loads(path.read_text()) if path.is_file() else {"version": 1}
    if machines.get(name) != described:
        machines[name] = described
        path.write_text(json.dumps(machines, indent=4))


def dirty(tree: Path) -> list[str]:
    """Changed or untracked files under what the benchmarks import (lysep/, analysis/, benchmarks/)."""
    out = subprocess.run(["git", "status", "--porcelain", "--", "lysep", "analysis", "benchmarks"], cwd=tree,
                         capture_output=True, text=True).stdout
    return [line[3:] for line in out.splitlines()]


def run_commit(commit: str, tree: Path, bench: str, machine: str, log: Path) -> tuple[int, list[str]]:
    """``asv run`` of the benchmarks matching ``bench`` on ``tree``'s lysep, filed as ``commit``; asv's exit
    code and why benchmarks had no value (the reasons they gave for a skip, ``common.skipped``, and the
    exception of each failure). asv's output goes to ``log``. The deterministic benchmarks run with one
    torch thread (:data:`RECORD_ENV`); the timing ones with the suite's defaults (``LYSEP_BENCH_THREADS``)."""
    with tempfile.NamedTemporaryFile("r", suffix=".skips", delete=False) as f:
        skips = Path(f.name)
    threads = RECORD_ENV if bench == DETERMINISTIC else {}
    env = {**os.environ, **threads, "ASV_PYTHONPATH": str(tree), "LYSEP_BENCH_SKIP_LOG": str(skips)}
    for var in ("LYSEP_BENCH_SLOWDOWN", "LYSEP_BENCH_DEVICE", "PYTHONPATH"):
        env.pop(var, None)
    cmd = ["asv", "run", "-E", "lysep:same", "--set-commit-hash", commit, "--machine", machine, "--bench", bench,
           "--show-stderr", *LAUNCH]
    log.parent.mkdir(parents=True, exist_ok=True)
    start = log.stat().st_size if log.exists() else 0
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(cmd)}  (ASV_PYTHONPATH={tree})\n")
        out.flush()
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    with log.open("rb") as f:
        f.seek(start)
        output = f.read().decode("utf-8", errors="replace")
    skipped = [": ".join(line.split("\t", 1)) for line in skips.read_text(encoding="utf-8").splitlines()]
    skips.unlink()
    return rc, sorted(set(skipped)) + failures(output)


def failures(output: str) -> list[str]:
    """``"<what>: <exception line>"`` for each benchmark or setup_cache that failed in asv's output (its
    ``--show-stderr`` traceback's last exception line)."""
    out: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        head = re.match(r"^\[[\s\d.]+%\] ···\s+(?:Setting up\s+)?(\S+)\s+failed\s*$", line)
        if head:
            current = head[1]
            continue
        if re.match(r"^\[[\s\d.]+%\] ·{1,3}\s", line):  # the next benchmark (its traceback has four dots)
            current = None
        found = re.match(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)\b.*)$", line)
        if current and found:
            out[current] = " ".join(found[1].split())[:300]
    return [f"{what} failed: {why}" for what, why in out.items()]


def values_of(commit: str, machine: str) -> dict[str, int]:
    """Per benchmark recorded for ``commit`` in .asv/results: how many of its parameter combinations have a value."""
    out: dict[str, int] = {}
    for path in (WORKING / machine).glob(f"{commit[:8]}-*.json"):
        doc = json.loads(path.read_text())
        for name in doc.get("results", {}):
            out[name] = out.get(name, 0) + values_in(doc, name)
    return out


def record_one(commit: str, tree: Path, machine: str, timing: bool, log: Path, deterministic: bool = True) -> dict:
    """Record one commit: the deterministic benchmarks (unless not ``deterministic``: recorded already) and the
    timing ones if ``timing``; then save them."""
    copy_tree(HISTORY, WORKING)
    rc, reasons = run_commit(commit, tree, DETERMINISTIC, machine, log) if deterministic else (0, [])
    if timing:
        rc_t, more = run_commit(commit, tree, TIMING, machine, log)
        rc, reasons = max(rc, rc_t), reasons + more
    values = values_of(commit, machine)
    det = {k: v for k, v in values.items() if re.match(DETERMINISTIC, k)}
    required = [k for k in json.loads((WORKING / "benchmarks.json").read_text()) if re.match(REQUIRED, k)]
    row = {"commit": commit, "asv_exit": rc, "deterministic_values": sum(det.values()),
           "missing_required": [k for k in required if not values.get(k)],
           "timing_values": sum(v for k, v in values.items() if re.match(TIMING, k)),
           "without_value": sorted(k for k, v in det.items() if v == 0), "skip_reasons": reasons}
    if any(values.values()):
        save(argparse.Namespace(commits=[commit], machine=machine))
    return row


def record(args: argparse.Namespace) -> int:
    """Record HEAD's deterministic benchmarks (its clean checkout) into results/asv, to be committed."""
    changed = dirty(ROOT)
    if changed and not args.allow_dirty:
        print(f"error: uncommitted changes in {', '.join(changed[:5])}: HEAD's results would not be HEAD's "
              "(commit first, or --allow-dirty to record the working tree as HEAD)", file=sys.stderr)
        return 2
    commit = git("rev-parse", "HEAD")
    ensure_machine(args.machine)
    row = record_one(commit, ROOT, args.machine, args.timing, ROOT / ".asv" / "logs" / f"{commit[:12]}.log")
    missing = row["missing_required"]
    print(f"{commit[:12]}: {row['deterministic_values']} deterministic values, {row['timing_values']} timing values "
          f"(asv exit {row['asv_exit']}; log .asv/logs/{commit[:12]}.log)")
    if missing or not row["deterministic_values"]:
        print(f"error: no value at HEAD for {', '.join(missing) or 'any deterministic benchmark'}: "
              f"{'; '.join(row['skip_reasons']) or 'see the log'}", file=sys.stderr)
        return 1
    print(f"saved into {HISTORY}: commit it (git add {HISTORY.relative_to(ROOT)})")
    return 0


def first_parent(ref: str) -> list[str]:
    """The first-parent history of ``ref``, oldest first (the commits asv draws for a branch)."""
    return git("rev-list", "--first-parent", "--reverse", ref).split()


def worktree(commit: str) -> Path:
    tree = WORKTREES / commit[:12]
    if not (tree / ".git").exists():
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)
        git("worktree", "add", "--detach", "--force", str(tree), commit)
    return tree


def backfill(args: argparse.Namespace) -> int:
    """Record every first-parent commit of ``--branch`` not recorded yet (oldest first); the last
    ``--timing-last`` of them with the timing benchmarks too. A summary line per commit goes to ``--summary``."""
    commits = args.commits or first_parent(args.branch)
    if args.since:
        start = git("rev-parse", args.since)
        commits = commits[commits.index(start):] if start in commits else commits
    timed = set(first_parent(args.branch)[-args.timing_last:]) if args.timing_last else set()
    commits = [git("rev-parse", c) for c in commits]
    done = _attempted(Path(args.summary))
    todo = commits if args.force else [c for c in commits if not (c in done or _has(c, REQUIRED))
                                       or (c in timed and not _has(c, TIMING))]
    print(f"{len(todo)} of {len(commits)} commits to record ({len(timed & set(todo))} with timing benchmarks)")
    if args.dry_run:
        for c in todo:
            what = git("log", "-1", "--format=%ad %s", "--date=short", c)
            print(f"  {c[:12]}{'  +timing' if c in timed else ''}  {what}")
        return 0
    ensure_machine(args.machine)
    summary = Path(args.summary)
    if not summary.exists():
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text("commit\tdate\tdeterministic_values\ttiming_values\tasv_exit\twithout_value\twhy\n")
    lines_of = {ln.split("\t")[0]: ln.split("\t") for ln in summary.read_text(encoding="utf-8").splitlines()[1:]}
    reuse = not getattr(args, "no_reuse", False)
    measured = {measured_tree(c): c for c in commits if c not in todo and _has(c, REQUIRED)} if reuse else {}
    for i, commit in enumerate(todo[:args.limit] if args.limit else todo):
        key = measured_tree(commit)
        source = measured.get(key)
        again = args.force or not (commit in done or _has(commit, REQUIRED))
        if source is not None and again and commit not in timed:
            print(f"[{i + 1}/{len(todo)}] {commit[:12]}: the same lysep/ and analysis/ as {source[:12]}", flush=True)
            filed = refile(source, commit)
            before = lines_of.get(source[:12], [])
            why = f"same lysep/ and analysis/ trees as {source[:12]}: its values filed again, not run"
            if len(before) > 6 and before[6]:
                why += f" (there: {before[6]})"
            row = {"deterministic_values": filed, "timing_values": 0, "asv_exit": 0,
                   "without_value": before[5].split(",") if len(before) > 5 and before[5] else []}
        else:
            tree = worktree(commit)
            print(f"[{i + 1}/{len(todo)}] {commit[:12]}: recording", flush=True)
            log = ROOT / ".asv" / "logs" / f"{commit[:12]}.log"
            try:
                row = record_one(commit, tree, args.machine, commit in timed, log, deterministic=again)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
            why = "; ".join(row["skip_reasons"]).replace(str(tree), "<checkout>") if row["without_value"] else ""
            if reuse:
                measured.setdefault(key, commit)
        date = git("log", "-1", "--format=%ad", "--date=short", commit)
        lines = [ln for ln in summary.read_text(encoding="utf-8").splitlines() if not ln.startswith(commit[:12])]
        lines.append(f"{commit[:12]}\t{date}\t{row['deterministic_values']}\t{row['timing_values']}\t{row['asv_exit']}"
                     f"\t{','.join(row['without_value'])}\t{why}")  # a commit recorded again: its line replaced
        summary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        lines_of[commit[:12]] = lines[-1].split("\t")
        print(f"  {row['deterministic_values']} deterministic, {row['timing_values']} timing values"
              + (f"; no value for {len(row['without_value'])} benchmarks: {why}" if row["without_value"] else ""))
    return 0


#: what the deterministic benchmarks measure of a commit: its lysep/ (counts, quality) and analysis/ (quality) trees
MEASURED = ("lysep", "analysis")


def measured_tree(commit: str) -> tuple[str, ...]:
    """The git tree ids of :data:`MEASURED` at ``commit`` ("" where a folder does not exist)."""
    return tuple(subprocess.run(["git", "rev-parse", "-q", "--verify", f"{commit}:{d}"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() for d in MEASURED)


def refile(source: str, commit: str) -> int:
    """File the committed deterministic results of ``source`` for ``commit`` (same measured trees): the same values
    under ``commit``'s hash and date, timing benchmarks left out. Returns the number of values filed."""
    date = int(git("log", "-1", "--format=%ct", commit)) * 1000
    filed = 0
    for path in HISTORY.glob(f"*/{source[:8]}-*.json"):
        doc = json.loads(path.read_text())
        results = {k: v for k, v in doc.get("results", {}).items() if re.match(DETERMINISTIC, k)}
        doc = {**doc, "commit_hash": commit, "date": date, "results": results,
               "durations": {k: v for k, v in doc.get("durations", {}).items() if k == "<build>"}}
        target = path.parent / f"{commit[:8]}-{path.name.split('-', 1)[1]}"
        if target.is_file():
            doc = kept_values(json.loads(target.read_text()), doc)
        target.write_text(json.dumps(with_values_only(doc), indent=None, sort_keys=True) + "\n")
        filed += sum(values_in(doc, k) for k in results)
    return filed


def _has(commit: str, bench: str) -> bool:
    """Whether the committed history has a value of a benchmark matching ``bench`` for ``commit``."""
    for path in HISTORY.glob(f"*/{commit[:8]}-*.json"):
        doc = json.loads(path.read_text())
        if any(re.match(bench, k) and _has_value(doc, k) for k in doc.get("results", {})):
            return True
    return False


def _attempted(summary: Path) -> set[str]:
    """Commits a backfill already tried (their line in the summary), with a value or not."""
    if not summary.is_file():
        return set()
    short = {line.split("\t")[0] for line in summary.read_text(encoding="utf-8").splitlines()[1:]}
    return {git("rev-parse", c) for c in short if c}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ld = sub.add_parser("load", help="copy the committed history into .asv/results")
    ld.add_argument("--force", action="store_true", help="overwrite files already in .asv/results")
    sv = sub.add_parser("save", help="copy recorded commits' results into results/asv (to commit them)")
    sv.add_argument("commits", nargs="+")
    pb = sub.add_parser("publish", help="load, asv publish, and serve the dashboard's assets locally")
    pb.add_argument("asv_args", nargs="*", help="passed to asv publish")
    rc = sub.add_parser("record", help="record HEAD's deterministic benchmarks into results/asv (after every "
                                       "change that lands on main)")
    rc.add_argument("--timing", action="store_true", help="the timing benchmarks too (an otherwise idle machine)")
    rc.add_argument("--allow-dirty", action="store_true", help="record although lysep/, analysis/ or benchmarks/ "
                                                              "have uncommitted changes")
    bf = sub.add_parser("backfill", help="record every first-parent commit of a branch not recorded yet")
    bf.add_argument("--branch", default="main")
    bf.add_argument("--since", help="start at this commit (default: the branch's first)")
    bf.add_argument("--commits", nargs="+", help="these commits instead of the branch's history")
    bf.add_argument("--no-reuse", action="store_true", help="run every commit, also one whose lysep/ and analysis/ "
                                                           "trees equal a recorded commit's (default: file its values)")
    bf.add_argument("--timing-last", type=int, default=10, help="the timing benchmarks too for the branch's last N")
    bf.add_argument("--limit", type=int, help="record at most N commits in this call")
    bf.add_argument("--force", action="store_true", help="record commits that are recorded already")
    bf.add_argument("--dry-run", action="store_true", help="list what would be recorded")
    bf.add_argument("--summary", default=str(HISTORY / "backfill.tsv"),
                    help="a line per recorded commit: values recorded, benchmarks without a value and why")
    st = sub.add_parser("status", help="the newest recorded commit; exit 1 if it is not an ancestor of HEAD "
                                       f"within {HANDFUL} first-parent commits")
    sv.add_argument("--machine", help="only this asv machine's results (default: every machine's)")
    for sp in (rc, bf):
        sp.add_argument("--machine", default=MACHINE, help=f"asv machine name (default {MACHINE})")
    del st
    args = p.parse_args(argv)
    return {"load": load, "save": save, "publish": publish, "record": record, "backfill": backfill,
            "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
