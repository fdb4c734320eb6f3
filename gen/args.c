/*
 * args.c — what a graph takes as arguments (symbols, tensors, scalars)
 * and the names that identify them and its values.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

#define CALL_ERROR(g, s, ...) ir_error((g), (s), -1, __VA_ARGS__)
static tj_val mkval(int32_t id) { return (tj_val){id}; }

/* ---- names --------------------------------------------------------- */

int ir_dim_sym(const tj_graph *g, tj_dim d) {
    /* tj_dim_symbol negates d: only call it on d in -(nsyms + 1)..-2. */
    if (!g || !tj_dim_is_sym(d) || d < -(tj_dim)g->nsyms - 1) return -1;
    return (int)tj_dim_symbol(d).id;
}

int ir_is_ident(const char *s) {
    if (!s || !(isalpha((unsigned char)*s) || *s == '_')) return 0;
    size_t n = 0;
    for (; *s; s++, n++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return n <= 64;
}

/* 1 when `name` is already used by a symbol, tensor, scalar or value. */
static int name_taken(const tj_graph *g, const char *name) {
    for (int i = 0; i < g->nsyms; i++)
        if (!strcmp(g->syms[i].name, name)) return 1;
    for (int i = 0; i < g->ntensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return 1;
    for (int i = 0; i < g->nscalars; i++)
        if (!strcmp(g->scalars[i].name, name)) return 1;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].name && !strcmp(g->nodes[i].name, name)) return 1;
    return 0;
}

tj_status ir_check_new_name(tj_graph *g, const char *what, const char *name) {
    if (!ir_is_ident(name))
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                          "%s name %s%s%s is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 chars)",
                          what, name ? "'" : "", name ? name : "NULL", name ? "'" : "");
    if (name_taken(g, name))
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "%s name '%s' is already used in graph '%s'",
                          what, name, g->name);
    return TJ_OK;
}

/* ---- symbols ------------------------------------------------------- */

#define NEED_GRAPH(g, fn, ret)                                              \
    do {                                                                    \
        if (!(g)) {                                                         \
            tj_set_error(TJ_ERR_INVALID_ARG, fn ": graph is NULL");         \
            return ret;                                                     \
        }                                                                   \
    } while (0)

static const tj_sym NO_SYM = {TJ_NONE_ID};
static const tj_tensor NO_TENSOR = {TJ_NONE_ID};

tj_sym tj_symbol(tj_graph *g, const char *name, tj_policy policy, int64_t bucket,
                 int64_t divisor) {
    NEED_GRAPH(g, "tj_symbol", NO_SYM);
    if (ir_check_new_name(g, "symbol", name) != TJ_OK) return NO_SYM;
    if ((unsigned)policy > TJ_DYNAMIC) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "symbol '%s': policy %d is not a tj_policy", name,
                   (int)policy);
        return NO_SYM;
    }
    if (policy == TJ_BUCKET_MULTIPLE ? (bucket < 1 || bucket > INT32_MAX) : bucket != 0) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                   "symbol '%s': bucket %lld: a multiple in 1..2^31-1 is needed for "
                   "TJ_BUCKET_MULTIPLE and 0 for other policies",
                   name, (long long)bucket);
        return NO_SYM;
    }
    if (divisor < 1 || divisor > INT32_MAX) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "symbol '%s': divisor %lld is not in 1..2^31-1", name,
                   (long long)divisor);
        return NO_SYM;
    }
    if (!ir_grow((void **)&g->syms, &g->capsyms, g->nsyms, sizeof(ir_symbol))) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding symbol '%s'", name);
        return NO_SYM;
    }
    ir_symbol *s = &g->syms[g->nsyms];
    s->name = ir_strdup(&g->arena, name);
    s->policy = policy;
    s->bucket = bucket;
    s->divisor = divisor;
    s->line = g->cur_line;
    if (!s->name) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding symbol '%s'", name);
        return NO_SYM;
    }
    return (tj_sym){g->nsyms++};
}

tj_sym tj_find_symbol(const tj_graph *g, const char *name) {
    if (g && name)
        for (int i = 0; i < g->nsyms; i++)
            if (!strcmp(g->syms[i].name, name)) return (tj_sym){i};
    return NO_SYM;
}

int tj_num_symbols(const tj_graph *g) { return g ? g->nsyms : 0; }

static const ir_symbol *sym_at(const tj_graph *g, tj_sym s) {
    return (g && s.id >= 0 && s.id < g->nsyms) ? &g->syms[s.id] : NULL;
}

const char *tj_symbol_name(const tj_graph *g, tj_sym s) {
    const ir_symbol *p = sym_at(g, s);
    return p ? p->name : NULL;
}

tj_policy tj_symbol_policy(const tj_graph *g, tj_sym s) {
    const ir_symbol *p = sym_at(g, s);
    return p ? p->policy : TJ_EXACT;
}

int64_t tj_symbol_specialize(const tj_graph *g, tj_sym s, int64_t value) {
    const ir_symbol *p = sym_at(g, s);
    if (!p || value < 1 || value > INT32_MAX) return 0;
    if (p->policy == TJ_BUCKET_POW2) {
        int64_t b = 1;
        while (b < value) b <<= 1;
        return b;
    }
    if (p->policy == TJ_BUCKET_MULTIPLE) return (value + p->bucket - 1) / p->bucket * p->bucket;
    return value;
}

/* ---- tensors and scalars ------------------------------------------- */

/* A tensor dim or stride: a constant in [lo, TJ_MAX_DIM] or a symbol. */
static int check_dim(tj_graph *g, tj_dim d, int64_t lo, const char *what, const char *name,
                     int axis) {
    if (tj_dim_is_sym(d)) {
        if (ir_dim_sym(g, d) < 0) {
            CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                       "tensor '%s': %s %d is %lld, which names no symbol of this graph", name,
                       what, axis, (long long)d);
            return 0;
        }
        return 1;
    }
    if (d < lo || d > TJ_MAX_DIM) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tensor '%s': %s %d is %lld; it must be in %lld..2^40 or a symbol",
                   name, what, axis, (long long)d, (long long)lo);
        return 0;
    }
    return 1;
}

int ir_is_graph_dtype(int t) { return t >= 0 && t < TJ_F64; }

tj_tensor tj_tensor_arg(tj_graph *g, const char *name, tj_dtype dtype, int rank,
                        const tj_dim *dims, const tj_dim *strides) {
    NEED_GRAPH(g, "tj_tensor_arg", NO_TENSOR);
    if (ir_check_new_name(g, "tensor", name) != TJ_OK) return NO_TENSOR;
    if (!ir_is_graph_dtype((int)dtype)) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tensor '%s': dtype %d is not a tensor dtype (f32 f16 bf16 f8e4m3 f8e5m2 i32 i64 bool)",
                   name, (int)dtype);
        return NO_TENSOR;
    }
    if (rank < 0 || rank > TJ_MAX_RANK) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tensor '%s': rank %d is not in 0..%d", name, rank,
                   TJ_MAX_RANK);
        return NO_TENSOR;
    }
    if (rank > 0 && !dims) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tensor '%s': dims is NULL", name);
        return NO_TENSOR;
    }
    for (int i = 0; i < rank; i++) {
        if (!check_dim(g, dims[i], 1, "dim", name, i)) return NO_TENSOR;
        if (strides && !check_dim(g, strides[i], 0, "stride", name, i)) return NO_TENSOR;
    }
    if (!ir_grow((void **)&g->tensors, &g->captensors, g->ntensors, sizeof(ir_tensor))) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding tensor '%s'", name);
        return NO_TENSOR;
    }
    ir_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    t->name = ir_strdup(&g->arena, name);
    if (!t->name) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding tensor '%s'", name);
        return NO_TENSOR;
    }
    t->dtype = dtype;
    t->rank = rank;
    t->has_strides = strides != NULL;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->strides[i] = strides ? strides[i] : 0;
    }
    t->align = (int)tj_dtype_size(dtype);
    if (t->align < 1) t->align = 1;
    t->line = g->cur_line;
    return (tj_tensor){g->ntensors++};
}

static const ir_tensor *tensor_at(const tj_graph *g, tj_tensor t) {
    return (g && t.id >= 0 && t.id < g->ntensors) ? &g->tensors[t.id] : NULL;
}

tj_status tj_tensor_set_align(tj_graph *g, tj_tensor t, int bytes) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_tensor_set_align: graph is NULL");
    if (!tensor_at(g, t))
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_tensor_set_align: tensor #%d does not exist",
                          (int)t.id);
    ir_tensor *p = &g->tensors[t.id];
    size_t es = tj_dtype_size(p->dtype);
    if (bytes < 1 || bytes > 4096 || (bytes & (bytes - 1)) || (size_t)bytes < es)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                          "tensor '%s': alignment %d must be a power of two in %zu..4096",
                          p->name, bytes, es);
    p->align = bytes;
    return TJ_OK;
}

int tj_num_tensors(const tj_graph *g) { return g ? g->ntensors : 0; }
const char *tj_tensor_name(const tj_graph *g, tj_tensor t) {
    const ir_tensor *p = tensor_at(g, t);
    return p ? p->name : NULL;
}
tj_dtype tj_tensor_dtype(const tj_graph *g, tj_tensor t) {
    const ir_tensor *p = tensor_at(g, t);
    return p ? p->dtype : TJ_DTYPE_COUNT;
}
int tj_tensor_rank(const tj_graph *g, tj_tensor t) {
    const ir_tensor *p = tensor_at(g, t);
    return p ? p->rank : -1;
}
tj_dim tj_tensor_dim(const tj_graph *g, tj_tensor t, int axis) {
    const ir_tensor *p = tensor_at(g, t);
    return (p && axis >= 0 && axis < p->rank) ? p->dims[axis] : -1;
}
tj_dim tj_tensor_stride(const tj_graph *g, tj_tensor t, int axis) {
    const ir_tensor *p = tensor_at(g, t);
    if (!p || axis < 0 || axis >= p->rank) return -1;
    if (p->has_strides) return p->strides[axis];
    /* Row-major: the product of the later dims, when they are constants. */
    int64_t s = 1;
    for (int i = axis + 1; i < p->rank; i++) {
        if (tj_dim_is_sym(p->dims[i])) return -1;
        s *= p->dims[i];
    }
    return s;
}

tj_val tj_scalar_arg(tj_graph *g, const char *name, tj_dtype dtype) {
    NEED_GRAPH(g, "tj_scalar_arg", TJ_NONE);
    if (ir_check_new_name(g, "scalar", name) != TJ_OK) return TJ_NONE;
    if (!ir_is_graph_dtype((int)dtype) || dtype == TJ_F8E4M3 || dtype == TJ_F8E5M2) {
        CALL_ERROR(g, TJ_ERR_INVALID_ARG,
                   "scalar '%s': dtype %d is not a scalar dtype (f32 f16 bf16 i32 i64 bool)", name,
                   (int)dtype);
        return TJ_NONE;
    }
    if (!ir_grow((void **)&g->scalars, &g->capscalars, g->nscalars, sizeof(ir_scalar))) {
        CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory adding scalar '%s'", name);
        return TJ_NONE;
    }
    ir_node proto = {0};
    proto.type.dtype = dtype;
    proto.index = g->nscalars;
    int32_t id = ir_add(g, IR_SCALAR_ARG, NULL, 0, &proto);
    if (id < 0) return TJ_NONE;
    ir_scalar *s = &g->scalars[g->nscalars];
    s->name = ir_strdup(&g->arena, name);
    s->dtype = dtype;
    s->node = id;
    s->line = g->cur_line;
    g->nscalars++;
    return mkval(id);
}

int tj_num_scalars(const tj_graph *g) { return g ? g->nscalars : 0; }
const char *tj_scalar_name(const tj_graph *g, int i) {
    return (g && i >= 0 && i < g->nscalars) ? g->scalars[i].name : NULL;
}
tj_dtype tj_scalar_dtype(const tj_graph *g, int i) {
    return (g && i >= 0 && i < g->nscalars) ? g->scalars[i].dtype : TJ_DTYPE_COUNT;
}

tj_status tj_name(tj_graph *g, tj_val v, const char *name) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_name: graph is NULL");
    ir_node *n = ir_node_at(g, v.id);
    if (!n || n->type.dtype == IR_VOID)
        return CALL_ERROR(g, TJ_ERR_INVALID_ARG, "tj_name: value #%d is not a value of graph '%s'",
                          (int)v.id, g->name);
    if (n->name && name && !strcmp(n->name, name)) return TJ_OK;
    tj_status s = ir_check_new_name(g, "value", name);
    if (s != TJ_OK) return s;
    n->name = ir_strdup(&g->arena, name);
    return n->name ? TJ_OK : CALL_ERROR(g, TJ_ERR_NO_MEMORY, "out of memory naming a value");
}

tj_status tj_val_type(const tj_graph *g, tj_val v, tj_dtype *dtype, int *rank,
                      tj_dim dims[TJ_MAX_TILE_RANK]) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_val_type: graph is NULL");
    const ir_node *n = ir_node_at(g, v.id);
    if (!n || n->type.dtype == IR_VOID)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_val_type: value #%d is not a value of graph '%s'",
                            (int)v.id, g->name);
    if (dtype) *dtype = (tj_dtype)n->type.dtype;
    if (rank) *rank = n->type.rank;
    if (dims)
        for (int i = 0; i < TJ_MAX_TILE_RANK; i++) dims[i] = n->type.dims[i];
    return TJ_OK;
}

