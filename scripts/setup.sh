#!/usr/bin/env bash
# Install lysep and its dependencies into the project's environment (scripts/_env.sh): an active
# virtualenv or conda environment as it is, else the project's .venv, made here with `python3 -m venv`
# when it does not exist. Where no NVIDIA GPU is present and torch is not installed yet, take the
# CPU build of torch first (a plain `torch` pulls a multi-GB CUDA build); with a GPU, pip resolves
# the package's own range torch>=2.2. Running it again only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
CPU_TORCH="torch==2.13.0"
MIN_PYTHON="3.10"

make_venv() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "setup: error: no python3 on PATH (lysep needs Python >= $MIN_PYTHON)" >&2
    exit 1
  fi
  local version
  version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup: error: python3 is Python $version (lysep needs Python >= $MIN_PYTHON)" >&2
    exit 1
  fi
  echo "setup: creating the project environment .venv with $(command -v python3) (Python $version)"
  local log
  if ! log="$(python3 -m venv .venv 2>&1)"; then
    rm -rf .venv  # a half-made environment (no pip, no activate) would only confuse the next run
    echo "$log" >&2
    if [[ "$log" == *ensurepip* || "$log" == *"No module named venv"* || "$log" == *python3-venv* ]]; then
      echo "setup: error: this python3 cannot make virtual environments: its venv/ensurepip module is missing." >&2
      echo "setup: on Debian or Ubuntu, install it with" >&2
      echo "    sudo apt install python3-venv        (or python$version-venv, for this python3's version)" >&2
      echo "setup: then run bash scripts/setup.sh again (or activate a virtualenv or conda environment first)." >&2
    else
      echo "setup: error: python3 -m venv .venv failed (output above)" >&2
    fi
    exit 1
  fi
}

rc=0
lysep_select_env || rc=$?
if [[ $rc == 2 ]]; then exit 1; fi
if [[ $rc == 1 ]]; then
  make_venv
  lysep_select_env
fi
echo "setup: installing into the $LYSEP_ENV"
if ! python -c "import torch" >/dev/null 2>&1 && ! command -v nvidia-smi >/dev/null 2>&1; then
  python -m pip install -q "$CPU_TORCH"
fi
python -m pip install -q -e ".[test]"
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
if [[ "$LYSEP_ENV" == project* ]]; then
  echo "setup: done; run lysep as scripts/lysep (or first: source .venv/bin/activate, then lysep)"
else
  echo "setup: done; run lysep as scripts/lysep or lysep"
fi
