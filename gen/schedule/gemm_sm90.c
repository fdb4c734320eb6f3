/*
 * gemm_sm90.c — the Hopper schedule for GEMM-shaped graphs (the plan and
 * what it accepts: gemm_sm90.h, gemm_sm90_match.c).
 *
 * The kernel it writes (primitives in templates/tj/sm90.cuh):
 *  - a persistent grid: each block walks the graph's programs (its tiles)
 *    in a grouped order, so blocks running at once share A rows and B
 *    columns in L2;
 *  - warpgroup 0 is the producer: one thread issues the copy engine's
 *    tile loads (TMA, 128-byte swizzle, zero fill past the edges) into a
 *    ring of shared-memory stages, each guarded by a "full" and an
 *    "empty" mbarrier; it gives its registers to the consumers
 *    (setmaxnreg);
 *  - warpgroups 1.. are consumers: each owns BM/NWG rows of the tile as
 *    f32 accumulators in registers, multiplies with wgmma straight from
 *    the shared stages (one k-step kept in flight), then runs the graph's
 *    epilogue on its accumulator elements and stores them (masked).
 *  - with clusters of two (plan's cluster, gs_cluster): the blocks of a
 *    cluster take adjacent M tiles of one N tile in lockstep; each loads
 *    its own A tile and half of the common B tile into both blocks'
 *    stages (TMA multicast), and a stage is refilled only once the
 *    consumers of both blocks have released it (they arrive on the empty
 *    barriers of both).
 *  - with split-K (plan's split, gs_splitk; gemm_sm90_splitk.c): a
 *    cluster of S blocks a tile, each a run of its K tiles, the f32 sums
 *    reduced through distributed shared memory before the epilogue.
 * The epilogue is generated from the graph: each element of the
 * accumulator goes through the graph's elementwise ops in order, with
 * row and column vectors, tiles and scalars loaded at the element's
 * place, exactly as the interpreter computes them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frag.h"
#include "gemm_sm90_emit.h"

/* An epilogue load of a row ([1,BN], [BN]) or a column ([BM,1]) vector:
 * 1 row, 2 column, 0 neither. Their values are loaded ahead of the
 * element loop (hoist_loads), so their latency is not paid per element. */
static int vector_load(const gx *x, int32_t id) {
    const ir_node *n = &x->g->nodes[id];
    if (!x->p->elem[id] || n->op != IR_LOAD) return 0;
    return x->p->shape[id][0] == 1 ? 1 : x->p->shape[id][1] == 1 ? 2 : 0;
}

static void line(gx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(gx *x, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&x->out, "%*s%s\n", 2 * x->depth, "", buf);
}

static const ir_node *node(const gx *x, int32_t id) { return &x->g->nodes[id]; }

/* Operand elements in one 128-byte swizzle line (a TMA box's inner
 * dim, a shared-memory chunk): 64 of a 16-bit type, 128 of fp8. */
static int line_elems(const gs_plan *p) {
    return (int)(128 / tj_dtype_size((tj_dtype)p->dtype));
}

/* The C name of a value: per element "e<id>", scalars "s<id>". */
static const char *vname(const gx *x, int32_t id, char buf[64]) {
    const ir_node *n = node(x, id);
    if (n->op == IR_SCALAR_ARG)
        snprintf(buf, 64, "a_%s", x->g->scalars[n->index].name);
    else if (n->op == IR_LOOP_IV)
        snprintf(buf, 64, "iv");
    else
        snprintf(buf, 64, "%c%d", x->p->elem[id] ? 'e' : 's', (int)id);
    return buf;
}

/* The logistic family without IEEE division's slow path (sm90.cuh); the
 * rest as every lowering writes them. */
static const char *unary_fmt(int op) {
    switch (op) {
    case TJ_SIGMOID: return "tj::sm90::sigmoid(%1$s)";
    case TJ_SILU: return "tj::sm90::silu(%1$s)";
    case TJ_GELU_TANH: return "tj::sm90::gelu_tanh(%1$s)";
    default: return emit_unary_fmt(op);
    }
}

/* ---- loads and stores at an element ------------------------------------ */

/* Per-dim bases of a load or store (uniform over the tile): the
 * coordinate, times the tile dim along tiled dims unless the coordinates
 * are element offsets. */
static void access_bases(gx *x, int32_t id, const char *pfx) {
    const ir_node *n = node(x, id);
    const ir_tensor *t = &x->g->tensors[n->tensor];
    int32_t v = n->op == IR_STORE ? n->in[n->nin - 1] : id;
    int rank = node(x, v)->type.rank;
    const int64_t *sh = x->p->shape[v];
    char c[64];
    for (int d = 0; d < t->rank; d++) {
        int64_t mult = 1;
        for (int k = 0; k < rank; k++)
            if (n->axes[k] == d && !(n->flags & TJ_COORD_ELEMENT))
                mult = (rank == 2 && k == 0) ? sh[0] : sh[1];
        line(x, "const long long %s_b%d = (long long)%s * %lld;", pfx, d, vname(x, n->in[d], c),
             (long long)mult);
    }
}

/* Declares `inb` and `at` for element (li, lj) of the tile. */
static void access_index(gx *x, int32_t id, const char *pfx, const char *li, const char *lj) {
    frag_access_index(&x->out, x->depth, x->g, id, pfx, li, lj);
}

/* ---- values --------------------------------------------------------------- */

/* `const T name = expr;` for node id, its operands named as they are. */
static void value(gx *x, int32_t id) {
    const ir_node *n = node(x, id);
    char nm[64], a[3][64] = {"", "", ""}, rhs[1024] = "";
    const char *T = emit_reg_type(n->type.dtype);
    vname(x, id, nm);
    for (int k = 0; k < n->nin && k < 3; k++) vname(x, n->in[k], a[k]);
    int elem = x->p->elem[id];
    const int64_t *sh = x->p->shape[id];
    const char *li = elem && sh[0] != 1 ? "i" : "0", *lj = elem && sh[1] != 1 ? "j" : "0";
    switch (n->op) {
    case IR_SCALAR_ARG: case IR_LOOP_IV: case IR_FOR: case IR_STORE: return;
    case IR_FOR_RESULT: return;   /* the accumulator element, named by the epilogue */
    case IR_PROGRAM_ID: snprintf(rhs, sizeof rhs, "pid%d", n->index); break;
    case IR_NUM_PROGRAMS: snprintf(rhs, sizeof rhs, "grid%d", n->index); break;
    case IR_IOTA:
        snprintf(rhs, sizeof rhs, "(%s)%s", T, n->type.rank == 2 && n->index == 0 ? li : lj);
        break;
    case IR_UNARY: snprintf(rhs, sizeof rhs, unary_fmt(n->sub), a[0]); break;
    case IR_CAST:
        /* the output's cast right before its store: the store rounds (every
         * store of this schedule converts by to_mem) */
        if (emit_cast_is_store_rounding(x->g, id)) snprintf(rhs, sizeof rhs, "%s", a[0]);
        else emit_elementwise_expr(x->g, id, a[0], a[1], a[2], rhs, sizeof rhs);
        break;
    case IR_CONST: case IR_SYMVAL: case IR_BINARY: case IR_WHERE: case IR_FMA: case IR_BROADCAST:
    case IR_RESHAPE:
        emit_elementwise_expr(x->g, id, a[0], a[1], a[2], rhs, sizeof rhs);
        break;
    case IR_LOAD: {
        const ir_tensor *t = &x->g->tensors[n->tensor];
        char pfx[32], pad[64];
        if (x->hoisted && vector_load(x, id) == 1) {
            line(x, "const %s %s = rv%d[nb4][c];", T, nm, (int)id);
            return;
        }
        if (x->hoisted && vector_load(x, id) == 2) {
            line(x, "const %s %s = cv%d[h];", T, nm, (int)id);
            return;
        }
        snprintf(pfx, sizeof pfx, "L%d", (int)id);
        emit_literal(t->dtype, n->f, pad, sizeof pad);
        line(x, "%s %s;", T, nm);
        line(x, "{");
        x->depth++;
        if (!elem) access_bases(x, id, pfx);
        access_index(x, id, pfx, li, lj);
        line(x, "%s = inb ? tjg::ld(t_%s + at) : %s;", nm, t->name, pad);
        x->depth--;
        line(x, "}");
        return;
    }
    default: return;
    }
    line(x, "const %s %s = %s; (void)%s;", T, nm, rhs, nm);
}

/* The live scalars of a region, in order (ids grow with program order). */
static void scalars(gx *x, int32_t parent) {
    for (int32_t id = 0; id < x->g->nnodes; id++) {
        const ir_node *n = node(x, id);
        if (x->p->live[id] && n->parent == parent && n->type.rank == 0 && !x->p->elem[id] &&
            n->op != IR_FOR && n->op != IR_STORE)
            value(x, id);
    }
}

void gs_line(gx *x, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_printf(&x->out, "%*s%s\n", 2 * x->depth, "", buf);
}
void gs_value(gx *x, int32_t id) { value(x, id); }
void gs_access_bases(gx *x, int32_t id, const char *pfx) { access_bases(x, id, pfx); }
const char *gs_vname(const gx *x, int32_t id, char buf[64]) { return vname(x, id, buf); }

/* ---- the kernel's pieces -------------------------------------------------- */

static void signature(gx *x, emit_launch *L) {
    const tj_graph *g = x->g;
    const gs_plan *p = x->p;
    sb_printf(&x->out, "extern \"C\" __global__ void __launch_bounds__(%d, 1)\ntj_%s(", p->threads,
              g->name);
    int np = emit_sched_params(&x->out, g, p->sym, NULL, L);
    const gs_operand *ops[2] = {&p->a, &p->b};
    for (int k = 0; k < 2; k++) {
        sb_printf(&x->out, ", const __grid_constant__ tj::sm90::tmap tm_%c", "ab"[k]);
        emit_param q = {.kind = EMIT_PARAM_TENSORMAP, .index = ops[k]->tensor,
                        .ctype = EMIT_C_TMAP, .size = 128};
        q.tmap.rank = 2;
        q.tmap.box[0] = (uint32_t)line_elems(p);   /* one 128-byte swizzle line */
        /* with clusters each block loads half of B's rows (for both) */
        q.tmap.box[1] = (uint32_t)(k == 1 ? ops[k]->rows / p->cluster : ops[k]->rows);
        q.tmap.swizzle = 128;
        q.tmap.l2_promotion = 256;
        L->params[np++] = q;
    }
    if (p->tstore >= 0) {
        sb_printf(&x->out, ", const __grid_constant__ tj::sm90::tmap tm_out");
        emit_param q = {.kind = EMIT_PARAM_TENSORMAP, .index = node(x, p->tstore)->tensor,
                        .ctype = EMIT_C_TMAP, .size = 128};
        q.tmap.rank = 2;
        q.tmap.box[0] = 64;
        q.tmap.box[1] = 64;
        q.tmap.swizzle = 128;
        L->params[np++] = q;
    }
    for (int d = 0; d < 3; d++) {
        sb_printf(&x->out, ", int grid%d", d);
        L->params[np++] = (emit_param){.kind = EMIT_PARAM_GRID, .index = d, .ctype = EMIT_C_I32,
                                       .size = 4};
    }
    sb_printf(&x->out, ") {\n");
    L->nparams = np;
}

/* Baked symbols, tensor dims and strides (true values), scalar arguments. */
static void prologue(gx *x) {
    emit_sched_prologue(&x->out, x->depth, x->g, x->p->sym);
}

/* pid0..2 of the tile-th program: grouped over (M, N) program axes when the
 * operands' coordinates are plain program ids, else the interpreter's
 * order (axis 0 fastest). Any order is the graph's: programs are
 * independent. */
static void tile_coords(gx *x) {
    const gs_plan *p = x->p;
    if (p->split > 1) {
        gs_split_coords(x);
    } else if (p->cluster == 2) {
        /* The pair-th pair of M tiles (2i, 2i+1) at one N tile, grouped as
         * tiles are (GROUP M tiles a group); this block takes tile
         * 2i + its rank. With an odd M tile count the last pair's second
         * tile does not exist: its block still loads its half of B. */
        int ao = 3 - p->ax_m - p->ax_n;
        line(x, "const int gmp = (grid%d + 1) / 2;", p->ax_m);
        line(x, "const long long per = (long long)gmp * grid%d;", p->ax_n);
        line(x, "const long long rest = pair %% per, width = (long long)(GROUP / 2) * grid%d;",
             p->ax_n);
        line(x, "const int first = (int)(rest / width) * (GROUP / 2);");
        line(x, "const int rows = gmp - first < GROUP / 2 ? gmp - first : GROUP / 2;");
        line(x, "const int q = (int)(rest %% width);");
        const char *e[3];
        e[p->ax_m] = "2 * (first + q % rows) + (int)tj::sm90::cluster_rank()";
        e[p->ax_n] = "q / rows";
        e[ao] = "(int)(pair / per)";
        line(x, "const int pid0 = %s, pid1 = %s, pid2 = %s;", e[0], e[1], e[2]);
        line(x, "const bool real = pid%d < grid%d;   // else only the peer's half of B", p->ax_m,
             p->ax_m);
        line(x, "(void)real;");
    } else if (p->ax_m >= 0) {
        int ao = 3 - p->ax_m - p->ax_n;
        line(x, "const long long per = (long long)grid%d * grid%d;", p->ax_m, p->ax_n);
        line(x, "const long long rest = tile %% per, width = (long long)GROUP * grid%d;", p->ax_n);
        line(x, "const int first = (int)(rest / width) * GROUP;");
        line(x, "const int rows = grid%d - first < GROUP ? grid%d - first : GROUP;", p->ax_m, p->ax_m);
        line(x, "const int q = (int)(rest %% width);");
        const char *e[3];
        e[p->ax_m] = "first + q % rows";
        e[p->ax_n] = "q / rows";
        e[ao] = "(int)(tile / per)";
        line(x, "const int pid0 = %s, pid1 = %s, pid2 = %s;", e[0], e[1], e[2]);
    } else {
        line(x, "const int pid0 = (int)(tile %% grid0), pid1 = (int)((tile / grid0) %% grid1),");
        line(x, "          pid2 = (int)(tile / ((long long)grid0 * grid1));");
    }
    line(x, "(void)pid0; (void)pid1; (void)pid2;");
}

/* The block's walk over its tiles (clusters: over pairs of tiles, both
 * blocks of a cluster the same pairs); `more` adds to the increment. */
static void tile_loop(gx *x, const char *more) {
    if (x->p->split > 1)
        line(x, "{   // the cluster's one tile");
    else if (x->p->cluster == 2)
        line(x, "for (long long pair = blockIdx.x / 2; pair < npairs; pair += gridDim.x / 2%s) {",
             more);
    else
        line(x, "for (long long tile = blockIdx.x; tile < ntiles; tile += gridDim.x%s) {", more);
}

static void loop_head(gx *x) {
    if (x->p->split > 1) {
        gs_split_loop_head(x);
        return;
    }
    const ir_node *f = node(x, x->p->loop);
    char lo[64], hi[64], st[64];
    vname(x, f->in[0], lo);
    vname(x, f->in[1], hi);
    vname(x, f->in[2], st);
    line(x, "for (%s iv = %s; iv < %s; iv += %s) {", emit_reg_type(node(x, f->in[0])->type.dtype), lo,
         hi, st);
}

static void producer(gx *x) {
    const gs_plan *p = x->p;
    if (p->nwg == 2) line(x, "tj::sm90::regs_release<40>();");
    line(x, "if (tid == 0) {");
    x->depth++;
    line(x, "tj::sm90::tma_prefetch(&tm_a);");
    line(x, "tj::sm90::tma_prefetch(&tm_b);");
    line(x, "int stage = 0;");
    line(x, "unsigned phase = 0;");
    tile_loop(x, "");
    x->depth++;
    tile_coords(x);
    scalars(x, -1);
    loop_head(x);
    x->depth++;
    scalars(x, p->loop);
    if (p->cluster == 2) {
        /* The stage's last readers include the peer's consumers (their
         * arrivals count on this block's barrier; a local wait suffices). */
        line(x, "tj::sm90::mbar_wait(bar_empty + 8 * stage, phase ^ 1);");
        line(x, "tj::sm90::mbar_expect_tx(bar_full + 8 * stage, real ? STAGE_BYTES : STAGE_BYTES - "
                "A_BYTES);");
    } else {
        line(x, "tj::sm90::mbar_wait(bar_empty + 8 * stage, phase ^ 1);");
        line(x, "tj::sm90::mbar_expect_tx(bar_full + 8 * stage, STAGE_BYTES);");
    }
    line(x, "const unsigned sa = sbase + stage * STAGE_BYTES, sb = sa + A_BYTES;");
    /* The block's rank is read where it is used (a special register):
     * held across the loop, it and the offsets made from it cost the
     * producer's 40 registers, and ptxas spilled (128x256, B N-major). */
    if (p->cluster == 2) line(x, "const unsigned rank = tj::sm90::cluster_rank();");
    const gs_operand *ops[2] = {&p->a, &p->b};
    for (int k = 0; k < 2; k++) {
        const gs_operand *o = ops[k];
        const ir_node *ld = node(x, o->load);
        int el = (ld->flags & TJ_COORD_ELEMENT) != 0;
        char r[64], c[64];
        vname(x, ld->in[0], r);
        vname(x, ld->in[1], c);
        if (p->cluster == 2 && k == 0) {
            line(x, "if (real) {");
            x->depth++;
        }
        for (int ch = 0; ch < o->cols / line_elems(p); ch++) {
            if (p->cluster == 2 && k == 1) {
                /* Rows rank * rows/2 .. of each chunk, into both blocks. */
                line(x, "tj::sm90::tma_load_2d_multicast(sb + %d + rank * %d, &tm_b, "
                        "bar_full + 8 * stage, (int)(%s * %d + %d), (int)(%s * %d + rank * %d), "
                        "(unsigned short)3);",
                     ch * o->rows * 128, o->rows / 2 * 128, c, el ? 1 : o->cols,
                     ch * line_elems(p), r, el ? 1 : o->rows, o->rows / 2);
                continue;
            }
            line(x, "tj::sm90::tma_load_2d(s%c + %d, &tm_%c, bar_full + 8 * stage, "
                    "(int)(%s * %d + %d), (int)(%s * %d));",
                 "ab"[k], ch * o->rows * 128, "ab"[k], c, el ? 1 : o->cols,
                 ch * line_elems(p), r, el ? 1 : o->rows);
        }
        if (p->cluster == 2 && k == 0) {
            x->depth--;
            line(x, "}");
        }
    }
    line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
    x->depth--;
    line(x, "}");
    x->depth--;
    line(x, "}");
    x->depth--;
    line(x, "}");
}

/* Descriptor address of operand o for k-step kk at M/N offset `mo`. */
static void desc_expr(const gs_operand *o, const char *base, const char *mo, char *buf,
                      size_t size) {
    if (o->mn_major)
        snprintf(buf, size, "tj::sm90::desc_sw128(%s + (%s / 64) * %d + kk * 2048, %d, 1024)", base,
                 mo, o->rows * 128, o->rows * 128);
    else
        snprintf(buf, size,
                 "tj::sm90::desc_sw128(%s + (kk / 4) * %d + %s * 128 + (kk %% 4) * 32, 16, 1024)",
                 base, o->rows * 128, mo);
}

/* Column blocks of 8 whose row-vector values are prefetched at once. */
#define HQ 2

/* Prefetch the epilogue's vector loads of `kind` into registers: 1 rows,
 * for the columns of the next HQ column blocks (rv<id>[nb4][c]); 2 columns,
 * for this thread's two rows of the m-slice (cv<id>[h]). A few blocks at a
 * time keeps the prefetched values within the registers the accumulator
 * leaves free (all 64 of a tile spilled). */
static void hoist_loads(gx *x, int kind, int nbs_count) {
    const gs_plan *p = x->p;
    int any = 0;
    for (int32_t id = 0; id < x->g->nnodes; id++)
        any |= p->live[id] && vector_load(x, id) == kind;
    if (!any) return;
    for (int32_t id = 0; id < x->g->nnodes; id++)
        if (p->live[id] && vector_load(x, id) == kind)
            line(x, kind == 1 ? "%s rv%d[%d][2];" : "%s cv%d[2];",
                 emit_reg_type(node(x, id)->type.dtype), (int)id, HQ);
    line(x, "#pragma unroll");
    line(x, kind == 1 ? "for (int nb4 = 0; nb4 < %d; ++nb4)" : "for (int h = 0; h < 2; ++h) {", HQ);
    if (kind == 1) {
        line(x, "#pragma unroll");
        line(x, "for (int c = 0; c < 2; ++c) {");
    }
    x->depth++;
    line(x, "const int i = wrow + ms * 64 + w4 * 16 + (lane >> 2) + (%s);",
         kind == 1 ? "0" : "8 * h");
    line(x, "const int j = (sub * %d + %s) * 8 + (lane & 3) * 2 + %s;", nbs_count,
         kind == 1 ? "qq * HQ + nb4" : "0", kind == 1 ? "c" : "0");
    line(x, "(void)i; (void)j;");
    for (int32_t id = 0; id < x->g->nnodes; id++) {
        if (!p->live[id] || vector_load(x, id) != kind) continue;
        value(x, id);
        line(x, kind == 1 ? "rv%d[nb4][c] = e%d;" : "cv%d[h] = e%d;", (int)id, (int)id);
    }
    x->depth--;
    line(x, "}");
}

/* The epilogue of one tile in a consumer warpgroup: every accumulator
 * element through the graph's epilogue ops. With a TMA store, the stored
 * tile goes out in 64x64 boxes: written (swizzled, as bf16/f16 pairs) to
 * one of two shared buffers per warpgroup, then copied asynchronously
 * while the next box (or tile) proceeds; a buffer is rewritten only once
 * the copy before last has read it. */
static void epilogue(gx *x) {
    const gs_plan *p = x->p;
    const tj_graph *g = x->g;
    int tma = p->tstore >= 0;
    /* Bases of the epilogue's loads and stores, once a tile. */
    for (int32_t id = 0; id < g->nnodes; id++) {
        const ir_node *n = node(x, id);
        char pfx[32];
        if (p->live[id] && p->elem[id] && n->op == IR_LOAD) {
            snprintf(pfx, sizeof pfx, "L%d", (int)id);
            access_bases(x, id, pfx);
        }
        if (n->op == IR_STORE) {
            snprintf(pfx, sizeof pfx, "S%d", (int)id);
            access_bases(x, id, pfx);
        }
    }
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms) {");
    x->depth++;
    line(x, "#pragma unroll");
    line(x, "for (int sub = 0; sub < %d; ++sub) {", tma ? p->bn / 64 : 1);
    x->depth++;
    int nbs_count = tma ? 8 : p->bn / 8;
    x->hoisted = 0;
    hoist_loads(x, 2, nbs_count);
    if (tma) {
        line(x, "if (wl == 0) tj::sm90::bulk_wait_read<1>();   // this buffer's last copy has read it");
        line(x, "tj::sm90::named_barrier(1 + cw, 128);");
    }
    line(x, "#pragma unroll");
    line(x, "for (int qq = 0; qq < %d; ++qq) {", nbs_count / HQ);
    x->depth++;
    hoist_loads(x, 1, nbs_count);
    x->hoisted = 1;
    if (tma) line(x, "const unsigned sbuf = sout + cw * 16384 + ebuf * 8192;");
    line(x, "#pragma unroll");
    line(x, "for (int nb4 = 0; nb4 < HQ; ++nb4)");
    line(x, "#pragma unroll");
    line(x, "for (int h = 0; h < 2; ++h) {");
    x->depth++;
    line(x, "const int nbs = qq * HQ + nb4;");
    line(x, "const int nb = sub * %d + nbs;", nbs_count);
    line(x, "const int i = wrow + ms * 64 + w4 * 16 + (lane >> 2) + 8 * h;");
    line(x, "float out[2];");
    line(x, "#pragma unroll");
    line(x, "for (int c = 0; c < 2; ++c) {");
    x->depth++;
    line(x, "const int j = nb * 8 + (lane & 3) * 2 + c;");
    line(x, "(void)i; (void)j;");
    if (p->result >= 0 && p->live[p->result])
        line(x, "const float e%d = acc[ms][nb * 4 + h * 2 + c];", (int)p->result);
    for (int32_t id = 0; id < g->nnodes; id++)
        if (p->live[id] && p->elem[id]) value(x, id);
    line(x, "out[c] = 0.0f;");
    for (int k = 0; k < g->nbody; k++) {
        int32_t id = g->body[k];
        const ir_node *n = node(x, id);
        if (n->op != IR_STORE) continue;
        char pfx[32], v[64];
        vname(x, n->in[n->nin - 1], v);
        if (id == p->tstore) {
            line(x, "out[c] = %s;", v);
            continue;
        }
        snprintf(pfx, sizeof pfx, "S%d", (int)id);
        line(x, "{ // store %s", g->tensors[n->tensor].name);
        x->depth++;
        access_index(x, id, pfx, "i", "j");
        line(x, "if (inb) tjg::st(t_%s + at, %s);", g->tensors[n->tensor].name, v);
        x->depth--;
        line(x, "}");
    }
    x->depth--;
    line(x, "}");
    if (tma)
        line(x, "tj::sm90::st_shared_pair<%s>(sbuf + tj::sm90::swizzle128_offset(w4 * 16 + "
                "(lane >> 2) + 8 * h, nbs * 8 + (lane & 3) * 2), out[0], out[1]);",
             emit_mem_type(g->tensors[node(x, p->tstore)->tensor].dtype));
    else
        line(x, "(void)out;");
    x->depth--;
    line(x, "}");
    x->depth--;
    line(x, "}");
    if (tma) {
        line(x, "const unsigned sbuf = sout + cw * 16384 + ebuf * 8192;");
        line(x, "tj::sm90::fence_proxy_async();   // the copy engine reads what the threads wrote");
        line(x, "tj::sm90::named_barrier(1 + cw, 128);");
        line(x, "if (wl == 0) {");
        line(x, "  tj::sm90::tma_store_2d(&tm_out, sbuf, (int)(S%d_b1 + sub * 64), "
                "(int)(S%d_b0 + wrow + ms * 64));", (int)p->tstore, (int)p->tstore);
        line(x, "  tj::sm90::bulk_commit();");
        line(x, "}");
        line(x, "ebuf ^= 1;");
    }
    x->depth--;
    line(x, "}");
    x->depth--;
    line(x, "}");
    x->hoisted = 0;
}

/* A consuming warp releases stage `prev`: lane 0 arrives on its empty
 * barrier; with clusters lane r on that of block r (the peer's producer
 * writes half of B into this block's stage too). */
static void release(gx *x) {
    if (x->p->cluster == 2)
        line(x, "if (prev >= 0 && lane < 2) tj::sm90::mbar_arrive_cluster(bar_empty + 8 * prev, "
                "lane);");
    else
        line(x, "if (prev >= 0 && lane == 0) tj::sm90::mbar_arrive(bar_empty + 8 * prev);");
}

static void consumer(gx *x) {
    const gs_plan *p = x->p;
    /* wgmma's operand type; a k-step is 32 bytes of K either way (k16 of
     * a 16-bit type, k32 of fp8), so the descriptors step alike. fp8
     * forms take no transpose arguments (K-major only, gs_match). */
    const char *ty = p->dtype == TJ_BF16 ? "bf16" : p->dtype == TJ_F16 ? "f16"
                   : p->dtype == TJ_F8E4M3 ? "e4m3" : "e5m2";
    int fp8 = tj_dtype_size((tj_dtype)p->dtype) == 1;
    char targs[16] = "";
    if (!fp8) snprintf(targs, sizeof targs, "<%d, %d>", p->a.mn_major, p->b.mn_major);
    char da[256], db[256], init[64];
    if (p->nwg == 2) line(x, "tj::sm90::regs_take<232>();");
    line(x, "const int cw = wg - 1, wl = tid & 127, w4 = wl >> 5, lane = tid & 31;");
    line(x, "(void)wl;");
    /* Rows of the tile this warpgroup computes start at wrow. */
    line(x, "const int wrow = %s;", p->pingpong ? "0" : "cw * WGM");
    if (p->tstore >= 0) line(x, "int ebuf = 0;   // which of the warpgroup's two output buffers is next");
    line(x, "float acc[MS][BN / 2];");
    line(x, "int stage = 0;");
    line(x, "unsigned phase = 0;");
    line(x, "long long turn = 0;");
    if (p->pingpong) {
        /* The warpgroups' mainloops take turns: each waits for the other to
         * have issued its tile's products. Besides the overlap, this keeps a
         * warpgroup from waiting on a stage barrier a whole ring lap ahead,
         * where its parity would be ambiguous. */
        line(x, "unsigned order_phase = 0;");
        line(x, "bool starts = cw == 0;   // warpgroup 0 takes the first tile unasked");
    }
    tile_loop(x, ", ++turn");
    x->depth++;
    tile_coords(x);
    scalars(x, -1);
    if (p->pingpong) {
        /* The other warpgroup's tile: step over its stages in the ring. */
        const ir_node *f = node(x, p->loop);
        char lo[64], hi[64], st[64];
        vname(x, f->in[0], lo);
        vname(x, f->in[1], hi);
        vname(x, f->in[2], st);
        line(x, "if ((int)(turn & 1) != cw) {");
        line(x, "  const long long trips = %s < %s ? ((long long)%s - %s + %s - 1) / %s : 0;", lo, hi,
             hi, lo, st, st);
        line(x, "  const long long at = stage + trips;");
        line(x, "  stage = (int)(at %% STAGES);");
        line(x, "  phase ^= (unsigned)((at / STAGES) & 1);");
        line(x, "  continue;");
        line(x, "}");
    }
    emit_literal(TJ_F32, node(x, p->init)->f, init, sizeof init);
    if (p->pingpong) {
        line(x, "if (!starts) {");
        line(x, "  tj::sm90::mbar_wait(bar_order + 8 * cw, order_phase);");
        line(x, "  order_phase ^= 1;");
        line(x, "}");
        line(x, "starts = false;");
    }
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms) {");
    line(x, "  #pragma unroll");
    if (p->split > 1 && strcmp(init, "0.0f"))   /* the constant enters one block's sum */
        line(x, "  for (int r = 0; r < BN / 2; ++r) acc[ms][r] = rank == 0 ? %s : 0.0f;", init);
    else
        line(x, "  for (int r = 0; r < BN / 2; ++r) acc[ms][r] = %s;", init);
    line(x, "  tj::sm90::pin_all(acc[ms]);");
    line(x, "}");
    line(x, "int prev = -1;");
    loop_head(x);
    x->depth++;
    line(x, "tj::sm90::mbar_wait(bar_full + 8 * stage, phase);");
    line(x, "tj::sm90::wgmma_fence();");
    line(x, "const unsigned sa = sbase + stage * STAGE_BYTES, sb = sa + A_BYTES;");
    line(x, "#pragma unroll");
    line(x, "for (int kk = 0; kk < BK / KSTEP; ++kk) {");
    x->depth++;
    desc_expr(&p->b, "sb", "0", db, sizeof db);
    desc_expr(&p->a, "sa", "mo", da, sizeof da);
    line(x, "const unsigned long long db = %s;", db);
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms) {");
    line(x, "  const int mo = wrow + ms * 64;");
    line(x, "  const unsigned long long da = %s;", da);
    line(x, "  tj::sm90::wgmma_%s_m64n%dk%d%s(acc[ms], da, db, 1);", ty, p->bn, fp8 ? 32 : 16,
         targs);
    line(x, "}");
    x->depth--;
    line(x, "}");
    line(x, "tj::sm90::wgmma_commit();");
    /* One k-step stays in flight: the previous one is done, its stage free. */
    line(x, "tj::sm90::wgmma_wait<1>();");
    release(x);
    line(x, "prev = stage;");
    line(x, "if (++stage == STAGES) { stage = 0; phase ^= 1; }");
    x->depth--;
    line(x, "}");
    line(x, "tj::sm90::wgmma_wait<0>();");
    line(x, "#pragma unroll");
    line(x, "for (int ms = 0; ms < MS; ++ms) tj::sm90::pin_all(acc[ms]);");
    release(x);
    if (p->pingpong) line(x, "if (wl == 0) tj::sm90::mbar_arrive(bar_order + 8 * (cw ^ 1));   // your turn");
    if (p->split > 1) {
        gs_split_epilogue(x);
        line(x, "(void)turn;");
    } else if (p->cluster == 2) {
        line(x, "if (real) {");
        x->depth++;
    }
    if (p->split == 1) epilogue(x);
    if (p->cluster == 2) {
        x->depth--;
        line(x, "}");
    }
    x->depth--;
    line(x, "}");
    if (p->tstore >= 0) line(x, "if (wl == 0) tj::sm90::bulk_wait<0>();   // before the block exits");
}

static tj_status kernel(gx *x, emit_launch *L) {
    const gs_plan *p = x->p;
    const tj_graph *g = x->g;
    char hash[65];
    tj_status st = tj_graph_hash(g, hash);
    if (st != TJ_OK) return st;
    sb_printf(&x->out, "// tilejit gemm_sm90 kernel for graph '%s' (sm_90a)\n// graph sha256 %s\n",
              g->name, hash);
    sb_printf(&x->out, "// tile %dx%dx%d %s, %d stages of %zu bytes, %d consumer warpgroup%s%s, "
              "A %s-major, B %s-major, grouped order %d\n",
              p->bm, p->bn, p->bk, tj_dtype_name((tj_dtype)p->dtype), p->stages, p->stage_bytes,
              p->nwg, p->nwg > 1 ? "s" : "",
              p->pingpong ? " taking whole tiles in turn" : "",
              p->a.mn_major ? "M" : "K", p->b.mn_major ? "N" : "K", p->group);
    if (p->cluster == 2)
        sb_printf(&x->out, "// clusters of 2 blocks on adjacent M tiles, B's tile multicast "
                  "(half from each)\n");
    if (p->split > 1)
        sb_printf(&x->out, "// split-K: a tile a cluster of %d blocks, each 1/%d of its K tiles, "
                  "the sums reduced through distributed shared memory\n", p->split, p->split);
    sb_printf(&x->out, "#include \"tj/generic.cuh\"\n#include \"tj/sm90.cuh\"\n\n");
    char split[32] = "";
    if (p->split > 1) snprintf(split, sizeof split, ", SPLIT = %d", p->split);
    sb_printf(&x->out,
              "namespace {\nconstexpr int BM = %d, BN = %d, BK = %d, STAGES = %d, NWG = %d, "
              "MS = %d, WGM = %s, GROUP = %d, HQ = %d, KSTEP = %d%s;\n"
              "constexpr unsigned A_BYTES = %zu, STAGE_BYTES = %zu;\n}\n\n",
              p->bm, p->bn, p->bk, p->stages, p->nwg, p->ms, p->pingpong ? "BM" : "BM / NWG",
              p->group, HQ, (int)(32 / tj_dtype_size((tj_dtype)p->dtype)), split,
              (size_t)p->bm * p->bk * tj_dtype_size((tj_dtype)p->dtype), p->stage_bytes);
    signature(x, L);
    x->depth = 1;
    line(x, "extern __shared__ __align__(1024) unsigned char tj_smem[];");
    line(x, "const int tid = threadIdx.x, wg = tid / 128;");
    line(x, "const unsigned sbase = (tj::sm90::smem_addr(tj_smem) + 1023u) & ~1023u;");
    line(x, "const unsigned sout = sbase + STAGES * STAGE_BYTES;   // output boxes, 1024-aligned");
    line(x, "const unsigned bar_full = sout + %d, bar_empty = bar_full + 8 * STAGES;",
         p->tstore >= 0 ? p->nwg * 16384 : 0);
    line(x, "(void)sout;");
    if (p->pingpong) line(x, "const unsigned bar_order = bar_empty + 8 * STAGES;");
    if (p->cluster == 2) {
        line(x, "const long long npairs = (long long)((grid%d + 1) / 2) * grid%d * grid%d;",
             p->ax_m, p->ax_n, 3 - p->ax_m - p->ax_n);
    } else if (p->split == 1) {
        line(x, "const long long ntiles = (long long)grid0 * grid1 * grid2;");
    }
    prologue(x);
    line(x, "if (tid == 0) {");
    line(x, "  for (int s = 0; s < STAGES; ++s) {");
    line(x, "    tj::sm90::mbar_init(bar_full + 8 * s, 1);");
    if (p->cluster == 2)
        line(x, "    tj::sm90::mbar_init(bar_empty + 8 * s, %d);   // each consuming warp of both "
                "blocks", (p->pingpong ? 4 : p->nwg * 4) * 2);
    else
        line(x, "    tj::sm90::mbar_init(bar_empty + 8 * s, %d);   // lane 0 of each consuming warp",
             p->pingpong ? 4 : p->nwg * 4);
    line(x, "  }");
    if (p->pingpong) {
        line(x, "  tj::sm90::mbar_init(bar_order, 1);       // warpgroup 0 may start its next tile");
        line(x, "  tj::sm90::mbar_init(bar_order + 8, 1);   // warpgroup 1 may");
    }
    line(x, "  tj::sm90::fence_barrier_init();");
    line(x, "}");
    if (p->cluster == 2)
        line(x, "tj::sm90::cluster_sync();   // the peer's barriers exist before it is written to");
    else
        line(x, "__syncthreads();");
    line(x, "if (wg == 0) {");
    x->depth++;
    producer(x);
    if (p->split > 1) gs_split_producer_tail(x);
    x->depth--;
    line(x, "} else {");
    x->depth++;
    consumer(x);
    x->depth--;
    line(x, "}");
    if (p->cluster == 2) {
        line(x, "__syncwarp();   // the cluster barrier is .aligned: whole warps, converged");
        line(x, "tj::sm90::cluster_sync();   // no block exits while its peer may write to it");
    }
    x->depth = 0;
    sb_printf(&x->out, "}\n");
    if (x->out.oom) return tj_set_error(TJ_ERR_NO_MEMORY, "gemm_sm90: out of memory");
    snprintf(L->kernel, sizeof L->kernel, "tj_%s", g->name);
    L->threads = p->threads;
    L->smem_bytes = p->smem;
    L->grid_mode = EMIT_GRID_PERSISTENT;
    L->grid_arg = 1;
    if (p->cluster == 2) L->cluster[0] = 2, L->cluster[1] = L->cluster[2] = 1;
    if (p->split > 1) {   /* a cluster a tile, no walk: the tiles are few */
        L->grid_mode = EMIT_GRID_MUL;
        L->grid_arg = p->split;
        L->cluster[0] = (unsigned)p->split, L->cluster[1] = L->cluster[2] = 1;
    }
    return TJ_OK;
}

tj_status sched_gemm_sm90(const tj_graph *g, const char *arch, const int64_t *sym_vals,
                          char **src, emit_launch *launch, char *why, size_t why_size) {
    *src = NULL;
    gs_plan p;
    tj_status st = gs_match(g, arch, sym_vals, &p, why, why_size);
    if (st != TJ_OK || !p.g) return st;
    gx x = {.p = &p, .g = g};
    st = kernel(&x, launch);
    if (st == TJ_OK) {
        *src = x.out.data;
        x.out.data = NULL;
    }
    sb_free(&x.out);
    gs_plan_free(&p);
    return st;
}
