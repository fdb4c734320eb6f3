/*
 * interp.c — the CPU reference interpreter: the oracle every generated
 * kernel is tested against (docs/graph.md is its specification).
 *
 * Each node owns one value buffer, sized from its specialized type and
 * allocated once per run; the same buffers serve every program and every
 * loop iteration. Values are 2-D views aligned on the right: a scalar is
 * [1,1] and a [N] tile is [1,N], which makes numpy broadcasting a matter
 * of zero strides. Float values are doubles; in f32 mode (the default)
 * every arithmetic result is rounded through float, so they always hold
 * f32 numbers. Integer and bool values are exact int64, wrapped to their
 * dtype after every op.
 *
 * Choices the spec leaves open, made to match templates/tj (what the
 * generated kernels compute):
 *  - max / min (binary and reductions) ignore a NaN operand (fmaxf);
 *    relu keeps NaN.
 *  - float -> int truncates, saturating to i64 (NaN -> 0), and i32 keeps
 *    the low 32 bits; int -> float goes through f32 (f64 in f64 mode).
 *  - cdiv(a, b) is (a + b - 1) / b for every b, wrapped in the dtype,
 *    with the division rules of div (x / 0 = 0).
 *  - mma first rounds its operands to their dtype (the tensor cores read
 *    them so), then rounds each product to f32 and adds it to the f32
 *    sum, k increasing (products of f16/bf16/fp8 values are exact in f32).
 *  - float sum reductions add in index order, rounding each step to f32.
 *  - In f64 mode "f32" names the compute type, so casts and constants of
 *    f32 are not rounded; narrower float dtypes still round, and stores
 *    round to the tensor's dtype.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

typedef struct val {
    int dtype, rank;
    int64_t rows, cols, n;   /* 2-D view; n = rows * cols */
    double *f;               /* float values, or NULL */
    int64_t *i;              /* integer / bool values, or NULL */
} val;

typedef struct interp {
    const tj_graph *g;
    const int64_t *sym;
    void *const *tensors;
    int f64;
    int64_t grid[TJ_MAX_GRID], pid[TJ_MAX_GRID];
    val *v;                  /* per node */
    void **scratch;          /* per node: mma operands, loop staging */
    int64_t (*tdims)[TJ_MAX_RANK];
    int64_t (*tstrides)[TJ_MAX_RANK];
} interp;

/* Tiles above this many elements are refused rather than allocated. */
#define MAX_TILE_ELEMS ((int64_t)1 << 31)

/* ---- scalar helpers ------------------------------------------------ */

static int is_float_dtype(int t) { return ir_is_float(t); }

/* The result of a float op, rounded to the compute type. */
static inline double rf(const interp *ip, double x) { return ip->f64 ? x : (double)(float)x; }

/* Round to a value dtype for constants and casts. */
static double round_val(const interp *ip, int dtype, double x) {
    if (dtype == TJ_F32) return rf(ip, x);
    return ir_round_to(dtype, x);
}

static int64_t wrap(int dtype, uint64_t u) {
    if (dtype == TJ_I32) return (int32_t)(uint32_t)u;
    if (dtype == TJ_BOOL) return u != 0;
    return (int64_t)u;
}

/* Float to an integer dtype by tj_convert's rules (truncate, saturate to
 * i64, NaN -> 0, i32 wraps). */
static int64_t float_to_int(int dtype, double x) {
    if (dtype == TJ_BOOL) return x != 0.0;
    if (dtype == TJ_I32) {
        int32_t r;
        tj_convert(TJ_I32, &r, TJ_F64, &x, 1);
        return r;
    }
    int64_t r;
    tj_convert(TJ_I64, &r, TJ_F64, &x, 1);
    return r;
}

/* Integer to a float dtype: to the compute type, then to the dtype. */
static double int_to_float(const interp *ip, int dtype, int64_t v) {
    return round_val(ip, dtype, ip->f64 ? (double)v : (double)(float)v);
}

static int64_t read_int(int dtype, const void *p) {
    switch (dtype) {
    case TJ_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case TJ_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return *(const uint8_t *)p != 0;
    }
}

/* ---- setup --------------------------------------------------------- */

static tj_status node_error(const interp *ip, tj_status s, int32_t id, const char *fmt,
                            const char *detail) {
    char desc[160];
    return tj_set_error(s, fmt, ir_node_desc(ip->g, id, desc, sizeof desc), detail);
}

/* Shape a node's value from its type (tile dims at their specialized
 * values) and allocate its buffer. */
static tj_status alloc_value(interp *ip, int32_t id) {
    const ir_node *n = &ip->g->nodes[id];
    val *x = &ip->v[id];
    x->dtype = n->type.dtype;
    x->rank = n->type.rank;
    if (n->type.dtype == IR_VOID) return TJ_OK;
    int64_t d[TJ_MAX_TILE_RANK] = {1, 1};
    for (int k = 0; k < n->type.rank; k++) {
        tj_status s = ir_dim_eval(ip->g, n->type.dims[k], ip->sym, 1, &d[k]);
        if (s != TJ_OK) return s;
    }
    x->rows = n->type.rank == 2 ? d[0] : 1;
    x->cols = n->type.rank == 2 ? d[1] : n->type.rank == 1 ? d[0] : 1;
    if (x->rows < 1 || x->cols < 1 || x->rows > MAX_TILE_ELEMS / x->cols) {
        char buf[64];
        snprintf(buf, sizeof buf, "%lld x %lld", (long long)x->rows, (long long)x->cols);
        return node_error(ip, TJ_ERR_INVALID_ARG, id,
                          "%s: a tile of %s elements is too large to interpret", buf);
    }
    x->n = x->rows * x->cols;
    if (is_float_dtype(x->dtype))
        x->f = malloc((size_t)x->n * sizeof(double));
    else
        x->i = malloc((size_t)x->n * sizeof(int64_t));
    if (!x->f && !x->i) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)x->n);
        return node_error(ip, TJ_ERR_NO_MEMORY, id,
                          "%s: out of memory for its value of %s elements", buf);
    }
    return TJ_OK;
}

/* Scratch space: mma keeps op(a), op(b) and the f32 sum contiguous; a
 * loop stages its yields so a yield that names another carried value
 * reads the old one. */
static tj_status alloc_scratch(interp *ip, int32_t id) {
    const ir_node *n = &ip->g->nodes[id];
    size_t elems = 0;
    if (n->op == IR_MMA) {
        const val *a = &ip->v[n->in[0]], *b = &ip->v[n->in[1]];
        elems = (size_t)(a->n + b->n + ip->v[id].n);
    } else if (n->op == IR_FOR) {
        for (int k = 0; k < n->loop->ncarried; k++) elems += (size_t)ip->v[n->loop->carried[k]].n;
    }
    if (!elems) return TJ_OK;
    ip->scratch[id] = malloc(elems * sizeof(double));
    if (!ip->scratch[id])
        return node_error(ip, TJ_ERR_NO_MEMORY, id, "%s: out of memory for its %s",
                          "scratch space");
    return TJ_OK;
}

static void free_all(interp *ip) {
    if (ip->v)
        for (int i = 0; i < ip->g->nnodes; i++) {
            free(ip->v[i].f);
            free(ip->v[i].i);
        }
    if (ip->scratch)
        for (int i = 0; i < ip->g->nnodes; i++) free(ip->scratch[i]);
    free(ip->v);
    free(ip->scratch);
    free(ip->tdims);
    free(ip->tstrides);
}

static void copy_val(val *dst, const val *src) {
    if (src->f)
        memcpy(dst->f, src->f, (size_t)src->n * sizeof(double));
    else
        memcpy(dst->i, src->i, (size_t)src->n * sizeof(int64_t));
}

/* ---- loads and stores ---------------------------------------------- */

/* Where a tile sits in a tensor, per axis of the 2-D view (row, col):
 * tile index j along view axis a is tensor index start[a] + j, valid for
 * j in [lo[a], hi[a]). Untiled dims contribute `base` (elements). */
typedef struct place {
    int inside;               /* every untiled coordinate is in range */
    int64_t base;
    int64_t start[2], lo[2], hi[2], stride[2];
} place;

static void locate(const interp *ip, const ir_node *n, const val *tile, place *p) {
    const ir_tensor *t = &ip->g->tensors[n->tensor];
    const int64_t *dims = ip->tdims[n->tensor], *strides = ip->tstrides[n->tensor];
    int64_t tdim[2] = {tile->rows, tile->cols};
    int first = 2 - tile->rank; /* view axis of tile axis 0 */
    p->inside = 1;
    p->base = 0;
    for (int a = 0; a < 2; a++) {
        p->start[a] = 0;
        p->lo[a] = 0;
        p->hi[a] = 1;
        p->stride[a] = 0;
    }
    for (int d = 0; d < t->rank; d++) {
        int64_t c = ip->v[n->in[d]].i[0];
        int a = -1;
        for (int k = 0; k < tile->rank; k++)
            if (n->axes[k] == d) a = first + k;
        if (a < 0) {
            if (c < 0 || c >= dims[d]) p->inside = 0;
            else p->base += c * strides[d];
            continue;
        }
        /* A coordinate this far out puts the whole tile outside. */
        const int64_t far = (int64_t)1 << 61;
        int64_t start;
        if (n->flags & TJ_COORD_ELEMENT) {
            if (c > far || c < -far) { p->inside = 0; continue; }
            start = c;
        } else {
            if (c > far / tdim[a] || c < -far / tdim[a]) { p->inside = 0; continue; }
            start = c * tdim[a];
        }
        p->start[a] = start;
        p->lo[a] = start < 0 ? (-start < tdim[a] ? -start : tdim[a]) : 0;
        p->hi[a] = dims[d] - start < tdim[a] ? (dims[d] - start > 0 ? dims[d] - start : 0) : tdim[a];
        p->stride[a] = strides[d];
        if (p->lo[a] >= p->hi[a]) p->inside = 0;
    }
}

static int in_place(const place *p, int64_t r, int64_t c) {
    return p->inside && r >= p->lo[0] && r < p->hi[0] && c >= p->lo[1] && c < p->hi[1];
}

static int64_t place_offset(const place *p, int64_t r, int64_t c) {
    return p->base + (p->start[0] + r) * p->stride[0] + (p->start[1] + c) * p->stride[1];
}

static void eval_load(interp *ip, const ir_node *n, val *out) {
    int dt = ip->g->tensors[n->tensor].dtype;
    size_t es = tj_dtype_size((tj_dtype)dt);
    const unsigned char *base = ip->tensors[n->tensor];
    place p;
    locate(ip, n, out, &p);
    if (out->f) {
        double pad = ir_round_to(dt, n->f);
        for (int64_t r = 0; r < out->rows; r++)
            for (int64_t c = 0; c < out->cols; c++)
                out->f[r * out->cols + c] =
                    in_place(&p, r, c) ? ir_read_elem(dt, base + place_offset(&p, r, c) * es) : pad;
    } else {
        int64_t pad = float_to_int(dt, n->f);
        for (int64_t r = 0; r < out->rows; r++)
            for (int64_t c = 0; c < out->cols; c++)
                out->i[r * out->cols + c] =
                    in_place(&p, r, c) ? read_int(dt, base + place_offset(&p, r, c) * es) : pad;
    }
}

static void eval_store(interp *ip, const ir_node *n) {
    int dt = ip->g->tensors[n->tensor].dtype;
    size_t es = tj_dtype_size((tj_dtype)dt);
    unsigned char *base = ip->tensors[n->tensor];
    const val *x = &ip->v[n->in[n->nin - 1]];
    /* The mask broadcasts like an operand: a 1 in its view repeats. */
    const val *m = (n->flags & IR_STORE_MASKED) ? &ip->v[n->in[n->nin - 2]] : NULL;
    int64_t mr = m && m->rows != 1 ? m->cols : 0, mc = m && m->cols != 1 ? 1 : 0;
    place p;
    locate(ip, n, x, &p);
    if (!p.inside) return;
    for (int64_t r = p.lo[0]; r < p.hi[0]; r++)
        for (int64_t c = p.lo[1]; c < p.hi[1]; c++) {
            if (m && !(m->i ? m->i[r * mr + c * mc] : m->f[r * mr + c * mc] != 0)) continue;
            unsigned char *q = base + place_offset(&p, r, c) * es;
            if (x->f)
                ir_write_elem(dt, q, x->f[r * x->cols + c]);
            else if (is_float_dtype(dt))
                ir_write_elem(dt, q, int_to_float(ip, dt, x->i[r * x->cols + c]));
            else
                tj_convert((tj_dtype)dt, q, TJ_I64, &x->i[r * x->cols + c], 1);
        }
}

/* ---- mma ----------------------------------------------------------- */

/* out = acc + op(a) op(b). op(a) [M,K] and op(b) [K,N] are first copied
 * contiguous so the inner loop runs along a row of the sum. */
static void eval_mma(interp *ip, int32_t id) {
    const ir_node *n = &ip->g->nodes[id];
    const val *a = &ip->v[n->in[0]], *b = &ip->v[n->in[1]];
    const double *acc = n->nin == 3 ? ip->v[n->in[2]].f : NULL;
    val *out = &ip->v[id];
    int ta = (n->flags & TJ_TRANS_A) != 0, tb = (n->flags & TJ_TRANS_B) != 0;
    int64_t M = out->rows, N = out->cols, K = ta ? a->rows : a->cols;
    if (ip->f64) {
        double *sa = ip->scratch[id], *sb = sa + M * K;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++)
                sa[i * K + k] = ir_round_to(a->dtype, ta ? a->f[k * M + i] : a->f[i * K + k]);
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++)
                sb[k * N + j] = ir_round_to(b->dtype, tb ? b->f[j * K + k] : b->f[k * N + j]);
        for (int64_t i = 0; i < M * N; i++) out->f[i] = acc ? acc[i] : 0.0;
        for (int64_t i = 0; i < M; i++) {
            double *row = out->f + i * N;
            for (int64_t k = 0; k < K; k++) {
                double aik = sa[i * K + k];
                const double *brow = sb + k * N;
                for (int64_t j = 0; j < N; j++) row[j] += aik * brow[j];
            }
        }
        return;
    }
    /* f32: float arrays, so each product and each sum rounds to f32;
     * separate statements keep the compiler from fusing them. */
    float *fa = ip->scratch[id], *fb = fa + M * K, *fc = fb + K * N;
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++)
            fa[i * K + k] = (float)ir_round_to(a->dtype, ta ? a->f[k * M + i] : a->f[i * K + k]);
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++)
            fb[k * N + j] = (float)ir_round_to(b->dtype, tb ? b->f[j * K + k] : b->f[k * N + j]);
    for (int64_t i = 0; i < M * N; i++) fc[i] = acc ? (float)acc[i] : 0.0f;
    for (int64_t i = 0; i < M; i++) {
        float *row = fc + i * N;
        for (int64_t k = 0; k < K; k++) {
            float aik = fa[i * K + k];
            const float *brow = fb + k * N;
            for (int64_t j = 0; j < N; j++) {
                float prod = aik * brow[j];
                row[j] = row[j] + prod;
            }
        }
    }
    for (int64_t i = 0; i < M * N; i++) out->f[i] = fc[i];
}

/* ---- elementwise --------------------------------------------------- */

/* Strides that read x broadcast to out's [rows, cols]. */
typedef struct bview {
    int64_t rs, cs;
} bview;

static bview view_of(const val *x) {
    bview b = {x->rows == 1 ? 0 : x->cols, x->cols == 1 ? 0 : 1};
    return b;
}

static double unary_float(int op, double x) {
    switch (op) {
    case TJ_NEG: return -x;
    case TJ_ABS: return fabs(x);
    case TJ_EXP: return exp(x);
    case TJ_EXP2: return exp2(x);
    case TJ_LOG: return log(x);
    case TJ_LOG2: return log2(x);
    case TJ_SQRT: return sqrt(x);
    case TJ_RSQRT: return 1.0 / sqrt(x);
    case TJ_RECIP: return 1.0 / x;
    case TJ_SIN: return sin(x);
    case TJ_COS: return cos(x);
    case TJ_TANH: return tanh(x);
    case TJ_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case TJ_SILU: return x / (1.0 + exp(-x));
    case TJ_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case TJ_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
    case TJ_RELU: return x < 0.0 ? 0.0 : x;
    case TJ_FLOOR: return floor(x);
    case TJ_CEIL: return ceil(x);
    default: return NAN;
    }
}

static int64_t unary_int(int op, int dtype, int64_t x) {
    uint64_t u = (uint64_t)x;
    switch (op) {
    case TJ_NEG: return wrap(dtype, 0 - u);
    case TJ_ABS: return wrap(dtype, x < 0 ? 0 - u : u);
    case TJ_RELU: return x < 0 ? 0 : x;
    case TJ_NOT: return dtype == TJ_BOOL ? !x : wrap(dtype, ~u);
    default: return 0;
    }
}

static void eval_unary(interp *ip, const ir_node *n, val *out) {
    const val *x = &ip->v[n->in[0]];
    if (out->f)
        for (int64_t k = 0; k < out->n; k++) out->f[k] = rf(ip, unary_float(n->sub, x->f[k]));
    else
        for (int64_t k = 0; k < out->n; k++) out->i[k] = unary_int(n->sub, out->dtype, x->i[k]);
}

/* Float binary ops; comparisons give 0 / 1. */
static double binary_float(const interp *ip, int op, double a, double b) {
    switch (op) {
    case TJ_ADD: return rf(ip, a + b);
    case TJ_SUB: return rf(ip, a - b);
    case TJ_MUL: return rf(ip, a * b);
    case TJ_DIV: return rf(ip, a / b);
    case TJ_MAX: return fmax(a, b);
    case TJ_MIN: return fmin(a, b);
    case TJ_POW: return rf(ip, pow(a, b));
    case TJ_EQ: return a == b;
    case TJ_NE: return a != b;
    case TJ_LT: return a < b;
    case TJ_LE: return a <= b;
    case TJ_GT: return a > b;
    case TJ_GE: return a >= b;
    default: return NAN;
    }
}

/* a / b truncating; x / 0 = 0; MIN / -1 wraps to MIN. */
static int64_t int_div(int dtype, int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return wrap(dtype, 0 - (uint64_t)a);
    return wrap(dtype, (uint64_t)(a / b));
}

/* Integer binary ops, exact in 64 bits, then wrapped to `dtype`. */
static int64_t binary_int(int op, int dtype, int64_t a, int64_t b) {
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (op) {
    case TJ_ADD: return wrap(dtype, ua + ub);
    case TJ_SUB: return wrap(dtype, ua - ub);
    case TJ_MUL: return wrap(dtype, ua * ub);
    case TJ_DIV: return int_div(dtype, a, b);
    case TJ_MOD:
        if (b == 0 || b == -1) return 0;
        return a % b;
    case TJ_CDIV: return int_div(dtype, wrap(dtype, ua + ub - 1), b);
    case TJ_MAX: return a > b ? a : b;
    case TJ_MIN: return a < b ? a : b;
    case TJ_AND: return a & b;
    case TJ_OR: return a | b;
    case TJ_XOR: return a ^ b;
    case TJ_EQ: return a == b;
    case TJ_NE: return a != b;
    case TJ_LT: return a < b;
    case TJ_LE: return a <= b;
    case TJ_GT: return a > b;
    case TJ_GE: return a >= b;
    default: return 0;
    }
}

static void eval_binary(interp *ip, const ir_node *n, val *out) {
    const val *a = &ip->v[n->in[0]], *b = &ip->v[n->in[1]];
    bview va = view_of(a), vb = view_of(b);
    int dt = a->dtype;
    for (int64_t r = 0; r < out->rows; r++)
        for (int64_t c = 0; c < out->cols; c++) {
            int64_t ka = r * va.rs + c * va.cs, kb = r * vb.rs + c * vb.cs, k = r * out->cols + c;
            if (a->f) {
                double y = binary_float(ip, n->sub, a->f[ka], b->f[kb]);
                if (out->f) out->f[k] = y;
                else out->i[k] = y != 0.0;
            } else {
                out->i[k] = binary_int(n->sub, dt, a->i[ka], b->i[kb]);
            }
        }
}

static void eval_where(interp *ip, const ir_node *n, val *out) {
    const val *c = &ip->v[n->in[0]], *a = &ip->v[n->in[1]], *b = &ip->v[n->in[2]];
    bview vc = view_of(c), va = view_of(a), vb = view_of(b);
    for (int64_t r = 0; r < out->rows; r++)
        for (int64_t j = 0; j < out->cols; j++) {
            int64_t k = r * out->cols + j;
            int pick = c->i[r * vc.rs + j * vc.cs] != 0;
            int64_t ka = r * va.rs + j * va.cs, kb = r * vb.rs + j * vb.cs;
            if (out->f) out->f[k] = pick ? a->f[ka] : b->f[kb];
            else out->i[k] = pick ? a->i[ka] : b->i[kb];
        }
}

static void eval_fma(interp *ip, const ir_node *n, val *out) {
    const val *a = &ip->v[n->in[0]], *b = &ip->v[n->in[1]], *c = &ip->v[n->in[2]];
    bview va = view_of(a), vb = view_of(b), vc = view_of(c);
    for (int64_t r = 0; r < out->rows; r++)
        for (int64_t j = 0; j < out->cols; j++) {
            double x = a->f[r * va.rs + j * va.cs], y = b->f[r * vb.rs + j * vb.cs],
                   z = c->f[r * vc.rs + j * vc.cs];
            /* One rounding, like the GPU's fma.rn.f32. */
            out->f[r * out->cols + j] = ip->f64 ? fma(x, y, z) : fmaf((float)x, (float)y, (float)z);
        }
}

static void eval_cast(interp *ip, const ir_node *n, val *out) {
    const val *x = &ip->v[n->in[0]];
    int to = out->dtype;
    for (int64_t k = 0; k < out->n; k++) {
        if (x->f && out->f) out->f[k] = round_val(ip, to, x->f[k]);
        else if (x->f) out->i[k] = float_to_int(to, x->f[k]);
        else if (out->f) out->f[k] = int_to_float(ip, to, x->i[k]);
        else out->i[k] = wrap(to, (uint64_t)x->i[k]);
    }
}

/* Reduce along view axis `ax` (1: along a row, 0: down a column). */
static void eval_reduce(interp *ip, const ir_node *n, val *out) {
    const val *x = &ip->v[n->in[0]];
    int ax = n->index + 2 - x->rank;
    int64_t len = ax ? x->cols : x->rows, step = ax ? 1 : x->cols;
    for (int64_t o = 0; o < out->n; o++) {
        int64_t first = ax ? o * x->cols : o;
        if (x->f) {
            const double *p = x->f + first;
            /* From the identity, as the kernels do: a row of NaNs gives
             * -inf (max) or +inf (min), NaN being ignored. */
            double acc = n->sub == TJ_SUM ? 0.0 : n->sub == TJ_RMAX ? -INFINITY : INFINITY;
            for (int64_t k = 0; k < len; k++) {
                double y = p[k * step];
                acc = n->sub == TJ_SUM ? rf(ip, acc + y) : n->sub == TJ_RMAX ? fmax(acc, y)
                                                                             : fmin(acc, y);
            }
            out->f[o] = acc;
        } else {
            const int64_t *p = x->i + first;
            uint64_t sum = 0;
            int64_t m = p[0];
            for (int64_t k = 0; k < len; k++) {
                int64_t y = p[k * step];
                sum += (uint64_t)y;
                if (n->sub == TJ_RMAX ? y > m : y < m) m = y;
            }
            out->i[o] = n->sub == TJ_SUM ? wrap(x->dtype, sum) : m;
        }
    }
}

/* transpose, reshape (flat order unchanged) and broadcast. */
static void eval_move(interp *ip, const ir_node *n, val *out) {
    const val *x = &ip->v[n->in[0]];
    bview vx = view_of(x);
    for (int64_t r = 0; r < out->rows; r++)
        for (int64_t c = 0; c < out->cols; c++) {
            int64_t k = r * out->cols + c, src;
            if (n->op == IR_TRANSPOSE) src = c * x->cols + r;
            else if (n->op == IR_RESHAPE) src = k;
            else src = r * vx.rs + c * vx.cs;
            if (out->f) out->f[k] = x->f[src];
            else out->i[k] = x->i[src];
        }
}

static void eval_iota(const ir_node *n, val *out) {
    int ax = n->index + 2 - out->rank;
    for (int64_t r = 0; r < out->rows; r++)
        for (int64_t c = 0; c < out->cols; c++)
            out->i[r * out->cols + c] = wrap(out->dtype, (uint64_t)(ax ? c : r));
}

static void eval_const(interp *ip, const ir_node *n, val *out) {
    if (out->f) {
        double x = round_val(ip, out->dtype, n->f);
        for (int64_t k = 0; k < out->n; k++) out->f[k] = x;
    } else {
        int64_t x = float_to_int(out->dtype, n->f);
        for (int64_t k = 0; k < out->n; k++) out->i[k] = x;
    }
}

/* ---- programs and loops -------------------------------------------- */

static tj_status run_region(interp *ip, const int32_t *ids, int n);

static tj_status eval_for(interp *ip, int32_t id) {
    const ir_node *n = &ip->g->nodes[id];
    const ir_loop *L = n->loop;
    int64_t lo = ip->v[n->in[0]].i[0], hi = ip->v[n->in[1]].i[0], step = ip->v[n->in[2]].i[0];
    if (step <= 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%lld", (long long)step);
        return node_error(ip, TJ_ERR_INVALID_ARG, id,
                          "%s: the loop step is %s at run time; it must be > 0", buf);
    }
    for (int k = 0; k < L->ncarried; k++) copy_val(&ip->v[L->carried[k]], &ip->v[n->in[3 + k]]);
    val *iv = &ip->v[L->iv];
    for (int64_t i = lo; i < hi;) {
        iv->i[0] = i;
        tj_status s = run_region(ip, L->body, L->nbody);
        if (s != TJ_OK) return s;
        /* Stage every yield before replacing any carried value: a yield
         * may be another carried value of this loop. */
        double *stage = ip->scratch[id];
        size_t off = 0;
        for (int k = 0; k < L->ncarried; k++) {
            const val *y = &ip->v[L->yields[k]];
            memcpy(stage + off, y->f ? (void *)y->f : (void *)y->i, (size_t)y->n * 8);
            off += (size_t)y->n;
        }
        off = 0;
        for (int k = 0; k < L->ncarried; k++) {
            val *c = &ip->v[L->carried[k]];
            memcpy(c->f ? (void *)c->f : (void *)c->i, stage + off, (size_t)c->n * 8);
            off += (size_t)c->n;
        }
        /* i += step without overflow: hi - i > 0 fits in uint64. */
        if ((uint64_t)hi - (uint64_t)i <= (uint64_t)step) break;
        i += step;
    }
    for (int k = 0; k < L->ncarried; k++) copy_val(&ip->v[L->results[k]], &ip->v[L->carried[k]]);
    return TJ_OK;
}

static tj_status eval_node(interp *ip, int32_t id) {
    const ir_node *n = &ip->g->nodes[id];
    val *out = &ip->v[id];
    switch (n->op) {
    case IR_CONST: eval_const(ip, n, out); break;
    case IR_SYMVAL: out->i[0] = ip->sym[n->index]; break;
    case IR_PROGRAM_ID: out->i[0] = ip->pid[n->index]; break;
    case IR_NUM_PROGRAMS: out->i[0] = ip->grid[n->index]; break;
    case IR_IOTA: eval_iota(n, out); break;
    case IR_LOAD: eval_load(ip, n, out); break;
    case IR_STORE: eval_store(ip, n); break;
    case IR_MMA: eval_mma(ip, id); break;
    case IR_UNARY: eval_unary(ip, n, out); break;
    case IR_BINARY: eval_binary(ip, n, out); break;
    case IR_WHERE: eval_where(ip, n, out); break;
    case IR_FMA: eval_fma(ip, n, out); break;
    case IR_CAST: eval_cast(ip, n, out); break;
    case IR_REDUCE: eval_reduce(ip, n, out); break;
    case IR_TRANSPOSE: case IR_RESHAPE: case IR_BROADCAST: eval_move(ip, n, out); break;
    case IR_FOR: return eval_for(ip, id);
    default: break; /* defined by their context: scalar args, loop values */
    }
    return TJ_OK;
}

static tj_status run_region(interp *ip, const int32_t *ids, int n) {
    for (int k = 0; k < n; k++) {
        tj_status s = eval_node(ip, ids[k]);
        if (s != TJ_OK) return s;
    }
    return TJ_OK;
}

/* ---- entry --------------------------------------------------------- */

static tj_status check_args(const tj_graph *g, const int64_t *sym_vals, void *const *tensors,
                            const double *scalars) {
    for (int s = 0; s < g->nsyms; s++) {
        int64_t v;
        tj_status st = ir_dim_eval(g, tj_dim_sym((tj_sym){s}), sym_vals, 0, &v);
        if (st != TJ_OK) return st;
    }
    if (g->ntensors > 0 && !tensors)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_interp_run: tensors is NULL; graph '%s' has %d tensor arguments",
                            g->name, g->ntensors);
    for (int t = 0; t < g->ntensors; t++)
        if (!tensors[t])
            return tj_set_error(TJ_ERR_INVALID_ARG, "tj_interp_run: tensor %d ('%s') is NULL", t,
                                g->tensors[t].name);
    if (g->nscalars > 0 && !scalars)
        return tj_set_error(TJ_ERR_INVALID_ARG,
                            "tj_interp_run: scalars is NULL; graph '%s' has %d scalar arguments",
                            g->name, g->nscalars);
    return TJ_OK;
}

static tj_status setup(interp *ip, const double *scalars) {
    const tj_graph *g = ip->g;
    int nn = g->nnodes, nt = g->ntensors > 0 ? g->ntensors : 1;
    ip->v = calloc((size_t)(nn > 0 ? nn : 1), sizeof *ip->v);
    ip->scratch = calloc((size_t)(nn > 0 ? nn : 1), sizeof *ip->scratch);
    ip->tdims = calloc((size_t)nt, sizeof *ip->tdims);
    ip->tstrides = calloc((size_t)nt, sizeof *ip->tstrides);
    if (!ip->v || !ip->scratch || !ip->tdims || !ip->tstrides)
        return tj_set_error(TJ_ERR_NO_MEMORY, "tj_interp_run: out of memory");
    for (int t = 0; t < g->ntensors; t++) {
        tj_status s = ir_tensor_eval(g, t, ip->sym, ip->tdims[t], ip->tstrides[t]);
        if (s != TJ_OK) return s;
    }
    for (int32_t id = 0; id < nn; id++) {
        tj_status s = alloc_value(ip, id);
        if (s != TJ_OK) return s;
    }
    for (int32_t id = 0; id < nn; id++) {
        tj_status s = alloc_scratch(ip, id);
        if (s != TJ_OK) return s;
    }
    for (int k = 0; k < g->nscalars; k++) {
        val *x = &ip->v[g->scalars[k].node];
        if (x->f) x->f[0] = round_val(ip, x->dtype, scalars[k]);
        else x->i[0] = float_to_int(x->dtype, scalars[k]);
    }
    return TJ_OK;
}

tj_status tj_interp_run(const tj_graph *g, const int64_t *sym_vals, void *const *tensors,
                        const double *scalars, unsigned flags) {
    if (!g) return tj_set_error(TJ_ERR_INVALID_ARG, "tj_interp_run: graph is NULL");
    if (flags & ~TJ_INTERP_F64)
        return tj_set_error(TJ_ERR_INVALID_ARG, "tj_interp_run: unknown flags 0x%x",
                            flags & ~TJ_INTERP_F64);
    tj_status s = tj_graph_verify(g);
    if (s != TJ_OK) return s;
    s = check_args(g, sym_vals, tensors, scalars);
    if (s != TJ_OK) return s;
    interp ip = {0};
    ip.g = g;
    ip.sym = sym_vals;
    ip.tensors = tensors;
    ip.f64 = (flags & TJ_INTERP_F64) != 0;
    s = tj_graph_grid(g, sym_vals, ip.grid);
    if (s == TJ_OK) s = setup(&ip, scalars);
    for (int64_t z = 0; s == TJ_OK && z < ip.grid[2]; z++)
        for (int64_t y = 0; s == TJ_OK && y < ip.grid[1]; y++)
            for (int64_t x = 0; s == TJ_OK && x < ip.grid[0]; x++) {
                ip.pid[0] = x;
                ip.pid[1] = y;
                ip.pid[2] = z;
                s = run_region(&ip, g->body, g->nbody);
            }
    free_all(&ip);
    return s;
}
