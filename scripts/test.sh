#!/usr/bin/env bash
# Set up (scripts/setup.sh), then, in the project's environment (scripts/_env.sh), the linter, the layer
# contract (import-linter) and the whole test suite; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/_env.sh
lysep_select_env
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: chromium could not be installed; the screenshot test will be skipped" >&2
fi
python -m ruff check .
lint-imports  # the layer contract of pyproject.toml (docs/architecture.md)
python -m pytest -q "$@"
