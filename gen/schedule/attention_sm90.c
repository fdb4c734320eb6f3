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
 *  - after the loops, the graph's epilogue per element and its stores,
 *    masked at the tensor's edges (attention_sm90_values.c).
 * The loop bounds are the graph's: causal tiles above the diagonal are
 * never visited, and only the graph's masked loop pays for its masks.
 * fp8 (e4m3 with v given transposed) differs in the products, p's packing
 * and the producer's permute of vt's keys: attention_sm90_fp8.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_sm90_emit.h"

_Static_assert((int)AS_ROW == (int)FRAG_ROW && (int)AS_COL == (int)FRAG_COL &&
                   (int)AS_FULL == (int)FRAG_FULL,
               "attention_sm90 holds values in the fragment layout of frag.h");



int as_exp2_poly;
int as_o_smem = -1;
int as_q_early = 1;
int as_causal_pairs = 1;

static const char *ty(const ax *x) {
    return x->p->fp8 ? "e4m3" : x->p->dtype == TJ_BF16 ? "bf16" : "f16";
}

/* 32-bit registers of packed p a thread: two 16-bit or four e4m3 elements each */
static int pregs(const ax *x) { return x->p->bn / (x->p->fp8 ? 8 : 4); }

/* Registers a thread after setmaxnreg: 240 a consumer with two consumer
 * warpgroups (168 at launch), 160 with three (128 at launch); the producer
 * keeps 24. fp8's permuting warps (permuters) need more: 40 beside
 * consumers of 232 (p packed four to a register leaves them room), 32
 * beside three warpgroups of 160 (64 K registers in all). */
static int consumer_regs(const as_plan *p) {
    return p->nwg == 2 ? (p->fp8 ? 232 : 240) : 160;
}
static int producer_regs(const as_plan *p) {
    return !p->fp8 ? 24 : p->nwg == 2 ? 40 : 32;
}

/* Issue (and commit) dst += a . v of stage `st`: wgmma RS, a the packed
 * p fragments, v N-major (d contiguous). dst is the plan's accumulator:
 * the loop's carried array when pipelined, else the product's own. */
static void pv_issue(ax *x, const char *a, const char *st, const char *ph, int commit) {
    const as_plan *p = x->p;
    char dst[32];
    snprintf(dst, sizeof dst, "%c%d", x->pipe ? 'c' : 'e', (int)x->pacc);
    if (p->fp8) {
        as_fp8_pv(x, a, st, ph, dst, commit);
        return;
    }
    as_line(x, "tj::sm90::mbar_wait(bar_v + 8 * %s, %s);", st, ph);
    as_line(x, "const unsigned svp = sbase + Q_BYTES + %s * (2 * KV_BYTES) + KV_BYTES;", st);
    as_line(x, "const unsigned long long dv = tj::sm90::desc_sw128(svp, BN * 128, 1024);");
    as_line(x, "tj::sm90::wgmma_fence();");
    as_line(x, "#pragma unroll");
    as_line(x, "for (int kk = 0; kk < BN / 16; ++kk) {");
    as_line(x, "  const unsigned a[4] = {%s[4 * kk], %s[4 * kk + 1], %s[4 * kk + 2], %s[4 * kk + 3]};",
         a, a, a, a);
    as_line(x, "  tj::sm90::wgmma_%s_m64n%dk16_rs<1>(%s, a, tj::sm90::desc_add(dv, kk * 2048));", ty(x),
         p->d, dst);
    as_line(x, "}");
    if (commit) as_line(x, "tj::sm90::wgmma_commit();");
}

/* Before this trip first reads the accumulator: wait for the pending
 * p.v, give its v stage back. */
static void pv_drain(ax *x) {
    if (x->drained) return;
    x->drained = 1;
    /* The wait on every path, not only when a product is pending: see
     * s_product. */
    as_line(x, "tj::sm90::wgmma_wait<0>();   // the pending p.v, before the accumulator is read");
    as_line(x, "tj::sm90::pin_all(c%d);", (int)x->pacc);
    as_line(x, "if (pend && lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * pstage);   // v is read");
    as_line(x, "pend = false;");
}

/* After a pipelined loop: its last p.v. */
static void pv_flush(ax *x) {
    as_line(x, "if (pend) {   // the loop's last p.v");
    x->depth++;
    pv_issue(x, "pp", "pstage", "pphase", 1);
    as_line(x, "tj::sm90::wgmma_wait<0>();");
    as_line(x, "tj::sm90::pin_all(c%d);", (int)x->pacc);
    as_line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * pstage);   // v is read");
    as_line(x, "pend = false;");
    x->depth--;
    as_line(x, "}");
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
        const ir_node *n = as_node(x, id);
        for (int k = 0; k < n->nin && id != L->omma; k++)
            if (dep[n->in[k]]) dep[id] = 1;
    }
    if (dep[L->smma] || dep[L->pcast] || dep[L->kload] || dep[L->vload]) return 0;
    for (int b = 0; b < lp->nbody; b++) {
        int32_t id = lp->body[b];
        const ir_node *n = as_node(x, id);
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
 * or three consumer warpgroups the issues take turns round the
 * warpgroups (named barrier 1 + w is warpgroup w's turn), so one
 * warpgroup's softmax runs under the others' products (ping-pong).
 * The k stage goes back to the producer as soon as s is done. */
static void s_product(ax *x, const as_loop *L) {
    const as_plan *p = x->p;
    int pp = x->pipe && p->nwg >= 2;
    /* No zeros written first: the first k-step's product ignores the
     * accumulator's registers (scale-d 0), which saves a move a register
     * every trip */
    as_line(x, "float e%d[%d];", (int)L->smma, p->bn / 2);
    as_line(x, "tj::sm90::mbar_wait(bar_k + 8 * stage, phase);");
    if (pp) as_line(x, "tj::sm90::named_barrier(1 + cw, 256);   // this warpgroup's turn to issue");
    if (p->fp8) {
        as_fp8_s(x, L);
    } else {
        as_line(x, "const unsigned long long dk = tj::sm90::desc_sw128(sk, 16, 1024);");
        as_line(x, "tj::sm90::wgmma_fence();");
        as_line(x, "#pragma unroll");
        as_line(x, "for (int kk = 0; kk < D / 16; ++kk)");
        as_line(x, "  tj::sm90::wgmma_%s_m64n%dk16<0, 0>(e%d,", ty(x), p->bn, (int)L->smma);
        as_line(x, "      tj::sm90::desc_add(dq, (kk / 4) * (BM * 128) + (kk %% 4) * 32),");
        as_line(x, "      tj::sm90::desc_add(dk, (kk / 4) * (BN * 128) + (kk %% 4) * 32), kk > 0);");
    }
    as_line(x, "tj::sm90::wgmma_commit();");
    if (x->pipe) {
        /* Its own commit group, empty on the first trip, so waiting for
         * all but one group is waiting for s on every path (ptxas
         * serializes wgmma when some path reads an accumulator early). */
        as_line(x, "if (pend) {   // the previous trip's p.v, behind s");
        x->depth++;
        pv_issue(x, "pp", "pstage", "pphase", 0);
        x->depth--;
        as_line(x, "}");
        as_line(x, "tj::sm90::wgmma_commit();");
        if (pp)
            as_line(x, "tj::sm90::named_arrive(1 + (cw + 1) %% %d, 256);   // the next warpgroup's turn",
                    p->nwg);
        as_line(x, "tj::sm90::wgmma_wait<1>();");
    } else {
        as_line(x, "tj::sm90::wgmma_wait<0>();");
    }
    as_line(x, "tj::sm90::pin_all(e%d);", (int)L->smma);
    as_line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_kfree + 8 * stage);   // k is read");
    if (x->qearly) {
        const ir_node *f = as_node(x, L->node);
        char hi[96], st[96];
        as_at(x, f->in[1], hi);
        as_at(x, f->in[2], st);
        as_line(x, "if (qlast%d && iv%d + %s >= %s && lane == 0)   // q's last read",
             (int)(L - x->p->loops), (int)L->node, st, hi);
        as_line(x, "  tj::sm90::mbar_arrive(bar_qfree);   // the next program's q loads under the epilogue");
    }
}

/* p as 16-bit pairs: register i holds p's elements 2i and 2i+1, which
 * is wgmma's A fragment for k-step i / 4 (tj/sm90_attn.cuh). */
static void p_pack(ax *x, const as_loop *L) {
    char in[64];
    as_base(x, as_node(x, L->pcast)->in[0], in);
    if (x->p->fp8) {
        as_fp8_p_pack(x, L, in);
        return;
    }
    as_line(x, "unsigned e%d[%d];   // p, packed for wgmma's A", (int)L->pcast, x->p->bn / 4);
    as_line(x, "#pragma unroll");
    as_line(x, "for (int r = 0; r < %d; ++r)", x->p->bn / 4);
    as_line(x, "  e%d[r] = tj::sm90::pack_pair<%s>(%s[2 * r], %s[2 * r + 1]);", (int)L->pcast,
         emit_mem_type(x->p->dtype), in, in);
}

/* acc' = p . v + acc: wgmma RS, v N-major (d contiguous); then the v
 * stage goes back to the producer. In a pipelined loop the product is
 * only recorded here (its C operand becomes the carried accumulator, p
 * and the stage are kept) and issued behind the next trip's s, or after
 * the loop (pv_flush). */
static void o_product(ax *x, const as_loop *L) {
    const as_plan *p = x->p;
    int32_t acc = as_node(x, L->omma)->in[2];
    char dst[32];
    snprintf(dst, sizeof dst, "e%d", (int)L->omma);
    as_line(x, "float e%d[%d];", (int)L->omma, p->d / 2);
    as_fill(x, dst, AS_FULL, p->d, acc);
    if (x->pipe) {
        as_line(x, "#pragma unroll");
        as_line(x, "for (int r = 0; r < %d; ++r) pp[r] = e%d[r];", pregs(x), (int)L->pcast);
        as_line(x, "pstage = stage;");
        as_line(x, "pphase = phase;");
        as_line(x, "pend = true;");
        return;
    }
    char a[32];
    snprintf(a, sizeof a, "e%d", (int)L->pcast);
    x->pacc = L->omma;
    pv_issue(x, a, "stage", "phase", 1);
    as_line(x, "tj::sm90::wgmma_wait<0>();");
    as_line(x, "tj::sm90::pin_all(e%d);", (int)L->omma);
    as_line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_vfree + 8 * stage);   // v is read");
}

void as_loop_head(ax *x, int32_t f) {
    const ir_node *n = as_node(x, f);
    char lo[96], hi[96], st[96];
    as_at(x, n->in[0], lo);
    as_at(x, n->in[1], hi);
    as_at(x, n->in[2], st);
    as_line(x, "for (%s iv%d = %s; iv%d < %s; iv%d += %s) {", emit_reg_type(as_node(x, n->in[0])->type.dtype),
         (int)f, lo, (int)f, hi, (int)f, st);
}

static const as_loop *loop_of(const ax *x, int32_t f) {
    for (int i = 0; i < x->p->nloops; i++)
        if (x->p->loops[i].node == f) return &x->p->loops[i];
    return NULL;
}

static void consumer_loop(ax *x, int32_t f) {
    const as_loop *L = loop_of(x, f);
    const ir_loop *lp = as_node(x, f)->loop;
    const ir_node *fn = as_node(x, f);
    /* One consumer warpgroup (block_m 64): ptxas serializes the
     * conditional p.v issue there (C7520), so it keeps the plain loop. */
    int plan = pipeline_plan(x, L, lp, x->pdep, &x->pacc);
    x->pipe = x->p->nwg >= 2 && plan;
    as_line(x, "// KV loop %d: %s", (int)f,
         x->pipe ? "pipelined (p.v finishes under the next s and softmax)"
         : plan  ? "not pipelined (one consumer warpgroup)"
                 : "not pipelined (the accumulator is read in the loop)");
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "c%d", (int)c);
        as_line(x, "float c%d[%d];", (int)c, frag_count(x->p->cls[c], x->p->ncols[c]));
        as_fill(x, dst, x->p->cls[c], x->p->ncols[c], fn->in[3 + k]);
    }
    as_loop_head(x, f);
    x->depth++;
    as_line(x, "(void)iv%d;", (int)f);
    as_line(x, "const unsigned sk = sbase + Q_BYTES + stage * (2 * KV_BYTES);");
    x->drained = 0;
    for (int k = 0; k < lp->nbody; k++) {
        int32_t id = lp->body[k];
        if (x->pipe && (id == L->omma || (x->pdep[id] && x->p->live[id]))) pv_drain(x);
        if (id == L->smma) s_product(x, L);
        else if (id == L->pcast) p_pack(x, L);
        else if (id == L->omma) o_product(x, L);
        else as_value(x, id);
    }
    /* All yields first, then the carried values: a yield may read them. */
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        char dst[32];
        snprintf(dst, sizeof dst, "y%d", k);
        as_line(x, "float y%d[%d];", k, frag_count(x->p->cls[c], x->p->ncols[c]));
        as_fill(x, dst, x->p->cls[c], x->p->ncols[c], lp->yields[k]);
    }
    for (int k = 0; k < lp->ncarried; k++) {
        int32_t c = lp->carried[k];
        as_line(x, "#pragma unroll");
        as_line(x, "for (int r = 0; r < %d; ++r) c%d[r] = y%d[r];",
             frag_count(x->p->cls[c], x->p->ncols[c]), (int)c, k);
    }
    as_line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
    x->depth--;
    as_line(x, "}");
    if (x->pipe) pv_flush(x);
    x->pipe = 0;
}

/* 1 when node id's value depends on program id 0 (the q tile), (what 1)
 * on a tensor load, or (what 2) on a loop's results. */
static int depends(const ax *x, int32_t id, int what) {
    const ir_node *n = as_node(x, id);
    if (what == 0 && n->op == IR_PROGRAM_ID) return n->index == 0;
    if (what == 1 && n->op == IR_LOAD) return 1;
    if (what == 2 && (n->op == IR_FOR || n->op == IR_FOR_RESULT)) return 1;
    for (int k = 0; k < n->nin; k++)
        if (depends(x, n->in[k], what)) return 1;
    return 0;
}

/* What a KV loop's trip count depends on (what as for depends). */
static int bounds_depend(const ax *x, int what) {
    for (int i = 0; i < x->p->nloops; i++) {
        const ir_node *f = as_node(x, x->p->loops[i].node);
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
void as_walk_open(ax *x) {
    if (x->pairs) {
        /* items: pairs (j, grid0 - 1 - j) of a head's q tiles, the longer
         * first, when a block has more than one program; else programs */
        as_line(x, "for (long long item = blockIdx.x; item < nitems; item += gridDim.x) {");
        x->depth++;
        as_line(x, "for (int half = 0; half < 2; ++half) {");
        x->depth++;
        as_line(x, "const int j = paired ? (int)(item %% npair) : 0;");
        as_line(x, "const long long hb = paired ? item / npair : item / grid0;");
        as_line(x, "const int pid0 = paired ? (half ? j : grid0 - 1 - j) : grid0 - 1 - (int)(item %% grid0);");
        as_line(x, "if (half && (!paired || j == grid0 - 1 - j)) break;");
        as_line(x, "const int pid1 = (int)(hb %% grid1), pid2 = (int)(hb / grid1);");
    } else if (x->persist) {
        as_line(x, "for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {");
        x->depth++;
        as_line(x, "const int pid0 = grid0 - 1 - (int)(tile %% grid0);");
        as_line(x, "const int pid1 = (int)((tile / grid0) %% grid1), pid2 = (int)(tile / ((long long)grid0 * grid1));");
    } else if (x->remap) {
        as_line(x, "{   // one program; with many q tiles, the longest q tiles first");
        x->depth++;
        as_line(x, "const bool lf = gridDim.x >= %d;", LONGEST_FIRST_TILES);
        as_line(x, "const long long lin = blockIdx.x + (long long)gridDim.x * (blockIdx.y + (long long)gridDim.y * blockIdx.z);");
        as_line(x, "const long long hb = (long long)gridDim.y * gridDim.z;");
        as_line(x, "const int pid0 = lf ? (int)gridDim.x - 1 - (int)(lin / hb) : (int)blockIdx.x;");
        as_line(x, "const int pid1 = lf ? (int)(lin %% gridDim.y) : (int)blockIdx.y;");
        as_line(x, "const int pid2 = lf ? (int)((lin %% hb) / gridDim.y) : (int)blockIdx.z;");
    } else {
        as_line(x, "{   // one program: this block's");
        x->depth++;
        as_line(x, "const int pid0 = blockIdx.x, pid1 = blockIdx.y, pid2 = blockIdx.z;");
    }
    as_line(x, "(void)pid0; (void)pid1; (void)pid2;");
}

void as_walk_close(ax *x) {
    x->depth--;
    as_line(x, "}");
    if (x->pairs) {
        x->depth--;
        as_line(x, "}");
    }
}

/* Whether q can go back to the producer right after a program's last
 * s = q . k^T: only s reads q, so once the last trip of the last loop
 * that runs has its s, the next program's q may load under that trip's
 * softmax and p.v and the epilogue (with one q buffer, the load would
 * otherwise start after the epilogue and the next program wait for it).
 * Which loop runs last is known before the first from the loops' bounds:
 * those must not depend on a loop's results. */
static int q_early_plan(const ax *x) {
    for (int i = 0; i < x->p->nloops; i++) {
        const ir_node *f = as_node(x, x->p->loops[i].node);
        for (int k = 0; k < 3; k++)
            if (depends(x, f->in[k], 2)) return 0;
    }
    return 1;
}

/* Before the loops: every top-level scalar that no loop's result feeds
 * (the loops' bounds among them), then which loops have trips. Loop i
 * gives q back in its last trip when no later loop has any (qlast). */
static void q_early_open(ax *x) {
    const tj_graph *g = x->g;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = as_node(x, id);
        if (n->op == IR_FOR || n->op == IR_STORE || !x->p->live[id] ||
            x->p->cls[id] != AS_SCALAR || depends(x, id, 2))
            continue;
        as_value(x, id);
        x->hoisted[id] = 1;
    }
    for (int i = 0; i < x->p->nloops; i++) {
        const ir_node *f = as_node(x, x->p->loops[i].node);
        char lo[96], hi[96];
        as_at(x, f->in[0], lo);
        as_at(x, f->in[1], hi);
        as_line(x, "const bool qrun%d = %s < %s;", i, lo, hi);
    }
    for (int i = 0; i < x->p->nloops; i++) {
        char cond[32 * AS_MAX_LOOPS] = "true";
        size_t o = 0;
        for (int j = i + 1; j < x->p->nloops; j++)
            o += (size_t)snprintf(cond + o, sizeof cond - o, "%s!qrun%d", o ? " && " : "", j);
        as_line(x, "const bool qlast%d = %s;", i, cond);
    }
}

static void consumer(ax *x) {
    const tj_graph *g = x->g;
    if (x->p->nwg >= 2) as_line(x, "tj::sm90::regs_take<%d>();", consumer_regs(x->p));
    as_line(x, "const int cw = wg - 1, wl = tid & 127, w4 = wl >> 5, lane = tid & 31;");
    as_line(x, "const int rrow = cw * 64 + w4 * 16 + (lane >> 2);   // this thread's first row");
    as_line(x, "const int qcol = 2 * (lane & 3);                    // and first column");
    as_line(x, "(void)rrow; (void)qcol;");
    if (x->p->fp8) {
        as_fp8_dq(x);
    } else {
        as_line(x, "const unsigned long long dq = tj::sm90::desc_sw128(sq + cw * (64 * 128), 16, 1024);   // this warpgroup's rows of q");
    }
    as_line(x, "(void)dq;");
    as_line(x, "int stage = 0;");
    as_line(x, "unsigned phase = 0;");
    as_line(x, "unsigned pp[%d];   // the pending p.v of a pipelined loop: p, its stage", pregs(x));
    as_line(x, "int pstage = 0;");
    as_line(x, "unsigned pphase = 0;");
    as_line(x, "bool pend = false;");
    as_line(x, "(void)pp; (void)pstage; (void)pphase; (void)pend;");
    as_line(x, "unsigned qphase = 0;");
    if (x->p->nwg >= 2)
        as_line(x, "if (cw == %d) tj::sm90::named_arrive(1, 256);   // warpgroup 0 issues first",
                x->p->nwg - 1);
    int last = 0;
    for (int k = 0; k < g->nbody; k++)
        if (as_node(x, g->body[k])->op == IR_FOR) last = k;
    as_walk_open(x);
    as_line(x, "tj::sm90::mbar_wait(bar_q, qphase);");
    x->qearly = x->persist && as_q_early && q_early_plan(x);
    if (x->qearly) q_early_open(x);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = as_node(x, id);
        if (n->op == IR_FOR) consumer_loop(x, id);
        else if (n->op == IR_STORE) as_store(x, id);
        else as_value(x, id);
        if (k == last) {
            /* q is read by the products only: the producer may load the
             * next program's while this one's epilogue runs */
            if (x->qearly) {
                char cond[32 * AS_MAX_LOOPS] = "";
                size_t o = 0;
                for (int i = 0; i < x->p->nloops; i++)
                    o += (size_t)snprintf(cond + o, sizeof cond - o, "!qrun%d && ", i);
                as_line(x, "if (%slane == 0) tj::sm90::mbar_arrive(bar_qfree);   // no loop read q", cond);
            } else {
                as_line(x, "if (lane == 0) tj::sm90::mbar_arrive(bar_qfree);   // q is read");
            }
            as_line(x, "qphase ^= 1;");
        }
    }
    as_walk_close(x);
    x->qearly = 0;
}

/* The copy engine's load of one [rows, ce] chunk (ce elements: a
 * `line`-byte swizzled line) of a [rows, cols] q / k / v tile:
 * coordinates innermost first, the tile's rows and column chunk on their
 * dims, every other dim at its (extent 1) coordinate. */
static void tma_load_chunk(ax *x, int32_t ld, const char *map, const char *dst, const char *bar,
                           int rows, int cols, int ce, int line, int ch) {
    const ir_node *n = as_node(x, ld);
    int rank = x->g->tensors[n->tensor].rank;
    int el = (n->flags & TJ_COORD_ELEMENT) != 0;
    char args[512] = "";
    size_t o = 0;
    for (int i = 0; i < rank && o < sizeof args; i++) {
        int d = rank - 1 - i;
        char c[64];
        as_base(x, n->in[d], c);
        int mult = el ? 1 : d == n->axes[0] ? rows : d == n->axes[1] ? cols : 1;
        if (d == n->axes[1])
            o += (size_t)snprintf(args + o, sizeof args - o, ", (int)(%s * %d + %d)", c, mult, ch * ce);
        else
            o += (size_t)snprintf(args + o, sizeof args - o, ", (int)(%s * %d)", c, mult);
    }
    as_line(x, "tj::sm90::tma_load_%dd(%s + %d, &%s, %s%s);", rank, dst, ch * rows * line, map, bar,
         args);
}

/* Every chunk of the q (which 0), k (1) or v (2) tile of load ld. */
static void tma_load(ax *x, int32_t ld, int which, const char *map, const char *dst,
                     const char *bar) {
    const as_plan *p = x->p;
    int es = (int)tj_dtype_size((tj_dtype)p->dtype);
    int rows = which == 0 ? p->bm : which == 2 && p->fp8 ? p->d : p->bn;
    int cols = which == 2 && p->fp8 ? p->bn : p->d;
    int line = which == 2 && p->fp8 ? p->vline : p->fp8 ? p->qline : 128;
    for (int ch = 0; ch < cols * es / line; ch++)
        tma_load_chunk(x, ld, map, dst, bar, rows, cols, line / es, line, ch);
}

static void producer(ax *x) {
    const as_plan *p = x->p;
    const tj_graph *g = x->g;
    if (p->nwg >= 2) as_line(x, "tj::sm90::regs_release<%d>();", producer_regs(p));
    as_line(x, "if (tid == 0) {");
    x->depth++;
    as_line(x, "tj::sm90::tma_prefetch(&tm_q);");
    as_line(x, "tj::sm90::tma_prefetch(&tm_k);");
    as_line(x, "tj::sm90::tma_prefetch(&tm_v);");
    as_line(x, "int stage = 0;");
    as_line(x, "unsigned phase = 0, qphase = 0;");
    as_walk_open(x);
    int q_done = 0;
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = as_node(x, id);
        if (n->op != IR_FOR) {
            if (p->live[id] && p->cls[id] == AS_SCALAR && n->op != IR_STORE) as_scalar(x, id);
            continue;
        }
        if (!q_done) {   /* the q tile's coordinates are scalars built before the loops */
            as_line(x, "tj::sm90::mbar_wait(bar_qfree, qphase ^ 1);   // the last program's q is read");
            as_line(x, "qphase ^= 1;");
            as_line(x, "tj::sm90::mbar_expect_tx(bar_q, Q_BYTES);");
            tma_load(x, p->qload, 0, "tm_q", "sq", "bar_q");
            q_done = 1;
        }
        const as_loop *L = loop_of(x, id);
        const ir_loop *lp = n->loop;
        as_loop_head(x, id);
        x->depth++;
        for (int b = 0; b < lp->nbody; b++) {
            int32_t bid = lp->body[b];
            if (p->live[bid] && p->cls[bid] == AS_SCALAR) as_scalar(x, bid);
        }
        as_line(x, "const unsigned sk = sbase + Q_BYTES + stage * (2 * KV_BYTES), sv = sk + KV_BYTES;");
        as_line(x, "tj::sm90::mbar_wait(bar_kfree + 8 * stage, phase ^ 1);");
        as_line(x, "tj::sm90::mbar_expect_tx(bar_k + 8 * stage, KV_BYTES);");
        tma_load(x, L->kload, 1, "tm_k", "sk", "bar_k + 8 * stage");
        as_line(x, "tj::sm90::mbar_wait(bar_vfree + 8 * stage, phase ^ 1);");
        as_line(x, "tj::sm90::mbar_expect_tx(bar_v + 8 * stage, KV_BYTES);");
        tma_load(x, L->vload, 2, "tm_v", "sv", "bar_v + 8 * stage");
        as_line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
        x->depth--;
        as_line(x, "}");
    }
    as_walk_close(x);
    x->depth--;
    as_line(x, "}");
    if (p->fp8) as_fp8_permuters(x);
}

/* A tensor map of a q / k / v tile: boxes of [rows, 64] (one 128-byte
 * swizzle line a row), extent 1 on the dims the tile does not cover. */
static emit_param tmap_param(const ax *x, const as_operand *o, int rows, int line) {
    const ir_tensor *t = &x->g->tensors[o->tensor];
    uint32_t ce = (uint32_t)line / (uint32_t)tj_dtype_size(t->dtype);   /* elements a line */
    emit_param q = {.kind = EMIT_PARAM_TENSORMAP, .index = o->tensor, .ctype = EMIT_C_TMAP,
                    .size = 128};
    q.tmap.rank = t->rank;
    for (int i = 0; i < t->rank; i++) {
        int d = t->rank - 1 - i;
        q.tmap.box[i] = d == t->rank - 1 ? ce : d == o->row_dim ? (uint32_t)rows : 1u;
    }
    q.tmap.swizzle = line;
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
        int rows = k == 0 ? p->bm : k == 2 && p->fp8 ? p->d : p->bn;
        int line = !p->fp8 ? 128 : k == 2 ? p->vline : p->qline;
        L->params[np++] = tmap_param(x, ops[k], rows, line);
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
    if (x->persist) as_line(x, "const long long ntiles = (long long)grid0 * grid1 * grid2;");
    if (x->pairs) {
        as_line(x, "const long long npair = (grid0 + 1) / 2;   // pairs of q tiles a head");
        as_line(x, "const bool paired = ntiles > gridDim.x;");
        as_line(x, "const long long nitems = paired ? npair * grid1 * grid2 : ntiles;");
    }
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
    as_line(x, "extern __shared__ __align__(1024) unsigned char tj_smem[];");
    as_line(x, "const int tid = threadIdx.x, wg = tid / 128;");
    as_line(x, "const unsigned sbase = (tj::sm90::smem_addr(tj_smem) + 1023u) & ~1023u;");
    as_line(x, "const unsigned sq = sbase;");
    as_line(x, "const unsigned bar_q = sbase + Q_BYTES + STAGES * (2 * KV_BYTES);");
    as_line(x, "const unsigned bar_k = bar_q + 8, bar_v = bar_k + 8 * STAGES;");
    as_line(x, "const unsigned bar_kfree = bar_v + 8 * STAGES, bar_vfree = bar_kfree + 8 * STAGES;");
    as_line(x, "const unsigned bar_qfree = bar_vfree + 8 * STAGES;");
    if (p->fp8) as_line(x, "const unsigned bar_vp = bar_qfree + 8;   // vt's keys permuted");
    if (x->p->o_bytes)   /* o's staging region, a [16, D] slab a consumer warp */
        as_line(x, "const unsigned so = (bar_qfree + %s + 1023u) & ~1023u;",
                p->fp8 ? "8 + 8 * STAGES" : "8");
    as_line(x, "(void)sq;");
    prologue(x);
    as_line(x, "if (tid == 0) {");
    as_line(x, "  tj::sm90::mbar_init(bar_q, 1);");
    as_line(x, "  tj::sm90::mbar_init(bar_qfree, %d);   // lane 0 of each consumer warp", p->nwg * 4);
    as_line(x, "  for (int s = 0; s < STAGES; ++s) {");
    as_line(x, "    tj::sm90::mbar_init(bar_k + 8 * s, 1);");
    as_line(x, "    tj::sm90::mbar_init(bar_v + 8 * s, 1);");
    as_line(x, "    tj::sm90::mbar_init(bar_kfree + 8 * s, %d);   // lane 0 of each consumer warp",
         p->nwg * 4);
    as_line(x, "    tj::sm90::mbar_init(bar_vfree + 8 * s, %d);", p->nwg * 4);
    if (p->fp8) as_line(x, "    tj::sm90::mbar_init(bar_vp + 8 * s, 96);   // every permuting thread");
    as_line(x, "  }");
    as_line(x, "  tj::sm90::fence_barrier_init();");
    as_line(x, "}");
    as_line(x, "__syncthreads();");
    as_line(x, "if (wg == 0) {");
    x->depth++;
    producer(x);
    x->depth--;
    as_line(x, "} else {");
    x->depth++;
    consumer(x);
    x->depth--;
    as_line(x, "}");
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
    ax x = {.p = &p, .g = g, .pdep = calloc((size_t)g->nnodes + 1, 1),
            .hoisted = calloc((size_t)g->nnodes + 1, 1), .fold = calloc((size_t)g->nnodes + 1, 1)};
    x.persist = !bounds_depend(&x, 0);
    x.remap = !x.persist && !bounds_depend(&x, 1);
    /* Pairs pay with two consumer warpgroups (d 128, H200: causal +2..12 %);
     * with three (block_m 192) they cost up to 18 % at N <= 2048 and gain
     * nothing from 4096 (measured 2026-11-29, docs/performance.md), so the
     * 192-row tile keeps one block a program, longest first. */
    if (x.remap && as_causal_pairs && p.nwg < 3) {
        x.persist = x.pairs = 1;
        x.remap = 0;
    }
    if (x.fold) as_scale_fold(&x);
    st = x.pdep && x.hoisted && x.fold ? kernel(&x, launch)
                : tj_set_error(TJ_ERR_NO_MEMORY, "attention_sm90: out of memory");
    free(x.pdep);
    free(x.hoisted);
    free(x.fold);
    if (st == TJ_OK) {
        *src = x.out.data;
        x.out.data = NULL;
    }
    sb_free(&x.out);
    as_plan_free(&p);
    return st;
}
