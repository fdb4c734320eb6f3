/*
 * fuzz_bind.h — the fuzz targets' symbol binding: `v`, or the next value
 * (within 512) that the symbol's divisor accepts, else TJ_UNBOUND.
 * Graphs of at most 256 symbols.
 */
#ifndef TJ_FUZZ_BIND_H
#define TJ_FUZZ_BIND_H

#include <stdio.h>

#include "tilejit.h"

static inline int64_t fuzz_bindable(const tj_graph *g, tj_sym s, int64_t v) {
    int64_t vals[256];
    for (int i = 0; i < 256; i++) vals[i] = TJ_UNBOUND;
    for (int64_t m = v; m < v + 512; m++) {
        char a[160];
        snprintf(a, sizeof a, "%s=%lld", tj_symbol_name(g, s), (long long)m);
        if (tj_bind_parse(g, a, vals) == TJ_OK) return m;
    }
    return TJ_UNBOUND;
}

#endif
