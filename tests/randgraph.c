/*
 * randgraph.c — see randgraph.h. Values stay in a tame range (inputs in
 * [-1, 1], ops chosen to keep them bounded and away from singularities)
 * so that the GPU and the interpreter agree within dtype tolerances.
 */
#include "randgraph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next(rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}
static int pick(rng *r, int n) { return (int)(next(r) % (uint64_t)n); }

typedef struct build {
    tj_graph *g;
    rng r;
    double rtol;
    tj_dim bm, bn;          /* the tile */
    tj_val pool[16];        /* [BM,BN] f32 values to combine */
    int npool;
    tj_val rowvec;          /* [BN] f32, or TJ_NONE */
    tj_val alpha;           /* scalar argument */
} build;

static tj_val c32(build *b, double v) { return tj_const(b->g, TJ_F32, v); }
static tj_val ci(build *b, double v) { return tj_const(b->g, TJ_I32, v); }

static void lossy(build *b, tj_dtype t) {
    double tol = t == TJ_BF16 ? 2e-2 : t == TJ_F16 ? 4e-3 : (t == TJ_F8E4M3 || t == TJ_F8E5M2) ? 0.15 : 1e-4;
    if (tol > b->rtol) b->rtol = tol;
}

static tj_dtype float_type(build *b) {
    static const tj_dtype ts[] = {TJ_F32, TJ_F32, TJ_BF16, TJ_F16};
    return ts[pick(&b->r, 4)];
}

/* A bounded unary map of v. */
static tj_val random_unary(build *b, tj_val v) {
    tj_graph *g = b->g;
    switch (pick(&b->r, 12)) {
    case 0: return tj_unary(g, TJ_TANH, v);
    case 1: return tj_unary(g, TJ_SIGMOID, v);
    case 2: return tj_unary(g, TJ_SILU, v);
    case 3: return tj_unary(g, TJ_GELU, v);
    case 4: return tj_unary(g, TJ_GELU_TANH, v);
    case 5: return tj_unary(g, TJ_RELU, v);
    case 6: return tj_unary(g, TJ_NEG, v);
    case 7: return tj_exp(g, tj_unary(g, TJ_TANH, v));
    case 8: return tj_unary(g, TJ_SQRT, tj_add(g, tj_unary(g, TJ_ABS, v), c32(b, 1.0)));
    case 9: return tj_unary(g, TJ_LOG, tj_add(g, tj_unary(g, TJ_ABS, v), c32(b, 1.0)));
    case 10: return tj_unary(g, TJ_RSQRT, tj_add(g, tj_mul(g, v, v), c32(b, 1.0)));
    default: return tj_unary(g, TJ_SIN, v);
    }
}

/* Another operand: a pool value, the row vector, a column vector made by
 * a reduction, a constant or the scalar argument. */
static tj_val random_other(build *b, tj_val v) {
    tj_graph *g = b->g;
    switch (pick(&b->r, 6)) {
    case 0: if (tj_val_ok(b->rowvec)) return b->rowvec; /* fall through */
    case 1: return b->pool[pick(&b->r, b->npool)];
    case 2: {
        static const tj_redop ops[3] = {TJ_SUM, TJ_RMAX, TJ_RMIN};
        tj_val col = tj_reduce(g, ops[pick(&b->r, 3)], v, 1);
        return tj_unary(g, TJ_TANH, col); /* bounded whatever the width */
    }
    case 3: {
        tj_val row = tj_reduce(g, TJ_RMAX, v, 0); /* [1,BN] */
        return row;
    }
    case 4: return c32(b, (double)(pick(&b->r, 17) - 8) / 4.0);
    default: return b->alpha;
    }
}

static tj_val random_binary(build *b, tj_val v) {
    tj_graph *g = b->g;
    tj_val o = random_other(b, v);
    switch (pick(&b->r, 8)) {
    case 0: return tj_add(g, v, o);
    case 1: return tj_sub(g, o, v);
    case 2: return tj_mul(g, v, o);
    case 3: return tj_maximum(g, v, o);
    case 4: return tj_minimum(g, o, v);
    case 5: return tj_div(g, v, tj_add(g, tj_unary(g, TJ_ABS, o), c32(b, 1.0)));
    case 6: return tj_fma(g, v, o, b->pool[0]);
    default: return tj_where(g, tj_binary(g, TJ_GT, v, o), v, tj_mul(g, o, c32(b, 0.5)));
    }
}

/* Round-trip through a narrower float dtype: a cast the GPU must round
 * exactly as the interpreter does. */
static tj_val random_cast(build *b, tj_val v) {
    tj_dtype t = float_type(b);
    if (t == TJ_F32) return v;
    lossy(b, t);
    return tj_cast(b->g, tj_cast(b->g, v, t), TJ_F32);
}

/* A causal-style mask from iota row and column indices. */
static tj_val random_mask(build *b, tj_val v, tj_val row0, tj_val col0) {
    tj_graph *g = b->g;
    tj_dim d[2] = {b->bm, b->bn};
    tj_val ri = tj_add(g, tj_iota(g, TJ_I32, 2, d, 0), row0);
    tj_val cj = tj_add(g, tj_iota(g, TJ_I32, 2, d, 1), col0);
    tj_val keep = tj_binary(g, pick(&b->r, 2) ? TJ_LE : TJ_GT, cj, ri);
    return tj_where(g, keep, v, c32(b, -0.25));
}

static tj_val chain(build *b, tj_val v, int len, tj_val row0, tj_val col0) {
    for (int k = 0; k < len; k++) {
        int what = pick(&b->r, 10);
        if (what < 4)
            v = random_unary(b, v);
        else if (what < 8)
            v = random_binary(b, v);
        else if (what < 9)
            v = random_cast(b, v);
        else
            v = random_mask(b, v, row0, col0);
        if (b->npool < 16 && pick(&b->r, 3) == 0) b->pool[b->npool++] = v;
    }
    return v;
}

static tj_val load_f32(build *b, tj_tensor t, tj_val r, tj_val c, double pad) {
    tj_val coords[2] = {r, c};
    tj_dim d[2] = {b->bm, b->bn};
    tj_val x = tj_load(b->g, t, coords, 2, d, NULL, pad, 0);
    tj_dtype dt = tj_tensor_dtype(b->g, t);
    if (dt != TJ_F32) lossy(b, dt);
    return dt == TJ_F32 ? x : tj_cast(b->g, x, TJ_F32);
}

/* Skeleton 1: elementwise chains over [rows, cols] tiles, maybe with a
 * row reduction stored when a tile spans whole rows. */
static tj_status build_elementwise(build *b, uint64_t seed, rg_graph *out) {
    tj_graph *g = b->g;
    static const tj_policy pols[] = {TJ_EXACT, TJ_BUCKET_POW2, TJ_BUCKET_MULTIPLE, TJ_DYNAMIC};
    tj_policy rp = pols[pick(&b->r, 4)];
    tj_policy cp = pols[pick(&b->r, 3)]; /* cols may size a tile: not dynamic */
    tj_sym rows = tj_symbol(g, "rows", rp, rp == TJ_BUCKET_MULTIPLE ? 16 : 0, 1);
    tj_sym cols = tj_symbol(g, "cols", cp, cp == TJ_BUCKET_MULTIPLE ? 32 : 0, 1);
    static const int bms[] = {1, 2, 4, 16, 32, 64};
    b->bm = bms[pick(&b->r, 6)];
    static const int bns[] = {8, 16, 32, 64, 128};
    int whole = pick(&b->r, 4) == 0; /* a tile spans whole rows */
    b->bn = whole ? tj_dim_sym(cols) : bns[pick(&b->r, 5)];
    if (!whole && b->bm * b->bn > 4096) b->bm = 4096 / b->bn;
    tj_dim xd[2] = {tj_dim_sym(rows), tj_dim_sym(cols)};
    tj_tensor x = tj_tensor_arg(g, "x", float_type(b), 2, xd, NULL);
    tj_tensor y = tj_tensor_arg(g, "y", float_type(b), 2, xd, NULL);
    tj_tensor w = tj_tensor_arg(g, "w", TJ_F32, 1, (tj_dim[]){tj_dim_sym(cols)}, NULL);
    tj_dtype od = float_type(b);
    tj_tensor o = tj_tensor_arg(g, "out", od, 2, xd, NULL);
    tj_tensor rs = whole ? tj_tensor_arg(g, "rowsum", TJ_F32, 1, (tj_dim[]){tj_dim_sym(rows)}, NULL)
                         : (tj_tensor){TJ_NONE_ID};
    b->alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_val pr = tj_program_id(g, 0), pc = whole ? ci(b, 0) : tj_program_id(g, 1);
    b->pool[b->npool++] = load_f32(b, x, pr, pc, 0.0);
    b->pool[b->npool++] = load_f32(b, y, pr, pc, 0.0);
    tj_val wc[1] = {pc};
    b->rowvec = tj_load(g, w, wc, 1, (tj_dim[]){b->bn}, NULL, 0.0, 0);
    tj_val row0 = tj_mul(g, pr, ci(b, (double)b->bm));
    tj_val col0 = whole ? ci(b, 0) : tj_mul(g, pc, ci(b, (double)b->bn));
    tj_val v = chain(b, b->pool[0], 2 + pick(&b->r, 7), row0, col0);
    tj_val oc[2] = {pr, pc};
    tj_status st;
    int masked = pick(&b->r, 4) == 0;
    if (masked) {
        /* A masked store: a checkerboard of global (row + col) parities
         * in a row, column or full mask, by chance. */
        int form = pick(&b->r, 3);
        tj_dim rd[2] = {b->bm, 1}, cd[2] = {1, b->bn}, fd[2] = {b->bm, b->bn};
        tj_val ri = tj_add(g, tj_iota(g, TJ_I32, 2, form == 1 ? cd : form == 0 ? rd : fd, 0), row0);
        tj_val cj = tj_add(g, tj_iota(g, TJ_I32, 2, form == 0 ? rd : form == 1 ? cd : fd, 1), col0);
        tj_val sel = form == 0 ? ri : form == 1 ? cj : tj_add(g, ri, cj);
        tj_val mask = tj_binary(g, TJ_NE, tj_binary(g, TJ_MOD, sel, ci(b, 3)), ci(b, 0));
        st = tj_store_masked(g, o, oc, tj_cast(g, v, od), mask, NULL, 0);
    } else {
        st = tj_store(g, o, oc, tj_cast(g, v, od), NULL, 0);
    }
    lossy(b, od);
    if (st != TJ_OK) return st;
    if (whole) {
        /* Masked columns read 0 and must stay out of the sum: mask them. */
        tj_val cj = tj_iota(g, TJ_I32, 2, (tj_dim[]){b->bm, b->bn}, 1);
        tj_val in = tj_binary(g, TJ_LT, cj, tj_symval(g, cols));
        tj_val s = tj_sum(g, tj_where(g, in, tj_unary(g, TJ_TANH, v), c32(b, 0.0)), 1);
        tj_val s1 = tj_reshape(g, s, 1, (tj_dim[]){b->bm});
        st = tj_store(g, rs, (tj_val[]){pr}, s1, NULL, 0);
        if (st != TJ_OK) return st;
    }
    tj_val grid[2] = {tj_binary(g, TJ_CDIV, tj_symval(g, rows), ci(b, (double)b->bm)),
                      whole ? ci(b, 1)
                            : tj_binary(g, TJ_CDIV, tj_symval(g, cols), ci(b, (double)b->bn))};
    if (whole)
        snprintf(out->desc, sizeof out->desc, "elementwise seed %llu tile [%lld,cols]%s",
                 (unsigned long long)seed, (long long)b->bm, masked ? " masked store" : "");
    else
        snprintf(out->desc, sizeof out->desc, "elementwise seed %llu tile [%lld,%lld]%s",
                 (unsigned long long)seed, (long long)b->bm, (long long)b->bn,
                 masked ? " masked store" : "");
    return tj_set_grid(g, 2, grid);
}

/* Skeleton 2: C = epilogue(A·op(B)) with a loop over K tiles carrying an
 * f32 accumulator; ragged M, N, K masked with zero padding. */
static tj_status build_mma(build *b, uint64_t seed, rg_graph *out) {
    tj_graph *g = b->g;
    tj_sym M = tj_symbol(g, "M", TJ_DYNAMIC, 0, 1);
    tj_sym Nn = tj_symbol(g, "N", TJ_EXACT, 0, 1);
    tj_sym K = tj_symbol(g, "K", pick(&b->r, 2) ? TJ_EXACT : TJ_DYNAMIC, 0, 1);
    static const int ms[] = {16, 32, 64}, ks[] = {16, 32};
    int bm = ms[pick(&b->r, 3)], bn = ms[pick(&b->r, 3)], bk = ks[pick(&b->r, 2)];
    int tb = pick(&b->r, 2);
    tj_dtype dt = pick(&b->r, 3) == 0 ? TJ_F32 : pick(&b->r, 2) ? TJ_BF16 : TJ_F16;
    lossy(b, dt == TJ_F32 ? TJ_F32 : TJ_F16); /* products of rounded inputs */
    tj_tensor a = tj_tensor_arg(g, "a", dt, 2, (tj_dim[]){tj_dim_sym(M), tj_dim_sym(K)}, NULL);
    tj_dim bd[2] = {tj_dim_sym(K), tj_dim_sym(Nn)};
    if (tb) { bd[0] = tj_dim_sym(Nn); bd[1] = tj_dim_sym(K); }
    tj_tensor bt = tj_tensor_arg(g, "b", dt, 2, bd, NULL);
    tj_tensor bias = tj_tensor_arg(g, "bias", TJ_F32, 1, (tj_dim[]){tj_dim_sym(Nn)}, NULL);
    tj_dtype od = float_type(b);
    tj_tensor c = tj_tensor_arg(g, "c", od, 2, (tj_dim[]){tj_dim_sym(M), tj_dim_sym(Nn)}, NULL);
    b->alpha = tj_scalar_arg(g, "alpha", TJ_F32);
    tj_val pm = tj_program_id(g, 0), pn = tj_program_id(g, 1);
    tj_val nk = tj_binary(g, TJ_CDIV, tj_symval(g, K), ci(b, bk));
    tj_val acc0 = tj_full(g, TJ_F32, 2, (tj_dim[]){bm, bn}, 0.0);
    tj_val kk, acc, res;
    tj_status st = tj_for_begin(g, ci(b, 0), nk, ci(b, 1), 1, &acc0, &kk, &acc);
    if (st != TJ_OK) return st;
    tj_val at = tj_load(g, a, (tj_val[]){pm, kk}, 2, (tj_dim[]){bm, bk}, NULL, 0.0, 0);
    tj_val btile = tb ? tj_load(g, bt, (tj_val[]){pn, kk}, 2, (tj_dim[]){bn, bk}, NULL, 0.0, 0)
                      : tj_load(g, bt, (tj_val[]){kk, pn}, 2, (tj_dim[]){bk, bn}, NULL, 0.0, 0);
    tj_val next = tj_mma(g, at, btile, acc, tb ? TJ_TRANS_B : 0);
    st = tj_for_end(g, 1, &next, &res);
    if (st != TJ_OK) return st;
    b->bm = bm;
    b->bn = bn;
    b->rowvec = tj_load(g, bias, (tj_val[]){pn}, 1, (tj_dim[]){bn}, NULL, 0.0, 0);
    b->pool[b->npool++] = tj_mul(g, res, tj_const(g, TJ_F32, 0.125));
    tj_val v = chain(b, b->pool[0], pick(&b->r, 4), tj_mul(g, pm, ci(b, bm)), tj_mul(g, pn, ci(b, bn)));
    st = tj_store(g, c, (tj_val[]){pm, pn}, tj_cast(g, v, od), NULL, 0);
    lossy(b, od);
    if (st != TJ_OK) return st;
    tj_val grid[2] = {tj_binary(g, TJ_CDIV, tj_symval(g, M), ci(b, bm)),
                      tj_binary(g, TJ_CDIV, tj_symval(g, Nn), ci(b, bn))};
    snprintf(out->desc, sizeof out->desc, "mma seed %llu %s tile %dx%dx%d%s",
             (unsigned long long)seed, tj_dtype_name(dt), bm, bn, bk, tb ? " trans_b" : "");
    return tj_set_grid(g, 2, grid);
}

/* Skeleton 3: an online row max and rescaled sum carried across column
 * tiles (the shape of online softmax), stored per row. */
static tj_status build_online(build *b, uint64_t seed, rg_graph *out) {
    tj_graph *g = b->g;
    tj_sym rows = tj_symbol(g, "rows", TJ_DYNAMIC, 0, 1);
    tj_sym cols = tj_symbol(g, "cols", pick(&b->r, 2) ? TJ_EXACT : TJ_DYNAMIC, 0, 1);
    static const int bms[] = {1, 8, 16, 64}, bns[] = {16, 32, 64};
    int bm = bms[pick(&b->r, 4)], bn = bns[pick(&b->r, 3)];
    tj_dtype xt = float_type(b);
    tj_tensor x = tj_tensor_arg(g, "x", xt, 2, (tj_dim[]){tj_dim_sym(rows), tj_dim_sym(cols)}, NULL);
    tj_tensor o = tj_tensor_arg(g, "lse", TJ_F32, 1, (tj_dim[]){tj_dim_sym(rows)}, NULL);
    if (xt != TJ_F32) lossy(b, xt);
    tj_val pr = tj_program_id(g, 0);
    tj_val nt = tj_binary(g, TJ_CDIV, tj_symval(g, cols), ci(b, bn));
    tj_val init[2] = {tj_full(g, TJ_F32, 2, (tj_dim[]){bm, 1}, -1e30),
                      tj_full(g, TJ_F32, 2, (tj_dim[]){bm, 1}, 0.0)};
    tj_val j, carried[2], res[2];
    tj_status st = tj_for_begin(g, ci(b, 0), nt, ci(b, 1), 2, init, &j, carried);
    if (st != TJ_OK) return st;
    tj_val t = tj_load(g, x, (tj_val[]){pr, j}, 2, (tj_dim[]){bm, bn}, NULL, -INFINITY, 0);
    if (xt != TJ_F32) t = tj_cast(g, t, TJ_F32);
    tj_val mnew = tj_maximum(g, carried[0], tj_rowmax(g, t));
    tj_val scale = tj_exp(g, tj_sub(g, carried[0], mnew));
    tj_val p = tj_exp(g, tj_sub(g, t, mnew));
    tj_val lnew = tj_add(g, tj_mul(g, carried[1], scale), tj_rowsum(g, p));
    st = tj_for_end(g, 2, (tj_val[]){mnew, lnew}, res);
    if (st != TJ_OK) return st;
    tj_val lse = tj_add(g, res[0], tj_unary(g, TJ_LOG, res[1]));
    st = tj_store(g, o, (tj_val[]){pr}, tj_reshape(g, lse, 1, (tj_dim[]){bm}), NULL, 0);
    if (st != TJ_OK) return st;
    tj_val grid[1] = {tj_binary(g, TJ_CDIV, tj_symval(g, rows), ci(b, bm))};
    snprintf(out->desc, sizeof out->desc, "online-lse seed %llu tile [%d,%d] %s",
             (unsigned long long)seed, bm, bn, tj_dtype_name(xt));
    return tj_set_grid(g, 1, grid);
}

tj_status rg_build(uint64_t seed, int index, rg_graph *out) {
    memset(out, 0, sizeof *out);
    build b;
    memset(&b, 0, sizeof b);
    b.r.s = (seed ^ 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL + (uint64_t)index * 0x94D049BB133111EBULL + 1;
    b.rtol = 1e-4;
    b.rowvec = TJ_NONE;
    char name[32];
    snprintf(name, sizeof name, "rand%d", index);
    tj_status st = tj_graph_new(name, &b.g);
    if (st != TJ_OK) return st;
    int kind = index % 4;
    if (kind == 0 || kind == 3)
        st = build_elementwise(&b, seed, out);
    else if (kind == 1)
        st = build_mma(&b, seed, out);
    else
        st = build_online(&b, seed, out);
    if (st == TJ_OK) st = tj_graph_verify(b.g);
    if (st != TJ_OK) {
        tj_graph_free(b.g);
        return st;
    }
    out->g = b.g;
    out->rtol = b.rtol;
    return TJ_OK;
}

void rg_bind(const tj_graph *g, uint64_t seed, int variant, int64_t *vals) {
    rng r = {seed * 31 + (uint64_t)variant * 7919 + 17};
    static const int64_t ragged[] = {1, 17, 127, 100, 33, 255, 64, 3};
    for (int s = 0; s < tj_num_symbols(g); s++) {
        int64_t v = ragged[(variant * 3 + s + pick(&r, 8)) % 8];
        if (variant == 0) v = 1 + pick(&r, 40);
        vals[s] = v;
    }
}
