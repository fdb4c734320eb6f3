/*
 * rows_emit.c — the `rows` schedule's kernel text (rows.h has the model,
 * templates/tj/rows.cuh the device side).
 *
 * One statement (or one fully unrolled slot loop over the C*V columns a
 * thread holds) per op, in program order; a wide value is a register
 * array indexed by constants only, so it never spills to local memory.
 * Loads and stores move a chunk of V elements with 16-byte accesses when
 * the chunk lies inside the tensor and its address is aligned (checked
 * once per row at run time), element by element otherwise (the ragged
 * tail, a misaligned or strided row). Row reductions combine a thread's
 * columns, then its group's lanes with warp shuffles, then (groups wider
 * than a warp) the warps' partials through shared memory, in a fixed
 * order so every thread of a row ends with the same bits.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows_emit.h"

void rows_vline(rem *e, const char *fmt, va_list ap) {
    char buf[8192];
    vsnprintf(buf, sizeof buf, fmt, ap);
    /* each line of a multi-line statement at the current depth */
    for (const char *b = buf;;) {
        const char *nl = strchr(b, '\n');
        int len = nl ? (int)(nl - b) : (int)strlen(b);
        sb_printf(&e->out, "%*s%.*s\n", 2 * e->depth, "", len, b);
        if (!nl) break;
        b = nl + 1;
    }
}

static void line(rem *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(rem *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rows_vline(e, fmt, ap);
    va_end(ap);
}

static const ir_node *N(const rem *e, int32_t id) { return &e->p->g->nodes[id]; }
static const char *V(const rem *e, int32_t id) { return e->p->names[id]; }
static int wide(const rem *e, int32_t id) {
    return e->p->cls[id] == RC_COL || e->p->cls[id] == RC_FULL;
}

/* Operand `id` at slot `slot` (a C expression) of a result: a raw load's
 * element converted, an inline node written out over its operands. */
#define OPND_MAX 1024  /* an operand's text (rows.c caps an inline tree's nodes) */
static int fast_exp_ok(const rem *e, int32_t id);
#define FAST_EXP_FMT "tj::fast_exp2((%1$s - %2$s) * 1.44269504f)"
static void opnd(const rem *e, int32_t id, const char *slot, char *buf, size_t size) {
    const ir_node *n = N(e, id);
    if (n->op == IR_CONST)
        emit_literal(n->type.dtype, n->f, buf, size);
    else if (e->p->raw[id])
        snprintf(buf, size, "tj::to_reg(%s[(%s) / V].t[(%s) %% V])", V(e, id), slot, slot);
    else if (e->p->inl[id]) {
        char x[2][OPND_MAX] = {"", ""}, fmt[160];
        /* exp(v - r) under rows_fast_exp reads the difference's operands */
        const ir_node *src = fast_exp_ok(e, id) ? N(e, n->in[0]) : n;
        for (int k = 0; k < src->nin && k < 2; k++) opnd(e, src->in[k], slot, x[k], sizeof x[k]);
        if (src != n)
            snprintf(fmt, sizeof fmt, "%s", FAST_EXP_FMT);
        else if (n->op == IR_UNARY)
            snprintf(fmt, sizeof fmt, "%s", emit_unary_fmt(n->sub));
        else if (n->op == IR_CAST && emit_cast_is_store_rounding(e->p->g, id))
            snprintf(fmt, sizeof fmt, "%%1$s");   /* the store rounds (to_mem) */
        else if (n->op == IR_CAST)
            emit_cast_fmt(N(e, n->in[0])->type.dtype, n->type.dtype, "tj", fmt, sizeof fmt);
        else
            snprintf(fmt, sizeof fmt, "%s", emit_binary_fmt(n->sub));
        snprintf(buf, size, fmt, x[0], x[1]);
    } else if (wide(e, id))
        snprintf(buf, size, "%s[%s]", V(e, id), slot);
    else
        snprintf(buf, size, "%s", V(e, id));
}

void rows_opnd(const rem *e, int32_t id, const char *slot, char *buf, size_t size) {
    opnd(e, id, slot, buf, size);
}

int64_t rows_covered(const rows_plan *p) {
    return (int64_t)p->C * p->V * p->TR * p->CL * (p->NG > 1 ? p->NG : 1);
}

int rows_exact(const rem *e) { return e->full || rows_covered(e->p) == e->p->W; }

/* The mask only for one block a row outside the two-pass walk: that
 * walk's first pass, unrolled over the groups, held a mask a group
 * (rmsnorm at 100001 columns spilled 52 bytes), and the cluster of 4 at
 * 65537 columns went from 64 registers to 78 (one block an SM, not two:
 * rmsnorm 0.615 -> 0.394 of copy, H200, 2026-11-29). */
static int use_mask(const rows_plan *p) { return p->shift && p->NG <= 1 && p->CL == 1; }

const char *rows_col_test(const rem *e) {
    if (!e->p->shift) return "j < W";
    return use_mask(e->p) ? "(q_in >> k & 1ull)" : "(unsigned)j < (unsigned)W";
}

void rows_emit_in_mask(rem *e) {
    if (use_mask(e->p))
        line(e, "const unsigned long long q_in = tj::rows::in_mask<C, V, TR>(cb + lane, q_sh, W);");
}

/* Open an unrolled loop over a thread's slots: `k` the slot, `j` its column. */
static void begin_slots(rem *e) {
    line(e, "#pragma unroll");
    line(e, "for (int k = 0; k < S; ++k) {");
    e->depth++;
    line(e, "const int j = (cb + lane + (k / V) * TR) * V + k %% V%s; (void)j;",
         e->p->shift ? " - q_sh" : "");
}
static void end_slots(rem *e) {
    e->depth--;
    line(e, "}");
}
void rows_begin_slots(rem *e) { begin_slots(e); }
void rows_end_slots(rem *e) { end_slots(e); }

/* node id = rhs (printf format over the operands %1$s %2$s %3$s). */
static void assign(rem *e, int32_t id, const char *fmt, const int32_t *ops, int nops) {
    char x[3][OPND_MAX] = {"", "", ""}, rhs[4 * OPND_MAX];
    const char *slot = wide(e, id) ? "k" : "0";
    for (int k = 0; k < nops && k < 3; k++) opnd(e, ops[k], slot, x[k], sizeof x[k]);
    snprintf(rhs, sizeof rhs, fmt, x[0], x[1], x[2]);
    if (!wide(e, id)) {
        line(e, "%s = %s;", V(e, id), rhs);
        return;
    }
    begin_slots(e);
    line(e, "%s[k] = %s;", V(e, id), rhs);
    end_slots(e);
}


/* Integer add/sub/mul wrap (two's complement) as the interpreter's do. */
static const char *int_binary(int sub) {
    switch (sub) {
    case TJ_ADD: return "tj::iadd(%1$s, %2$s)";
    case TJ_SUB: return "tj::isub(%1$s, %2$s)";
    case TJ_MUL: return "tj::imul(%1$s, %2$s)";
    default: return NULL;
    }
}

int rows_fast_exp = 1;

/* exp(v - r) with r narrow (a row's or a scalar) under rows_fast_exp, in a
 * graph that stores only 16-bit floats: ex2.approx of the difference
 * scaled (rows.h). Not v log2e - r log2e as one FMA: r log2e overflows
 * for |r| over 2.4e38, where v - r does not for the v that matter. */
static int fast_exp_ok(const rem *e, int32_t id) {
    const tj_graph *g = e->p->g;
    const ir_node *n = N(e, id);
    if (!rows_fast_exp || n->op != IR_UNARY || n->sub != TJ_EXP || n->type.dtype != TJ_F32)
        return 0;
    const ir_node *d = N(e, n->in[0]);
    if (d->op != IR_BINARY || d->sub != TJ_SUB || d->type.dtype != TJ_F32 || wide(e, d->in[1]))
        return 0;
    for (int32_t k = 0; k < g->nnodes; k++) {
        const ir_node *u = &g->nodes[k];
        if (u->op == IR_STORE && g->tensors[u->tensor].dtype != TJ_BF16 &&
            g->tensors[u->tensor].dtype != TJ_F16)
            return 0;
    }
    return 1;
}
static int fast_exp(rem *e, int32_t id) {
    if (!fast_exp_ok(e, id)) return 0;
    assign(e, id, FAST_EXP_FMT, N(e, N(e, id)->in[0])->in, 2);
    return 1;
}

/* A cast read only by stores of its dtype is the stores' own rounding
 * (every store here converts by to_mem, to nearest even): not emitted,
 * two instructions an element less (emit_cast_is_store_rounding). */
static void emit_cast(rem *e, int32_t id) {
    const ir_node *n = N(e, id);
    char fmt[160];
    if (emit_cast_is_store_rounding(e->p->g, id))
        snprintf(fmt, sizeof fmt, "%%1$s");
    else
        emit_cast_fmt(N(e, n->in[0])->type.dtype, n->type.dtype, "tj", fmt, sizeof fmt);
    assign(e, id, fmt, n->in, 1);
}

static void emit_iota(rem *e, int32_t id) {
    const ir_node *n = N(e, id);
    int c = e->p->cls[id];
    int along_cols = n->type.rank == 1 || n->index == 1;
    const char *idx = along_cols ? (wide(e, id) ? "j" : "0")
                                 : (c == RC_ROW || c == RC_FULL ? "ri" : "0");
    char rhs[64];
    snprintf(rhs, sizeof rhs, "(%s)%s", emit_reg_type(n->type.dtype), idx);
    if (!wide(e, id)) {
        line(e, "%s = %s;", V(e, id), rhs);
        return;
    }
    begin_slots(e);
    line(e, "%s[k] = %s;", V(e, id), rhs);
    end_slots(e);
}

/* Node m reads raw value r, directly or through inline casts. */
static int reads_raw(const rem *e, int32_t m, int32_t r) {
    const ir_node *n = N(e, m);
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] == r || (e->p->inl[n->in[k]] && reads_raw(e, n->in[k], r))) return 1;
    return 0;
}

/* After a row reduction: the raw values some node still to be written
 * reads go through tj::rows::renew, so the compiler converts them again
 * there rather than holding what it converted before (rows.h). `all`:
 * every raw value written so far (the top of the walk's loop, so no
 * conversion of a hoisted weight row is hoisted out of it). */
void rows_emit_renew(rem *e, int all) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    for (int32_t r = 0; r < g->nnodes; r++) {
        if (!p->raw[r] || !e->emitted[r]) continue;
        int later = all;
        for (int32_t m = 0; m < g->nnodes && !later; m++)
            later = p->live[m] && !e->emitted[m] && !p->inl[m] && reads_raw(e, m, r);
        if (later) line(e, "tj::rows::renew(%s);", V(e, r));
    }
}

static void emit_reduce(rem *e, int32_t id) {
    const ir_node *n = N(e, id);
    int32_t x = n->in[0];
    if (!wide(e, x) || (n->type.rank == 2 && n->index == 0)) {
        /* a dim of size 1 (or a [1,W] along rows): the reduction is a copy */
        assign(e, id, "%1$s", &x, 1);
        return;
    }
    static const char *const op[3] = {"tj::rows::sum_op", "tj::rows::max_op", "tj::rows::min_op"};
    const char *rt = emit_reg_type(n->type.dtype);
    char xs[OPND_MAX];
    opnd(e, x, "k", xs, sizeof xs);
    line(e, "{");
    e->depth++;
    line(e, "%s q_acc = %s::identity<%s>();", rt, op[n->sub], rt);
    begin_slots(e);
    const rows_plan *p = e->p;
    if (!rows_exact(e))
        line(e, "if (%s) q_acc = %s::apply(q_acc, %s);", rows_col_test(e), op[n->sub], xs);
    else
        line(e, "q_acc = %s::apply(q_acc, %s);", op[n->sub], xs);
    end_slots(e);
    int32_t r1 = rows_pair_max_of(p, id);
    int local = rows_pair_is_max(p, id) || r1 >= 0;   /* rows_pair.c */
    if (r1 >= 0) {
        /* the block's sum, then its (max, sum) pair and the peers' */
        const char *part = p->TR <= 32 ? "(float *)0" : p->persist ? "q_part[q_it & 1]" : "q_part";
        if (p->TR > 32)
            line(e, "__shared__ float q_part%s[NT / 32];", p->persist ? "[2]" : "");
        line(e, "const tj::rows::pair q_mine = {%s_m, tj::rows::group_reduce<%s, TR>(q_acc, %s)};",
             V(e, r1), op[n->sub], part);
        if (p->persist) {
            line(e, "__shared__ tj::rows::pair q_xch[2][NT / TR * CL];");
            line(e, "const tj::rows::pair q_all = tj::rows::cluster_exchange<tj::rows::pair_op, "
                    "TR, CL, false>(q_mine, q_xch[q_it & 1]);");
        } else {
            line(e, "__shared__ tj::rows::pair q_xch[NT / TR * CL];");
            line(e, "const tj::rows::pair q_all = tj::rows::cluster_exchange<tj::rows::pair_op, "
                    "TR, CL, %s>(q_mine, q_xch);", e->p->nfirst++ ? "false" : "true");
        }
        line(e, "%s = q_all.s * tj::exp(q_all.m - %s);", V(e, id), V(e, r1));
    } else if (p->CL > 1 && !local && p->persist) {
        /* the staged walk (rows_walk.c) runs this once a program: as
         * below, alternating two buffers; the walk's prologue waited for
         * the peers to start */
        line(e, "__shared__ %s q_part[2][NT / 32], q_xch[2][NT / TR * CL];", rt);
        line(e, "%s = tj::rows::cluster_reduce<%s, TR, CL, false>(q_acc, q_part[q_it & 1], "
             "q_xch[q_it & 1]);", V(e, id), op[n->sub]);
    } else if (p->CL > 1 && !local) {
        /* each reduction its own buffers: nothing is reused across the
         * cluster barrier, so no second barrier is needed */
        line(e, "__shared__ %s q_part[NT / 32], q_xch[NT / TR * CL];", rt);
        line(e, "%s = tj::rows::cluster_reduce<%s, TR, CL, %s>(q_acc, q_part, q_xch);", V(e, id),
             op[n->sub], e->p->nfirst++ ? "false" : "true");
    } else if (p->TR > 32 && p->persist) {
        /* The walk runs this reduction once a program: alternate two
         * buffers so a fast warp's next write cannot land before a slow
         * warp has read this one (the next program's barrier orders the
         * reuse after that). */
        line(e, "__shared__ %s q_part[2][NT / 32];", rt);
        line(e, "%s = tj::rows::group_reduce<%s, TR>(q_acc, q_part[q_it & 1]);", V(e, id),
             op[n->sub]);
    } else if (p->TR > 32) {
        line(e, "__shared__ %s q_part[NT / 32];", rt);
        line(e, "%s = tj::rows::group_reduce<%s, TR>(q_acc, q_part);", V(e, id), op[n->sub]);
    } else {
        line(e, "%s = tj::rows::group_reduce<%s, TR>(q_acc, (%s *)0);", V(e, id), op[n->sub], rt);
    }
    e->depth--;
    line(e, "}");
    if (local && r1 < 0) {
        /* the block's own max; a slice of -inf subtracts 0 (rows_pair.c) */
        line(e, "const float %s_m = %s;", V(e, id), V(e, id));
        line(e, "if (%s == __int_as_float((int)0xff800000)) %s = 0.0f;", V(e, id), V(e, id));
    }
    rows_emit_renew(e, 0);
}

/* ---- loads and stores --------------------------------------------------- */

access rows_access_of(const rem *e, const ir_node *n, int32_t v) {
    const ir_node *vn = N(e, v);
    access a = {-1, -1, {1, 1, 1, 1, 1}};
    int c = e->p->cls[v];
    if (vn->type.rank == 2) {
        a.rowdim = n->axes[0];
        a.coldim = n->axes[1];
    } else if (vn->type.rank == 1) {
        if (c == RC_ROWT) a.rowdim = n->axes[0];
        else a.coldim = n->axes[0];
    }
    if (!(n->flags & TJ_COORD_ELEMENT)) {
        int64_t m = 1, w = 1;
        for (int k = 0; k < vn->type.rank; k++) {
            int64_t d = 1;
            ir_dim_eval(e->p->g, vn->type.dims[k], e->p->sym, 1, &d);
            if (vn->type.rank == 2 && k == 0) m = d;
            else w = d;
        }
        if (a.rowdim >= 0) a.mult[a.rowdim] = vn->type.rank == 2 ? m : w;
        if (a.coldim >= 0) a.mult[a.coldim] = w;
    }
    return a;
}

/* Declares q_rin (the row is inside the tensor and the program active),
 * q_ro (the row's element offset, the column dim excluded when `wide`)
 * and q_o<d>, each dim's first element (the column dim's is the tile's column 0). */
void rows_access_row(rem *e, const ir_node *n, int32_t v, const access *a, int wide_v) {
    const tj_graph *g = e->p->g;
    const ir_tensor *t = &g->tensors[n->tensor];
    int rowdep = e->p->cls[v] == RC_ROW || e->p->cls[v] == RC_FULL || e->p->cls[v] == RC_ROWT;
    char cond[1024] = "active", off[1024] = "0";
    size_t co = strlen(cond), oo = strlen(off);
    for (int d = 0; d < t->rank; d++) {
        char coord[160];
        opnd(e, n->in[d], "0", coord, sizeof coord);
        line(e, "const long long q_o%d = (long long)%s * %lld%s;", d, coord,
             (long long)a->mult[d], d == a->rowdim && rowdep ? " + ri" : "");
        if (d == a->coldim && wide_v) continue;
        co += (size_t)snprintf(cond + co, sizeof cond - co, " && q_o%d >= 0 && q_o%d < t_%s_d%d",
                               d, d, t->name, d);
        oo += (size_t)snprintf(off + oo, sizeof off - oo, " + q_o%d * t_%s_s%d", d, t->name, d);
        if (co >= sizeof cond || oo >= sizeof off) break;
    }
    line(e, "const bool q_rin = %s;", cond);
    line(e, "const long long q_ro = %s;", off);
}

/* A wide access's loop over the thread's chunks. The 16-byte path is
 * taken when the whole tile row lies inside the tensor and is aligned
 * (one test a row, `q_vec`), element by element otherwise and for the
 * chunk that straddles a ragged width. Where that test goes is fitted to
 * NVRTC's sm_90a allocation (the per-chunk bounds tests of before made
 * the walk at 64 elements a thread spill 484 bytes): around the chunk
 * loop for the walk's loads (softmax at 32768 spilled 48 bytes with it
 * inside), inside it elsewhere (the 1024-thread layernorm at 32768
 * spilled 36 bytes with it outside, softmax's walk at 8192 4 bytes). */
typedef struct chunk_io {
    const char *vec;   /* the 16-byte statement(s) for chunk c at q_p + j0 */
    const char *elem;  /* the statement for element u at column q_c, q_in its bounds test */
    int is_load;
    int b32;           /* q_in from q_lo / q_hi (rows_emit_bounds32), no q_c */
} chunk_io;

static void emit_elem_loop(rem *e, const char *tname, int coldim, const chunk_io *io) {
    line(e, "#pragma unroll");
    line(e, "for (int u = 0; u < V; ++u) {");
    if (e->p->shift && io->b32) {
        line(e, "  const bool q_in = j0 + u - q_sh >= q_lo && j0 + u - q_sh < q_hi;");
    } else if (e->p->shift) {
        /* shifted rows (rows.h): chunk j0's element u is column j0 + u - q_sh */
        line(e, "  const int q_j = j0 + u - q_sh;");
        line(e, "  const long long q_c = q_c0 + q_j;");
        line(e, "  const bool q_in = q_rin && (unsigned)q_j < (unsigned)W && q_c >= 0 && "
                "q_c < t_%s_d%d;", tname, coldim);
    } else if (io->b32) {
        line(e, "  const bool q_in = j0 + u >= q_lo && j0 + u < q_hi;");
    } else {
        line(e, "  const long long q_c = q_c0 + j0 + u;");
        line(e, "  const bool q_in = q_rin && j0 + u < W && q_c >= 0 && q_c < t_%s_d%d;", tname,
             coldim);
    }
    line(e, "  %s", io->elem);
    line(e, "}");
}

/* The element path's bounds as the tile columns [q_lo, q_hi) inside the
 * tensor (empty when the row is not), and q_e, the tile row's column 0:
 * 32-bit tests a column, not 64-bit ones (the two-pass walk's loads at 64
 * registers spilled 8 bytes with those). */
static void emit_bounds32(rem *e, const ir_tensor *t, int coldim, int is_const) {
    line(e, "%s%s *q_e = t_%s + q_ro + q_c0 * t_%s_s%d;", is_const ? "const " : "",
         emit_mem_type(t->dtype), t->name, t->name, coldim);
    line(e, "const int q_lo = q_rin ? (int)(q_c0 < 0 ? (-q_c0 < W ? -q_c0 : W) : 0) : W;");
    line(e, "const int q_hi = q_rin ? (int)(t_%s_d%d - q_c0 < W ? (t_%s_d%d - q_c0 > 0 ? "
            "t_%s_d%d - q_c0 : 0) : W) : 0;", t->name, coldim, t->name, coldim, t->name, coldim);
}

/* if (test) the chunk's 16-byte statement, else its element loop. */
static void emit_vec_or_elem(rem *e, const char *test, const char *tname, int coldim,
                             const chunk_io *io) {
    line(e, "if (%s) {", test);
    e->depth++;
    line(e, "%s", io->vec);
    e->depth--;
    line(e, "} else {");
    e->depth++;
    emit_elem_loop(e, tname, coldim, io);
    e->depth--;
    line(e, "}");
}

/* Shifted rows (rows.h): 16-byte accesses for the chunks j0 in [q_jlo,
 * q_jhi - V] (tj::rows::shift_range), element by element for the rest. */
static void emit_chunks_shift(rem *e, const char *tname, int coldim, const chunk_io *io) {
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c) {");
    e->depth++;
    line(e, "const int j0 = (cb + lane + c * TR) * V;");
    emit_vec_or_elem(e, "j0 >= q_jlo && j0 + V <= q_jhi", tname, coldim, io);
    e->depth--;
    line(e, "}");
}

void rows_span(const ir_tensor *t, char *buf, size_t size) {
    size_t o = (size_t)snprintf(buf, size, "1");
    for (int d = 0; d < t->rank && o < size; d++)
        o += (size_t)snprintf(buf + o, size - o, " + (t_%s_d%d - 1) * t_%s_s%d", t->name, d,
                              t->name, d);
}

/* Shifted rows, a load in another phase than the anchor's: q_p (chunk j0
 * at q_p + j0), q_m (its bytes past a 16-byte boundary) and the range of
 * chunks read as aligned blocks (tj::rows::shift_range). */
static void emit_shift_test(rem *e, const ir_tensor *t, int coldim) {
    line(e, "const %s *q_p = t_%s + q_ro + q_c0 - q_sh;", emit_mem_type(t->dtype), t->name);
    line(e, "const unsigned q_m = (unsigned)((unsigned long long)q_p & 15u);");
    char span[512];
    rows_span(t, span, sizeof span);
    line(e, "int q_jlo, q_jhi;");
    line(e, "tj::rows::shift_range<V, %zu>(q_rin && q_c0 >= 0 && q_c0 + W <= t_%s_d%d, "
            "q_ro + q_c0 - q_sh, %s, q_sh, q_m, W, q_jlo, q_jhi);",
         tj_dtype_size(t->dtype), t->name, coldim, span);
}

static void emit_chunks(rem *e, const char *tname, int coldim, int vec, const chunk_io *io) {
    const rows_plan *p = e->p;
    if (vec && p->shift) {
        emit_chunks_shift(e, tname, coldim, io);
        return;
    }
    int exact = rows_exact(e);
    int outer = vec && io->is_load && p->persist;
    if (outer) {
        line(e, "if (q_vec) {");
        e->depth++;
        line(e, "#pragma unroll");
        line(e, "for (int c = 0; c < C; ++c) {");
        e->depth++;
        line(e, "const int j0 = (cb + lane + c * TR) * V;");
        if (exact) {
            line(e, "%s", io->vec);
        } else {
            emit_vec_or_elem(e, "j0 + V <= W", tname, coldim, io);
        }
        e->depth--;
        line(e, "}");
        e->depth--;
        line(e, "} else {");
        e->depth++;
    }
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c) {");
    e->depth++;
    line(e, "const int j0 = (cb + lane + c * TR) * V;");
    if (vec && !outer) {
        line(e, exact ? "if (q_vec) {" : "if (q_vec && j0 + V <= W) {");
        e->depth++;
        line(e, "%s", io->vec);
        e->depth--;
        line(e, "} else {");
        e->depth++;
    }
    emit_elem_loop(e, tname, coldim, io);
    if (vec && !outer) {
        e->depth--;
        line(e, "}");
    }
    e->depth--;
    line(e, "}");
    if (outer) {
        e->depth--;
        line(e, "}");
    }
}

/* q_p and q_vec for a 16-byte path over the tile row at q_ro + q_c0. */
static void emit_vec_test(rem *e, const ir_tensor *t, int coldim, int is_const) {
    line(e, "%s%s *q_p = t_%s + q_ro + q_c0;", is_const ? "const " : "", emit_mem_type(t->dtype),
         t->name);
    line(e, "const bool q_vec = q_rin && tj::rows::aligned16(q_p) && q_c0 >= 0 && "
            "q_c0 + W <= t_%s_d%d;", t->name, coldim);
}

/* Shifted rows, the anchor (rows.h): every chunk read as one aligned
 * 16-byte block, a chunk past the row's end at the row's last (no branch
 * a chunk: the element path's held the softmax at 1001 columns at 80
 * registers), the columns outside the row set to the pad; a row outside
 * the tensor (q_sh < 0) all pad, without a read. `ld` reads at q_p + j0. */
static void emit_anchor_chunks(rem *e, int32_t id, const char *raw, const char *ld,
                               const char *pad, const char *mt) {
    char ldc[200];
    const char *at = strstr(ld, "q_p + j0");
    snprintf(ldc, sizeof ldc, "%.*sq_p + q_jc%s", (int)(at - ld), ld, at + strlen("q_p + j0"));
    char dst[96];
    snprintf(dst, sizeof dst, "%s", raw ? raw : "q_w");
    line(e, "const int q_last = (W + q_sh - 1) / V * V; // the last chunk that reaches into the row");
    line(e, "if (q_sh >= 0) {");
    e->depth++;
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c) {");
    e->depth++;
    line(e, "const int j0 = (cb + lane + c * TR) * V, q_jc = j0 < q_last ? j0 : q_last;");
    if (raw) line(e, "%s[c] = %s;", raw, ldc);
    else line(e, "tj::rows::chunk<%s, V> q_w = %s;", mt, ldc);
    line(e, "if (j0 < q_sh || j0 + V > W + q_sh) tj::rows::pad_outside(%s%s, j0 - q_sh, W, "
            "tj::to_mem<%s>(%s));", dst, raw ? "[c]" : "", mt, pad);
    if (!raw) {
        line(e, "#pragma unroll");
        line(e, "for (int u = 0; u < V; ++u) %s[c * V + u] = tj::to_reg(q_w.t[u]);", V(e, id));
    }
    e->depth--;
    line(e, "}");
    e->depth--;
    line(e, "} else {");
    e->depth++;
    line(e, "#pragma unroll");
    line(e, "for (int c = 0; c < C; ++c)");
    line(e, "  #pragma unroll");
    if (raw)
        line(e, "  for (int u = 0; u < V; ++u) %s[c].t[u] = tj::to_mem<%s>(%s);", raw, mt, pad);
    else
        line(e, "  for (int u = 0; u < V; ++u) %s[c * V + u] = %s;", V(e, id), pad);
    e->depth--;
    line(e, "}");
}

/* A wide load's chunks. `raw` NULL: into the node's f32 (register type)
 * array; else into raw[c], chunks of the tensor's storage type (a raw
 * value or the prefetch buffer: half the registers of f32 for 16-bit
 * tensors). */
void rows_emit_wide_load(rem *e, const ir_node *n, int32_t id, const access *a, const char *raw) {
    const rows_plan *p = e->p;
    const ir_tensor *t = &p->g->tensors[n->tensor];
    const char *mt = emit_mem_type(t->dtype);
    char pad[64], vec_s[1024], elem_s[512];
    emit_literal(t->dtype, n->f, pad, sizeof pad);
    int unit = rows_unit_stride(p->g, n->tensor, a->coldim);
    line(e, "const long long q_c0 = q_o%d;", a->coldim);
    int vec = unit && (size_t)p->V * tj_dtype_size(t->dtype) % 16 == 0;
    int anchor = vec && p->shift && id == p->anchor;
    if (anchor)
        line(e, "const %s *q_p = t_%s + q_ro + q_c0 - q_sh; // aligned: q_sh's making", mt,
             t->name);
    else if (vec && p->shift) emit_shift_test(e, t, a->coldim);
    else if (vec) emit_vec_test(e, t, a->coldim, 1);
    int nc = p->stored[n->tensor] ? 0 : p->l1[id] ? p->l1[id] : 1;
    /* (shifted rows: 32-bit bounds too; the 64-bit ones held the softmax
     * at 1001 columns at 79 registers) */
    int b32 = p->NG > 1 || (p->shift && !anchor);
    if (b32) emit_bounds32(e, t, a->coldim, 1);
    /* shifted rows: a load in another phase than the anchor's reads the
     * blocks around each chunk (rows.h) */
    int at = p->shift && id != p->anchor;
    const char *col = p->shift ? "j0 + u - q_sh" : "j0 + u";
    char ld[160];
    if (e->pol_load && nc && (!e->pol_only || e->pol_only[id]))
        snprintf(ld, sizeof ld, "tj::rows::ldv_l2%s<%s, V>(q_p + j0, %s%s)", at ? "_at" : "", mt,
                 at ? "q_m, " : "", e->pol_load);
    else
        snprintf(ld, sizeof ld, "tj::rows::ldv%s<%s, V, %d>(q_p + j0%s)", at ? "_at" : "", mt, nc,
                 at ? ", q_m" : "");
    /* shifted rows: a chunk at the row's ends read whole gets the pad
     * outside the row, as the element path leaves it (packed_max reads it) */
    char padfix[320] = "", rawfix[320] = "";
    if (p->shift)
        snprintf(raw ? rawfix : padfix, sizeof padfix,
                 "\nif (j0 < q_sh || j0 + V > W + q_sh) tj::rows::pad_outside(%s%s, j0 - q_sh, W, "
                 "tj::to_mem<%s>(%s));", raw ? raw : "q_w", raw ? "[c]" : "", mt, pad);
    if (raw && b32) {
        snprintf(vec_s, sizeof vec_s, "%s[c] = %s;%s", raw, ld, rawfix);
        snprintf(elem_s, sizeof elem_s,
                 "%s[c].t[u] = q_in ? q_e[(long long)(%s) * t_%s_s%d] : tj::to_mem<%s>(%s);",
                 raw, col, t->name, a->coldim, mt, pad);
    } else if (raw) {
        snprintf(vec_s, sizeof vec_s, "%s[c] = %s;%s", raw, ld, rawfix);
        snprintf(elem_s, sizeof elem_s,
                 "%s[c].t[u] = q_in ? t_%s[q_ro + q_c * t_%s_s%d] : tj::to_mem<%s>(%s);", raw,
                 t->name, t->name, a->coldim, mt, pad);
    } else {
        snprintf(vec_s, sizeof vec_s,
                 "%stj::rows::chunk<%s, V> q_w = %s;%s\n"
                 "#pragma unroll\n"
                 "for (int u = 0; u < V; ++u) %s[c * V + u] = tj::to_reg(q_w.t[u]);",
                 p->shift ? "" : "const ", mt, ld, padfix, V(e, id));
        if (b32)
            snprintf(elem_s, sizeof elem_s,
                     "%s[c * V + u] = q_in ? tj::ld(q_e + (long long)(%s) * t_%s_s%d) : %s;",
                     V(e, id), col, t->name, a->coldim, pad);
        else
            snprintf(elem_s, sizeof elem_s,
                     "%s[c * V + u] = q_in ? tj::ld(t_%s + q_ro + q_c * t_%s_s%d) : %s;", V(e, id),
                     t->name, t->name, a->coldim, pad);
    }
    chunk_io io = {vec_s, elem_s, 1, b32};
    if (anchor) {
        emit_anchor_chunks(e, id, raw, ld, pad, mt);
        return;
    }
    emit_chunks(e, t->name, a->coldim, vec, &io);
}

static void emit_load(rem *e, int32_t id) {
    const rows_plan *p = e->p;
    const ir_node *n = N(e, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    if (p->pref[id] && p->stage) {
        rows_emit_staged_load(e, id);
        return;
    }
    if (p->pref[id] && p->raw[id]) {
        /* fetched a program ahead (rows_emit_prefetch): a copy, so the buffer
         * can take the next program's while this one is used */
        line(e, "#pragma unroll");
        line(e, "for (int c = 0; c < C; ++c) %s[c] = %s_nx[c];", V(e, id), V(e, id));
        return;
    }
    if (p->pref[id]) {
        /* fetched a program ahead (rows_emit_prefetch): only the conversion */
        line(e, "#pragma unroll");
        line(e, "for (int k = 0; k < S; ++k) %s[k] = tj::to_reg(%s_nx[k / V].t[k %% V]);", V(e, id),
             V(e, id));
        return;
    }
    char pad[64];
    emit_literal(t->dtype, n->f, pad, sizeof pad);
    access a = rows_access_of(e, n, id);
    int w = wide(e, id);
    line(e, "{ // load %s", t->name);
    e->depth++;
    rows_access_row(e, n, id, &a, w);
    if (!w)
        line(e, "%s = q_rin ? tj::ld(t_%s + q_ro) : %s;", V(e, id), t->name, pad);
    else
        rows_emit_wide_load(e, n, id, &a, p->raw[id] ? V(e, id) : NULL);
    e->depth--;
    line(e, "}");
}

static void emit_store(rem *e, int32_t id) {
    const rows_plan *p = e->p;
    const ir_node *n = N(e, id);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    const char *mt = emit_mem_type(t->dtype);
    int32_t v = n->in[n->nin - 1];
    int c = p->cls[v];
    access a = rows_access_of(e, n, v);
    int w = wide(e, v);
    /* One thread writes each element: values a whole row (or program) holds
     * are written by its first lane (or first row). */
    const char *who = c == RC_FULL ? "true" : c == RC_COL ? "ri == 0"
                      : c == RC_ROW || c == RC_ROWT ? "lane == 0 && cb == 0"
                      : "lane == 0 && ri == 0 && cb == 0";
    line(e, "if (%s) { // store %s", who, t->name);
    e->depth++;
    rows_access_row(e, n, v, &a, w);
    char val[OPND_MAX];
    if (!w) {
        opnd(e, v, "0", val, sizeof val);
        line(e, "if (q_rin) tj::st(t_%s + q_ro, %s);", t->name, val);
    } else {
        opnd(e, v, "c * V + u", val, sizeof val);
        int unit = rows_unit_stride(p->g, n->tensor, a.coldim);
        line(e, "const long long q_c0 = q_o%d;", a.coldim);
        int vec = unit && (size_t)p->V * tj_dtype_size(t->dtype) % 16 == 0;
        if (vec && p->shift)
            line(e, "%s *q_p = t_%s + q_ro + q_c0 - q_sh;", mt, t->name);
        else if (vec) emit_vec_test(e, t, a.coldim, 0);
        char *vec_s = malloc(3 * OPND_MAX), *elem_s = malloc(3 * OPND_MAX);
        if (!vec_s || !elem_s) {
            free(vec_s);
            free(elem_s);
            e->out.oom = 1;
            return;
        }
        /* the chunk converted at once (16-bit floats a pair an instruction) */
        snprintf(vec_s, 3 * OPND_MAX,
                 "%s q_v[V];\n#pragma unroll\n"
                 "for (int u = 0; u < V; ++u) q_v[u] = %s;\n"
                 "tj::rows::stv%s(q_p + j0, tj::rows::to_chunk(%s{}, q_v)%s%s);",
                 emit_reg_type(t->dtype), val, e->pol_store ? "_l2" : "", mt,
                 e->pol_store ? ", " : "", e->pol_store ? e->pol_store : "");
        if (vec && p->shift) {
            /* shifted rows: a chunk's 16 bytes at once where it lies inside
             * the row's columns in the tensor and q_p is aligned (the
             * anchor's phase), else its elements inside them one by one */
            emit_bounds32(e, t, a.coldim, 0);
            line(e, "const bool q_al = tj::rows::aligned16(q_p);");
            line(e, "#pragma unroll");
            line(e, "for (int c = 0; c < C; ++c) {");
            e->depth++;
            line(e, "const int j0 = (cb + lane + c * TR) * V, q_j = j0 - q_sh;");
            line(e, "if (q_j + V <= q_lo || q_j >= q_hi) continue;");
            line(e, "%s q_v[V];", emit_reg_type(t->dtype));
            line(e, "#pragma unroll");
            line(e, "for (int u = 0; u < V; ++u) q_v[u] = %s;", val);
            line(e, "const tj::rows::chunk<%s, V> q_ch = tj::rows::to_chunk(%s{}, q_v);", mt, mt);
            line(e, "if (q_al && q_j >= q_lo && q_j + V <= q_hi) tj::rows::stv%s(q_p + j0, q_ch%s%s);",
                 e->pol_store ? "_l2" : "", e->pol_store ? ", " : "",
                 e->pol_store ? e->pol_store : "");
            line(e, "else tj::rows::stv_part(q_p + j0, q_ch, q_j, q_lo, q_hi);");
            e->depth--;
            line(e, "}");
            free(vec_s);
            free(elem_s);
            e->depth--;
            line(e, "}");
            return;
        }
        snprintf(elem_s, 3 * OPND_MAX, "if (q_in) tj::st(t_%s + q_ro + q_c * t_%s_s%d, %s);",
                 t->name, t->name, a.coldim, val);
        chunk_io io = {vec_s, elem_s, 0, 0};
        emit_chunks(e, t->name, a.coldim, vec, &io);
        free(vec_s);
        free(elem_s);
    }
    e->depth--;
    line(e, "}");
}

/* ---- the walk ----------------------------------------------------------- */

static void emit_node(rem *e, int32_t id) {
    const ir_node *n = N(e, id);
    const rows_plan *p = e->p;
    if (n->op == IR_STORE) {
        emit_store(e, id);
        return;
    }
    if (n->op == IR_CONST || n->op == IR_SCALAR_ARG) return; /* literals, parameters */
    char desc[160];
    line(e, "// %s%s", ir_node_desc(p->g, id, desc, sizeof desc), p->inl[id] ? ": at each use" : "");
    if (p->inl[id]) return;
    if (p->pref[id] && p->stage)
        ; /* a view of its shared-memory buffer (rows_emit_staged_load) */
    else if (p->raw[id])
        line(e, "tj::rows::chunk<%s, V> %s[C];", emit_mem_type(p->g->tensors[n->tensor].dtype),
             V(e, id));
    else if (wide(e, id))
        line(e, "%s %s[S];", emit_reg_type(n->type.dtype), V(e, id));
    else
        line(e, "%s %s;", emit_reg_type(n->type.dtype), V(e, id));
    static const char *const axis[3] = {"x", "y", "z"};
    char rhs[96];
    switch (n->op) {
    case IR_SYMVAL:
        line(e, "%s = sym_%s;", V(e, id), p->g->syms[n->index].name);
        break;
    case IR_PROGRAM_ID:
        line(e, "%s = prog%d;", V(e, id), n->index);
        break;
    case IR_NUM_PROGRAMS:
        if (p->persist || (n->index == 0 && p->P > 1)) snprintf(rhs, sizeof rhs, "grid_%d", n->index);
        else if (n->index == 0 && p->CL > 1) snprintf(rhs, sizeof rhs, "(int)gridDim.x / CL");
        else snprintf(rhs, sizeof rhs, "(int)gridDim.%s", axis[n->index]);
        line(e, "%s = %s;", V(e, id), rhs);
        break;
    case IR_IOTA: emit_iota(e, id); break;
    case IR_LOAD: emit_load(e, id); break;
    case IR_UNARY:
        if (fast_exp(e, id)) break;
        assign(e, id, emit_unary_fmt(n->sub), n->in, 1);
        break;
    case IR_BINARY: {
        const char *f = ir_is_int(n->type.dtype) ? int_binary(n->sub) : NULL;
        assign(e, id, f ? f : emit_binary_fmt(n->sub), n->in, 2);
        break;
    }
    case IR_WHERE: assign(e, id, "(%1$s ? %2$s : %3$s)", n->in, 3); break;
    case IR_FMA: assign(e, id, "fmaf(%1$s, %2$s, %3$s)", n->in, 3); break;
    case IR_CAST: emit_cast(e, id); break;
    case IR_REDUCE: emit_reduce(e, id); break;
    case IR_BROADCAST: case IR_RESHAPE: case IR_TRANSPOSE: assign(e, id, "%1$s", n->in, 1); break;
    default: break;
    }
}

void rows_emit_node(rem *e, int32_t id) { emit_node(e, id); }

/* Node id after every operand it needs (program order otherwise). */
void rows_emit_with_deps(rem *e, int32_t id, uint8_t *done) {
    if (done[id]) return;
    done[id] = 1;
    const ir_node *n = N(e, id);
    for (int k = 0; k < n->nin; k++) rows_emit_with_deps(e, n->in[k], done);
    emit_node(e, id);
    e->emitted[id] = 1;
}

void rows_emit_shift(rem *e, uint8_t *done) {
    const rows_plan *p = e->p;
    if (!p->shift) return;
    const ir_node *n = N(e, p->anchor);
    for (int k = 0; k < n->nin; k++) rows_emit_with_deps(e, n->in[k], done);
    const ir_tensor *t = &p->g->tensors[n->tensor];
    access a = rows_access_of(e, n, p->anchor);
    /* (the anchor's tile starts at column 0 of rows at least W wide:
     * find_anchor, rows.c; a row outside the tensor gets a phase that
     * puts every column out of range) */
    line(e, "// the row's phase: elements of %s's row before it past a 16-byte boundary",
         t->name);
    line(e, "int q_sh;");
    line(e, "{");
    e->depth++;
    rows_access_row(e, n, p->anchor, &a, 1);
    line(e, "q_sh = q_rin ? (int)(((unsigned long long)(t_%s + q_ro) & 15u) / %zu) : -(1 << 24);",
         t->name, tj_dtype_size(t->dtype));
    e->depth--;
    line(e, "}");
    rows_emit_in_mask(e);
}

/* One program's nodes. Loads of tensors the kernel does not write go
 * first, so their latency (a weight row from L2) overlaps the input's
 * instead of following the reductions; everything else keeps program
 * order. The persistent walk prefetches the next program between the
 * two; with `late` only its prefetched loads go first, and a weight row
 * is loaded where it is used (an L1 hit, no registers held across the
 * reductions). */
void rows_emit_body_split(rem *e, uint8_t *done, int prefetch) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    rows_emit_shift(e, done);
    for (int k = 0; k < g->nbody; k++) {
        const ir_node *n = &g->nodes[g->body[k]];
        if (p->live[g->body[k]] && n->op == IR_LOAD && !p->stored[n->tensor] &&
            (!p->late || p->pref[g->body[k]]))
            rows_emit_with_deps(e, g->body[k], done);
    }
    if (prefetch) rows_emit_prefetch(e, "q_b + q_step + q_slot");
    for (int k = 0; k < g->nbody; k++)
        if (p->live[g->body[k]]) rows_emit_with_deps(e, g->body[k], done);
}
static void emit_body(rem *e, uint8_t *done) { rows_emit_body_split(e, done, 0); }

static void emit_signature(rem *e, emit_launch *L) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    if (p->persist || p->minblocks > 0)
        sb_printf(&e->out, "extern \"C\" __global__ void __launch_bounds__(%d, %d)\ntj_%s(", p->NT,
                  p->minblocks, g->name);
    else
        sb_printf(&e->out, "extern \"C\" __global__ void __launch_bounds__(%d)\ntj_%s(", p->NT,
                  g->name);
    int np = emit_sched_params(&e->out, g, p->sym, p->stored, L);
    const char *sep = np ? ", " : "";
    /* the persistent walk flattens the graph's grid itself */
    for (int d = 0; d < (p->persist ? 3 : p->P > 1 ? 1 : 0); d++, sep = ", ") {
        sb_printf(&e->out, "%sint grid_%d", sep, d);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_GRID, .index = d, .ctype = EMIT_C_I32,
                                       .size = 4};
    }
    sb_printf(&e->out, ") {\n");
    L->nparams = np;
}

static void emit_prologue(rem *e) {
    const rows_plan *p = e->p;
    const tj_graph *g = p->g;
    line(e, "constexpr int NT = %d, TR = %d, V = %d, C = %d, S = C * V, W = %d, R = %d, CL = %d;",
         p->NT, p->TR, p->V, p->C, p->W, p->R, p->CL);
    line(e, "const int tid = threadIdx.x, lane = tid %% TR, grp = tid / TR, ri = grp %% R;");
    line(e, "(void)NT; (void)lane; (void)ri; (void)S; (void)W; (void)CL;");
    if (p->CL > 1 && p->persist) {
        /* the staged walk in clusters: block r holds chunks r*TR*C .. of
         * each row; programs are set per step of the walk */
        line(e, "const int cb = (int)tj::rows::cluster_rank() * TR * C;");
        line(e, "const bool active = grp < R;");
    } else if (p->CL > 1) {
        /* block r of a program's cluster holds chunks r*TR*C .. of each row */
        line(e, "const int cb = (int)tj::rows::cluster_rank() * TR * C;");
        line(e, "const int prog0 = (int)blockIdx.x / CL;");
        line(e, "const bool active = grp < R;");
        line(e, "tj::rows::cluster_arrive_relaxed();");
    } else if (p->persist) {
        /* programs are set per step of the walk (rows_emit_walk) */
        line(e, "constexpr int cb = 0;");
        line(e, "const bool active = grp < R * %d;", p->P);
    } else if (p->P > 1) {
        line(e, "constexpr int cb = 0;");
        line(e, "const int prog0 = (int)blockIdx.x * %d + grp / R;", p->P);
        line(e, "const bool active = grp < R * %d && prog0 < grid_0;", p->P);
    } else {
        line(e, "constexpr int cb = 0;");
        line(e, "const int prog0 = (int)blockIdx.x;");
        line(e, "const bool active = grp < R;");
    }
    if (!p->persist) {
        line(e, "const int prog1 = (int)blockIdx.y, prog2 = (int)blockIdx.z;");
        line(e, "(void)prog0; (void)prog1; (void)prog2;");
    }
    line(e, "(void)cb; (void)active;");
    emit_sched_prologue(&e->out, e->depth, g, p->sym);
}

static void make_names(rows_plan *p) {
    const tj_graph *g = p->g;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = &g->nodes[id];
        if (n->op == IR_SCALAR_ARG)
            snprintf(p->names[id], sizeof p->names[id], "a_%s", g->scalars[n->index].name);
        else if (n->name)
            snprintf(p->names[id], sizeof p->names[id], "v_%s", n->name);
        else
            snprintf(p->names[id], sizeof p->names[id], "v%d", (int)id);
    }
}

/* The walk loads something other than its prefetched rows where it is used. */
static int late_loads(const rows_plan *p) {
    for (int32_t id = 0; p->late && id < p->g->nnodes; id++) {
        const ir_node *n = &p->g->nodes[id];
        if (p->live[id] && n->op == IR_LOAD && !p->pref[id] && !p->stored[n->tensor]) return 1;
    }
    return 0;
}

tj_status rows_emit(rows_plan *p, char **src, emit_launch *L) {
    const tj_graph *g = p->g;
    char hash[65];
    tj_status st = tj_graph_hash(g, hash);
    if (st != TJ_OK) return st;
    make_names(p);
    rem e = {.p = p};
    sb_printf(&e.out, "// tilejit rows kernel for graph '%s' (%s): width %d, %d thread%s a row, "
              "%d chunk%s of %d, %d row%s a program, %d program%s a block\n",
              g->name, p->arch, p->W, p->TR, p->TR > 1 ? "s" : "", p->C, p->C > 1 ? "s" : "",
              p->V, p->R, p->R > 1 ? "s" : "", p->P, p->P > 1 ? "s" : "");
    if (p->CL > 1)
        sb_printf(&e.out, "// a cluster of %d blocks a program, reductions through distributed "
                  "shared memory\n", p->CL);
    if (p->stage && p->NG > 1)
        sb_printf(&e.out, "// two-pass staged: %d groups a row, %d block%s an SM walk the rows, "
                  "the groups copied by the bulk copy engine into a ring of %d shared-memory "
                  "buffers of %zu bytes, read by the reductions' pass and again by the stores'\n",
                  p->NG, p->minblocks, p->minblocks > 1 ? "s" : "", p->NB, p->slice);
    else if (p->stage)
        sb_printf(&e.out, "// staged: %d block%s an SM walk the programs, rows copied into %d "
                  "shared-memory buffers of %zu bytes by the bulk copy engine%s%s\n",
                  p->minblocks, p->minblocks > 1 ? "s" : "", p->NB, p->slice,
                  p->l2hint ? " (L2 evict-first)" : "",
                  late_loads(p) ? ", weight rows reloaded each program" : "");
    else if (p->persist)
        sb_printf(&e.out, "// persistent: %d blocks an SM walk the programs, the next one's rows "
                  "prefetched%s\n", p->minblocks, late_loads(p) ? ", weight rows reloaded each program" : "");
    else if (p->NG > 1)
        sb_printf(&e.out, "// two-pass: %d groups a row, the reductions in a first pass, the "
                  "stores in a second over the row again (kept in L2 between them)\n", p->NG);
    sb_printf(&e.out, "// graph sha256 %s\n// bindings:", hash);
    for (int s = 0; s < g->nsyms; s++) {
        static const char *const pol[] = {"exact", "pow2", "multiple", "dynamic"};
        if (p->sym && p->sym[s] != TJ_UNBOUND)
            sb_printf(&e.out, " %s=%lld (%s)", g->syms[s].name, (long long)p->sym[s],
                      pol[g->syms[s].policy]);
        else
            sb_printf(&e.out, " %s (%s)", g->syms[s].name, pol[g->syms[s].policy]);
    }
    sb_printf(&e.out, "\n#include \"tj/rows.cuh\"\n\n");
    memset(L, 0, sizeof *L);
    emit_signature(&e, L);
    e.depth = 1;
    emit_prologue(&e);
    uint8_t *done = calloc((size_t)g->nnodes + 1, 1);
    e.visible = calloc((size_t)g->nnodes + 1, 1);
    e.scratch = calloc((size_t)g->nnodes + 1, 1);
    e.emitted = calloc((size_t)g->nnodes + 1, 1);
    if (!done || !e.visible || !e.scratch || !e.emitted) {
        free(done);
        free(e.visible);
        free(e.scratch);
        free(e.emitted);
        sb_free(&e.out);
        return tj_set_error(TJ_ERR_NO_MEMORY, "rows schedule: out of memory");
    }
    if (p->NG > 1)
        rows_emit_twopass(&e, done);
    else if (p->persist)
        rows_emit_walk(&e, done);
    else
        emit_body(&e, done);
    free(done);
    free(e.visible);
    free(e.scratch);
    free(e.emitted);
    sb_printf(&e.out, "}\n");
    if (e.out.oom) {
        sb_free(&e.out);
        return tj_set_error(TJ_ERR_NO_MEMORY, "rows schedule: out of memory");
    }
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    L->threads = p->NT;
    L->smem_bytes = p->stage ? rows_stage_smem(p) : 0;
    if (p->CL > 1 && p->persist) {
        L->grid_mode = EMIT_GRID_PERSISTENT;
        L->grid_arg = p->minblocks;
        L->cluster[0] = (unsigned)p->CL, L->cluster[1] = L->cluster[2] = 1;
    } else if (p->CL > 1) {
        L->grid_mode = EMIT_GRID_MUL;
        L->grid_arg = p->CL;
        L->cluster[0] = (unsigned)p->CL, L->cluster[1] = L->cluster[2] = 1;
    } else if (p->persist) {
        L->grid_mode = EMIT_GRID_PERSISTENT;
        L->grid_arg = p->minblocks;
    } else {
        L->grid_mode = p->P > 1 ? EMIT_GRID_DIV : EMIT_GRID_GRAPH;
        L->grid_arg = p->P > 1 ? p->P : 0;
    }
    *src = e.out.data;
    return TJ_OK;
}
