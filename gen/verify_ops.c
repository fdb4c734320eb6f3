/*
 * verify_ops.c — each op's local rules, checked again at verification.
 *
 * infer.c enforces these as every node is built, so for graphs made by
 * the builder (the parser uses it too) nothing here fires. It is cheap
 * insurance: every later stage (print, interp, emit) trusts a verified
 * graph's types, so a node whose type does not follow from its operands
 * must be refused here, with the rule named, instead of crashing there.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "verify.h"

typedef struct opc {
    const tj_graph *g;
    int32_t id;
    const ir_node *n;
} opc;

#define FAIL(c, ...) verify_error((c)->g, (c)->id, __VA_ARGS__)

static const ir_type *in_type(const opc *c, int k) { return &c->g->nodes[c->n->in[k]].type; }

static const char *dtname(int t) {
    const char *s = tj_dtype_name((tj_dtype)t);
    return s ? s : (t == IR_VOID ? "void" : "?");
}

static const char *tstr(const opc *c, const ir_type *t, char *buf) {
    return ir_type_str(c->g, t, buf, 96);
}

int verify_same_type(const ir_type *a, const ir_type *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

int verify_dim_symbol(const tj_graph *g, tj_dim d) {
    /* tj_dim_symbol(d) negates d: only call it on d in -(nsyms + 1)..-2. */
    if (!tj_dim_is_sym(d) || d < -(tj_dim)g->nsyms - 1) return -1;
    return (int)tj_dim_symbol(d).id;
}

static int is_int_scalar(const ir_type *t) { return t->rank == 0 && ir_is_int(t->dtype); }

/* Tile dims: constants in 1..2^40, or symbols that exist and are not
 * dynamic (a tile's size is fixed when the kernel is specialized). */
static tj_status check_tile_dims(const opc *c, const ir_type *t) {
    if (t->rank < 0 || t->rank > TJ_MAX_TILE_RANK)
        return FAIL(c, "a value has rank %d; tiles have rank 0..%d", t->rank, TJ_MAX_TILE_RANK);
    for (int i = 0; i < t->rank; i++) {
        tj_dim d = t->dims[i];
        if (tj_dim_is_sym(d)) {
            int s = verify_dim_symbol(c->g, d);
            if (s < 0)
                return FAIL(c, "tile dim %d is %lld, which names no symbol of this graph", i,
                            (long long)d);
            if (c->g->syms[s].policy == TJ_DYNAMIC)
                return FAIL(c,
                            "tile dim %d is the dynamic symbol '%s'; a tile needs a size known at "
                            "specialization (make it exact or bucketed)",
                            i, c->g->syms[s].name);
        } else if (d < 1 || d > TJ_MAX_DIM) {
            return FAIL(c, "tile dim %d is %lld; it must be in 1..2^40 or a symbol", i,
                        (long long)d);
        }
    }
    if (t->rank == 2 && !tj_dim_is_sym(t->dims[0]) && !tj_dim_is_sym(t->dims[1]) &&
        t->dims[0] > ((int64_t)1 << 31) / t->dims[1])
        return FAIL(c, "tile of %lld x %lld elements is larger than 2^31", (long long)t->dims[0],
                    (long long)t->dims[1]);
    return TJ_OK;
}

static tj_status want_nin(const opc *c, int lo, int hi) {
    if (c->n->nin < lo || c->n->nin > hi || (c->n->nin > 0 && !c->n->in)) {
        if (lo == hi) return FAIL(c, "has %d operands; %s takes %d", c->n->nin, ir_op_name(c->n->op), lo);
        return FAIL(c, "has %d operands; %s takes %d..%d", c->n->nin, ir_op_name(c->n->op), lo, hi);
    }
    return TJ_OK;
}

/* numpy broadcasting of two shapes; 0 when they do not agree. */
static int broadcast2(const ir_type *a, const ir_type *b, ir_type *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        tj_dim da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1) out->dims[i] = da;
        else if (da == 1) out->dims[i] = db;
        else return 0;
    }
    return 1;
}

static tj_status broadcast_all(const opc *c, int first, ir_type *want) {
    ir_type acc = *in_type(c, first);
    for (int k = first + 1; k < c->n->nin; k++) {
        ir_type next;
        if (!broadcast2(&acc, in_type(c, k), &next)) {
            char a[96], b[96];
            return FAIL(c, "shapes do not broadcast: %s and %s (each dim must be equal or 1)",
                        tstr(c, &acc, a), tstr(c, in_type(c, k), b));
        }
        acc = next;
    }
    want->rank = acc.rank;
    for (int i = 0; i < acc.rank; i++) want->dims[i] = acc.dims[i];
    return TJ_OK;
}

static tj_status same_dtype(const opc *c, int first, const char *what) {
    for (int k = first + 1; k < c->n->nin; k++)
        if (in_type(c, k)->dtype != in_type(c, first)->dtype)
            return FAIL(c, "%s operands must have one dtype: %s and %s (cast one first)", what,
                        dtname(in_type(c, first)->dtype), dtname(in_type(c, k)->dtype));
    return TJ_OK;
}

enum { K_FLOAT = 1, K_INT = 2, K_BOOL = 4 };
static int kind(int t) {
    return ir_is_float(t) ? K_FLOAT : ir_is_int(t) ? K_INT : t == TJ_BOOL ? K_BOOL : 0;
}
static const char *kinds_str(int k) {
    static const char *const s[8] = {"nothing", "float", "integer", "float or integer",
                                     "bool", "float or bool", "integer or bool", "any"};
    return s[k & 7];
}

/* ---- per-op rules -------------------------------------------------- */

static tj_status op_const(const opc *c) {
    const ir_node *n = c->n;
    if (ir_is_int(n->type.dtype) || n->type.dtype == TJ_BOOL) {
        double lim = n->type.dtype == TJ_I32 ? 2147483648.0 : 9223372036854775808.0;
        if (!isfinite(n->f) || n->f != floor(n->f) || n->f < -lim || n->f >= lim ||
            (n->type.dtype == TJ_BOOL && n->f != 0 && n->f != 1))
            return FAIL(c, "constant %g is not a %s value", n->f, dtname(n->type.dtype));
    }
    return TJ_OK;
}

/* Loads and stores: the tensor, one integer coordinate per tensor dim,
 * tile axes that are strictly increasing tensor dims, known flags. */
static tj_status op_access(const opc *c, int ncoords, const ir_type *tile) {
    const ir_node *n = c->n;
    if (n->tensor < 0 || n->tensor >= c->g->ntensors)
        return FAIL(c, "tensor #%d does not exist", (int)n->tensor);
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

/* A store: its access, and its mask (bool, broadcasting to the value). */
static tj_status op_store(const opc *c) {
    const ir_node *n = c->n;
    int masked = (n->flags & IR_STORE_MASKED) != 0;
    if (n->nin < 1 + masked) return FAIL(c, "a masked store needs a mask and a value");
    const ir_type *v = in_type(c, n->nin - 1);
    tj_status s = op_access(c, n->nin - 1 - masked, v);
    if (s != TJ_OK || !masked) return s;
    const ir_type *m = in_type(c, n->nin - 2);
    ir_type b;
    char x[96], y[96];
    if (m->dtype != TJ_BOOL) return FAIL(c, "a store's mask must be bool, not %s", dtname(m->dtype));
    int fits = broadcast2(v, m, &b) && b.rank == v->rank;
    for (int i = 0; fits && i < v->rank; i++) fits = b.dims[i] == v->dims[i];
    if (!fits)
        return FAIL(c, "the mask %s does not broadcast to the stored value's shape %s",
                    tstr(c, m, x), tstr(c, v, y));
    return TJ_OK;
}

static tj_status op_load(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    tj_status s = op_access(c, n->nin, &n->type);
    if (s != TJ_OK) return s;
    const ir_tensor *t = &c->g->tensors[n->tensor];
    want->dtype = t->dtype;
    if (!ir_is_float(t->dtype) && (!isfinite(n->f) || n->f != floor(n->f)))
        return FAIL(c, "pad %g is not a %s value", n->f, dtname(t->dtype));
    return TJ_OK;
}

static tj_status op_mma(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
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
    if (a->dims[!ta] != b->dims[tb])
        return FAIL(c, "inner dimensions differ: op(a) is %s%s, op(b) is %s%s", tstr(c, a, x),
                    ta ? " transposed" : "", tstr(c, b, y), tb ? " transposed" : "");
    *want = (ir_type){TJ_F32, 2, {a->dims[ta], b->dims[!tb]}};
    if (n->nin == 3 && !verify_same_type(in_type(c, 2), want))
        return FAIL(c, "accumulator must be %s, not %s", tstr(c, want, x),
                    tstr(c, in_type(c, 2), y));
    return TJ_OK;
}

static tj_status op_unary(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    if (n->sub < 0 || n->sub >= TJ_UNARY_COUNT) return FAIL(c, "unary op %d does not exist", n->sub);
    int ok = n->sub == TJ_NEG || n->sub == TJ_ABS || n->sub == TJ_RELU ? K_FLOAT | K_INT
             : n->sub == TJ_NOT                                        ? K_BOOL | K_INT
                                                                       : K_FLOAT;
    if (!(kind(in_type(c, 0)->dtype) & ok))
        return FAIL(c, "%s takes %s values, not %s", tj_unary_name((tj_unop)n->sub),
                    kinds_str(ok), dtname(in_type(c, 0)->dtype));
    *want = *in_type(c, 0);
    return TJ_OK;
}

static tj_status op_binary(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    if (n->sub < 0 || n->sub >= TJ_BINARY_COUNT)
        return FAIL(c, "binary op %d does not exist", n->sub);
    tj_status s = same_dtype(c, 0, tj_binary_name((tj_binop)n->sub));
    if (s != TJ_OK) return s;
    int cmp = n->sub >= TJ_EQ, ok;
    switch (n->sub) {
    case TJ_POW: ok = K_FLOAT; break;
    case TJ_MOD: case TJ_CDIV: ok = K_INT; break;
    case TJ_AND: case TJ_OR: case TJ_XOR: ok = K_BOOL | K_INT; break;
    default: ok = cmp ? (K_FLOAT | K_INT | K_BOOL) : (K_FLOAT | K_INT); break;
    }
    int dt = in_type(c, 0)->dtype;
    if (!(kind(dt) & ok))
        return FAIL(c, "%s takes %s values, not %s", tj_binary_name((tj_binop)n->sub),
                    kinds_str(ok), dtname(dt));
    want->dtype = cmp ? TJ_BOOL : dt;
    return broadcast_all(c, 0, want);
}

static tj_status op_ternary(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    int first = n->op == IR_WHERE;
    if (n->op == IR_WHERE && in_type(c, 0)->dtype != TJ_BOOL)
        return FAIL(c, "the condition must be bool, not %s", dtname(in_type(c, 0)->dtype));
    tj_status s = same_dtype(c, first, ir_op_name(n->op));
    if (s != TJ_OK) return s;
    if (n->op == IR_FMA && !ir_is_float(in_type(c, 0)->dtype))
        return FAIL(c, "fma takes float values, not %s", dtname(in_type(c, 0)->dtype));
    want->dtype = in_type(c, first)->dtype;
    return broadcast_all(c, 0, want);
}

static tj_status op_reduce(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    const ir_type *x = in_type(c, 0);
    if (n->sub < 0 || n->sub >= TJ_REDUCE_COUNT) return FAIL(c, "reduction %d does not exist", n->sub);
    if (x->rank < 1) return FAIL(c, "cannot reduce a scalar");
    if (n->index < 0 || n->index >= x->rank)
        return FAIL(c, "axis %d is out of range for a rank-%d tile", n->index, x->rank);
    if (x->dtype == TJ_BOOL)
        return FAIL(c, "cannot %s bool values (cast first)", tj_reduce_name((tj_redop)n->sub));
    *want = *x;
    want->dims[n->index] = 1;
    return TJ_OK;
}

static tj_status op_shape(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    const ir_type *x = in_type(c, 0);
    char p[96], q[96];
    want->dtype = x->dtype;
    if (n->op == IR_TRANSPOSE) {
        if (x->rank != 2) return FAIL(c, "transpose takes a 2-D tile, not %s", tstr(c, x, p));
        *want = (ir_type){x->dtype, 2, {x->dims[1], x->dims[0]}};
        return TJ_OK;
    }
    if (n->op == IR_RESHAPE) {
        tj_dim a[TJ_MAX_TILE_RANK], b[TJ_MAX_TILE_RANK];
        int na = 0, nb = 0;
        for (int i = 0; i < x->rank; i++) if (x->dims[i] != 1) a[na++] = x->dims[i];
        for (int i = 0; i < n->type.rank; i++) if (n->type.dims[i] != 1) b[nb++] = n->type.dims[i];
        if (na != nb || memcmp(a, b, (size_t)na * sizeof(tj_dim)))
            return FAIL(c, "reshape may only add or remove dims of size 1: %s to %s",
                        tstr(c, x, p), tstr(c, &n->type, q));
        return TJ_OK;
    }
    ir_type out;
    if (x->rank > n->type.rank || !broadcast2(x, &n->type, &out) ||
        !verify_same_type(&(ir_type){n->type.dtype, out.rank, {out.dims[0], out.dims[1]}},
                          &n->type))
        return FAIL(c, "cannot broadcast %s to %s", tstr(c, x, p), tstr(c, &n->type, q));
    return TJ_OK;
}

static tj_status op_for(const opc *c) {
    const ir_node *n = c->n;
    static const char *const what[3] = {"lower bound", "upper bound", "step"};
    const ir_loop *L = n->loop;
    if (!L) return FAIL(c, "loop has no body");
    if (L->ncarried < 0 || L->ncarried > TJ_MAX_CARRIED)
        return FAIL(c, "%d carried values; 0..%d allowed", L->ncarried, TJ_MAX_CARRIED);
    tj_status s = want_nin(c, 3 + L->ncarried, 3 + L->ncarried);
    if (s != TJ_OK) return s;
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
    return TJ_OK;
}

/* Block arguments and results: the type of what they stand for. */
static tj_status op_loop_value(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    tj_status s = want_nin(c, 1, 1);
    if (s != TJ_OK) return s;
    const ir_node *f = ir_node_at(c->g, n->in[0]);
    if (!f || f->op != IR_FOR || !f->loop) return FAIL(c, "operand is not a loop");
    if (n->op == IR_LOOP_IV) {
        *want = c->g->nodes[f->in[0]].type;
        return TJ_OK;
    }
    if (n->index < 0 || n->index >= f->loop->ncarried || f->nin < 3 + f->loop->ncarried)
        return FAIL(c, "loop has no carried value %d", n->index);
    *want = c->g->nodes[f->in[3 + n->index]].type;
    return TJ_OK;
}

static tj_status op_rules(const opc *c, ir_type *want) {
    const ir_node *n = c->n;
    tj_status s;
    switch (n->op) {
    case IR_CONST:
        if ((s = want_nin(c, 0, 0)) != TJ_OK) return s;
        return op_const(c);
    case IR_SCALAR_ARG:
        if ((s = want_nin(c, 0, 0)) != TJ_OK) return s;
        if (n->type.rank != 0) return FAIL(c, "a scalar argument has rank 0");
        return TJ_OK;
    case IR_SYMVAL:
        if ((s = want_nin(c, 0, 0)) != TJ_OK) return s;
        if (n->index < 0 || n->index >= c->g->nsyms)
            return FAIL(c, "symbol #%d does not exist", n->index);
        *want = (ir_type){TJ_I32, 0, {0, 0}};
        return TJ_OK;
    case IR_PROGRAM_ID:
    case IR_NUM_PROGRAMS:
        if ((s = want_nin(c, 0, 0)) != TJ_OK) return s;
        if (n->index < 0 || n->index >= c->g->ngrid)
            return FAIL(c, "grid axis %d is not below the grid's rank %d (the grid has axes 0..%d)",
                        n->index, c->g->ngrid, c->g->ngrid - 1);
        *want = (ir_type){TJ_I32, 0, {0, 0}};
        return TJ_OK;
    case IR_IOTA:
        if ((s = want_nin(c, 0, 0)) != TJ_OK) return s;
        if (!ir_is_int(n->type.dtype))
            return FAIL(c, "iota makes i32 or i64 tiles, not %s", dtname(n->type.dtype));
        if (n->index < 0 || n->index >= n->type.rank)
            return FAIL(c, "axis %d is out of range for a rank-%d tile", n->index, n->type.rank);
        return TJ_OK;
    case IR_LOAD:
        if ((s = want_nin(c, 0, TJ_MAX_RANK)) != TJ_OK) return s;
        return op_load(c, want);
    case IR_STORE:
        if ((s = want_nin(c, 1, TJ_MAX_RANK + 2)) != TJ_OK) return s;
        return op_store(c);
    case IR_MMA:
        if ((s = want_nin(c, 2, 3)) != TJ_OK) return s;
        return op_mma(c, want);
    case IR_UNARY:
        if ((s = want_nin(c, 1, 1)) != TJ_OK) return s;
        return op_unary(c, want);
    case IR_BINARY:
        if ((s = want_nin(c, 2, 2)) != TJ_OK) return s;
        return op_binary(c, want);
    case IR_WHERE:
    case IR_FMA:
        if ((s = want_nin(c, 3, 3)) != TJ_OK) return s;
        return op_ternary(c, want);
    case IR_CAST:
        if ((s = want_nin(c, 1, 1)) != TJ_OK) return s;
        *want = *in_type(c, 0);
        want->dtype = n->type.dtype;
        return TJ_OK;
    case IR_REDUCE:
        if ((s = want_nin(c, 1, 1)) != TJ_OK) return s;
        return op_reduce(c, want);
    case IR_TRANSPOSE:
    case IR_RESHAPE:
    case IR_BROADCAST:
        if ((s = want_nin(c, 1, 1)) != TJ_OK) return s;
        return op_shape(c, want);
    case IR_FOR:
        return op_for(c);
    case IR_FOR_RESULT:
    case IR_LOOP_IV:
    case IR_LOOP_CARRIED:
        return op_loop_value(c, want);
    default:
        return FAIL(c, "unknown op %d", (int)n->op);
    }
}

tj_status verify_node(const tj_graph *g, int32_t id) {
    opc c = {g, id, &g->nodes[id]};
    const ir_node *n = c.n;
    int effect = n->op == IR_STORE || n->op == IR_FOR;
    if (effect) {
        if (n->type.dtype != IR_VOID) return FAIL(&c, "a %s has no value", ir_op_name(n->op));
    } else {
        if (n->type.dtype == TJ_F64)
            return FAIL(&c, "f64 values are not allowed in a graph (f64 is the interpreter's "
                            "working precision, not a tile dtype)");
        if (!ir_is_graph_dtype(n->type.dtype))
            return FAIL(&c, "dtype %d is not a graph dtype", n->type.dtype);
        tj_status s = check_tile_dims(&c, &n->type);
        if (s != TJ_OK) return s;
    }
    ir_type want = n->type;
    tj_status s = op_rules(&c, &want);
    if (s != TJ_OK) return s;
    if (!effect && !verify_same_type(&want, &n->type)) {
        char a[96], b[96];
        return FAIL(&c, "its type %s is not the %s its operands give", tstr(&c, &n->type, a),
                    tstr(&c, &want, b));
    }
    return TJ_OK;
}
