"""The headless browser (and asv) that the dashboard and report tests open pages with.

Outside CI a missing browser skips those tests; in CI (the environment variable ``CI`` set, as .ci/run and
every CI service set it) it fails them: scripts/test.sh installs Debian's chromium there, so a skip would only
hide a broken setup.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: flags of every headless run: no sandbox (root in a container), no network of its own, no first-run UI
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(tool: str, found: str | None, how: str) -> str:
    """``found`` (a path), else fail in CI and skip elsewhere, saying ``how`` to get ``tool``."""
    if found:
        return found
    if in_ci():
        pytest.fail(f"{tool} is not installed, and CI must run this test: {how}")
    pytest.skip(f"{tool} is not installed here ({how}; in CI it is required)")


def chromium() -> str:
    """The chromium executable."""
    return need("chromium", shutil.which("chromium") or shutil.which("chromium-browser"),
                "scripts/test.sh installs Debian's chromium when run as root: apt-get install chromium")


def asv() -> str:
    """The asv executable (a dependency of the package: scripts/setup.sh installs it)."""
    return need("asv", shutil.which("asv"), "bash scripts/setup.sh installs it")


class _Server(ThreadingHTTPServer):
    """A local static server for one page load: a backlog for every connection the browser opens at once (the
    default of 5 can refuse some when the machine is busy, and the page then shows a network error), and no
    request log on the terminal."""

    request_queue_size = 128
    daemon_threads = True


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


def serve(folder: Path) -> ThreadingHTTPServer:
    """``folder`` served on 127.0.0.1 (a free port: ``server.server_address[1]``); ``server.shutdown()`` stops it."""
    server = _Server(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def page_error(dom: str) -> str:
    """The text of the asv dashboard's error dialog in a dumped DOM ("" when it shows none), for a failure message."""
    found = re.search(r'id="error-message"[^>]*>([^<]*)<', dom)
    return found[1].strip() if found else ""


def open_page(chromium: str, url: str, profile: Path, shot: Path | None = None) -> str:
    """The page's DOM after its scripts ran (and a screenshot to ``shot``); no network but the local server."""
    args = [chromium, *FLAGS, f"--user-data-dir={profile}", "--window-size=1400,900",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=20000"]
    if shot is not None:
        subprocess.run([*args, f"--screenshot={shot}", url], capture_output=True, timeout=180)
    return subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout


def ink(path: Path) -> float:
    """The share of a screenshot's pixels that are not (near) white: 0 for a blank page."""
    from matplotlib.image import imread

    img = imread(path)[..., :3]
    return float((img.mean(axis=2) < 0.9).mean())
