#!/usr/bin/env bash
# Re-make every committed report from its committed runs with the current analysis (one at a time, one torch
# thread): after a change to the analysis's rules, run this, then `python scripts/paper_tables.py` and compare the
# findings page (tests/test_paper_results.py says which table moved).
#   bash scripts/regenerate_reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
LYSEP=${LYSEP:-lysep}
stores=(results/paper_example1 results/paper_example1/tuning results/paper_example1_tuned
        results/paper_example2 results/paper_example2/tuning results/paper_example2_tuned
        results/study_lysep results/study_lysep_evals)
for d in results/scale_n/*_n* results/scale_n_tuned/*_n*; do stores+=("$d"); done
for d in "${stores[@]}"; do
  start=$(date +%s)
  "$LYSEP" report "$d" > /dev/null
  echo "$d: $(( $(date +%s) - start )) s"
done
python scripts/scale_n.py summary
python scripts/scale_n.py summary --v1
