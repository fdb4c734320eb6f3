/*
 * verify.c — tj_graph_verify(): every rule a graph must keep to become a
 * kernel. The builder (infer.c) already checks each op's local rules when
 * the node is made; this file checks what spans nodes (scope, program
 * order, loops, the grid, names, arguments) and re-checks the local rules
 * (verify_ops.c), so a graph that reached us some other way is refused
 * with a clear message rather than crashing a later stage.
 *
 * Verification never changes the graph: messages go to tj_last_error()
 * only, so print, hash and verify give the same answers in any order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

/* ---- messages ------------------------------------------------------ */

tj_status verify_errorv(const tj_graph *g, tj_status s, int32_t node, int line,
                        const char *fmt, va_list ap) {
    char msg[1024], prefix[256] = "", desc[160];
    vsnprintf(msg, sizeof msg, fmt, ap);
    const ir_node *n = ir_node_at(g, node);
    if (n && n->line > 0) line = n->line;
    size_t off = 0;
    if (line > 0)
        off = (size_t)snprintf(prefix, sizeof prefix, "%s:%d: ",
                               g->source ? g->source : "<text>", line);
    if (n && off < sizeof prefix)
        snprintf(prefix + off, sizeof prefix - off, "%s: ",
                 ir_node_desc(g, node, desc, sizeof desc));
    return tj_set_error(s, "%s%s", prefix, msg);
}

tj_status verify_error(const tj_graph *g, int32_t node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tj_status s = verify_errorv(g, TJ_ERR_VERIFY, node, 0, fmt, ap);
    va_end(ap);
    return s;
}

/* An error about something that is not a node (a tensor, a symbol, the
 * grid): `line` is where the text declared it, 0 when built by the API. */
static tj_status error_at_line(const tj_graph *g, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tj_status error_at_line(const tj_graph *g, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tj_status s = verify_errorv(g, TJ_ERR_VERIFY, -1, line, fmt, ap);
    va_end(ap);
    return s;
}

/* Broken links between nodes and regions: only a bug can make them. */
static tj_status internal(const tj_graph *g, int32_t node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tj_status internal(const tj_graph *g, int32_t node, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tj_status s = verify_errorv(g, TJ_ERR_INTERNAL, node, 0, fmt, ap);
    va_end(ap);
    return s;
}

const char *verify_desc(const tj_graph *g, int32_t id, char *buf) {
    return ir_node_desc(g, id, buf, VERIFY_DESC);
}

/* ---- the walk state ------------------------------------------------ */

enum {
    LISTED = 1,    /* found in a region list */
    DEFINED = 2,   /* its definition has been passed in program order */
    GRID_OK = 4,   /* checked as part of a grid expression */
};

typedef struct vstate {
    const tj_graph *g;
    unsigned char *flags;   /* per node */
    int nstores;
} vstate;

static int is_implicit(ir_op op) {
    return op == IR_SCALAR_ARG || op == IR_LOOP_IV || op == IR_LOOP_CARRIED ||
           op == IR_FOR_RESULT;
}

/* ---- names --------------------------------------------------------- */

typedef struct named {
    const char *name;
    int order;      /* declaration order: symbols, tensors, scalars, values */
    char what[176]; /* "tensor 'x'", "%x (load)" ... */
    int line;
} named;

static int named_cmp(const void *a, const void *b) {
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Names are how text and generated code refer to things: they must be
 * identifiers and unique across symbols, tensors, scalars and values. */
static tj_status check_names(const tj_graph *g) {
    if (!ir_is_ident(g->name))
        return tj_set_error(TJ_ERR_VERIFY, "graph name '%s' is not an identifier",
                            g->name ? g->name : "(null)");
    int cap = g->nsyms + g->ntensors + g->nscalars, n = 0;
    for (int i = 0; i < g->nnodes; i++) cap += g->nodes[i].name != NULL;
    if (cap == 0) return TJ_OK;
    named *list = malloc((size_t)cap * sizeof *list);
    if (!list) return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory verifying graph '%s'", g->name);
    for (int i = 0; i < g->nsyms; i++, n++) {
        list[n] = (named){g->syms[i].name, n, "", g->syms[i].line};
        snprintf(list[n].what, sizeof list[n].what, "symbol '%s'", g->syms[i].name ? g->syms[i].name : "");
    }
    for (int i = 0; i < g->ntensors; i++, n++) {
        list[n] = (named){g->tensors[i].name, n, "", g->tensors[i].line};
        snprintf(list[n].what, sizeof list[n].what, "tensor '%s'",
                 g->tensors[i].name ? g->tensors[i].name : "");
    }
    for (int i = 0; i < g->nscalars; i++, n++) {
        list[n] = (named){g->scalars[i].name, n, "", g->scalars[i].line};
        snprintf(list[n].what, sizeof list[n].what, "scalar '%s'",
                 g->scalars[i].name ? g->scalars[i].name : "");
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (!g->nodes[i].name) continue;
        list[n] = (named){g->nodes[i].name, n, "", g->nodes[i].line};
        ir_node_desc(g, i, list[n].what, sizeof list[n].what);
        n++;
    }
    tj_status s = TJ_OK;
    for (int i = 0; i < n && s == TJ_OK; i++)
        if (!ir_is_ident(list[i].name))
            s = error_at_line(g, list[i].line,
                              "%s: name '%s' is not an identifier ([A-Za-z_][A-Za-z0-9_]*, "
                              "at most 64 chars)",
                              list[i].what, list[i].name ? list[i].name : "(null)");
    if (s == TJ_OK) {
        qsort(list, (size_t)n, sizeof *list, named_cmp);
        for (int i = 1; i < n && s == TJ_OK; i++)
            if (!strcmp(list[i - 1].name, list[i].name))
                s = error_at_line(g, list[i].line,
                                  "%s: name '%s' is already used by %s; names must be unique "
                                  "within a graph",
                                  list[i].what, list[i].name, list[i - 1].what);
    }
    free(list);
    return s;
}

/* ---- arguments ----------------------------------------------------- */

static tj_status check_symbols(const tj_graph *g) {
    for (int i = 0; i < g->nsyms; i++) {
        const ir_symbol *p = &g->syms[i];
        if ((unsigned)p->policy > TJ_DYNAMIC)
            return error_at_line(g, p->line, "symbol '%s': policy %d is not a tj_policy", p->name,
                                 (int)p->policy);
        int multiple = p->policy == TJ_BUCKET_MULTIPLE;
        if (multiple ? (p->bucket < 1 || p->bucket > INT32_MAX) : p->bucket != 0)
            return error_at_line(g, p->line,
                                 "symbol '%s': bucket %lld: bucketing by multiples needs a "
                                 "multiple in 1..2^31-1; other policies take none (0)",
                                 p->name, (long long)p->bucket);
        if (p->divisor < 1 || p->divisor > INT32_MAX)
            return error_at_line(g, p->line, "symbol '%s': divisor %lld is not in 1..2^31-1",
                                 p->name, (long long)p->divisor);
    }
    return TJ_OK;
}

/* A tensor dim (lo 1) or stride (lo 0): a constant or an existing symbol. */
static tj_status check_tensor_dim(const tj_graph *g, const ir_tensor *t, const char *what,
                                  int axis, tj_dim d, int64_t lo) {
    if (tj_dim_is_sym(d)) {
        if (verify_dim_symbol(g, d) < 0)
            return error_at_line(g, t->line,
                                 "tensor '%s': %s %d is %lld, which names no symbol of this graph",
                                 t->name, what, axis, (long long)d);
        return TJ_OK;
    }
    if (d < lo || d > TJ_MAX_DIM)
        return error_at_line(g, t->line,
                             "tensor '%s': %s %d is %lld; it must be in %lld..2^40 or a symbol",
                             t->name, what, axis, (long long)d, (long long)lo);
    return TJ_OK;
}

static tj_status check_tensors(const tj_graph *g) {
    for (int i = 0; i < g->ntensors; i++) {
        const ir_tensor *t = &g->tensors[i];
        if (!ir_is_graph_dtype((int)t->dtype))
            return error_at_line(g, t->line,
                                 "tensor '%s': dtype %s is not a tensor dtype (f32 f16 bf16 "
                                 "f8e4m3 f8e5m2 i32 i64 bool)",
                                 t->name, tj_dtype_name(t->dtype) ? tj_dtype_name(t->dtype) : "?");
        if (t->rank < 0 || t->rank > TJ_MAX_RANK)
            return error_at_line(g, t->line, "tensor '%s': rank %d is not in 0..%d", t->name,
                                 t->rank, TJ_MAX_RANK);
        for (int k = 0; k < t->rank; k++) {
            tj_status s = check_tensor_dim(g, t, "dim", k, t->dims[k], 1);
            if (s == TJ_OK && t->has_strides)
                s = check_tensor_dim(g, t, "stride", k, t->strides[k], 0);
            if (s != TJ_OK) return s;
        }
        int es = (int)tj_dtype_size(t->dtype);
        if (t->align < es || t->align > 4096 || (t->align & (t->align - 1)))
            return error_at_line(g, t->line,
                                 "tensor '%s': alignment %d must be a power of two in %d..4096",
                                 t->name, t->align, es);
    }
    return TJ_OK;
}

static tj_status check_scalars(vstate *v) {
    const tj_graph *g = v->g;
    for (int i = 0; i < g->nscalars; i++) {
        const ir_scalar *p = &g->scalars[i];
        if (!ir_is_graph_dtype((int)p->dtype) || p->dtype == TJ_F8E4M3 || p->dtype == TJ_F8E5M2)
            return error_at_line(g, p->line,
                                 "scalar '%s': dtype %s is not a scalar dtype (f32 f16 bf16 i32 "
                                 "i64 bool)",
                                 p->name, tj_dtype_name(p->dtype) ? tj_dtype_name(p->dtype) : "?");
        const ir_node *n = ir_node_at(g, p->node);
        if (!n || n->op != IR_SCALAR_ARG || n->index != i || n->type.dtype != (int)p->dtype)
            return internal(g, p->node, "scalar '%s' (argument %d) has no matching scalar node",
                            p->name, i);
        tj_status s = verify_node(g, p->node);
        if (s != TJ_OK) return s;
        /* Scalar arguments are defined before the program starts. */
        v->flags[p->node] |= DEFINED | LISTED;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_SCALAR_ARG && !(v->flags[i] & DEFINED))
            return internal(g, i, "scalar node is not any scalar argument's");
    return TJ_OK;
}

/* ---- the grid ------------------------------------------------------ */

/* What a grid dim may be built from: what the host can evaluate before
 * launch (bind.c evaluates it the same way). */
static int host_unop(int op) { return op == TJ_NEG || op == TJ_ABS || op == TJ_RELU; }
static int host_binop(int op) {
    return op == TJ_ADD || op == TJ_SUB || op == TJ_MUL || op == TJ_DIV || op == TJ_MOD ||
           op == TJ_CDIV || op == TJ_MAX || op == TJ_MIN;
}

static tj_status check_host_expr(vstate *v, int axis, int32_t root, int32_t id, int depth) {
    const tj_graph *g = v->g;
    char d[VERIFY_DESC];
    const ir_node *n = ir_node_at(g, id);
    if (!n) return internal(g, root, "grid dim %d refers to node #%d, which does not exist", axis, (int)id);
    if (v->flags[id] & GRID_OK) return TJ_OK;
    if (depth > 64)
        return verify_error(g, root, "grid dim %d is an expression more than 64 ops deep", axis);
    verify_desc(g, id, d);
    const char *why = NULL;
    switch (n->op) {
    case IR_PROGRAM_ID: case IR_NUM_PROGRAMS:
        why = "a program id: the grid is fixed before any program runs"; break;
    case IR_LOAD: why = "a load: tensor contents are not known at launch"; break;
    case IR_SCALAR_ARG: why = "a scalar argument: a grid is computed from constants and symbols only"; break;
    case IR_LOOP_IV: case IR_LOOP_CARRIED: case IR_FOR_RESULT: why = "a loop value"; break;
    case IR_CONST: case IR_SYMVAL: case IR_CAST: break;
    case IR_UNARY: if (!host_unop(n->sub)) why = "an op the host cannot evaluate (neg, abs and relu can)"; break;
    case IR_BINARY:
        if (!host_binop(n->sub))
            why = "an op the host cannot evaluate (add sub mul div mod cdiv max min can)";
        break;
    default: why = "an op the host cannot evaluate"; break;
    }
    if (why && id == root) return verify_error(g, root, "grid dim %d is %s", axis, why);
    if (why) return verify_error(g, root, "grid dim %d depends on %s, %s", axis, d, why);
    if (n->parent != -1)
        return verify_error(g, root,
                            "grid dim %d depends on %s, which is defined inside a loop body; "
                            "a grid is computed at the top level",
                            axis, d);
    if (n->type.rank != 0 || !ir_is_int(n->type.dtype))
        return verify_error(g, root,
                            "grid dim %d depends on %s, which is not an integer scalar (the host "
                            "evaluates the grid in integers)",
                            axis, d);
    for (int k = 0; k < n->nin; k++) {
        tj_status s = check_host_expr(v, axis, root, n->in[k], depth + 1);
        if (s != TJ_OK) return s;
    }
    v->flags[id] |= GRID_OK;
    return TJ_OK;
}

static tj_status check_grid(vstate *v) {
    const tj_graph *g = v->g;
    if (g->ngrid == 0)
        return error_at_line(g, 0, "graph '%s' has no grid: call tj_set_grid (1..3 integer dims)",
                             g->name);
    if (g->ngrid < 0 || g->ngrid > TJ_MAX_GRID)
        return error_at_line(g, g->grid_line, "graph '%s': a grid has 1..3 dims, not %d", g->name,
                             g->ngrid);
    for (int i = 0; i < g->ngrid; i++) {
        const ir_node *n = ir_node_at(g, g->grid[i]);
        if (!n)
            return error_at_line(g, g->grid_line, "grid dim %d is node #%d, which does not exist",
                                 i, (int)g->grid[i]);
        if (n->type.rank != 0 || !ir_is_int(n->type.dtype)) {
            char t[96];
            return verify_error(g, g->grid[i], "grid dim %d must be an integer scalar, not %s", i,
                                ir_type_str(g, &n->type, t, sizeof t));
        }
        tj_status s = check_host_expr(v, i, g->grid[i], g->grid[i], 0);
        if (s != TJ_OK) return s;
    }
    return TJ_OK;
}

/* ---- scope and program order --------------------------------------- */

/* Operand k of node id, seen from region `parent`: it must exist, be a
 * value, and be defined earlier in this or an enclosing region. */
static tj_status check_operand(vstate *v, int32_t id, const char *what, int32_t o,
                               int32_t parent) {
    const tj_graph *g = v->g;
    char d[VERIFY_DESC], l[VERIFY_DESC];
    const ir_node *on = ir_node_at(g, o);
    if (!on) return verify_error(g, id, "%s (id %d) is not a node of this graph", what, (int)o);
    verify_desc(g, o, d);
    if (on->type.dtype == IR_VOID)
        return verify_error(g, id, "%s is %s, which has no value", what, d);
    if (!ir_visible(g, o, parent)) {
        if (on->parent >= 0 && on->parent < g->nnodes) verify_desc(g, on->parent, l);
        else snprintf(l, sizeof l, "a loop");
        return verify_error(g, id,
                            "%s %s is defined inside the body of %s and not visible here "
                            "(carry it out of the loop as a loop result)",
                            what, d, l);
    }
    if (!(v->flags[o] & DEFINED))
        return verify_error(g, id, "%s %s is used before it is defined", what, d);
    return TJ_OK;
}

static tj_status check_operands(vstate *v, int32_t id) {
    const ir_node *n = &v->g->nodes[id];
    for (int k = 0; k < n->nin; k++) {
        char what[32];
        snprintf(what, sizeof what, "operand %d", k);
        tj_status s = check_operand(v, id, what, n->in[k], n->parent);
        if (s != TJ_OK) return s;
    }
    return TJ_OK;
}

static tj_status walk_region(vstate *v, int32_t parent, int depth);

/* The loop's own rules around its body: block arguments, the body,
 * yields that match the carried types exactly, and results. */
static tj_status walk_loop(vstate *v, int32_t id, int depth) {
    const tj_graph *g = v->g;
    const ir_node *f = &g->nodes[id];
    const ir_loop *L = f->loop;
    char want[96], got[96];
    if (depth >= IR_MAX_DEPTH)
        return verify_error(g, id, "loops nest deeper than %d", IR_MAX_DEPTH);
    const ir_node *iv = ir_node_at(g, L->iv);
    if (!iv || iv->op != IR_LOOP_IV || iv->in[0] != id || iv->parent != id)
        return internal(g, id, "loop has no induction variable node");
    tj_status s = verify_node(g, L->iv);
    if (s != TJ_OK) return s;
    v->flags[L->iv] |= DEFINED | LISTED;
    for (int k = 0; k < L->ncarried; k++) {
        const ir_node *c = ir_node_at(g, L->carried ? L->carried[k] : -1);
        if (!c || c->op != IR_LOOP_CARRIED || c->in[0] != id || c->index != k || c->parent != id)
            return internal(g, id, "loop-carried value %d has no node", k);
        if ((s = verify_node(g, L->carried[k])) != TJ_OK) return s;
        v->flags[L->carried[k]] |= DEFINED | LISTED;
    }
    s = walk_region(v, id, depth + 1);
    if (s != TJ_OK) return s;
    /* A loop without carried values has no yield list even when closed;
     * g->depth, checked first, catches those left open. */
    if (L->ncarried > 0 && (!L->yields || !L->results))
        return verify_error(g, id,
                            "loop is never closed: tj_for_begin without a matching tj_for_end");
    for (int k = 0; k < L->ncarried; k++) {
        char what[48];
        snprintf(what, sizeof what, "yielded value %d", k);
        s = check_operand(v, id, what, L->yields[k], id);
        if (s != TJ_OK) return s;
        const ir_type *c = &g->nodes[L->carried[k]].type, *y = &g->nodes[L->yields[k]].type;
        if (!verify_same_type(c, y))
            return verify_error(g, id,
                                "loop-carried value %d changes type: carried %s, yielded %s "
                                "(a yield must match its carried value's dtype and shape exactly)",
                                k, ir_type_str(g, c, want, sizeof want),
                                ir_type_str(g, y, got, sizeof got));
    }
    for (int k = 0; k < L->ncarried; k++) {
        const ir_node *r = ir_node_at(g, L->results[k]);
        if (!r || r->op != IR_FOR_RESULT || r->in[0] != id || r->index != k ||
            r->parent != f->parent)
            return internal(g, id, "loop result %d has no node", k);
        if ((s = verify_node(g, L->results[k])) != TJ_OK) return s;
        v->flags[L->results[k]] |= DEFINED | LISTED;
    }
    return TJ_OK;
}

/* Check and define each node of a region in program order. */
static tj_status walk_region(vstate *v, int32_t parent, int depth) {
    const tj_graph *g = v->g;
    int32_t *ids;
    int n;
    ir_region(g, parent, &ids, &n);
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        const ir_node *node = ir_node_at(g, id);
        if (!node) return internal(g, parent, "region lists node #%d, which does not exist", (int)id);
        if (is_implicit(node->op) || node->parent != parent || (v->flags[id] & LISTED))
            return internal(g, id, "node is listed in the wrong region or twice");
        v->flags[id] |= LISTED;
        tj_status s = check_operands(v, id);
        if (s == TJ_OK) s = verify_node(g, id);
        if (s == TJ_OK && node->op == IR_FOR) s = walk_loop(v, id, depth);
        if (s != TJ_OK) return s;
        if (node->op == IR_STORE) v->nstores++;
        v->flags[id] |= DEFINED;
    }
    return TJ_OK;
}

/* ---- the whole graph ----------------------------------------------- */

static tj_status verify_graph(vstate *v) {
    const tj_graph *g = v->g;
    tj_status s;
    /* A loop left open is the likeliest cause of what else looks wrong. */
    if (g->depth > 0) {
        int32_t open = g->open_loops[0];
        if (ir_node_at(g, open))
            return verify_error(g, open,
                                "loop is never closed: tj_for_begin without a matching "
                                "tj_for_end (%d loop%s open)",
                                g->depth, g->depth > 1 ? "s" : "");
        return error_at_line(g, 0, "graph '%s': a loop is never closed", g->name);
    }
    if ((s = check_names(g)) != TJ_OK) return s;
    if ((s = check_symbols(g)) != TJ_OK) return s;
    if ((s = check_tensors(g)) != TJ_OK) return s;
    if ((s = check_scalars(v)) != TJ_OK) return s;
    if ((s = check_grid(v)) != TJ_OK) return s;
    if ((s = walk_region(v, -1, 0)) != TJ_OK) return s;
    for (int i = 0; i < g->nnodes; i++)
        if (!(v->flags[i] & LISTED)) return internal(g, i, "node is in no region of the program");
    if (v->nstores == 0)
        return error_at_line(g, 0,
                             "graph '%s' has no store: a kernel with no effect is almost surely "
                             "a mistake (write a result with tj_store)",
                             g->name);
    return TJ_OK;
}

tj_status tj_graph_verify(const tj_graph *g) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_verify: graph is NULL");
    /* A failed builder call may have left half a loop or a missing node:
     * its own message says what went wrong first. */
    if (g->status != TJ_OK)
        return tj_set_error(g->status, "%s", g->errmsg ? g->errmsg : "a builder call failed");
    vstate v = {g, NULL, 0};
    if (g->nnodes > 0) {
        v.flags = calloc((size_t)g->nnodes, 1);
        if (!v.flags)
            return tj_set_error(TJ_ERR_NO_MEMORY, "out of memory verifying graph '%s'", g->name);
    }
    tj_status s = verify_graph(&v);
    free(v.flags);
    return s;
}
