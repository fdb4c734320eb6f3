/*
 * graph.c — the graph builder behind tilejit.h: arena, symbols, tensors,
 * scalars, value-creating ops, loops and the grid.
 *
 * Builder calls validate their handles and arguments, then hand the node
 * to ir_add(), which runs the op's type rules (infer.c). The first failure
 * is kept on the graph (g->status / g->errmsg) so a chain of calls can be
 * checked once; every failure also sets tj_last_error().
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* ---- arena --------------------------------------------------------- */

struct ir_chunk {
    struct ir_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *ir_alloc(ir_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    struct ir_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 60000 ? size : 60000;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

const char *ir_strdup(ir_arena *a, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = ir_alloc(a, n);
    if (p) memcpy(p, s, n);
    return p;
}

void ir_arena_free(ir_arena *a) {
    struct ir_chunk *c = a->head;
    while (c) {
        struct ir_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* Grow a malloc'd array of `elem`-sized items to hold n + 1. */
int ir_grow(void **arr, int *cap, int n, size_t elem) {
    if (n < *cap) return 1;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p) return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

/* ---- errors -------------------------------------------------------- */

const char *ir_node_desc(const tj_graph *g, int32_t id, char *buf, size_t size) {
    const ir_node *n = ir_node_at(g, id);
    if (!n)
        snprintf(buf, size, "node #%d", (int)id);
    else if (id == g->adding && !n->name && !n->label)
        snprintf(buf, size, "new node (%s)", ir_op_name(n->op)); /* not kept if it fails */
    else if (n->name)
        snprintf(buf, size, "%%%s (%s)", n->name, ir_op_name(n->op));
    else if (n->label)
        snprintf(buf, size, "%s (%s)", n->label, ir_op_name(n->op));
    else
        snprintf(buf, size, "node #%d (%s)", (int)id, ir_op_name(n->op));
    return buf;
}

/* The status of the failure ir_add just reported. ir_add records every
 * failure through ir_error, which sets this thread's message; the status
 * is kept alongside so a builder call can return it. */
static _Thread_local tj_status tls_last_status;

tj_status ir_error(tj_graph *g, tj_status s, int32_t node, const char *fmt, ...) {
    char msg[1024], prefix[256] = "", desc[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const ir_node *n = g ? ir_node_at(g, node) : NULL;
    int line = n ? n->line : (g ? g->cur_line : 0);
    size_t off = 0;
    if (g && line > 0)
        off = (size_t)snprintf(prefix, sizeof prefix, "%s:%d: ",
                               g->source ? g->source : "<text>", line);
    if (n && off < sizeof prefix)
        snprintf(prefix + off, sizeof prefix - off, "%s: ",
                 ir_node_desc(g, node, desc, sizeof desc));
    tj_set_error(s, "%s%s", prefix, msg);
    tls_last_status = s;
    if (g && g->status == TJ_OK) {
        g->status = s;
        g->errmsg = (char *)ir_strdup(&g->arena, tj_last_error());
    }
    return s;
}

tj_status ir_last_status(const tj_graph *g) {
    (void)g;
    return tls_last_status != TJ_OK ? tls_last_status : TJ_ERR_VERIFY;
}

/* Builder errors that concern the call rather than one node. */
#define CALL_ERROR(g, s, ...) ir_error((g), (s), -1, __VA_ARGS__)

/* ---- graph --------------------------------------------------------- */

tj_status tj_graph_new(const char *name, tj_graph **out) {
    if (!out) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_graph_new: out is NULL");
    *out = NULL;
    if (!ir_is_ident(name))
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_graph_new: graph name %s%s%s is not an identifier",
                            name ? "'" : "", name ? name : "NULL", name ? "'" : "");
    tj_graph *g = calloc(1, sizeof *g);
    if (!g) return tj_set_error(TJ_ERR_NO_MEMORY, "tj_graph_new: out of memory");
    g->adding = -1;
    g->name = ir_strdup(&g->arena, name);
    if (!g->name) {
        free(g);
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_graph_new: out of memory");
    }
    *out = g;
    return TJ_OK;
}

void tj_graph_free(tj_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].loop) free(g->nodes[i].loop->body);
    free(g->nodes);
    free(g->syms);
    free(g->tensors);
    free(g->scalars);
    free(g->body);
    ir_arena_free(&g->arena);
    free(g);
}

const char *tj_graph_name(const tj_graph *g) { return g ? g->name : NULL; }
tj_status tj_graph_status(const tj_graph *g) { return g ? g->status : TJ_ERR_INVALID_ARG; }
const char *tj_graph_error(const tj_graph *g) {
    if (!g) return "graph is NULL";
    return g->errmsg ? g->errmsg : "";
}

/* ---- regions ------------------------------------------------------- */

/* The FOR node whose body new nodes go into, or -1 for the top level.
 * A loop whose FOR failed to build is marked -1 on the stack; its body
 * falls into the nearest live region (the graph already holds an error). */
static int32_t current_parent(const tj_graph *g) {
    for (int d = g->depth - 1; d >= 0; d--)
        if (g->open_loops[d] >= 0) return g->open_loops[d];
    return -1;
}

void ir_region(const tj_graph *g, int32_t parent, int32_t **ids, int *n) {
    const ir_node *p = ir_node_at(g, parent);
    if (p && p->loop) {
        *ids = p->loop->body;
        *n = p->loop->nbody;
    } else {
        *ids = g->body;
        *n = g->nbody;
    }
}

int ir_visible(const tj_graph *g, int32_t id, int32_t parent) {
    const ir_node *n = ir_node_at(g, id);
    if (!n) return 0;
    for (int32_t r = parent;; r = g->nodes[r].parent) {
        if (n->parent == r) return 1;
        if (r < 0) return 0;
    }
}

/* Implicit nodes are defined by their context, not by a place in a list:
 * scalar arguments at graph start, block arguments at the start of their
 * loop body, loop results right after their FOR. */
static int is_implicit(ir_op op) {
    return op == IR_SCALAR_ARG || op == IR_LOOP_IV || op == IR_LOOP_CARRIED ||
           op == IR_FOR_RESULT;
}

static int region_append(tj_graph *g, int32_t parent, int32_t id) {
    ir_node *p = ir_node_at(g, parent);
    if (p && p->loop)
        return ir_grow((void **)&p->loop->body, &p->loop->capbody, p->loop->nbody,
                    sizeof(int32_t)) &&
               (p->loop->body[p->loop->nbody++] = id, 1);
    return ir_grow((void **)&g->body, &g->capbody, g->nbody, sizeof(int32_t)) &&
           (g->body[g->nbody++] = id, 1);
}

int32_t ir_add(tj_graph *g, ir_op op, const int32_t *in, int nin, const ir_node *proto) {
    if (!g) {
        tj_set_error(TJ_ERR_INVALID_ARG, "graph is NULL");
        return -1;
    }
    for (int k = 0; k < nin; k++) {
        if (in[k] == TJ_NONE_ID) {
            CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                       "%s: operand %d is TJ_NONE (an earlier builder call failed: %s)",
                       ir_op_name(op), k, g->errmsg ? g->errmsg : "see its error");
            return -1;
        }
        if (!ir_node_at(g, in[k])) {
            CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: operand %d (id %d) is not a value of graph '%s'",
                       ir_op_name(op), k, (int)in[k], g->name);
            return -1;
        }
    }
    if (!ir_grow((void **)&g->nodes, &g->capnodes, g->nnodes, sizeof(ir_node))) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding a %s node", ir_op_name(op));
        return -1;
    }
    int32_t id = g->nnodes;
    ir_node *n = &g->nodes[id];
    if (proto)
        *n = *proto;
    else
        memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    n->in = NULL;
    n->loop = NULL;
    n->name = NULL;
    n->parent = op == IR_SCALAR_ARG ? -1 : current_parent(g);
    n->line = g->cur_line;
    if (nin > 0) {
        n->in = ir_alloc(&g->arena, (size_t)nin * sizeof(int32_t));
        if (!n->in) {
            CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding a %s node", ir_op_name(op));
            return -1;
        }
        memcpy(n->in, in, (size_t)nin * sizeof(int32_t));
    }
    g->nnodes++;
    g->adding = id;
    tj_status inferred = ir_infer(g, id);
    g->adding = -1;
    if (inferred != TJ_OK) {
        g->nnodes--; /* the node never existed */
        return -1;
    }
    if (!is_implicit(op) && !region_append(g, g->nodes[id].parent, id)) {
        g->nnodes--;
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding a %s node", ir_op_name(op));
        return -1;
    }
    return id;
}

static tj_val mkval(int32_t id) { return (tj_val){id}; }

#define NEED_GRAPH(g, fn, ret)                                              \
    do {                                                                    \
        if (!(g)) {                                                         \
            tj_set_error(TJ_ERR_INVALID_ARG, fn ": graph is NULL");         \
            return ret;                                                     \
        }                                                                   \
    } while (0)


/* ---- values -------------------------------------------------------- */

/* Copy a tile shape into a prototype's type, checking the rank. */
static int set_shape(tj_graph *g, ir_node *proto, const char *fn, int rank, const tj_dim *dims,
                     int min_rank) {
    if (rank < min_rank || rank > TJ_MAX_TILE_RANK) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: tile rank %d is not in %d..%d", fn, rank, min_rank,
                   TJ_MAX_TILE_RANK);
        return 0;
    }
    if (rank > 0 && !dims) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: dims is NULL", fn);
        return 0;
    }
    proto->type.rank = rank;
    for (int i = 0; i < rank; i++) proto->type.dims[i] = dims[i];
    return 1;
}

tj_val tj_const(tj_graph *g, tj_dtype dtype, double value) {
    return tj_full(g, dtype, 0, NULL, value);
}

tj_val tj_full(tj_graph *g, tj_dtype dtype, int rank, const tj_dim *dims, double value) {
    NEED_GRAPH(g, "tj_full", TJ_NONE);
    ir_node proto = {0};
    proto.type.dtype = dtype;
    proto.f = value;
    if (!set_shape(g, &proto, rank ? "tj_full" : "tj_const", rank, dims, 0)) return TJ_NONE;
    return mkval(ir_add(g, IR_CONST, NULL, 0, &proto));
}

tj_val tj_symval(tj_graph *g, tj_sym s) {
    NEED_GRAPH(g, "tj_symval", TJ_NONE);
    ir_node proto = {0};
    proto.index = s.id;
    return mkval(ir_add(g, IR_SYMVAL, NULL, 0, &proto));
}

tj_val tj_program_id(tj_graph *g, int axis) {
    NEED_GRAPH(g, "tj_program_id", TJ_NONE);
    ir_node proto = {0};
    proto.index = axis;
    return mkval(ir_add(g, IR_PROGRAM_ID, NULL, 0, &proto));
}

tj_val tj_num_programs(tj_graph *g, int axis) {
    NEED_GRAPH(g, "tj_num_programs", TJ_NONE);
    ir_node proto = {0};
    proto.index = axis;
    return mkval(ir_add(g, IR_NUM_PROGRAMS, NULL, 0, &proto));
}

tj_val tj_iota(tj_graph *g, tj_dtype dtype, int rank, const tj_dim *dims, int axis) {
    NEED_GRAPH(g, "tj_iota", TJ_NONE);
    ir_node proto = {0};
    proto.type.dtype = dtype;
    proto.index = axis;
    if (!set_shape(g, &proto, "tj_iota", rank, dims, 1)) return TJ_NONE;
    return mkval(ir_add(g, IR_IOTA, NULL, 0, &proto));
}

/* ---- memory -------------------------------------------------------- */

static const ir_tensor *tensor_at(const tj_graph *g, tj_tensor t) {
    return (t.id >= 0 && t.id < g->ntensors) ? &g->tensors[t.id] : NULL;
}

/* Gather coords into an operand list. */
static tj_status memory_operands(tj_graph *g, const char *fn, tj_tensor t, const tj_val *coords,
                                 int32_t *in, int *nin) {
    const ir_tensor *p = tensor_at(g, t);
    if (!p)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: tensor #%d does not exist in graph '%s'", fn,
                          (int)t.id, g->name);
    if (p->rank > 0 && !coords)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: coords is NULL (tensor '%s' has rank %d)",
                          fn, p->name, p->rank);
    for (int i = 0; i < p->rank; i++) in[i] = coords[i].id;
    *nin = p->rank;
    return TJ_OK;
}

/* Tile axes: given, or the last `tile_rank` tensor dims. */
static tj_status memory_axes(tj_graph *g, const char *fn, tj_tensor t, int tile_rank,
                             const int *axes, ir_node *proto) {
    const ir_tensor *p = &g->tensors[t.id];
    if (tile_rank < 0 || tile_rank > TJ_MAX_TILE_RANK)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s: tile rank %d is not in 0..%d", fn, tile_rank,
                          TJ_MAX_TILE_RANK);
    if (tile_rank > p->rank)
        return CALL_ERROR(g, TJ_ERR_VERIFY,
                          "%s: a rank-%d tile does not fit tensor '%s' of rank %d", fn, tile_rank,
                          p->name, p->rank);
    for (int k = 0; k < tile_rank; k++)
        proto->axes[k] = axes ? axes[k] : p->rank - tile_rank + k;
    return TJ_OK;
}

tj_val tj_load(tj_graph *g, tj_tensor t, const tj_val *coords, int tile_rank,
               const tj_dim *tile_dims, const int *axes, double pad, unsigned flags) {
    NEED_GRAPH(g, "tj_load", TJ_NONE);
    int32_t in[TJ_MAX_RANK];
    int nin = 0;
    ir_node proto = {0};
    if (memory_operands(g, "tj_load", t, coords, in, &nin) != TJ_OK) return TJ_NONE;
    if (!set_shape(g, &proto, "tj_load", tile_rank, tile_dims, 0)) return TJ_NONE;
    if (memory_axes(g, "tj_load", t, tile_rank, axes, &proto) != TJ_OK) return TJ_NONE;
    proto.tensor = t.id;
    proto.f = pad;
    proto.flags = flags;
    return mkval(ir_add(g, IR_LOAD, in, nin, &proto));
}

tj_status tj_store(tj_graph *g, tj_tensor t, const tj_val *coords, tj_val value, const int *axes,
                   unsigned flags) {
    return tj_store_masked(g, t, coords, value, TJ_NONE, axes, flags);
}

tj_status tj_store_masked(tj_graph *g, tj_tensor t, const tj_val *coords, tj_val value,
                          tj_val mask, const int *axes, unsigned flags) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_store: graph is NULL");
    if (flags & IR_STORE_MASKED)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_store: unknown flags 0x%x", flags);
    int32_t in[TJ_MAX_RANK + 2];
    int nin = 0;
    ir_node proto = {0};
    tj_status s = memory_operands(g, "tj_store", t, coords, in, &nin);
    if (s != TJ_OK) return s;
    const ir_node *v = ir_node_at(g, value.id);
    if (!v || v->type.dtype == IR_VOID)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_store: value #%d is not a value of graph '%s'",
                          (int)value.id, g->name);
    s = memory_axes(g, "tj_store", t, v->type.rank, axes, &proto);
    if (s != TJ_OK) return s;
    if (mask.id != TJ_NONE_ID) {
        if (!ir_node_at(g, mask.id))
            return CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                              "tj_store_masked: mask #%d is not a value of graph '%s'",
                              (int)mask.id, g->name);
        in[nin++] = mask.id;
        flags |= IR_STORE_MASKED;
    }
    in[nin++] = value.id;
    proto.tensor = t.id;
    proto.flags = flags;
    proto.type.dtype = IR_VOID;
    return ir_add(g, IR_STORE, in, nin, &proto) < 0 ? ir_last_status(g) : TJ_OK;
}

/* ---- compute ------------------------------------------------------- */

tj_val tj_mma(tj_graph *g, tj_val a, tj_val b, tj_val acc, unsigned flags) {
    NEED_GRAPH(g, "tj_mma", TJ_NONE);
    int32_t in[3] = {a.id, b.id, acc.id};
    ir_node proto = {0};
    proto.flags = flags;
    return mkval(ir_add(g, IR_MMA, in, acc.id == TJ_NONE_ID ? 2 : 3, &proto));
}

tj_val tj_unary(tj_graph *g, tj_unop op, tj_val x) {
    NEED_GRAPH(g, "tj_unary", TJ_NONE);
    ir_node proto = {0};
    proto.sub = (int)op;
    return mkval(ir_add(g, IR_UNARY, &x.id, 1, &proto));
}

tj_val tj_binary(tj_graph *g, tj_binop op, tj_val a, tj_val b) {
    NEED_GRAPH(g, "tj_binary", TJ_NONE);
    int32_t in[2] = {a.id, b.id};
    ir_node proto = {0};
    proto.sub = (int)op;
    return mkval(ir_add(g, IR_BINARY, in, 2, &proto));
}

tj_val tj_where(tj_graph *g, tj_val cond, tj_val a, tj_val b) {
    NEED_GRAPH(g, "tj_where", TJ_NONE);
    int32_t in[3] = {cond.id, a.id, b.id};
    return mkval(ir_add(g, IR_WHERE, in, 3, NULL));
}

tj_val tj_fma(tj_graph *g, tj_val a, tj_val b, tj_val c) {
    NEED_GRAPH(g, "tj_fma", TJ_NONE);
    int32_t in[3] = {a.id, b.id, c.id};
    return mkval(ir_add(g, IR_FMA, in, 3, NULL));
}

tj_val tj_cast(tj_graph *g, tj_val x, tj_dtype dtype) {
    NEED_GRAPH(g, "tj_cast", TJ_NONE);
    ir_node proto = {0};
    proto.type.dtype = dtype;
    return mkval(ir_add(g, IR_CAST, &x.id, 1, &proto));
}

tj_val tj_reduce(tj_graph *g, tj_redop op, tj_val x, int axis) {
    NEED_GRAPH(g, "tj_reduce", TJ_NONE);
    ir_node proto = {0};
    proto.sub = (int)op;
    proto.index = axis;
    return mkval(ir_add(g, IR_REDUCE, &x.id, 1, &proto));
}

tj_val tj_transpose(tj_graph *g, tj_val x) {
    NEED_GRAPH(g, "tj_transpose", TJ_NONE);
    return mkval(ir_add(g, IR_TRANSPOSE, &x.id, 1, NULL));
}

tj_val tj_reshape(tj_graph *g, tj_val x, int rank, const tj_dim *dims) {
    NEED_GRAPH(g, "tj_reshape", TJ_NONE);
    ir_node proto = {0};
    if (!set_shape(g, &proto, "tj_reshape", rank, dims, 0)) return TJ_NONE;
    return mkval(ir_add(g, IR_RESHAPE, &x.id, 1, &proto));
}

tj_val tj_broadcast(tj_graph *g, tj_val x, int rank, const tj_dim *dims) {
    NEED_GRAPH(g, "tj_broadcast", TJ_NONE);
    ir_node proto = {0};
    if (!set_shape(g, &proto, "tj_broadcast", rank, dims, 0)) return TJ_NONE;
    return mkval(ir_add(g, IR_BROADCAST, &x.id, 1, &proto));
}

/* ---- loops --------------------------------------------------------- */

static tj_status push_loop(tj_graph *g, int32_t id) {
    g->open_loops[g->depth++] = id;
    return TJ_OK;
}

tj_status tj_for_begin(tj_graph *g, tj_val lo, tj_val hi, tj_val step, int n,
                       const tj_val *init, tj_val *iv, tj_val *carried) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_for_begin: graph is NULL");
    if (!iv || (n > 0 && (!init || !carried)))
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_begin: %s is NULL",
                          !iv ? "iv" : !init ? "init" : "carried");
    *iv = TJ_NONE;
    for (int k = 0; k < n && k < TJ_MAX_CARRIED; k++) carried[k] = TJ_NONE;
    if (n < 0 || n > TJ_MAX_CARRIED)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_begin: %d carried values; 0..%d allowed",
                          n, TJ_MAX_CARRIED);
    if (g->depth >= IR_MAX_DEPTH)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_begin: loops nest deeper than %d",
                          IR_MAX_DEPTH);
    ir_loop *loop = ir_alloc(&g->arena, sizeof *loop);
    int32_t *cv = n ? ir_alloc(&g->arena, (size_t)n * sizeof(int32_t)) : NULL;
    if (!loop || (n && !cv)) {
        push_loop(g, -1); /* keeps tj_for_end balanced */
        return CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory building a loop");
    }
    int32_t in[3 + TJ_MAX_CARRIED] = {lo.id, hi.id, step.id};
    for (int k = 0; k < n; k++) in[3 + k] = init[k].id;
    int32_t id = ir_add(g, IR_FOR, in, 3 + n, NULL);
    if (id < 0) {
        push_loop(g, -1);
        return ir_last_status(g);
    }
    loop->ncarried = n;
    loop->carried = cv;
    g->nodes[id].loop = loop;
    push_loop(g, id);
    ir_node proto = {0};
    int32_t self = id;
    loop->iv = ir_add(g, IR_LOOP_IV, &self, 1, &proto);
    for (int k = 0; k < n; k++) {
        proto.index = k;
        cv[k] = ir_add(g, IR_LOOP_CARRIED, &self, 1, &proto);
        carried[k] = mkval(cv[k]);
    }
    *iv = mkval(loop->iv);
    return loop->iv < 0 ? ir_last_status(g) : TJ_OK;
}

tj_status tj_for_end(tj_graph *g, int n, const tj_val *next, tj_val *results) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_for_end: graph is NULL");
    if (g->depth == 0)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_end: no loop is open");
    int32_t id = g->open_loops[--g->depth];
    if (n > 0 && results)
        for (int k = 0; k < n && k < TJ_MAX_CARRIED; k++) results[k] = TJ_NONE;
    if (id < 0) return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_end: the loop failed to build");
    ir_loop *loop = g->nodes[id].loop;
    if (n != loop->ncarried)
        return ir_error(g, TJ_ERR_VERIFY, id, "tj_for_end: %d values yielded for %d carried", n,
                        loop->ncarried);
    if (n > 0 && (!next || !results))
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_for_end: %s is NULL",
                          !next ? "next" : "results");
    int32_t *ys = n ? ir_alloc(&g->arena, (size_t)n * sizeof(int32_t)) : NULL;
    int32_t *rs = n ? ir_alloc(&g->arena, (size_t)n * sizeof(int32_t)) : NULL;
    if (n && (!ys || !rs)) return CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory closing a loop");
    char want[64], got[64];
    for (int k = 0; k < n; k++) {
        const ir_node *y = ir_node_at(g, next[k].id);
        const ir_node *c = &g->nodes[loop->carried[k]];
        if (!y || y->type.dtype == IR_VOID)
            return ir_error(g, TJ_ERR_INVALID_ARG, id, "yielded value %d (id %d) is not a value",
                            k, (int)next[k].id);
        if (!ir_visible(g, next[k].id, id))
            return ir_error(g, TJ_ERR_VERIFY, id,
                            "yielded value %d is defined inside a nested loop and not visible here", k);
        ir_type_str(g, &c->type, want, sizeof want);
        ir_type_str(g, &y->type, got, sizeof got);
        if (strcmp(want, got))
            return ir_error(g, TJ_ERR_VERIFY, id,
                            "loop-carried value %d changes type: carried %s, yielded %s", k, want,
                            got);
        ys[k] = next[k].id;
    }
    loop->yields = ys;
    ir_node proto = {0};
    int32_t self = id;
    for (int k = 0; k < n; k++) {
        proto.index = k;
        rs[k] = ir_add(g, IR_FOR_RESULT, &self, 1, &proto);
        results[k] = mkval(rs[k]);
    }
    loop->results = rs;
    return TJ_OK;
}

/* ---- grid ---------------------------------------------------------- */

tj_status tj_set_grid(tj_graph *g, int n, const tj_val *dims) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_set_grid: graph is NULL");
    if (n < 1 || n > TJ_MAX_GRID || !dims)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_set_grid: %s", !dims ? "dims is NULL"
                                                                         : "a grid has 1..3 dims");
    for (int i = 0; i < n; i++) {
        const ir_node *d = ir_node_at(g, dims[i].id);
        if (!d || d->type.dtype == IR_VOID)
            return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_set_grid: dim %d (id %d) is not a value",
                              i, (int)dims[i].id);
        if (!ir_is_int(d->type.dtype) || d->type.rank != 0) {
            char t[96];
            return ir_error(g, TJ_ERR_VERIFY, dims[i].id,
                            "grid dim %d must be an integer scalar, not %s", i,
                            ir_type_str(g, &d->type, t, sizeof t));
        }
    }
    for (int i = 0; i < n; i++) g->grid[i] = dims[i].id;
    g->ngrid = n;
    g->grid_line = g->cur_line;
    return TJ_OK;
}
