"""Scale in N: configs/scale_n.toml at every data set and size, and the summary of how the gap to Adam changes.

    python scripts/scale_n.py tune     # v2: lysep tune of every method at N = 2000, per data set
    python scripts/scale_n.py run      # v2: the tuned settings at every (data set, N) into results/scale_n_tuned/
    python scripts/scale_n.py summary  # the summary again: report.md, report.html, tables, figures
    python scripts/scale_n.py table    # the Markdown table of docs/findings.md "Scale in N"

``--v1`` after the command: the spec's own (untuned) settings, results/scale_n/ (the first version's results).

Each (data set, N) is an ordinary results directory with its own report. The summary compares the
minibatch LySep of the spec with minibatch Adam, paired by seed: at equal epochs (every method's
final row) and at equal wall time (LySep's train CE at the time Adam needed for its epochs, from the
trace rows, one per epoch). Every number in the summary and the table comes from the stored runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import stats  # noqa: E402
from analysis.metrics import f_at_time  # noqa: E402
from analysis.render import Fig, Section, Table, render_html, render_markdown  # noqa: E402
from lysep.core.batches import steps_per_epoch  # noqa: E402

SPEC = ROOT / "configs" / "scale_n.toml"
#: where each version's results go: "tuned" (v2, the default) and "v1" (the spec's own settings)
OUTS = {"tuned": ROOT / "results" / "scale_n_tuned", "v1": ROOT / "results" / "scale_n"}
DATASETS: tuple[str, ...] = ("circle", "spirals")
SIZES: tuple[int, ...] = (2000, 6000, 20000, 60000, 200000)
#: the compared labels of the spec: the layer-separation method and its reference
SUBJECT, REFERENCE = "lysep-minibatch", "adam-mb"
#: the minibatch size of every method of the spec
METHOD_BATCH = 128


def tuned_spec(dataset: str) -> Path:
    """The tuned spec ``python scripts/scale_n.py tune`` wrote for a data set."""
    return OUTS["tuned"] / "tuning" / dataset / "tuned.toml"


def tune_all() -> None:
    """``lysep tune`` of configs/scale_n.toml at its N (2000) for every data set not tuned yet."""
    import os

    from lysep.commands.main import main as lysep

    os.chdir(ROOT)
    for dataset in DATASETS:
        if tuned_spec(dataset).is_file():
            continue
        args = ["tune", str(SPEC.relative_to(ROOT)), "--set", f'data.dataset="{dataset}"', "--out",
                str(tuned_spec(dataset).parent.relative_to(ROOT)), "--workers", "2", "--quiet"]
        print("lysep " + " ".join(args), flush=True)
        if lysep(args) != 0:
            raise SystemExit(f"lysep tune failed for {dataset}")


def sub_spec(dataset: str, n: int, version: str = "tuned"):
    """The spec of a version (configs/scale_n.toml, or its tuned spec for the data set) at one data set and size,
    one trace row (and test score) per epoch."""
    import tomllib

    from lysep.harness.spec import parse_spec

    path = SPEC if version == "v1" else tuned_spec(dataset)
    if not path.is_file():
        raise SystemExit(f"{path}: missing; run `python scripts/scale_n.py tune` first")
    doc = tomllib.loads(path.read_text())
    doc["name"] = f"scale_n{'' if version == 'v1' else '_tuned'}_{dataset}_n{n}"
    doc["data"].update(dataset=dataset, n_train=n)
    doc["budget"].update(record_every=steps_per_epoch(n, METHOD_BATCH),
                         eval_every=steps_per_epoch(n, METHOD_BATCH))
    return parse_spec(doc, str(path))


def run_all(version: str = "tuned") -> None:
    """Run every (data set, N) of a version not stored yet and write its report."""
    from analysis.report import make_report
    from lysep.harness.runner import run_experiment

    for dataset in DATASETS:
        for n in SIZES:
            t0 = time.perf_counter()
            res = run_experiment(sub_spec(dataset, n, version), OUTS[version] / f"{dataset}_n{n}", quiet=True)
            make_report(res.root)
            print(f"{dataset} N={n}: {res.ran} runs in {time.perf_counter() - t0:.0f} s -> {res.root}", flush=True)


def compare(dataset: str, n: int, version: str = "tuned") -> dict:
    """The paired comparison of SUBJECT with REFERENCE at one (data set, N), from its stored runs and traces."""
    d = OUTS[version] / f"{dataset}_n{n}"
    runs = pd.read_parquet(d / "runs.parquet").set_index(["method", "seed"])
    traces = pd.read_parquet(d / "traces.parquet")
    seeds = sorted(set(runs.loc[SUBJECT].index) & set(runs.loc[REFERENCE].index))
    subj = runs.loc[SUBJECT].loc[seeds]
    ref = runs.loc[REFERENCE].loc[seeds]
    at_time = np.array([f_at_time(traces[(traces.method == SUBJECT) & (traces.seed == s)], ref.wall_time[s])
                        for s in seeds])
    diff = stats.median_difference(subj.final_F.to_numpy(), ref.final_F.to_numpy())
    epochs = runs.loc[REFERENCE].iterations.max() / steps_per_epoch(n, int(METHOD_BATCH))
    return {"dataset": dataset, "N": n, "seeds": len(seeds), "epochs": float(epochs),
            "adam CE": float(ref.final_F.median()), "lysep CE": float(subj.final_F.median()),
            "ratio": float(subj.final_F.median() / ref.final_F.median()),
            "difference": diff.estimate, "ci low": diff.low, "ci high": diff.high,
            "p": stats.wilcoxon(subj.final_F.to_numpy(), ref.final_F.to_numpy()).p_value,
            "adam test acc": float(ref.final_test_acc.median()), "lysep test acc": float(subj.final_test_acc.median()),
            "adam s": float(ref.wall_time.median()), "lysep s": float(subj.wall_time.median()),
            "lysep J": float(subj.final_J.median()),
            "time ratio": float(subj.wall_time.median() / ref.wall_time.median()),
            "lysep CE at adam's time": float(np.median(at_time)),
            "ratio at equal time": float(np.median(at_time) / ref.final_F.median())}


def summary_table(version: str = "tuned") -> pd.DataFrame:
    """One row per (data set, N) of a version that is stored."""
    return pd.DataFrame([compare(ds, n, version) for ds in DATASETS for n in SIZES
                         if (OUTS[version] / f"{ds}_n{n}" / "runs.parquet").is_file()])


def findings_table(t: pd.DataFrame) -> str:
    """The Markdown table docs/findings.md holds verbatim (medians over the seeds)."""
    rows = ["| data set | N | Adam train CE | LySep train CE | ratio, equal epochs | LySep CE at Adam's time | "
            "ratio, equal time | Adam test acc | LySep test acc | LySep full J | wall time LySep / Adam |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in t.to_dict("records"):
        rows.append(f"| {r['dataset']} | {r['N']} | {r['adam CE']:.3g} | {r['lysep CE']:.3g} | {r['ratio']:.3g} | "
                    f"{r['lysep CE at adam' + chr(39) + 's time']:.3g} | {r['ratio at equal time']:.3g} | "
                    f"{100 * r['adam test acc']:.2f}% | {100 * r['lysep test acc']:.2f}% | {r['lysep J']:.3g} | "
                    f"{r['time ratio']:.3g} |")
    return "\n".join(rows)


def trend(t: pd.DataFrame) -> str:
    """How LySep and Adam and their ratio move with N, per data set (Spearman's rho of ratio against N)."""
    parts = [f"LySep's median final train CE stays between {t['lysep CE'].min():.3g} and {t['lysep CE'].max():.3g} "
             f"at every N (ln 2 = {np.log(2):.3g} is the CE of predicting 1/2 for each of two classes), its test "
             f"accuracy between {100 * t['lysep test acc'].min():.2f}% and {100 * t['lysep test acc'].max():.2f}%; "
             f"Adam's train CE is {t['adam CE'].min():.3g}-{t['adam CE'].max():.3g}, its test accuracy "
             f"{100 * t['adam test acc'].min():.2f}%-{100 * t['adam test acc'].max():.2f}%. Per data set"]
    for dataset, g in t.groupby("dataset", sort=False):
        corr = stats.spearman(g["N"].to_numpy(float), g["ratio"].to_numpy(float))
        rho, p = corr.statistic, corr.p_value
        first, last = g.iloc[0], g.iloc[-1]
        parts.append(f"{dataset}: LySep/Adam train-CE ratio {first['ratio']:.3g} at N = {first['N']} and "
                     f"{last['ratio']:.3g} at N = {last['N']} (equal epochs; Spearman rho over N {rho:.2f}, "
                     f"p = {p:.2g}); at equal wall time {first['ratio at equal time']:.3g} and "
                     f"{last['ratio at equal time']:.3g}")
    return "; ".join(parts) + "."


def figure(t: pd.DataFrame) -> bytes:
    """The LySep/Adam ratio of median train CE against N, per data set, at equal epochs and equal time."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for dataset, g in t.groupby("dataset", sort=False):
        line = ax.plot(g["N"], g["ratio"], marker="o", label=f"{dataset}, equal epochs")[0]
        ax.plot(g["N"], g["ratio at equal time"], marker="s", ls="--", color=line.get_color(),
                label=f"{dataset}, equal wall time")
    ax.set(xscale="log", yscale="log", xlabel="N (training samples)", ylabel="median train CE: LySep / Adam")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def settings(version: str) -> str:
    """The compared methods' settings of a version, in words."""
    if version == "v1":
        return ("configs/scale_n.toml's own settings (minibatch LySep at its defaults, Adam lr 1e-2, SGD at its "
                "defaults)")
    import tomllib

    parts = []
    for dataset in DATASETS:
        doc = tomllib.loads(tuned_spec(dataset).read_text()) if tuned_spec(dataset).is_file() else {"method": []}
        methods = "; ".join(f"{m.get('label', m['name'])}: " + ", ".join(f"{k} {v}" for k, v in m.items()
                                                                        if k not in ("name", "label"))
                            for m in doc["method"])
        parts.append(f"{dataset}: {methods}")
    return ("each method at its setting tuned by `python scripts/scale_n.py tune` (lysep tune, 16 trials per method, "
            "N = 2000, tuning seeds 100..102; tuning/<data set>/ holds the trials and their report) - "
            + " | ".join(parts))


def write_summary(version: str = "tuned") -> Path:
    """<version's results>/report.md and report.html, tables/scale_n.csv, figures/ratio_vs_n.png."""
    out = OUTS[version]
    t = summary_table(version)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    t.to_csv(out / "tables" / "scale_n.csv", index=False)
    png = figure(t)
    (out / "figures" / "ratio_vs_n.png").write_bytes(png)
    links = ", ".join(f"[{ds} N={n}]({ds}_n{n}/report.md)" for ds in DATASETS for n in SIZES)
    flag = " --v1" if version == "v1" else ""
    intro = (f"configs/scale_n.toml (minibatch LySep, minibatch Adam and SGD, batch 128, FNN depth 5 x width 20, "
             f"tanh, 5 seeds, the same epochs for every method) on {', '.join(DATASETS)} at N = "
             f"{', '.join(map(str, SIZES))}, made by `python scripts/scale_n.py run{flag}`; {settings(version)}. "
             "Medians over seeds; the "
             "difference is LySep - Adam in final train CE, paired by seed, with a bootstrap 95% interval and "
             f"the Wilcoxon p-value, each shown only with enough seeds (the interval of a median needs "
             f"{stats.min_n_bootstrap(statistic='median')} pairs, the test {stats.min_n_wilcoxon()}; '–' with "
             f"fewer). Spearman's p is the exact permutation p. Reports of each run: {links}.")
    sections = [Section("What was run", [intro]), Section("Finding", [trend(t)]),
                Section("LySep against Adam as N grows", [Table(t), Fig("ratio_vs_n", "LySep / Adam train CE "
                                                                        "against N", png)])]
    title = "Scale in N: minibatch LySep against minibatch Adam" + (" (v1, untuned)" if version == "v1" else
                                                                        " (tuned)")
    (out / "report.md").write_text(render_markdown(title, sections))
    (out / "report.html").write_text(render_html(title, sections))
    return out / "report.md"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "summary"
    version = "v1" if "--v1" in argv[1:] else "tuned"
    if command == "tune":
        tune_all()
        return 0
    if command == "run":
        run_all(version)
    if command in ("run", "summary"):
        print(f"summary: {write_summary(version)}")
    elif command == "table":
        print(findings_table(summary_table(version)))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
