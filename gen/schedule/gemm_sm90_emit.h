/*
 * gemm_sm90_emit.h — what the gemm_sm90 emitter (gemm_sm90.c) shares with
 * its split-K half (gemm_sm90_splitk.c): the emitter's state, the line
 * writer, the per-element epilogue values. Internal to the schedule.
 */
#ifndef TJ_GEMM_SM90_EMIT_H
#define TJ_GEMM_SM90_EMIT_H

#include "gemm_sm90.h"

typedef struct gx {
    const gs_plan *p;
    const tj_graph *g;
    strbuf out;
    int depth;
    int hoisted;   /* in the element loop: row / column vector loads were prefetched */
} gx;

/* One line of the kernel at the current depth. */
void gs_line(gx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `const T e<id> = ...;` for an epilogue node at element (i, j) (loads
 * read at the element unless x->hoisted), scalars `s<id>`. */
void gs_value(gx *x, int32_t id);
/* `<pfx>_b<d>`: the per-dim bases of load or store `id` (uniform over the tile). */
void gs_access_bases(gx *x, int32_t id, const char *pfx);
/* The C name of a value: per element "e<id>", scalars "s<id>". */
const char *gs_vname(const gx *x, int32_t id, char buf[64]);

/* gemm_sm90_splitk.c (plan's split > 1; one tile a cluster, EMIT_GRID_MUL) */
/* pid0..2 of the cluster's tile and `rank`, the block's place in it. */
void gs_split_coords(gx *x);
/* The loop's head over this block's run of K tiles (the rank-th of SPLIT). */
void gs_split_loop_head(gx *x);
/* A consumer warpgroup after its products: partial sums to shared
 * memory, the cluster's sums of this block's columns, the epilogue and
 * stores of them, the cluster barriers. */
void gs_split_epilogue(gx *x);
/* The producer warpgroup's part in the two cluster barriers. */
void gs_split_producer_tail(gx *x);

#endif
