"""Progress of a sweep: bars on a terminal, plain periodic lines otherwise, nothing with ``--quiet``.

A log file (stderr redirected) gets one line per finished unit and, inside a long unit, at most one
line per :data:`PLAIN_EVERY` seconds, instead of the thousands of carriage-return updates of a
progress bar.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

#: seconds between two plain progress lines of one unit
PLAIN_EVERY = 60.0


class Progress:
    """Reports units of a sweep (``unit``: label, depth, width, seeds) as they run and finish."""

    def __init__(self, total: int, iterations: int | None, quiet: bool = False, stream: IO[str] | None = None,
                 every: float = PLAIN_EVERY) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.quiet, self.total, self.iterations, self.every = quiet, total, iterations, every
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.bar = None
        if not quiet and self.tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="cells x methods", unit="unit", position=0, file=self.stream)

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def iterations_of(self, unit: Any) -> Callable[[int], None] | None:
        """A per-iteration callback for an in-process unit (None when quiet)."""
        if self.quiet:
            return None
        name = f"{unit.label} d={unit.depth} w={unit.width}"
        if self.tty:
            from tqdm.auto import tqdm

            inner = tqdm(total=self.iterations, desc=f"  {name}", leave=False, position=1, file=self.stream)

            def tick(k: int) -> None:
                inner.update(k - inner.n)
                if self.iterations is not None and k >= self.iterations:
                    inner.close()
            return tick
        start = last = time.monotonic()

        def plain(k: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= self.every:
                last = now
                of = f"/{self.iterations}" if self.iterations is not None else ""
                self._line(f"  {name}: iteration {k}{of} ({now - start:.0f} s)")
        return plain

    def finished(self, unit: Any, failed: bool = False) -> None:
        """One unit finished (or failed)."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif not self.quiet:
            what = "failed" if failed else "done"
            self._line(f"[{self.done}/{self.total}] {unit.label} d={unit.depth} w={unit.width} "
                       f"seeds {unit.seeds[0]}-{unit.seeds[-1]}: {what}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
