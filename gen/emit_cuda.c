/*
 * emit_cuda.c — the generic lowering: any valid graph to one CUDA C++
 * kernel for sm_80 and later.
 *
 * The model (templates/tj/generic.cuh has its device side):
 *  - one program = one thread block of NT threads;
 *  - a scalar (rank 0) is held by every thread, the same value in each:
 *    loop bounds and coordinates are uniform, so every __syncthreads() is
 *    reached by the whole block;
 *  - a tile [M,N] ([N] is [1,N]) is a register array in the strided
 *    layout: flat element e = i*N + j sits in thread e % NT, slot e / NT;
 *    float tiles hold f32 whatever their dtype (docs/graph.md);
 *  - an op whose operand has another shape (a broadcast row or column,
 *    a transpose, a reduction, mma operands) reads it through a shared
 *    memory staging buffer; elementwise ops on equal shapes stay in
 *    registers.
 * The emitter is a walk over the regions in program order with a table
 * from op to C expression; one statement (or one slot loop) per op.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* ---- the emitter's state ------------------------------------------- */

typedef struct shape {
    int rank;
    int64_t m, n;   /* [M,N]; a rank-1 tile is [1,N]; a scalar [1,1] */
} shape;

typedef struct em {
    const tj_graph *g;
    const int64_t *sym;
    const char *arch;
    strbuf out;
    int depth;          /* indentation */
    shape *shapes;      /* per node */
    char (*names)[48];  /* per node: its C name */
    uint8_t *live;
    int *nuse;          /* per node: references by live nodes and loop yields */
    int32_t *grp;       /* per node: its elementwise group while one is open (0: none) */
    int ngrp;
    int nt;             /* threads per block */
    size_t smem;        /* staging bytes needed */
    int ntemp;          /* counter for temporaries */
    tj_status err;
} em;

static void line(em *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(em *e, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&e->out, "%*s%s\n", 2 * e->depth, "", buf);
}

static tj_status fail(em *e, tj_status s, int32_t node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tj_status fail(em *e, tj_status s, int32_t node, const char *fmt, ...) {
    char msg[768], desc[160] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (node >= 0) ir_node_desc(e->g, node, desc, sizeof desc);
    if (e->err == TJ_OK)
        e->err = tj_set_error(s, "emit (graph '%s')%s%s: %s", e->g->name, node >= 0 ? ", " : "",
                              desc, msg);
    return e->err;
}

static const ir_node *N(const em *e, int32_t id) { return &e->g->nodes[id]; }
static const char *V(const em *e, int32_t id) { return e->names[id]; }

static int64_t count(shape s) { return s.m * s.n; }
static int slots(const em *e, shape s) { return (int)((count(s) + e->nt - 1) / e->nt); }

static size_t reg_size(int dtype) { return dtype == TJ_I64 ? 8 : dtype == TJ_BOOL ? 1 : 4; }

/* ---- shapes and names ---------------------------------------------- */

static tj_status eval_shape(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    shape s = {n->type.rank, 1, 1};
    int64_t d[2] = {1, 1};
    for (int i = 0; i < n->type.rank; i++) {
        tj_status st = ir_dim_eval(e->g, n->type.dims[i], e->sym, 1, &d[i]);
        if (st != TJ_OK) return fail(e, st, id, "%s", tj_last_error());
    }
    if (n->type.rank == 2) {
        s.m = d[0];
        s.n = d[1];
    } else if (n->type.rank == 1) {
        s.n = d[0];
    }
    if (count(s) > ((int64_t)1 << 20))
        return fail(e, TJ_ERR_UNSUPPORTED, id,
                    "a tile of %lld elements is too large for the generic path (limit 2^20)",
                    (long long)count(s));
    e->shapes[id] = s;
    return TJ_OK;
}

static void make_name(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    if (n->name)
        snprintf(e->names[id], sizeof e->names[id], "v_%s", n->name);
    else
        snprintf(e->names[id], sizeof e->names[id], "v%d", (int)id);
}

/* ---- liveness ------------------------------------------------------ */


/* ---- slot loops ---------------------------------------------------- */

/* Open a loop over the slots of shape s: inside it `k` is the slot, `e`
 * the flat element, `i`/`j` its row and column. Close with end_slots. */
static void begin_slots(em *e, shape s) {
    int S = slots(e, s);
    /* Unrolled slot loops keep small tiles in registers; for big tiles the
     * unrolled code made NVRTC take tens of seconds (attention: 54 s on two
     * cores), so they stay loops and the tile lives in local memory. */
    line(e, S <= 16 ? "#pragma unroll" : "#pragma unroll 1");
    line(e, "for (int k = 0; k < %d; ++k) {", S);
    e->depth++;
    line(e, "const int e = k * NT + tid;");
    if (count(s) % e->nt) line(e, "if (e >= %lld) break;", (long long)count(s));
    line(e, "const int i = e / %lld, j = e %% %lld;", (long long)s.n, (long long)s.n);
    line(e, "(void)i; (void)j;");
}
static void end_slots(em *e) {
    e->depth--;
    line(e, "}");
}

static void declare(em *e, const char *name, int dtype, shape s) {
    if (s.rank == 0)
        line(e, "%s %s;", emit_reg_type(dtype), name);
    else
        line(e, "%s %s[%d];", emit_reg_type(dtype), name, slots(e, s));
}

static void need_smem(em *e, size_t bytes) {
    if (bytes > e->smem) e->smem = bytes;
}

/* Operand `id` as seen at slot (i, j) of a result of shape `to`: itself,
 * its scalar, or a temporary filled through shared memory when its shape
 * differs (broadcast). Writes the C expression into expr. */
static void operand(em *e, int32_t id, shape to, char *expr, size_t size) {
    shape s = e->shapes[id];
    if (s.rank == 0) {
        snprintf(expr, size, "%s", V(e, id));
        return;
    }
    if (s.m == to.m && s.n == to.n) {
        snprintf(expr, size, "%s[k]", V(e, id));
        return;
    }
    /* Broadcast: stage the operand, then read element (i or 0, j or 0). */
    int dtype = N(e, id)->type.dtype;
    const char *ct = emit_reg_type(dtype);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "b%d", e->ntemp++);
    need_smem(e, (size_t)count(s) * reg_size(dtype));
    declare(e, tmp, dtype, to);
    line(e, "__syncthreads();");
    begin_slots(e, s);
    line(e, "((%s *)tj_smem)[e] = %s[k];", ct, V(e, id));
    end_slots(e);
    line(e, "__syncthreads();");
    begin_slots(e, to);
    line(e, "%s[k] = ((const %s *)tj_smem)[%s * %lld + %s];", tmp, ct, s.m == 1 ? "0" : "i",
         (long long)s.n, s.n == 1 ? "0" : "j");
    end_slots(e);
    snprintf(expr, size, "%s[k]", tmp);
}

/* Store expression `rhs` (in terms of k/i/j and operands) into node id. */
static void assign(em *e, int32_t id, const char *rhs_fmt, const char *a, const char *b,
                   const char *c) {
    char rhs[1024];
    /* rhs_fmt uses %1$s %2$s %3$s for the operands. */
    snprintf(rhs, sizeof rhs, rhs_fmt, a ? a : "", b ? b : "", c ? c : "");
    shape s = e->shapes[id];
    if (s.rank == 0) {
        line(e, "%s = %s;", V(e, id), rhs);
        return;
    }
    begin_slots(e, s);
    line(e, "%s[k] = %s;", V(e, id), rhs);
    end_slots(e);
}

/* ---- ops ----------------------------------------------------------- */

/* The C expression of elementwise node id (unary, binary, where, fma,
 * broadcast, cast, const, iota) given its operands' expressions x[]. */
static void node_rhs(em *e, int32_t id, char x[3][160], char *rhs, size_t size) {
    const ir_node *n = N(e, id);
    char fmt[256] = "%1$s";
    switch (n->op) {
    case IR_UNARY: snprintf(fmt, sizeof fmt, "%s", emit_unary_fmt(n->sub)); break;
    case IR_BINARY: snprintf(fmt, sizeof fmt, "%s", emit_binary_fmt(n->sub)); break;
    case IR_WHERE: snprintf(fmt, sizeof fmt, "(%%1$s ? %%2$s : %%3$s)"); break;
    case IR_FMA: snprintf(fmt, sizeof fmt, "fmaf(%%1$s, %%2$s, %%3$s)"); break;
    case IR_CAST: emit_cast_fmt(N(e, n->in[0])->type.dtype, n->type.dtype, "tjg", fmt, sizeof fmt); break;
    case IR_CONST: emit_literal(n->type.dtype, n->f, x[0], sizeof x[0]); break;
    case IR_IOTA: {
        int along_n = n->type.rank == 1 || n->index == 1;
        snprintf(x[0], sizeof x[0], along_n ? "(%s)j" : "(%s)i", emit_reg_type(n->type.dtype));
        break;
    }
    default: break;   /* IR_BROADCAST: the operand itself */
    }
    snprintf(rhs, size, fmt, x[0], x[1], x[2]);
}

static int operand_count(const ir_node *n) {
    return n->op == IR_CONST || n->op == IR_IOTA ? 0 : n->nin < 3 ? n->nin : 3;
}

static void emit_elementwise(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    char x[3][160] = {"", "", ""}, rhs[1024];
    for (int k = 0; k < operand_count(n); k++) operand(e, n->in[k], e->shapes[id], x[k], sizeof x[k]);
    node_rhs(e, id, x, rhs, sizeof rhs);
    assign(e, id, "%1$s", rhs, NULL, NULL);
}

/* ---- elementwise groups ------------------------------------------------
 * A run of elementwise ops on tiles of one shape becomes one slot loop:
 * each op's value is a scalar temporary t<id> inside it, stored to its
 * register array only when something outside the run reads it. Operands
 * of other shapes (broadcasts) are staged before the loop. Fewer loops and
 * arrays: less local memory at run time, less for NVRTC to compile. */

static int fusable(const em *e, int32_t id) {
    const ir_node *n = N(e, id);
    if (e->shapes[id].rank == 0) return 0;
    switch (n->op) {
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_BROADCAST: case IR_CAST:
    case IR_CONST: case IR_IOTA:
        return 1;
    default:
        return 0;
    }
}

/* A scalar computed from scalars only: emitted where met, ahead of an
 * open group's loop, which may read it. */
static int scalar_only(const em *e, int32_t id) {
    const ir_node *n = N(e, id);
    if (e->shapes[id].rank != 0 || n->op == IR_FOR || n->op == IR_STORE || n->op == IR_LOAD)
        return 0;
    for (int k = 0; k < n->nin; k++)
        if (e->shapes[n->in[k]].rank != 0) return 0;
    return 1;
}

static void emit_group(em *e, const int32_t *ids, int count) {
    if (count <= 0) return;
    shape s = e->shapes[ids[0]];
    int g = ++e->ngrp;
    for (int m = 0; m < count; m++) e->grp[ids[m]] = g;
    /* Which members escape the group: read by anything else. */
    int *inside = calloc((size_t)count, sizeof *inside);
    char (*x)[3][160] = calloc((size_t)count, sizeof *x);
    if (!inside || !x) {
        e->err = tj_set_error(TJ_ERR_NO_MEMORY, "tj_emit_cuda: out of memory");
        goto done;
    }
    for (int m = 0; m < count; m++) {
        const ir_node *n = N(e, ids[m]);
        for (int k = 0; k < operand_count(n); k++)
            for (int q = 0; q < m; q++)
                if (n->in[k] == ids[q]) inside[q]++;
    }
    /* Before the loop: arrays of escaping members, staged broadcasts. */
    char desc[160];
    for (int m = 0; m < count; m++) {
        int32_t id = ids[m];
        const ir_node *n = N(e, id);
        line(e, "// %s", ir_node_desc(e->g, id, desc, sizeof desc));
        if (e->nuse[id] > inside[m]) declare(e, V(e, id), n->type.dtype, s);
        for (int k = 0; k < operand_count(n); k++) {
            int32_t in = n->in[k];
            if (e->grp[in] == g)
                snprintf(x[m][k], sizeof x[m][k], "t%d", (int)in);
            else   /* its name, v[k], or a broadcast staged now */
                operand(e, in, s, x[m][k], sizeof x[m][k]);
        }
    }
    begin_slots(e, s);
    for (int m = 0; m < count; m++) {
        int32_t id = ids[m];
        char rhs[1024];
        node_rhs(e, id, x[m], rhs, sizeof rhs);
        line(e, "const %s t%d = %s;", emit_reg_type(N(e, id)->type.dtype), (int)id, rhs);
        if (e->nuse[id] > inside[m]) line(e, "%s[k] = t%d;", V(e, id), (int)id);
    }
    end_slots(e);
done:
    for (int m = 0; m < count; m++) e->grp[ids[m]] = 0;
    free(inside);
    free(x);
}

/* Stage tile `id` into shared memory as its register type (flat order). */
static void stage(em *e, int32_t id, size_t offset_bytes) {
    int dtype = N(e, id)->type.dtype;
    shape s = e->shapes[id];
    need_smem(e, offset_bytes + (size_t)count(s) * reg_size(dtype));
    begin_slots(e, s);
    line(e, "((%s *)(tj_smem + %zu))[e] = %s[k];", emit_reg_type(dtype), offset_bytes, V(e, id));
    end_slots(e);
}

static void emit_reshape_like(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    int32_t x = n->in[0];
    shape s = e->shapes[id], xs = e->shapes[x];
    const char *ct = emit_reg_type(n->type.dtype);
    if (xs.rank == 0) { /* a scalar every thread holds */
        assign(e, id, "%1$s", V(e, x), NULL, NULL);
        return;
    }
    if (n->op == IR_RESHAPE && s.rank != 0) { /* same flat order: a copy */
        begin_slots(e, s);
        line(e, "%s[k] = %s[k];", V(e, id), V(e, x));
        end_slots(e);
        return;
    }
    line(e, "__syncthreads();");
    stage(e, x, 0);
    line(e, "__syncthreads();");
    if (s.rank == 0) { /* a one-element tile becomes a scalar everyone holds */
        line(e, "%s = ((const %s *)tj_smem)[0];", V(e, id), ct);
        return;
    }
    /* transpose: result (i, j) is x (j, i) */
    begin_slots(e, s);
    line(e, "%s[k] = ((const %s *)tj_smem)[j * %lld + i];", V(e, id), ct, (long long)xs.n);
    end_slots(e);
}

static void emit_reduce(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    int32_t x = n->in[0];
    shape xs = e->shapes[x];
    int dtype = n->type.dtype;
    const char *ct = emit_reg_type(dtype);
    /* rank 1 [N] is [1,N]: its axis 0 runs along N */
    int along_n = (n->type.rank == 1) || n->index == 1;
    static const char *const init_f[3] = {"0.0f", "-__int_as_float(0x7f800000)",
                                          "__int_as_float(0x7f800000)"};
    static const char *const init_i[3] = {"0", "tjg::lowest<%s>()", "tjg::highest<%s>()"};
    static const char *const step[3] = {"acc = acc + %s;", "acc = tjg::max(acc, %s);",
                                        "acc = tjg::min(acc, %s);"};
    char init[64];
    snprintf(init, sizeof init, ir_is_float(dtype) ? init_f[n->sub] : init_i[n->sub], ct);
    line(e, "__syncthreads();");
    stage(e, x, 0);
    line(e, "__syncthreads();");
    begin_slots(e, e->shapes[id]);
    line(e, "%s acc = %s;", ct, init);
    /* Inner loops unrolled by 4, not fully: NVRTC unrolled them whole,
     * which doubled the compile time of attention for no speed (these
     * loops read shared memory). */
    line(e, "#pragma unroll 4");
    if (along_n)
        line(e, "for (int r = 0; r < %lld; ++r) {", (long long)xs.n);
    else
        line(e, "for (int r = 0; r < %lld; ++r) {", (long long)xs.m);
    e->depth++;
    char elem[128];
    snprintf(elem, sizeof elem, along_n ? "((const %s *)tj_smem)[i * %lld + r]"
                                        : "((const %s *)tj_smem)[r * %lld + j]",
             ct, (long long)xs.n);
    line(e, step[n->sub], elem);
    e->depth--;
    line(e, "}");
    line(e, "%s[k] = acc;", V(e, id));
    end_slots(e);
}

/* C = acc + op(A)·op(B): operands rounded to their dtype and staged in
 * shared memory as f32, products summed in increasing k. */
static void emit_mma(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    int32_t a = n->in[0], b = n->in[1];
    shape as = e->shapes[a], bs = e->shapes[b];
    int ta = (n->flags & TJ_TRANS_A) != 0, tb = (n->flags & TJ_TRANS_B) != 0;
    int64_t K = ta ? as.m : as.n;
    size_t boff = ((size_t)count(as) * 4 + 15) & ~(size_t)15;
    need_smem(e, boff + (size_t)count(bs) * 4);
    int dt = N(e, a)->type.dtype;
    line(e, "__syncthreads();");
    char rexpr[96];
    for (int w = 0; w < 2; w++) {
        int32_t src = w ? b : a;
        begin_slots(e, e->shapes[src]);
        if (dt == TJ_F32)
            snprintf(rexpr, sizeof rexpr, "%s[k]", V(e, src));
        else
            snprintf(rexpr, sizeof rexpr, "tjg::round_to<%s>(%s[k])", emit_mem_type(dt), V(e, src));
        line(e, "((float *)(tj_smem + %zu))[e] = %s;", w ? boff : (size_t)0, rexpr);
        end_slots(e);
    }
    line(e, "__syncthreads();");
    char ai[64], bi[64], acc[96];
    if (ta)
        snprintf(ai, sizeof ai, "r * %lld + i", (long long)as.n);
    else
        snprintf(ai, sizeof ai, "i * %lld + r", (long long)as.n);
    if (tb)
        snprintf(bi, sizeof bi, "j * %lld + r", (long long)bs.n);
    else
        snprintf(bi, sizeof bi, "r * %lld + j", (long long)bs.n);
    if (n->nin == 3)
        snprintf(acc, sizeof acc, "%s[k]", V(e, n->in[2]));
    else
        snprintf(acc, sizeof acc, "0.0f");
    begin_slots(e, e->shapes[id]);
    line(e, "const float *A = (const float *)tj_smem;");
    line(e, "const float *B = (const float *)(tj_smem + %zu);", boff);
    line(e, "float acc = %s;", acc);
    line(e, "#pragma unroll 4");   /* see emit_reduce */
    line(e, "for (int r = 0; r < %lld; ++r) acc = fmaf(A[%s], B[%s], acc);", (long long)K, ai, bi);
    line(e, "%s[k] = acc;", V(e, id));
    end_slots(e);
}

/* ---- memory -------------------------------------------------------- */

/* The C expression for tensor t's dim or stride d (true values). */
static void tensor_dim_expr(em *e, int t, int d, int stride, char *buf, size_t size) {
    snprintf(buf, size, "t_%s_%s%d", e->g->tensors[t].name, stride ? "s" : "d", d);
}

/* Per-dim offset bases for a load or store: b<d> = coordinate (times the
 * tile dim along tiled dims unless the coordinates are element offsets). */
static void access_bases(em *e, int32_t id, shape tile, int tile_rank, const char *pfx) {
    const ir_node *n = N(e, id);
    const ir_tensor *t = &e->g->tensors[n->tensor];
    for (int d = 0; d < t->rank; d++) {
        int64_t mult = 1;
        for (int k = 0; k < tile_rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = (tile_rank == 2 && k == 0) ? tile.m : tile.n;
        line(e, "const long long %s_b%d = (long long)%s * %lld;", pfx, d, V(e, n->in[d]),
             (long long)mult);
    }
}

/* Open a guarded block: `inb` is 1 when element (i,j) is inside tensor. */
static void access_index(em *e, int32_t id, int tile_rank, const char *pfx) {
    const ir_node *n = N(e, id);
    const ir_tensor *t = &e->g->tensors[n->tensor];
    char cond[1024] = "true", addr[1024] = "0";
    size_t co = 4, ao = 1;
    for (int d = 0; d < t->rank; d++) {
        const char *idx = "";
        for (int k = 0; k < tile_rank; k++)
            if (n->axes[k] == d) idx = (tile_rank == 2 && k == 0) ? " + i" : " + j";
        char dim[96], str[96];
        tensor_dim_expr(e, n->tensor, d, 0, dim, sizeof dim);
        tensor_dim_expr(e, n->tensor, d, 1, str, sizeof str);
        line(e, "const long long %s_o%d = %s_b%d%s;", pfx, d, pfx, d, idx);
        co += (size_t)snprintf(cond + co, sizeof cond - co, " && %s_o%d >= 0 && %s_o%d < %s", pfx,
                               d, pfx, d, dim);
        ao += (size_t)snprintf(addr + ao, sizeof addr - ao, " + %s_o%d * %s", pfx, d, str);
        if (co >= sizeof cond || ao >= sizeof addr) break;
    }
    line(e, "const bool inb = %s;", cond);
    line(e, "const long long at = %s;", addr);
}

static void emit_load(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    const ir_tensor *t = &e->g->tensors[n->tensor];
    shape s = e->shapes[id];
    char pad[64], pfx[32];
    emit_literal(t->dtype, n->f, pad, sizeof pad);
    snprintf(pfx, sizeof pfx, "L%d", (int)id);
    line(e, "{");
    e->depth++;
    access_bases(e, id, s, s.rank, pfx);
    if (s.rank == 0) {
        line(e, "const int i = 0, j = 0; (void)i; (void)j;");
        access_index(e, id, 0, pfx);
        line(e, "%s = inb ? tjg::ld(t_%s + at) : %s;", V(e, id), t->name, pad);
    } else {
        begin_slots(e, s);
        access_index(e, id, s.rank, pfx);
        line(e, "%s[k] = inb ? tjg::ld(t_%s + at) : %s;", V(e, id), t->name, pad);
        end_slots(e);
    }
    e->depth--;
    line(e, "}");
}

static void emit_store(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    const ir_tensor *t = &e->g->tensors[n->tensor];
    int32_t v = n->in[n->nin - 1];
    shape s = e->shapes[v];
    char pfx[32], mask[168] = "";
    snprintf(pfx, sizeof pfx, "S%d", (int)id);
    if (n->flags & IR_STORE_MASKED) {   /* staged (if broadcast) before the store */
        char m[160];
        operand(e, n->in[n->nin - 2], s, m, sizeof m);
        snprintf(mask, sizeof mask, " && %s", m);
    }
    line(e, "{ // store %s", t->name);
    e->depth++;
    access_bases(e, id, s, s.rank, pfx);
    if (s.rank == 0) {
        line(e, "const int i = 0, j = 0; (void)i; (void)j;");
        access_index(e, id, 0, pfx);
        line(e, "if (tid == 0 && inb%s) tjg::st(t_%s + at, %s);", mask, t->name, V(e, v));
    } else {
        begin_slots(e, s);
        access_index(e, id, s.rank, pfx);
        line(e, "if (inb%s) tjg::st(t_%s + at, %s[k]);", mask, t->name, V(e, v));
        end_slots(e);
    }
    e->depth--;
    line(e, "}");
}

/* ---- walk ---------------------------------------------------------- */

static void emit_region(em *e, int32_t parent);

static void emit_for(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    const ir_loop *l = n->loop;
    const char *it = emit_reg_type(N(e, n->in[0])->type.dtype);
    /* Carried values live in the enclosing scope so results outlast the loop. */
    for (int k = 0; k < l->ncarried; k++) {
        int32_t c = l->carried[k];
        char x[160];
        declare(e, V(e, c), N(e, c)->type.dtype, e->shapes[c]);
        operand(e, n->in[3 + k], e->shapes[c], x, sizeof x);
        assign(e, c, "%1$s", x, NULL, NULL);
    }
    line(e, "for (%s %s = %s; %s < %s; %s += %s) {", it, V(e, l->iv), V(e, n->in[0]),
         V(e, l->iv), V(e, n->in[1]), V(e, l->iv), V(e, n->in[2]));
    e->depth++;
    emit_region(e, id);
    /* Yields become the carried values. Through temporaries when one
     * yields a carried value of this loop (it may be replaced first);
     * else directly. */
    int via_tmp = 0;
    for (int k = 0; k < l->ncarried; k++) {
        const ir_node *y = N(e, l->yields[k]);
        if (y->op == IR_LOOP_CARRIED && y->in[0] == id) via_tmp = 1;
    }
    for (int k = 0; k < l->ncarried; k++) {
        int32_t c = l->carried[k], y = l->yields[k];
        char tmp[32], x[160];
        if (via_tmp)
            snprintf(tmp, sizeof tmp, "y%d_%d", (int)id, k);
        else
            snprintf(tmp, sizeof tmp, "%s", V(e, c));
        if (via_tmp) declare(e, tmp, N(e, c)->type.dtype, e->shapes[c]);
        operand(e, y, e->shapes[c], x, sizeof x);
        if (e->shapes[c].rank == 0) {
            line(e, "%s = %s;", tmp, x);
        } else {
            begin_slots(e, e->shapes[c]);
            line(e, "%s[k] = %s;", tmp, x);
            end_slots(e);
        }
    }
    for (int k = 0; k < l->ncarried && via_tmp; k++) {
        int32_t c = l->carried[k];
        if (e->shapes[c].rank == 0) {
            line(e, "%s = y%d_%d;", V(e, c), (int)id, k);
        } else {
            begin_slots(e, e->shapes[c]);
            line(e, "%s[k] = y%d_%d[k];", V(e, c), (int)id, k);
            end_slots(e);
        }
    }
    e->depth--;
    line(e, "}");
}

static void emit_node(em *e, int32_t id) {
    const ir_node *n = N(e, id);
    char desc[160];
    if (n->op != IR_STORE && n->op != IR_FOR) {
        line(e, "// %s", ir_node_desc(e->g, id, desc, sizeof desc));
        declare(e, V(e, id), n->type.dtype, e->shapes[id]);
    }
    switch (n->op) {
    case IR_CONST: emit_elementwise(e, id); break;
    case IR_SYMVAL: assign(e, id, "sym_%1$s", e->g->syms[n->index].name, NULL, NULL); break;
    case IR_PROGRAM_ID:
        assign(e, id, "(int)blockIdx.%1$s", (const char *[]){"x", "y", "z"}[n->index], NULL, NULL);
        break;
    case IR_NUM_PROGRAMS:
        assign(e, id, "(int)gridDim.%1$s", (const char *[]){"x", "y", "z"}[n->index], NULL, NULL);
        break;
    case IR_IOTA: emit_elementwise(e, id); break;
    case IR_LOAD: emit_load(e, id); break;
    case IR_STORE: emit_store(e, id); break;
    case IR_MMA: emit_mma(e, id); break;
    case IR_UNARY: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_BROADCAST:
        emit_elementwise(e, id);
        break;
    case IR_CAST: emit_elementwise(e, id); break;
    case IR_REDUCE: emit_reduce(e, id); break;
    case IR_TRANSPOSE: case IR_RESHAPE: emit_reshape_like(e, id); break;
    case IR_FOR: emit_for(e, id); break;
    default: break; /* scalar args, loop values: named, not computed */
    }
}

static void emit_region(em *e, int32_t parent) {
    int32_t *ids;
    int n;
    ir_region(e->g, parent, &ids, &n);
    int32_t *run = malloc(sizeof *run * (size_t)(n > 0 ? n : 1));
    if (!run) {
        e->err = tj_set_error(TJ_ERR_NO_MEMORY, "tj_emit_cuda: out of memory");
        return;
    }
    int nrun = 0;
    for (int k = 0; k < n && e->err == TJ_OK; k++) {
        int32_t id = ids[k];
        if (!e->live[id]) continue;
        if (fusable(e, id)) {
            shape a = e->shapes[id], b = nrun ? e->shapes[run[0]] : a;
            if (a.m != b.m || a.n != b.n) {
                emit_group(e, run, nrun);
                nrun = 0;
            }
            run[nrun++] = id;
            continue;
        }
        if (!scalar_only(e, id)) {
            emit_group(e, run, nrun);
            nrun = 0;
        }
        emit_node(e, id);
    }
    if (e->err == TJ_OK) emit_group(e, run, nrun);
    free(run);
}

/* ---- the kernel ---------------------------------------------------- */

size_t emit_smem_limit(const char *arch) {
    int cc = 0;
    if (arch && sscanf(arch, "sm_%d", &cc) != 1) cc = 0;
    if (cc == 80 || cc == 87) return 163 * 1024;
    if (cc == 86 || cc == 89 || cc >= 120) return 99 * 1024;
    if (cc >= 90) return 227 * 1024;
    return 48 * 1024;
}

static int arch_ok(const char *arch) {
    int cc = 0, len = 0;
    if (!arch || sscanf(arch, "sm_%d%n", &cc, &len) != 1 || cc < 80) return 0;
    return arch[len] == '\0' || (arch[len] == 'a' && arch[len + 1] == '\0') ||
           (arch[len] == 'f' && arch[len + 1] == '\0');
}

/* An exact symbol with a value is baked into the kernel; every other
 * symbol's true value is a kernel parameter. */
static int baked(const em *e, int s) {
    return e->g->syms[s].policy == TJ_EXACT && e->sym && e->sym[s] != TJ_UNBOUND;
}

/* The parameter list, and the launch description that matches it. */
static void emit_signature(em *e, emit_launch *L, uint8_t *stored) {
    const tj_graph *g = e->g;
    sb_printf(&e->out, "extern \"C\" __global__ void __launch_bounds__(%d)\ntj_%s(", e->nt,
              g->name);
    int np = 0;
    const char *sep = "";
    for (int t = 0; t < g->ntensors; t++, sep = ", ") {
        sb_printf(&e->out, "%s%s%s *__restrict__ t_%s", sep, stored[t] ? "" : "const ",
                  emit_mem_type(g->tensors[t].dtype), g->tensors[t].name);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_TENSOR, .index = t, .ctype = EMIT_C_PTR, .size = sizeof(void *)};
    }
    for (int i = 0; i < g->nscalars; i++, sep = ", ") {
        int dt = g->scalars[i].dtype;
        int ct = ir_is_float(dt) ? EMIT_C_F32 : dt == TJ_I64 ? EMIT_C_I64 : EMIT_C_I32;
        sb_printf(&e->out, "%s%s p_%s", sep, ct == EMIT_C_F32 ? "float" : ct == EMIT_C_I64 ? "long long" : "int",
                  g->scalars[i].name);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SCALAR, .index = i, .ctype = ct, .size = ct == EMIT_C_I64 ? 8u : 4u};
    }
    for (int s = 0; s < g->nsyms; s++) {
        if (baked(e, s)) continue;
        sb_printf(&e->out, "%sint sym_%s", sep, g->syms[s].name);
        sep = ", ";
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_SYMBOL, .index = s, .ctype = EMIT_C_I32, .size = 4};
    }
    sb_printf(&e->out, ") {\n");
    L->nparams = np;
}

/* Baked symbols, tensor dims and strides, scalar arguments. */
static void emit_prologue(em *e) {
    const tj_graph *g = e->g;
    line(e, "constexpr int NT = %d;", e->nt);
    line(e, "extern __shared__ __align__(16) unsigned char tj_smem[];");
    line(e, "const int tid = threadIdx.x;");
    for (int s = 0; s < g->nsyms; s++)
        if (baked(e, s))
            line(e, "constexpr int sym_%s = %lld;", g->syms[s].name, (long long)e->sym[s]);
    for (int t = 0; t < g->ntensors; t++) {
        const ir_tensor *p = &g->tensors[t];
        char expr[96];
        for (int d = 0; d < p->rank; d++) {
            if (tj_dim_is_sym(p->dims[d]))
                snprintf(expr, sizeof expr, "sym_%s", g->syms[ir_dim_sym(g, p->dims[d])].name);
            else
                snprintf(expr, sizeof expr, "%lldLL", (long long)p->dims[d]);
            line(e, "const long long t_%s_d%d = %s;", p->name, d, expr);
        }
        for (int d = p->rank - 1; d >= 0; d--) {
            if (p->has_strides && tj_dim_is_sym(p->strides[d]))
                snprintf(expr, sizeof expr, "sym_%s", g->syms[ir_dim_sym(g, p->strides[d])].name);
            else if (p->has_strides)
                snprintf(expr, sizeof expr, "%lldLL", (long long)p->strides[d]);
            else if (d == p->rank - 1)
                snprintf(expr, sizeof expr, "1LL");
            else
                snprintf(expr, sizeof expr, "t_%s_s%d * t_%s_d%d", p->name, d + 1, p->name, d + 1);
            line(e, "const long long t_%s_s%d = %s;", p->name, d, expr);
        }
    }
    for (int i = 0; i < g->nscalars; i++) {
        int dt = g->scalars[i].dtype;
        line(e, "const %s %s = %sp_%s%s;", emit_reg_type(dt), V(e, g->scalars[i].node),
             dt == TJ_BOOL ? "(" : "", g->scalars[i].name, dt == TJ_BOOL ? " != 0)" : "");
    }
}

static tj_status prepare(em *e, uint8_t *stored) {
    const tj_graph *g = e->g;
    /* A bound symbol must be a valid size. An exact or bucketed symbol left
     * unbound is passed at run time like a dynamic one, unless it sizes a
     * tile (eval_shape then says to bind it). */
    for (int s = 0; s < g->nsyms; s++) {
        if (!e->sym || e->sym[s] == TJ_UNBOUND) continue;
        int64_t dummy;
        tj_status st = ir_dim_eval(g, tj_dim_sym((tj_sym){s}), e->sym, 0, &dummy);
        if (st != TJ_OK) return fail(e, st, -1, "%s", tj_last_error());
    }
    for (int32_t id = 0; id < g->nnodes; id++) {
        make_name(e, id);
        const ir_node *n = N(e, id);
        if (n->op == IR_SCALAR_ARG)
            snprintf(e->names[id], sizeof e->names[id], "a_%s", g->scalars[n->index].name);
        if (n->op == IR_STORE) stored[n->tensor] = 1;
    }
    /* A loop's results are its carried variables after the loop. */
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(e, id);
        if (n->op == IR_FOR_RESULT)
            memcpy(e->names[id], e->names[N(e, n->in[0])->loop->carried[n->index]],
                   sizeof e->names[id]);
    }
    emit_mark_live_all(g, e->live);
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(e, id);
        if (!e->live[id] || n->op == IR_FOR_RESULT || n->op == IR_LOOP_IV ||
            n->op == IR_LOOP_CARRIED)
            continue;
        for (int k = 0; k < n->nin; k++) e->nuse[n->in[k]]++;
        if (n->op == IR_FOR && n->loop)
            for (int k = 0; k < n->loop->ncarried; k++) e->nuse[n->loop->yields[k]]++;
    }
    int64_t biggest = 1;
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = N(e, id);
        if (n->type.dtype == IR_VOID) continue;
        if (!e->live[id] && n->op != IR_LOOP_CARRIED && n->op != IR_LOOP_IV &&
            n->op != IR_SCALAR_ARG && n->op != IR_FOR_RESULT)
            continue;
        tj_status st = eval_shape(e, id);
        if (st != TJ_OK) return st;
        if (count(e->shapes[id]) > biggest) biggest = count(e->shapes[id]);
    }
    e->nt = biggest > 8192 ? 256 : 128;
    return TJ_OK;
}

tj_status emit_cuda(const tj_graph *g, const char *arch, const int64_t *sym_vals, char **src,
                    emit_launch *launch) {
    if (!g || !src)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_emit_cuda: %s is NULL", !g ? "graph" : "source");
    *src = NULL;
    if (!arch_ok(arch))
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_emit_cuda: arch '%s' is not a target name like sm_80 or sm_90a "
                            "(sm_80 or later)", arch ? arch : "(null)");
    tj_status st = tj_graph_verify(g);
    if (st != TJ_OK) return st;
    char hash[65];
    st = tj_graph_hash(g, hash);
    if (st != TJ_OK) return st;

    em e = {0};
    emit_launch local;
    emit_launch *L = launch ? launch : &local;
    memset(L, 0, sizeof *L);
    uint8_t *stored = calloc((size_t)g->ntensors + 1, 1);
    e.g = g;
    e.sym = sym_vals;
    e.arch = arch;
    e.shapes = calloc((size_t)g->nnodes + 1, sizeof *e.shapes);
    e.names = calloc((size_t)g->nnodes + 1, sizeof *e.names);
    e.live = calloc((size_t)g->nnodes + 1, 1);
    e.nuse = calloc((size_t)g->nnodes + 1, sizeof *e.nuse);
    e.grp = calloc((size_t)g->nnodes + 1, sizeof *e.grp);
    if (!stored || !e.shapes || !e.names || !e.live || !e.nuse || !e.grp) {
        st = tj_set_error(TJ_ERR_NO_MEMORY, "tj_emit_cuda: out of memory");
        goto done;
    }
    if (g->ntensors + g->nscalars + g->nsyms > EMIT_MAX_PARAMS) {
        st = tj_set_error(TJ_ERR_UNSUPPORTED, "graph '%s' has more than %d kernel parameters",
                          g->name, EMIT_MAX_PARAMS);
        goto done;
    }
    st = prepare(&e, stored);
    if (st != TJ_OK) goto done;

    sb_printf(&e.out, "// tilejit generic kernel for graph '%s' (%s)\n", g->name, arch);
    sb_printf(&e.out, "// graph sha256 %s\n// bindings:", hash);
    for (int s = 0; s < g->nsyms; s++) {
        static const char *const pol[] = {"exact", "pow2", "multiple", "dynamic"};
        if (sym_vals && sym_vals[s] != TJ_UNBOUND)
            sb_printf(&e.out, " %s=%lld (%s)", g->syms[s].name, (long long)sym_vals[s],
                      pol[g->syms[s].policy]);
        else
            sb_printf(&e.out, " %s (%s)", g->syms[s].name, pol[g->syms[s].policy]);
    }
    sb_printf(&e.out, "\n#include \"tj/generic.cuh\"\n\n");
    emit_signature(&e, L, stored);
    e.depth = 1;
    emit_prologue(&e);
    emit_region(&e, -1);
    e.depth = 0;
    sb_printf(&e.out, "}\n");
    if (e.err != TJ_OK) {
        st = e.err;
        goto done;
    }
    if (e.out.oom) {
        st = tj_set_error(TJ_ERR_NO_MEMORY, "tj_emit_cuda: out of memory");
        goto done;
    }
    e.smem = (e.smem + 15) & ~(size_t)15;
    if (e.smem > emit_smem_limit(arch)) {
        st = tj_set_error(TJ_ERR_UNSUPPORTED,
                          "graph '%s' needs %zu bytes of shared memory on the generic path; %s "
                          "allows %zu (use smaller tiles)",
                          g->name, e.smem, arch, emit_smem_limit(arch));
        goto done;
    }
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    snprintf(L->schedule, sizeof L->schedule, "generic");
    L->threads = e.nt;
    L->smem_bytes = e.smem;
    *src = e.out.data;
    e.out.data = NULL;
    st = TJ_OK;
done:
    sb_free(&e.out);
    free(stored);
    free(e.shapes);
    free(e.names);
    free(e.live);
    free(e.nuse);
    free(e.grp);
    return st;
}

tj_status tj_emit_cuda(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                       char **source) {
    return emit_kernel(g, arch, sym_vals, NULL, source, NULL);
}
