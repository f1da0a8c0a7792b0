#!/usr/bin/env bash
# Install lysep and its dependencies into the current Python environment.
# Where no NVIDIA GPU is present, take the CPU build of torch first (a plain `torch` pulls a
# multi-GB CUDA build); with a GPU, pip resolves the package's own range torch>=2.2.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! python3 -c "import torch" >/dev/null 2>&1; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    python3 -m pip install -q torch==2.13.0
  fi
fi
python3 -m pip install -q -e ".[test]"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
