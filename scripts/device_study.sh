#!/usr/bin/env bash
# Run the LySep study on a lent device machine's CPUs (16 cores: 8 workers x 2 threads) and pack
# the results into $OUT. Used once through the device tool; see results/study_lysep/README.md.
set -u
cd "$(dirname "$0")/.."
source scripts/_env.sh
lysep_env_or_system || exit 2
export PYTHONPATH=$PWD
OUT=${OUT:-/tmp/out}
"$LYSEP_PYTHON" -c "import torch, os; print('torch', torch.__version__, 'cores', os.cpu_count())"
lscpu | grep -E "Model name|^CPU\(s\)" || true
t0=$(date +%s)
timeout 270 "$LYSEP_PYTHON" -m lysep run configs/study_lysep_tune.toml --workers 8 --quiet --no-report --out /tmp/study_lysep_tune
echo "tune done in $(( $(date +%s) - t0 )) s"
"$LYSEP_PYTHON" scripts/study_lysep.py select /tmp/study_lysep_tune
timeout 110 "$LYSEP_PYTHON" -m lysep run configs/study_lysep.toml --workers 8 --quiet --no-report --out /tmp/study_lysep
echo "seconds stage done in $(( $(date +%s) - t0 )) s"
timeout 150 "$LYSEP_PYTHON" -m lysep run configs/study_lysep_evals.toml --workers 8 --quiet --no-report --out /tmp/study_lysep_evals
echo "evals stage done in $(( $(date +%s) - t0 )) s"
cp configs/study_lysep.toml configs/study_lysep_evals.toml results/study_lysep/tuning.csv "$OUT"/ 2>/dev/null
for d in study_lysep_tune study_lysep study_lysep_evals; do
  tar czf "$OUT/$d.tgz" -C /tmp --exclude=params "$d"
done
ls -la "$OUT"
