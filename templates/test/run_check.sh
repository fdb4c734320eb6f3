#!/bin/sh
# Build (and, with "run", run) the tile library's GPU check:
#   sh templates/test/run_check.sh [run] [arch]      arch: 90a (default), 80, 89 ...
# Needs nvcc and a C compiler; running needs a GPU of that arch or newer.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${TJ_CHECK_DIR:-/tmp/tj_check}
run=0
if [ "$1" = run ]; then run=1; shift; fi
arch=${1:-90a}
nvcc=${NVCC:-nvcc}
command -v "$nvcc" >/dev/null 2>&1 || nvcc=/usr/local/cuda/bin/nvcc
mkdir -p "$out"
for f in dtype error; do
    cc -std=c11 -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/gen" -c "$root/gen/$f.c" -o "$out/$f.o"
done
"$nvcc" -std=c++17 -O2 -gencode=arch=compute_$arch,code=sm_$arch -I"$root/templates" \
    "$root/templates/test/check_gpu.cu" "$out/dtype.o" "$out/error.o" -o "$out/check_gpu_sm$arch"
[ $run = 1 ] && exec "$out/check_gpu_sm$arch"
exit 0
