"""``lysep track``'s report leads with what moved: worse rows, then better rows, the unchanged folded into a count."""

from __future__ import annotations

import argparse
import html as html_lib
import json
import re
from pathlib import Path

import pandas as pd

from analysis import track_moved
from lysep.commands import track as track_cmd
from lysep.measure import counters, track

CELLS = [("lysep", 3, 10), ("adam", 3, 10), ("sgd", 5, 20), ("gd", 10, 50)]


def _rows(factors: dict[str, float]) -> tuple[list[dict], list[dict]]:
    """Base counts (10 of everything per method and cell) and new counts scaled per method by ``factors``."""
    base = [{"method": m, "depth": d, "width": w, **dict.fromkeys(counters.COUNTS, 10.0)} for m, d, w in CELLS]
    new = [{**r, **{c: r[c] * factors.get(r["method"], 1.0) for c in counters.COUNTS}} for r in base]
    return base, new


def test_split_orders_the_moves_and_counts_the_rest() -> None:
    base, new = _rows({"lysep": 3.0, "adam": 1.5, "sgd": 0.5})  # gd unchanged
    table = track.judge_counters(base, new)
    worse, better, folded = track_moved.split(table)
    n = len(counters.COUNTS)
    assert list(worse["method"]) == ["lysep"] * n + ["adam"] * n  # the largest change first
    assert list(better["method"]) == ["sgd"] * n
    assert folded == {"same": n}  # gd's counts, one per counted quantity
    assert track_moved.folded_text(folded) == f"{n} other rows folded ({n} same)"
    assert track_moved.folded_text({}) == "no other rows"


def test_quality_verdicts_other_than_worse_and_better_are_folded_per_verdict() -> None:
    q = pd.DataFrame({"verdict": ["identical", "better", "equivalent", "identical", "inconclusive", "worse"],
                      "regression": [False, False, False, False, False, True]})
    worse, better, folded = track_moved.split(q)
    assert len(worse) == 1 and len(better) == 1
    assert folded == {"identical": 2, "equivalent": 1, "inconclusive": 1}


def _html_text(path: Path) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_the_html_report_shows_worse_then_better_and_folds_the_unchanged(tmp_path) -> None:
    base, new = _rows({"lysep": 2.0, "sgd": 0.5})
    base.append({"method": "unchanged-method", "depth": 3, "width": 10, **dict.fromkeys(counters.COUNTS, 7.0)})
    new.append(dict(base[-1]))
    cnt = track.judge_counters(base, new)
    rat = track.judge_ratios([{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 4.0}],
                             [{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 4.1}])
    quality = pd.DataFrame({"verdict": ["identical"], "regression": [False], "identical": [True]})
    page = track.write_track_report(tmp_path, "0" * 40, cnt, rat, quality)
    text = _html_text(page)
    section = text[text.rindex("Counted work per iteration"):text.rindex("Timing ratios")]  # after the nav bar
    n = len(counters.COUNTS)
    assert section.index(f"{n} worse") < section.index(f"{n} better")
    assert section.index("lysep") < section.index("sgd")  # the worse rows' table before the better rows'
    assert "unchanged-method" not in section and "gd" not in section.replace("sgd", "")  # folded, not listed
    assert f"{3 * n} other rows folded ({3 * n} same)" in section  # adam, gd and unchanged-method
    assert "0 worse, 0 better; 1 other rows folded (1 same)" in text  # the timing ratio moved by x1.025 only
    assert "1 other rows folded (1 identical)" in text
    assert len(pd.read_csv(tmp_path / "track_counters.csv")) == len(cnt)  # every row is still in the CSV
    md = (tmp_path / "track.md").read_text()
    assert md.index(f"*{n} worse*") < md.index(f"*{n} better*")


def _fake_side(tmp_path: Path, monkeypatch, factors: dict[str, float]) -> argparse.Namespace:
    """``lysep track`` with the measurements replaced: the working tree's counts are the base's times ``factors``."""
    base, new = _rows(factors)

    def fake_measure(tree, out, log):
        rows = new if Path(tree) == track.ROOT else base
        result = {"counters": rows, "ratios": [{"kind": "fnn", "depth": 3, "width": 10, "lysep_over_adam": 5.0}]}
        (out / "quality").mkdir(parents=True, exist_ok=True)
        (out / "quality" / "runs.parquet").write_bytes(b"")
        (out / "measurements.json").write_text(json.dumps(result))
        return result

    monkeypatch.setenv("LYSEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(track, "measure", fake_measure)
    monkeypatch.setattr(track, "base_tree", lambda commit, *_: tmp_path / "base")  # no git worktree needed
    monkeypatch.setattr(track, "compare_dirs", lambda *a: (pd.DataFrame({"verdict": [], "regression": []}), None))
    return argparse.Namespace(base="HEAD", out=str(tmp_path / "out"), alpha=0.05, fresh=True)


def test_the_terminal_leads_with_worse_then_better_and_the_exit_code_is_unchanged(tmp_path, monkeypatch, capsys):
    n = len(counters.COUNTS)
    assert track_cmd.track_command(_fake_side(tmp_path, monkeypatch, {"adam": 0.5, "gd": 2.0})) == 1
    out = capsys.readouterr().out
    assert f"counted work: {n} worse, {n} better, {2 * n} other rows folded ({2 * n} same)" in out
    lines = out.splitlines()
    gd = [i for i, ln in enumerate(lines) if re.match(r"\s*worse\s+gd\b", ln)]
    adam = [i for i, ln in enumerate(lines) if re.match(r"\s*better\s+adam\b", ln)]
    assert len(gd) == n and len(adam) == n and max(gd) < min(adam)
    assert not re.search(r"^\s*same\s", out, re.M)  # unchanged rows are only counted
    # only better: the report shows them, the exit code stays 0 (nothing got worse)
    assert track_cmd.track_command(_fake_side(tmp_path, monkeypatch, {"sgd": 0.5})) == 0
    out = capsys.readouterr().out
    assert f"counted work: 0 worse, {n} better" in out and re.search(r"^\s*better\s+sgd\b", out, re.M)
