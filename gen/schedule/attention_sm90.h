/*
 * attention_sm90.h — the plan the attention_sm90 schedule makes of an
 * attention-shaped graph (attention_sm90_match.c) and lowers to a
 * FlashAttention-3-style Hopper kernel (attention_sm90.c). Internal.
 *
 * The shape: a [BM,D] tile of q loaded once at the top level; one or more
 * top-level loops over KV tiles, each loading a [BN,D] tile of k and of v,
 * computing s = mma(q, k, trans_b), any elementwise ops and row
 * reductions on [BM,BN] / [BM,1] / [1,BN] tiles and scalars (the score
 * modifications, masks and online softmax), p = cast(., bf16|f16) and
 * yielding values such as mma(p, v, acc * alpha) (fp8: q, k, p e4m3 and
 * v a [D,BN] tile of v transposed, mma(p, vt, acc * alpha, trans_b)); after the loops,
 * elementwise ops ending in stores of [BM,D] tiles. Nothing in it names
 * the recipe: every graph of this shape gets the schedule.
 *
 * Every live tile is classified by how a consumer thread holds it (the
 * wgmma accumulator layout, tj/sm90.cuh): a scalar (rank 0, or a constant
 * tile: one value for the whole tile), a row ([BM,1]: 2 values a thread),
 * a column ([1,N] or [N]: N/4 values) or a full tile ([BM,N]: N/2
 * values), N being BN or D.
 */
#ifndef TJ_ATTENTION_SM90_H
#define TJ_ATTENTION_SM90_H

#include "schedule.h"

enum { AS_SCALAR = 1, AS_ROW, AS_COL, AS_FULL };

#define AS_MAX_LOOPS 4

typedef struct as_loop {
    int32_t node;           /* the FOR */
    int32_t kload, vload;   /* the [BN,D] tiles of k and v */
    int32_t smma, omma;     /* s = mma(q, k, trans_b); o = mma(p, v, acc) */
    int32_t pcast;          /* p = cast(., dtype): the A operand of omma */
} as_loop;

typedef struct as_operand {
    int tensor;
    int32_t load;           /* one of its loads (the coordinates' shape) */
    int row_dim;            /* the tensor dim the tile's rows run along */
} as_operand;

typedef struct as_plan {
    const tj_graph *g;
    const int64_t *sym;
    int dtype;              /* q, k, v */
    int fp8;                /* e4m3 with v given transposed ([d, keys] tiles):
                               k32 products, p packed 4 to a register, the
                               keys of vt's tiles permuted by the producer
                               (tj/sm90_attn.cuh) */
    int qline, vline;       /* bytes of a swizzled smem line of q and k / of
                               vt: 128, or 64 where the tile is 64 bytes wide */
    int bm, bn, d;
    int nwg;                /* consumer warpgroups of 64 rows */
    int stages;
    int threads;
    size_t q_bytes, kv_bytes, smem;
    size_t o_bytes;         /* o staged in shared memory (as_o_smem), else 0 */
    int32_t qload;
    as_operand q, k, v;
    int nloops;
    as_loop loops[AS_MAX_LOOPS];
    uint8_t *live;          /* per node: the kernel needs it */
    uint8_t *cls;           /* per node: AS_* (0: not a value the kernel computes) */
    int *ncols;             /* per node: N of a row / full tile */
} as_plan;

/* Fill p when g has the shape above and the target is sm_90a; else *why
 * says why not (TJ_OK either way; p->g NULL when it does not apply).
 * Anything but TJ_OK is a real error (no memory). */
tj_status as_match(const tj_graph *g, const char *arch, const int64_t *sym, as_plan *p,
                   char *why, size_t why_size);
void as_plan_free(as_plan *p);

/* 1 when node id is one the plan treats specially (the q, k and v loads,
 * the two products, the packed p): not emitted as an ordinary value. */
int as_special(const as_plan *p, int32_t id);

/* For benchmarks: > 0 computes one 8-column block in as_exp2_poly of
 * each probability tile's exp2 with a polynomial on the FMA pipe
 * (tj::poly_exp2) instead of ex2.approx on the MUFU unit, which the
 * softmax saturates at small head dims. Not part of the cache key: a
 * caller that changes it must keep its kernels apart. 0: none. */
extern int as_exp2_poly;

/* o's [BM, D] tile staged in shared memory (stmatrix, swizzled 16-byte
 * chunks) and stored 16 bytes a thread, coalesced, where a store
 * qualifies (unmasked, 16-byte aligned rows); the region may cost a k/v
 * stage. -1 (default): at head dim 128 with an unmasked o store (where
 * it measured faster); 0: never (a column pair a store from registers);
 * 1: wherever it fits. A benchmark and test knob, not part of the cache
 * key: a caller that changes it must keep its kernels apart. */
extern int as_o_smem;

/* With blocks that walk several programs: 1 (default) gives q's shared
 * memory back to the producer right after the last s = q . k^T of a
 * program, so the next program's q loads under the last p.v and the
 * epilogue; 0 gives it back after the epilogue. Benchmark knob, as
 * above. */
extern int as_q_early;

/* Causal bounds (work growing with the q tile): 1 (default) walks a
 * persistent grid over pairs of q tiles (j, last - j) of a head, whose
 * work sums to the same; 0 launches one block a program, longest first.
 * Benchmark knob, as above. */
extern int as_causal_pairs;


#endif
