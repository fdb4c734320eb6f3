/*
 * decode.h — the plan the decode schedule makes of a decode-shaped graph
 * (decode_match.c) and lowers to a split-KV kernel (decode.c). Internal.
 *
 * The shape: a [G,D] tile of q (G <= 16 query rows) loaded once at the
 * top level; one or more top-level loops (step 1) over KV tiles, each
 * loading a [BN,D] tile of k and of v, computing s = mma(q, k, trans_b),
 * elementwise ops and row reductions on [G,BN] / [G,1] / [1,BN] tiles and
 * scalars, and carrying exactly an online softmax:
 *     m' = max(m, rowmax(X))
 *     l' = l * alpha + rowsum(P)        (or fma(l, alpha, rowsum(P)))
 *     a' = mma(cast(P), v, a * alpha)
 * where P = F(X, m') and alpha = F(m, m') are the same expression F (an
 * exp or exp2 at the top) of the score and of the old max. The first
 * loop starts from (-inf, 0, 0); each later loop from the one before.
 * After the loops: elementwise ops ending in stores of [G,D] tiles.
 * Nothing names the recipe.
 *
 * Because the state is an online softmax, the KV trips can be dealt out
 * to independent workers whose partial states are merged at the end:
 *     M = max m_i,  w_i = m_i == -inf ? 0 : F(m_i, M),
 *     l = sum w_i l_i,  a = sum w_i a_i
 * (F's own code, from the graph). That is what the kernel does.
 */
#ifndef TJ_DECODE_H
#define TJ_DECODE_H

#include "schedule.h"

enum { DC_SCALAR = 1, DC_ROW, DC_COL, DC_FULL };

#define DC_MAX_LOOPS 4

typedef struct dc_loop {
    int32_t node;                 /* the FOR */
    int32_t kload, vload;         /* [BN,D] tiles of k and v */
    int32_t smma, omma, pcast;    /* s = q.k^T; a' = p.v + C; p = cast(P) */
    int32_t mnew, alpha, xs, ps;  /* m', alpha, X (rowmax's input), P */
    int sm, sl, sa;               /* carried slots of m, l and a */
} dc_loop;

typedef struct dc_plan {
    const tj_graph *g;
    const int64_t *sym;
    const char *arch;
    int cc;                 /* 80, 86, 89, 90 ... */
    int dtype;              /* q, k, v: bf16 or f16 */
    int G, bn, d;           /* query rows, KV tile rows, head dim */
    int W;                  /* warps a block, each its own KV trips */
    int R;                  /* ring chunks a warp */
    int S;                  /* blocks a program (a cluster when > 1) */
    int minblocks;          /* __launch_bounds__ residency */
    size_t chunk, ring, part, smem;
    int32_t qload;
    int nloops;
    dc_loop loops[DC_MAX_LOOPS];
    uint8_t *live;
    uint8_t *cls;           /* per node: DC_* (0: not computed as a value) */
    int *ncols;             /* per node: N of a row / col / full tile */
    uint8_t *post;          /* per node: computed after the last loop */
} dc_plan;

/* For benchmarks and tests: fields > 0 replace the plan's choice (S is
 * ignored below sm_90). Not part of the cache key: a caller that changes
 * it must name its graphs apart. Zero (the default) leaves the choice. */
typedef struct dc_force {
    int S, W, R, minblocks;
} dc_force;
extern dc_force dc_forced;

/* Fill p when g has the shape above (any arch from sm_80); else *why says
 * why not (TJ_OK either way; p->g NULL when it does not apply). Anything
 * but TJ_OK is a real error (no memory). */
tj_status dc_match(const tj_graph *g, const char *arch, const int64_t *sym, dc_plan *p, char *why,
                   size_t why_size);
void dc_plan_free(dc_plan *p);

/* The q, k and v loads, the two products and the packed p: the kernel
 * computes them its own way, not as ordinary values. */
int dc_special(const dc_plan *p, int32_t id);

/* ---- the emitter (decode.c lays the kernel out, decode_ops.c emits the
 * graph's values; internal to the two) ---------------------------------- */

typedef struct dx {
    const dc_plan *p;
    const tj_graph *g;
    strbuf out;
    int depth;
    int flat;   /* emitting the epilogue: one element (ei, ec) at a time */
} dx;

static inline const ir_node *dc_node(const dx *x, int32_t id) { return &x->g->nodes[id]; }
static inline const dc_loop *dc_last_loop(const dx *x) { return &x->p->loops[x->p->nloops - 1]; }
/* Floats a thread holds of a value of class cls with n columns. */
static inline int dc_count(int cls, int n) { return cls == DC_ROW ? 2 : cls == DC_COL ? n / 4 : n / 2; }

/* One line of source at the current depth. */
void dc_line(dx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The variable holding node id (a_ scalar argument, iv loop index, c
 * carried array, s scalar, e tile array). */
const char *dc_base(const dx *x, int32_t id, char buf[64]);
/* Node id's value at the current element (see decode_ops.c). */
const char *dc_at(const dx *x, int32_t id, char buf[96]);
const char *dc_slot_of(int cls);
/* Unrolled loops over a thread's elements of class cls (one brace to close). */
void dc_open_elems(dx *x, int cls, int n);
/* The right-hand side of an elementwise or scalar node. */
int dc_rhs(const dx *x, int32_t id, char *out, size_t size);
/* A scalar of loop f as one expression with the loop index named iv. */
void dc_sexpr(const dx *x, int32_t id, int32_t f, const char *iv, char *out, size_t size);
/* alpha's function of the old max (mp) and the new one (Mx). */
void dc_fexpr(const dx *x, int32_t id, char *out, size_t size);
/* A load's or store's per-dim bases, and the bounds check and offset of
 * element (li, lj) of its tile. */
void dc_access_bases(dx *x, int32_t id, const char *pfx);
void dc_access_index(dx *x, int32_t id, const char *pfx, const char *li, const char *lj);
void dc_scalar(dx *x, int32_t id);
/* Array dst (class cls, n columns) = node src at each element. */
void dc_fill(dx *x, const char *dst, int cls, int n, int32_t src);
/* An ordinary node of the graph, as a scalar or a tile array. */
void dc_value(dx *x, int32_t id);

#endif
