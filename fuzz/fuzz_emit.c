/*
 * fuzz_emit.c — libFuzzer target for code generation: every schedule's
 * matcher and emitter (attention_sm90, gemm_sm90, rows, decode, the
 * generic lowering) on whatever graph the text parser accepts.
 *
 *   CC=clang meson setup /tmp/build-fuzz -Dfuzz=enabled
 *   ninja -C /tmp/build-fuzz fuzz/fuzz_emit fuzz/fuzz_corpus
 *   /tmp/build-fuzz/fuzz/fuzz_corpus /tmp/corpus
 *   /tmp/build-fuzz/fuzz/fuzz_emit -max_total_time=600 /tmp/corpus
 *
 * The input's last byte seeds the symbols' values (small, ragged, each
 * rounded up to what its divisor allows; a dynamic symbol is also left
 * unbound on odd seeds). For sm_90a and sm_80 the emitter must give a
 * kernel or an error with a message, never crash, and emit the same
 * source twice; a breach traps, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_bind.h"
#include "tilejit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    unsigned seed = data[size - 1];
    tj_graph *g = NULL;
    if (tj_graph_parse((const char *)data, size - 1, "fuzz.tj", &g) != TJ_OK) return 0;
    int n = tj_num_symbols(g);
    if (n > 256) {
        tj_graph_free(g);
        return 0;
    }
    int64_t vals[256];
    static const int64_t pick[] = {1, 2, 7, 16, 17, 64, 100, 128, 130, 1000, 4097, 8192};
    for (int i = 0; i < n; i++) {
        tj_sym s = {i};
        if (tj_symbol_policy(g, s) == TJ_DYNAMIC && (seed & 1)) {
            vals[i] = TJ_UNBOUND;
            continue;
        }
        vals[i] = fuzz_bindable(g, s, pick[(seed / 2 + 5 * (unsigned)i) % 12]);
    }
    static const char *const archs[] = {"sm_90a", "sm_80"};
    for (int a = 0; a < 2; a++) {
        char *src = NULL, *again = NULL;
        tj_status st = tj_emit_cuda(g, archs[a], vals, &src);
        if (st != TJ_OK) {
            if (src || !tj_last_error()[0]) __builtin_trap();
            continue;
        }
        if (!src || !src[0]) __builtin_trap();
        if (tj_emit_cuda(g, archs[a], vals, &again) != TJ_OK || strcmp(src, again))
            __builtin_trap();
        tj_free(src);
        tj_free(again);
    }
    tj_graph_free(g);
    return 0;
}
