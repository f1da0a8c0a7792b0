#!/usr/bin/env bash
# Set up (scripts/setup.sh), then, in the project's environment (scripts/_env.sh), the linter, the layer
# contract (import-linter) and the whole test suite; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LYSEP_TEST_PROCESSES+set}" ]; then
  case "$LYSEP_TEST_PROCESSES" in
    ""|*[!0-9]*|0) echo "error: LYSEP_TEST_PROCESSES=$LYSEP_TEST_PROCESSES: expected a whole number >= 1" >&2; exit 2 ;;
  esac
fi
bash scripts/setup.sh
source scripts/_env.sh
lysep_select_env
# The browser tests (tests/browser.py: the HTML report's screenshot, the offline asv dashboard) need headless
# Chromium: Debian's package is installed where it is missing and this runs as root. In CI (CI set, as .ci/run
# sets it) a browser that cannot be had is an error here and in those tests, never a skip.
has_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
if ! has_chromium && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: apt-get could not install chromium" >&2
fi
if ! has_chromium; then
  case "${CI:-}" in
    ""|0|false|no) echo "warning: no chromium (install it: apt-get install chromium); the browser tests will be skipped" >&2 ;;
    *) echo "error: CI=$CI but no chromium could be installed (run as root with apt-get, or install it first);" \
         "the browser tests must run in CI" >&2; exit 1 ;;
  esac
fi
python -m ruff check .
# the layer contract of pyproject.toml (import-linter's lint-imports, docs/architecture.md)
python -c "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
# The suite runs in LYSEP_TEST_PROCESSES pytest-xdist processes (default: the available cores, at most 4; one
# core: in this process), each with one torch thread (tests/conftest.py), so that the processes never compete for
# a core; the tests sharing the repository's .asv/ folder take turns (a lock, tests/conftest.py). `-n 0` among the
# arguments runs everything in this process.
cores='import os; print(min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))'
processes="${LYSEP_TEST_PROCESSES:-$(python -c "$cores")}"
if [ "$processes" -gt 1 ]; then
  python -m pytest -q -n "$processes" "$@"
else
  python -m pytest -q "$@"
fi
