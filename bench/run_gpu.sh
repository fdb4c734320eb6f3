#!/usr/bin/env bash
# One full call on the GPU machine: build (release), the gpu test suite,
# the baseline benchmark and its torch peers. Logs and JSON go to $OUT.
#   bench/run_gpu.sh [suite|bench|all]   (default all)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/tj-out}
mkdir -p "$OUT"
what=${1:-all}
commit=${TJ_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
B=/tmp/tj-release
if [ ! -f $B/build.ninja ]; then
  meson setup $B -Dbuildtype=release -Dwerror=false > "$OUT/setup.log" 2>&1 || { cat "$OUT/setup.log"; exit 1; }
fi
ninja -C $B > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/device.txt"
if [ "$what" = bench ] || [ "$what" = all ]; then
  $B/bench_baseline --json "$OUT/baseline.jsonl" --commit "$commit" 2>&1 | tee "$OUT/bench.log"
  python3 bench/peer_torch.py > "$OUT/peers.jsonl" 2>>"$OUT/bench.log"; cat "$OUT/peers.jsonl"
  $B/bench_launch --json-dir "$OUT" --commit "$commit" 2>&1 | tee "$OUT/launch.log"
fi
if [ "$what" = suite ] || [ "$what" = all ]; then
  meson test -C $B --suite gpu --print-errorlogs --timeout-multiplier 3 > "$OUT/gpu-suite.log" 2>&1
  rc=$?
  grep -E "^ *[0-9]+/[0-9]+ |passed|largest|cases ran" "$OUT/gpu-suite.log" | tail -30
  cp $B/meson-logs/testlog.txt "$OUT/gpu-testlog.txt" 2>/dev/null
  grep -E "FAIL|random graph|recipe" $B/meson-logs/testlog.txt | head -40
  exit $rc
fi
