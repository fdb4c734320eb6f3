/*
 * attention_sm90_values.c — the per-value half of the attention_sm90
 * emitter (attention_sm90_emit.h): a node's values in the accumulator
 * fragment layout (elementwise ops, row reductions, the softmax
 * exponent as one FMA, the scale folded into it, division by a row), and
 * the epilogue's stores (column pairs, row vectors, or 16 bytes a thread
 * through shared memory).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_sm90_emit.h"

void as_line(ax *x, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&x->out, "%*s%s\n", 2 * x->depth, "", buf);
}

/* The register array (or scalar) that holds node id's values. Loop
 * results are their loop's carried arrays after the loop. */
const char *as_base(const ax *x, int32_t id, char buf[64]) {
    const ir_node *n = as_node(x, id);
    if (n->op == IR_SCALAR_ARG)
        snprintf(buf, 64, "a_%s", x->g->scalars[n->index].name);
    else if (n->op == IR_LOOP_IV)
        snprintf(buf, 64, "iv%d", (int)n->in[0]);
    else if (n->op == IR_FOR_RESULT)
        snprintf(buf, 64, "c%d", (int)as_node(x, n->in[0])->loop->carried[n->index]);
    else if (n->op == IR_LOOP_CARRIED)
        snprintf(buf, 64, "c%d", (int)id);
    else
        snprintf(buf, 64, "%c%d", x->p->cls[id] == AS_SCALAR ? 's' : 'e', (int)id);
    return buf;
}

/* Node id's value at the current element: inside loops over t (8-column
 * block), h (upper / lower row) and c (column of the pair). */
const char *as_at(const ax *x, int32_t id, char buf[96]) {
    char b[64];
    as_base(x, id, b);
    switch (x->p->cls[id]) {
    case AS_ROW: snprintf(buf, 96, "%s[h]", b); break;
    case AS_COL: snprintf(buf, 96, "%s[2 * t + c]", b); break;
    case AS_FULL: snprintf(buf, 96, "%s[4 * t + 2 * h + c]", b); break;
    default: snprintf(buf, 96, "%s", b); break;
    }
    return buf;
}

/* exp2((v - r) * c) with r and c the same along a row (the softmax's
 * exponent, max subtracted, log2 e applied) as one FMA, v * c - r * c, as
 * FlashAttention computes it: the rounding differs from the graph's two
 * steps by about 2^-24 of v * c. 1 when the pattern is there. */

static int exp2_fma(const ax *x, int32_t arg, char *out, size_t size) {
    if (!as_is_binary(x, arg, TJ_MUL)) return 0;
    const ir_node *m = as_node(x, arg);
    for (int k = 0; k < 2; k++) {
        int32_t sub = m->in[k], c = m->in[1 - k];
        int cc = x->p->cls[c];
        if (!as_is_binary(x, sub, TJ_SUB) || (cc != AS_SCALAR && cc != AS_ROW)) continue;
        int32_t v = as_node(x, sub)->in[0], r = as_node(x, sub)->in[1];
        int rc = x->p->cls[r];
        if (rc != AS_SCALAR && rc != AS_ROW) continue;
        char av[96], ar[96], ac[96];
        as_at(x, v, av);
        as_at(x, r, ar);
        as_at(x, c, ac);
        if (x->fold[v] == FOLD_PRODUCT) {   /* v = s * c0: s * (c0 * c) - r * c */
            char as[96], a0[96];
            const ir_node *t = as_node(x, v);
            int k0 = x->p->cls[t->in[0]] == AS_SCALAR ? 0 : 1;   /* c's operand */
            as_at(x, t->in[1 - k0], as);
            as_at(x, t->in[k0], a0);
            snprintf(out, size, "fmaf(%s, %s * %s, -(%s * %s))", as, a0, ac, ar, ac);
            return 1;
        }
        snprintf(out, size, "fmaf(%s, %s, -(%s * %s))", av, ac, ar, ac);
        return 1;
    }
    return 0;
}

/* An i32 value as f32 arithmetic, for a cast whose argument is index
 * arithmetic (ALiBi's key - query, a position mask's columns): a
 * conversion runs at the MUFU's rate (16 an SM a clock, like exp2), so a
 * conversion an element cost as much as the softmax's exponent. Sums and
 * differences of a thread's row, its columns and scalars are exact in f32
 * while every term is under 2^24 in magnitude (as the cast is); a row's or
 * a scalar's conversion is the same expression at every element, computed
 * once, and the columns' 8t + 2(lane % 4) + c folds to qcol's conversion
 * plus a constant. 0 where id is not such an expression. */
static int int_as_float(const ax *x, int32_t id, char *out, size_t size, char *offs,
                        size_t offsize, int neg, int depth) {
    const ir_node *n = as_node(x, id);
    if (n->type.dtype != TJ_I32 || depth > 8) return 0;
    char a[96];
    int cls = x->p->cls[id];
    if (cls == AS_SCALAR || cls == AS_ROW) {
        snprintf(out, size, "(float)%s", as_at(x, id, a));
        return 1;
    }
    if (n->op == IR_IOTA) {
        /* offs: the thread's base here, the element's constant offset last
         * (offs), so no per-column sum is a loop-invariant the compiler
         * keeps in a register across the loop (d 256 spilled 48 bytes);
         * none: the per-column sums, held where registers allow (d 128
         * full ALiBi 607 TFLOP/s held, 568 with the offsets last) */
        int row = n->type.rank == 2 && n->index == 0;
        if (!offs) {
            snprintf(out, size, row ? "((float)rrow + (float)(8 * h))"
                                    : "((float)qcol + (float)(8 * t + c))");
            return 1;
        }
        size_t o = strlen(offs);
        if (o + 32 > offsize) return 0;
        snprintf(offs + o, offsize - o, " %c (float)(%s)", neg ? '-' : '+',
                 row ? "8 * h" : "8 * t + c");
        snprintf(out, size, row ? "(float)rrow" : "(float)qcol");
        return 1;
    }
    if (n->op == IR_BINARY && (n->sub == TJ_ADD || n->sub == TJ_SUB)) {
        char l[512], r[512];
        if (!int_as_float(x, n->in[0], l, sizeof l, offs, offsize, neg, depth + 1) ||
            !int_as_float(x, n->in[1], r, sizeof r, offs, offsize,
                          n->sub == TJ_SUB ? !neg : neg, depth + 1))
            return 0;
        if (strlen(l) + strlen(r) + 8 > size) return 0;
        snprintf(out, size, "(%s %c %s)", l, n->sub == TJ_ADD ? '+' : '-', r);
        return 1;
    }
    if (cls == AS_COL) {   /* a column's conversion: once a column, not an element */
        snprintf(out, size, "(float)%s", as_at(x, id, a));
        return 1;
    }
    return 0;
}

/* int_as_float's expression; the elements' offsets added last where the
 * consumers' registers are tight (d 256). */
static int int_cast_expr(const ax *x, int32_t id, char *out, size_t size) {
    char base[768], offs[256] = "";
    int late = x->p->d > 128;
    if (!int_as_float(x, id, base, sizeof base, late ? offs : NULL, sizeof offs, 0, 0)) return 0;
    if (strlen(base) + strlen(offs) + 4 > size) return 0;
    snprintf(out, size, "(%s%s)", base, offs);
    return 1;
}

/* The right-hand side of an elementwise or scalar op, operands at the
 * current element (or as scalars). */
static int rhs(const ax *x, int32_t id, char *out, size_t size) {
    const ir_node *n = as_node(x, id);
    if (as_is_binary(x, id, TJ_MUL)) {   /* (s * c1) * c2 as s * (c1 * c2): see as_scale_fold */
        for (int k = 0; k < 2; k++) {
            const ir_node *t = as_node(x, n->in[k]);
            if (x->fold[n->in[k]] != FOLD_INNER) continue;
            int k1 = x->p->cls[t->in[0]] == AS_SCALAR ? 0 : 1;
            char as[96], a1[96], a2[96];
            as_at(x, t->in[1 - k1], as);
            as_at(x, t->in[k1], a1);
            as_at(x, n->in[1 - k], a2);
            snprintf(out, size, "(%s * (%s * %s))", as, a1, a2);
            return 1;
        }
    }
    char a[3][96] = {"", "", ""};
    const char *T = emit_reg_type(n->type.dtype);
    for (int k = 0; k < n->nin && k < 3; k++) as_at(x, n->in[k], a[k]);
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
    case IR_CAST:
        if (n->type.dtype == TJ_F32 && x->p->cls[id] != AS_SCALAR &&
            int_cast_expr(x, n->in[0], out, size))
            break;
        if (emit_cast_is_store_rounding(x->g, id)) {   /* o's cast: the store rounds */
            snprintf(out, size, "%s", a[0]);
            break;
        }
        return emit_elementwise_expr(x->g, id, a[0], a[1], a[2], out, size);
    default: return emit_elementwise_expr(x->g, id, a[0], a[1], a[2], out, size);
    }
    return 1;
}

/* Per-dim bases of a load or store: the coordinate times the tile's
 * extent along the dim (unless coordinates are element offsets). */
static void access_bases(ax *x, int32_t id, const char *pfx) {
    const ir_node *n = as_node(x, id);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = as_node(x, v)->type.rank;
    char c[64];
    for (int d = 0; d < t->rank; d++) {
        long long mult = 1;
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = k == 0 && rank == 2 ? x->p->bm : x->p->ncols[v];
        as_line(x, "const long long %s_b%d = (long long)%s * %lld;", pfx, d, as_base(x, n->in[d], c), mult);
    }
}

/* `inb` and `at` of element (li, lj) of a load's or store's tile. */
static void access_index(ax *x, int32_t id, const char *pfx, const char *li, const char *lj) {
    frag_access_index(&x->out, x->depth, x->g, id, pfx, li, lj);
}

/* A scalar: `const T s<id> = ...;` (a rank-0 load reads one element). */
void as_scalar(ax *x, int32_t id) {
    const ir_node *n = as_node(x, id);
    char nm[64], r[1024];
    const char *T = emit_reg_type(n->type.dtype);
    as_base(x, id, nm);
    if (n->op == IR_SCALAR_ARG || n->op == IR_LOOP_IV) return;
    if (n->op == IR_LOAD) {
        const ir_tensor *t = &x->g->tensors[n->tensor];
        char pfx[32], pad[64];
        snprintf(pfx, sizeof pfx, "L%d", (int)id);
        emit_literal(t->dtype, n->f, pad, sizeof pad);
        as_line(x, "%s %s;", T, nm);
        as_line(x, "{");
        x->depth++;
        access_bases(x, id, pfx);
        access_index(x, id, pfx, "0", "0");
        as_line(x, "%s = inb ? tjg::ld(t_%s + at) : %s;", nm, t->name, pad);
        x->depth--;
        as_line(x, "}");
        return;
    }
    if (rhs(x, id, r, sizeof r)) as_line(x, "const %s %s = %s; (void)%s;", T, nm, r, nm);
}

/* Fill array `dst` (class cls, n columns) with node src at each element. */
void as_fill(ax *x, const char *dst, int cls, int n, int32_t src) {
    char a[96];
    as_at(x, src, a);
    as_open_elems(x, cls, n);
    as_line(x, "  %s[%s] = %s;", dst,
         cls == AS_ROW ? "h" : cls == AS_COL ? "2 * t + c" : "4 * t + 2 * h + c", a);
    as_line(x, "}");
}

/* The scores scaled, t = s * c with c a scalar (the softmax scale), cost
 * a multiply an element every trip (a tenth of the trip's instructions)
 * where FlashAttention folds c into the exponent's FMA. When t is read
 * by nothing but row maxes and exp2((t - r) * c2) (exp2_fma), it is
 * never computed: the exponent becomes s * (c c2) - r c2, and the row
 * max c * max(s) when c > 0 -- the same value as max(t), rounding to
 * nearest being monotonic -- else the max of the products (a branch
 * all threads take alike). FOLD_PRODUCT marks t; FOLD_CHAIN the
 * t - r and (t - r) * c2 nodes only exp2_fma reads. */
typedef int (*reader_ok)(const ax *x, int32_t reader, int32_t id, int32_t arg);

/* 1 when every live node reading id passes ok(x, reader, id, arg) (a
 * loop's yield of id does not). */
static int readers_all(const ax *x, int32_t id, reader_ok ok, int32_t arg) {
    const tj_graph *g = x->g;
    for (int32_t r = 0; r < g->nnodes; r++) {
        const ir_node *n = as_node(x, r);
        if (!x->p->live[r]) continue;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] == id && !ok(x, r, id, arg)) return 0;
        if (n->op == IR_FOR)
            for (int k = 0; k < n->loop->ncarried; k++)
                if (n->loop->yields[k] == id) return 0;
    }
    return 1;
}

static int row_or_scalar(const ax *x, int32_t id) {
    return x->p->cls[id] == AS_ROW || x->p->cls[id] == AS_SCALAR;
}

static int is_exp2(const ax *x, int32_t r, int32_t id, int32_t arg) {
    const ir_node *n = as_node(x, r);
    (void)id;
    (void)arg;
    return n->op == IR_UNARY && n->sub == TJ_EXP2 && n->type.dtype == TJ_F32 &&
           x->p->cls[r] == AS_FULL;
}

/* (t - r) * c2, read by exp2 only */
static int scaled_diff(const ax *x, int32_t r, int32_t id, int32_t arg) {
    const ir_node *n = as_node(x, r);
    if (!as_is_binary(x, r, TJ_MUL) || x->p->cls[r] != AS_FULL) return 0;
    int32_t c2 = n->in[0] == id ? n->in[1] : n->in[0];
    return c2 != id && row_or_scalar(x, c2) && readers_all(x, r, is_exp2, arg);
}

/* t's readers: a row max, or t - r read only as above */
static int fold_reader(const ax *x, int32_t r, int32_t id, int32_t arg) {
    const ir_node *n = as_node(x, r);
    if (n->op == IR_REDUCE && n->sub == TJ_RMAX && x->p->cls[r] == AS_ROW) return 1;
    return as_is_binary(x, r, TJ_SUB) && n->in[0] == id && n->in[1] != id &&
           row_or_scalar(x, n->in[1]) && x->p->cls[r] == AS_FULL && readers_all(x, r, scaled_diff, arg);
}

static void mark_chain(ax *x, int32_t t) {
    const tj_graph *g = x->g;
    x->fold[t] = FOLD_PRODUCT;
    for (int32_t r = 0; r < g->nnodes; r++) {
        const ir_node *n = as_node(x, r);
        if (!x->p->live[r] || !as_is_binary(x, r, TJ_SUB) || n->in[0] != t) continue;
        x->fold[r] = FOLD_CHAIN;
        for (int32_t m = 0; m < g->nnodes; m++) {
            const ir_node *mn = as_node(x, m);
            if (x->p->live[m] && mn->op == IR_BINARY && (mn->in[0] == r || mn->in[1] == r))
                x->fold[m] = FOLD_CHAIN;
        }
    }
}

/* id = s * c, s a full f32 tile, c an f32 scalar: *sv = s (else 0). */
static int scaled_tile(const ax *x, int32_t id, int32_t *sv) {
    const ir_node *n = as_node(x, id);
    if (!x->p->live[id] || as_special(x->p, id) || !as_is_binary(x, id, TJ_MUL) ||
        x->p->cls[id] != AS_FULL)
        return 0;
    int k0 = x->p->cls[n->in[0]] == AS_SCALAR ? 0 : 1;   /* c's operand */
    int32_t c = n->in[k0];
    *sv = n->in[1 - k0];
    return x->p->cls[c] == AS_SCALAR && x->p->cls[*sv] == AS_FULL &&
           as_node(x, *sv)->type.dtype == TJ_F32 && as_node(x, c)->type.dtype == TJ_F32;
}

/* A reader that is node arg (id's only reader, with readers_all). */
static int is_reader(const ax *x, int32_t r, int32_t id, int32_t arg) {
    (void)x;
    (void)id;
    return r == arg;
}

/* Then, where a scaled tile is scaled again and read by nothing else,
 * (s * c1) * c2 (the scale, then a softcap's 1 / cap), it is computed as
 * s * (c1 * c2): one multiply an element instead of two, the rounding a
 * unit in the last place away. FOLD_INNER marks s * c1. */
void as_scale_fold(ax *x) {
    const tj_graph *g = x->g;
    int32_t sv, inner;
    for (int32_t id = 0; id < g->nnodes; id++)
        if (scaled_tile(x, id, &sv) && readers_all(x, id, fold_reader, 0)) mark_chain(x, id);
    for (int32_t id = 0; id < g->nnodes; id++) {
        if (x->fold[id] || !scaled_tile(x, id, &inner) || x->fold[inner] ||
            !scaled_tile(x, inner, &sv))
            continue;
        if (readers_all(x, inner, is_reader, id)) x->fold[inner] = FOLD_INNER;
    }
}

/* The row max of a folded t = s * c (see above). */
static void folded_max(ax *x, int32_t id) {
    const ir_node *t = as_node(x, as_node(x, id)->in[0]);
    int k0 = x->p->cls[t->in[0]] == AS_SCALAR ? 0 : 1;   /* c's operand */
    int nc = x->p->ncols[as_node(x, id)->in[0]];   /* t's (s may be the product, not classified) */
    char sv[64], c[96], dst[32], tmp[32];
    as_base(x, t->in[1 - k0], sv);
    as_at(x, t->in[k0], c);
    snprintf(dst, sizeof dst, "e%d", (int)id);
    snprintf(tmp, sizeof tmp, "f%d", (int)id);
    as_line(x, "float e%d[2];   // max along the row of s * c: c * max(s) when c > 0", (int)id);
    as_line(x, "if (%s > 0.0f) {", c);
    frag_reduce_into(&x->out, x->depth + 1, dst, TJ_RMAX, sv, nc, "2", "tj::sm90::quad_");
    as_line(x, "  e%d[0] *= %s;", (int)id, c);
    as_line(x, "  e%d[1] *= %s;", (int)id, c);
    as_line(x, "} else {");
    as_line(x, "  float f%d[%d];", (int)id, frag_count(AS_FULL, nc));
    x->depth++;
    as_open_elems(x, AS_FULL, nc);
    as_line(x, "  f%d[4 * t + 2 * h + c] = %s[4 * t + 2 * h + c] * %s;", (int)id, sv, c);
    as_line(x, "}");
    frag_reduce_into(&x->out, x->depth, dst, TJ_RMAX, tmp, nc, "2", "tj::sm90::quad_");
    x->depth--;
    as_line(x, "}");
}

static void reduce(ax *x, int32_t id) {
    const ir_node *n = as_node(x, id);
    char in[64];
    if (x->fold[n->in[0]] == FOLD_PRODUCT) {
        folded_max(x, id);
        return;
    }
    as_base(x, n->in[0], in);
    frag_reduce(&x->out, x->depth, id, n->sub, in, x->p->ncols[n->in[0]], "2", "tj::sm90::quad_", 1);
}

/* A full f32 tile divided by a row value (o / l, the softmax's
 * normalization): one IEEE division a row for its reciprocal r, then
 * per element q = a r corrected once, q + (a - q d) r, which is the
 * correctly rounded quotient whenever r is (Markstein) and nothing
 * overflows or underflows: the same bits as a division per element for
 * a third of its instructions (64 divisions a thread were as much work
 * as a trip's softmax, which short sequences felt). */
static int row_division(ax *x, int32_t id) {
    const ir_node *n = as_node(x, id);
    if (!as_is_binary(x, id, TJ_DIV) || n->type.dtype != TJ_F32 || x->p->cls[id] != AS_FULL ||
        x->p->cls[n->in[1]] != AS_ROW || as_node(x, n->in[0])->type.dtype != TJ_F32 ||
        as_node(x, n->in[1])->type.dtype != TJ_F32)
        return 0;
    char a[96], d[96];
    as_at(x, n->in[0], a);
    as_at(x, n->in[1], d);
    int nc = x->p->ncols[id];
    as_line(x, "float r%d[2], e%d[%d];   // / row: a reciprocal a row, products corrected once", (int)id,
         (int)id, frag_count(AS_FULL, nc));
    as_open_elems(x, AS_ROW, 0);
    as_line(x, "  r%d[h] = 1.0f / %s;", (int)id, d);
    as_line(x, "}");
    as_open_elems(x, AS_FULL, nc);
    as_line(x, "  const float q = %s * r%d[h];", a, (int)id);
    as_line(x, "  e%d[4 * t + 2 * h + c] = fmaf(fmaf(-%s, q, %s), r%d[h], q);", (int)id, d, a, (int)id);
    as_line(x, "}");
    return 1;
}

/* An ordinary tile value (row, column or full): an array of the thread's
 * elements, computed element by element. */
static void tile(ax *x, int32_t id) {
    const ir_node *n = as_node(x, id);
    if (n->op == IR_FOR_RESULT || n->op == IR_LOOP_CARRIED) return;
    if (n->op == IR_REDUCE) {
        reduce(x, id);
        return;
    }
    if (row_division(x, id)) return;
    int cls = x->p->cls[id], nc = x->p->ncols[id];
    char r[1024];
    if (!rhs(x, id, r, sizeof r)) return;
    as_line(x, "%s e%d[%d];", emit_reg_type(n->type.dtype), (int)id, frag_count(cls, nc));
    as_open_elems(x, cls, nc);
    as_line(x, "  e%d[%s] = %s;", (int)id,
         cls == AS_ROW ? "h" : cls == AS_COL ? "2 * t + c" : "4 * t + 2 * h + c", r);
    as_line(x, "}");
}

void as_value(ax *x, int32_t id) {
    if (!x->p->live[id] || as_special(x->p, id) || x->hoisted[id] || x->fold[id]) return;
    const ir_node *n = as_node(x, id);
    if (n->op == IR_FOR || n->op == IR_STORE) return;
    if (x->p->cls[id] == AS_SCALAR) as_scalar(x, id);
    else tile(x, id);
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
        const ir_node *c = as_node(x, n->in[last]);
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
        const ir_node *c = as_node(x, n->in[last]);
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
    const ir_node *n = as_node(x, id);
    char v0[96], v1[96];
    int32_t val = n->in[n->nin - 1];
    const int pitch = x->p->d * 2, chunks = x->p->d / 8;
    as_line(x, "const unsigned ow = so + (unsigned)((cw * 4 + w4) * 16 * %d);", pitch);
    as_line(x, "#pragma unroll");
    as_line(x, "for (int t = 0; t < %d; t += 2) {", chunks);
    x->depth++;
    as_line(x, "unsigned r[4];");
    as_line(x, "#pragma unroll");
    as_line(x, "for (int m = 0; m < 4; ++m) {");
    x->depth++;
    as_line(x, "const int tt = t + (m >> 1), h = m & 1; (void)h;");
    /* the values at (tt, h, c = 0 / 1): at() names t, h and c */
    as_line(x, "float a, b;");
    as_line(x, "{ const int t = tt, c = 0; a = %s; }", as_at(x, val, v0));
    as_line(x, "{ const int t = tt, c = 1; b = %s; }", as_at(x, val, v1));
    as_line(x, "r[m] = tj::sm90::pack_pair<%s>(a, b);",
         x->g->tensors[n->tensor].dtype == TJ_BF16 ? "tj::bf16" : "tj::f16");
    x->depth--;
    as_line(x, "}");
    as_line(x, "const int mrow = 8 * ((lane >> 3) & 1) + (lane & 7), mch = t + (lane >> 4);");
    as_line(x, "tj::sm90::stmatrix_x4(ow + (unsigned)(mrow * %d + ((mch ^ (mrow & 7)) << 4)), r);", pitch);
    x->depth--;
    as_line(x, "}");
    as_line(x, "__syncwarp();");
    as_line(x, "#pragma unroll");
    as_line(x, "for (int i = 0; i < %d; ++i) {", 16 * chunks / 32);
    x->depth++;
    as_line(x, "const int idx = i * 32 + lane, orow = idx / %d, och = idx %% %d;", chunks, chunks);
    as_line(x, "const uint4 val = tj::sm90::lds128(ow + (unsigned)(orow * %d + ((och ^ (orow & 7)) << 4)));", pitch);
    access_index(x, id, pfx, "(cw * 64 + w4 * 16 + orow)", "(8 * och)");
    as_line(x, "if (inb) *reinterpret_cast<uint4 *>(t_%s + at) = val;", x->g->tensors[n->tensor].name);
    x->depth--;
    as_line(x, "}");
    as_line(x, "__syncwarp();");
}

void as_store(ax *x, int32_t id) {
    const ir_node *n = as_node(x, id);
    char pfx[32], v[96];
    snprintf(pfx, sizeof pfx, "S%d", (int)id);
    int32_t val = n->in[n->nin - 1];
    /* A row vector ([bm], say lse): the quad's four threads hold each of
     * their rows; the first writes it. */
    int rowvec = x->p->cls[val] == AS_ROW;
    as_line(x, "{ // store %s", x->g->tensors[n->tensor].name);
    x->depth++;
    access_bases(x, id, pfx);
    if (!rowvec && staged_store(x, n)) {
        store_staged(x, id, pfx);
        x->depth--;
        as_line(x, "}");
        return;
    }
    if (!rowvec && pair_store(x, n)) {
        as_line(x, "#pragma unroll");
        as_line(x, "for (int t = 0; t < %d; ++t)", x->p->d / 8);
        as_line(x, "#pragma unroll");
        as_line(x, "for (int h = 0; h < 2; ++h) {   // a column pair a store");
        x->depth++;
        access_index(x, id, pfx, "(rrow + 8 * h)", "(8 * t + qcol)");
        char m[128] = "", mv[96];
        if (n->flags & IR_STORE_MASKED)
            snprintf(m, sizeof m, " && %s", as_at(x, n->in[n->nin - 2], mv));
        as_line(x, "float v0, v1;");
        as_line(x, "{ const int c = 0; v0 = %s; }", as_at(x, val, v));
        as_line(x, "{ const int c = 1; v1 = %s; }", as_at(x, val, v));
        as_line(x, "if (inb%s) tj::sm90::st_pair(t_%s + at, v0, v1);", m,
             x->g->tensors[n->tensor].name);
        x->depth--;
        as_line(x, "}");
        x->depth--;
        as_line(x, "}");
        return;
    }
    as_open_elems(x, rowvec ? AS_ROW : AS_FULL, x->p->d);
    x->depth++;
    if (rowvec) access_index(x, id, pfx, "0", "(rrow + 8 * h)");
    else access_index(x, id, pfx, "(rrow + 8 * h)", "(8 * t + qcol + c)");
    char m[128] = "", mv[96];
    if (n->flags & IR_STORE_MASKED)   /* tj_store_masked: rows past a packed sequence's end */
        snprintf(m, sizeof m, " && %s", as_at(x, n->in[n->nin - 2], mv));
    as_line(x, "if (inb%s%s) tjg::st(t_%s + at, %s);", rowvec ? " && qcol == 0" : "", m,
         x->g->tensors[n->tensor].name, as_at(x, val, v));
    x->depth--;
    as_line(x, "}");
    x->depth--;
    as_line(x, "}");
}
