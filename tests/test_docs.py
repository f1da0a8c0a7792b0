"""The documentation is self-contained and says what the code does: links, examples, schema, inequalities."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from lysep.core.activations import ACTIVATIONS, GAINS, LIPSCHITZ
from lysep.core.model import ModelSpec, forward, init_params
from lysep.core.objectives import adaptive_omega, certificate, certificate_weights, lysep_loss, true_loss
from lysep.harness.cell import HARNESS_COLUMNS
from lysep.methods import METHODS, PROPERTY_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "configs" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: files whose bytes are data, not text that could point anywhere
BINARY = (".parquet", ".png", ".npz", ".safetensors", ".lock")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except OSError:
        out = None
    if out is None or out.returncode != 0:  # not a git checkout: every file but the usual untracked folders
        skip = {".git", ".venv", ".asv", "__pycache__", ".pytest_cache", ".ruff_cache"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    return [ROOT / name for name in out.stdout.split("\0") if name]


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m) for m in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)}


def python_blocks(page: Path) -> str:
    return "\n".join(re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S))


# ---------------------------------------------------------------------------------- self-contained


def test_nothing_in_the_repository_points_outside_it() -> None:
    needles = [s.encode() for s in ("../" + "shared", "shared" + "/design")]
    bad = []
    for path in tracked_files():
        if path.suffix in BINARY or not path.is_file():
            continue
        data = path.read_bytes()
        bad += [f"{path.relative_to(ROOT)}: {n.decode()}" for n in needles if n in data]
    assert not bad, bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif not dest.resolve().is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no such heading)")
    assert not broken, broken


def test_the_readme_is_a_short_front_page_that_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    assert "bash scripts/setup.sh && scripts/lysep run" in readme and "bash scripts/test.sh" in readme
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name})" in readme, page.name


def test_the_configs_index_lists_every_spec() -> None:
    index = (ROOT / "configs" / "README.md").read_text(encoding="utf-8")
    for spec in sorted((ROOT / "configs").glob("*.toml")):
        assert f"]({spec.name})" in index, spec.name


# ---------------------------------------------------------------------------------- examples run


EXAMPLES = [(page, i) for page in ("README.md", "docs/spec.md")
            for i in range(len(re.findall(r"```python\n", (ROOT / page).read_text(encoding="utf-8"))))]


@pytest.mark.parametrize(("page", "index"), EXAMPLES, ids=[f"{p}#{i}" for p, i in EXAMPLES])
def test_each_python_example_runs_alone_as_pasted(page: str, index: int) -> None:
    """Every ```python block, on its own in a fresh namespace, exactly as written (a reader pastes one block)."""
    code = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), flags=re.S)[index]
    namespace: dict = {}
    exec(compile(code, f"{page} example {index}", "exec"), namespace)  # noqa: S102 - the repository's own examples
    if "traces" in namespace:
        traces = namespace["traces"]
        assert set(HARNESS_COLUMNS) <= set(traces.columns) and traces.iteration.max() > 0


def test_the_python_examples_include_run_cell() -> None:
    assert len(EXAMPLES) >= 3
    assert all("run_cell" in python_blocks(ROOT / page) for page in ("README.md", "docs/spec.md"))


# ---------------------------------------------------------------------------------- the schema page


def test_the_trace_schema_page_names_every_column_the_store_writes() -> None:
    page = re.sub(r"```.*?```", "", (ROOT / "docs" / "traces.md").read_text(encoding="utf-8"), flags=re.S)
    documented = set(re.findall(r"[A-Za-z_]\w*", " ".join(re.findall(r"`([^`]+)`", page))))
    results = ROOT / "results" / "paper_example1"
    traces = pq.read_schema(results / "traces.parquet").names
    runs = pq.read_schema(results / "runs.parquet").names
    declared = [c for cls in METHODS.values() for n, m in cls.METRICS.items()
                for c in ([f"{n}_1"] if m.per_layer else [n, f"final_{n}", *([m.gap] if m.gap else [])])]
    for name in [*HARNESS_COLUMNS, *declared, *PROPERTY_COLUMNS, *traces, *runs]:
        generic = re.sub(r"_\d+$", "_1", name)  # residual_7 is documented as residual_1..residual_D
        assert name in documented or generic in documented, name


def test_the_activation_table_of_the_method_page_is_the_codes() -> None:
    page = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (tanh|relu|sigmoid|gelu|softplus)\b[^|]* \| ([\d./]+)[^|]* \| ([\w ./]+) \|$", page, re.M)
    assert {r[0] for r in rows} == set(ACTIVATIONS)

    def value(text: str) -> float:
        text = text.strip()
        if text.startswith("sqrt "):
            return math.sqrt(float(text[5:]))
        num, _, den = text.partition("/")
        return float(num) / float(den or 1)

    for name, lip, gain in rows:
        assert value(lip) == pytest.approx(LIPSCHITZ[name]), name
        assert value(gain) == pytest.approx(GAINS[name]), name


# ---------------------------------------------------------------------------------- method.md section 3


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
def test_j_bounds_f_up_to_the_stated_slack(act: str) -> None:
    """F <= B <= J + sum_l c_l^2 / (2 beta_l) for any theta, U, beta; adaptive weights: slack <= D / (2 beta)."""
    gen = torch.Generator().manual_seed(7)
    for depth in (1, 3, 5):
        spec = ModelSpec.fnn(3, depth, 7, 4, act)
        x = torch.randn(40, 3, generator=gen, dtype=torch.float64)
        y = torch.randint(0, 4, (40,), generator=gen)
        params = [(2 * w + 0.3 * torch.randn(w.shape, generator=gen, dtype=torch.float64),
                   torch.randn(b.shape, generator=gen, dtype=torch.float64))
                  for w, b in init_params(spec, list(range(8)), torch.float64)]
        hidden, _ = forward(params, x, act)
        dist = torch.logspace(-5, 1, 8, dtype=torch.float64)  # U from near the forward pass to far from it
        U = [h + dist[:, None, None] * torch.randn(h.shape, generator=gen, dtype=torch.float64) for h in hidden]
        betas = torch.exp(3 * torch.randn(8, depth, generator=gen, dtype=torch.float64))
        F, B = true_loss(params, x, y, act), certificate(params, U, x, y, act)
        J = lysep_loss(params, U, x, y, betas, act)
        c = certificate_weights(params, act, "spectral")
        assert bool((F <= B + 1e-12).all())
        assert bool((B <= J + (c**2 / (2 * betas)).sum(1) + 1e-12).all())
        beta = 0.7
        for norm in ("spectral", "frobenius"):  # the default lysep's adaptive weights, and the other norm's
            adaptive = beta * adaptive_omega(params, act, norm)
            assert bool((F <= lysep_loss(params, U, x, y, adaptive, act) + depth / (2 * beta) + 1e-12).all())
