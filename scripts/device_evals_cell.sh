#!/usr/bin/env bash
# Rerun one cell of the equal-grad_evals study on a lent device machine's CPUs (6 workers x 2 threads).
set -u
cd "$(dirname "$0")/.."
source scripts/_env.sh
lysep_env_or_system || exit 2
export PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}
sed 's/^depth = \[3, 5, 10\]/depth = [10]/; s/^width = \[10, 20, 50\]/width = [50]/' configs/study_lysep_evals.toml > /tmp/cell.toml
timeout 200 "$LYSEP_PYTHON" -m lysep run /tmp/cell.toml --workers 6 --quiet --no-report --out /tmp/cell
tar czf "$OUT/cell.tgz" -C /tmp --exclude=params cell
