/*
 * attention_sm90_match.c — does a graph have the attention shape
 * attention_sm90 lowers (attention_sm90.h), and with which configuration?
 * Every refusal is one line naming what broke the shape.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_sm90.h"

#define SMEM_LIMIT (227u * 1024u)
#define MAX_STAGES 4
/* f32 values a consumer thread may hold for the accumulators, s and p
 * (240 registers after setmaxnreg, the rest for addresses and masks). */
#define REG_BUDGET 200
/* With three consumer warpgroups (block_m 192, FlashAttention-3's tile
 * for head dim 64, where the softmax is longer than one warpgroup's
 * products and a third warpgroup's products cover it): 160 registers. */
#define REG_BUDGET_3WG 128

static const ir_node *node(const as_plan *p, int32_t id) { return &p->g->nodes[id]; }

int as_special(const as_plan *p, int32_t id) {
    if (id == p->qload) return 1;
    for (int i = 0; i < p->nloops; i++) {
        const as_loop *l = &p->loops[i];
        if (id == l->kload || id == l->vload || id == l->smma || id == l->omma || id == l->pcast)
            return 1;
    }
    return 0;
}

/* A [rows, D] tile the copy engine can fetch as one box: rows along some
 * dim, D along the tensor's contiguous last dim, zero padding, every
 * outer stride a multiple of 16 bytes, the base 16-byte aligned. */
static int tma_tile(as_plan *p, int32_t id, const char *what, as_operand *o, char *why,
                    size_t size) {
    const ir_node *n = node(p, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    if (n->type.rank != 2 || n->axes[1] != t->rank - 1 || n->axes[0] == n->axes[1])
        return sched_no(why, size, "%s '%s': the tile's columns are not the tensor's last dim",
                        what, t->name);
    if (n->f != 0)
        return sched_no(why, size, "%s pads with %g; the copy engine fills zeros", what, n->f);
    if (t->has_strides && t->strides[t->rank - 1] != 1)
        return sched_no(why, size, "tensor '%s' is not contiguous along its last dim", t->name);
    int per16 = 16 / (int)tj_dtype_size(t->dtype);   /* elements in 16 bytes */
    for (int d = 0; d < t->rank - 1; d++) {
        tj_dim st = t->has_strides ? t->strides[d] : t->dims[t->rank - 1];
        if (!sched_multiple_of(p->g, p->sym, st, per16))
            return sched_no(why, size,
                            "tensor '%s' strides are not known to be 16-byte multiples (TMA)",
                            t->name);
    }
    if (t->align < 16)
        return sched_no(why, size, "tensor '%s' is not declared 16-byte aligned (TMA needs it)",
                        t->name);
    if (o->load >= 0 && (o->tensor != n->tensor || o->row_dim != n->axes[0]))
        return sched_no(why, size, "the loops load %s from different tensors or layouts", what);
    o->tensor = n->tensor;
    o->load = id;
    o->row_dim = n->axes[0];
    return 1;
}

/* Uses of `id` among live nodes and loop yields. */
static int uses(const as_plan *p, int32_t id) {
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

static int kv_loop(as_plan *p, int32_t f, as_loop *L, char *why, size_t size) {
    const tj_graph *g = p->g;
    const ir_loop *lp = node(p, f)->loop;
    char desc[96];
    L->node = f;
    L->smma = L->omma = -1;
    const ir_node *step = node(p, node(p, f)->in[2]);
    if (step->op != IR_CONST || step->f < 1)
        return sched_no(why, size, "a KV loop's step is not a positive constant");
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
    if (o->flags != 0 && o->flags != TJ_TRANS_B)
        return sched_no(why, size, "mma(p, v, acc) transposes p");
    if (p->qload < 0) p->qload = s->in[0];
    const ir_node *q = node(p, p->qload);
    if (s->in[0] != p->qload || q->op != IR_LOAD || q->parent != -1)
        return sched_no(why, size, "the first mma's A is not one q tile loaded before the loops");
    L->kload = s->in[1];
    L->vload = o->in[1];
    L->pcast = o->in[0];
    const ir_node *k = node(p, L->kload), *v = node(p, L->vload), *pc = node(p, L->pcast);
    if (k->op != IR_LOAD || k->parent != f || v->op != IR_LOAD || v->parent != f)
        return sched_no(why, size, "k and v are not tiles loaded in the KV loop");
    if (pc->op != IR_CAST || pc->parent != f)
        return sched_no(why, size, "the second mma's A (%s) is not a cast in the loop",
                        ir_node_desc(g, L->pcast, desc, sizeof desc));
    if (!tma_tile(p, p->qload, "q", &p->q, why, size) || !tma_tile(p, L->kload, "k", &p->k, why, size) ||
        !tma_tile(p, L->vload, "v", &p->v, why, size))
        return 0;
    int dt = q->type.dtype, vt = o->flags == TJ_TRANS_B;
    if (dt != TJ_BF16 && dt != TJ_F16 && dt != TJ_F8E4M3)
        return sched_no(why, size, "q is %s; the schedule takes bf16 and f16 (and f8e4m3)",
                        tj_dtype_name((tj_dtype)dt));
    /* wgmma takes 8-bit operands K-major only: p . v's K is the keys */
    if (dt == TJ_F8E4M3 && !vt)
        return sched_no(why, size, "fp8 p.v needs v transposed, keys contiguous (attention "
                                   "recipe v_layout=t)");
    if (dt != TJ_F8E4M3 && vt)
        return sched_no(why, size, "mma(p, v, acc) has a transpose (v transposed: fp8 only)");
    if (k->type.dtype != dt || v->type.dtype != dt || pc->type.dtype != dt)
        return sched_no(why, size, "q, k, v and p are not all %s", tj_dtype_name((tj_dtype)dt));
    p->dtype = dt;
    p->fp8 = dt == TJ_F8E4M3;
    int64_t qm, qn, km, kn, vm, vn;
    if (!sched_tile_dims(p->g, p->sym, p->qload, &qm, &qn) ||
        !sched_tile_dims(p->g, p->sym, L->kload, &km, &kn) ||
        !sched_tile_dims(p->g, p->sym, L->vload, &vm, &vn))
        return sched_no(why, size, "a tile dim has no value");
    if (p->bm && (p->bm != qm || p->bn != km || p->d != qn))
        return sched_no(why, size, "the loops' tiles differ");
    p->bm = (int)qm, p->bn = (int)km, p->d = (int)qn;
    if (vt) {   /* v's [d, keys] tile */
        int64_t t = vm;
        vm = vn, vn = t;
    }
    if (kn != qn || vm != km || vn != qn)
        return sched_no(why, size,
                        "k [%lld,%lld] / v [%lld,%lld] are not [%d,%d] like q's head dim",
                        (long long)km, (long long)kn, (long long)vm, (long long)vn, p->bn, p->d);
    int64_t am, an;
    if (!sched_tile_dims(p->g, p->sym, o->in[2], &am, &an) || am != qm || an != qn ||
        node(p, o->in[2])->type.dtype != TJ_F32)
        return sched_no(why, size, "mma(p, v, acc)'s accumulator is not an f32 [%d,%d] tile", p->bm,
                        p->d);
    if (uses(p, L->kload) != 1 || uses(p, L->vload) != 1 || uses(p, L->pcast) != 1)
        return sched_no(why, size, "k, v or p is used besides the two products");
    for (int c = 0; c < lp->ncarried; c++)
        if (node(p, lp->carried[c])->type.dtype != TJ_F32 || node(p, lp->carried[c])->type.rank != 2)
            return sched_no(why, size, "a KV loop carries %s, not an f32 tile",
                            ir_node_desc(g, lp->carried[c], desc, sizeof desc));
    return 1;
}

/* How a consumer thread holds node id (attention_sm90.h), or 0 with *why. */
static int classify(as_plan *p, int32_t id, char *why, size_t size) {
    const ir_node *n = node(p, id);
    char desc[96];
    if (n->op == IR_FOR || n->op == IR_STORE) return 1;
    if (as_special(p, id)) {
        p->cls[id] = AS_FULL;
        return 1;
    }
    if (n->type.rank == 0) {
        switch (n->op) {
        case IR_CONST: case IR_SCALAR_ARG: case IR_SYMVAL: case IR_PROGRAM_ID:
        case IR_NUM_PROGRAMS: case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA:
        case IR_CAST: case IR_LOAD: case IR_LOOP_IV:
            p->cls[id] = AS_SCALAR;
            return 1;
        default:
            return sched_no(why, size, "%s: a scalar the schedule cannot compute",
                            ir_node_desc(p->g, id, desc, sizeof desc));
        }
    }
    int64_t m, nn;
    if (!sched_tile_dims(p->g, p->sym, id, &m, &nn))
        return sched_no(why, size, "a tile dim has no value");
    if (n->op == IR_RESHAPE && n->type.rank == 1 && p->cls[n->in[0]] == AS_ROW) {
        /* [bm, 1] as [bm]: a row vector to store (lse, its mask); each
         * thread keeps its rows. row_vectors() checks only stores read it. */
        p->cls[id] = AS_ROW;
        p->ncols[id] = p->bm;
        return 1;
    }
    int c = 0;
    if (n->op == IR_CONST || (m == 1 && nn == 1)) c = AS_SCALAR;
    else if (m == p->bm && nn == 1) c = AS_ROW;
    else if (m == 1 && (nn == p->bn || nn == p->d)) c = AS_COL;
    else if (m == p->bm && (nn == p->bn || nn == p->d)) c = AS_FULL;
    if (!c || (c == AS_SCALAR && n->op != IR_CONST && m * nn != 1))
        return sched_no(why, size, "tile %s [%lld,%lld] is not a piece of [%d,%d] or [%d,%d]",
                        ir_node_desc(p->g, id, desc, sizeof desc), (long long)m, (long long)nn,
                        p->bm, p->bn, p->bm, p->d);
    if (c == AS_SCALAR && n->op != IR_CONST)
        return sched_no(why, size, "a one-element tile %s",
                        ir_node_desc(p->g, id, desc, sizeof desc));
    switch (n->op) {
    case IR_CONST: case IR_IOTA: case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA:
    case IR_CAST: case IR_BROADCAST: case IR_FOR_RESULT: case IR_LOOP_CARRIED:
        break;
    case IR_RESHAPE: {
        int64_t im, in_;
        if (!sched_tile_dims(p->g, p->sym, n->in[0], &im, &in_) || im != m || in_ != nn)
            return sched_no(why, size,
                            "reshape %s changes the element order (lse outputs: not yet)",
                            ir_node_desc(p->g, id, desc, sizeof desc));
        break;
    }
    case IR_REDUCE: {
        int64_t im, in_;
        if (n->index != 1 || c != AS_ROW || !sched_tile_dims(p->g, p->sym, n->in[0], &im, &in_) ||
            im != p->bm)
            return sched_no(why, size, "reduction %s is not along the rows of a [%d,N] tile",
                            ir_node_desc(p->g, id, desc, sizeof desc), p->bm);
        break;
    }
    case IR_LOAD:
        return sched_no(why, size, "%s loads a tile of '%s' (only q, k, v tiles and scalars)",
                        ir_node_desc(p->g, id, desc, sizeof desc), p->g->tensors[n->tensor].name);
    default:
        return sched_no(why, size, "op %s (%s) is not elementwise or a row reduction",
                        ir_node_desc(p->g, id, desc, sizeof desc), ir_op_name(n->op));
    }
    p->cls[id] = (uint8_t)c;
    p->ncols[id] = (int)nn;
    return 1;
}

/* 1 when node v is a row vector: a [bm] reshape of a [bm, 1] value. */
static int row_vector(const as_plan *p, int32_t v) {
    return p->cls[v] == AS_ROW && node(p, v)->type.rank == 1;
}

/* Row vectors feed stores only: elsewhere a [bm] value would meet
 * [1, bn] ones of the same shape and another layout. */
static int row_vectors(as_plan *p, char *why, size_t size) {
    char desc[96];
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *n = node(p, id);
        if (!p->live[id] || n->op == IR_STORE) continue;
        for (int k = 0; k < n->nin; k++)
            if (row_vector(p, n->in[k]))
                return sched_no(why, size, "%s reads a row vector [%d] (only stores may)",
                                ir_node_desc(p->g, id, desc, sizeof desc), p->bm);
    }
    return 1;
}

static int stores(as_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    int nst = 0;
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = node(p, g->body[k]);
        if (n->op != IR_STORE) continue;
        nst++;
        const char *name = g->tensors[n->tensor].name;
        if ((n->flags & IR_STORE_MASKED) && !p->cls[n->in[n->nin - 2]])
            return sched_no(why, size, "a store mask the schedule does not compute");
        if (n->tensor == p->q.tensor || n->tensor == p->k.tensor || n->tensor == p->v.tensor)
            return sched_no(why, size, "the graph stores into q, k or v ('%s')", name);
        int32_t v = n->in[n->nin - 1];
        if ((p->cls[v] != AS_FULL || p->ncols[v] != p->d) && !row_vector(p, v))
            return sched_no(why, size, "a store to '%s' is not a [%d,%d] tile or a [%d] row vector",
                            name, p->bm, p->d, p->bm);
        if ((n->flags & IR_STORE_MASKED) && row_vector(p, v) != row_vector(p, n->in[n->nin - 2]))
            return sched_no(why, size, "the store to '%s' has a mask of another shape", name);
        for (int32_t l = 0; l < g->nnodes; l++)
            if (p->live[l] && node(p, l)->op == IR_LOAD && node(p, l)->tensor == n->tensor)
                return sched_no(why, size, "tensor '%s' is both loaded and stored", name);
    }
    return nst ? 1 : sched_no(why, size, "nothing is stored after the loops");
}

/* 1 when some [BM, D] tile is stored without a mask. */
static int unmasked_tile_store(const as_plan *p) {
    const tj_graph *g = p->g;
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = node(p, g->body[k]);
        if (n->op != IR_STORE || (n->flags & IR_STORE_MASKED)) continue;
        int32_t v = n->in[n->nin - 1];
        if (p->cls[v] == AS_FULL && p->ncols[v] == p->d) return 1;
    }
    return 0;
}

static int config(as_plan *p, char *why, size_t size) {
    if (p->bm != 64 && p->bm != 128 && p->bm != 192)
        return sched_no(why, size, "block_m %d: 64, 128 or 192 (warpgroups of 64 rows)", p->bm);
    if (p->bn != 64 && p->bn != 80 && p->bn != 128 && p->bn != 176 && p->bn != 256)
        return sched_no(why, size, "block_n %d: 64, 80, 128, 176 or 256 (the wgmma shapes of s)",
                        p->bn);
    /* fp8: p . v's k step is 32 keys; vt's swizzled lines are the keys */
    if (p->fp8 && p->bn != 64 && p->bn != 128)
        return sched_no(why, size, "block_n %d with fp8: 64 or 128", p->bn);
    if (p->d != 64 && p->d != 128 && p->d != 256)
        return sched_no(why, size, "head dim %d: 64, 128 or 256", p->d);
    int budget = p->bm == 192 ? REG_BUDGET_3WG : REG_BUDGET;
    if (p->d / 2 + p->bn * 3 / 4 > budget)
        return sched_no(why, size,
                        "head dim %d with block_n %d needs %d accumulator registers a "
                        "thread (%d at most with block_m %d): use block_n 64",
                        p->d, p->bn, p->d / 2 + p->bn * 3 / 4, budget, p->bm);
    p->nwg = p->bm / 64;
    size_t es = tj_dtype_size((tj_dtype)p->dtype);
    p->q_bytes = (size_t)p->bm * (size_t)p->d * es;
    p->kv_bytes = (size_t)p->bn * (size_t)p->d * es;   /* each of k and v */
    p->qline = p->d * (int)es < 128 ? p->d * (int)es : 128;
    p->vline = p->fp8 ? (p->bn < 128 ? p->bn : 128) : 128;
    /* barriers a stage: k, v full and free; fp8 also vt's keys permuted */
    const size_t sbar = p->fp8 ? 40 : 32;
    /* o's staging region (as_o_smem): 1024-aligned after the barriers.
     * By default at head dim 128 only, where it measured +1-5 % (most at
     * short sequences) though it leaves 2 k/v stages instead of 3; at 64
     * it measured -3..+5 %, and 256 has no room. Masked stores (packed
     * batches) do not use it, so they do not pay for it. */
    int staged = as_o_smem < 0 ? p->d == 128 && unmasked_tile_store(p) : as_o_smem > 0;
    p->o_bytes = staged ? (size_t)p->bm * (size_t)p->d * 2 : 0;   /* a 16-bit o */
    size_t extra;
    for (;;) {   /* without the region when it leaves fewer than two stages (d 256) */
        extra = p->o_bytes ? 1024 + p->o_bytes : 0;
        p->stages = 0;
        while (p->stages < MAX_STAGES &&
               1024 + p->q_bytes + (size_t)(p->stages + 1) * (2 * p->kv_bytes + sbar) + 16 +
                       extra <= SMEM_LIMIT)
            p->stages++;
        if (p->stages >= 2 || !p->o_bytes) break;
        p->o_bytes = 0;
    }
    if (p->stages < 2)
        return sched_no(why, size,
                        "q [%d,%d] and two stages of k and v [%d,%d] do not fit in shared "
                        "memory",
                        p->bm, p->d, p->bn, p->d);
    p->smem = 1024 + p->q_bytes + (size_t)p->stages * (2 * p->kv_bytes + sbar) + 16 + extra;
    p->threads = 128 * (1 + p->nwg);
    return 1;
}

void as_plan_free(as_plan *p) {
    free(p->live);
    free(p->cls);
    free(p->ncols);
    memset(p, 0, sizeof *p);
}

static int structure(as_plan *p, char *why, size_t size) {
    const tj_graph *g = p->g;
    p->qload = -1;
    p->q.load = p->k.load = p->v.load = -1;
    int after = 0;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(p, id);
        if (n->op == IR_STORE) {
            if (!p->nloops) return sched_no(why, size, "a store comes before the KV loops");
            after = 1;
        }
        if (n->op != IR_FOR || !p->live[id]) continue;
        if (after) return sched_no(why, size, "a loop after the stores");
        if (p->nloops == AS_MAX_LOOPS)
            return sched_no(why, size, "more than %d loops", AS_MAX_LOOPS);
        if (!kv_loop(p, id, &p->loops[p->nloops++], why, size)) return 0;
    }
    if (!p->nloops) return sched_no(why, size, "no loop (not attention-shaped)");
    return 1;
}

tj_status as_match(const tj_graph *g, const char *arch, const int64_t *sym, as_plan *p,
                   char *why, size_t why_size) {
    memset(p, 0, sizeof *p);
    if (!arch || strcmp(arch, "sm_90a") != 0) {
        sched_no(why, why_size, "needs sm_90a (wgmma, setmaxnreg); the target is %s",
                 arch ? arch : "none");
        return TJ_OK;
    }
    p->g = g;
    p->sym = sym;
    p->live = calloc((size_t)g->nnodes + 1, 1);
    p->cls = calloc((size_t)g->nnodes + 1, 1);
    p->ncols = calloc((size_t)g->nnodes + 1, sizeof *p->ncols);
    if (!p->live || !p->cls || !p->ncols) {
        as_plan_free(p);
        return tj_set_error(TJ_ERR_NO_MEMORY, "attention_sm90: out of memory");
    }
    emit_mark_live_all(g, p->live);
    int ok = structure(p, why, why_size);
    for (int32_t id = 0; ok && id < g->nnodes; id++)
        if (p->live[id]) ok = classify(p, id, why, why_size);
    ok = ok && row_vectors(p, why, why_size) && stores(p, why, why_size) &&
         config(p, why, why_size);
    if (ok && g->ntensors + g->nscalars + g->nsyms + 3 > EMIT_MAX_PARAMS)
        ok = sched_no(why, why_size, "too many kernel parameters");
    if (!ok) as_plan_free(p);
    return TJ_OK;
}
