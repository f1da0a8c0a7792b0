#!/usr/bin/env bash
# One call on a machine with an NVIDIA GPU (finishes in under 9 minutes):
#   1. the CUDA tests (tests/test_cuda.py: CPU and CUDA give the same float64 traces, FNN and CNN),
#   2. steady-state LySep iterations (scripts/gpu_steady_state.py) for each block step rule (sequential
#      Armijo, the default; Armijo in one batched round; Lipschitz steps) at the sizes of the paper's
#      Example 1 and 2 and at N = 1e5 and 1e6: ms per iteration against Adam, whether an iteration
#      synchronises with the host (torch.cuda.set_sync_debug_mode), and for the rules that do not, the
#      iteration captured as a CUDA graph (lysep.measure.graphs): ms per replay and its difference from the eager
#      iterations,
#   3. `lysep bench --device cuda --json` and the same benchmark on 2 CPU threads of that host,
#   4. a short table last: the paper grid (depth {3,5,10} x width {10,20,50}, 10 seeds, N = 2000)
#      per iteration on the GPU vs 2 CPU cores, with the card's name.
# JSON results go to $OUT (the device tool's output folder) or a temporary folder.
# Python: the project's environment (scripts/_env.sh), else python3 from PATH (a bare GPU image).
# LYSEP_GPU_CHECK_DEVICE=cpu LYSEP_GPU_CHECK_QUICK=1 runs the same steps without a GPU (a smoke test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_env.sh
lysep_env_or_system
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DEVICE="${LYSEP_GPU_CHECK_DEVICE:-cuda}"
QUICK=()
if [[ -n "${LYSEP_GPU_CHECK_QUICK:-}" ]]; then QUICK=(--quick); fi
DEST="${OUT:-$(mktemp -d)}"
mkdir -p "$DEST"

if [[ "$DEVICE" == cuda ]]; then
  "$LYSEP_PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: no CUDA device here')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi

echo "== CUDA tests"
if "$LYSEP_PYTHON" -c "import pytest" 2>/dev/null; then
  timeout 180 "$LYSEP_PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -3
else  # a bare GPU image without pytest: call the test functions directly
  timeout 180 "$LYSEP_PYTHON" -c "
import torch, tests.test_cuda as t
if not torch.cuda.is_available():
    print('CUDA tests skipped: no CUDA device')
else:
    for name in [n for n in dir(t) if n.startswith('test_')]:
        getattr(t, name)(); print('passed', name)
"
fi

echo "== steady-state LySep iterations on $DEVICE (host syncs, CUDA graph)"
timeout 300 "$LYSEP_PYTHON" scripts/gpu_steady_state.py --device "$DEVICE" --out "$DEST/steady_$DEVICE.json" \
  "${QUICK[@]}"

echo "== lysep bench --device $DEVICE"
timeout 150 "$LYSEP_PYTHON" -m lysep bench --device "$DEVICE" --json --no-default-run "${QUICK[@]}" \
  > "$DEST/bench_$DEVICE.json" 2> "$DEST/bench_$DEVICE.log"
echo "== lysep bench --device cpu --threads 2"
timeout 150 "$LYSEP_PYTHON" -m lysep bench --device cpu --threads 2 --json --no-default-run "${QUICK[@]}" \
  > "$DEST/bench_cpu2.json" 2> "$DEST/bench_cpu2.log"

"$LYSEP_PYTHON" - "$DEST/bench_$DEVICE.json" "$DEST/bench_cpu2.json" <<'PY'
import json, sys
dev, cpu = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\ngpu_check: {dev['device_name']} ({dev['device']}), torch {dev['torch']}; "
      f"CPU = 2 threads of that host{' [quick: tiny sizes]' if dev['config']['quick'] else ''}")
print(f"{'method':<8} {'grid ms/iter ' + dev['device']:>22} {'grid ms/iter cpu x2':>20} {'speedup':>8}"
      f" {'batched_speedup':>16}")
for m in dev["batched_speedup"]:
    d = sum(r["batched_s"] for r in dev["cells"] if r["method"] == m) * 1e3
    c = sum(r["batched_s"] for r in cpu["cells"] if r["method"] == m) * 1e3
    print(f"{m:<8} {d:22.1f} {c:20.1f} {c / d:8.2f} {dev['batched_speedup'][m]:16.2f}")
print(f"{'all':<8} {dev['grid_seconds'] * 1e3:22.1f} {cpu['grid_seconds'] * 1e3:20.1f} "
      f"{cpu['grid_seconds'] / dev['grid_seconds']:8.2f}   (target: >= 10x on a GPU)")
print(f"am_iteration_over_adam_step: {dev['am_iteration_over_adam_step']:.2f} on {dev['device']}, "
      f"{cpu['am_iteration_over_adam_step']:.2f} on 2 CPU threads")
PY
