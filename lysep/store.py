"""The results store: whole files only, resumable by run config hash (suite.md "Results store").

Layout of a results directory::

    traces.parquet   one row per method/depth/width/seed/iteration (method.md section 6)
    runs.parquet     one row per method/depth/width/seed: config_hash, status, final metrics
    meta.json        spec, git commit, versions, device, host, start and end times
    params/          final parameters per run (safetensors; read back without pickle)
    decision/        predictions on a grid for 2-D datasets (for the decision-region figure)
    parts/           one Parquet file per finished unit of work, merged into the two tables

Every file is written to a temporary name in the same folder, flushed and renamed, so a
killed sweep leaves only whole files. A part carries its runs table in the Parquet schema
metadata, so a unit's traces and runs land together in one rename.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RUNS_KEY = b"lysep.runs"


class StoreError(RuntimeError):
    """A results file that cannot be read; the message names the file."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parquet_bytes(df: pd.DataFrame, metadata: dict[bytes, bytes] | None = None) -> bytes:
    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise StoreError(f"{path}: cannot be read as Parquet ({e}); "
                         f"run `lysep run SPEC --out {path.parent} --repair` to drop it and recompute") from e


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Tensors as safetensors (no pickle); used for final parameters."""
    from safetensors.numpy import save

    atomic_write(path, save({k: np.ascontiguousarray(v) for k, v in arrays.items()}))


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())


class ResultsStore:
    """One experiment's results directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.parts = self.root / "parts"

    # -- writing --------------------------------------------------------------------------------
    def write_part(self, name: str, traces: pd.DataFrame, runs: pd.DataFrame) -> Path:
        """A finished unit: its trace rows, with its runs rows in the file's metadata."""
        meta = {RUNS_KEY: runs.to_json(orient="records").encode()}
        path = self.parts / f"{name}.parquet"
        atomic_write(path, parquet_bytes(traces, meta))
        return path

    def consolidate(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Merge the tables and every part (one copy per config_hash), write both tables, drop the parts."""
        traces, runs = self.load()
        atomic_write(self.root / "traces.parquet", parquet_bytes(traces))
        atomic_write(self.root / "runs.parquet", parquet_bytes(runs))
        for part in sorted(self.parts.glob("*.parquet")):
            part.unlink()
        return traces, runs

    # -- reading --------------------------------------------------------------------------------
    def load(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(traces, runs) from the tables and any parts not merged yet; later copies of a run win."""
        traces, runs = [], []
        if (self.root / "runs.parquet").exists() or (self.root / "traces.parquet").exists():
            traces.append(read_parquet(self.root / "traces.parquet"))
            runs.append(read_parquet(self.root / "runs.parquet"))
        for part in sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []:
            t, r = self.read_part(part)
            traces.append(t)
            runs.append(r)
        if not runs:
            return pd.DataFrame(), pd.DataFrame()
        runs_df = pd.concat(runs, ignore_index=True).drop_duplicates("config_hash", keep="last")
        traces_df = pd.concat([t for t in traces if len(t)], ignore_index=True) if any(len(t) for t in traces) \
            else pd.DataFrame()
        if len(traces_df):
            traces_df = traces_df[traces_df.config_hash.isin(runs_df.config_hash)]
            traces_df = traces_df.drop_duplicates(["config_hash", "iteration"], keep="last")
            traces_df = traces_df.sort_values(["depth", "width", "method", "seed", "iteration"], kind="stable")
        return traces_df.reset_index(drop=True), runs_df.reset_index(drop=True)

    def read_part(self, path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        try:
            table = pq.read_table(path)
            runs = pd.DataFrame(json.loads(table.schema.metadata[RUNS_KEY]))
        except Exception as e:
            raise StoreError(f"{path}: cannot be read ({e}); "
                             f"run `lysep run SPEC --out {self.root} --repair` to drop it and recompute") from e
        return table.to_pandas(), runs

    def completed_hashes(self) -> set[str]:
        """Config hashes of runs that finished (completed or diverged); failed runs are retried."""
        _, runs = self.load()
        if not len(runs):
            return set()
        return set(runs.loc[runs.status.isin(["completed", "diverged"]), "config_hash"])

    def repair(self) -> list[str]:
        """Drop every file that cannot be read (and its unit is recomputed by the next run); names them."""
        dropped = []
        for path in [self.root / "traces.parquet", self.root / "runs.parquet"]:
            if path.exists():
                try:
                    pq.read_table(path)
                except Exception:
                    dropped.append(str(path))
        if dropped:  # the two tables only make sense together
            for path in [self.root / "traces.parquet", self.root / "runs.parquet"]:
                if path.exists() and str(path) not in dropped:
                    dropped.append(str(path))
        for part in sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []:
            try:
                self.read_part(part)
            except StoreError:
                dropped.append(str(part))
        for leftover in self.root.rglob("*.tmp"):
            dropped.append(str(leftover))
        for path in dropped:
            Path(path).unlink(missing_ok=True)
        return dropped
