/*
 * rows.c — the `rows` schedule for memory-bound graphs: norms, softmax,
 * elementwise chains with row and column broadcasts, row reductions. Any
 * graph without a loop or mma whose tiles are all [R,W], [R,1], [1,W] /
 * [W], [1,1] or scalars (rows.h has the model). This file decides whether
 * a graph fits and how threads split a row; rows_emit.c writes the kernel.
 *
 * How many threads own a row follows from the specialized width: enough
 * that each holds about 32 elements (four 16-byte chunks of bf16 in flight
 * a thread; fewer when a norm's weight rows are held too), at least 8
 * lanes, at most the block; narrow rows put several programs in one block
 * (EMIT_GRID_DIV) so a block moves enough bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"

#define ROWS_MAX_ELEMS 64   /* registers of one value a thread may hold */
#define ROWS_BLOCK 256      /* threads a block aims for */

static const ir_node *N(const rows_plan *p, int32_t id) { return &p->g->nodes[id]; }


static int decline(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int decline(char *why, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return 1;
}

int rows_unit_stride(const tj_graph *g, int t, int d) {
    const ir_tensor *x = &g->tensors[t];
    if (!x->has_strides) return d == x->rank - 1;
    return !tj_dim_is_sym(x->strides[d]) && x->strides[d] == 1;
}

/* A tile's [m, n] (a rank-1 [n] is [1, n]); -1 on an unbound dim. */
static int tile_dims(const rows_plan *p, const ir_node *n, int64_t *m, int64_t *w) {
    int64_t d[2] = {1, 1};
    for (int i = 0; i < n->type.rank; i++)
        if (ir_dim_eval(p->g, n->type.dims[i], p->sym, 1, &d[i]) != TJ_OK) return -1;
    *m = n->type.rank == 2 ? d[0] : 1;
    *w = n->type.rank == 2 ? d[1] : n->type.rank == 1 ? d[0] : 1;
    return 0;
}

static int shape_class(const rows_plan *p, const ir_node *n, int64_t m, int64_t w) {
    if (n->type.rank == 0) return RC_SCALAR;
    int rowdep = p->R > 1 && m == p->R, coldep = p->W > 1 && w == p->W;
    return rowdep ? (coldep ? RC_FULL : RC_ROW) : (coldep ? RC_COL : RC_UNIT);
}

static int is_wide(int c) { return c == RC_COL || c == RC_FULL; }

/* The class of every live node, or a reason to decline. */
static int classify(rows_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->type.dtype == IR_VOID) continue;
        int64_t m, w;
        if (tile_dims(p, n, &m, &w)) return decline(why, size, "a tile dim has no value");
        int c = shape_class(p, n, m, w);
        int has_rowt = 0, has_wide = 0;
        for (int k = 0; k < n->nin; k++) {
            has_rowt |= p->cls[n->in[k]] == RC_ROWT;
            has_wide |= is_wide(p->cls[n->in[k]]);
        }
        switch (n->op) {
        case IR_RESHAPE: {
            int x = p->cls[n->in[0]];
            if (x == RC_ROW && n->type.rank == 1 && p->R > 1) c = RC_ROWT;
            else if (x == RC_ROWT && c == RC_ROW) c = RC_ROW;
            else if (x == RC_ROWT || (c != x && !(c <= RC_UNIT && x <= RC_UNIT)))
                return decline(why, size, "a reshape that moves values between rows and columns");
            break;
        }
        case IR_TRANSPOSE:
            if (p->cls[n->in[0]] > RC_UNIT) return decline(why, size, "a transpose");
            break;
        case IR_REDUCE: {
            int x = p->cls[n->in[0]];
            int along_cols = n->type.rank == 1 || n->index == 1;
            if (x == RC_ROWT) return decline(why, size, "a reduction of a reshaped row vector");
            if (!along_cols && (x == RC_ROW || x == RC_FULL))
                return decline(why, size, "a reduction along axis 0 across the %d rows of a tile",
                               p->R);
            break;
        }
        case IR_LOAD:
            if (n->type.rank == 1 && w != p->W && w != 1)
                return decline(why, size, "a 1-D load of %lld elements (tile width %d)",
                               (long long)w, p->W);
            break;
        default:
            if (has_rowt) {
                if (has_wide || n->type.rank != 1)
                    return decline(why, size, "a reshaped row vector used against columns");
                c = RC_ROWT;
            }
            break;
        }
        if (n->type.rank == 1 && c != RC_ROWT && w != p->W && w != 1)
            return decline(why, size, "a 1-D tile of %lld elements (tile width %d)",
                           (long long)w, p->W);
        p->cls[id] = (uint8_t)c;
    }
    return 0;
}

/* Tensors written by the graph: every access (load or store) must be the
 * same tile at the same coordinates, so a thread touches only its own
 * elements, and no load may follow a store. */
static int check_tensors(rows_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    for (int t = 0; t < g->ntensors; t++) {
        if (!p->stored[t]) continue;
        int32_t first = -1, stores = 0;
        for (int k = 0; k < g->nbody; k++) {
            int32_t id = g->body[k];
            const ir_node *n = N(p, id);
            if ((n->op != IR_LOAD && n->op != IR_STORE) || n->tensor != t || !p->live[id]) continue;
            if (n->op == IR_LOAD && stores)
                return decline(why, size, "tensor %s is read after it is written", g->tensors[t].name);
            stores += n->op == IR_STORE;
            if (first < 0) {
                first = id;
                continue;
            }
            const ir_node *f = N(p, first);
            int32_t fv = f->op == IR_STORE ? f->in[f->nin - 1] : first;
            int32_t nv = n->op == IR_STORE ? n->in[n->nin - 1] : id;
            int same = f->flags == n->flags && p->cls[fv] == p->cls[nv] &&
                       memcmp(f->axes, n->axes, sizeof f->axes) == 0 &&
                       N(p, fv)->type.rank == N(p, nv)->type.rank;
            int R = g->tensors[t].rank;
            for (int d = 0; same && d < R; d++) same = f->in[d] == n->in[d];
            if (!same)
                return decline(why, size, "tensor %s is accessed at two different tiles",
                               g->tensors[t].name);
        }
    }
    return 0;
}

/* Elements per chunk: 16 bytes of the narrowest tensor moved column-wise. */
static int chunk_elems(const rows_plan *p) {
    const tj_graph *g = p->g;
    size_t es = 0;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || (n->op != IR_LOAD && n->op != IR_STORE)) continue;
        int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
        if (!is_wide(p->cls[v])) continue;
        int col = N(p, v)->type.rank == 2 ? n->axes[1] : n->axes[0];
        if (!rows_unit_stride(g, n->tensor, col)) continue;
        size_t s = tj_dtype_size(g->tensors[n->tensor].dtype);
        if (!es || s < es) es = s;
    }
    return es ? (int)(16 / es) : 4;
}

int rows_shift_auto = 1;

int64_t rows_nq(const rows_plan *p) {
    return (p->W + (p->shift ? 2 * p->V - 2 : p->V - 1)) / p->V;
}

/* Shifted rows (rows.h): the anchor is the first wide load of a row (the
 * program id reaches it, coordinates a walk can recompute) in 16-byte
 * chunks with a unit column stride, of whole rows; -1 when none. */
static int32_t find_anchor(const rows_plan *p) {
    const tj_graph *g = p->g;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->op != IR_LOAD || !is_wide(p->cls[id]) || rows_invariant(p, id))
            continue;
        int col = n->type.rank == 2 ? n->axes[1] : n->axes[0];
        const ir_tensor *t = &g->tensors[n->tensor];
        int ok = rows_unit_stride(g, n->tensor, col) &&
                 (size_t)p->V * tj_dtype_size(t->dtype) == 16;
        for (int q = 0; q < n->nin && ok; q++) ok = rows_pure_scalar(p, n->in[q]);
        /* whole rows: the tile at column 0 of a tensor at least W wide, so
         * a row inside the tensor has all its columns inside (rows_emit_shift) */
        const ir_node *c = ok ? N(p, n->in[col]) : NULL;
        int64_t d = 0;
        int sym = ok ? ir_dim_sym(g, t->dims[col]) : -1;
        ok = ok && c->op == IR_CONST && c->f == 0 &&
             (sym < 0 || g->syms[sym].policy == TJ_EXACT) &&
             ir_dim_eval(g, t->dims[col], p->sym, 0, &d) == TJ_OK && d >= p->W;
        if (ok) return id;
    }
    return -1;
}

static int pow2_ceil(int64_t x) {
    int r = 1;
    while (r < x && r < (1 << 30)) r *= 2;
    return r;
}

int rows_split(rows_plan *p, int elems) {
    int64_t nq = rows_nq(p);
    int cwant = elems <= p->V ? 1 : elems / p->V;
    p->TR = pow2_ceil((nq + cwant - 1) / cwant);
    /* Blocks of 1024 threads measured slow (a whole SM's registers for one
     * block): more elements a thread rather than more than 512 threads,
     * until a thread would hold more than 32. */
    if (p->TR > 512 && (nq + 511) / 512 * p->V <= 32) p->TR = 512;
    /* A warp's access should cover whole 128-byte lines: 8 lanes of 16 bytes. */
    if (p->TR < 8) p->TR = pow2_ceil(nq) < 8 ? pow2_ceil(nq) : 8;
    if (p->TR > 1024) p->TR = 1024;
    while (p->TR > 1 && p->TR * p->R > 1024) p->TR /= 2;
    p->C = (int)((nq + p->TR - 1) / p->TR);
    if ((int64_t)p->C * p->V > ROWS_MAX_ELEMS) return 0;
    int per_prog = p->TR * p->R;
    p->P = per_prog >= ROWS_BLOCK ? 1 : ROWS_BLOCK / per_prog;
    /* Whole warps of whole groups when a group is part of a warp. */
    while (p->P > 1 && (p->TR * p->R * p->P) % 32 != 0) p->P--;
    p->NT = (p->TR * p->R * p->P + 31) / 32 * 32;
    return 1;
}

static int choose_threads(rows_plan *p, char *why, size_t size) {
    if (p->R > 1024) return decline(why, size, "a tile of %d rows", p->R);
    p->V = chunk_elems(p);
    p->anchor = find_anchor(p);
    p->shift = rows_shift_auto && p->anchor >= 0 && p->W % p->V != 0;
    /* About 32 elements a thread, split between the wide inputs that are
     * held at once (x, and a norm's weight and bias rows). */
    int nwide = 0;
    for (int32_t id = 0; id < p->g->nnodes; id++)
        nwide += p->live[id] && p->g->nodes[id].op == IR_LOAD && is_wide(p->cls[id]);
    int elems = nwide >= 3 ? 8 : nwide == 2 ? 16 : 32;
    /* a row wider than one block holds is declined after rows_choose_mode
     * unless a cluster takes it (sched_rows) */
    rows_split(p, elems);
    return 0;
}

/* Wide loads of 16-bit floats held as loaded, and the cheap elementwise
 * nodes over them (float casts; add, sub, mul with row values) written
 * out where used (rows.h): x - mean of a layernorm is recomputed after
 * the variance's reduction from 16 registers of x instead of held in 32,
 * and the output is computed chunk by chunk as it is stored. */
#define INLINE_NODES 16  /* nodes of one inline tree, raw leaves included */

static int inline_size(const rows_plan *p, int32_t id) {
    if (p->raw[id]) return 1;
    if (!p->inl[id]) return 0;
    const ir_node *n = N(p, id);
    int s = 1;
    for (int k = 0; k < n->nin; k++) s += inline_size(p, n->in[k]);
    return s;
}

/* Operands precede their users in node order (the builder appends). */
static void mark_raw(rows_plan *p) {
    const tj_graph *g = p->g;
    int hold = rows_forced.hold;
    /* a staged row is read from shared memory where used, as raw values are */
    if (!p->stage && (hold == 1 || (hold == 0 && p->persist && p->C * p->V <= 32))) return;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || !is_wide(p->cls[id])) continue;
        if (n->op == IR_LOAD) {
            int dt = g->tensors[n->tensor].dtype;
            p->raw[id] = (p->stage && p->pref[id]) || dt == TJ_BF16 || dt == TJ_F16;
            continue;
        }
        int cheap = (n->op == IR_CAST && ir_is_float(N(p, n->in[0])->type.dtype)) ||
                    (n->op == IR_BINARY &&
                     (n->sub == TJ_ADD || n->sub == TJ_SUB || n->sub == TJ_MUL));
        int dt = n->type.dtype;
        if (!(dt == TJ_F32 || (n->op == IR_CAST && (dt == TJ_BF16 || dt == TJ_F16))) || !cheap)
            continue;
        int ok = 1, size = 1;
        for (int k = 0; k < n->nin && ok; k++) {
            int32_t x = n->in[k];
            if (x >= id) ok = 0;
            else if (is_wide(p->cls[x])) ok = p->raw[x] || p->inl[x];
            size += inline_size(p, x);
        }
        p->inl[id] = ok && size <= INLINE_NODES;
    }
}

tj_status rows_analyze(rows_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    for (int k = 0; k < g->nbody; k++)
        if (N(p, g->body[k])->op == IR_STORE) emit_mark_live(p->g, p->live, g->body[k]);
    int64_t R = 1, W = 1;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (n->op == IR_LOAD || n->op == IR_STORE) {
            p->loaded[n->tensor] |= n->op == IR_LOAD;
            p->stored[n->tensor] |= n->op == IR_STORE && p->live[id];
        }
        if (!p->live[id] || n->type.dtype == IR_VOID || n->type.rank == 0) continue;
        int64_t m, w;
        if (tile_dims(p, n, &m, &w)) return decline(why, size, "a tile dim has no value"), TJ_OK;
        if (n->type.rank == 2 && m > R) R = m;
        if (w > W) W = w;
    }
    if (R > 1024 || W > (1 << 20))
        return decline(why, size, "a tile of [%lld,%lld]", (long long)R, (long long)W), TJ_OK;
    p->R = (int)R;
    p->W = (int)W;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || n->type.rank != 2) continue;
        int64_t m = 1, w = 1;
        tile_dims(p, n, &m, &w);
        if ((m != 1 && m != R) || (w != 1 && w != W))
            return decline(why, size, "tiles of several shapes ([%lld,%lld] and [%lld,%lld])",
                           (long long)m, (long long)w, (long long)R, (long long)W), TJ_OK;
    }
    if (classify(p, why, size) || check_tensors(p, why, size) || choose_threads(p, why, size))
        return TJ_OK;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (p->live[id] && n->op == IR_REDUCE && is_wide(p->cls[n->in[0]]) && p->TR > 32)
            p->nreduce++;
    }
    return TJ_OK;
}

/* The schedule's entry (sched_table). */
tj_status sched_rows(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                     emit_launch *launch, char *why, size_t why_size) {
    *src = NULL;
    /* A bad arch name is the generic lowering's error to report. */
    int cc = 0, len = 0;
    if (!arch || sscanf(arch, "sm_%d%n", &cc, &len) != 1 || cc < 80 ||
        !(arch[len] == '\0' || ((arch[len] == 'a' || arch[len] == 'f') && arch[len + 1] == '\0'))) {
        snprintf(why, why_size, "arch is not a target name of sm_80 or later");
        return TJ_OK;
    }
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (g->nodes[id].op == IR_FOR || g->nodes[id].op == IR_MMA) {
            snprintf(why, why_size, "the graph has %s", g->nodes[id].op == IR_FOR ? "a loop" : "an mma");
            return TJ_OK;
        }
    }
    if (g->ntensors + g->nscalars + g->nsyms + 1 > EMIT_MAX_PARAMS) {
        snprintf(why, why_size, "more than %d kernel parameters", EMIT_MAX_PARAMS - 1);
        return TJ_OK;
    }
    for (int s = 0; s < g->nsyms; s++) {
        int64_t v;
        if (sym_vals && sym_vals[s] != TJ_UNBOUND &&
            ir_dim_eval(g, tj_dim_sym((tj_sym){s}), sym_vals, 0, &v) != TJ_OK) {
            snprintf(why, why_size, "symbol %s has an invalid value", g->syms[s].name);
            return TJ_OK;
        }
    }
    rows_plan p;
    memset(&p, 0, sizeof p);
    p.g = g;
    p.sym = sym_vals;
    p.arch = arch;
    size_t nn = (size_t)g->nnodes + 1, nt = (size_t)g->ntensors + 1;
    p.cls = calloc(nn, 1);
    p.live = calloc(nn, 1);
    p.stored = calloc(nt, 1);
    p.loaded = calloc(nt, 1);
    p.names = calloc(nn, sizeof *p.names);
    p.pref = calloc(nn, 1);
    p.hoist = calloc(nn, 1);
    p.raw = calloc(nn, 1);
    p.inl = calloc(nn, 1);
    p.l1 = calloc(nn, 1);
    tj_status st = TJ_OK;
    if (!p.cls || !p.live || !p.stored || !p.loaded || !p.names || !p.pref || !p.hoist || !p.raw ||
        !p.inl || !p.l1)
        st = tj_set_error(TJ_ERR_NO_MEMORY, "rows schedule: out of memory");
    if (st == TJ_OK) {
        why[0] = '\0';
        st = rows_analyze(&p, why, why_size);
        if (st == TJ_OK && !why[0]) {
            rows_choose_mode(&p);
            if (p.C * p.V > ROWS_MAX_ELEMS) {
                decline(why, why_size, "rows of %d columns need %d elements a thread (limit %d)",
                        p.W, p.C * p.V, ROWS_MAX_ELEMS);
            } else {
                mark_raw(&p);
                st = rows_emit(&p, src, launch);
            }
        }
    }
    free(p.cls);
    free(p.live);
    free(p.stored);
    free(p.loaded);
    free(p.names);
    free(p.pref);
    free(p.hoist);
    free(p.raw);
    free(p.inl);
    free(p.l1);
    return st;
}
