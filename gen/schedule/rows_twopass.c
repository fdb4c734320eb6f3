/*
 * rows_twopass.c — the `rows` schedule's two-pass walk (rows.h, NG > 1):
 * a row no block holds in registers, read twice instead of held.
 *
 * One row a group of TR threads (a block of 512, or R groups of 512 / R
 * for a tile of R rows); a thread walks its row in NG groups of C chunks
 * (group q covers chunks q*TR*C ..), twice:
 *
 *   pass 1  each group's loads (an L2 evict-last policy: the row stays in
 *           L2 for its second read) and the wide nodes the row reductions
 *           read; each reduction folds the group into a thread's
 *           accumulator. Then one block reduction an accumulator.
 *   pass 2  each group again (loads and stores with an L2 evict-first
 *           policy): the wide nodes the stores read, and the stores.
 *
 * So a reduction may not read another's result (a layernorm's variance
 * reads its mean: a third pass), except softmax's max and sum (rows_pair.c):
 * a group's max m and sum of exp(x - m) fold into a (max, sum) pair, and
 * the block's pair gives the row's max M and sum S of exp(x - M), which
 * pass 2 reads as the two reductions. HBM sees the row read once when L2
 * keeps it between the passes (ncu, H200, softmax 65536 prototype: 538 MB
 * read for 537 MB of input); the second read costs L2 bandwidth only.
 *
 * The staged form (`stage`, sm_90+, a tile of one row): one block an SM
 * walks the rows (persistent) and what pass 1 reads comes from shared
 * memory, a ring of NB > NG group buffers the bulk copy engine fills
 * (rows_walk.c): pass 1 waits for each group's buffer, pass 2 reads it
 * again, and once every thread has (a barrier a group) warp 0 refills it
 * with the group NB ahead, so the next row's first NB - NG groups are in
 * flight while this row's reductions wait for its last ones. HBM sees
 * each row read once whatever L2 keeps. Hand-written prototype (H200,
 * bf16 softmax 65536, 2026-11-29, one call, two rounds): 512 threads,
 * 4 groups in a ring of 6 0.913 / 0.919 of copy, 8 in 14 0.914 / 0.919,
 * without the ring (NB = NG) 0.895 / 0.897; the L2 form's prototype in
 * the same call 0.881. As emitted (bench_membound, quick and full, two
 * calls): 0.877-0.879 against the L2 form's 0.853-0.854, then 0.885-0.909
 * once softmax's pairs were reduced in two sweeps (tj::rows::pair_reduce,
 * 3504601); at 40000 columns (a partial last group) 0.600 against 0.834,
 * not understood, so the model keeps the ring to rows the groups cover
 * exactly.
 *
 * Why (H200, bf16 softmax over 65536 columns, 2026-11-29, hand-written
 * prototype of this kernel against the copy): 0.878 of copy at 512
 * threads, 64 elements a group, two blocks an SM; without the L2 policies
 * 0.63 (the second read missed); the staged pair of blocks 0.782, the
 * register cluster of 4 0.737.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows_emit.h"

static void line(rem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(rem *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rows_vline(e, fmt, ap);
    va_end(ap);
}

static const ir_node *N(const rows_plan *p, int32_t id) { return &p->g->nodes[id]; }
static int wide_cls(int c) { return c == RC_COL || c == RC_FULL; }

/* A live reduction along the row of a wide value (emit_reduce's, not a copy). */
static int row_reduce(const rows_plan *p, int32_t id) {
    const ir_node *n = N(p, id);
    return p->live[id] && n->op == IR_REDUCE && wide_cls(p->cls[n->in[0]]) &&
           !(n->type.rank == 2 && n->index == 0);
}

/* dep[id]: node id reads a row reduction's result (operands precede their
 * users in node order). */
static void mark_dep(const rows_plan *p, uint8_t *dep) {
    for (int32_t id = 0; id < p->g->nnodes; id++) {
        const ir_node *n = N(p, id);
        dep[id] = 0;
        for (int k = 0; k < n->nin; k++) dep[id] |= dep[n->in[k]] || row_reduce(p, n->in[k]);
    }
}

/* The pair (r1 max, r2 sum) of the plan, if softmax's shape (-1 when none). */
static int32_t pair_sum(const rows_plan *p, int32_t *r1) {
    for (int32_t id = 0; id < p->g->nnodes; id++)
        if (row_reduce(p, id) && (*r1 = rows_pair_max_of(p, id)) >= 0) return id;
    *r1 = -1;
    return -1;
}

int rows_twopass_ok(const rows_plan *p) {
    const tj_graph *g = p->g;
    for (int t = 0; t < g->ntensors; t++)
        if (p->stored[t] && p->loaded[t]) return 0;
    rows_plan q = *p;
    q.NG = 2;   /* rows_pair.c pairs only a split row */
    int32_t r1, r2 = pair_sum(&q, &r1);
    uint8_t *dep = calloc((size_t)g->nnodes + 1, 1);
    if (!dep) return 0;
    mark_dep(p, dep);
    int n = 0, ok = 1;
    for (int32_t id = 0; id < g->nnodes && ok; id++) {
        if (!row_reduce(p, id)) continue;
        n++;
        ok = id == r2 || !dep[N(p, id)->in[0]];
    }
    (void)r1;
    free(dep);
    return ok && n > 0;
}

static const char *const red_op[3] = {"tj::rows::sum_op", "tj::rows::max_op", "tj::rows::min_op"};

/* A max or min of a 16-bit float row held as loaded and cast to f32 where
 * used: the raw load, taken pairwise in its own type (tj::rows::packed_max;
 * f32 maxima over 64 elements a thread spilled at 64 registers); -1 when
 * not that shape, or a ragged width's padding is not the reduction's
 * identity. */
static int32_t packed_src(const rows_plan *p, int32_t r) {
    const ir_node *n = N(p, r);
    if (n->sub != TJ_RMAX && n->sub != TJ_RMIN) return -1;
    int32_t x = n->in[0];
    const ir_node *c = N(p, x);
    if (!p->inl[x] || c->op != IR_CAST || c->type.dtype != TJ_F32) return -1;
    int32_t l = c->in[0];
    const ir_node *ld = N(p, l);
    if (!p->raw[l] || ld->op != IR_LOAD) return -1;
    int dt = p->g->tensors[ld->tensor].dtype;
    if (dt != TJ_BF16 && dt != TJ_F16) return -1;
    double ident = n->sub == TJ_RMAX ? -INFINITY : INFINITY;
    return rows_covered(p) == p->W || ld->f == ident ? l : -1;
}

/* Pass 1: node id after its operands; a row reduction as this thread's
 * part of the group folded into its accumulator (the pair's max: the
 * group's own, a group of -inf subtracting 0 as rows_pair.c's blocks do). */
static void pass1(rem *e, int32_t id, uint8_t *done, int32_t pr1, int32_t pr2) {
    const rows_plan *p = e->p;
    if (done[id]) return;
    done[id] = 1;
    const ir_node *n = N(p, id);
    for (int k = 0; k < n->nin; k++) pass1(e, n->in[k], done, pr1, pr2);
    e->emitted[id] = 1;
    if (!row_reduce(p, id)) {
        rows_emit_node(e, id);
        return;
    }
    const char *rt = emit_reg_type(n->type.dtype), *v = p->names[id];
    char xs[1024], desc[160];
    rows_opnd(e, n->in[0], "k", xs, sizeof xs);
    line(e, "// %s: this group's part", ir_node_desc(p->g, id, desc, sizeof desc));
    if (id == pr1) line(e, "float %s;", v);
    line(e, "{");
    e->depth++;
    int32_t raw = packed_src(p, id);
    if (raw >= 0) {
        line(e, "const float q_l = tj::rows::packed_max<%s%s>(%s);",
             n->sub == TJ_RMIN ? "true" : "false", p->stage && p->pref[raw] ? ", C" : "",
             p->names[raw]);
    } else {
        line(e, "%s q_l = %s::identity<%s>();", rt, red_op[n->sub], rt);
        rows_begin_slots(e);
        char test[64] = "";
        if (!rows_exact(e)) snprintf(test, sizeof test, "if (%s) ", rows_col_test(e));
        line(e, "%sq_l = %s::apply(q_l, %s);", test, red_op[n->sub], xs);
        rows_end_slots(e);
    }
    if (id == pr1)
        line(e, "%s = q_l;", v);
    else if (id == pr2)
        line(e, "q_pacc = tj::rows::pair_op::apply(q_pacc, tj::rows::pair{%s_m, q_l});",
             p->names[pr1]);
    else
        line(e, "q_acc%d = %s::apply(q_acc%d, q_l);", (int)id, red_op[n->sub], (int)id);
    e->depth--;
    line(e, "}");
    if (id == pr1) {
        line(e, "const float %s_m = %s;", v, v);
        line(e, "if (%s == __int_as_float((int)0xff800000)) %s = 0.0f;", v, v);
    }
}

/* Elementwise float nodes over the row read by one node only, written
 * out where they are read (rows.h's `inl`): the reductions fold and the
 * stores write each group chunk by chunk, with no f32 copy of a group
 * held (softmax's exp over 64 elements a thread held in f32 spilled 440
 * bytes at 64 registers). Operands precede their users in node order. */
#define INLINE_NODES 16

static int tree_size(const rows_plan *p, int32_t id) {
    if (!p->inl[id]) return 1;
    int s = 1;
    for (int k = 0; k < N(p, id)->nin; k++) s += tree_size(p, N(p, id)->in[k]);
    return s;
}

static void inline_single_uses(rows_plan *p) {
    const tj_graph *g = p->g;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(p, id);
        if (!p->live[id] || !wide_cls(p->cls[id]) || p->raw[id] || p->inl[id]) continue;
        int dt = n->type.dtype;
        int ok = (n->op == IR_UNARY || n->op == IR_BINARY) ? dt == TJ_F32
                 : n->op == IR_CAST ? ir_is_float(dt) && ir_is_float(N(p, n->in[0])->type.dtype)
                                    : 0;
        int size = 1, uses = 0, folds = 0;
        for (int k = 0; k < n->nin && ok; k++) {
            int32_t x = n->in[k];
            if (wide_cls(p->cls[x]) && !p->raw[x] && !p->inl[x]) ok = 0;
            size += tree_size(p, x);
        }
        /* one read a pass: a row reduction's (pass 1) and one other's
         * (softmax's exp: its sum's, then the output's) */
        for (int32_t m = 0; m < g->nnodes && ok; m++)
            for (int k = 0; p->live[m] && k < N(p, m)->nin; k++)
                if (N(p, m)->in[k] == id) {
                    if (row_reduce(p, m)) folds++;
                    else uses++;
                }
        p->inl[id] = ok && uses <= 1 && folds <= 1 && size <= INLINE_NODES;
    }
}

/* mark[id] for id and what it reads, stopping at nodes in `stop`. */
static void mark_up(const rows_plan *p, int32_t id, const uint8_t *stop, uint8_t *mark) {
    if (mark[id] || stop[id]) return;
    mark[id] = 1;
    for (int k = 0; k < N(p, id)->nin; k++) mark_up(p, N(p, id)->in[k], stop, mark);
}

void rows_twopass_read1(const rows_plan *p, uint8_t *read1) {
    uint8_t *stop = calloc((size_t)p->g->nnodes + 1, 1);
    if (!stop) return;
    for (int32_t id = 0; id < p->g->nnodes; id++)
        if (row_reduce(p, id)) mark_up(p, id, stop, read1);
    free(stop);
}

/* The loop over a row's groups: `cb` (rows_emit.c's chunk base) set per
 * group, shadowing the prologue's 0. Pass 1 unrolled (the next group's
 * loads may start before this one is folded); pass 2 not (unrolled, the
 * stores' values spilled 44 bytes at 64 registers). */
static void open_groups(rem *e, const char *what, int unroll, int rev, int lo, int hi) {
    line(e, "// %s", what);
    line(e, "#pragma unroll%s", unroll ? "" : " 1");
    line(e, "for (int q_g = %d; q_g < %d; ++q_g) {", lo, hi);
    e->depth++;
    if (rev)
        line(e, "const int cb = (%d - q_g) * TR * C; // the groups last to first", e->p->NG - 1);
    else
        line(e, "const int cb = q_g * TR * C;");
    if (e->p->stage) {
        /* the ring (rows_walk.c): group q_k of this block's walk, its buffer and phase */
        line(e, "const long long q_k = q_it * NG + (cb / (TR * C));");
        line(e, "const int q_sl = (int)(q_k %% NB);");
        line(e, "const unsigned q_ph = (unsigned)(q_k / NB) & 1u;");
        line(e, "(void)q_sl; (void)q_ph;");
    }
}

static void close_groups(rem *e) {
    e->depth--;
    line(e, "}");
    e->pol_load = e->pol_store = NULL;
}

/* The ring at a ragged width: its groups in two loops, the whole groups
 * with no column tests (rows_exact), then the last (softmax 40000 bf16:
 * tests on every element in both passes took 309 M instructions against
 * 65536's 190 M, ncu, H200). The L2 form keeps one loop (split, pass 2's
 * last group spilled 12 bytes at 64 registers, softmax 100001). */
static int split_groups(const rows_plan *p) {
    /* (shifted rows: the first group holds the columns before the row too) */
    return p->stage && rows_covered(p) != p->W && !p->rev && !p->shift;
}

/* Pass 1 over groups lo .. hi-1. */
static void emit_pass1(rem *e, const uint8_t *done, int32_t pr1, int32_t pr2, int lo, int hi,
                       const char *what) {
    const rows_plan *p = e->p;
    /* the ring's not unrolled (its loads are shared memory's; unrolled,
     * a ragged width's element paths spilled 28-144 bytes at 128 registers) */
    open_groups(e, what, !p->stage, 0, lo, hi);
    e->pol_load = "q_keep";
    memcpy(e->scratch, done, (size_t)p->g->nnodes + 1);
    for (int32_t id = 0; id < p->g->nnodes; id++)
        if (row_reduce(p, id)) pass1(e, id, e->scratch, pr1, pr2);
    close_groups(e);
}

/* Pass 2 over groups lo .. hi-1 (the ring: each group's buffer refilled
 * once every thread is done with it). */
static void emit_pass2(rem *e, const uint8_t *done, const uint8_t *read1, int lo, int hi,
                       const char *what) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    open_groups(e, what, 0, p->rev, lo, hi);
    e->pol_load = e->pol_store = "q_drop";
    e->pol_only = read1;
    e->pass2 = 1;
    memcpy(e->scratch, done, (size_t)g->nnodes + 1);
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        if (p->live[id] && n->op == IR_STORE && wide_cls(p->cls[n->in[n->nin - 1]]))
            rows_emit_with_deps(e, id, e->scratch);
    }
    if (p->stage) {
        /* every thread is done with the group's buffer: the group NB ahead */
        line(e, "__syncthreads();");
        rows_emit_ring_issue(e, "q_k + NB");
    }
    close_groups(e);
    e->pass2 = 0;
    e->pol_only = NULL;
}

void rows_emit_twopass(rem *e, uint8_t *done) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    size_t nn = (size_t)g->nnodes + 1;
    uint8_t *dep = calloc(nn, 1);
    if (!dep) {
        e->out.oom = 1;
        return;
    }
    mark_dep(p, dep);
    inline_single_uses(e->p);
    int32_t pr1, pr2 = pair_sum(p, &pr1);
    line(e, "const unsigned long long q_keep = tj::rows::l2_evict_last(), "
            "q_drop = tj::rows::l2_evict_first();");
    line(e, "(void)q_keep; (void)q_drop;");
    if (p->stage) {
        /* the staged form: the ring, then this block's walk over the rows */
        memcpy(e->visible, done, nn);
        rows_emit_ring_setup(e);
        line(e, "#pragma unroll 1");
        line(e, "for (long long q_it = 0; q_it < q_nmine; ++q_it) {");
        e->depth++;
        line(e, "const long long q_f = q_first + q_it * q_step;");
        rows_emit_program_of(e);
    }
    /* what no reduction reaches: coordinates, scalars, a row's own values */
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        if (p->live[id] && n->op != IR_STORE && !wide_cls(p->cls[id]) && !dep[id] &&
            !row_reduce(p, id))
            rows_emit_with_deps(e, id, done);
    }
    rows_emit_shift(e, done);
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (!row_reduce(p, id) || id == pr1 || id == pr2) continue;
        const char *rt = emit_reg_type(N(p, id)->type.dtype);
        line(e, "%s q_acc%d = %s::identity<%s>();", rt, (int)id, red_op[N(p, id)->sub], rt);
    }
    if (pr2 >= 0) line(e, "tj::rows::pair q_pacc = {__int_as_float((int)0xff800000), 0.0f};");
    /* pass 2 marks evict-first what pass 1 read (the row, read for the
     * last time) and its stores; a load only pass 2 makes (a norm's weight
     * row, the same for every row) keeps the default policy */
    uint8_t *read1 = calloc(nn, 1);
    if (!read1) {
        free(dep);
        e->out.oom = 1;
        return;
    }
    rows_twopass_read1(p, read1);

    int split = split_groups(p), ng = p->NG;
    e->full = split;
    emit_pass1(e, done, pr1, pr2, 0, split ? ng - 1 : ng,
               split ? "pass 1: the row reductions, group by group (the whole groups)"
                     : "pass 1: the row reductions, group by group");
    e->full = 0;
    if (split) emit_pass1(e, done, pr1, pr2, ng - 1, ng, "pass 1: the last group, past the row's end");

    /* the block's reductions (each its own buffer: no barrier between them) */
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (!row_reduce(p, id) || id == pr1) continue;
        if (id == pr2) {
            if (p->TR > 32) line(e, "__shared__ tj::rows::pair q_ppart[NT / 32];");
            line(e, "const tj::rows::pair q_pall = tj::rows::pair_reduce<TR>(q_pacc, %s);",
                 p->TR > 32 ? "q_ppart" : "(tj::rows::pair *)0");
            line(e, "float %s = q_pall.m; // the row's max", p->names[pr1]);
            line(e, "float %s = q_pall.s; // its sum of exp(x - max)", p->names[pr2]);
            done[pr1] = e->emitted[pr1] = 1;
        } else {
            const char *rt = emit_reg_type(N(p, id)->type.dtype);
            char part[64];
            snprintf(part, sizeof part, "q_part%d", (int)id);
            if (p->TR > 32) line(e, "__shared__ %s %s[NT / 32];", rt, part);
            else snprintf(part, sizeof part, "(%s *)0", rt);
            line(e, "%s %s = tj::rows::group_reduce<%s, TR>(q_acc%d, %s);", rt, p->names[id],
                 red_op[N(p, id)->sub], (int)id, part);
        }
        done[id] = e->emitted[id] = 1;
    }
    /* what reads the reductions but no wide value; stores of row values */
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = N(p, id);
        int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
        if (p->live[id] && !wide_cls(p->cls[v])) rows_emit_with_deps(e, id, done);
    }

    const char *what2 = p->stage ? "pass 2: the row again (from its buffers), and the stores"
                                 : "pass 2: the row again (an L2 hit), and the stores";
    e->full = split;
    emit_pass2(e, done, read1, 0, split ? ng - 1 : ng, what2);
    e->full = 0;
    if (split) emit_pass2(e, done, read1, ng - 1, ng, "pass 2: the last group, past the row's end");
    if (p->stage) {
        e->depth--;
        line(e, "}");
    }
    free(read1);
    free(dep);
}
