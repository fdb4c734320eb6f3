/*
 * attention_sm90_emit.h — what the two halves of the attention_sm90
 * emitter share: the emitter's state, the line writer, how a node's
 * values are named, and the per-value half (attention_sm90_values.c:
 * elementwise ops, reductions, the scale fold, the epilogue's stores)
 * that the kernel half (attention_sm90.c: products, loops, producer,
 * consumer) calls. Internal.
 */
#ifndef TJ_ATTENTION_SM90_EMIT_H
#define TJ_ATTENTION_SM90_EMIT_H

#include "attention_sm90.h"
#include "frag.h"

typedef struct ax {
    const as_plan *p;
    const tj_graph *g;
    strbuf out;
    int depth;
    /* The loop being emitted, when it is software-pipelined (pipeline_plan):
     * its carried accumulator, the nodes that read it, whether the pending
     * product has been waited for in this trip yet. */
    int pipe;
    int32_t pacc;
    uint8_t *pdep;
    int drained;
    int persist;   /* blocks walk the programs (walk_open) */
    int qearly;    /* q given back after a program's last s (q_early_plan) */
    uint8_t *hoisted;   /* scalars the consumer computed before the loops */
    uint8_t *fold;      /* FOLD_*: s * c kept as s (scale_fold) */
    int remap;     /* one block a program, longest q tiles first */
    int pairs;     /* persist over pairs of q tiles of equal summed work */
} ax;

enum { FOLD_PRODUCT = 1, FOLD_CHAIN, FOLD_INNER };   /* ax.fold: see as_scale_fold */

/* One line of the kernel at the current depth. */
void as_line(ax *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The register array (or scalar) that holds node id's values. */
const char *as_base(const ax *x, int32_t id, char buf[64]);

/* Node id's value at the current element: inside loops over t (8-column
 * block), h (upper / lower row) and c (column of the pair). */
const char *as_at(const ax *x, int32_t id, char buf[96]);

static inline const ir_node *as_node(const ax *x, int32_t id) { return &x->g->nodes[id]; }

/* Open the element loops for class cls over n columns (one brace to
 * close). The loops are unrolled: arrays stay registers. */
static inline void as_open_elems(ax *x, int cls, int n) {
    frag_open_elems(&x->out, x->depth, cls, n, "2");
}

static inline int as_is_binary(const ax *x, int32_t id, int sub) {
    const ir_node *n = as_node(x, id);
    return n->op == IR_BINARY && n->sub == sub && n->type.dtype == TJ_F32;
}

/* A scalar: `const T s<id> = ...;` (a rank-0 load reads one element). */
void as_scalar(ax *x, int32_t id);

/* Fill array dst (class cls, n columns) with node src at each element. */
void as_fill(ax *x, const char *dst, int cls, int n, int32_t src);

/* A live node the kernel computes as an ordinary value (not a product,
 * not a loop, not a store, not hoisted or folded away). */
void as_value(ax *x, int32_t id);

/* A store of a [BM, D] tile or a [BM] row vector after the loops. */
void as_store(ax *x, int32_t id);

/* Marks in x->fold the scaled scores kept unscaled (see the function). */
void as_scale_fold(ax *x);

/* The kernel half's walk over a block's programs and a KV loop's head
 * (attention_sm90.c), for the fp8 half. */
void as_walk_open(ax *x);
void as_walk_close(ax *x);
void as_loop_head(ax *x, int32_t f);

/* fp8 (attention_sm90_fp8.c): the consumer's descriptor of its q rows;
 * s = q . k^T's k32 products; p packed four e4m3 a register (in[] the
 * f32 values); dst += a . vt of stage st (phase ph), committed or not;
 * the producer's warps that permute vt's keys. */
void as_fp8_dq(ax *x);
void as_fp8_s(ax *x, const as_loop *L);
void as_fp8_p_pack(ax *x, const as_loop *L, const char *in);
void as_fp8_pv(ax *x, const char *a, const char *st, const char *ph, const char *dst, int commit);
void as_fp8_permuters(ax *x);

#endif
