"""Code-aware stored runs: every run records the version of its method's code; resuming into a store made by other
code of a method warns (method, both versions, number of runs) and ``--recompute-changed`` recomputes exactly those
runs; the report lists the code versions; stores without the column read as before (issue 28, item 5)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from plugin_dist import install, lysep

from lysep.harness.store import atomic_write, parquet_bytes
from lysep.methods import BUILT_IN, method_code

PLUGIN = '''from lysep.methods import BASELINE, HParam, Method, State


class Shrink(Method):
    """Multiplies every weight by a constant factor per iteration (a method whose code we change)."""

    name = "shrink"
    family = BASELINE
    HPARAMS = {{"factor": HParam(float, 0.5)}}

    def init(self, problem, params, seeds):
        import torch

        return State([(w.clone(), b.clone()) for w, b in params], torch.zeros(len(seeds), dtype=torch.float64))

    def step(self, problem, state):
        state.params = [(w * self.hp["factor"] {op}, b) for w, b in state.params]
        state.grad_evals += 1.0
'''
SPEC = """
name = "code"
[data]
dataset = "circle"
n_train = 60
n_test = 30
[model]
[grid]
depth = [1]
width = [3, 4]
seeds = 2
[budget]
iterations = 3
[[method]]
name = "shrink"
[[method]]
name = "gd"
"""


def plugin(folder: Path, version: str, op: str) -> tuple[Path, str]:
    """The plugin as distribution shrink-method ``version``; its expected method_code, the hash computed here."""
    source = PLUGIN.format(op=op)
    site = install(folder, "shrink-method", version, {"shrink_plugin.py": source}, {"shrink": "shrink_plugin:Shrink"})
    digest = hashlib.sha256(b"shrink_plugin.py\0" + source.encode() + b"\0").hexdigest()[:12]
    return site, f"shrink-method {version}; source {digest}"


def runs_of(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet").sort_values(["method", "width", "seed"]).reset_index(drop=True)


def test_runs_record_their_code_and_a_resume_over_changed_code_warns_then_recomputes(tmp_path: Path) -> None:
    old_site, old = plugin(tmp_path / "v1", "0.1", "+ 0.0")
    new_site, new = plugin(tmp_path / "v2", "0.2", "- 0.01")
    spec, out = tmp_path / "spec.toml", tmp_path / "out"
    spec.write_text(SPEC)
    first = lysep(["run", str(spec), "--out", str(out), "--quiet", "--no-report"], old_site)
    assert first.returncode == 0, first.stderr
    runs = runs_of(out)
    assert set(runs.loc[runs.method == "shrink", "method_code"]) == {old}
    assert set(runs.loc[runs.method == "gd", "method_code"]) == {BUILT_IN}
    # the same code again: nothing to warn about, nothing recomputed
    again = lysep(["run", str(spec), "--out", str(out), "--quiet", "--no-report"], old_site)
    assert "warning" not in again.stderr and "0 runs computed, 8 already stored" in again.stdout
    # changed code: a warning naming the method, both versions and the 4 runs; the runs are kept as stored
    kept = lysep(["run", str(spec), "--out", str(out), "--quiet"], new_site)
    assert kept.returncode == 0, kept.stderr
    assert (f"lysep: warning: method 'shrink' (shrink): 4 stored runs were made by code {old!r}, the code now is "
            f"{new!r}: kept as stored; `--recompute-changed` recomputes them") in kept.stderr
    assert "0 runs computed, 8 already stored" in kept.stdout
    pd.testing.assert_frame_equal(runs_of(out).drop(columns=["wall_time"]), runs.drop(columns=["wall_time"]),
                                  check_like=True)
    assert f"shrink: {old} (4 runs)" in (out / "report.md").read_text()
    # --recompute-changed: exactly the 4 runs of the changed method, now recorded with the new code
    redo = lysep(["run", str(spec), "--out", str(out), "--quiet", "--recompute-changed"], new_site)
    assert redo.returncode == 0, redo.stderr
    assert "recomputing them (--recompute-changed)" in redo.stderr
    assert "4 runs computed, 4 already stored" in redo.stdout
    after = runs_of(out)
    assert set(after.loc[after.method == "shrink", "method_code"]) == {new}
    assert (after.loc[after.method == "shrink", "final_F"].to_numpy() != runs.loc[runs.method == "shrink",
                                                                                   "final_F"].to_numpy()).all()
    pd.testing.assert_series_equal(after.loc[after.method == "gd", "started"], runs.loc[runs.method == "gd", "started"])
    md = (out / "report.md").read_text()
    assert f"gd: {BUILT_IN} (4 runs); shrink: {new} (4 runs)" in md and old not in md


def test_a_store_without_the_column_reads_and_resumes_as_before(tmp_path: Path) -> None:
    old_site, _ = plugin(tmp_path / "v1", "0.1", "+ 0.0")
    new_site, _ = plugin(tmp_path / "v2", "0.2", "- 0.01")
    spec, out = tmp_path / "spec.toml", tmp_path / "out"
    spec.write_text(SPEC)
    assert lysep(["run", str(spec), "--out", str(out), "--quiet", "--no-report"], old_site).returncode == 0
    runs = pd.read_parquet(out / "runs.parquet").drop(columns=["method_code"])  # as an older lysep wrote it
    atomic_write(out / "runs.parquet", parquet_bytes(runs))
    resumed = lysep(["run", str(spec), "--out", str(out), "--quiet", "--recompute-changed"], new_site)
    assert resumed.returncode == 0, resumed.stderr
    assert "warning" not in resumed.stderr and "0 runs computed, 8 already stored" in resumed.stdout
    md = (out / "report.md").read_text()
    assert "code of the methods" not in md and "git commit of the runs" in md


def test_the_code_version_of_a_class_registered_in_process_is_its_source_hash() -> None:
    """A method registered from a test module (no distribution holds it): the hash of that module's source."""
    from test_protocol import TOY, ToyDescent

    from lysep.methods import METHODS, register_method

    register_method(ToyDescent)
    try:
        source = Path(__file__).with_name("test_protocol.py").read_bytes()
        expected = hashlib.sha256(b"test_protocol.py\0" + source + b"\0").hexdigest()[:12]
        assert method_code(TOY) == f"source {expected}"
        assert method_code("lysep") == BUILT_IN
    finally:
        del METHODS[TOY]


def test_only_finished_runs_of_the_spec_with_a_recorded_other_version_count(tmp_path: Path) -> None:
    """Unknown versions (NaN), failed runs and runs of other specs never count; each stored version is its own
    group, with its own number of runs."""
    import numpy as np

    from lysep.harness.codeversions import changed_code
    from lysep.harness.plan import config_hash
    from lysep.harness.spec import load_spec

    path = tmp_path / "spec.toml"
    path.write_text(SPEC.replace('name = "shrink"', 'name = "adam"'))
    spec = load_spec(str(path))
    rows = [{"method": m.label, "config_hash": config_hash(spec, d, w, m.label, s), "status": "completed",
             "method_code": BUILT_IN} for d, w in spec.grid.cells() for m in spec.methods for s in (0, 1)]
    runs = pd.DataFrame(rows + [{"method": "adam", "config_hash": "not-of-this-spec", "status": "completed",
                                 "method_code": "other 1.0"}])
    assert changed_code(spec, runs) == []
    adam = runs.index[runs.method == "adam"][:4]
    runs.loc[adam, "method_code"] = ["old 0.1", "old 0.1", "older 0.0", np.nan]
    runs.loc[adam[1], "status"] = "failed"
    changed = changed_code(spec, runs)
    assert [(c.label, c.stored, c.current, len(c.hashes)) for c in changed] == [
        ("adam", "old 0.1", BUILT_IN, 1), ("adam", "older 0.0", BUILT_IN, 1)]
    assert changed[0].hashes == {runs.loc[adam[0], "config_hash"]}
    assert changed_code(spec, runs.drop(columns=["method_code"])) == []
