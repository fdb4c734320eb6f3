/*
 * infer.c — each op's local type rules: the result type of a node from
 * its operands and attributes, or an error naming the node and the rule.
 * Run by ir_add for every node, so a graph that exists has well-typed
 * nodes; verify.c checks the rules that span nodes (scope, grid, loops).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir.h"

static const char *const op_names[IR_OP_COUNT] = {
    [IR_CONST] = "const",       [IR_SCALAR_ARG] = "scalar",   [IR_SYMVAL] = "symval",
    [IR_PROGRAM_ID] = "program_id", [IR_NUM_PROGRAMS] = "num_programs",
    [IR_IOTA] = "iota",         [IR_LOAD] = "load",           [IR_STORE] = "store",
    [IR_MMA] = "mma",           [IR_UNARY] = "unary",         [IR_BINARY] = "binary",
    [IR_WHERE] = "where",       [IR_FMA] = "fma",             [IR_CAST] = "cast",
    [IR_REDUCE] = "reduce",     [IR_TRANSPOSE] = "transpose", [IR_RESHAPE] = "reshape",
    [IR_BROADCAST] = "broadcast", [IR_FOR] = "for",           [IR_FOR_RESULT] = "for_result",
    [IR_LOOP_IV] = "loop_iv",   [IR_LOOP_CARRIED] = "loop_carried",
};

const char *ir_op_name(ir_op op) {
    return ((unsigned)op < IR_OP_COUNT && op_names[op]) ? op_names[op] : "?";
}

int ir_is_float(int t) {
    return t == TJ_F32 || t == TJ_F16 || t == TJ_BF16 || t == TJ_F8E4M3 || t == TJ_F8E5M2 ||
           t == TJ_F64;
}
int ir_is_int(int t) { return t == TJ_I32 || t == TJ_I64; }

static const char *dtname(int t) {
    const char *s = tj_dtype_name((tj_dtype)t);
    return s ? s : (t == IR_VOID ? "void" : "?");
}

static void dim_str(const tj_graph *g, tj_dim d, char *buf, size_t size) {
    if (tj_dim_is_sym(d)) {
        int s = ir_dim_sym(g, d);
        snprintf(buf, size, "%s", s >= 0 ? g->syms[s].name : "?");
    } else {
        snprintf(buf, size, "%lld", (long long)d);
    }
}

const char *ir_type_str(const tj_graph *g, const ir_type *t, char *buf, size_t size) {
    size_t off = (size_t)snprintf(buf, size, "%s", dtname(t->dtype));
    if (t->rank == 0 || off >= size) return buf;
    for (int i = 0; i < t->rank && off < size; i++) {
        char d[80];
        dim_str(g, t->dims[i], d, sizeof d);
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "[", d);
    }
    if (off < size) snprintf(buf + off, size - off, "]");
    return buf;
}

/* ---- helpers ------------------------------------------------------- */

typedef struct ctx {
    tj_graph *g;
    int32_t id;
} ctx;

#define FAIL(c, ...) ir_error((c)->g, TJ_ERR_VERIFY, (c)->id, __VA_ARGS__)

static ir_node *self(const ctx *c) { return &c->g->nodes[c->id]; }
static const ir_type *in_type(const ctx *c, int k) {
    return &c->g->nodes[self(c)->in[k]].type;
}
static const char *tstr(const ctx *c, const ir_type *t, char *buf) {
    return ir_type_str(c->g, t, buf, 96);
}

/* Every operand is a value (not a store or loop). */
static tj_status check_operands(const ctx *c) {
    ir_node *n = self(c);
    for (int k = 0; k < n->nin; k++)
        if (in_type(c, k)->dtype == IR_VOID &&
            !((n->op == IR_FOR_RESULT || n->op == IR_LOOP_IV || n->op == IR_LOOP_CARRIED) &&
              k == 0))
            return FAIL(c, "operand %d is a %s, which has no value", k,
                        ir_op_name(c->g->nodes[n->in[k]].op));
    return TJ_OK;
}

/* A tile dim: a constant in 1..TJ_MAX_DIM, or a symbol that is not dynamic. */
static tj_status check_tile_dims(const ctx *c, const ir_type *t) {
    for (int i = 0; i < t->rank; i++) {
        tj_dim d = t->dims[i];
        if (tj_dim_is_sym(d)) {
            int s = ir_dim_sym(c->g, d);
            if (s < 0)
                return FAIL(c, "tile dim %d is %lld, which names no symbol of this graph", i,
                            (long long)d);
            if (c->g->syms[s].policy == TJ_DYNAMIC)
                return FAIL(c, "tile dim %d is the dynamic symbol '%s'; a tile needs a size known at "
                               "specialization (make it exact or bucketed)",
                            i, c->g->syms[s].name);
        } else if (d < 1 || d > TJ_MAX_DIM) {
            return FAIL(c, "tile dim %d is %lld; it must be in 1..2^40 or a symbol", i, (long long)d);
        }
    }
    if (t->rank == 2 && !tj_dim_is_sym(t->dims[0]) && !tj_dim_is_sym(t->dims[1]) &&
        t->dims[0] * t->dims[1] > ((int64_t)1 << 31))
        return FAIL(c, "tile of %lld x %lld elements is larger than 2^31", (long long)t->dims[0],
                    (long long)t->dims[1]);
    return TJ_OK;
}

static int is_int_scalar(const ir_type *t) { return t->rank == 0 && ir_is_int(t->dtype); }

/* numpy broadcasting of two shapes into out; 0 when they do not agree. */
static int broadcast2(const ir_type *a, const ir_type *b, ir_type *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        tj_dim da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            out->dims[i] = da;
        else if (da == 1)
            out->dims[i] = db;
        else
            return 0;
    }
    for (int i = r; i < TJ_MAX_TILE_RANK; i++) out->dims[i] = 0;
    return 1;
}

/* Broadcast the operands first..nin-1 together into n->type's shape. */
static tj_status broadcast_operands(const ctx *c, int first) {
    ir_node *n = self(c);
    ir_type acc = *in_type(c, first);
    for (int k = first + 1; k < n->nin; k++) {
        ir_type next;
        if (!broadcast2(&acc, in_type(c, k), &next)) {
            char a[96], b[96];
            return FAIL(c, "shapes do not broadcast: %s and %s (each dim must be equal or 1)",
                        tstr(c, &acc, a), tstr(c, in_type(c, k), b));
        }
        acc = next;
    }
    n->type.rank = acc.rank;
    memcpy(n->type.dims, acc.dims, sizeof acc.dims);
    return TJ_OK;
}

static tj_status same_dtype(const ctx *c, int first, const char *what) {
    ir_node *n = self(c);
    for (int k = first + 1; k < n->nin; k++)
        if (in_type(c, k)->dtype != in_type(c, first)->dtype)
            return FAIL(c, "%s operands must have one dtype: %s and %s (cast one first)", what,
                        dtname(in_type(c, first)->dtype), dtname(in_type(c, k)->dtype));
    return TJ_OK;
}

/* ---- per-op rules -------------------------------------------------- */

static tj_status infer_const(const ctx *c) {
    ir_node *n = self(c);
    if (!ir_is_graph_dtype(n->type.dtype))
        return FAIL(c, "%s is not a graph dtype (f64 is for the host only)", dtname(n->type.dtype));
    tj_status s = check_tile_dims(c, &n->type);
    if (s != TJ_OK) return s;
    if (ir_is_int(n->type.dtype) || n->type.dtype == TJ_BOOL) {
        double lim = n->type.dtype == TJ_I32 ? 2147483648.0 : 9223372036854775808.0;
        if (!isfinite(n->f) || n->f != floor(n->f) || n->f < -lim || n->f >= lim)
            return FAIL(c, "constant %.17g is not an %s value", n->f, dtname(n->type.dtype));
        if (n->type.dtype == TJ_BOOL && n->f != 0 && n->f != 1)
            return FAIL(c, "a bool constant is 0 or 1, not %g", n->f);
    }
    return TJ_OK;
}

static tj_status infer_scalar_like(const ctx *c) {
    ir_node *n = self(c);
    n->type.rank = 0;
    switch (n->op) {
    case IR_SCALAR_ARG:
        return TJ_OK;
    case IR_SYMVAL:
        if (n->index < 0 || n->index >= c->g->nsyms)
            return FAIL(c, "symbol #%d does not exist", n->index);
        n->type.dtype = TJ_I32;
        return TJ_OK;
    default: /* program_id, num_programs */
        if (n->index < 0 || n->index >= TJ_MAX_GRID)
            return FAIL(c, "grid axis %d is not in 0..2", n->index);
        n->type.dtype = TJ_I32;
        return TJ_OK;
    }
}

static tj_status infer_iota(const ctx *c) {
    ir_node *n = self(c);
    if (!ir_is_int(n->type.dtype))
        return FAIL(c, "iota makes i32 or i64 tiles, not %s", dtname(n->type.dtype));
    if (n->index < 0 || n->index >= n->type.rank)
        return FAIL(c, "axis %d is out of range for a rank-%d tile", n->index, n->type.rank);
    return check_tile_dims(c, &n->type);
}

/* Loads and stores: coords, axes and flags. `tile` is the tile's type. */
static tj_status check_access(const ctx *c, int ncoords, const ir_type *tile) {
    ir_node *n = self(c);
    if (n->tensor < 0 || n->tensor >= c->g->ntensors)
        return FAIL(c, "tensor #%d does not exist", n->tensor);
    const ir_tensor *t = &c->g->tensors[n->tensor];
    if (ncoords != t->rank)
        return FAIL(c, "%d coordinates given for tensor '%s' of rank %d", ncoords, t->name, t->rank);
    for (int k = 0; k < ncoords; k++)
        if (!is_int_scalar(in_type(c, k))) {
            char b[96];
            return FAIL(c, "coordinate %d must be an integer scalar, not %s", k,
                        tstr(c, in_type(c, k), b));
        }
    if (tile->rank > t->rank)
        return FAIL(c, "a rank-%d tile does not fit tensor '%s' of rank %d", tile->rank, t->name,
                    t->rank);
    for (int k = 0; k < tile->rank; k++) {
        if (n->axes[k] < 0 || n->axes[k] >= t->rank)
            return FAIL(c, "tile axis %d covers tensor dim %d, outside tensor '%s' of rank %d", k,
                        n->axes[k], t->name, t->rank);
        if (k > 0 && n->axes[k] <= n->axes[k - 1])
            return FAIL(c, "tile axes must be strictly increasing tensor dims, got %d then %d",
                        n->axes[k - 1], n->axes[k]);
    }
    unsigned known = TJ_COORD_ELEMENT | (n->op == IR_STORE ? IR_STORE_MASKED : 0u);
    if (n->flags & ~known) return FAIL(c, "unknown flags 0x%x", n->flags);
    return TJ_OK;
}

static tj_status infer_load(const ctx *c) {
    ir_node *n = self(c);
    tj_status s = check_access(c, n->nin, &n->type);
    if (s != TJ_OK) return s;
    s = check_tile_dims(c, &n->type);
    if (s != TJ_OK) return s;
    const ir_tensor *t = &c->g->tensors[n->tensor];
    n->type.dtype = t->dtype;
    if (!ir_is_float(t->dtype) && (!isfinite(n->f) || n->f != floor(n->f)))
        return FAIL(c, "pad %g is not a %s value", n->f, dtname(t->dtype));
    return TJ_OK;
}

static tj_status infer_store(const ctx *c) {
    ir_node *n = self(c);
    int masked = (n->flags & IR_STORE_MASKED) != 0;
    if (n->nin < 1 + masked) return FAIL(c, "a store needs a value%s", masked ? " and a mask" : "");
    const ir_type *v = in_type(c, n->nin - 1);
    tj_status s = check_access(c, n->nin - 1 - masked, v);
    if (s != TJ_OK) return s;
    if (masked) {
        const ir_type *m = in_type(c, n->nin - 2);
        ir_type b;
        char x[96], y[96];
        if (m->dtype != TJ_BOOL) return FAIL(c, "a store's mask must be bool, not %s", dtname(m->dtype));
        int fits = broadcast2(v, m, &b) && b.rank == v->rank;
        for (int i = 0; fits && i < v->rank; i++) fits = b.dims[i] == v->dims[i];
        if (!fits)
            return FAIL(c, "the mask %s does not broadcast to the stored value's shape %s",
                        tstr(c, m, x), tstr(c, v, y));
    }
    n->type.dtype = IR_VOID;
    n->type.rank = 0;
    return TJ_OK;
}

static tj_status infer_mma(const ctx *c) {
    ir_node *n = self(c);
    const ir_type *a = in_type(c, 0), *b = in_type(c, 1);
    char x[96], y[96];
    if (n->flags & ~(TJ_TRANS_A | TJ_TRANS_B)) return FAIL(c, "unknown flags 0x%x", n->flags);
    if (a->rank != 2 || b->rank != 2)
        return FAIL(c, "operands must be 2-D tiles: a is %s, b is %s", tstr(c, a, x), tstr(c, b, y));
    if (a->dtype != b->dtype)
        return FAIL(c, "a and b must have one dtype: a is %s, b is %s", dtname(a->dtype),
                    dtname(b->dtype));
    if (!ir_is_float(a->dtype))
        return FAIL(c, "mma takes f32, f16, bf16, f8e4m3 or f8e5m2 operands, not %s",
                    dtname(a->dtype));
    int ta = (n->flags & TJ_TRANS_A) != 0, tb = (n->flags & TJ_TRANS_B) != 0;
    tj_dim m = a->dims[ta], ka = a->dims[!ta], kb = b->dims[tb], nn = b->dims[!tb];
    if (ka != kb)
        return FAIL(c, "inner dimensions differ: op(a) is %s%s, op(b) is %s%s", tstr(c, a, x),
                    ta ? " transposed" : "", tstr(c, b, y), tb ? " transposed" : "");
    n->type.dtype = TJ_F32;
    n->type.rank = 2;
    n->type.dims[0] = m;
    n->type.dims[1] = nn;
    if (n->nin == 3) {
        const ir_type *acc = in_type(c, 2);
        if (acc->dtype != TJ_F32 || acc->rank != 2 || acc->dims[0] != m || acc->dims[1] != nn) {
            ir_type want = n->type;
            return FAIL(c, "accumulator must be %s, not %s", tstr(c, &want, x), tstr(c, acc, y));
        }
    }
    return TJ_OK;
}

/* Which dtypes an elementwise op takes. */
enum { K_FLOAT = 1, K_INT = 2, K_BOOL = 4 };
static int dtype_kind(int t) {
    return ir_is_float(t) ? K_FLOAT : ir_is_int(t) ? K_INT : t == TJ_BOOL ? K_BOOL : 0;
}
static const char *kinds_str(int k) {
    static const char *const s[8] = {"nothing", "float", "integer", "float or integer",
                                     "bool", "float or bool", "integer or bool", "any"};
    return s[k & 7];
}

static tj_status infer_unary(const ctx *c) {
    ir_node *n = self(c);
    if (n->sub < 0 || n->sub >= TJ_UNARY_COUNT) return FAIL(c, "unary op %d does not exist", n->sub);
    int want;
    switch (n->sub) {
    case TJ_NEG: case TJ_ABS: case TJ_RELU: want = K_FLOAT | K_INT; break;
    case TJ_NOT: want = K_BOOL | K_INT; break;
    default: want = K_FLOAT; break;
    }
    const ir_type *x = in_type(c, 0);
    if (!(dtype_kind(x->dtype) & want))
        return FAIL(c, "%s takes %s values, not %s", tj_unary_name((tj_unop)n->sub),
                    kinds_str(want), dtname(x->dtype));
    n->type = *x;
    return TJ_OK;
}

static tj_status infer_binary(const ctx *c) {
    ir_node *n = self(c);
    if (n->sub < 0 || n->sub >= TJ_BINARY_COUNT) return FAIL(c, "binary op %d does not exist", n->sub);
    tj_status s = same_dtype(c, 0, tj_binary_name((tj_binop)n->sub));
    if (s != TJ_OK) return s;
    int want, cmp = n->sub >= TJ_EQ;
    switch (n->sub) {
    case TJ_POW: want = K_FLOAT; break;
    case TJ_MOD: case TJ_CDIV: want = K_INT; break;
    case TJ_AND: case TJ_OR: case TJ_XOR: want = K_BOOL | K_INT; break;
    default: want = cmp ? (K_FLOAT | K_INT | K_BOOL) : (K_FLOAT | K_INT); break;
    }
    int dt = in_type(c, 0)->dtype;
    if (!(dtype_kind(dt) & want))
        return FAIL(c, "%s takes %s values, not %s", tj_binary_name((tj_binop)n->sub),
                    kinds_str(want), dtname(dt));
    s = broadcast_operands(c, 0);
    n->type.dtype = cmp ? TJ_BOOL : dt;
    return s;
}

static tj_status infer_where(const ctx *c) {
    ir_node *n = self(c);
    if (in_type(c, 0)->dtype != TJ_BOOL)
        return FAIL(c, "the condition must be bool, not %s", dtname(in_type(c, 0)->dtype));
    tj_status s = same_dtype(c, 1, "where");
    if (s != TJ_OK) return s;
    n->type.dtype = in_type(c, 1)->dtype;
    return broadcast_operands(c, 0);
}

static tj_status infer_fma(const ctx *c) {
    ir_node *n = self(c);
    tj_status s = same_dtype(c, 0, "fma");
    if (s != TJ_OK) return s;
    if (!ir_is_float(in_type(c, 0)->dtype))
        return FAIL(c, "fma takes float values, not %s", dtname(in_type(c, 0)->dtype));
    n->type.dtype = in_type(c, 0)->dtype;
    return broadcast_operands(c, 0);
}

static tj_status infer_cast(const ctx *c) {
    ir_node *n = self(c);
    int to = n->type.dtype;
    if (!ir_is_graph_dtype(to)) return FAIL(c, "cannot cast to %s: not a graph dtype", dtname(to));
    n->type = *in_type(c, 0);
    n->type.dtype = to;
    return TJ_OK;
}

static tj_status infer_reduce(const ctx *c) {
    ir_node *n = self(c);
    const ir_type *x = in_type(c, 0);
    if (n->sub < 0 || n->sub >= TJ_REDUCE_COUNT) return FAIL(c, "reduction %d does not exist", n->sub);
    if (x->rank < 1) return FAIL(c, "cannot reduce a scalar");
    if (n->index < 0 || n->index >= x->rank)
        return FAIL(c, "axis %d is out of range for a rank-%d tile", n->index, x->rank);
    if (x->dtype == TJ_BOOL) return FAIL(c, "cannot %s bool values (cast first)", tj_reduce_name((tj_redop)n->sub));
    n->type = *x;
    n->type.dims[n->index] = 1;
    return TJ_OK;
}

static tj_status infer_transpose(const ctx *c) {
    ir_node *n = self(c);
    const ir_type *x = in_type(c, 0);
    if (x->rank != 2) {
        char b[96];
        return FAIL(c, "transpose takes a 2-D tile, not %s", tstr(c, x, b));
    }
    n->type = *x;
    n->type.dims[0] = x->dims[1];
    n->type.dims[1] = x->dims[0];
    return TJ_OK;
}

static tj_status infer_reshape(const ctx *c) {
    ir_node *n = self(c);
    const ir_type *x = in_type(c, 0);
    tj_status s = check_tile_dims(c, &n->type);
    if (s != TJ_OK) return s;
    /* Only dims of size 1 may come or go: no data moves. */
    tj_dim a[TJ_MAX_TILE_RANK], b[TJ_MAX_TILE_RANK];
    int na = 0, nb = 0;
    for (int i = 0; i < x->rank; i++) if (x->dims[i] != 1) a[na++] = x->dims[i];
    for (int i = 0; i < n->type.rank; i++) if (n->type.dims[i] != 1) b[nb++] = n->type.dims[i];
    if (na != nb || memcmp(a, b, (size_t)na * sizeof(tj_dim))) {
        char p[96], q[96];
        return FAIL(c, "reshape may only add or remove dims of size 1: %s to %s", tstr(c, x, p),
                    tstr(c, &n->type, q));
    }
    n->type.dtype = x->dtype;
    return TJ_OK;
}

static tj_status infer_broadcast(const ctx *c) {
    ir_node *n = self(c);
    const ir_type *x = in_type(c, 0);
    tj_status s = check_tile_dims(c, &n->type);
    if (s != TJ_OK) return s;
    ir_type out;
    if (x->rank > n->type.rank || !broadcast2(x, &n->type, &out) ||
        memcmp(out.dims, n->type.dims, sizeof out.dims)) {
        char p[96], q[96];
        return FAIL(c, "cannot broadcast %s to %s", tstr(c, x, p), tstr(c, &n->type, q));
    }
    n->type.dtype = x->dtype;
    return TJ_OK;
}

static tj_status infer_for(const ctx *c) {
    ir_node *n = self(c);
    static const char *const what[3] = {"lower bound", "upper bound", "step"};
    for (int k = 0; k < 3; k++)
        if (!is_int_scalar(in_type(c, k))) {
            char b[96];
            return FAIL(c, "the %s must be an integer scalar, not %s", what[k],
                        tstr(c, in_type(c, k), b));
        }
    if (in_type(c, 1)->dtype != in_type(c, 0)->dtype || in_type(c, 2)->dtype != in_type(c, 0)->dtype)
        return FAIL(c, "bounds and step must have one dtype: %s, %s, %s",
                    dtname(in_type(c, 0)->dtype), dtname(in_type(c, 1)->dtype),
                    dtname(in_type(c, 2)->dtype));
    n->type.dtype = IR_VOID;
    n->type.rank = 0;
    return TJ_OK;
}

/* Block arguments and results take their types from the FOR's operands. */
static tj_status infer_loop_value(const ctx *c) {
    ir_node *n = self(c);
    const ir_node *f = ir_node_at(c->g, n->in[0]);
    if (!f || f->op != IR_FOR || !f->loop) return FAIL(c, "operand is not a loop");
    if (n->op == IR_LOOP_IV) {
        n->type = c->g->nodes[f->in[0]].type;
        return TJ_OK;
    }
    if (n->index < 0 || n->index >= f->loop->ncarried)
        return FAIL(c, "loop has no carried value %d", n->index);
    n->type = c->g->nodes[f->in[3 + n->index]].type;
    return TJ_OK;
}

tj_status ir_infer(tj_graph *g, int32_t id) {
    ctx c = {g, id};
    tj_status s = check_operands(&c);
    if (s != TJ_OK) return s;
    switch (g->nodes[id].op) {
    case IR_CONST: return infer_const(&c);
    case IR_SCALAR_ARG: case IR_SYMVAL: case IR_PROGRAM_ID: case IR_NUM_PROGRAMS:
        return infer_scalar_like(&c);
    case IR_IOTA: return infer_iota(&c);
    case IR_LOAD: return infer_load(&c);
    case IR_STORE: return infer_store(&c);
    case IR_MMA: return infer_mma(&c);
    case IR_UNARY: return infer_unary(&c);
    case IR_BINARY: return infer_binary(&c);
    case IR_WHERE: return infer_where(&c);
    case IR_FMA: return infer_fma(&c);
    case IR_CAST: return infer_cast(&c);
    case IR_REDUCE: return infer_reduce(&c);
    case IR_TRANSPOSE: return infer_transpose(&c);
    case IR_RESHAPE: return infer_reshape(&c);
    case IR_BROADCAST: return infer_broadcast(&c);
    case IR_FOR: return infer_for(&c);
    case IR_FOR_RESULT: case IR_LOOP_IV: case IR_LOOP_CARRIED: return infer_loop_value(&c);
    default: return FAIL(&c, "unknown op %d", (int)g->nodes[id].op);
    }
}

/* ---- op names ------------------------------------------------------ */

static const char *const unary_names[TJ_UNARY_COUNT] = {
    "neg", "abs", "exp", "exp2", "log", "log2", "sqrt", "rsqrt", "recip", "sin", "cos",
    "tanh", "sigmoid", "silu", "gelu", "gelu_tanh", "relu", "floor", "ceil", "not"};
static const char *const binary_names[TJ_BINARY_COUNT] = {
    "add", "sub", "mul", "div", "max", "min", "pow", "mod", "cdiv",
    "and", "or", "xor", "eq", "ne", "lt", "le", "gt", "ge"};
static const char *const reduce_names[TJ_REDUCE_COUNT] = {"sum", "max", "min"};

const char *tj_unary_name(tj_unop op) {
    return (unsigned)op < TJ_UNARY_COUNT ? unary_names[op] : NULL;
}
const char *tj_binary_name(tj_binop op) {
    return (unsigned)op < TJ_BINARY_COUNT ? binary_names[op] : NULL;
}
const char *tj_reduce_name(tj_redop op) {
    return (unsigned)op < TJ_REDUCE_COUNT ? reduce_names[op] : NULL;
}
