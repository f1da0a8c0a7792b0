"""An installed distribution made in a temp dir: modules plus a ``<name>-<version>.dist-info`` with entry points.

Put the folder on ``PYTHONPATH`` (subprocesses) and ``importlib.metadata`` finds the distribution and its entry
points exactly as it finds one that pip installed (a dist-info on sys.path is what an installed wheel leaves).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install(folder: Path, dist: str, version: str, modules: dict[str, str],
            entry_points: dict[str, str], group: str = "lysep.methods") -> Path:
    """Write ``modules`` (relative path -> source) and the distribution's metadata into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, source in modules.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    info = folder / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    lines = [f"[{group}]", *(f"{name} = {target}" for name, target in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    return folder


def lysep(args: list[str], *paths: Path, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m lysep ARGS`` in a subprocess with ``paths`` (plugin folders) before this checkout on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, paths), str(ROOT)]), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lysep", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
