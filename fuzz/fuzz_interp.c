/*
 * fuzz_interp.c — libFuzzer target for the CPU interpreter (what
 * `tilejit run-cpu` and every correctness check run) on whatever graph
 * the text parser accepts.
 *
 *   CC=clang meson setup /tmp/build-fuzz -Dfuzz=enabled
 *   ninja -C /tmp/build-fuzz fuzz/fuzz_interp
 *   /tmp/build-fuzz/fuzz/fuzz_interp -max_total_time=600 -timeout=10 CORPUS
 *
 * The input's last byte seeds the symbols' values (small, each rounded
 * to what its divisor allows) and the inputs' bytes (integer inputs: 0-4). Graphs whose
 * tensors or grid are large are skipped (time, not correctness). The
 * interpreter must finish or fail with a message, never crash: ASan and
 * UBSan watch the run, and a failure without a message traps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bind.h"
#include "tilejit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ELEMS ((int64_t)1 << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    unsigned seed = data[size - 1];
    tj_graph *g = NULL;
    if (tj_graph_parse((const char *)data, size - 1, "fuzz.tj", &g) != TJ_OK) return 0;
    int n = tj_num_symbols(g), nt = tj_num_tensors(g), ns = tj_num_scalars(g);
    void *bufs[64] = {0};
    int64_t vals[64];
    double scalars[64];
    int ok = n <= 64 && nt <= 64 && ns <= 64;
    static const int64_t pick[] = {1, 2, 3, 7, 16, 17, 33, 64};
    for (int i = 0; ok && i < n; i++) {
        vals[i] = fuzz_bindable(g, (tj_sym){i}, pick[(seed + 3 * (unsigned)i) % 8]);
        ok = vals[i] != TJ_UNBOUND && vals[i] > 0 && vals[i] <= 4096;
    }
    for (int t = 0; ok && t < nt; t++) {
        int64_t e = 0;
        ok = tj_tensor_extent(g, (tj_tensor){t}, vals, &e) == TJ_OK && e >= 0 && e <= MAX_ELEMS;
        size_t bytes = (size_t)(e > 0 ? e : 1) * tj_dtype_size(tj_tensor_dtype(g, (tj_tensor){t}));
        if (ok && !(bufs[t] = malloc(bytes))) ok = 0;
        tj_dtype dt = tj_tensor_dtype(g, (tj_tensor){t});
        if (ok && (dt == TJ_I32 || dt == TJ_I64)) {
            /* small values: integer inputs feed indices and loop bounds
             * (cu_seqlens), whose garbage would only make the run long */
            for (int64_t i = 0; i < (e > 0 ? e : 1); i++) {
                int64_t v = (int64_t)((seed + (unsigned)i) % 5);
                if (dt == TJ_I32) ((int32_t *)bufs[t])[i] = (int32_t)v;
                else ((int64_t *)bufs[t])[i] = v;
            }
            continue;
        }
        for (size_t b = 0; ok && b < bytes; b++)
            ((uint8_t *)bufs[t])[b] = (uint8_t)(seed * 131u + b * 7u + (unsigned)t);
    }
    for (int i = 0; ok && i < ns; i++) scalars[i] = 0.5 + (seed % 5);
    if (ok) {
        tj_status st = tj_interp_run(g, vals, bufs, scalars, seed & 1 ? TJ_INTERP_F64 : 0);
        if (st != TJ_OK && !tj_last_error()[0]) __builtin_trap();
    }
    for (int t = 0; t < nt && t < 64; t++) free(bufs[t]);
    tj_graph_free(g);
    return 0;
}
