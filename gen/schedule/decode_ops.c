/*
 * decode_ops.c — the decode schedule's value layer: how the graph's own
 * nodes become CUDA C++ in the kernel decode.c lays out. In the KV loops a
 * value lives in the mma accumulator layout of its warp (decode.h: a row
 * value is 2 floats a thread, rows g and g + 8; a full [G,N] tile N/2, as
 * e[4t + 2h + c] for 8-column block t, row half h, column c of the pair;
 * a column value N/4); after the merge, the epilogue computes one element
 * (ei, ec) at a time.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "frag.h"

_Static_assert((int)DC_ROW == (int)FRAG_ROW && (int)DC_COL == (int)FRAG_COL &&
                   (int)DC_FULL == (int)FRAG_FULL,
               "decode holds values in the fragment layout of frag.h");
void dc_line(dx *x, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&x->out, "%*s%s\n", 2 * x->depth, "", buf);
}


/* The variable that holds node id's values. */
const char *dc_base(const dx *x, int32_t id, char buf[64]) {
    const ir_node *n = dc_node(x, id);
    if (n->op == IR_SCALAR_ARG)
        snprintf(buf, 64, "a_%s", x->g->scalars[n->index].name);
    else if (n->op == IR_LOOP_IV)
        snprintf(buf, 64, "iv%d", (int)n->in[0]);
    else if (n->op == IR_FOR_RESULT)
        snprintf(buf, 64, "c%d", (int)dc_node(x, n->in[0])->loop->carried[n->index]);
    else if (n->op == IR_LOOP_CARRIED)
        snprintf(buf, 64, "c%d", (int)id);
    else
        snprintf(buf, 64, "%c%d", x->p->cls[id] == DC_SCALAR ? 's' : 'e', (int)id);
    return buf;
}

/* Node id's value at the current element: in the loops, inside element
 * loops over t (8-column block), h (row g or g + 8) and c (column of the
 * pair); in the epilogue, at element (ei, ec). */
const char *dc_at(const dx *x, int32_t id, char buf[96]) {
    const ir_node *n = dc_node(x, id);
    char b[64];
    if (x->flat) {
        const dc_loop *L = dc_last_loop(x);
        if (n->op == IR_CONST) {
            emit_literal(n->type.dtype, n->f, buf, 96);
        } else if (n->op == IR_FOR_RESULT) {
            snprintf(buf, 96, "%s", n->index == L->sm ? "Mx" : n->index == L->sl ? "Lx" : "Ax");
        } else if (x->p->post[id] && n->op != IR_SCALAR_ARG) {
            snprintf(buf, 96, "v%d", (int)id);
        } else {
            snprintf(buf, 96, "%s", dc_base(x, id, b));
        }
        return buf;
    }
    dc_base(x, id, b);
    switch (x->p->cls[id]) {
    case DC_ROW: snprintf(buf, 96, "%s[h]", b); break;
    case DC_COL: snprintf(buf, 96, "%s[2 * t + c]", b); break;
    case DC_FULL: snprintf(buf, 96, "%s[4 * t + 2 * h + c]", b); break;
    default: snprintf(buf, 96, "%s", b); break;
    }
    return buf;
}

const char *dc_slot_of(int cls) { return frag_slot(cls); }

/* Unrolled element loops for class cls over n columns (one brace to close). */
void dc_open_elems(dx *x, int cls, int n) { frag_open_elems(&x->out, x->depth, cls, n, "HR"); }

/* An op over operand expressions a[]. */
static int dc_op_expr(const dx *x, int32_t id, char a[3][512], char *out, size_t size) {
    const ir_node *n = dc_node(x, id);
    const char *T = emit_reg_type(n->type.dtype);
    switch (n->op) {
    case IR_PROGRAM_ID: snprintf(out, size, "pid%d", n->index); break;
    case IR_NUM_PROGRAMS:
        snprintf(out, size, n->index == 0 ? "((int)gridDim.x / SPLIT)" : "(int)gridDim.%c",
                 "xyz"[n->index]);
        break;
    case IR_SCALAR_ARG: snprintf(out, size, "a_%s", x->g->scalars[n->index].name); break;
    case IR_IOTA:
        if (x->flat)
            snprintf(out, size, "(%s)(%s)", T, n->type.rank == 2 && n->index == 0 ? "ei" : "ec");
        else
            snprintf(out, size, "(%s)(%s)", T,
                     n->type.rank == 2 && n->index == 0 ? "rrow + 8 * h" : "8 * t + qcol + c");
        break;
    default: return emit_elementwise_expr(x->g, id, a[0], a[1], a[2], out, size);
    }
    return 1;
}

int dc_rhs(const dx *x, int32_t id, char *out, size_t size) {
    const ir_node *n = dc_node(x, id);
    char a[3][512] = {"", "", ""};
    for (int k = 0; k < n->nin && k < 3; k++) dc_at(x, n->in[k], a[k]);
    return dc_op_expr(x, id, a, out, size);
}

/* A scalar of loop f as one expression, with the loop index named iv and
 * the loop's other scalars expanded (a later trip's ring addresses). */
void dc_sexpr(const dx *x, int32_t id, int32_t f, const char *iv, char *out, size_t size) {
    const ir_node *n = dc_node(x, id);
    char b[64];
    if (n->op == IR_LOOP_IV) {
        snprintf(out, size, "%s", iv);
        return;
    }
    if (n->parent != f || n->op == IR_SCALAR_ARG) {
        if (n->op == IR_CONST) emit_literal(n->type.dtype, n->f, out, size);
        else snprintf(out, size, "%s", dc_base(x, id, b));
        return;
    }
    char a[3][512] = {"", "", ""};
    for (int k = 0; k < n->nin && k < 3; k++) dc_sexpr(x, n->in[k], f, iv, a[k], sizeof a[k]);
    if (!dc_op_expr(x, id, a, out, size)) snprintf(out, size, "0");
}

/* alpha's function F(mp, Mx) (decode.h): the graph's expression with the
 * old max read as mp and the new one as Mx. */
void dc_fexpr(const dx *x, int32_t id, char *out, size_t size) {
    const dc_loop *L = dc_last_loop(x);
    const ir_loop *lp = dc_node(x, L->node)->loop;
    const ir_node *n = dc_node(x, id);
    char b[64];
    if (id == lp->carried[L->sm]) {
        snprintf(out, size, "mp");
        return;
    }
    if (id == L->mnew) {
        snprintf(out, size, "Mx");
        return;
    }
    if (n->op == IR_CONST) {
        emit_literal(n->type.dtype, n->f, out, size);
        return;
    }
    if (n->parent != L->node) {
        snprintf(out, size, "%s", dc_base(x, id, b));
        return;
    }
    char a[3][512] = {"", "", ""};
    for (int k = 0; k < n->nin && k < 3; k++) dc_fexpr(x, n->in[k], a[k], sizeof a[k]);
    int flat = x->flat;
    ((dx *)x)->flat = 1;
    if (!dc_op_expr(x, id, a, out, size)) snprintf(out, size, "0.0f");
    ((dx *)x)->flat = flat;
}

/* Per-dim bases of a load or store: the coordinate times the tile's
 * extent along the dim. */
void dc_access_bases(dx *x, int32_t id, const char *pfx) {
    const ir_node *n = dc_node(x, id);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = dc_node(x, v)->type.rank;
    char c[64];
    for (int d = 0; d < t->rank; d++) {
        long long mult = 1;
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = k == 0 && rank == 2 ? x->p->G : x->p->d;
        char a[96];
        if (x->flat) dc_at(x, n->in[d], a);
        else snprintf(a, sizeof a, "%s", dc_base(x, n->in[d], c));
        dc_line(x, "const long long %s_b%d = (long long)%s * %lld;", pfx, d, a, mult);
    }
}

void dc_access_index(dx *x, int32_t id, const char *pfx, const char *li, const char *lj) {
    frag_access_index(&x->out, x->depth, x->g, id, pfx, li, lj);
}

void dc_scalar(dx *x, int32_t id) {
    const ir_node *n = dc_node(x, id);
    char nm[64], r[1024];
    const char *T = emit_reg_type(n->type.dtype);
    dc_base(x, id, nm);
    if (n->op == IR_SCALAR_ARG || n->op == IR_LOOP_IV) return;
    if (n->op == IR_LOAD) {
        const ir_tensor *t = &x->g->tensors[n->tensor];
        char pfx[32], pad[64];
        snprintf(pfx, sizeof pfx, "L%d", (int)id);
        emit_literal(t->dtype, n->f, pad, sizeof pad);
        dc_line(x, "%s %s;", T, nm);
        dc_line(x, "{");
        x->depth++;
        dc_access_bases(x, id, pfx);
        dc_access_index(x, id, pfx, "0", "0");
        dc_line(x, "%s = inb ? tjg::ld(t_%s + at) : %s;", nm, t->name, pad);
        x->depth--;
        dc_line(x, "}");
        return;
    }
    if (dc_rhs(x, id, r, sizeof r)) dc_line(x, "const %s %s = %s; (void)%s;", T, nm, r, nm);
}

void dc_fill(dx *x, const char *dst, int cls, int n, int32_t src) {
    char a[96];
    dc_at(x, src, a);
    dc_open_elems(x, cls, n);
    dc_line(x, "  %s[%s] = %s;", dst, dc_slot_of(cls), a);
    dc_line(x, "}");
}

static void dc_reduce(dx *x, int32_t id) {
    const ir_node *n = dc_node(x, id);
    char in[64];
    dc_base(x, n->in[0], in);
    frag_reduce(&x->out, x->depth, id, n->sub, in, x->p->ncols[n->in[0]], "HR", "tj::dec::q_", 0);
}

static void dc_tile(dx *x, int32_t id) {
    const ir_node *n = dc_node(x, id);
    if (n->op == IR_FOR_RESULT || n->op == IR_LOOP_CARRIED) return;
    if (n->op == IR_REDUCE) {
        dc_reduce(x, id);
        return;
    }
    int cls = x->p->cls[id], nc = x->p->ncols[id];
    char r[1024];
    if (!dc_rhs(x, id, r, sizeof r)) return;
    dc_line(x, "%s e%d[%d];", emit_reg_type(n->type.dtype), (int)id, dc_count(cls, nc));
    dc_open_elems(x, cls, nc);
    dc_line(x, "  e%d[%s] = %s;", (int)id, dc_slot_of(cls), r);
    dc_line(x, "}");
}

void dc_value(dx *x, int32_t id) {
    if (!x->p->live[id] || dc_special(x->p, id)) return;
    const ir_node *n = dc_node(x, id);
    if (n->op == IR_FOR || n->op == IR_STORE) return;
    if (x->p->cls[id] == DC_SCALAR) dc_scalar(x, id);
    else dc_tile(x, id);
}
