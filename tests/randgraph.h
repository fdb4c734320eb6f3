/*
 * randgraph.h — a seeded generator of random valid graphs for the tests:
 * chains of elementwise ops with row/column broadcasting, reductions,
 * casts, mma loops with epilogues, loops with carried values (an online
 * row max and sum), iota masks and masked edges at ragged sizes.
 * Built only with the public API. The same seed gives the same graph.
 */
#ifndef TJ_RANDGRAPH_H
#define TJ_RANDGRAPH_H

#include <stdint.h>

#include "tilejit.h"

typedef struct rg_graph {
    tj_graph *g;
    char desc[160];    /* what the skeleton is, for failure messages */
    double rtol;       /* relative tolerance its outputs need vs the interpreter */
} rg_graph;

/* Build graph number `index` of the family seeded by `seed`. */
tj_status rg_build(uint64_t seed, int index, rg_graph *out);
/* Choose symbol values (ragged: 1, odd, non-multiples of tiles) for
 * variant `variant` (0, 1, 2 ...); vals sized tj_num_symbols(g). */
void rg_bind(const tj_graph *g, uint64_t seed, int variant, int64_t *vals);

#endif
