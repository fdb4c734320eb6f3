/*
 * bind.c — symbol values: parsing "name=value", checking bound values,
 * and evaluating what depends on them (dims, strides, extents, the grid).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* A bound value must be 1..INT32_MAX and divisible by the declared divisor. */
static tj_status check_value(const tj_graph *g, int s, int64_t v) {
    const ir_symbol *p = &g->syms[s];
    if (v == TJ_UNBOUND)
        return tj_set_error(TJ_ERR_UNBOUND, "symbol '%s' has no value: bind it (%s=N)", p->name,
                            p->name);
    if (v < 1 || v > INT32_MAX)
        return tj_set_error(TJ_ERR_INVALID_ARG, "symbol '%s' = %lld: a size must be in 1..2^31-1",
                            p->name, (long long)v);
    if (v % p->divisor)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "symbol '%s' = %lld is not a multiple of %lld, as the graph declares",
                            p->name, (long long)v, (long long)p->divisor);
    return TJ_OK;
}

tj_status ir_dim_eval(const tj_graph *g, tj_dim d, const int64_t *sym_vals, int specialized,
                      int64_t *out) {
    if (!tj_dim_is_sym(d)) {
        *out = d;
        return TJ_OK;
    }
    int sid = ir_dim_sym(g, d);
    if (sid < 0)
        return tj_set_error(TJ_ERR_INVALID_ARG, "dim %lld names no symbol of graph '%s'",
                            (long long)d, g->name);
    tj_sym s = {sid};
    if (!sym_vals) return check_value(g, s.id, TJ_UNBOUND);
    tj_status st = check_value(g, s.id, sym_vals[s.id]);
    if (st != TJ_OK) return st;
    *out = specialized ? tj_symbol_specialize(g, s, sym_vals[s.id]) : sym_vals[s.id];
    return TJ_OK;
}

tj_status ir_tensor_eval(const tj_graph *g, int t, const int64_t *sym_vals, int64_t *dims,
                         int64_t *strides) {
    const ir_tensor *p = &g->tensors[t];
    int64_t d[TJ_MAX_RANK], st[TJ_MAX_RANK];
    for (int i = 0; i < p->rank; i++) {
        tj_status s = ir_dim_eval(g, p->dims[i], sym_vals, 0, &d[i]);
        if (s != TJ_OK) return s;
    }
    int64_t run = 1;
    for (int i = p->rank - 1; i >= 0; i--) {
        if (p->has_strides) {
            tj_status s = ir_dim_eval(g, p->strides[i], sym_vals, 0, &st[i]);
            if (s != TJ_OK) return s;
        } else {
            st[i] = run;
            if (run > TJ_MAX_DIM * 1024 / d[i])
                return tj_set_error(TJ_ERR_INVALID_ARG, "tensor '%s' has more than 2^50 elements",
                                    p->name);
            run *= d[i];
        }
    }
    for (int i = 0; i < p->rank; i++) {
        if (dims) dims[i] = d[i];
        if (strides) strides[i] = st[i];
    }
    return TJ_OK;
}

tj_status tj_tensor_shape(const tj_graph *g, tj_tensor t, const int64_t *sym_vals,
                          int64_t *dims, int64_t *strides) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_tensor_shape: graph is NULL");
    if (t.id < 0 || t.id >= g->ntensors)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_tensor_shape: tensor #%d does not exist",
                            (int)t.id);
    return ir_tensor_eval(g, t.id, sym_vals, dims, strides);
}

tj_status tj_tensor_extent(const tj_graph *g, tj_tensor t, const int64_t *sym_vals,
                           int64_t *elements) {
    if (!elements) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_tensor_extent: elements is NULL");
    int64_t d[TJ_MAX_RANK], st[TJ_MAX_RANK];
    tj_status s = tj_tensor_shape(g, t, sym_vals, d, st);
    if (s != TJ_OK) return s;
    int64_t last = 0;
    for (int i = 0; i < g->tensors[t.id].rank; i++) {
        if (st[i] > 0 && (d[i] - 1) > (((int64_t)1 << 52) - last) / st[i])
            return tj_set_error(TJ_ERR_INVALID_ARG, "tensor '%s' spans more than 2^52 elements",
                                g->tensors[t.id].name);
        last += (d[i] - 1) * st[i];
    }
    *elements = last + 1;
    return TJ_OK;
}

tj_status tj_bind_parse(const tj_graph *g, const char *assignment, int64_t *vals) {
    if (!g || !assignment || !vals)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_bind_parse: %s is NULL",
                            !g ? "graph" : !assignment ? "assignment" : "vals");
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return tj_set_error(TJ_ERR_INVALID_ARG, "binding '%s' is not of the form name=value",
                            assignment);
    size_t n = (size_t)(eq - assignment);
    int found = -1;
    for (int i = 0; i < g->nsyms; i++)
        if (strlen(g->syms[i].name) == n && !strncmp(g->syms[i].name, assignment, n)) found = i;
    if (found < 0) {
        char names[512] = "";
        size_t off = 0;
        for (int i = 0; i < g->nsyms && off < sizeof names; i++)
            off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", i ? ", " : "",
                                    g->syms[i].name);
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "binding '%s': graph '%s' has no symbol '%.*s' (its symbols: %s)",
                            assignment, g->name, (int)n, assignment, g->nsyms ? names : "none");
    }
    errno = 0;
    char *end;
    long long v = strtoll(eq + 1, &end, 10);
    if (errno || end == eq + 1 || *end)
        return tj_set_error(TJ_ERR_INVALID_ARG, "binding '%s': '%s' is not an integer", assignment,
                            eq + 1);
    tj_status s = check_value(g, found, v);
    if (s != TJ_OK) return s;
    vals[found] = v;
    return TJ_OK;
}

int64_t ir_grid_binary(int sub, int64_t a, int64_t b) {
    /* Unsigned arithmetic: a wrapped grid is refused by the range check,
     * never undefined behaviour. */
    switch (sub) {
    case TJ_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
    case TJ_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
    case TJ_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    case TJ_DIV: return b == 0 ? 0 : b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
    case TJ_MOD: return b == 0 || b == -1 ? 0 : a % b;
    case TJ_CDIV:
        if (b == 0) return 0;
        if (b == -1) return (int64_t)(0 - (uint64_t)a);
        return (int64_t)((uint64_t)a + (uint64_t)b - 1) / b;
    case TJ_MAX: return a > b ? a : b;
    default: return a < b ? a : b;   /* TJ_MIN */
    }
}

/* Values already computed in one grid evaluation: a grid expression may
 * share subexpressions, which must not be evaluated once per path. */
#define GRID_MEMO 64
typedef struct grid_memo {
    int n;
    int32_t id[GRID_MEMO];
    int64_t v[GRID_MEMO];
} grid_memo;

static tj_status eval_node(const tj_graph *g, int32_t id, const int64_t *sym_vals, int depth,
                           grid_memo *m, int64_t *out);

/* Evaluate a host-side integer expression (the grid): constants, symbol
 * values and integer arithmetic on them. */
static tj_status eval_host(const tj_graph *g, int32_t id, const int64_t *sym_vals, int depth,
                           grid_memo *m, int64_t *out) {
    for (int i = 0; i < m->n; i++)
        if (m->id[i] == id) {
            *out = m->v[i];
            return TJ_OK;
        }
    tj_status s = eval_node(g, id, sym_vals, depth, m, out);
    if (s == TJ_OK) {
        if (m->n == GRID_MEMO)
            return tj_set_error(TJ_ERR_VERIFY, "grid expression has more than %d nodes", GRID_MEMO);
        m->id[m->n] = id;
        m->v[m->n++] = *out;
    }
    return s;
}

static tj_status eval_node(const tj_graph *g, int32_t id, const int64_t *sym_vals, int depth,
                           grid_memo *m, int64_t *out) {
    const ir_node *n = ir_node_at(g, id);
    char desc[160];
    if (!n || depth > 64)
        return tj_set_error(TJ_ERR_VERIFY, "grid expression is too deep or broken");
    int64_t a = 0, b = 0;
    if (n->nin >= 1 && (n->op == IR_BINARY || n->op == IR_UNARY || n->op == IR_CAST)) {
        tj_status s = eval_host(g, n->in[0], sym_vals, depth + 1, m, &a);
        if (s == TJ_OK && n->op == IR_BINARY) s = eval_host(g, n->in[1], sym_vals, depth + 1, m, &b);
        if (s != TJ_OK) return s;
    }
    switch (n->op) {
    case IR_CONST: *out = (int64_t)n->f; return TJ_OK;
    case IR_SYMVAL: {
        if (!sym_vals) return check_value(g, n->index, TJ_UNBOUND);
        tj_status s = check_value(g, n->index, sym_vals[n->index]);
        *out = sym_vals[n->index];
        return s;
    }
    case IR_CAST: *out = n->type.dtype == TJ_I32 ? (int32_t)a : a; return TJ_OK;
    case IR_UNARY:
        if (n->sub == TJ_NEG) { *out = -a; return TJ_OK; }
        if (n->sub == TJ_ABS) { *out = a < 0 ? -a : a; return TJ_OK; }
        if (n->sub == TJ_RELU) { *out = a < 0 ? 0 : a; return TJ_OK; }
        break;
    case IR_BINARY:
        switch (n->sub) {
        case TJ_ADD: case TJ_SUB: case TJ_MUL: case TJ_DIV: case TJ_MOD: case TJ_CDIV:
        case TJ_MAX: case TJ_MIN:
            *out = ir_grid_binary(n->sub, a, b);
            return TJ_OK;
        default: break;
        }
        break;
    default: break;
    }
    return tj_set_error(TJ_ERR_VERIFY,
                        "%s cannot be computed on the host: a grid is built from constants, "
                        "symbols and integer arithmetic",
                        ir_node_desc(g, id, desc, sizeof desc));
}

tj_status tj_graph_grid(const tj_graph *g, const int64_t *sym_vals, int64_t grid[TJ_MAX_GRID]) {
    if (!g || !grid)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_grid: %s is NULL", !g ? "graph" : "grid");
    if (g->status != TJ_OK) return tj_set_error(g->status, "%s", g->errmsg);
    if (g->ngrid == 0) return tj_set_error(TJ_ERR_VERIFY, "graph '%s' has no grid", g->name);
    for (int i = 0; i < TJ_MAX_GRID; i++) grid[i] = 1;
    grid_memo memo;
    memo.n = 0;
    for (int i = 0; i < g->ngrid; i++) {
        tj_status s = eval_host(g, g->grid[i], sym_vals, 0, &memo, &grid[i]);
        if (s != TJ_OK) return s;
        int64_t lim = i == 0 ? INT32_MAX : 65535;
        if (grid[i] < 1 || grid[i] > lim)
            return tj_set_error(TJ_ERR_INVALID_ARG, "grid dim %d is %lld; it must be in 1..%lld",
                                i, (long long)grid[i], (long long)lim);
    }
    return TJ_OK;
}
