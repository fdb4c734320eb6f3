/*
 * decode_match.c — does a graph have the decode shape the decode schedule
 * lowers (decode.h), and with which configuration? Every refusal is one
 * line naming what broke the shape.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

/* Assumed multiprocessor count for the split: the H100 / H200 (132). The
 * arch alone does not say it; a smaller part only gets more waves. */
#define SM_COUNT 132
#define MAX_SPLIT 8          /* blocks a cluster (the portable limit) */
#define MIN_TILES 1          /* KV tiles a warp should get before splitting further */
#define RING_BUDGET 196608   /* bytes of ring a block (one block an SM) */
#define ASSUMED_BATCH 8      /* an unbound grid symbol (a dynamic batch) counts this much */

static const ir_node *node(const dc_plan *p, int32_t id) { return &p->g->nodes[id]; }

int dc_special(const dc_plan *p, int32_t id) {
    if (id == p->qload) return 1;
    for (int i = 0; i < p->nloops; i++) {
        const dc_loop *l = &p->loops[i];
        if (id == l->kload || id == l->vload || id == l->smma || id == l->omma || id == l->pcast)
            return 1;
    }
    return 0;
}

static int is_const(const dc_plan *p, int32_t id, double v) {
    const ir_node *n = node(p, id);
    return n->op == IR_CONST && (n->f == v || (isinf(v) && isinf(n->f) && (v < 0) == (n->f < 0)));
}

/* A [rows, D] tile the ring copies in 16-byte pieces: rows along some
 * dim, all D columns of the tensor's contiguous last dim (coordinate 0),
 * zero padding, every other stride a multiple of 8 elements. */
static int kv_tile(dc_plan *p, int32_t id, const char *what, char *why, size_t size) {
    const ir_node *n = node(p, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    if (n->op != IR_LOAD || n->type.rank != 2)
        return sched_no(why, size, "%s is not a 2-D tile loaded from a tensor", what);
    if (n->axes[1] != t->rank - 1 || n->axes[0] == n->axes[1])
        return sched_no(why, size, "%s '%s': the tile's columns are not the tensor's last dim",
                        what, t->name);
    if (n->f != 0) return sched_no(why, size, "%s pads with %g (the ring fills zeros)", what, n->f);
    if (!is_const(p, n->in[n->axes[1]], 0))
        return sched_no(why, size, "%s '%s': the tile does not start at column 0", what, t->name);
    if (tj_dim_is_sym(t->dims[t->rank - 1]) || t->dims[t->rank - 1] != p->d)
        return sched_no(why, size, "%s '%s': the last dim is not the head dim %d", what, t->name,
                        p->d);
    if (t->has_strides && t->strides[t->rank - 1] != 1)
        return sched_no(why, size, "tensor '%s' is not contiguous along its last dim", t->name);
    for (int d = 0; d < t->rank - 1; d++) {
        tj_dim st = t->has_strides ? t->strides[d] : t->dims[t->rank - 1];
        if (!sched_multiple_of(p->g, p->sym, st, 8))
            return sched_no(why, size,
                            "tensor '%s' strides are not known to be multiples of 8 "
                            "elements (16-byte pieces)",
                            t->name);
    }
    if ((n->flags & TJ_COORD_ELEMENT))
        return sched_no(why, size, "%s uses element coordinates", what);
    return 1;
}

static int uses(const dc_plan *p, int32_t id) {
    int u = 0;
    for (int32_t i = 0; i < p->g->nnodes; i++) {
        const ir_node *n = node(p, i);
        if (!p->live[i]) continue;
        for (int k = 0; k < n->nin; k++) u += n->in[k] == id;
        if (n->op == IR_FOR && n->loop)
            for (int k = 0; k < n->loop->ncarried; k++) u += n->loop->yields[k] == id;
    }
    return u;
}

/* The binary op `sub` with operands {a, b} in either order: the other one. */
static int32_t other(const dc_plan *p, int32_t id, int op, int sub, int32_t a) {
    const ir_node *n = node(p, id);
    if (n->op != (ir_op)op || n->sub != sub || n->nin != 2) return -1;
    return n->in[0] == a ? n->in[1] : n->in[1] == a ? n->in[0] : -1;
}

/* a and b compute the same function of their leaves xa and xb: alpha is
 * P's expression with the score X swapped for the old max. */
static int same_fn(const dc_plan *p, int32_t a, int32_t b, int32_t xa, int32_t xb, int depth) {
    if (a == xa) return b == xb;
    if (depth > 64) return 0;
    if (a == b) return 1;
    const ir_node *na = node(p, a), *nb = node(p, b);
    if (na->op != nb->op || na->sub != nb->sub || na->nin != nb->nin || na->flags != nb->flags ||
        na->index != nb->index || na->type.dtype != nb->type.dtype)
        return 0;
    if (na->op == IR_CONST) return na->f == nb->f || (isnan(na->f) && isnan(nb->f));
    switch (na->op) {
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_CAST: case IR_BROADCAST:
        break;
    default: return 0;
    }
    for (int k = 0; k < na->nin; k++)
        if (!same_fn(p, na->in[k], nb->in[k], xa, xb, depth + 1)) return 0;
    return 1;
}

/* 1 when id depends on `leaf` (within the loop body). */
static int depends(const dc_plan *p, int32_t id, int32_t leaf, int depth) {
    if (id == leaf) return 1;
    if (depth > 64) return 1;
    const ir_node *n = node(p, id);
    if (n->op == IR_FOR_RESULT || n->op == IR_LOOP_CARRIED || n->op == IR_LOOP_IV) return 0;
    for (int k = 0; k < n->nin; k++)
        if (depends(p, n->in[k], leaf, depth + 1)) return 1;
    return 0;
}

/* A scalar the kernel can recompute for a later trip (the ring loads
 * ahead): arithmetic over the loop index and values from outside loop f. */
static int pure(const dc_plan *p, int32_t id, int32_t f, int depth) {
    const ir_node *n = node(p, id);
    if (n->op == IR_LOOP_IV) return n->in[0] == f;
    if (n->parent != f) return n->type.rank == 0 && n->op != IR_FOR_RESULT;
    if (n->type.rank != 0 || depth > 32) return 0;
    switch (n->op) {
    case IR_CONST: case IR_SYMVAL: case IR_PROGRAM_ID: case IR_NUM_PROGRAMS: case IR_SCALAR_ARG:
        return 1;
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_CAST:
        for (int k = 0; k < n->nin; k++)
            if (!pure(p, n->in[k], f, depth + 1)) return 0;
        return 1;
    default: return 0;
    }
}

/* alpha's expression, apart from the two maxima, reads only constants
 * and scalars from outside the loop: the merge re-evaluates it there. */
static int fn_leaves(const dc_plan *p, int32_t id, int32_t cm, int32_t mnew, int32_t f, int depth) {
    if (id == cm || id == mnew) return 1;
    const ir_node *n = node(p, id);
    if (n->op == IR_CONST) return 1;
    if (n->parent != f) return n->type.rank == 0 && n->op != IR_FOR_RESULT;
    if (depth > 64) return 0;
    switch (n->op) {
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_CAST: case IR_BROADCAST:
        for (int k = 0; k < n->nin; k++)
            if (!fn_leaves(p, n->in[k], cm, mnew, f, depth + 1)) return 0;
        return 1;
    default: return 0;
    }
}

/* The carried state is an online softmax (decode.h); fills the slots. */
static int softmax(dc_plan *p, dc_loop *L, char *why, size_t size) {
    const ir_loop *lp = node(p, L->node)->loop;
    if (lp->ncarried != 3)
        return sched_no(why, size,
                        "a KV loop carries %d values, not an online softmax's (m, l, acc)",
                        lp->ncarried);
    L->sm = L->sl = L->sa = -1;
    for (int k = 0; k < 3; k++) {
        int32_t y = lp->yields[k], c = lp->carried[k];
        if (y == L->omma) L->sa = k;
        else if (node(p, y)->op == IR_BINARY && node(p, y)->sub == TJ_MAX &&
                 other(p, y, IR_BINARY, TJ_MAX, c) >= 0)
            L->sm = k;
        else
            L->sl = k;
    }
    if (L->sm < 0 || L->sl < 0 || L->sa < 0)
        return sched_no(why, size,
                        "the KV loop's state is not (running max, sum, acc = p.v + ...)");
    int32_t cm = lp->carried[L->sm], cl = lp->carried[L->sl], ca = lp->carried[L->sa];
    L->mnew = lp->yields[L->sm];
    int32_t rm = other(p, L->mnew, IR_BINARY, TJ_MAX, cm);
    const ir_node *r = node(p, rm);
    if (r->op != IR_REDUCE || r->sub != TJ_RMAX || r->index != 1)
        return sched_no(why, size, "the running max is not max(m, rowmax(scores))");
    L->xs = r->in[0];
    /* acc * alpha, the product's C */
    int32_t cacc = node(p, L->omma)->in[2];
    L->alpha = other(p, cacc, IR_BINARY, TJ_MUL, ca);
    if (L->alpha < 0) return sched_no(why, size, "the accumulator is not rescaled as acc * alpha");
    /* l' = fma(l, alpha, rowsum(P)) or l * alpha + rowsum(P) */
    int32_t yl = lp->yields[L->sl], rs = -1;
    const ir_node *ny = node(p, yl);
    if (ny->op == IR_FMA && ny->nin == 3 &&
        ((ny->in[0] == cl && ny->in[1] == L->alpha) || (ny->in[1] == cl && ny->in[0] == L->alpha)))
        rs = ny->in[2];
    else if (ny->op == IR_BINARY && ny->sub == TJ_ADD) {
        for (int k = 0; k < 2 && rs < 0; k++)
            if (other(p, ny->in[k], IR_BINARY, TJ_MUL, cl) == L->alpha) rs = ny->in[1 - k];
    }
    if (rs < 0 || node(p, rs)->op != IR_REDUCE || node(p, rs)->sub != TJ_SUM ||
        node(p, rs)->index != 1)
        return sched_no(why, size, "the running sum is not l * alpha + rowsum(p)");
    L->ps = node(p, rs)->in[0];
    if (node(p, L->pcast)->in[0] != L->ps)
        return sched_no(why, size, "the product's p is not the p summed into l");
    int top = node(p, L->ps)->op == IR_UNARY ? node(p, L->ps)->sub : -1;
    if (top != TJ_EXP && top != TJ_EXP2)
        return sched_no(why, size, "p is not an exponential of the scores");
    if (!same_fn(p, L->ps, L->alpha, L->xs, cm, 0))
        return sched_no(why, size,
                        "alpha is not p's function of the old max (not an online softmax)");
    if (uses(p, cl) != 1 || uses(p, ca) != 1)
        return sched_no(why, size, "l or acc is read besides its update");
    /* m: read only by m' and by alpha's expression */
    for (int b = 0; b < lp->nbody; b++) {
        int32_t id = lp->body[b];
        const ir_node *n = node(p, id);
        if (!p->live[id] || id == L->mnew) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == cm && !depends(p, L->alpha, id, 0))
                return sched_no(why, size, "the running max is read besides m' and alpha");
    }
    if (depends(p, L->xs, L->mnew, 0))
        return sched_no(why, size, "the scores depend on the running max");
    if (!fn_leaves(p, L->alpha, cm, L->mnew, L->node, 0))
        return sched_no(why, size, "alpha reads values of the trip besides the two maxima");
    return 1;
}

static int kv_loop(dc_plan *p, int32_t f, dc_loop *L, char *why, size_t size) {
    const ir_loop *lp = node(p, f)->loop;
    L->node = f;
    L->smma = L->omma = -1;
    if (!is_const(p, node(p, f)->in[2], 1)) return sched_no(why, size, "a KV loop's step is not 1");
    for (int k = 0; k < lp->nbody; k++) {
        int32_t id = lp->body[k];
        const ir_node *n = node(p, id);
        if (!p->live[id]) continue;
        if (n->op == IR_FOR) return sched_no(why, size, "a loop inside the KV loop");
        if (n->op == IR_STORE) return sched_no(why, size, "a store inside the KV loop");
        if (n->op != IR_MMA) continue;
        if (n->nin == 2 && L->smma < 0) L->smma = id;
        else if (n->nin == 3 && L->omma < 0) L->omma = id;
        else
            return sched_no(why, size, "the KV loop has an mma besides s = q.k^T and acc += p.v");
    }
    if (L->smma < 0 || L->omma < 0)
        return sched_no(why, size, "the KV loop lacks s = mma(q, k, trans_b) or mma(p, v, acc)");
    const ir_node *s = node(p, L->smma), *o = node(p, L->omma);
    if (s->flags != TJ_TRANS_B)
        return sched_no(why, size, "s = mma(q, k) is not q . k^T (trans_b)");
    if (o->flags != 0) return sched_no(why, size, "mma(p, v, acc) has a transpose");
    if (p->qload < 0) p->qload = s->in[0];
    const ir_node *q = node(p, p->qload);
    if (s->in[0] != p->qload || q->op != IR_LOAD || q->parent != -1 || q->type.rank != 2)
        return sched_no(why, size, "the first mma's A is not one q tile loaded before the loops");
    L->kload = s->in[1];
    L->vload = o->in[1];
    L->pcast = o->in[0];
    const ir_node *k = node(p, L->kload), *v = node(p, L->vload), *pc = node(p, L->pcast);
    if (k->op != IR_LOAD || k->parent != f || v->op != IR_LOAD || v->parent != f)
        return sched_no(why, size, "k and v are not tiles loaded in the KV loop");
    if (pc->op != IR_CAST || pc->parent != f)
        return sched_no(why, size, "the second mma's A is not a cast in the loop");
    int dt = q->type.dtype;
    if (dt != TJ_BF16 && dt != TJ_F16)
        return sched_no(why, size, "q is %s; the schedule takes bf16 and f16",
                        tj_dtype_name((tj_dtype)dt));
    if (k->type.dtype != dt || v->type.dtype != dt || pc->type.dtype != dt)
        return sched_no(why, size, "q, k, v and p are not all %s", tj_dtype_name((tj_dtype)dt));
    p->dtype = dt;
    int64_t qm, qn, km, kn, vm, vn;
    if (!sched_tile_dims(p->g, p->sym, p->qload, &qm, &qn) ||
        !sched_tile_dims(p->g, p->sym, L->kload, &km, &kn) ||
        !sched_tile_dims(p->g, p->sym, L->vload, &vm, &vn))
        return sched_no(why, size, "a tile dim has no value");
    if (p->G && (p->G != qm || p->bn != km || p->d != qn))
        return sched_no(why, size, "the loops' tiles differ");
    if (qm > 16)
        return sched_no(why, size, "q has %lld rows (decode takes at most 16)", (long long)qm);
    p->G = (int)qm, p->bn = (int)km, p->d = (int)qn;
    if (kn != qn || vm != km || vn != qn)
        return sched_no(why, size, "k / v tiles are not [%d,%d]", p->bn, p->d);
    if (p->d != 64 && p->d != 128 && p->d != 256)
        return sched_no(why, size, "head dim %d: 64, 128 or 256", p->d);
    if (p->d == 256 && p->G > 8)
        return sched_no(why, size,
                        "head dim 256 with %d query rows: the accumulators need more "
                        "registers than a thread has (8 rows at most)",
                        p->G);
    if (p->bn % 16 || p->bn < 16 || p->bn > 128)
        return sched_no(why, size, "block_n %d: a multiple of 16 up to 128 (score registers)",
                        p->bn);
    if (!kv_tile(p, L->kload, "k", why, size) || !kv_tile(p, L->vload, "v", why, size))
        return 0;
    for (int i = 0; i < 2; i++) {
        const ir_node *ld = i ? v : k;
        for (int c = 0; c < p->g->tensors[ld->tensor].rank; c++)
            if (!pure(p, ld->in[c], f, 0))
                return sched_no(why, size, "%s's coordinates are not arithmetic of the loop index",
                                i ? "v" : "k");
    }
    if (node(p, q->in[q->axes[1]])->op != IR_CONST || node(p, q->in[q->axes[1]])->f != 0 ||
        q->axes[1] != p->g->tensors[q->tensor].rank - 1 || (q->flags & TJ_COORD_ELEMENT))
        return sched_no(why, size, "the q tile is not whole rows of its tensor");
    int64_t am, an;
    if (!sched_tile_dims(p->g, p->sym, o->in[2], &am, &an) || am != qm || an != qn ||
        node(p, o->in[2])->type.dtype != TJ_F32)
        return sched_no(why, size, "mma(p, v, acc)'s accumulator is not an f32 [%d,%d] tile", p->G,
                        p->d);
    if (uses(p, L->kload) != 1 || uses(p, L->vload) != 1 || uses(p, L->pcast) != 1 ||
        uses(p, L->smma) < 1)
        return sched_no(why, size, "k, v or p is used besides the two products");
    return softmax(p, L, why, size);
}

/* How a thread holds node id in the loops (decode.h), or 0 with *why. */
static int classify(dc_plan *p, int32_t id, char *why, size_t size) {
    const ir_node *n = node(p, id);
    char desc[96];
    if (n->op == IR_FOR || n->op == IR_STORE) return 1;
    if (dc_special(p, id)) {
        p->cls[id] = DC_FULL;
        return 1;
    }
    if (n->type.rank == 0) {
        switch (n->op) {
        case IR_CONST: case IR_SCALAR_ARG: case IR_SYMVAL: case IR_PROGRAM_ID:
        case IR_NUM_PROGRAMS: case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA:
        case IR_CAST: case IR_LOAD: case IR_LOOP_IV:
            p->cls[id] = DC_SCALAR;
            return 1;
        default:
            return sched_no(why, size, "%s: a scalar the schedule cannot compute",
                            ir_node_desc(p->g, id, desc, sizeof desc));
        }
    }
    int64_t m, nn;
    if (!sched_tile_dims(p->g, p->sym, id, &m, &nn))
        return sched_no(why, size, "a tile dim has no value");
    int c = 0;
    if (n->op == IR_CONST) c = DC_SCALAR;
    else if (m == p->G && (nn == p->bn || nn == p->d)) c = DC_FULL;
    else if (m == p->G && nn == 1) c = DC_ROW;
    else if (m == 1 && (nn == p->bn || nn == p->d)) c = DC_COL;
    if (!c)
        return sched_no(why, size, "tile %s [%lld,%lld] is not a piece of [%d,%d] or [%d,%d]",
                        ir_node_desc(p->g, id, desc, sizeof desc), (long long)m, (long long)nn,
                        p->G, p->bn, p->G, p->d);
    switch (n->op) {
    case IR_CONST: case IR_IOTA: case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA:
    case IR_CAST: case IR_BROADCAST: case IR_FOR_RESULT: case IR_LOOP_CARRIED:
        break;
    case IR_RESHAPE: {
        int64_t im, in_;
        if (!sched_tile_dims(p->g, p->sym, n->in[0], &im, &in_) || im != m || in_ != nn)
            return sched_no(why, size, "reshape %s changes the element order",
                            ir_node_desc(p->g, id, desc, sizeof desc));
        break;
    }
    case IR_REDUCE: {
        int64_t im, in_;
        if (n->index != 1 || c != DC_ROW || !sched_tile_dims(p->g, p->sym, n->in[0], &im, &in_) ||
            im != p->G || p->post[id])
            return sched_no(why, size,
                            "reduction %s is not along the rows of a [%d,N] tile in a loop",
                            ir_node_desc(p->g, id, desc, sizeof desc), p->G);
        break;
    }
    case IR_LOAD:
        return sched_no(why, size, "%s loads a tile of '%s' (only q, k, v tiles and scalars)",
                        ir_node_desc(p->g, id, desc, sizeof desc), p->g->tensors[n->tensor].name);
    default:
        return sched_no(why, size, "op %s (%s) is not elementwise or a row reduction",
                        ir_node_desc(p->g, id, desc, sizeof desc), ir_op_name(n->op));
    }
    if (n->parent == -1 && !p->post[id] && n->op != IR_FOR_RESULT && n->op != IR_CONST)
        return sched_no(why, size, "tile %s is computed before the KV loops (only q and constants)",
                        ir_node_desc(p->g, id, desc, sizeof desc));
    p->cls[id] = (uint8_t)c;
    p->ncols[id] = (int)nn;
    return 1;
}

/* Loops chained through their state: the first from (-inf, 0, 0) (every
 * worker starts there, so merging counts it once), each later one from
 * the results of the one before, read by nothing else. */
static int chained(dc_plan *p, char *why, size_t size) {
    for (int i = 0; i < p->nloops; i++) {
        const dc_loop *L = &p->loops[i];
        const ir_node *f = node(p, L->node);
        int slot[3] = {L->sm, L->sl, L->sa};
        for (int r = 0; r < 3; r++) {
            int32_t init = f->in[3 + slot[r]];
            if (i == 0) {
                double want = r == 0 ? -INFINITY : 0;
                if (!is_const(p, init, want))
                    return sched_no(why, size, "the first KV loop's %s does not start at %s",
                                    r == 0   ? "max"
                                    : r == 1 ? "sum"
                                             : "accumulator",
                                    r ? "0" : "-inf");
                continue;
            }
            const dc_loop *P = &p->loops[i - 1];
            int ps[3] = {P->sm, P->sl, P->sa};
            const ir_node *in = node(p, init);
            if (in->op != IR_FOR_RESULT || in->in[0] != P->node || in->index != ps[r] ||
                uses(p, init) != 1)
                return sched_no(why, size,
                                "a KV loop does not continue the state of the loop before it");
        }
    }
    return 1;
}

static int structure(dc_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    p->qload = -1;
    int last = -1;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(p, id);
        if (n->op == IR_STORE && !p->nloops)
            return sched_no(why, size, "a store comes before the KV loops");
        if (n->op != IR_FOR || !p->live[id]) continue;
        if (p->nloops == DC_MAX_LOOPS)
            return sched_no(why, size, "more than %d loops", DC_MAX_LOOPS);
        if (!kv_loop(p, id, &p->loops[p->nloops++], why, size)) return 0;
        last = k;
    }
    if (!p->nloops) return sched_no(why, size, "no loop (not decode-shaped)");
    for (int k = last + 1; k < g->nbody; k++) {
        if (node(p, g->body[k])->op == IR_FOR)
            return sched_no(why, size, "a loop after the KV loops");
        p->post[g->body[k]] = 1;
    }
    const ir_loop *lp = node(p, p->loops[p->nloops - 1].node)->loop;
    for (int c = 0; c < lp->ncarried; c++) p->post[lp->results[c]] = 1;
    return chained(p, why, size);
}

static int stores(dc_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    int nst = 0;
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = node(p, g->body[k]);
        if (n->op != IR_STORE) continue;
        nst++;
        const char *name = g->tensors[n->tensor].name;
        if (n->flags & IR_STORE_MASKED) return sched_no(why, size, "a masked store");
        int32_t v = n->in[n->nin - 1];
        if (p->cls[v] != DC_FULL || p->ncols[v] != p->d)
            return sched_no(why, size, "a store to '%s' is not a [%d,%d] tile", name, p->G, p->d);
        for (int32_t l = 0; l < g->nnodes; l++)
            if (p->live[l] && node(p, l)->op == IR_LOAD && node(p, l)->tensor == n->tensor)
                return sched_no(why, size, "tensor '%s' is both loaded and stored", name);
    }
    return nst ? 1 : sched_no(why, size, "nothing is stored after the loops");
}

dc_force dc_forced;

static int arch_cc(const char *arch) {
    int cc = 0;
    return arch && sscanf(arch, "sm_%d", &cc) == 1 ? cc : 0;
}

/* Programs the graph's grid has: constants and bound symbols as they are,
 * anything else (a dynamic batch) as ASSUMED_BATCH. */
static int64_t known_programs(const dc_plan *p) {
    int64_t n = 1;
    for (int i = 0; i < p->g->ngrid; i++) {
        const ir_node *x = node(p, p->g->grid[i]);
        if (x->op == IR_CONST && x->f >= 1) n *= (int64_t)x->f;
        else if (x->op == IR_SYMVAL && p->sym && p->sym[x->index] != TJ_UNBOUND &&
                 p->sym[x->index] > 0)
            n *= p->sym[x->index];
        else
            n *= ASSUMED_BATCH;
    }
    return n;
}

static int config(dc_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    size_t es = tj_dtype_size((tj_dtype)p->dtype);
    /* One block of 8 warps an SM, each warp R - 1 chunks ahead: measured on
     * an H200 (docs/performance.md, issue 8) against 2 blocks of 4 warps
     * and 4 blocks of 2, it streams 1.1-1.3x faster at every KV length
     * (all blocks in one wave; no cluster-placement limits). */
    p->W = 8;
    p->chunk = 16u * (size_t)p->d * es;
    size_t budget = emit_smem_limit(p->arch);
    budget = budget > 16384 + RING_BUDGET ? RING_BUDGET : budget > 32768 ? budget - 16384 : 16384;
    p->R = (int)(budget / ((size_t)p->W * p->chunk));
    while (p->R < 3 && p->W > 2) {   /* a smaller part (sm_80) or d 256: fewer warps */
        p->W /= 2;
        p->R = (int)(budget / ((size_t)p->W * p->chunk));
    }
    if (p->R > 6) p->R = 6;
    if (p->R < 3) p->R = 3;
    if (p->R > 2 * (p->bn / 16) + 1) p->R = 2 * (p->bn / 16) + 1;   /* at most a trip ahead */
    p->minblocks = 1;   /* ~200-250 registers a thread */
    p->ring = (size_t)p->W * (size_t)p->R * p->chunk;
    /* The split: enough KV tiles a warp to amortize the merge, and no
     * more blocks than fit the GPU at once when the grid is known. A
     * length that is not specialized (dynamic) is taken as long. */
    p->S = 1;
    if (p->cc >= 90) {
        const ir_node *k = node(p, p->loops[0].kload);
        const ir_tensor *t = &g->tensors[k->tensor];
        int64_t kv = 0;
        int s = MAX_SPLIT;
        if (ir_dim_eval(g, t->dims[k->axes[0]], p->sym, 1, &kv) == TJ_OK && kv > 0) {
            int64_t tiles = (kv + p->bn - 1) / p->bn;
            int64_t want = tiles / ((int64_t)p->W * MIN_TILES);
            s = want < 1 ? 1 : want > MAX_SPLIT ? MAX_SPLIT : (int)want;
        }
        int64_t prog = known_programs(p), fit = (int64_t)SM_COUNT * p->minblocks;
        while (s > 1 && prog * s > fit) s--;
        p->S = s;
    }
    if (dc_forced.W > 0) p->W = dc_forced.W;
    if (dc_forced.R > 0) p->R = dc_forced.R;
    if (dc_forced.S > 0) p->S = p->cc >= 90 ? dc_forced.S : 1;
    if (dc_forced.minblocks > 0) p->minblocks = dc_forced.minblocks;
    p->ring = (size_t)p->W * (size_t)p->R * p->chunk;
    p->part = (size_t)p->W * 16u * (size_t)(p->d + 2) * 4u;
    size_t area = p->ring > p->part ? p->ring : p->part;
    size_t wts = (size_t)16 * (size_t)(3 * p->S * p->W + 2) * 4u;
    p->smem = 128 + 16u * (size_t)p->d * es + area + wts;
    if (p->smem > emit_smem_limit(p->arch))
        return sched_no(why, size, "%zu bytes of shared memory do not fit", p->smem);
    if (g->ntensors + g->nscalars + g->nsyms + 3 > EMIT_MAX_PARAMS)
        return sched_no(why, size, "too many kernel parameters");
    return 1;
}

void dc_plan_free(dc_plan *p) {
    free(p->live);
    free(p->cls);
    free(p->ncols);
    free(p->post);
    memset(p, 0, sizeof *p);
}

tj_status dc_match(const tj_graph *g, const char *arch, const int64_t *sym, dc_plan *p, char *why,
                   size_t why_size) {
    memset(p, 0, sizeof *p);
    int cc = arch_cc(arch);
    if (cc < 80) {
        sched_no(why, why_size, "needs sm_80 or newer (mma.sync, cp.async); the target is %s",
                 arch ? arch : "none");
        return TJ_OK;
    }
    p->g = g;
    p->sym = sym;
    p->arch = arch;
    p->cc = cc;
    size_t n = (size_t)g->nnodes + 1;
    p->live = calloc(n, 1);
    p->cls = calloc(n, 1);
    p->ncols = calloc(n, sizeof *p->ncols);
    p->post = calloc(n, 1);
    if (!p->live || !p->cls || !p->ncols || !p->post) {
        dc_plan_free(p);
        return tj_set_error(TJ_ERR_NO_MEMORY, "decode: out of memory");
    }
    emit_mark_live_all(g, p->live);
    int ok = structure(p, why, why_size);
    for (int32_t id = 0; ok && id < g->nnodes; id++)
        if (p->live[id]) ok = classify(p, id, why, why_size);
    ok = ok && stores(p, why, why_size) && config(p, why, why_size);
    if (!ok) dc_plan_free(p);
    return TJ_OK;
}
