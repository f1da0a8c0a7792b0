"""The results store: whole files only, resumable by run config hash (suite.md "Results store").

Layout of a results directory::

    traces.parquet   one row per method/depth/width/seed/iteration (docs/method.md section 6), with a copy
                     of the runs table in its Parquet metadata (what ``repair`` rebuilds runs.parquet from)
    runs.parquet     one row per method/depth/width/seed: config_hash, status, final metrics, provenance
    meta.json        the spec and one entry per invocation of ``lysep run`` (commit, versions, host, times)
    params/          final parameters per run (safetensors; read back without pickle)
    decision/        predictions on a grid for 2-D datasets (for the decision-region figure)
    parts/           one Parquet file per finished unit of work, merged into the two tables

Every file is written to a temporary name in the same folder, flushed and renamed, so a
killed sweep leaves only whole files (and perhaps a ``.*.tmp`` file, removed by the next run).
A part carries its runs table in the Parquet schema metadata, so a unit's traces and runs land
together in one rename. A sweep holds an advisory lock on ``.lysep.lock`` while it writes, so two
sweeps into one directory cannot overwrite each other's results.

Nothing here unpickles: tables are Parquet, parameters safetensors, arrays ``.npz`` read with
``allow_pickle=False``, metadata JSON.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

RUNS_KEY = b"lysep.runs"
#: the lock file a sweep holds while it writes into a results directory
LOCK_NAME = ".lysep.lock"
#: run statuses of runs that are done (a failed run is retried by the next sweep)
DONE = ("completed", "diverged")


#: trace rows of a run that enter its fingerprint (with its final parameters)
FINGERPRINT_ROWS = 20
#: trace columns that never enter a fingerprint: timings and labels, which differ between identical runs
FINGERPRINT_EXCLUDED = frozenset({"wall_time", "config_hash", "method", "algorithm"})


def fingerprint(rows: pd.DataFrame, arrays: dict[str, np.ndarray] | None = None) -> str:
    """A run's identity for regression tracking: a hash of its first ``FINGERPRINT_ROWS`` trace rows (every
    column but timings and labels, in name order, exact bytes) and of its final parameters, if given.
    Two runs with equal fingerprints computed the same numbers bit for bit."""
    h = hashlib.sha256()
    rows = rows.sort_values("iteration").head(FINGERPRINT_ROWS)
    for column in sorted(c for c in rows.columns if c not in FINGERPRINT_EXCLUDED):
        h.update(column.encode())
        h.update(np.ascontiguousarray(rows[column].to_numpy(dtype=np.float64)).tobytes())
    for name in sorted(arrays or {}):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name], dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


class StoreError(RuntimeError):
    """A results file that cannot be read; the message names the file."""


#: the errors of a write that are faults of the machine, not of the user's input: a full disk, an I/O error, a
#: full quota (a read-only folder or a missing permission stays an ordinary OSError: bad input)
MACHINE_FAULTS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EIO", "EDQUOT") if hasattr(errno, n))


class WriteFailed(OSError):
    """A write that the machine refused (``MACHINE_FAULTS``); ``path`` names the file, ``errno`` the error. Nothing
    partial is left at ``path``: the temporary file of the write is removed."""

    def __init__(self, path: Path, error: OSError):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = Path(path)

    @property
    def code(self) -> str:
        """The errno's name (ENOSPC, EIO, EDQUOT)."""
        return errno.errorcode.get(self.errno or 0, str(self.errno))

    def __str__(self) -> str:
        return f"{self.path}: cannot be written ({self.code}: {self.strerror})"


def machine_fault(path: Path, error: OSError) -> OSError:
    """``error`` as a ``WriteFailed`` naming ``path`` when it is a fault of the machine, else ``error`` itself."""
    if isinstance(error, WriteFailed) or error.errno not in MACHINE_FAULTS:
        return error
    return WriteFailed(path, error)


def _write_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to the open file ``fd``, flush and fsync it, close it (the one place where bytes reach a disk;
    the fault-injection tests patch it)."""
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync and rename. A full disk, an I/O
    error or a full quota raises ``WriteFailed`` naming ``path``, with the temporary file removed and ``path`` as it
    was before (whole, or absent)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files: results on a shared machine stay readable by others
            os.fchmod(fd, 0o644)
        _write_fd(fd, data)
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        fault = machine_fault(path, e) if isinstance(e, OSError) else e
        if fault is not e:
            raise fault from e
        raise
    _fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """``atomic_write`` of UTF-8 text (reports, CSV tables, specs)."""
    atomic_write(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (a power cut after it keeps the new name); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def safe_name(text: str) -> str:
    """``text`` with every character but letters, digits, ``-_.`` replaced by ``_`` (for file names)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


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
    """Arrays saved by ``save_arrays``: safetensors only (never pickle); StoreError naming an unreadable file."""
    from safetensors.numpy import load

    try:
        return load(Path(path).read_bytes())
    except Exception as e:  # safetensors raises its own error type for a damaged header
        raise StoreError(f"{path}: cannot be read as safetensors ({type(e).__name__}: {e})") from e


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Arrays saved by ``save_npz``, read with ``allow_pickle=False``; StoreError naming an unreadable file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:
        raise StoreError(f"{path}: cannot be read as .npz ({type(e).__name__}: {e})") from e


def read_json(path: Path) -> Any:
    """A JSON file (``meta.json``); StoreError naming an unreadable one."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise StoreError(f"{path}: cannot be read as JSON ({e})") from e


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())


class ResultsStore:
    """One experiment's results directory."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.parts = self.root / "parts"

    # -- file names -----------------------------------------------------------------------------
    def params_path(self, label: str, depth: int, width: int, seed: int) -> Path:
        """Final parameters of one run (safetensors)."""
        return self.root / "params" / f"{safe_name(label)}_d{int(depth)}_w{int(width)}_s{int(seed)}.safetensors"

    def decision_path(self, label: str, depth: int, width: int) -> Path:
        """Decision-region grid of seed 0 of one method on one cell (2-D datasets)."""
        return self.root / "decision" / f"{safe_name(label)}_d{int(depth)}_w{int(width)}.npz"

    # -- the sweep lock -------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's sweep lock; StoreError if another process holds it.

        An advisory ``flock`` on ``.lysep.lock``: the kernel drops it when the holder exits or
        is killed, so a killed sweep never leaves the directory locked. (No-op without fcntl.)
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        path = self.root / LOCK_NAME
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno in MACHINE_FAULTS:
                raise WriteFailed(path, e) from e
            raise StoreError(f"{self.root}: cannot be used as a results directory ({e.strerror or e})") from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                raise StoreError(f"{self.root}: another `lysep run` (pid {holder}) is writing to this directory; "
                                 "wait for it to finish or choose another --out") from None
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as e:
                fault = machine_fault(path, e)
                if fault is e:
                    raise
                raise fault from e
            yield
        finally:
            os.close(fd)  # releases the lock

    def clean_tmp(self) -> list[str]:
        """Remove the temporary files of writes a killed sweep did not finish (call under ``lock``)."""
        dropped = []
        for leftover in sorted(self.root.rglob("*.tmp")) if self.root.exists() else []:
            leftover.unlink(missing_ok=True)
            dropped.append(str(leftover))
        return dropped

    # -- writing --------------------------------------------------------------------------------
    def write_part(self, name: str, traces: pd.DataFrame, runs: pd.DataFrame) -> Path:
        """A finished unit: its trace rows, with its runs rows in the file's metadata."""
        path = self.parts / f"{name}.parquet"
        atomic_write(path, parquet_bytes(traces, {RUNS_KEY: runs_json(runs)}))
        return path

    def consolidate(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Merge the tables and every part (one copy per config_hash), write both tables, drop the parts read.

        Killed at any point, the directory still holds every result: the parts go only after
        both tables are written, and ``load`` accepts a missing table while parts remain.
        """
        traces, runs, parts = self._load()
        self._write_tables(traces, runs, parts)
        return traces, runs

    def drop_runs(self, hashes: set[str]) -> None:
        """Remove runs (by config hash) from the tables and parts, so that the next sweep recomputes them."""
        traces, runs, parts = self._load()
        if len(runs):
            runs = runs[~runs.config_hash.isin(hashes)].reset_index(drop=True)
        if len(traces):
            traces = traces[~traces.config_hash.isin(hashes)].reset_index(drop=True)
        self._write_tables(traces, runs, parts)

    def _write_tables(self, traces: pd.DataFrame, runs: pd.DataFrame, parts: list[Path]) -> None:
        atomic_write(self.root / "traces.parquet", parquet_bytes(traces, {RUNS_KEY: runs_json(runs)}))
        atomic_write(self.root / "runs.parquet", parquet_bytes(runs))
        for part in parts:  # only the parts merged above: one written meanwhile stays for the next merge
            part.unlink(missing_ok=True)

    # -- reading --------------------------------------------------------------------------------
    def load(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(traces, runs) from the tables and any parts not merged yet (one copy per run, see ``_load``)."""
        traces, runs, _ = self._load()
        return traces, runs

    def _load(self) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
        """(traces, runs, the parts read).

        Of several copies of a run (same config_hash), a finished one (completed or diverged) beats
        a failed one, and among equals the later one wins (tables first, then parts by name). A
        finished run without trace rows (its table lost) is left out, so that it is run again.
        """
        traces, runs = [], []
        for name, bucket in (("traces.parquet", traces), ("runs.parquet", runs)):
            if (self.root / name).exists():  # one may be missing after a kill inside ``consolidate``
                bucket.append(read_parquet(self.root / name))
        parts = sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []
        for part in parts:
            t, r = self.read_part(part)
            traces.append(t)
            runs.append(r)
        runs = [r for r in runs if len(r)]
        if not runs:
            return pd.DataFrame(), pd.DataFrame(), parts
        runs_df = pd.concat(runs, ignore_index=True)
        done = runs_df.status.isin(DONE).to_numpy()
        rank = done * len(runs_df) + np.arange(len(runs_df))
        best = pd.Series(rank).groupby(runs_df.config_hash.to_numpy()).transform("max").to_numpy()
        runs_df = runs_df[rank == best]
        traces = [t for t in traces if len(t)]
        traces_df = pd.concat(traces, ignore_index=True) if traces else pd.DataFrame()
        if len(traces_df):
            traces_df = traces_df[traces_df.config_hash.isin(runs_df.config_hash)]
            traces_df = traces_df.drop_duplicates(["config_hash", "iteration"], keep="last")
            traces_df = traces_df.sort_values(["depth", "width", "method", "seed", "iteration"], kind="stable")
            has_rows = runs_df.config_hash.isin(traces_df.config_hash)
        else:
            has_rows = np.zeros(len(runs_df), dtype=bool)
        runs_df = runs_df[~runs_df.status.isin(DONE) | has_rows]
        return traces_df.reset_index(drop=True), runs_df.reset_index(drop=True), parts

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
        return set(runs.loc[runs.status.isin(DONE), "config_hash"])

    def _repair_tables(self) -> list[str]:
        """Deal with unreadable tables (call under ``lock``); one line per table dropped or rebuilt.

        An unreadable runs.parquet is rebuilt from the copy of the runs table in a readable
        traces.parquet (nothing is recomputed). An unreadable traces.parquet goes alone: the runs
        it held have no trace rows left and are computed again. Both tables go when both are
        unreadable, or when runs.parquet is and traces.parquet has no copy (written by an older lysep).
        """
        traces_path, runs_path = self.root / "traces.parquet", self.root / "runs.parquet"
        bad = {p for p in (traces_path, runs_path) if p.exists() and not _readable(p, pq.read_table)}
        if runs_path in bad and traces_path not in bad and traces_path.exists():
            copy = pq.read_schema(traces_path).metadata or {}
            if RUNS_KEY in copy:
                atomic_write(runs_path, parquet_bytes(pd.DataFrame(json.loads(copy[RUNS_KEY]))))
                return [f"{runs_path} (unreadable; rebuilt from the copy of the runs table in {traces_path.name}, "
                        "nothing to recompute)"]
            bad.add(traces_path)
        for path in sorted(bad):
            path.unlink()
        return [str(p) for p in sorted(bad)]

    def repair(self) -> list[str]:
        """Drop every file that cannot be read and the runs it belongs to (the next sweep recomputes them).

        Returns one line per file or run dropped. The tables are rebuilt from each other where they
        can be (:meth:`_repair_tables`). Parameters and decision grids that cannot be read take
        their runs with them.
        """
        dropped = self._repair_tables()
        for part in sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []:
            if not _readable(part, self.read_part):
                dropped.append(str(part))
        if (self.root / "meta.json").exists() and not _readable(self.root / "meta.json", read_json):
            dropped.append(str(self.root / "meta.json"))  # rewritten at the end of the sweep
        for path in dropped:
            Path(path).unlink(missing_ok=True)
        dropped += self.clean_tmp()
        stale: set[str] = set()
        _, runs = self.load()
        finished = runs[runs.status.isin(DONE)] if len(runs) else runs
        for row in finished.itertuples():
            path = self.params_path(row.method, row.depth, row.width, row.seed)
            if path.exists() and not _readable(path, load_arrays):
                path.unlink()
                dropped.append(str(path))
                stale.add(row.config_hash)
        if len(finished):
            for (label, depth, width), cell in finished[finished.seed == 0].groupby(["method", "depth", "width"]):
                path = self.decision_path(label, depth, width)
                if path.exists() and not _readable(path, load_npz):
                    path.unlink()
                    dropped.append(str(path))
                    stale |= set(cell.config_hash)
        if stale:
            self.drop_runs(stale)
            dropped.append(f"{self.root / 'runs.parquet'}: {len(stale)} runs whose files were unreadable "
                           "(they are computed again)")
        return dropped


def runs_json(runs: pd.DataFrame) -> bytes:
    """A runs table as the JSON records kept in Parquet metadata (parts and traces.parquet)."""
    return runs.to_json(orient="records").encode()


def _readable(path: Path, reader: Any) -> bool:
    try:
        reader(path)
    except Exception:
        return False
    return True
