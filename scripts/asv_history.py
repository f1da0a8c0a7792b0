"""The committed asv history (results/asv/) and asv's working results (.asv/results/, ignored by git).

    python scripts/asv_history.py load            # copy the committed history into .asv/results
    python scripts/asv_history.py save COMMIT...  # copy recorded commits' results into results/asv
    python scripts/asv_history.py publish         # load, asv publish, and serve the dashboard's JS locally

Benchmark runs write only into .asv/results (asv.conf.json), so they never modify tracked files. ``save``
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
import re
import shutil
import subprocess
import sys
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
        files = sorted(WORKING.glob(f"*/{commit[:8]}-*.json")) if commit else []
        if not files:
            print(f"error: no results of {ref} in {WORKING} (record them with asv run -E lysep:same "
                  f"--set-commit-hash {commit or ref})", file=sys.stderr)
            return 2
        for path in files:
            doc = normalized(json.loads(path.read_text()))
            target = HISTORY / path.parent.name / f"{commit[:8]}-{doc['env_name']}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(doc, indent=None, sort_keys=True) + "\n")
            shutil.copy2(path.parent / "machine.json", target.parent / "machine.json")
            saved += 1
    shutil.copy2(WORKING / "benchmarks.json", HISTORY / "benchmarks.json")
    print(f"{saved} results files saved into {HISTORY}")
    return 0


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
    """Load the history, run ``asv publish``, then point the pages at the vendored assets."""
    copy_tree(HISTORY, WORKING)
    proc = subprocess.run(["asv", "publish", *args.asv_args], cwd=ROOT)
    if proc.returncode != 0:
        return proc.returncode
    for page in HTML.glob("*.html"):
        page.write_text(localize(page.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(VENDOR, HTML / "vendor", dirs_exist_ok=True)
    left = [p.name for p in HTML.glob("*.html") if "https://cdn" in p.read_text(encoding="utf-8")]
    if left:
        print(f"error: {', '.join(left)} still load from a CDN (an asv version with other assets?)", file=sys.stderr)
        return 1
    print(f"dashboard in {HTML}, served offline: asv preview")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    ld = sub.add_parser("load", help="copy the committed history into .asv/results")
    ld.add_argument("--force", action="store_true", help="overwrite files already in .asv/results")
    sv = sub.add_parser("save", help="copy recorded commits' results into results/asv (to commit them)")
    sv.add_argument("commits", nargs="+")
    pb = sub.add_parser("publish", help="load, asv publish, and serve the dashboard's assets locally")
    pb.add_argument("asv_args", nargs="*", help="passed to asv publish")
    args = p.parse_args(argv)
    return {"load": load, "save": save, "publish": publish}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
