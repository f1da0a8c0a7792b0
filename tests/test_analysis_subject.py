"""The subject of a report (issue 28): the spec's ``subject`` and ``lysep report --subject`` choose the methods the
claims and the paired/spread tables test against the baselines; the paper's wording only for LySep's own method."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
from synthetic import SyntheticMethod, runs_from_traces, synthetic_meta, synthetic_traces, write_results

from analysis import claims as cl
from analysis.report import make_report
from lysep.commands.main import main
from lysep.harness.spec import SpecError, parse_spec
from lysep.methods import METHODS
from lysep.methods.base import ALTERNATING, BASELINE

AM = SyntheticMethod("am", "lysep", rate=0.3, seed_sd=0.05)
RMSPROP = SyntheticMethod("rmsprop", "rmsprop", family=BASELINE, rate=0.5, seed_sd=0.05)
ADAM = SyntheticMethod("adam", "adam", rate=0.1, seed_sd=0.2)
GD = SyntheticMethod("gd", "gd", rate=0.05, seed_sd=0.1)
METHODS_OF_STORE = (AM, RMSPROP, ADAM, GD)
SEEDS = 8


def store(path: Path, methods=METHODS_OF_STORE, subject=None) -> Path:
    """A synthetic store (two depths, 8 seeds) whose runs record CPU time (so no caveat names the program)."""
    traces = synthetic_traces(methods, (1, 2), (4,), SEEDS, 20)
    meta = synthetic_meta(methods, iterations=20, depths=(1, 2), widths=(4,), seeds=SEEDS, target_ce=0.1)
    if subject is not None:
        meta["spec"]["subject"] = subject
    runs = runs_from_traces(traces, methods).assign(threads=1.0, device="cpu", load_start=0.0, load_end=0.0)
    runs["cpu_time"] = runs["wall_time"]
    return write_results(path, traces, meta, runs)


def claims_text(path: Path) -> str:
    """claims.csv and the Claims section of report.md, together."""
    md = (path / "report.md").read_text()
    section = re.search(r"^## Claims\n(.*?)^## ", md, re.S | re.M)
    assert section is not None
    return (path / "tables" / "claims.csv").read_text() + section.group(1)


def claims(path: Path) -> pd.DataFrame:
    return pd.read_csv(path / "tables" / "claims.csv")


def test_a_baseline_subject_is_tested_against_adam_and_no_claim_names_lysep(tmp_path: Path) -> None:
    make_report(store(tmp_path, subject=["rmsprop"]), dpi=20)
    text = claims_text(tmp_path)
    assert "lysep" not in text.lower()
    assert "rmsprop reaches the target faster than the best baseline" in text
    paired = pd.read_csv(tmp_path / "tables" / "paired_comparisons.csv")
    assert set(paired["method"]) == {"rmsprop"}
    assert set(paired["baseline"]) == {"adam", "gd"}  # every other baseline-family method, not the alternating am
    vs_adam = paired[(paired["baseline"] == "adam") & (paired["metric"] == "final_F")]
    assert len(vs_adam) == 2 and vs_adam["p_value"].notna().all()
    assert (vs_adam["method_median"] < vs_adam["baseline_median"]).all()  # rmsprop decays 5x faster
    c3 = pd.read_csv(tmp_path / "tables" / "claim_c3_iterations.csv")
    assert set(c3["method"]) == {"rmsprop"} and set(c3["baseline"]) <= {"adam", "gd"}
    at_budget = c3[c3["test"] == "F_at_equal_iterations"]
    assert len(at_budget) == 2 and (at_budget["direction"] < 0).all()
    variance = pd.read_csv(tmp_path / "tables" / "variance.csv")
    assert set(variance["method"]) == {"rmsprop"} and set(variance["baseline"]) == {"adam", "gd"}
    md = (tmp_path / "report.md").read_text()
    assert "## Paired comparisons: rmsprop vs baselines" in md
    # the bound claims still judge the methods that record B and J (am), by their declarations
    table = claims(tmp_path).set_index("id")
    assert table.loc["c1", "verdict"] == cl.SUPPORTED and "am: 0/" in table.loc["c1b", "numbers"]


def test_without_a_subject_the_default_lysep_method_keeps_the_paper_wording(tmp_path: Path) -> None:
    make_report(store(tmp_path), dpi=20)
    table = claims(tmp_path)
    assert "LySep converges faster than CE training (SGD/Adam/GD)" in set(table["claim"])
    assert set(pd.read_csv(tmp_path / "tables" / "claim_c3_iterations.csv")["method"]) == {"am"}
    paired = pd.read_csv(tmp_path / "tables" / "paired_comparisons.csv")
    assert set(paired["method"]) == {"am"} and set(paired["baseline"]) == {"rmsprop", "adam", "gd"}


def test_the_command_line_subject_overrides_the_spec_and_repeats(tmp_path: Path, capsys) -> None:
    store(tmp_path, subject=["rmsprop"])
    assert main(["report", str(tmp_path), "--subject", "adam", "--subject", "gd"]) == 0
    paired = pd.read_csv(tmp_path / "tables" / "paired_comparisons.csv")
    pairs = set(map(tuple, paired[["method", "baseline"]].drop_duplicates().to_numpy()))
    assert pairs == {("adam", "rmsprop"), ("gd", "rmsprop")}  # subjects are not baselines of each other
    c3 = pd.read_csv(tmp_path / "tables" / "claim_c3_iterations.csv")
    assert set(c3["method"]) == {"adam"} and set(c3["baseline"]) == {"rmsprop"}  # the first label is judged
    text = claims_text(tmp_path)
    assert "lysep" not in text.lower() and "adam has less seed spread than the best baseline" in text


def test_a_lysep_subject_given_explicitly_keeps_the_paper_wording(tmp_path: Path) -> None:
    make_report(store(tmp_path, subject=["am"]), dpi=20)
    table = claims(tmp_path)
    assert "LySep results vary less over seeds than CE training" in set(table["claim"])
    assert "judge the subject, am" in (tmp_path / "report.md").read_text()


def test_an_unknown_subject_on_the_command_line_exits_2_naming_the_labels(tmp_path: Path, capsys) -> None:
    store(tmp_path)
    assert main(["report", str(tmp_path), "--subject", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--subject nope" in err and "adam, am, gd, rmsprop" in err
    assert not (tmp_path / "report.md").exists()


def test_a_plugin_declared_alternating_gets_generic_wording_by_default(tmp_path: Path) -> None:
    """The issue's case: a new method (an algorithm this install does not know) declares family alternating; it
    becomes the default subject, and the report no longer calls it LySep."""
    rms = SyntheticMethod("rms", "rmsprop", family=ALTERNATING, rate=0.5, seed_sd=0.05)
    make_report(store(tmp_path, methods=(rms, ADAM, GD)), dpi=20)
    text = claims_text(tmp_path)
    assert "lysep" not in text.lower()
    assert "rms reaches the target faster than the best baseline" in text
    assert set(pd.read_csv(tmp_path / "tables" / "claim_c3_iterations.csv")["method"]) == {"rms"}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_the_lysep_rule_follows_the_class(name: str) -> None:
    """LySep's own methods are LySep, its subclasses and presets, and its joint training; the other alternating
    methods (bcd, dladmm, altmin-online) and the baselines are not."""
    own = {"lysep", "mac", "lysep-minibatch", "lysep-joint"}
    if name not in own | {"bcd", "dladmm", "altmin-online", "adam", "sgd", "gd", "lbfgs"}:
        pytest.skip(f"{name}: a method this test does not know")
    metrics = pd.DataFrame({"method": ["x"], "algorithm": [name]})
    assert cl.is_lysep(metrics, "x") is (name in own)


# ------------------------------------------------------------------------------------------------- the spec key

SPEC = {
    "name": "ok", "data": {"dataset": "circle", "n_train": 100, "n_test": 50},
    "model": {"kind": "fnn", "activation": "tanh"}, "grid": {"depth": [2], "width": [4], "seeds": 2},
    "budget": {"iterations": 10}, "method": [{"name": "lysep"}, {"name": "adam"}, {"name": "sgd", "label": "fast"}],
}


def test_the_spec_subject_is_validated_and_round_trips() -> None:
    spec = parse_spec({**copy.deepcopy(SPEC), "subject": ["fast", "adam"]})
    assert spec.subject == ("fast", "adam")
    doc = spec.to_dict()
    assert doc["subject"] == ["fast", "adam"] and parse_spec(doc).subject == ("fast", "adam")
    assert "subject" not in parse_spec(copy.deepcopy(SPEC)).to_dict()  # no key: stored specs unchanged
    assert parse_spec({**copy.deepcopy(SPEC), "subject": "adam"}).subject == ("adam",)


@pytest.mark.parametrize("value, expect", [
    (["rmsprop"], "'rmsprop' is not one; the labels are: lysep, adam, fast"),
    (["sgd"], "'sgd' is not one"),  # a method name is not a label when the method has its own label
    ([], "a list of method labels of this spec (one or more of: lysep, adam, fast)"),
    ([1], "a list of method labels"),
])
def test_an_unknown_subject_in_the_spec_names_key_value_and_labels(value, expect: str) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec({**copy.deepcopy(SPEC), "subject": value}, "x.toml")
    msg = str(e.value)
    assert "x.toml: subject = [" in msg and all(str(v) in msg.split(": expected")[0] for v in value)
    assert expect in msg


def test_lysep_check_exits_2_on_an_unknown_subject(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nsubject = ["rmsprop"]\n[data]\ndataset = "circle"\nn_train = 40\nn_test = 20\n'
                    '[model]\nkind = "fnn"\n[grid]\ndepth = [1]\nwidth = [4]\nseeds = 1\n[budget]\niterations = 2\n'
                    '[[method]]\nname = "lysep"\n[[method]]\nname = "adam"\n')
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "subject" in err and "rmsprop" in err and "lysep, adam" in err


def test_a_lysep_subject_beside_a_baseline_subject_judges_the_first_and_tables_both(tmp_path: Path) -> None:
    make_report(store(tmp_path, subject=["am", "rmsprop"]), dpi=20)
    assert "LySep converges faster than CE training (SGD/Adam/GD)" in set(claims(tmp_path)["claim"])
    paired = pd.read_csv(tmp_path / "tables" / "paired_comparisons.csv")
    pairs = set(map(tuple, paired[["method", "baseline"]].drop_duplicates().to_numpy()))
    assert pairs == {(m, b) for m in ("am", "rmsprop") for b in ("adam", "gd")}
    md = (tmp_path / "report.md").read_text()
    assert "## Paired comparisons: am, rmsprop vs baselines" in md


def test_a_tuned_spec_keeps_the_subject(tmp_path: Path) -> None:
    from lysep.harness.spec import load_spec
    from lysep.harness.tune import to_toml

    path = tmp_path / "tuned.toml"
    path.write_text(to_toml(parse_spec({**copy.deepcopy(SPEC), "subject": ["adam"]}).to_dict(), "a header"))
    assert load_spec(path).subject == ("adam",)
    path.write_text(to_toml(parse_spec(copy.deepcopy(SPEC)).to_dict()))
    assert load_spec(path).subject is None and "subject" not in path.read_text()
