#!/usr/bin/env bash
# One full call on the GPU machine: build (release), the gpu test suite,
# the baseline benchmark and its torch peers. Logs and JSON go to $OUT.
#   bench/run_gpu.sh [suite|check|bench|gemm|membound|attention|decode|python|llvm|all]   (default all)
# check: the short integrated pass (each GPU test binary under a time
# limit, 60 random graphs, PTX cases when build/ptx-cases is carried).
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
if [ "$what" = check ]; then
  rc=0
  for t in gpu_varlen:40 gpu_tmap:30 gpu_gemm:150 gpu_rows:240 gpu_attention:150 gpu_decode:150 gpu_kernels:70 gpu_ptx:45; do
    name=${t%%:*} lim=${t##*:} s=$(date +%s)
    TJ_GPU_GRAPHS=${TJ_GPU_GRAPHS:-60} TJ_PTX_CASES_DIR=$PWD/build/ptx-cases \
      timeout "$lim" $B/tests/test_$name > "$OUT/$name.log" 2>&1; r=$?
    [ $r = 0 ] || [ $r = 77 ] || rc=1
    echo "$name rc=$r $(( $(date +%s) - s ))s: $(tail -1 "$OUT/$name.log")"
    grep -E "^FAIL|cases ran|failed" "$OUT/$name.log" | head -6
  done
  timeout 60 $B/bench_launch --quick --json-dir "$OUT" --commit "$commit" 2>&1 | tail -10
  exit $rc
fi
if [ "$what" = gemm ]; then
  # issue 5: the gemm_sm90 fast path against the interpreter, then against cuBLAS
  # (every case twice: without clusters and in clusters of two)
  timeout 400 $B/tests/test_gpu_gemm > "$OUT/gpu-gemm.log" 2>&1
  rc=$?
  tail -20 "$OUT/gpu-gemm.log"
  mkdir -p /tmp/tj-sass
  timeout 400 $B/bench_gemm --json "$OUT/gemm.jsonl" --commit "$commit" --sass /tmp/tj-sass 2>&1 | tee "$OUT/gemm.log"
  # GEMM_AB=1: the same without clusters (gs_cluster 1), its own process
  if [ -n "${GEMM_AB:-}" ]; then
    timeout 400 $B/bench_gemm --cluster 1 --json "$OUT/gemm-cluster1.jsonl" --commit "$commit" 2>&1 | tee "$OUT/gemm-cluster1.log"
  fi
  exit $rc
fi
if [ "$what" = attention ]; then
  # issue 8: attention_sm90 against the interpreter, then the FA3 sweep
  # against SDPA (cuDNN, flash). ATTN_ONLY=d128-n8192 narrows both.
  timeout 200 $B/tests/test_gpu_attention > "$OUT/gpu-attention.log" 2>&1
  rc=$?
  tail -3 "$OUT/gpu-attention.log"
  timeout 200 python3 bench/attention_torch.py ${ATTN_ONLY:-} > "$OUT/attention_torch.jsonl" 2> "$OUT/attention_torch.err"
  timeout 300 $B/bench_attention ${ATTN_QUICK:+--quick} ${ATTN_ONLY:+--only $ATTN_ONLY} --torch "$OUT/attention_torch.jsonl" \
    --json "$OUT/attention.jsonl" --commit "$commit" 2>&1 | tee "$OUT/attention.log"
  exit $rc
fi
if [ "$what" = decode ]; then
  # issue 8: the decode schedule against the interpreter, then KV 1k..128k
  # against a device copy of the same bytes and torch's best SDPA path
  timeout 200 $B/tests/test_gpu_decode > "$OUT/gpu-decode.log" 2>&1
  rc=$?
  grep -vE "^PASS" "$OUT/gpu-decode.log" | tail -20
  timeout 150 python3 bench/decode_torch.py > "$OUT/decode_torch.jsonl" 2> "$OUT/decode_torch.err"
  timeout 250 $B/bench_decode --torch "$OUT/decode_torch.jsonl" --json "$OUT/decode.jsonl" --commit "$commit" 2>&1 | tee "$OUT/decode.log"
  exit $rc
fi
if [ "$what" = membound ]; then
  # issue 6: the rows schedule against the interpreter, then against the copy and torch
  $B/tests/test_gpu_rows > "$OUT/gpu-rows.log" 2>&1
  rc=$?
  grep -vE "^PASS" "$OUT/gpu-rows.log" | tail -20; grep -cE "^PASS" "$OUT/gpu-rows.log"
  python3 bench/membound_torch.py > "$OUT/membound_torch.jsonl" 2> "$OUT/membound_torch.err"
  $B/bench_membound --torch "$OUT/membound_torch.jsonl" --json "$OUT/membound.jsonl" --commit "$commit" 2>&1 | tee "$OUT/membound.log"
  exit $rc
fi
if [ "$what" = python ]; then
  # issue 7: the Python binding: pip install it, its GPU tests (torch ops,
  # torch.compile, CUDA graphs), the transformer-block example, the overhead bench
  export TILEJIT_LIBRARY=$B/libtilejit.so TILEJIT_CACHE_DIR=/tmp/tj-py-cache
  pp=$PWD/python
  if ! python3 -c 'import pytest' 2>/dev/null && [ -d .whl ]; then
    python3 -m pip install -q --no-index --find-links .whl --target /tmp/tj-pytest pytest > "$OUT/pip-pytest.log" 2>&1 && pp=$pp:/tmp/tj-pytest
  fi
  if python3 -m pip install -q --no-deps --no-build-isolation --target /tmp/tj-site ./python > "$OUT/pip.log" 2>&1; then
    pp=/tmp/tj-site:$pp
  else
    echo "pip install ./python failed (pip.log): using the tree"; tail -3 "$OUT/pip.log"
  fi
  export PYTHONPATH=$pp
  (cd /tmp && python3 -c 'import tilejit; print("tilejit", tilejit.version(), tilejit.__file__, tilejit.library_path)')
  timeout 300 python3 -m pytest -p no:cacheprovider -q -rs python/tests/test_gpu_*.py > "$OUT/python-gpu-tests.log" 2>&1
  rc=$?
  tail -25 "$OUT/python-gpu-tests.log"
  timeout 200 python3 python/examples/transformer_block.py 2>&1 | tee "$OUT/example.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  timeout 200 python3 bench/python_overhead.py --json "$OUT/python.jsonl" --commit "$commit" 2>&1 | tee "$OUT/python-bench.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  exit $rc
fi
if [ "$what" = llvm ]; then
  # issue 9: the LLVM back end. This machine has no LLVM, so its PTX comes
  # carried in build/ptx-cases (made where LLVM is; docs/cli.md):
  #   TJ_PTX_CASES_DIR=build/ptx-cases build/tests/test_emit_ptx
  #   build/bench_llvm --write-ptx build/ptx-cases
  P=${TJ_PTX_CASES_DIR:-$PWD/build/ptx-cases}
  if [ ! -f "$P/0000.case" ] || [ ! -f "$P/bench-gemm.ptx" ]; then
    echo "llvm: no PTX cases in $P: carry build/ptx-cases (see the comment above)"; exit 1
  fi
  TJ_PTX_CASES_DIR=$P timeout 400 $B/tests/test_gpu_ptx > "$OUT/gpu-ptx.log" 2>&1
  rc=$?
  grep -vE "^PASS" "$OUT/gpu-ptx.log" | tail -20
  timeout 150 $B/bench_llvm --kernel "$P" --json "$OUT/llvm.jsonl" --commit "$commit" 2>&1 | tee "$OUT/llvm.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
  exit $rc
fi
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
