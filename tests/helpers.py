"""Small offline problems built in the tests themselves (no downloads)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import torch

from lysep.core.problem import Problem
from lysep.harness.provenance import MEASURED_COLUMNS


def circle_arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    return x, (x[:, 0] ** 2 + x[:, 1] ** 2 < 0.5).astype(np.int64)


def random_problem(n: int = 64, d: int = 3, k: int = 3, seed: int = 0, dtype=torch.float64) -> Problem:
    rng = np.random.default_rng(seed)
    x, xt = rng.normal(size=(n, d)), rng.normal(size=(n // 2, d))
    y, yt = rng.integers(0, k, n), rng.integers(0, k, n // 2)
    y[:k] = np.arange(k)
    return Problem.from_arrays(x, y, xt, yt, n_classes=k, dtype=dtype)


def no_time(df: pd.DataFrame) -> pd.DataFrame:
    """A trace or runs table without what measures an execution (wall and CPU time, start and end, load), sorted by
    run (and iteration): two executions of the same computation give equal tables."""
    cols = [c for c in df.columns if c not in MEASURED_COLUMNS]
    keys = ["method", "depth", "width", "seed", *(["iteration"] if "iteration" in df else [])]
    return df[cols].sort_values(keys).reset_index(drop=True)


def git_repo(path: Path) -> Path:
    """A git repository of its own (never the project's) with one commit holding a ``lysep/`` folder: what
    ``lysep track`` checks out as a base (point ``$LYSEP_TRACK_REPO`` at it)."""
    import os
    import subprocess

    (path / "lysep").mkdir(parents=True)
    (path / "lysep" / "__init__.py").write_text("")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "one"]):
        subprocess.run(["git", *cmd], cwd=path, env=env, check=True, capture_output=True)
    return path


def fake_measure(calls: list, work_of=lambda tree, calls: 1.0):
    """A ``lysep.measure.track.measure`` that writes what the real one does (measurements.json, a readable
    quality store) without measuring: every count ``10 * work_of(tree, calls)``; ``calls`` collects the trees."""
    import json

    from lysep.harness.store import parquet_bytes, write_text
    from lysep.measure import counters

    def measure(tree, out, log) -> dict:
        calls.append(Path(tree))
        work = work_of(Path(tree), calls)
        counts = [{"method": "lysep", "depth": 2, "width": 4, **dict.fromkeys(counters.COUNTS, 10.0 * work)}]
        result = {"counters": counts, "ratios": [{"kind": "fnn", "depth": 2, "width": 4, "lysep_over_adam": 5.0}]}
        quality = out / "quality"
        quality.mkdir(parents=True, exist_ok=True)
        for name in ("runs.parquet", "traces.parquet"):
            (quality / name).write_bytes(parquet_bytes(pd.DataFrame({"a": [1.0]})))
        (quality / "meta.json").write_text("{}")
        write_text(out / "measurements.json", json.dumps(result))
        return result

    return measure


def load_script(path: Path) -> ModuleType:
    """The Python file at ``path`` (a script of scripts/ or tests/data, not a package module) as a module, registered
    in ``sys.modules`` under its name (a dataclass needs its module there)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module
