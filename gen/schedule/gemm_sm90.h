/*
 * gemm_sm90.h — the plan the gemm_sm90 schedule makes of a GEMM-shaped
 * graph (gemm_sm90_match.c) and lowers to a Hopper kernel
 * (gemm_sm90.c). Internal to the schedule.
 *
 * The shape it recognizes: one top-level loop whose only carried value is
 * an f32 [BM,BN] accumulator, updated by `mma(load a, load b, acc)` of two
 * 2-D tile loads (bf16 or f16 in either operand layout; f8e4m3 or f8e5m2
 * with both operands K-major), then an epilogue of
 * elementwise ops on the loop's result (with row / column vectors, tiles
 * and scalars loaded or computed at the program's coordinates) ending in
 * stores of [BM,BN] tiles. Scalars (program ids, symbols, coordinates) are
 * anything computed from program ids, symbols, constants and scalar
 * arguments.
 */
#ifndef TJ_GEMM_SM90_H
#define TJ_GEMM_SM90_H

#include "schedule.h"

typedef struct gs_operand {
    int32_t load;     /* its LOAD node */
    int tensor;
    int rows, cols;   /* the loaded tile [rows, cols]; cols is the contiguous dim */
    int mn_major;     /* 1: the contiguous dim is M (A) or N (B), not K */
    int32_t mn_coord; /* the coordinate node along M (A) or N (B) */
} gs_operand;

typedef struct gs_plan {
    const tj_graph *g;
    const int64_t *sym;
    int32_t loop, mma, result, init;
    int dtype;            /* the operands' (a and b share it: the verifier's rule) */
    int bm, bn, bk;
    gs_operand a, b;
    int nwg;              /* consumer warpgroups */
    int pingpong;         /* 1: each consumer warpgroup computes whole tiles, the two
                           * taking turns (one's epilogue overlaps the other's
                           * products); 0: they split each tile's rows */
    int ms;               /* m64 slices a consumer warpgroup computes */
    int stages;
    int threads;
    size_t stage_bytes, smem;
    int group;            /* grouped tile order: M tiles a group spans */
    int ax_m, ax_n;       /* program-id axes of A's M and B's N coordinates, or -1 */
    int cluster;          /* 1, or 2: blocks in clusters of two that share B's tile
                           * (gs_cluster; docs/schedules.md) */
    int split;            /* 1, or 2, 4, 8: blocks of a cluster that split the loop's
                           * K tiles and sum their accumulators through
                           * distributed shared memory (gs_splitk;
                           * gemm_sm90_splitk.c) */
    int32_t tstore;       /* the STORE written through shared memory and TMA, or -1
                           * (stores go straight from registers) */
    uint8_t *live;        /* per node: the kernel needs it */
    uint8_t *elem;        /* per node: computed per accumulator element (epilogue) */
    int64_t (*shape)[2];  /* per node: [m, n] of a tile ([1,n] for rank 1) */
} gs_plan;

/* Fill p when g has the shape above and the target is sm_90a; else
 * *why says why not (TJ_OK either way; p->g NULL when it does not apply).
 * Anything but TJ_OK is a real error (no memory). */
tj_status gs_match(const tj_graph *g, const char *arch, const int64_t *sym, gs_plan *p,
                   char *why, size_t why_size);
void gs_plan_free(gs_plan *p);

/* Clusters of two blocks on adjacent M tiles of one N tile, each loading
 * half of the shared B tile for both through TMA multicast. 2: where the
 * graph allows it and the shape gains (gemm_sm90_match.c, cluster_fits:
 * enough tiles, an even or large M tile count); 1 (default, measured
 * faster): never, the kernel exactly as without clusters. gs_cluster_force 1 pairs
 * wherever the graph allows it, whatever the shape (tests of odd tile
 * counts and idle peers). Benchmark and test knobs, not part of the cache
 * key: a caller that changes them must keep its kernels apart (its own
 * process, or a memory-only cache: a cubin from the disk cache would get
 * the launch description of the current setting). */
extern int gs_cluster;
extern int gs_cluster_force;

/* Split-K in clusters: each output tile taken by a cluster of S blocks
 * (2, 4 or 8), block r running the r-th of S equal runs of the loop's K
 * tiles; their f32 sums meet in shared memory and each block reduces
 * 1/S of the tile's columns over the cluster (distributed shared memory)
 * and runs the epilogue on them. For shapes with far fewer tiles than
 * SMs. 0 (default): where the shape gains (gemm_sm90_match.c,
 * split_auto); 1: never; 2, 4 or 8: that S wherever the graph allows it
 * (takes precedence over gs_cluster; other values: never). A benchmark
 * and test knob outside the cache key, as gs_cluster. */
extern int gs_splitk;

#endif
