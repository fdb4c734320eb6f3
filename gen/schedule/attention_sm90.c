/*
 * attention_sm90.c — the Hopper schedule for attention-shaped graphs (the
 * plan and what it accepts: attention_sm90.h, attention_sm90_match.c).
 *
 * The kernel (one block per program, primitives in tj/sm90.cuh and
 * tj/sm90_attn.cuh):
 *  - warpgroup 0 is the producer: one thread loads the program's q tile
 *    once, then for every KV loop trip the k and the v tile into a ring of
 *    shared-memory stages (TMA, 128-byte swizzle, zero fill past the
 *    tensor's edges), k and v on their own "full" mbarriers so s = q.k^T
 *    starts before v lands; it gives its registers away (setmaxnreg);
 *  - warpgroups 1.. are consumers of 64 query rows each: s with wgmma
 *    from shared memory (SS), then the graph's own ops on the
 *    accumulator fragments (score modifications, masks, the online
 *    softmax; row reductions end in quad shuffles), p packed to 16-bit
 *    pairs in registers and acc += p.v with wgmma taking A from registers
 *    (RS); the stage is released once both products are done;
 *  - after the loops, the graph's epilogue per element and stores from
 *    registers, masked at the tensor's edges.
 * The loop bounds are the graph's: causal tiles above the diagonal are
 * never visited, and only the graph's masked loop pays for its masks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_sm90.h"
#include "frag.h"

_Static_assert((int)AS_ROW == (int)FRAG_ROW && (int)AS_COL == (int)FRAG_COL &&
                   (int)AS_FULL == (int)FRAG_FULL,
               "attention_sm90 holds values in the fragment layout of frag.h");

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
    int remap;     /* one block a program, longest q tiles first */
} ax;

static void line(ax *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(ax *x, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&x->out, "%*s%s\n", 2 * x->depth, "", buf);
}

static const ir_node *node(const ax *x, int32_t id) { return &x->g->nodes[id]; }

/* The register array (or scalar) that holds node id's values. Loop
 * results are their loop's carried arrays after the loop. */
static const char *base(const ax *x, int32_t id, char buf[64]) {
    const ir_node *n = node(x, id);
    if (n->op == IR_SCALAR_ARG)
        snprintf(buf, 64, "a_%s", x->g->scalars[n->index].name);
    else if (n->op == IR_LOOP_IV)
        snprintf(buf, 64, "iv%d", (int)n->in[0]);
    else if (n->op == IR_FOR_RESULT)
        snprintf(buf, 64, "c%d", (int)node(x, n->in[0])->loop->carried[n->index]);
    else if (n->op == IR_LOOP_CARRIED)
        snprintf(buf, 64, "c%d", (int)id);
    else
        snprintf(buf, 64, "%c%d", x->p->cls[id] == AS_SCALAR ? 's' : 'e', (int)id);
    return buf;
}

/* Node id's value at the current element: inside loops over t (8-column
 * block), h (upper / lower row) and c (column of the pair). */
static const char *at(const ax *x, int32_t id, char buf[96]) {
    char b[64];
    base(x, id, b);
    switch (x->p->cls[id]) {
    case AS_ROW: snprintf(buf, 96, "%s[h]", b); break;
    case AS_COL: snprintf(buf, 96, "%s[2 * t + c]", b); break;
    case AS_FULL: snprintf(buf, 96, "%s[4 * t + 2 * h + c]", b); break;
    default: snprintf(buf, 96, "%s", b); break;
    }
    return buf;
}

/* Values a thread holds of a node of class cls with n columns. */
static int count(int cls, int n) { return frag_count(cls, n); }

/* Open the element loops for class cls over n columns; returns how many
 * braces to close. The loops are unrolled: arrays stay registers. */
static int open_elems(ax *x, int cls, int n) {
    frag_open_elems(&x->out, x->depth, cls, n, "2");
    return 1;
}

static int is_binary(const ax *x, int32_t id, int sub) {
    const ir_node *n = node(x, id);
    return n->op == IR_BINARY && n->sub == sub && n->type.dtype == TJ_F32;
}

/* exp2((v - r) * c) with r and c the same along a row (the softmax's
 * exponent, max subtracted, log2 e applied) as one FMA, v * c - r * c, as
 * FlashAttention computes it: the rounding differs from the graph's two
 * steps by about 2^-24 of v * c. 1 when the pattern is there. */
int as_exp2_poly;
int as_o_smem;

static int exp2_fma(const ax *x, int32_t arg, char *out, size_t size) {
    if (!is_binary(x, arg, TJ_MUL)) return 0;
    const ir_node *m = node(x, arg);
    for (int k = 0; k < 2; k++) {
        int32_t sub = m->in[k], c = m->in[1 - k];
        int cc = x->p->cls[c];
        if (!is_binary(x, sub, TJ_SUB) || (cc != AS_SCALAR && cc != AS_ROW)) continue;
        int32_t v = node(x, sub)->in[0], r = node(x, sub)->in[1];
        int rc = x->p->cls[r];
        if (rc != AS_SCALAR && rc != AS_ROW) continue;
        char av[96], ar[96], ac[96];
        at(x, v, av);
        at(x, r, ar);
        at(x, c, ac);
        snprintf(out, size, "fmaf(%s, %s, -(%s * %s))", av, ac, ar, ac);
        return 1;
    }
    return 0;
}

/* The right-hand side of an elementwise or scalar op, operands at the
 * current element (or as scalars). */
static int rhs(const ax *x, int32_t id, char *out, size_t size) {
    const ir_node *n = node(x, id);
    char a[3][96] = {"", "", ""};
    const char *T = emit_reg_type(n->type.dtype);
    for (int k = 0; k < n->nin && k < 3; k++) at(x, n->in[k], a[k]);
    switch (n->op) {
    case IR_PROGRAM_ID: snprintf(out, size, "pid%d", n->index); break;
    case IR_NUM_PROGRAMS:   /* the graph's grid, which a persistent launch is not */
        if (x->persist) snprintf(out, size, "grid%d", n->index);
        else snprintf(out, size, "(int)gridDim.%c", "xyz"[n->index]);
        break;
    case IR_IOTA:
        /* rows of the program's tile: this thread's rrow (+8); columns:
         * the accumulator's 8t + 2(lane % 4) + c */
        snprintf(out, size, "(%s)(%s)", T,
                 n->type.rank == 2 && n->index == 0 ? "rrow + 8 * h" : "8 * t + qcol + c");
        break;
    case IR_UNARY:
        if (n->type.dtype == TJ_F32 && n->sub == TJ_EXP2) {
            char e[256];
            if (!exp2_fma(x, n->in[0], e, sizeof e)) snprintf(e, sizeof e, "%s", a[0]);
            int k = as_exp2_poly;
            if (k > 0 && x->p->cls[id] == AS_FULL)   /* t is a constant once unrolled */
                snprintf(out, size, "((t %% %d) == %d ? tj::poly_exp2(%s) : tj::fast_exp2(%s))", k,
                         k - 1, e, e);
            else snprintf(out, size, "tj::fast_exp2(%s)", e);
        } else if (n->type.dtype == TJ_F32 && n->sub == TJ_TANH) snprintf(out, size, "tj::fast_tanh(%s)", a[0]);
        else snprintf(out, size, emit_unary_fmt(n->sub), a[0]);
        break;
    default: return emit_elementwise_expr(x->g, id, a[0], a[1], a[2], out, size);
    }
    return 1;
}

/* Per-dim bases of a load or store: the coordinate times the tile's
 * extent along the dim (unless coordinates are element offsets). */
static void access_bases(ax *x, int32_t id, const char *pfx) {
    const ir_node *n = node(x, id);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = node(x, v)->type.rank;
    char c[64];
    for (int d = 0; d < t->rank; d++) {
        long long mult = 1;
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = k == 0 && rank == 2 ? x->p->bm : x->p->ncols[v];
        line(x, "const long long %s_b%d = (long long)%s * %lld;", pfx, d, base(x, n->in[d], c), mult);
    }
}

/* `inb` and `at` of element (li, lj) of a load's or store's tile. */
static void access_index(ax *x, int32_t id, const char *pfx, const char *li, const char *lj) {
    const ir_node *n = node(x, id);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = node(x, v)->type.rank;
    char cond[1024] = "true", addr[1024] = "0";
    size_t co = 4, ao = 1;
    for (int d = 0; d < t->rank && co < sizeof cond && ao < sizeof addr; d++) {
        const char *idx = "";
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d) idx = (rank == 2 && k == 0) ? li : lj;
        line(x, "const long long %s_o%d = %s_b%d%s%s;", pfx, d, pfx, d, idx[0] ? " + " : "", idx);
        co += (size_t)snprintf(cond + co, sizeof cond - co, " && %s_o%d >= 0 && %s_o%d < t_%s_d%d",
                               pfx, d, pfx, d, t->name, d);
        ao += (size_t)snprintf(addr + ao, sizeof addr - ao, " + %s_o%d * t_%s_s%d", pfx, d,
                               t->name, d);
    }
    line(x, "const bool inb = %s;", cond);
    line(x, "const long long at = %s;", addr);
}

/* A scalar: `const T s<id> = ...;` (a rank-0 load reads one element). */
static void scalar(ax *x, int32_t id) {
    const ir_node *n = node(x, id);
    char nm[64], r[1024];
    const char *T = emit_reg_type(n->type.dtype);
    base(x, id, nm);
    if (n->op == IR_SCALAR_ARG || n->op == IR_LOOP_IV) return;
    if (n->op == IR_LOAD) {
        const ir_tensor *t = &x->g->tensors[n->tensor];
        char pfx[32], pad[64];
        snprintf(pfx, sizeof pfx, "L%d", (int)id);
        emit_literal(t->dtype, n->f, pad, sizeof pad);
        line(x, "%s %s;", T, nm);
        line(x, "{");
        x->depth++;
        access_bases(x, id, pfx);
        access_index(x, id, pfx, "0", "0");
        line(x, "%s = inb ? tjg::ld(t_%s + at) : %s;", nm, t->name, pad);
        x->depth--;
        line(x, "}");
        return;
    }
    if (rhs(x, id, r, sizeof r)) line(x, "const %s %s = %s; (void)%s;", T, nm, r, nm);
}

/* Fill array `dst` (class cls, n columns) with node src at each element. */
static void fill(ax *x, const char *dst, int cls, int n, int32_t src) {
    char a[96];
    at(x, src, a);
    open_elems(x, cls, n);
    line(x, "  %s[%s] = %s;", dst,
         cls == AS_ROW ? "h" : cls == AS_COL ? "2 * t + c" : "4 * t + 2 * h + c", a);
    line(x, "}");
}

static void reduce(ax *x, int32_t id) {
    const ir_node *n = node(x, id);
    char in[64];
    base(x, n->in[0], in);
    frag_reduce(&x->out, x->depth, id, n->sub, in, x->p->ncols[n->in[0]], "2", "tj::sm90::quad_", 1);
}

/* An ordinary tile value (row, column or full): an array of the thread's
 * elements, computed element by element. */
static void tile(ax *x, int32_t id) {
    const ir_node *n = node(x, id);
    if (n->op == IR_FOR_RESULT || n->op == IR_LOOP_CARRIED) return;
    if (n->op == IR_REDUCE) {
        reduce(x, id);
        return;
    }
    int cls = x->p->cls[id], nc = x->p->ncols[id];
    char r[1024];
    if (!rhs(x, id, r, sizeof r)) return;
    line(x, "%s e%d[%d];", emit_reg_type(n->type.dtype), (int)id, count(cls, nc));
    open_elems(x, cls, nc);
    line(x, "  e%d[%s] = %s;", (int)id,
         cls == AS_ROW ? "h" : cls == AS_COL ? "2 * t + c" : "4 * t + 2 * h + c", r);
    line(x, "}");
}

static void value(ax *x, int32_t id) {
    if (!x->p->live[id] || as_special(x->p, id)) return;
    const ir_node *n = node(x, id);
    if (n->op == IR_FOR || n->op == IR_STORE) return;
    if (x->p->cls[id] == AS_SCALAR) scalar(x, id);
    else tile(x, id);
}

static const char *ty(const ax *x) { return x->p->dtype == TJ_BF16 ? "bf16" : "f16"; }

/* Issue (and commit) dst += a . v of stage `st`: wgmma RS, a the packed
 * p fragments, v N-major (d contiguous). dst is the plan's accumulator:
 * the loop's carried array when pipelined, else the product's own. */
static void pv_issue(ax *x, const char *a, const char *st, const char *ph, int commit) {
    const as_plan *p = x->p;
    char dst[32];
    snprintf(dst, sizeof dst, "%c%d", x->pipe ? 'c' : 'e', (int)x->pacc);
    line(x, "tj::sm90::mbar_wait(bar_v + 8 * %s, %s);", st, ph);
    line(x, "const unsigned svp = sbase + Q_BYTES + %s * (2 * KV_BYTES) + KV_BYTES;", st);
    line(x, "tj::sm90::wgmma_fence();");
    line(x, "#pragma unroll");
    line(x, "for (int kk = 0; kk < BN / 16; ++kk) {");
    line(x, "  const unsigned a[4] = {%s[4 * kk], %s[4 * kk + 1], %s[4 * kk + 2], %s[4 * kk + 3]};",
         a, a, a, a);
    line(x, "  tj::sm90::wgmma_%s_m64n%dk16_rs<1>(%s, a,", ty(x), p->d, dst);
    line(x, "      tj::sm90::desc_sw128(svp + kk * 2048, BN * 128, 1024));");
    line(x, "}");
    if (commit) line(x, "tj::sm90::wgmma_commit();");
}

/* Before this trip first reads the accumulator: wait for the pending
 * p.v, give its v stage back. */
static void pv_drain(ax *x) {
    if (x->drained) return;
    x->drained = 1;
    /* The wait on every path, not only when a product is pending: see
     * s_product. */
    line(x, "tj::sm90::wgmma_wait<0>();   // the pending p.v, before the accumulator is read");
    line(x, "tj::sm90::pin_all(c%d);", (int)x->pacc);
    line(x, "if (pend && lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * pstage);   // v is read");
    line(x, "pend = false;");
}

/* After a pipelined loop: its last p.v. */
static void pv_flush(ax *x) {
    line(x, "if (pend) {   // the loop's last p.v");
    x->depth++;
    pv_issue(x, "pp", "pstage", "pphase", 1);
    line(x, "tj::sm90::wgmma_wait<0>();");
    line(x, "tj::sm90::pin_all(c%d);", (int)x->pacc);
    line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * pstage);   // v is read");
    line(x, "pend = false;");
    x->depth--;
    line(x, "}");
}

/* Whether a KV loop can be software-pipelined: acc' = p.v + C, with C
 * computed from the carried acc by ops nothing else in the loop reads,
 * and the product read by nothing but the yield of acc. Then the
 * product of trip j may finish during trip j + 1's s and softmax: acc is
 * only read again (for C) after the wait. dep marks the nodes that read
 * acc; *acc the carried node. */
static int pipeline_plan(const ax *x, const as_loop *L, const ir_loop *lp, uint8_t *dep,
                         int32_t *acc) {
    int ky = -1;
    for (int k = 0; k < lp->ncarried; k++) {
        if (lp->yields[k] != L->omma) continue;
        if (ky >= 0) return 0;
        ky = k;
    }
    if (ky < 0) return 0;
    memset(dep, 0, (size_t)x->g->nnodes + 1);
    dep[lp->carried[ky]] = 1;
    for (int b = 0; b < lp->nbody; b++) {
        int32_t id = lp->body[b];
        const ir_node *n = node(x, id);
        for (int k = 0; k < n->nin && id != L->omma; k++)
            if (dep[n->in[k]]) dep[id] = 1;
    }
    if (dep[L->smma] || dep[L->pcast] || dep[L->kload] || dep[L->vload]) return 0;
    for (int b = 0; b < lp->nbody; b++) {
        int32_t id = lp->body[b];
        const ir_node *n = node(x, id);
        if (!x->p->live[id] || dep[id]) continue;
        for (int k = 0; k < n->nin; k++) {
            if (dep[n->in[k]] && !(id == L->omma && k == 2)) return 0;
            if (n->in[k] == L->omma) return 0;
        }
    }
    for (int k = 0; k < lp->ncarried; k++)
        if (k != ky && (dep[lp->yields[k]] || lp->yields[k] == L->omma)) return 0;
    *acc = lp->carried[ky];
    return 1;
}

/* s = q . k^T for this warpgroup's 64 rows: wgmma SS, both operands
 * K-major (d contiguous) in 128-byte-swizzled chunks of 64 columns. In a
 * pipelined loop the previous trip's p.v is issued right behind it, and
 * the thread waits for s only: the softmax below runs while the tensor
 * cores finish p.v (FlashAttention-3's intra-warpgroup overlap). With two
 * consumer warpgroups the issues take turns (named barriers 1 and 2), so
 * one warpgroup's softmax runs under the other's products (ping-pong).
 * The k stage goes back to the producer as soon as s is done. */
static void s_product(ax *x, const as_loop *L) {
    const as_plan *p = x->p;
    int pp = x->pipe && p->nwg == 2;
    line(x, "float e%d[%d];", (int)L->smma, p->bn / 2);
    line(x, "#pragma unroll");
    line(x, "for (int r = 0; r < %d; ++r) e%d[r] = 0.0f;", p->bn / 2, (int)L->smma);
    line(x, "tj::sm90::mbar_wait(bar_k + 8 * stage, phase);");
    if (pp) line(x, "tj::sm90::named_barrier(1 + cw, 256);   // this warpgroup's turn to issue");
    line(x, "tj::sm90::wgmma_fence();");
    line(x, "#pragma unroll");
    line(x, "for (int kk = 0; kk < D / 16; ++kk)");
    line(x, "  tj::sm90::wgmma_%s_m64n%dk16<0, 0>(e%d,", ty(x), p->bn, (int)L->smma);
    line(x, "      tj::sm90::desc_sw128(sq + (kk / 4) * (BM * 128) + cw * (64 * 128) + (kk %% 4) * 32, 16, 1024),");
    line(x, "      tj::sm90::desc_sw128(sk + (kk / 4) * (BN * 128) + (kk %% 4) * 32, 16, 1024), 1);");
    line(x, "tj::sm90::wgmma_commit();");
    if (x->pipe) {
        /* Its own commit group, empty on the first trip, so waiting for
         * all but one group is waiting for s on every path (ptxas
         * serializes wgmma when some path reads an accumulator early). */
        line(x, "if (pend) {   // the previous trip's p.v, behind s");
        x->depth++;
        pv_issue(x, "pp", "pstage", "pphase", 0);
        x->depth--;
        line(x, "}");
        line(x, "tj::sm90::wgmma_commit();");
        if (pp) line(x, "tj::sm90::named_arrive(2 - cw, 256);   // the other warpgroup's turn");
        line(x, "tj::sm90::wgmma_wait<1>();");
    } else {
        line(x, "tj::sm90::wgmma_wait<0>();");
    }
    line(x, "tj::sm90::pin_all(e%d);", (int)L->smma);
    line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_kfree + 8 * stage);   // k is read");
}

/* p as 16-bit pairs: register i holds p's elements 2i and 2i+1, which
 * is wgmma's A fragment for k-step i / 4 (tj/sm90_attn.cuh). */
static void p_pack(ax *x, const as_loop *L) {
    char in[64];
    base(x, node(x, L->pcast)->in[0], in);
    line(x, "unsigned e%d[%d];   // p, packed for wgmma's A", (int)L->pcast, x->p->bn / 4);
    line(x, "#pragma unroll");
    line(x, "for (int r = 0; r < %d; ++r)", x->p->bn / 4);
    line(x, "  e%d[r] = tj::sm90::pack_pair<%s>(%s[2 * r], %s[2 * r + 1]);", (int)L->pcast,
         emit_mem_type(x->p->dtype), in, in);
}

/* acc' = p . v + acc: wgmma RS, v N-major (d contiguous); then the v
 * stage goes back to the producer. In a pipelined loop the product is
 * only recorded here (its C operand becomes the carried accumulator, p
 * and the stage are kept) and issued behind the next trip's s, or after
 * the loop (pv_flush). */
static void o_product(ax *x, const as_loop *L) {
    const as_plan *p = x->p;
    int32_t acc = node(x, L->omma)->in[2];
    char dst[32];
    snprintf(dst, sizeof dst, "e%d", (int)L->omma);
    line(x, "float e%d[%d];", (int)L->omma, p->d / 2);
    fill(x, dst, AS_FULL, p->d, acc);
    if (x->pipe) {
        line(x, "#pragma unroll");
        line(x, "for (int r = 0; r < %d; ++r) pp[r] = e%d[r];", p->bn / 4, (int)L->pcast);
        line(x, "pstage = stage;");
        line(x, "pphase = phase;");
        line(x, "pend = true;");
        return;
    }
    char a[32];
    snprintf(a, sizeof a, "e%d", (int)L->pcast);
    x->pacc = L->omma;
    pv_issue(x, a, "stage", "phase", 1);
    line(x, "tj::sm90::wgmma_wait<0>();");
    line(x, "tj::sm90::pin_all(e%d);", (int)L->omma);
    line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * stage);   // v is read");
}

static void loop_head(ax *x, int32_t f) {
    const ir_node *n = node(x, f);
    char lo[96], hi[96], st[96];
    at(x, n->in[0], lo);
    at(x, n->in[1], hi);
    at(x, n->in[2], st);
    line(x, "for (%s iv%d = %s; iv%d < %s; iv%d += %s) {", emit_reg_type(node(x, n->in[0])->type.dtype),
         (int)f, lo, (int)f, hi, (int)f, st);
}

static const as_loop *loop_of(const ax *x, int32_t f) {
    for (int i = 0; i < x->p->nloops; i++)
        if (x->p->loops[i].node == f) return &x->p->loops[i];
    return NULL;
}

static void consumer_loop(ax *x, int32_t f) {
    const as_loop *L = loop_of(x, f);
    const ir_loop *lp = node(x, f)->loop;
    const ir_node *fn = node(x, f);
    /* One consumer warpgroup (block_m 64): ptxas serializes the
     * conditional p.v issue there (C7520), so it keeps the plain loop. */
    int plan = pipeline_plan(x, L, lp, x->pdep, &x->pacc);
    x->pipe = x->p->nwg == 2 && plan;
    line(x, "// KV loop %d: %s", (int)f,
         x->pipe ? "pipelined (p.v finishes under the next s and softmax)"
         : plan  ? "not pipelined (one consumer warpgroup)"
                 : "not pipelined (the accumulator is read in the loop)");
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "c%d", (int)c);
        line(x, "float c%d[%d];", (int)c, count(x->p->cls[c], x->p->ncols[c]));
        fill(x, dst, x->p->cls[c], x->p->ncols[c], fn->in[3 + k]);
    }
    loop_head(x, f);
    x->depth++;
    line(x, "(void)iv%d;", (int)f);
    line(x, "const unsigned sk = sbase + Q_BYTES + stage * (2 * KV_BYTES);");
    x->drained = 0;
    for (int k = 0; k < lp->nbody; k++) {
        int32_t id = lp->body[k];
        if (x->pipe && (id == L->omma || (x->pdep[id] && x->p->live[id]))) pv_drain(x);
        if (id == L->smma) s_product(x, L);
        else if (id == L->pcast) p_pack(x, L);
        else if (id == L->omma) o_product(x, L);
        else value(x, id);
    }
    /* All yields first, then the carried values: a yield may read them. */
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "y%d", k);
        line(x, "float y%d[%d];", k, count(x->p->cls[c], x->p->ncols[c]));
        fill(x, dst, x->p->cls[c], x->p->ncols[c], lp->yields[k]);
    }
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        line(x, "#pragma unroll");
        line(x, "for (int r = 0; r < %d; ++r) c%d[r] = y%d[r];",
             count(x->p->cls[c], x->p->ncols[c]), (int)c, k);
    }
    line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
    x->depth--;
    line(x, "}");
    if (x->pipe) pv_flush(x);
    x->pipe = 0;
}

/* 1 when a [BM, D] tile store may write each thread's column pair
 * (8t + qcol, +1) as one 32-bit store: a 16-bit tensor, the tile's
 * columns along its contiguous last dim of constant even extent, every
 * other stride even and the base 4-byte aligned (so an even column is
 * a 4-byte address), and the column base even. The pair is in or out of
 * bounds together then. Half the store instructions of the epilogue,
 * which short sequences feel (a 128 x 128 o tile is 64 stores a thread
 * one by one). */
static int pair_store(const ax *x, const ir_node *n) {
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int r = t->rank, last = r - 1;
    if ((t->dtype != TJ_BF16 && t->dtype != TJ_F16) || t->align < 4 || n->axes[1] != last ||
        tj_dim_is_sym(t->dims[last]) || t->dims[last] % 2)
        return 0;
    for (int d = 0; d < last && t->has_strides; d++)
        if (tj_dim_is_sym(t->strides[d]) || t->strides[d] % 2) return 0;
    if (t->has_strides && (tj_dim_is_sym(t->strides[last]) || t->strides[last] != 1)) return 0;
    if (n->flags & TJ_COORD_ELEMENT) {
        const ir_node *c = node(x, n->in[last]);
        if (c->op != IR_CONST || (int64_t)c->f % 2) return 0;
    }
    return 1;
}

/* 1 when a [BM, D] tile store may go through the staging region 16
 * bytes a thread: a pair store (above), unmasked, 16-byte aligned base,
 * every other stride a multiple of 8 elements, the column base too. */
static int staged_store(const ax *x, const ir_node *n) {
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int last = t->rank - 1;
    if (!x->p->o_bytes || !pair_store(x, n) || (n->flags & IR_STORE_MASKED) || t->align < 16 ||
        t->dims[last] % 8)
        return 0;
    for (int d = 0; d < last && t->has_strides; d++)
        if (t->strides[d] % 8) return 0;
    if (n->flags & TJ_COORD_ELEMENT) {
        const ir_node *c = node(x, n->in[last]);
        if ((int64_t)c->f % 8) return 0;
    }
    return 1;
}

/* o through shared memory: the warp's [16, D] slab written by stmatrix
 * (8x8 blocks (t, h) and (t+1, h) of the accumulator layout, 16-byte
 * chunks swizzled by row), then read back a chunk a lane, consecutive
 * lanes along a row, and stored 16 bytes at a time. Only the warp reads
 * its slab: __syncwarp orders it. */
static void store_staged(ax *x, int32_t id, const char *pfx) {
    const ir_node *n = node(x, id);
    char v0[96], v1[96];
    int32_t val = n->in[n->nin - 1];
    const int pitch = x->p->d * 2, chunks = x->p->d / 8;
    line(x, "const unsigned ow = so + (unsigned)((cw * 4 + w4) * 16 * %d);", pitch);
    line(x, "#pragma unroll");
    line(x, "for (int t = 0; t < %d; t += 2) {", chunks);
    x->depth++;
    line(x, "unsigned r[4];");
    line(x, "#pragma unroll");
    line(x, "for (int m = 0; m < 4; ++m) {");
    x->depth++;
    line(x, "const int tt = t + (m >> 1), h = m & 1; (void)h;");
    /* the values at (tt, h, c = 0 / 1): at() names t, h and c */
    line(x, "float a, b;");
    line(x, "{ const int t = tt, c = 0; a = %s; }", at(x, val, v0));
    line(x, "{ const int t = tt, c = 1; b = %s; }", at(x, val, v1));
    line(x, "r[m] = tj::sm90::pack_pair<%s>(a, b);",
         x->g->tensors[n->tensor].dtype == TJ_BF16 ? "tj::bf16" : "tj::f16");
    x->depth--;
    line(x, "}");
    line(x, "const int mrow = 8 * ((lane >> 3) & 1) + (lane & 7), mch = t + (lane >> 4);");
    line(x, "tj::sm90::stmatrix_x4(ow + (unsigned)(mrow * %d + ((mch ^ (mrow & 7)) << 4)), r);", pitch);
    x->depth--;
    line(x, "}");
    line(x, "__syncwarp();");
    line(x, "#pragma unroll");
    line(x, "for (int i = 0; i < %d; ++i) {", 16 * chunks / 32);
    x->depth++;
    line(x, "const int idx = i * 32 + lane, orow = idx / %d, och = idx %% %d;", chunks, chunks);
    line(x, "const uint4 val = tj::sm90::lds128(ow + (unsigned)(orow * %d + ((och ^ (orow & 7)) << 4)));", pitch);
    access_index(x, id, pfx, "(cw * 64 + w4 * 16 + orow)", "(8 * och)");
    line(x, "if (inb) *reinterpret_cast<uint4 *>(t_%s + at) = val;", x->g->tensors[n->tensor].name);
    x->depth--;
    line(x, "}");
    line(x, "__syncwarp();");
}

static void store(ax *x, int32_t id) {
    const ir_node *n = node(x, id);
    char pfx[32], v[96];
    snprintf(pfx, sizeof pfx, "S%d", (int)id);
    int32_t val = n->in[n->nin - 1];
    /* A row vector ([bm], say lse): the quad's four threads hold each of
     * their rows; the first writes it. */
    int rowvec = x->p->cls[val] == AS_ROW;
    line(x, "{ // store %s", x->g->tensors[n->tensor].name);
    x->depth++;
    access_bases(x, id, pfx);
    if (!rowvec && staged_store(x, n)) {
        store_staged(x, id, pfx);
        x->depth--;
        line(x, "}");
        return;
    }
    if (!rowvec && pair_store(x, n)) {
        line(x, "#pragma unroll");
        line(x, "for (int t = 0; t < %d; ++t)", x->p->d / 8);
        line(x, "#pragma unroll");
        line(x, "for (int h = 0; h < 2; ++h) {   // a column pair a store");
        x->depth++;
        access_index(x, id, pfx, "(rrow + 8 * h)", "(8 * t + qcol)");
        char m[128] = "", mv[96];
        if (n->flags & IR_STORE_MASKED)
            snprintf(m, sizeof m, " && %s", at(x, n->in[n->nin - 2], mv));
        line(x, "float v0, v1;");
        line(x, "{ const int c = 0; v0 = %s; }", at(x, val, v));
        line(x, "{ const int c = 1; v1 = %s; }", at(x, val, v));
        line(x, "if (inb%s) tj::sm90::st_pair(t_%s + at, v0, v1);", m,
             x->g->tensors[n->tensor].name);
        x->depth--;
        line(x, "}");
        x->depth--;
        line(x, "}");
        return;
    }
    open_elems(x, rowvec ? AS_ROW : AS_FULL, x->p->d);
    x->depth++;
    if (rowvec) access_index(x, id, pfx, "0", "(rrow + 8 * h)");
    else access_index(x, id, pfx, "(rrow + 8 * h)", "(8 * t + qcol + c)");
    char m[128] = "", mv[96];
    if (n->flags & IR_STORE_MASKED)   /* tj_store_masked: rows past a packed sequence's end */
        snprintf(m, sizeof m, " && %s", at(x, n->in[n->nin - 2], mv));
    line(x, "if (inb%s%s) tjg::st(t_%s + at, %s);", rowvec ? " && qcol == 0" : "", m,
         x->g->tensors[n->tensor].name, at(x, val, v));
    x->depth--;
    line(x, "}");
    x->depth--;
    line(x, "}");
}

/* 1 when node id's value depends on program id 0 (the q tile), or
 * (what 1) on a tensor load. */
static int depends(const ax *x, int32_t id, int what) {
    const ir_node *n = node(x, id);
    if (what == 0 && n->op == IR_PROGRAM_ID) return n->index == 0;
    if (what == 1 && n->op == IR_LOAD) return 1;
    for (int k = 0; k < n->nin; k++)
        if (depends(x, n->in[k], what)) return 1;
    return 0;
}

/* What a KV loop's trip count depends on (what as for depends). */
static int bounds_depend(const ax *x, int what) {
    for (int i = 0; i < x->p->nloops; i++) {
        const ir_node *f = node(x, x->p->loops[i].node);
        if (depends(x, f->in[0], what) || depends(x, f->in[1], what)) return 1;
    }
    return 0;
}

/* Which programs a block runs. When every program has the same work: a
 * persistent walk, this block's programs a grid's stride apart, a
 * (head, batch)'s q tiles together so the blocks running at once share
 * k and v in L2. When the work grows with the q tile (causal bounds):
 * one block a program. With many q tiles a head (LONGEST_FIRST_TILES),
 * the longest go first (the last q tile of every head and batch, then
 * the one before...), so the hardware's dispatch of blocks to SMs as
 * they free up balances the tail; with fewer, the graph's order, whose
 * neighbouring blocks share a head's k and v in L2. Measured on the
 * H200 (causal, two runs): longest-first gained 2.5 % at N 16384 (d
 * 128, 128 q tiles), tied at 8192, and lost 3-9 % at N <= 4096 (d 64
 * and 128); a static persistent stride in that order was 3-7 % slower
 * still, and one over head-grouped programs much slower (N 16384: 578
 * -> 406 TFLOP/s). Bounds read from memory (packed sequences) have no
 * order to exploit: the graph's (x->remap 0). */
#define LONGEST_FIRST_TILES 128
static void walk_open(ax *x) {
    if (x->persist) {
        line(x, "for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {");
        x->depth++;
        line(x, "const int pid0 = grid0 - 1 - (int)(tile %% grid0);");
        line(x, "const int pid1 = (int)((tile / grid0) %% grid1), pid2 = (int)(tile / ((long long)grid0 * grid1));");
    } else if (x->remap) {
        line(x, "{   // one program; with many q tiles, the longest q tiles first");
        x->depth++;
        line(x, "const bool lf = gridDim.x >= %d;", LONGEST_FIRST_TILES);
        line(x, "const long long lin = blockIdx.x + (long long)gridDim.x * (blockIdx.y + (long long)gridDim.y * blockIdx.z);");
        line(x, "const long long hb = (long long)gridDim.y * gridDim.z;");
        line(x, "const int pid0 = lf ? (int)gridDim.x - 1 - (int)(lin / hb) : (int)blockIdx.x;");
        line(x, "const int pid1 = lf ? (int)(lin %% gridDim.y) : (int)blockIdx.y;");
        line(x, "const int pid2 = lf ? (int)((lin %% hb) / gridDim.y) : (int)blockIdx.z;");
    } else {
        line(x, "{   // one program: this block's");
        x->depth++;
        line(x, "const int pid0 = blockIdx.x, pid1 = blockIdx.y, pid2 = blockIdx.z;");
    }
    line(x, "(void)pid0; (void)pid1; (void)pid2;");
}

static void walk_close(ax *x) {
    x->depth--;
    line(x, "}");
}

static void consumer(ax *x) {
    const tj_graph *g = x->g;
    if (x->p->nwg == 2) line(x, "tj::sm90::regs_take<240>();");
    line(x, "const int cw = wg - 1, wl = tid & 127, w4 = wl >> 5, lane = tid & 31;");
    line(x, "const int rrow = cw * 64 + w4 * 16 + (lane >> 2);   // this thread's first row");
    line(x, "const int qcol = 2 * (lane & 3);                    // and first column");
    line(x, "(void)rrow; (void)qcol;");
    line(x, "int stage = 0;");
    line(x, "unsigned phase = 0;");
    line(x, "unsigned pp[%d];   // the pending p.v of a pipelined loop: p, its stage", x->p->bn / 4);
    line(x, "int pstage = 0;");
    line(x, "unsigned pphase = 0;");
    line(x, "bool pend = false;");
    line(x, "(void)pp; (void)pstage; (void)pphase; (void)pend;");
    line(x, "unsigned qphase = 0;");
    if (x->p->nwg == 2)
        line(x, "if (cw == 1) tj::sm90::named_arrive(1, 256);   // warpgroup 0 issues first");
    int last = 0;
    for (int k = 0; k < g->nbody; k++)
        if (node(x, g->body[k])->op == IR_FOR) last = k;
    walk_open(x);
    line(x, "tj::sm90::mbar_wait(bar_q, qphase);");
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(x, id);
        if (n->op == IR_FOR) consumer_loop(x, id);
        else if (n->op == IR_STORE) store(x, id);
        else value(x, id);
        if (k == last) {
            /* q is read by the products only: the producer may load the
             * next program's while this one's epilogue runs */
            line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_qfree);   // q is read");
            line(x, "qphase ^= 1;");
        }
    }
    walk_close(x);
}

/* The copy engine's load of one [rows, 64] chunk of a q / k / v tile:
 * coordinates innermost first, the tile's rows and column chunk on their
 * dims, every other dim at its (extent 1) coordinate. */
static void tma_load(ax *x, int32_t ld, const char *map, const char *dst, const char *bar,
                     int rows, int ch) {
    const ir_node *n = node(x, ld);
    int rank = x->g->tensors[n->tensor].rank;
    int el = (n->flags & TJ_COORD_ELEMENT) != 0;
    char args[512] = "";
    size_t o = 0;
    for (int i = 0; i < rank && o < sizeof args; i++) {
        int d = rank - 1 - i;
        char c[64];
        base(x, n->in[d], c);
        int mult = el ? 1 : d == n->axes[0] ? rows : d == n->axes[1] ? x->p->d : 1;
        if (d == n->axes[1])
            o += (size_t)snprintf(args + o, sizeof args - o, ", (int)(%s * %d + %d)", c, mult, ch * 64);
        else
            o += (size_t)snprintf(args + o, sizeof args - o, ", (int)(%s * %d)", c, mult);
    }
    line(x, "tj::sm90::tma_load_%dd(%s + %d, &%s, %s%s);", rank, dst, ch * rows * 128, map, bar,
         args);
}

static void producer(ax *x) {
    const as_plan *p = x->p;
    const tj_graph *g = x->g;
    if (p->nwg == 2) line(x, "tj::sm90::regs_release<24>();");
    line(x, "if (tid == 0) {");
    x->depth++;
    line(x, "tj::sm90::tma_prefetch(&tm_q);");
    line(x, "tj::sm90::tma_prefetch(&tm_k);");
    line(x, "tj::sm90::tma_prefetch(&tm_v);");
    line(x, "int stage = 0;");
    line(x, "unsigned phase = 0, qphase = 0;");
    walk_open(x);
    int q_done = 0;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(x, id);
        if (n->op != IR_FOR) {
            if (p->live[id] && p->cls[id] == AS_SCALAR && n->op != IR_STORE) scalar(x, id);
            continue;
        }
        if (!q_done) {   /* the q tile's coordinates are scalars built before the loops */
            line(x, "tj::sm90::mbar_wait(bar_qfree, qphase ^ 1);   // the last program's q is read");
            line(x, "qphase ^= 1;");
            line(x, "tj::sm90::mbar_expect_tx(bar_q, Q_BYTES);");
            for (int ch = 0; ch < p->d / 64; ch++)
                tma_load(x, p->qload, "tm_q", "sq", "bar_q", p->bm, ch);
            q_done = 1;
        }
        const as_loop *L = loop_of(x, id);
        const ir_loop *lp = n->loop;
        loop_head(x, id);
        x->depth++;
        for (int b = 0; b < lp->nbody; b++) {
            int32_t bid = lp->body[b];
            if (p->live[bid] && p->cls[bid] == AS_SCALAR) scalar(x, bid);
        }
        line(x, "const unsigned sk = sbase + Q_BYTES + stage * (2 * KV_BYTES), sv = sk + KV_BYTES;");
        line(x, "tj::sm90::mbar_wait(bar_kfree + 8 * stage, phase ^ 1);");
        line(x, "tj::sm90::mbar_expect_tx(bar_k + 8 * stage, KV_BYTES);");
        for (int ch = 0; ch < p->d / 64; ch++)
            tma_load(x, L->kload, "tm_k", "sk", "bar_k + 8 * stage", p->bn, ch);
        line(x, "tj::sm90::mbar_wait(bar_vfree + 8 * stage, phase ^ 1);");
        line(x, "tj::sm90::mbar_expect_tx(bar_v + 8 * stage, KV_BYTES);");
        for (int ch = 0; ch < p->d / 64; ch++)
            tma_load(x, L->vload, "tm_v", "sv", "bar_v + 8 * stage", p->bn, ch);
        line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
        x->depth--;
        line(x, "}");
    }
    walk_close(x);
    x->depth--;
    line(x, "}");
}

/* A tensor map of a q / k / v tile: boxes of [rows, 64] (one 128-byte
 * swizzle line a row), extent 1 on the dims the tile does not cover. */
static emit_param tmap_param(const ax *x, const as_operand *o, int rows) {
    const ir_tensor *t = &x->g->tensors[o->tensor];
    emit_param q = {.kind = EMIT_PARAM_TENSORMAP, .index = o->tensor, .ctype = EMIT_C_TMAP,
                    .size = 128};
    q.tmap.rank = t->rank;
    for (int i = 0; i < t->rank; i++) {
        int d = t->rank - 1 - i;
        q.tmap.box[i] = d == t->rank - 1 ? 64u : d == o->row_dim ? (uint32_t)rows : 1u;
    }
    q.tmap.swizzle = 128;
    q.tmap.l2_promotion = 256;
    return q;
}

static void signature(ax *x, emit_launch *L) {
    const tj_graph *g = x->g;
    const as_plan *p = x->p;
    sb_printf(&x->out, "extern \"C\" __global__ void __launch_bounds__(%d, 1)\ntj_%s(", p->threads,
              g->name);
    int np = emit_sched_params(&x->out, g, p->sym, NULL, L);
    const as_operand *ops[3] = {&p->q, &p->k, &p->v};
    for (int k = 0; k < 3; k++) {
        sb_printf(&x->out, ", const __grid_constant__ tj::sm90::tmap tm_%c", "qkv"[k]);
        L->params[np++] = tmap_param(x, ops[k], k ? p->bn : p->bm);
    }
    for (int d = 0; d < 3 && x->persist; d++) {
        sb_printf(&x->out, ", int grid%d", d);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_GRID, .index = d, .ctype = EMIT_C_I32,
                                       .size = 4};
    }
    sb_printf(&x->out, ") {\n");
    L->nparams = np;
}

/* Baked symbols, tensor dims and strides (true values), scalar arguments. */
static void prologue(ax *x) {
    emit_sched_prologue(&x->out, x->depth, x->g, x->p->sym);
    if (x->persist) line(x, "const long long ntiles = (long long)grid0 * grid1 * grid2;");
}

static tj_status kernel(ax *x, emit_launch *L) {
    const as_plan *p = x->p;
    const tj_graph *g = x->g;
    char hash[65];
    tj_status st = tj_graph_hash(g, hash);
    if (st != TJ_OK) return st;
    sb_printf(&x->out, "// tilejit attention_sm90 kernel for graph '%s' (sm_90a)\n// graph sha256 %s\n",
              g->name, hash);
    sb_printf(&x->out, "// q [%d,%d], k / v [%d,%d] %s, %d stages, %d consumer warpgroup%s, "
              "%d KV loop%s\n", p->bm, p->d, p->bn, p->d, ty(x), p->stages, p->nwg,
              p->nwg > 1 ? "s" : "", p->nloops, p->nloops > 1 ? "s" : "");
    sb_printf(&x->out, "#include \"tj/generic.cuh\"\n#include \"tj/sm90_attn.cuh\"\n\n");
    sb_printf(&x->out,
              "namespace {\nconstexpr int BM = %d, BN = %d, D = %d, STAGES = %d;\n"
              "constexpr unsigned Q_BYTES = %zu, KV_BYTES = %zu;\n}\n\n",
              p->bm, p->bn, p->d, p->stages, p->q_bytes, p->kv_bytes);
    signature(x, L);
    x->depth = 1;
    /* Shared memory: q, then STAGES x (k, v), all 1024-aligned (the
     * swizzle pattern's period); then the mbarriers. */
    line(x, "extern __shared__ __align__(1024) unsigned char tj_smem[];");
    line(x, "const int tid = threadIdx.x, wg = tid / 128;");
    line(x, "const unsigned sbase = (tj::sm90::smem_addr(tj_smem) + 1023u) & ~1023u;");
    line(x, "const unsigned sq = sbase;");
    line(x, "const unsigned bar_q = sbase + Q_BYTES + STAGES * (2 * KV_BYTES);");
    line(x, "const unsigned bar_k = bar_q + 8, bar_v = bar_k + 8 * STAGES;");
    line(x, "const unsigned bar_kfree = bar_v + 8 * STAGES, bar_vfree = bar_kfree + 8 * STAGES;");
    line(x, "const unsigned bar_qfree = bar_vfree + 8 * STAGES;");
    if (x->p->o_bytes)   /* o's staging region, a [16, D] slab a consumer warp */
        line(x, "const unsigned so = (bar_qfree + 8 + 1023u) & ~1023u;");
    line(x, "(void)sq;");
    prologue(x);
    line(x, "if (tid == 0) {");
    line(x, "  tj::sm90::mbar_init(bar_q, 1);");
    line(x, "  tj::sm90::mbar_init(bar_qfree, %d);   // lane 0 of each consumer warp", p->nwg * 4);
    line(x, "  for (int s = 0; s < STAGES; ++s) {");
    line(x, "    tj::sm90::mbar_init(bar_k + 8 * s, 1);");
    line(x, "    tj::sm90::mbar_init(bar_v + 8 * s, 1);");
    line(x, "    tj::sm90::mbar_init(bar_kfree + 8 * s, %d);   // lane 0 of each consumer warp",
         p->nwg * 4);
    line(x, "    tj::sm90::mbar_init(bar_vfree + 8 * s, %d);", p->nwg * 4);
    line(x, "  }");
    line(x, "  tj::sm90::fence_barrier_init();");
    line(x, "}");
    line(x, "__syncthreads();");
    line(x, "if (wg == 0) {");
    x->depth++;
    producer(x);
    x->depth--;
    line(x, "} else {");
    x->depth++;
    consumer(x);
    x->depth--;
    line(x, "}");
    x->depth = 0;
    sb_printf(&x->out, "}\n");
    if (x->out.oom) return tj_set_error(TJ_ERR_NO_MEMORY, "attention_sm90: out of memory");
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    L->threads = p->threads;
    L->smem_bytes = p->smem;
    L->grid_mode = x->persist ? EMIT_GRID_PERSISTENT : EMIT_GRID_GRAPH;
    L->grid_arg = 1;
    return TJ_OK;
}

tj_status sched_attention_sm90(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                               char **src, emit_launch *launch, char *why, size_t why_size) {
    *src = NULL;
    as_plan p;
    tj_status st = as_match(g, arch, sym_vals, &p, why, why_size);
    if (st != TJ_OK || !p.g) return st;
    ax x = {.p = &p, .g = g, .pdep = calloc((size_t)g->nnodes + 1, 1)};
    x.persist = !bounds_depend(&x, 0);
    x.remap = !x.persist && !bounds_depend(&x, 1);
    st = x.pdep ? kernel(&x, launch)
                : tj_set_error(TJ_ERR_NO_MEMORY, "attention_sm90: out of memory");
    free(x.pdep);
    if (st == TJ_OK) {
        *src = x.out.data;
        x.out.data = NULL;
    }
    sb_free(&x.out);
    as_plan_free(&p);
    return st;
}
